package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http/httptest"
	"os"
	"path/filepath"
	"testing"

	"caregraph/store"
	"caregraph/store/dbtest"
)

// benchHospitals returns about 500 hospital options: the 339 sites of the reference
// list, and annexes of them to make up the number.
func benchHospitals(b *testing.B) []store.Option {
	raw, err := os.ReadFile(filepath.Join(dbtest.DataDir(), "reference", "rcpch_organisations.json"))
	if err != nil {
		b.Skipf("no reference data: %v", err)
	}
	var sites []struct {
		Code string `json:"OrganisationCode"`
		Name string `json:"OrganisationName"`
	}
	if err := json.Unmarshal(raw, &sites); err != nil {
		b.Fatal(err)
	}
	var opts []store.Option
	for _, s := range sites {
		opts = append(opts, store.Option{Code: s.Code, Label: s.Name})
	}
	for i := 0; len(opts) < 500; i++ {
		s := sites[i%len(sites)]
		opts = append(opts, store.Option{Code: fmt.Sprintf("%sX%d", s.Code, i), Label: s.Name + " ANNEXE"})
	}
	return opts
}

// BenchmarkDatasetQueries measures server time of dataset reads through the whole
// GraphQL handler: a dataset's options, and typeahead over ~500 hospitals.
func BenchmarkDatasetQueries(b *testing.B) {
	db := dbtest.New(b)
	st := store.New(db.Pool)
	syncTestDataset(b, st, "ethnic_category", store.CategoryNHSDD, []string{"demographic"}, append(ethnicOptions,
		store.Option{Code: "E", Label: "Mixed - White and Black African"}, store.Option{Code: "F", Label: "Mixed - White and Asian"},
		store.Option{Code: "G", Label: "Mixed - Any other mixed background"}, store.Option{Code: "H", Label: "Asian or Asian British - Indian"},
		store.Option{Code: "J", Label: "Asian or Asian British - Pakistani"}, store.Option{Code: "K", Label: "Asian or Asian British - Bangladeshi"},
		store.Option{Code: "L", Label: "Asian or Asian British - Any other Asian background"}, store.Option{Code: "M", Label: "Black or Black British - Caribbean"},
		store.Option{Code: "N", Label: "Black or Black British - African"}, store.Option{Code: "P", Label: "Black or Black British - Any other Black background"},
		store.Option{Code: "R", Label: "Other Ethnic Groups - Chinese"}, store.Option{Code: "S", Label: "Other Ethnic Groups - Any other ethnic group"}))
	hospitals := benchHospitals(b)
	syncTestDataset(b, st, "hospitals_england_wales", store.CategoryRCPCH, []string{"organisations", "hospitals"}, hospitals)
	cfg, err := loadConfig(func(string) string { return "" })
	if err != nil {
		b.Fatal(err)
	}
	cfg.RateLimitIP, cfg.RateLimitToken = rateLimit{}, rateLimit{}
	h := newApp(cfg, slog.New(slog.DiscardHandler), db.Pool).routes()
	queries := []struct{ name, query string }{
		{"options-ethnic-category-18", `{ dataset(key: "ethnic_category") { key version options { code label retired } } }`},
		{"options-hospitals-500", `{ dataset(key: "hospitals_england_wales") { key version options { code label retired } } }`},
		{"typeahead-hospitals-roy", `{ dataset(key: "hospitals_england_wales") { options(search: "roy", first: 20) { code label } } }`},
		{"typeahead-hospitals-st-thom", `{ dataset(key: "hospitals_england_wales") { options(search: "st thom", first: 20) { code label } } }`},
		{"typeahead-hospitals-code", `{ dataset(key: "hospitals_england_wales") { options(search: "RGT01", first: 20) { code label } } }`},
	}
	for _, q := range queries {
		body, _ := json.Marshal(map[string]string{"query": q.query})
		b.Run(q.name, func(b *testing.B) {
			for b.Loop() {
				req := httptest.NewRequest("POST", "/graphql", bytes.NewReader(body))
				req.Header.Set("Content-Type", "application/json")
				rec := httptest.NewRecorder()
				h.ServeHTTP(rec, req)
				if rec.Code != 200 || bytes.Contains(rec.Body.Bytes(), []byte(`"errors"`)) || !bytes.Contains(rec.Body.Bytes(), []byte(`"code"`)) {
					b.Fatalf("%d %s", rec.Code, rec.Body.String())
				}
			}
		})
	}
}
