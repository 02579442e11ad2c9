package pgcluster_test

import (
	"context"
	"os"
	"path/filepath"
	"testing"

	"caregraph/server/pgcluster"

	"github.com/jackc/pgx/v5"
)

// TestPrivateClusterLifecycle creates a cluster, uses it, stops it, and starts it again
// from the same folder, finding the data it left.
func TestPrivateClusterLifecycle(t *testing.T) {
	if _, err := pgcluster.FindBinaries(); err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatal(err)
		}
		t.Skip(err)
	}
	if testing.Short() {
		t.Skip("starts a PostgreSQL cluster")
	}
	parent, err := os.MkdirTemp("", "pgcluster")
	if err != nil {
		t.Fatal(err)
	}
	os.Chmod(parent, 0o755) // the postgres system user must reach it when tests run as root
	t.Cleanup(func() { os.RemoveAll(parent) })
	dir := filepath.Join(parent, "data")
	ctx := context.Background()

	c, err := pgcluster.New(pgcluster.Options{Dir: dir, Throwaway: true})
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Start(ctx); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.StopAlways(context.Background()) })
	if err := c.EnsureDatabase(ctx, "caregraph"); err != nil {
		t.Fatal(err)
	}
	if err := c.EnsureDatabase(ctx, "caregraph"); err != nil {
		t.Fatalf("second EnsureDatabase: %v", err)
	}
	conn, err := pgx.Connect(ctx, c.URL("caregraph"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := conn.Exec(ctx, "CREATE EXTENSION postgis; CREATE TABLE kept (x int); INSERT INTO kept VALUES (42)"); err != nil {
		t.Fatal(err)
	}
	conn.Close(ctx)
	if err := c.Stop(ctx); err != nil {
		t.Fatal(err)
	}

	again, err := pgcluster.New(pgcluster.Options{Dir: dir, Throwaway: true})
	if err != nil {
		t.Fatal(err)
	}
	if err := again.Start(ctx); err != nil {
		t.Fatal(err)
	}
	defer again.Stop(ctx)
	conn, err = pgx.Connect(ctx, again.URL("caregraph"))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	var x int
	if err := conn.QueryRow(ctx, "SELECT x FROM kept").Scan(&x); err != nil || x != 42 {
		t.Errorf("data after restart: %d, %v", x, err)
	}

	// A second handle on a running cluster reuses it and leaves it running on Stop.
	third, _ := pgcluster.New(pgcluster.Options{Dir: dir})
	if err := third.Start(ctx); err != nil {
		t.Fatal(err)
	}
	if err := third.Stop(ctx); err != nil {
		t.Fatal(err)
	}
	if err := conn.Ping(ctx); err != nil {
		t.Errorf("a reusing handle stopped the cluster: %v", err)
	}
}
