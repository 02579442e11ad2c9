package migrations_test

import (
	"context"
	"sync"
	"testing"

	"caregraph/migrations"
	"caregraph/store/dbtest"
)

func TestAllOrderedAndNumbered(t *testing.T) {
	ms, err := migrations.All()
	if err != nil {
		t.Fatal(err)
	}
	if len(ms) == 0 {
		t.Fatal("no migrations embedded")
	}
	for i := 1; i < len(ms); i++ {
		if ms[i].Version <= ms[i-1].Version {
			t.Errorf("%s does not follow %s", ms[i].Name, ms[i-1].Name)
		}
	}
	if migrations.Latest() != ms[len(ms)-1].Version {
		t.Errorf("Latest() = %d", migrations.Latest())
	}
}

// TestConcurrentUpAppliesOnce starts two "replicas" migrating one empty database at once:
// each migration must be applied exactly once, and a later run must find nothing to do.
func TestConcurrentUpAppliesOnce(t *testing.T) {
	ctx := context.Background()
	db := dbtest.NewWith(t, dbtest.Options{Empty: true})
	var wg sync.WaitGroup
	applied := make([][]string, 2)
	errs := make([]error, 2)
	for i := range 2 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			applied[i], errs[i] = migrations.Up(ctx, db.Pool)
		}()
	}
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	ms, _ := migrations.All()
	if total := len(applied[0]) + len(applied[1]); total != len(ms) {
		t.Errorf("applied %d + %d migrations, want %d in all", len(applied[0]), len(applied[1]), len(ms))
	}
	var rows int
	if err := db.Pool.QueryRow(ctx, "SELECT count(*) FROM schema_migrations").Scan(&rows); err != nil {
		t.Fatal(err)
	}
	if rows != len(ms) {
		t.Errorf("schema_migrations has %d rows, want %d", rows, len(ms))
	}
	again, err := migrations.Up(ctx, db.Pool)
	if err != nil || len(again) != 0 {
		t.Errorf("second run applied %v (err %v), want nothing", again, err)
	}
	v, err := migrations.Current(ctx, db.Pool)
	if err != nil || v != migrations.Latest() {
		t.Errorf("Current = %d, %v; want %d", v, err, migrations.Latest())
	}
	var postgis string
	if err := db.Pool.QueryRow(ctx, "SELECT postgis_lib_version()").Scan(&postgis); err != nil {
		t.Errorf("PostGIS not installed by the migrations: %v", err)
	}
}
