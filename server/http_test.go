package main

import (
	"bytes"
	"compress/gzip"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"

	"caregraph/store/dbtest"

	"github.com/jackc/pgx/v5"
)

// statementCounter counts the SQL statements a pool runs.
type statementCounter struct{ n atomic.Int64 }

func (c *statementCounter) TraceQueryStart(ctx context.Context, _ *pgx.Conn, _ pgx.TraceQueryStartData) context.Context {
	c.n.Add(1)
	return ctx
}
func (c *statementCounter) TraceQueryEnd(context.Context, *pgx.Conn, pgx.TraceQueryEndData) {}

// The statements of a batch count one each, the plan setting the store sends before
// some statements included.
func (c *statementCounter) TraceBatchStart(ctx context.Context, _ *pgx.Conn, _ pgx.TraceBatchStartData) context.Context {
	return ctx
}
func (c *statementCounter) TraceBatchQuery(context.Context, *pgx.Conn, pgx.TraceBatchQueryData) {
	c.n.Add(1)
}
func (c *statementCounter) TraceBatchEnd(context.Context, *pgx.Conn, pgx.TraceBatchEndData) {}

type testServer struct {
	*httptest.Server
	counter *statementCounter
	logs    *bytes.Buffer
}

func newTestServer(t *testing.T, mutate func(*config)) *testServer {
	t.Helper()
	counter := &statementCounter{}
	db := dbtest.NewWith(t, dbtest.Options{Boundaries: true, Tracer: counter})
	cfg, err := loadConfig(func(string) string { return "" })
	if err != nil {
		t.Fatal(err)
	}
	if mutate != nil {
		mutate(&cfg)
	}
	logs := &bytes.Buffer{}
	a := newApp(cfg, slog.New(slog.NewTextHandler(logs, nil)), db.Pool)
	// Before the database goes: KPI recomputes an upload started in the background.
	t.Cleanup(a.aggregator.Wait)
	srv := httptest.NewServer(a.routes())
	t.Cleanup(srv.Close)
	return &testServer{Server: srv, counter: counter, logs: logs}
}

type gqlResponse struct {
	Data   json.RawMessage `json:"data"`
	Errors []struct {
		Message    string         `json:"message"`
		Extensions map[string]any `json:"extensions"`
	} `json:"errors"`
}

func (s *testServer) query(t *testing.T, q string, vars map[string]any) gqlResponse {
	t.Helper()
	body, _ := json.Marshal(map[string]any{"query": q, "variables": vars})
	resp, err := http.Post(s.URL+"/graphql", "application/json", bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var out gqlResponse
	raw, _ := io.ReadAll(resp.Body)
	if err := json.Unmarshal(raw, &out); err != nil {
		t.Fatalf("response is not JSON (%d): %s", resp.StatusCode, raw)
	}
	return out
}

func (s *testServer) mustQuery(t *testing.T, q string, vars map[string]any, into any) {
	t.Helper()
	r := s.query(t, q, vars)
	if len(r.Errors) > 0 {
		t.Fatalf("query failed: %+v", r.Errors)
	}
	if err := json.Unmarshal(r.Data, into); err != nil {
		t.Fatal(err)
	}
}

func TestAreasAtKnownPlaces(t *testing.T) {
	s := newTestServer(t, nil)
	tests := []struct {
		name     string
		lat, lon float64
		want     []string
	}{
		{"Addenbrooke's Hospital", 52.1751, 0.1408, []string{"E92000001", "E40000007", "E54000056"}},
		{"central Cardiff", 51.4816, -3.1791, []string{"W92000004", "W11000029"}},
		{"Great Ormond Street, Camden", 51.5224, -0.1205, []string{"E92000001", "E40000003", "E54000028", "E09000007"}},
		{"Royal Hospital for Children, Glasgow", 55.8625, -4.3410, []string{"S92000003"}},
		{"Royal Victoria Hospital, Belfast", 54.5946, -5.9541, []string{"N92000002"}},
		{"North Sea", 55.0, 3.0, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var got struct {
				AreasAt []struct{ Kind, Code, Name string }
			}
			s.mustQuery(t, `query($lat: Float!, $lon: Float!) { areasAt(lat: $lat, lon: $lon) { kind code name } }`,
				map[string]any{"lat": tt.lat, "lon": tt.lon}, &got)
			var codes []string
			for _, a := range got.AreasAt {
				codes = append(codes, a.Code)
			}
			if strings.Join(codes, ",") != strings.Join(tt.want, ",") {
				t.Errorf("areasAt = %v, want %v (in this order)", codes, tt.want)
			}
		})
	}
}

func TestAreasAtRejectsOutOfRange(t *testing.T) {
	s := newTestServer(t, nil)
	for _, q := range []string{
		`{ areasAt(lat: 91, lon: 0) { code } }`,
		`{ areasAt(lat: -90.5, lon: 0) { code } }`,
		`{ areasAt(lat: 52, lon: 180.01) { code } }`,
	} {
		r := s.query(t, q, nil)
		if len(r.Errors) != 1 || r.Errors[0].Extensions["code"] != "BAD_USER_INPUT" {
			t.Errorf("%s: errors = %+v, want one BAD_USER_INPUT", q, r.Errors)
		}
	}
}

func TestAreaCountsAndPaging(t *testing.T) {
	s := newTestServer(t, nil)
	counts := map[string]int{"COUNTRY": 4, "NHS_ENGLAND_REGION": 7, "INTEGRATED_CARE_BOARD": 42, "LOCAL_HEALTH_BOARD": 7, "LONDON_BOROUGH": 33}
	for kind, want := range counts {
		var got struct {
			Areas struct {
				TotalCount int
				Nodes      []struct{ Code string }
			}
		}
		s.mustQuery(t, `query($k: AreaKind!) { areas(kind: $k, first: 1000) { totalCount nodes { code } } }`, map[string]any{"k": kind}, &got)
		if got.Areas.TotalCount != want || len(got.Areas.Nodes) != want {
			t.Errorf("%s: totalCount %d, %d nodes; want %d", kind, got.Areas.TotalCount, len(got.Areas.Nodes), want)
		}
	}

	// Walk the ICBs 10 at a time: every code once, in order, and the last page says so.
	var seen []string
	after := ""
	for page := 0; page < 10; page++ {
		var got struct {
			Areas struct {
				TotalCount int
				Edges      []struct{ Cursor string }
				Nodes      []struct{ Code string }
				PageInfo   struct {
					HasNextPage bool
					EndCursor   *string
				}
			}
		}
		vars := map[string]any{"after": after}
		s.mustQuery(t, `query($after: String) { areas(kind: INTEGRATED_CARE_BOARD, first: 10, after: $after) { totalCount edges { cursor } nodes { code } pageInfo { hasNextPage endCursor } } }`, vars, &got)
		if got.Areas.TotalCount != 42 {
			t.Fatalf("page %d: totalCount %d", page, got.Areas.TotalCount)
		}
		for _, n := range got.Areas.Nodes {
			seen = append(seen, n.Code)
		}
		if !got.Areas.PageInfo.HasNextPage {
			break
		}
		after = *got.Areas.PageInfo.EndCursor
	}
	if len(seen) != 42 {
		t.Fatalf("paged through %d ICBs, want 42", len(seen))
	}
	for i := 1; i < len(seen); i++ {
		if seen[i] <= seen[i-1] {
			t.Fatalf("codes out of order at %d: %s after %s", i, seen[i], seen[i-1])
		}
	}

	for _, q := range []string{
		`{ areas(kind: COUNTRY, first: 1001) { totalCount } }`,
		`{ areas(kind: COUNTRY, first: -1) { totalCount } }`,
		`{ areas(kind: COUNTRY, after: "not-a-cursor") { totalCount } }`,
	} {
		r := s.query(t, q, nil)
		if len(r.Errors) != 1 || r.Errors[0].Extensions["code"] != "BAD_USER_INPUT" {
			t.Errorf("%s: errors = %+v, want one BAD_USER_INPUT", q, r.Errors)
		}
	}
}

func TestAreaLookupAndNode(t *testing.T) {
	s := newTestServer(t, nil)
	var got struct {
		Area *struct {
			ID, Kind, Code, Name string
			WelshName            *string
			AreaSqKm             float64
			Centroid             struct {
				Type        string
				Coordinates []float64
			}
			Attribution string
		}
	}
	s.mustQuery(t, `{ area(kind: LOCAL_HEALTH_BOARD, code: "W11000029") { id kind code name welshName areaSqKm centroid attribution } }`, nil, &got)
	a := got.Area
	if a == nil || a.Name != "Cardiff and Vale University Health Board" || a.WelshName == nil || !strings.Contains(*a.WelshName, "Caerdydd") {
		t.Fatalf("area = %+v", a)
	}
	if a.AreaSqKm < 300 || a.AreaSqKm > 600 {
		t.Errorf("Cardiff and Vale area %.1f km², want roughly 470", a.AreaSqKm)
	}
	if a.Centroid.Type != "Point" || a.Centroid.Coordinates[0] > -3 || a.Centroid.Coordinates[1] < 51.3 {
		t.Errorf("centroid %+v, want a point near Cardiff (lon first)", a.Centroid)
	}
	if !strings.Contains(a.Attribution, "Office for National Statistics") {
		t.Errorf("attribution %q", a.Attribution)
	}

	var node struct {
		Node *struct{ Code string }
	}
	s.mustQuery(t, `query($id: ID!) { node(id: $id) { ... on Area { code } } }`, map[string]any{"id": a.ID}, &node)
	if node.Node == nil || node.Node.Code != "W11000029" {
		t.Errorf("node(id) = %+v", node.Node)
	}

	var missing struct{ Area *struct{ Code string } }
	s.mustQuery(t, `{ area(kind: INTEGRATED_CARE_BOARD, code: "W11000029") { code } }`, nil, &missing)
	if missing.Area != nil {
		t.Errorf("a health board looked up as an ICB: %+v", missing.Area)
	}
	r := s.query(t, `{ node(id: "!!!") { id } }`, nil)
	if len(r.Errors) != 1 || r.Errors[0].Extensions["code"] != "BAD_USER_INPUT" {
		t.Errorf("bad id: %+v", r.Errors)
	}
}

// featureCollection is the part of a boundaries document the tests read.
type featureCollection struct {
	Type        string
	Attribution string
	Features    []struct {
		Type       string
		Properties struct{ Code, Name string }
		Geometry   struct {
			Type        string
			Coordinates [][][][]float64
		}
	}
}

func TestBoundariesAreRFC7946(t *testing.T) {
	s := newTestServer(t, nil)
	for _, zoom := range []any{6, 9, nil} {
		var got struct{ Boundaries json.RawMessage }
		s.mustQuery(t, `query($z: Int) { boundaries(kind: INTEGRATED_CARE_BOARD, zoom: $z) }`, map[string]any{"z": zoom}, &got)
		var fc featureCollection
		if err := json.Unmarshal(got.Boundaries, &fc); err != nil {
			t.Fatal(err)
		}
		if fc.Type != "FeatureCollection" || len(fc.Features) != 42 || !strings.Contains(fc.Attribution, "Open Government Licence") {
			t.Fatalf("zoom %v: type %q, %d features, attribution %q", zoom, fc.Type, len(fc.Features), fc.Attribution)
		}
		for _, f := range fc.Features {
			if f.Geometry.Type != "MultiPolygon" || f.Properties.Code == "" || f.Properties.Name == "" {
				t.Fatalf("feature %+v", f.Properties)
			}
			for _, poly := range f.Geometry.Coordinates {
				for ri, ring := range poly {
					for _, pt := range ring {
						if pt[0] < -7 || pt[0] > 2 || pt[1] < 49 || pt[1] > 56 {
							t.Fatalf("%s: point %v is not lon/lat in England", f.Properties.Code, pt)
						}
					}
					// Right-hand rule: exteriors counter-clockwise, holes clockwise.
					if a := signedArea(ring); (ri == 0) != (a > 0) {
						t.Fatalf("%s ring %d winds the wrong way (signed area %g)", f.Properties.Code, ri, a)
					}
				}
			}
		}
		if dp := maxDecimals(got.Boundaries); dp > 6 {
			t.Errorf("zoom %v: coordinates with %d decimal places, want at most 6", zoom, dp)
		}
	}
}

func signedArea(ring [][]float64) float64 {
	var a float64
	for i := 0; i+1 < len(ring); i++ {
		a += ring[i][0]*ring[i+1][1] - ring[i+1][0]*ring[i][1]
	}
	return a / 2
}

// maxDecimals finds the longest run of digits after a decimal point in a JSON text.
func maxDecimals(b []byte) int {
	most, run, inFraction := 0, 0, false
	for _, c := range b {
		switch {
		case c == '.':
			inFraction, run = true, 0
		case c >= '0' && c <= '9':
			if inFraction {
				run++
				most = max(most, run)
			}
		default:
			inFraction = false
		}
	}
	return most
}

// TestBoundarySizes checks the size targets: ICBs at zoom 6 at most 50 KB gzipped, at
// full detail at most 160 KB.
func TestBoundarySizes(t *testing.T) {
	s := newTestServer(t, nil)
	for _, tt := range []struct {
		query string
		limit int
	}{
		{"?zoom=6", 50_000},
		{"", 160_000},
	} {
		resp, err := http.Get(s.URL + "/boundaries/integrated_care_board.geojson" + tt.query)
		if err != nil {
			t.Fatal(err)
		}
		// The transport asked for gzip and decoded it; measure the wire size by re-asking raw.
		resp.Body.Close()
		req, _ := http.NewRequest("GET", s.URL+"/boundaries/integrated_care_board.geojson"+tt.query, nil)
		req.Header.Set("Accept-Encoding", "gzip")
		raw, err := http.DefaultTransport.RoundTrip(req)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(raw.Body)
		raw.Body.Close()
		if raw.Header.Get("Content-Encoding") != "gzip" {
			t.Fatalf("%s: not gzipped", tt.query)
		}
		if len(body) > tt.limit {
			t.Errorf("ICB boundaries%s: %d bytes gzipped, target at most %d", tt.query, len(body), tt.limit)
		}
		t.Logf("ICB boundaries%s: %d bytes gzipped", tt.query, len(body))
	}
}

func TestBoundariesEndpointCaching(t *testing.T) {
	s := newTestServer(t, nil)
	url := s.URL + "/boundaries/local_health_board.geojson?zoom=7"
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	etag := resp.Header.Get("ETag")
	if resp.StatusCode != 200 || etag == "" || resp.Header.Get("Content-Type") != "application/geo+json" {
		t.Fatalf("status %d, etag %q, type %q", resp.StatusCode, etag, resp.Header.Get("Content-Type"))
	}
	var fc featureCollection
	if err := json.Unmarshal(body, &fc); err != nil || len(fc.Features) != 7 {
		t.Fatalf("body: %v, %d features", err, len(fc.Features))
	}

	// The GraphQL query serves the same document.
	var g struct{ Boundaries json.RawMessage }
	s.mustQuery(t, `{ boundaries(kind: LOCAL_HEALTH_BOARD, zoom: 7) }`, nil, &g)
	if !bytes.Equal(g.Boundaries, body) {
		t.Error("GraphQL boundaries and /boundaries differ")
	}

	before := s.counter.n.Load()
	req, _ := http.NewRequest("GET", url, nil)
	req.Header.Set("If-None-Match", etag)
	resp, err = http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusNotModified {
		t.Errorf("If-None-Match: status %d, want 304", resp.StatusCode)
	}
	if n := s.counter.n.Load() - before; n != 0 {
		t.Errorf("a cached request ran %d SQL statements, want 0", n)
	}

	req, _ = http.NewRequest("GET", url, nil)
	req.Header.Set("Accept-Encoding", "gzip")
	resp, err = http.DefaultTransport.RoundTrip(req)
	if err != nil {
		t.Fatal(err)
	}
	zr, err := gzip.NewReader(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	unzipped, _ := io.ReadAll(zr)
	resp.Body.Close()
	if !bytes.Equal(unzipped, body) {
		t.Error("gzipped body differs from the plain one")
	}

	for path, want := range map[string]int{
		"/boundaries/nowhere.geojson":                      404,
		"/boundaries/country.json":                         404,
		"/boundaries/country.geojson?zoom=abc":             400,
		"/boundaries/country.geojson?zoom=99":              400,
		"/boundaries/INTEGRATED_CARE_BOARD.geojson?zoom=5": 200,
	} {
		resp, err := http.Get(s.URL + path)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != want {
			t.Errorf("GET %s: %d, want %d", path, resp.StatusCode, want)
		}
	}
}

// TestNestedBoundariesUseConstantQueries is the N+1 guard: listing areas with their
// boundaries runs the same number of statements for 5 areas as for 42.
func TestNestedBoundariesUseConstantQueries(t *testing.T) {
	s := newTestServer(t, nil)
	count := func(first int) int64 {
		before := s.counter.n.Load()
		var got struct {
			Areas struct {
				Nodes []struct {
					Boundary json.RawMessage
				}
			}
		}
		s.mustQuery(t, `query($n: Int) { areas(kind: INTEGRATED_CARE_BOARD, first: $n) { nodes { code boundary(zoom: 5) } } }`, map[string]any{"n": first}, &got)
		if len(got.Areas.Nodes) != first {
			t.Fatalf("got %d areas, want %d", len(got.Areas.Nodes), first)
		}
		for _, n := range got.Areas.Nodes {
			if !bytes.Contains(n.Boundary, []byte(`"MultiPolygon"`)) {
				t.Fatalf("boundary %s", n.Boundary)
			}
		}
		return s.counter.n.Load() - before
	}
	few, many := count(5), count(42)
	if few != many || many > 3 {
		t.Errorf("5 areas took %d statements, 42 took %d; want the same small number", few, many)
	}
}

func TestComplexityLimit(t *testing.T) {
	s := newTestServer(t, func(c *config) { c.MaxComplexity = 1000 })
	r := s.query(t, `{ areas(kind: LONDON_BOROUGH, first: 1000) { nodes { code boundary } } }`, nil)
	if len(r.Errors) == 0 || !strings.Contains(strings.ToLower(r.Errors[0].Message), "complexity") {
		t.Errorf("errors = %+v, want a complexity error", r.Errors)
	}
	r = s.query(t, `{ areas(kind: LONDON_BOROUGH, first: 10) { nodes { code } } }`, nil)
	if len(r.Errors) > 0 {
		t.Errorf("a small query was refused: %+v", r.Errors)
	}
}

func TestHealthMetricsPlayground(t *testing.T) {
	s := newTestServer(t, nil)
	get := func(path string) (int, string) {
		resp, err := http.Get(s.URL + path)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	if code, body := get("/healthz"); code != 200 || !strings.Contains(body, "ok") {
		t.Errorf("/healthz %d %q", code, body)
	}
	if code, body := get("/readyz"); code != 200 || !strings.Contains(body, "ready") {
		t.Errorf("/readyz %d %q", code, body)
	}
	s.query(t, `{ areasAt(lat: 52.2, lon: 0.14) { code } }`, nil)
	if code, body := get("/metrics"); code != 200 || !strings.Contains(body, `caregraph_http_requests_total{code="200",handler="graphql"}`) || !strings.Contains(body, "caregraph_db_connections") {
		t.Errorf("/metrics %d lacks request or pool metrics", code)
	}
	if code, _ := get("/"); code != 200 && code != 503 {
		t.Errorf("playground: %d", code)
	}

	off := newTestServer(t, func(c *config) { c.Playground = false })
	resp, err := http.Get(off.URL + "/")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 404 {
		t.Errorf("playground switched off: / answered %d", resp.StatusCode)
	}
}

func TestInternalErrorsAreNotLeaked(t *testing.T) {
	// A query cancelled by a zero timeout fails inside the store; the client sees a code,
	// never the SQL error.
	short := newTestServer(t, func(c *config) { c.RequestTimeout = 1 })
	r := short.query(t, `{ areasAt(lat: 52.2, lon: 0.14) { code } }`, nil)
	if len(r.Errors) == 0 {
		t.Skip("the request finished inside 1ns")
	}
	for _, e := range r.Errors {
		if strings.Contains(e.Message, "SQL") || strings.Contains(e.Message, "pgx") || strings.Contains(e.Message, "context") {
			t.Errorf("error leaks internals: %q", e.Message)
		}
		if e.Extensions["code"] != "INTERNAL" {
			t.Errorf("code %v, want INTERNAL", e.Extensions["code"])
		}
	}
}
