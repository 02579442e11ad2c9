package main

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path"
	"path/filepath"
	"strings"
	"testing"

	"caregraph/store"
	"caregraph/store/dbtest"
)

// fakeNHSDD serves the hand-written pages of sync/nhsdd/testdata by slug.
func fakeNHSDD(t *testing.T, pages map[string]string) *httptest.Server {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		file, ok := pages[strings.TrimSuffix(path.Base(r.URL.Path), ".html")]
		if !ok {
			http.NotFound(w, r)
			return
		}
		b, err := os.ReadFile(filepath.Join("..", "sync", "nhsdd", "testdata", file+".html"))
		if err != nil {
			http.Error(w, err.Error(), 500)
			return
		}
		_, _ = w.Write(b)
	}))
	t.Cleanup(srv.Close)
	return srv
}

func TestSyncNHSDDCommand(t *testing.T) {
	db := dbtest.New(t)
	pages := map[string]string{"ethnic_category": "ethnic_category", "gender_identity_code": "gender_identity_code"}
	site := fakeNHSDD(t, pages)
	env := envFunc(map[string]string{"DATABASE_URL": db.URL, "NHS_DD_BASE_URL": site.URL})
	ctx := context.Background()
	sync := func(args ...string) (string, error) {
		var stderr bytes.Buffer
		err := run(ctx, append([]string{"sync", "nhs-dd"}, args...), env, nil, io.Discard, &stderr)
		return stderr.String(), err
	}

	out, err := sync("--dataset", "ethnic_category")
	if err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	for _, want := range []string{"nhs-dd [1/1] ethnic_category: created with 18 options", "nhs-dd: 1 created, 0 updated, 0 unchanged, 0 skipped, 0 failed"} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
	out, err = sync("--dataset", "ethnic_category", "--dry-run", "--force")
	if err != nil || !strings.Contains(out, "would be unchanged") || !strings.Contains(out, "dry run, nothing written") {
		t.Errorf("dry run: %v\n%s", err, out)
	}

	// A full run: the two pages served sync, the other 46 are not found, so the run
	// fails as a whole while keeping what worked.
	out, err = sync()
	if err == nil || !strings.Contains(err.Error(), "46 of the NHS DD datasets failed") {
		t.Fatalf("err = %v\n%s", err, out)
	}
	for _, want := range []string{"ethnic_category: skipped (scraped", "gender_identity_code: created with 6 options", "smoking_status_code: FAILED: GET " + site.URL + "/data_elements/smoking_status_code.html: 404 Not Found", "1 created, 0 updated, 0 unchanged, 1 skipped, 46 failed"} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
	st := store.New(db.Pool)
	runs, err := st.JobRuns(ctx, jobNHSDD, 10)
	if err != nil {
		t.Fatal(err)
	}
	if len(runs) != 2 || runs[0].Outcome != store.OutcomeFailed || runs[0].Counts["failed"] != 46 || runs[1].Outcome != store.OutcomeSucceeded || runs[0].Trigger != store.TriggerManual {
		t.Errorf("job runs (the dry run records none): %+v", runs)
	}

	if _, err := sync("--dataset", "no_such_thing"); err == nil || !strings.Contains(err.Error(), "not in docs/nhs-data-dictionary-datasets.md") {
		t.Errorf("unknown dataset: %v", err)
	}
}

func TestSyncRCPCHCommandKeepsTheKeySecret(t *testing.T) {
	db := dbtest.New(t)
	const key = "k-3f9a0c-never-print-me"
	api := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Ocp-Apim-Subscription-Key") != key {
			w.WriteHeader(http.StatusUnauthorized)
			return
		}
		if r.URL.Path != "/nhs-organisations/v1/london_boroughs/" {
			http.NotFound(w, r)
			return
		}
		b, _ := os.ReadFile(filepath.Join("..", "sync", "rcpch", "testdata", "london_boroughs.json"))
		_, _ = w.Write(b)
	}))
	defer api.Close()
	env := envFunc(map[string]string{"DATABASE_URL": db.URL, "EXTERNAL_DATASET_API_URL": api.URL + "/nhs-organisations/v1",
		"EXTERNAL_DATASET_API_KEY": key, "CAREGRAPH_LOG_LEVEL": "debug"})
	var stderr bytes.Buffer
	err := run(context.Background(), []string{"sync", "rcpch", "--dataset", "london_boroughs"}, env, nil, io.Discard, &stderr)
	if err != nil {
		t.Fatalf("%v\n%s", err, stderr.String())
	}
	if !strings.Contains(stderr.String(), "london_boroughs: created with 33 options from api") {
		t.Errorf("output:\n%s", stderr.String())
	}
	stderr.Reset()
	err = run(context.Background(), []string{"sync", "rcpch", "--force"}, env, nil, io.Discard, &stderr)
	if err == nil || !strings.Contains(stderr.String(), "6 failed") {
		t.Errorf("the other lists are not served: %v\n%s", err, stderr.String())
	}
	if strings.Contains(stderr.String(), key) || (err != nil && strings.Contains(err.Error(), key)) {
		t.Error("the API key was printed")
	}
}

func TestSyncCommandUsage(t *testing.T) {
	ctx := context.Background()
	var stderr bytes.Buffer
	err := run(ctx, []string{"sync"}, envFunc(nil), nil, io.Discard, &stderr)
	if !errors.Is(err, errUsage) || !strings.Contains(stderr.String(), "nhs-dd") || !strings.Contains(stderr.String(), "rcpch") {
		t.Errorf("sync without a source: %v\n%s", err, stderr.String())
	}
	if err := run(ctx, []string{"sync", "ods-and-more"}, envFunc(nil), nil, io.Discard, &stderr); !errors.Is(err, errUsage) {
		t.Errorf("unknown source: %v", err)
	}
	stderr.Reset()
	err = run(ctx, []string{"sync", "nhs-dd", "--help"}, envFunc(nil), nil, io.Discard, &stderr)
	if !errors.Is(err, flag.ErrHelp) || !strings.Contains(stderr.String(), "-dry-run") || !strings.Contains(stderr.String(), "-allow-shrink") {
		t.Errorf("nhs-dd --help: %v\n%s", err, stderr.String())
	}
	if err := run(ctx, []string{"sync", "rcpch", "extra"}, envFunc(nil), nil, io.Discard, &stderr); !errors.Is(err, errUsage) {
		t.Errorf("stray argument: %v", err)
	}
}

func TestDatasetConfig(t *testing.T) {
	c, err := loadConfig(envFunc(map[string]string{"EXTERNAL_DATASET_API_URL": "https://api.rcpch.ac.uk/nhs-organisations/v1", "EXTERNAL_DATASET_API_KEY": "t0p-s3cret"}))
	if err != nil {
		t.Fatal(err)
	}
	if c.NHSDDBaseURL != "https://www.datadictionary.nhs.uk" || c.ScheduleNHSDD != "0 5 * * 0" || c.ScheduleRCPCH != "0 4 * * *" {
		t.Errorf("defaults: %+v", c.datasetsConfig)
	}
	logged := fmt.Sprintln(append(c.datasetsLogAttrs(), c.logAttrs()...)...)
	if strings.Contains(logged, "t0p-s3cret") || !strings.Contains(logged, "external_dataset_api_key set") {
		t.Errorf("logged configuration: %s", logged)
	}
	for k, v := range map[string]string{
		"CAREGRAPH_SCHEDULE_NHSDD": "every sunday",
		"CAREGRAPH_SCHEDULE_RCPCH": "@every 1h",
		"NHS_DD_BASE_URL":          "www.datadictionary.nhs.uk",
		"EXTERNAL_DATASET_API_URL": "https://user:pass@api.example/v1",
	} {
		if _, err := loadConfig(envFunc(map[string]string{k: v})); err == nil || !strings.Contains(err.Error(), k) {
			t.Errorf("%s=%s: %v, want an error naming the variable", k, v, err)
		}
	}
	if c, err := loadConfig(envFunc(map[string]string{"CAREGRAPH_SCHEDULE_RCPCH": "off"})); err != nil || c.ScheduleRCPCH != "off" {
		t.Errorf("off: %v", err)
	}
}
