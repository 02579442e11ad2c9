// Package dbtest gives tests a fresh PostgreSQL + PostGIS database each, cloned from a
// migrated template (and, for tests that need them, a template with the boundary layers
// imported). The server is named by CAREGRAPH_TEST_DATABASE_URL, which `make test` sets
// to a throwaway cluster. Without it tests skip, except under CI=true, where they fail.
package dbtest

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"net/url"
	"os"
	"path/filepath"
	"runtime"
	"sync"
	"testing"
	"time"

	"caregraph/migrations"
	"caregraph/shapefiles"
	"caregraph/store"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
)

// EnvURL names the variable holding the test server's URL (any database on it).
const EnvURL = "CAREGRAPH_TEST_DATABASE_URL"

// templateLock serialises template building across the test binaries that run in parallel.
const templateLock = 7_262_011_002

var (
	mu        sync.Mutex
	templates = map[string]string{}
)

// DB is a fresh database for one test.
type DB struct {
	Pool *pgxpool.Pool
	// URL connects to this database.
	URL string
}

// Options adjust a test database.
type Options struct {
	// Tracer sees every statement the pool runs.
	Tracer pgx.QueryTracer
	// Boundaries clones the template with the five boundary layers imported.
	Boundaries bool
	// Empty skips the migrations: a bare database with nothing in it.
	Empty bool
}

// New returns a fresh migrated database, dropped when the test ends.
func New(t testing.TB) *DB {
	t.Helper()
	return NewWith(t, Options{})
}

// NewWithBoundaries returns a fresh migrated database with the five boundary layers
// imported from the data folder.
func NewWithBoundaries(t testing.TB) *DB {
	t.Helper()
	return NewWith(t, Options{Boundaries: true})
}

// NewWith returns a fresh database made as opts say.
func NewWith(t testing.TB, opts Options) *DB {
	t.Helper()
	if opts.Boundaries {
		if _, err := os.Stat(filepath.Join(DataDir(), "shapefiles")); err != nil {
			unavailable(t, "reference data not found at "+DataDir()+" (set CAREGRAPH_DATA_DIR)")
		}
	}
	return fresh(t, opts)
}

// DataDir is the reference data folder: CAREGRAPH_DATA_DIR, else ../shared/data beside
// the repository.
func DataDir() string {
	if d := os.Getenv("CAREGRAPH_DATA_DIR"); d != "" {
		return d
	}
	_, file, _, _ := runtime.Caller(0)
	return filepath.Join(filepath.Dir(file), "..", "..", "..", "shared", "data")
}

func unavailable(t testing.TB, why string) {
	t.Helper()
	if os.Getenv("CI") == "true" {
		t.Fatalf("dbtest: %s (CI=true: tests that need the database must run)", why)
	}
	t.Skipf("dbtest: %s; run `make test` to run this test against a throwaway PostGIS", why)
}

func fresh(t testing.TB, opts Options) *DB {
	t.Helper()
	base := os.Getenv(EnvURL)
	if base == "" {
		unavailable(t, EnvURL+" is not set")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	tpl := "template0"
	if !opts.Empty {
		var err error
		if tpl, err = template(ctx, base, opts.Boundaries); err != nil {
			t.Fatalf("dbtest: template: %v", err)
		}
	}
	name := "t_" + randomHex(8)
	admin, err := pgx.Connect(ctx, withDatabase(base, "postgres"))
	if err != nil {
		t.Fatalf("dbtest: %v", err)
	}
	defer admin.Close(ctx)
	if _, err := admin.Exec(ctx, fmt.Sprintf("CREATE DATABASE %s TEMPLATE %s", name, tpl)); err != nil {
		t.Fatalf("dbtest: create database: %v", err)
	}
	u := withDatabase(base, name)
	pool, err := store.Connect(ctx, u, store.PoolConfig{MaxConns: 8, Tracer: opts.Tracer})
	if err != nil {
		t.Fatalf("dbtest: %v", err)
	}
	t.Cleanup(func() {
		pool.Close()
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		admin, err := pgx.Connect(ctx, withDatabase(base, "postgres"))
		if err != nil {
			t.Errorf("dbtest: drop %s: %v", name, err)
			return
		}
		defer admin.Close(ctx)
		if _, err := admin.Exec(ctx, "DROP DATABASE IF EXISTS "+name+" WITH (FORCE)"); err != nil {
			t.Errorf("dbtest: drop %s: %v", name, err)
		}
	})
	return &DB{Pool: pool, URL: u}
}

// template returns the name of a template database for the current migrations (and
// boundary data), building it once per server under an advisory lock.
func template(ctx context.Context, base string, boundaries bool) (string, error) {
	key, err := templateKey(boundaries)
	if err != nil {
		return "", err
	}
	mu.Lock()
	defer mu.Unlock()
	if name, ok := templates[key]; ok {
		return name, nil
	}
	name := "tpl_" + key
	admin, err := pgx.Connect(ctx, withDatabase(base, "postgres"))
	if err != nil {
		return "", err
	}
	defer admin.Close(ctx)
	if _, err := admin.Exec(ctx, "SELECT pg_advisory_lock($1)", int64(templateLock)); err != nil {
		return "", err
	}
	defer admin.Exec(context.WithoutCancel(ctx), "SELECT pg_advisory_unlock($1)", int64(templateLock))
	var exists bool
	if err := admin.QueryRow(ctx, "SELECT EXISTS (SELECT 1 FROM pg_database WHERE datname = $1)", name).Scan(&exists); err != nil {
		return "", err
	}
	if !exists {
		if err := build(ctx, admin, base, name, boundaries); err != nil {
			return "", err
		}
	}
	templates[key] = name
	return name, nil
}

// build makes the template under a temporary name and renames it when complete, so a
// test binary killed half-way never leaves a half-built template behind under the final name.
func build(ctx context.Context, admin *pgx.Conn, base, name string, boundaries bool) error {
	tmp := name + "_building"
	if _, err := admin.Exec(ctx, "DROP DATABASE IF EXISTS "+tmp+" WITH (FORCE)"); err != nil {
		return err
	}
	if _, err := admin.Exec(ctx, "CREATE DATABASE "+tmp); err != nil {
		return err
	}
	pool, err := store.Connect(ctx, withDatabase(base, tmp), store.PoolConfig{MaxConns: 4})
	if err != nil {
		return err
	}
	if _, err := migrations.Up(ctx, pool); err != nil {
		pool.Close()
		return err
	}
	if boundaries {
		m, err := shapefiles.LoadManifest()
		if err != nil {
			pool.Close()
			return err
		}
		if _, err := shapefiles.ImportAll(ctx, store.New(pool), m.Layers, DataDir(), io.Discard); err != nil {
			pool.Close()
			return err
		}
	}
	pool.Close()
	if _, err := admin.Exec(ctx, fmt.Sprintf("ALTER DATABASE %s RENAME TO %s", tmp, name)); err != nil {
		return err
	}
	_, err = admin.Exec(ctx, fmt.Sprintf("ALTER DATABASE %s WITH is_template true", name))
	return err
}

// templateKey changes whenever the migrations (or, with boundaries, the manifest) change.
func templateKey(boundaries bool) (string, error) {
	ms, err := migrations.All()
	if err != nil {
		return "", err
	}
	h := sha256.New()
	for _, m := range ms {
		io.WriteString(h, m.Name)
		io.WriteString(h, m.SQL)
	}
	kind := "m"
	if boundaries {
		kind = "b"
		m, err := shapefiles.LoadManifest()
		if err != nil {
			return "", err
		}
		fmt.Fprintf(h, "%+v", m)
		io.WriteString(h, DataDir())
	}
	return kind + hex.EncodeToString(h.Sum(nil))[:16], nil
}

func withDatabase(base, name string) string {
	u, err := url.Parse(base)
	if err != nil {
		return base
	}
	u.Path = "/" + name
	return u.String()
}

func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}
