package main

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"caregraph/store/dbtest"
)

func envFunc(m map[string]string) func(string) string {
	return func(k string) string { return m[k] }
}

func TestUsageAndBadCommands(t *testing.T) {
	ctx := context.Background()
	var out, errOut bytes.Buffer
	if err := run(ctx, []string{"--help"}, envFunc(nil), nil, &out, &errOut); err != nil {
		t.Fatal(err)
	}
	for _, c := range []string{"migrate", "import-shapefiles", "cluster", "serve"} {
		if !strings.Contains(out.String(), c) {
			t.Errorf("usage lacks %s:\n%s", c, out.String())
		}
	}
	err := run(ctx, []string{"frobnicate"}, envFunc(nil), nil, &out, &errOut)
	if !errors.Is(err, errUsage) || !strings.Contains(err.Error(), "frobnicate") {
		t.Errorf("unknown command: %v", err)
	}
	errOut.Reset()
	err = run(ctx, []string{"import-shapefiles", "--help"}, envFunc(nil), nil, &out, &errOut)
	if !errors.Is(err, flag.ErrHelp) || !strings.Contains(errOut.String(), "-layer") {
		t.Errorf("import-shapefiles --help: %v\n%s", err, errOut.String())
	}
	err = run(ctx, []string{"import-shapefiles", "--layer", "atlantis"}, envFunc(nil), nil, &out, &errOut)
	if !errors.Is(err, errUsage) || !strings.Contains(err.Error(), "atlantis") {
		t.Errorf("unknown layer: %v", err)
	}
	err = run(ctx, []string{"migrate"}, envFunc(map[string]string{"CAREGRAPH_LOG_LEVEL": "loud"}), nil, &out, &errOut)
	if err == nil || !strings.Contains(err.Error(), "CAREGRAPH_LOG_LEVEL") {
		t.Errorf("bad log level: %v", err)
	}
}

func TestConfigDefaultsAndRedaction(t *testing.T) {
	c, err := loadConfig(envFunc(map[string]string{"DATABASE_URL": "postgres://app:s3cret@db:5432/caregraph?sslmode=disable"}))
	if err != nil {
		t.Fatal(err)
	}
	if c.Addr != ":8080" || c.ClusterDir != ".data" || !c.Playground {
		t.Errorf("defaults: %+v", c)
	}
	logged := fmt.Sprint(c.logAttrs()...)
	if strings.Contains(logged, "s3cret") {
		t.Errorf("the password reaches the log: %s", logged)
	}
	if got := redactURL("host=db user=app password=s3cret dbname=x"); strings.Contains(got, "s3cret") {
		t.Errorf("keyword form not redacted: %s", got)
	}
	for k, v := range map[string]string{"CAREGRAPH_REQUEST_TIMEOUT": "soon", "CAREGRAPH_PLAYGROUND": "maybe", "CAREGRAPH_DB_MAX_CONNS": "-3", "CAREGRAPH_LOG_FORMAT": "xml"} {
		if _, err := loadConfig(envFunc(map[string]string{k: v})); err == nil || !strings.Contains(err.Error(), k) {
			t.Errorf("%s=%s: %v, want an error naming the variable", k, v, err)
		}
	}
}

// syncBuffer is a bytes.Buffer safe for a writer and a reader in different goroutines.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// TestServeEndToEnd runs the real command against a fresh database: the first start
// migrates and imports the boundaries, serves, and shuts down cleanly on cancel; the
// second start imports nothing.
func TestServeEndToEnd(t *testing.T) {
	if _, err := os.Stat(dbtest.DataDir()); err != nil {
		t.Skip("no reference data")
	}
	db := dbtest.NewWith(t, dbtest.Options{Empty: true})
	env := envFunc(map[string]string{
		"DATABASE_URL":       db.URL,
		"CAREGRAPH_ADDR":     "127.0.0.1:0",
		"CAREGRAPH_DATA_DIR": dbtest.DataDir(),
	})
	start := func() (stderr *syncBuffer, base string, stop func() error) {
		ctx, cancel := context.WithCancel(context.Background())
		stderr = &syncBuffer{}
		done := make(chan error, 1)
		go func() { done <- run(ctx, nil, env, nil, io.Discard, stderr) }()
		addr := regexp.MustCompile(`msg=serving addr=(\S+)`)
		deadline := time.Now().Add(2 * time.Minute)
		for time.Now().Before(deadline) {
			if m := addr.FindStringSubmatch(stderr.String()); m != nil {
				base = "http://" + m[1]
				break
			}
			select {
			case err := <-done:
				t.Fatalf("server stopped early: %v\n%s", err, stderr.String())
			case <-time.After(50 * time.Millisecond):
			}
		}
		if base == "" {
			t.Fatalf("server did not start:\n%s", stderr.String())
		}
		return stderr, base, func() error {
			cancel()
			select {
			case err := <-done:
				return err
			case <-time.After(30 * time.Second):
				return errors.New("server did not stop")
			}
		}
	}

	logs, base, stop := start()
	resp, err := http.Post(base+"/graphql", "application/json", strings.NewReader(`{"query":"{ areasAt(lat: 52.1751, lon: 0.1408) { code } }"}`))
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if !strings.Contains(string(body), "E54000056") {
		t.Errorf("areasAt through the real server: %s", body)
	}
	if err := stop(); err != nil {
		t.Fatalf("shutdown: %v\n%s", err, logs.String())
	}
	for _, want := range []string{"applied migration", "imported 5 layers: 93 areas", "shutting down"} {
		if !strings.Contains(logs.String(), want) {
			t.Errorf("first start log lacks %q:\n%s", want, logs.String())
		}
	}

	logs, _, stop = start()
	if err := stop(); err != nil {
		t.Fatal(err)
	}
	if strings.Contains(logs.String(), "applied migration") || strings.Contains(logs.String(), "imported") {
		t.Errorf("second start changed something:\n%s", logs.String())
	}
}

func TestMigrateAndImportCommands(t *testing.T) {
	if _, err := os.Stat(dbtest.DataDir()); err != nil {
		t.Skip("no reference data")
	}
	db := dbtest.New(t)
	env := envFunc(map[string]string{"DATABASE_URL": db.URL, "CAREGRAPH_DATA_DIR": dbtest.DataDir()})
	var stderr bytes.Buffer
	if err := run(context.Background(), []string{"migrate"}, env, nil, io.Discard, &stderr); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(stderr.String(), "schema at version") {
		t.Errorf("migrate output: %s", stderr.String())
	}
	stderr.Reset()
	if err := run(context.Background(), []string{"import-shapefiles", "--layer", "local-health-boards"}, env, nil, io.Discard, &stderr); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(stderr.String(), "local-health-boards: stored 7 areas") || !strings.Contains(stderr.String(), "imported 1 layers: 7 areas") {
		t.Errorf("import output:\n%s", stderr.String())
	}
	stderr.Reset()
	err := run(context.Background(), []string{"import-shapefiles", "--dir", t.TempDir()}, env, nil, io.Discard, &stderr)
	if err == nil || !strings.Contains(err.Error(), ".shp: missing") {
		t.Errorf("import from an empty folder: %v", err)
	}
}
