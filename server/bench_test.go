package main

import (
	"bytes"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"testing"

	"caregraph/store/dbtest"
)

// benchApp returns the server's handler over a database with the boundaries imported.
func benchApp(b *testing.B) http.Handler {
	b.Helper()
	db := dbtest.NewWithBoundaries(b)
	cfg, err := loadConfig(func(string) string { return "" })
	if err != nil {
		b.Fatal(err)
	}
	return newApp(cfg, slog.New(slog.DiscardHandler), db.Pool).routes()
}

// BenchmarkBoundariesCached measures the server time of a repeated boundaries request:
// one answered 304 from the ETag, one sending the cached gzip body.
func BenchmarkBoundariesCached(b *testing.B) {
	h := benchApp(b)
	url := "/boundaries/integrated_care_board.geojson?zoom=6"
	first := httptest.NewRecorder()
	h.ServeHTTP(first, httptest.NewRequest("GET", url, nil))
	etag := first.Header().Get("ETag")
	if first.Code != 200 || etag == "" {
		b.Fatalf("first request: %d, etag %q", first.Code, etag)
	}
	b.Run("304", func(b *testing.B) {
		for b.Loop() {
			req := httptest.NewRequest("GET", url, nil)
			req.Header.Set("If-None-Match", etag)
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, req)
			if rec.Code != http.StatusNotModified {
				b.Fatalf("status %d", rec.Code)
			}
		}
	})
	b.Run("200-gzip", func(b *testing.B) {
		for b.Loop() {
			req := httptest.NewRequest("GET", url, nil)
			req.Header.Set("Accept-Encoding", "gzip")
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, req)
			if rec.Code != http.StatusOK {
				b.Fatalf("status %d", rec.Code)
			}
			b.SetBytes(int64(rec.Body.Len()))
		}
	})
}

// BenchmarkGraphQL measures server time of single queries through the whole handler.
func BenchmarkGraphQL(b *testing.B) {
	h := benchApp(b)
	queries := map[string]string{
		"areasAt":              `{"query":"{ areasAt(lat: 52.1751, lon: 0.1408) { kind code name } }"}`,
		"boundaries-icb-zoom6": `{"query":"{ boundaries(kind: INTEGRATED_CARE_BOARD, zoom: 6) }"}`,
		"areas-icb":            `{"query":"{ areas(kind: INTEGRATED_CARE_BOARD, first: 100) { totalCount nodes { code name areaSqKm centroid } } }"}`,
	}
	for name, body := range queries {
		b.Run(name, func(b *testing.B) {
			for b.Loop() {
				req := httptest.NewRequest("POST", "/graphql", bytes.NewBufferString(body))
				req.Header.Set("Content-Type", "application/json")
				rec := httptest.NewRecorder()
				h.ServeHTTP(rec, req)
				if rec.Code != 200 || bytes.Contains(rec.Body.Bytes(), []byte(`"errors"`)) {
					b.Fatalf("%d %s", rec.Code, rec.Body.String())
				}
			}
		})
	}
}
