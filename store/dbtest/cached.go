package dbtest

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"os"
	"testing"
	"time"

	"caregraph/store"

	"github.com/jackc/pgx/v5"
)

// cachedLock serialises the building of cached databases across test binaries.
const cachedLock = 7_262_011_003

// Cached returns a database that benchmarks keep between runs: the migrated boundaries
// template plus whatever build puts in it, built the first time it is asked for under
// its name, version and the current migrations, and reused (not dropped) afterwards.
// Changing version (or a migration) builds a new one. Building happens under a
// temporary name, renamed when build succeeds, so an interrupted build is never used.
// The caller must leave the data as build left it (writes that replace what is there
// with the same are fine).
func Cached(tb testing.TB, name, version string, build func(ctx context.Context, db *DB) error) *DB {
	tb.Helper()
	base := os.Getenv(EnvURL)
	if base == "" {
		unavailable(tb, EnvURL+" is not set")
	}
	ctx := context.Background()
	tpl, err := template(ctx, base, true)
	if err != nil {
		tb.Fatalf("dbtest: template: %v", err)
	}
	sum := sha256.Sum256([]byte(tpl + "/" + version))
	db := "cache_" + name + "_" + hex.EncodeToString(sum[:6])
	admin, err := pgx.Connect(ctx, withDatabase(base, "postgres"))
	if err != nil {
		tb.Fatalf("dbtest: %v", err)
	}
	defer admin.Close(ctx)
	if _, err := admin.Exec(ctx, "SELECT pg_advisory_lock($1)", int64(cachedLock)); err != nil {
		tb.Fatalf("dbtest: %v", err)
	}
	defer admin.Exec(context.WithoutCancel(ctx), "SELECT pg_advisory_unlock($1)", int64(cachedLock))
	var exists bool
	if err := admin.QueryRow(ctx, "SELECT EXISTS (SELECT 1 FROM pg_database WHERE datname = $1)", db).Scan(&exists); err != nil {
		tb.Fatalf("dbtest: %v", err)
	}
	if !exists {
		tmp := db + "_building"
		if _, err := admin.Exec(ctx, "DROP DATABASE IF EXISTS "+tmp+" WITH (FORCE)"); err != nil {
			tb.Fatalf("dbtest: %v", err)
		}
		if _, err := admin.Exec(ctx, fmt.Sprintf("CREATE DATABASE %s TEMPLATE %s", tmp, tpl)); err != nil {
			tb.Fatalf("dbtest: create %s: %v", tmp, err)
		}
		u := withDatabase(base, tmp)
		pool, err := store.Connect(ctx, u, store.PoolConfig{MaxConns: 8})
		if err != nil {
			tb.Fatalf("dbtest: %v", err)
		}
		start := time.Now()
		err = build(ctx, &DB{Pool: pool, URL: u})
		pool.Close()
		if err != nil {
			tb.Fatalf("dbtest: build %s: %v", name, err)
		}
		if _, err := admin.Exec(ctx, fmt.Sprintf("ALTER DATABASE %s RENAME TO %s", tmp, db)); err != nil {
			tb.Fatalf("dbtest: %v", err)
		}
		tb.Logf("dbtest: built %s in %s; later runs reuse it", db, time.Since(start).Round(time.Second))
	}
	u := withDatabase(base, db)
	pool, err := store.Connect(ctx, u, store.PoolConfig{MaxConns: 8})
	if err != nil {
		tb.Fatalf("dbtest: %v", err)
	}
	tb.Cleanup(pool.Close)
	return &DB{Pool: pool, URL: u}
}
