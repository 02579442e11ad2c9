package main

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

func TestPercentile(t *testing.T) {
	ms := func(v ...int) []time.Duration {
		out := make([]time.Duration, len(v))
		for i, x := range v {
			out[i] = time.Duration(x) * time.Millisecond
		}
		return out
	}
	hundred := make([]time.Duration, 100)
	for i := range hundred {
		hundred[i] = time.Duration(i+1) * time.Millisecond // 1ms..100ms
	}
	for _, tc := range []struct {
		sorted []time.Duration
		p      float64
		want   time.Duration
	}{
		{nil, 50, 0},
		{ms(7), 0, 7 * time.Millisecond},
		{ms(7), 50, 7 * time.Millisecond},
		{ms(7), 100, 7 * time.Millisecond},
		{ms(1, 2), 50, 1 * time.Millisecond},
		{ms(1, 2), 51, 2 * time.Millisecond},
		{ms(1, 2, 3, 4), 50, 2 * time.Millisecond},
		{ms(1, 2, 3, 4), 75, 3 * time.Millisecond},
		{ms(1, 2, 3, 4), 99, 4 * time.Millisecond},
		{hundred, 50, 50 * time.Millisecond},
		{hundred, 90, 90 * time.Millisecond},
		{hundred, 99, 99 * time.Millisecond},
		{hundred, 99.9, 100 * time.Millisecond},
		{hundred, 100, 100 * time.Millisecond},
		{hundred, 0, 1 * time.Millisecond},
		{hundred, 150, 100 * time.Millisecond},
	} {
		if got := percentile(tc.sorted, tc.p); got != tc.want {
			t.Errorf("percentile(%d samples, %v) = %v, want %v", len(tc.sorted), tc.p, got, tc.want)
		}
	}
}

func TestCheckLoopback(t *testing.T) {
	for _, u := range []string{
		"http://127.0.0.1:8080/graphql",
		"http://127.0.0.1/graphql",
		"http://127.1.2.3:9000/graphql",
		"http://127.255.255.254/",
		"http://[::1]:8080/graphql",
		"https://[::1]/graphql",
		"http://localhost:8080/graphql",
		"http://LocalHost/boundaries/country.geojson",
		"http://[::ffff:127.0.0.1]:8080/",
	} {
		if err := checkLoopback(u); err != nil {
			t.Errorf("checkLoopback(%q) = %v, want nil", u, err)
		}
	}
	for _, u := range []string{
		"http://10.0.0.1:8080/graphql",
		"http://192.168.1.10/graphql",
		"http://128.0.0.1/graphql",
		"http://0.0.0.0:8080/graphql",
		"http://[::]:8080/graphql",
		"http://[::2]/graphql",
		"http://example.com/graphql",
		"http://localhost.example.com/graphql",
		"http://127.0.0.1.nip.io/graphql",
		"http://evil.com#@127.0.0.1/",
		"http://127.0.0.1@evil.com/",
		"ftp://127.0.0.1/",
		"127.0.0.1:8080/graphql",
		"/graphql",
		"http:///graphql",
		"http://%zz/",
	} {
		if err := checkLoopback(u); err == nil {
			t.Errorf("checkLoopback(%q) = nil, want a refusal", u)
		}
	}
}

func TestParseFlags(t *testing.T) {
	if _, err := parseFlags([]string{"-url", "http://10.1.2.3/graphql"}, io.Discard); err == nil || !strings.Contains(err.Error(), "loopback") {
		t.Errorf("non-loopback -url: err = %v", err)
	}
	if _, err := parseFlags([]string{"-get", "http://example.com/boundaries/country.geojson"}, io.Discard); err == nil {
		t.Error("non-loopback -get accepted")
	}
	for _, args := range [][]string{
		{"-c", "0"}, {"-c", "5000"}, {"-d", "0s"}, {"-d", "2h"}, {"-n", "0"}, {"-warmup", "-1s"},
		{"-query", "nope"}, {"-etag", `"x"`}, {"-get", "http://127.0.0.1/x", "-url", "http://127.0.0.1/graphql"},
		{"extra"},
	} {
		if _, err := parseFlags(args, io.Discard); err == nil {
			t.Errorf("parseFlags(%q) accepted", args)
		}
	}
	cfg, err := parseFlags(nil, io.Discard)
	if err != nil || cfg.concurrency != 16 || cfg.duration != 10*time.Second || cfg.maxRequests != 2_000_000 || cfg.query != "areasAt" {
		t.Errorf("defaults: %+v, %v", cfg, err)
	}
}

func TestRequestBodies(t *testing.T) {
	bodies, err := requestBodies("areasAt")
	if err != nil || len(bodies) != len(points) || len(points) < 45 {
		t.Fatalf("%d bodies for %d points, %v", len(bodies), len(points), err)
	}
	var req struct {
		Query     string
		Variables struct{ Lat, Lon float64 }
	}
	if err := json.Unmarshal(bodies[0], &req); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(req.Query, "areasAt(lat: $lat, lon: $lon) { kind code name }") || req.Variables.Lat != points[0].Lat || req.Variables.Lon != points[0].Lon {
		t.Errorf("body %s", bodies[0])
	}
	for _, p := range points {
		if p.Lat < 49.8 || p.Lat > 61 || p.Lon < -8.7 || p.Lon > 3.5 {
			t.Errorf("%s (%v, %v) is outside the UK's waters", p.Name, p.Lat, p.Lon)
		}
	}
	b, _ := requestBodies("boundaries")
	if len(b) != 1 || !bytes.Contains(b[0], []byte(`{ boundaries(kind: INTEGRATED_CARE_BOARD, zoom: 6) }`)) {
		t.Errorf("boundaries body %s", b)
	}
}

// TestRun drives a fake GraphQL server on loopback end to end.
func TestRun(t *testing.T) {
	var calls atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n := calls.Add(1)
		if r.Method != http.MethodPost || r.Header.Get("Content-Type") != "application/json" {
			http.Error(w, "bad request", http.StatusBadRequest)
			return
		}
		if n%10 == 0 {
			io.WriteString(w, `{"errors":[{"message":"boom"}],"data":null}`)
			return
		}
		io.WriteString(w, `{"data":{"areasAt":[]}}`)
	}))
	defer srv.Close()
	cfg, err := parseFlags([]string{"-url", srv.URL + "/graphql", "-c", "4", "-d", "300ms", "-warmup", "50ms", "-n", "200"}, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	rep, err := run(context.Background(), cfg, &out)
	if err != nil {
		t.Fatal(err)
	}
	t.Log("\n" + out.String())
	if rep.requests == 0 || rep.requests > 200 {
		t.Errorf("requests = %d, want 1..200", rep.requests)
	}
	if rep.graphqlErr == 0 || rep.transportErr != 0 || rep.statusErr != 0 {
		t.Errorf("errors: graphql %d transport %d status %d", rep.graphqlErr, rep.transportErr, rep.statusErr)
	}
	for _, want := range []string{"requests:", "requests/s:", "latency p50:", "latency p90:", "latency p99:", "latency max:"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("report lacks %q", want)
		}
	}
}

func TestRunGetETag(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("If-None-Match") == `"v1"` {
			w.WriteHeader(http.StatusNotModified)
			return
		}
		w.Write([]byte(`{"type":"FeatureCollection","features":[]}`))
	}))
	defer srv.Close()
	cfg, err := parseFlags([]string{"-get", srv.URL + "/boundaries/country.geojson", "-etag", `"v1"`, "-c", "2", "-d", "100ms", "-warmup", "0s", "-n", "50"}, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	rep, err := run(context.Background(), cfg, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if rep.requests == 0 || rep.requests > 50 || rep.errors() != 0 || rep.status[http.StatusNotModified] != rep.requests {
		t.Errorf("requests %d, errors %d, status %v", rep.requests, rep.errors(), rep.status)
	}
}
