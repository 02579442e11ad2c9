package main

import (
	"bytes"
	"encoding/json"
	"log/slog"
	"net/http/httptest"
	"testing"

	"caregraph/store"
	"caregraph/store/dbtest"
)

// BenchmarkOrganisations measures the server time of the organisation queries of the
// issue's targets through the whole HTTP handler, in process, over the seeded register:
// every site with its trust, ICB, region, unit and network (target ≤ 25 ms); one site
// with its whole hierarchy (< 2 ms); a text search (< 10 ms).
func BenchmarkOrganisations(b *testing.B) {
	db := dbtest.NewWithBoundaries(b)
	seedReference(b, store.New(db.Pool))
	cfg, err := loadConfig(noRateLimit)
	if err != nil {
		b.Fatal(err)
	}
	h := newApp(cfg, slog.New(slog.DiscardHandler), db.Pool).routes()
	// The garbage collector's target as `serve` sets it (the test binary would run at
	// Go's default otherwise).
	defer tuneGC()()
	queries := []struct {
		name, query string
		vars        map[string]any
	}{
		{"all-sites-nested", allSitesNested, map[string]any{"first": 1000}},
		{"all-sites-flat", `{ organisations(first: 1000) { totalCount nodes { odsCode name } } }`, nil},
		{"organisation-hierarchy", `{ organisation(odsCode: "RGT01") {
			odsCode name placement location { lat lon } address { postcode }
			parent { odsCode name }
			trust { odsCode name }
			openUkNetworks { code name }
			integratedCareBoard { odsCode name area { code name } }
			nhsEnglandRegion { odsCode name area { code name } }
			localHealthBoard { odsCode name }
			country { code name }
			londonBorough { code name }
			paediatricDiabetesUnit { pzCode name network { code name } }
			paediatricDiabetesNetwork { code name }
		} }`, nil},
		{"search", `{ organisations(filter: {search: "addenbrookes"}, first: 10) { totalCount edges { score node { odsCode name } } } }`, nil},
		{"search-trusts", `{ trusts(search: "cambridge university", first: 10) { totalCount nodes { odsCode name } } }`, nil},
		{"filter-icb", `{ organisations(filter: {integratedCareBoard: "QUE"}) { totalCount nodes { odsCode name } } }`, nil},
		{"near-10km", `{ organisations(filter: {near: {lat: 51.5074, lon: -0.1278, radiusKm: 10}}, first: 100) { totalCount edges { distanceKm node { odsCode } } } }`, nil},
		{"baseline-networks", `{ paediatricDiabetesNetworks(first: 1) { totalCount } }`, nil},
		{"organisation-only", `{ organisation(odsCode: "RGT01") { odsCode name } }`, nil},
		{"nearest-5", `{ nearestOrganisations(lat: 52.2053, lon: 0.1218, first: 5) { distanceKm organisation { odsCode name } } }`, nil},
	}
	for _, q := range queries {
		body, err := json.Marshal(map[string]any{"query": q.query, "variables": q.vars})
		if err != nil {
			b.Fatal(err)
		}
		do := func(b *testing.B) {
			req := httptest.NewRequest("POST", "/graphql", bytes.NewReader(body))
			req.Header.Set("Content-Type", "application/json")
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, req)
			if rec.Code != 200 || bytes.Contains(rec.Body.Bytes(), []byte(`"errors"`)) {
				b.Fatalf("%d %s", rec.Code, rec.Body.String())
			}
		}
		b.Run(q.name, func(b *testing.B) {
			// Steady state: PostgreSQL plans a prepared statement afresh for its first five
			// runs on each connection before settling on a cached plan; b.Loop's timer
			// starts after this warm-up.
			for range 40 {
				do(b)
			}
			for b.Loop() {
				do(b)
			}
		})
	}
}
