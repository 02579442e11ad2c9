package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"caregraph/store"
	"caregraph/store/dbtest"
	"caregraph/sync/aggregate"
)

// The KPI benchmarks of issue 8 run on national-scale data made by `server demo-data`:
// 40,000 patients shared between every unit of the seeded register, submitted for the
// audit year 2024. The generator writes about four visits a patient (its realistic
// clinic rate), so each generated visit is copied twice more, a week and two weeks
// later, and the visits of every fifth patient a third time, three weeks later, to
// reach the half a million visits of the target. Building takes minutes; the
// database is kept between runs (dbtest.Cached) and rebuilt only when the migrations or
// benchVersion change. Run with:
//
//	go test ./server/ -run '^$' -bench BenchmarkKPI -benchtime 5x -count 3
const (
	benchYear     = 2024
	benchPatients = 40000
	benchVersion  = "demo-data 40000 patients, seed 1, 2024, visits ×3, every fifth patient ×4"
)

func kpiBenchDB(b *testing.B) *dbtest.DB {
	b.Helper()
	return dbtest.Cached(b, "kpis", benchVersion, func(ctx context.Context, db *dbtest.DB) error {
		seedReference(b, store.New(db.Pool))
		getenv := func(k string) string {
			switch k {
			case "DATABASE_URL":
				return db.URL
			case "CAREGRAPH_DATA_DIR":
				return dbtest.DataDir()
			}
			return ""
		}
		out := b.TempDir()
		var stderr bytes.Buffer
		if err := run(ctx, []string{"demo-data", "--year", fmt.Sprint(benchYear), "--patients", fmt.Sprint(benchPatients),
			"--seed", "1", "--submit", "--out", out}, getenv, nil, io.Discard, &stderr); err != nil {
			return fmt.Errorf("demo-data: %w\n%s", err, stderr.String())
		}
		if err := multiplyVisits(ctx, db); err != nil {
			return err
		}
		var patients, visits int
		if err := db.Pool.QueryRow(ctx, `SELECT (SELECT count(*) FROM patients), (SELECT count(*) FROM visits)`).Scan(&patients, &visits); err != nil {
			return err
		}
		b.Logf("benchmark data: %d patients, %d visits", patients, visits)
		_, err := (&aggregate.Aggregator{Store: store.New(db.Pool)}).RunYear(ctx, benchYear, nil)
		return err
	})
}

// multiplyVisits copies every visit twice, 7 and 14 days later (every date column
// shifted), and those of every fifth patient a third time, 21 days later, after the
// file's rows, and updates the counts.
func multiplyVisits(ctx context.Context, db *dbtest.DB) error {
	cols, vals := []string{"submission_id", "patient_id", "row_number", "cells", "error_count"},
		[]string{"submission_id", "patient_id", "row_number + k * 1000000", "cells", "error_count"}
	for _, c := range store.VisitValueColumns {
		cols = append(cols, c)
		if strings.HasSuffix(c, "_date") {
			vals = append(vals, c+" + 7 * k")
		} else {
			vals = append(vals, c)
		}
	}
	sql := `INSERT INTO visits (` + strings.Join(cols, ", ") + `) SELECT ` + strings.Join(vals, ", ") +
		` FROM visits, generate_series(1, 3) AS k WHERE k < 3 OR patient_id % 5 = 0`
	if _, err := db.Pool.Exec(ctx, sql); err != nil {
		return fmt.Errorf("copy visits: %w", err)
	}
	if _, err := db.Pool.Exec(ctx, `UPDATE patients p SET visit_count = (SELECT count(*) FROM visits v WHERE v.patient_id = p.id)`); err != nil {
		return err
	}
	if _, err := db.Pool.Exec(ctx, `UPDATE submissions s SET visit_count = (SELECT count(*) FROM visits v WHERE v.submission_id = s.id) WHERE state = 'active'`); err != nil {
		return err
	}
	_, err := db.Pool.Exec(ctx, `VACUUM ANALYZE visits`)
	return err
}

func reportParts(b *testing.B, reps []aggregate.Report) {
	var load, eval, write time.Duration
	for _, r := range reps {
		load += r.Load
		eval += r.Evaluate
		write += r.Write
	}
	n := float64(len(reps))
	b.ReportMetric(float64(load.Milliseconds())/n, "load-ms/op")
	b.ReportMetric(float64(eval.Milliseconds())/n, "evaluate-ms/op")
	b.ReportMetric(float64(write.Milliseconds())/n, "write-ms/op")
	b.ReportMetric(float64(reps[0].Patients), "patients")
	b.ReportMetric(float64(reps[0].Visits), "visits")
	b.ReportMetric(float64(reps[0].Rows), "rows")
}

// BenchmarkKPIFullAggregation: every KPI, every level, the year and its four quarters,
// replaced in one transaction (target < 10 s).
func BenchmarkKPIFullAggregation(b *testing.B) {
	db := kpiBenchDB(b)
	agg := &aggregate.Aggregator{Store: store.New(db.Pool)}
	ctx := context.Background()
	var reps []aggregate.Report
	b.ResetTimer()
	for b.Loop() {
		rep, err := agg.RunYear(ctx, benchYear, nil)
		if err != nil {
			b.Fatal(err)
		}
		reps = append(reps, rep)
	}
	reportParts(b, reps)
}

// BenchmarkKPIUnitRecompute: the largest unit's recompute after an activation, with the
// places above it (target < 300 ms).
func BenchmarkKPIUnitRecompute(b *testing.B) {
	db := kpiBenchDB(b)
	ctx := context.Background()
	var unitID int64
	if err := db.Pool.QueryRow(ctx, `SELECT unit_id FROM submissions WHERE state = 'active' AND audit_year = $1
        ORDER BY patient_count DESC LIMIT 1`, benchYear).Scan(&unitID); err != nil {
		b.Fatal(err)
	}
	agg := &aggregate.Aggregator{Store: store.New(db.Pool)}
	var reps []aggregate.Report
	b.ResetTimer()
	for b.Loop() {
		rep, err := agg.RunUnits(ctx, benchYear, []int64{unitID}, nil)
		if err != nil {
			b.Fatal(err)
		}
		reps = append(reps, rep)
	}
	reportParts(b, reps)
}

func kpiBenchServer(b *testing.B, db *dbtest.DB) http.Handler {
	cfg, err := loadConfig(noRateLimit)
	if err != nil {
		b.Fatal(err)
	}
	return newApp(cfg, slog.New(slog.DiscardHandler), db.Pool).routes()
}

func benchQuery(b *testing.B, h http.Handler, query string, check func([]byte) error) {
	body, _ := json.Marshal(map[string]any{"query": query})
	do := func() []byte {
		req := httptest.NewRequest(http.MethodPost, "/graphql", bytes.NewReader(body))
		req.Header.Set("Content-Type", "application/json")
		w := httptest.NewRecorder()
		h.ServeHTTP(w, req)
		if w.Code != http.StatusOK || bytes.Contains(w.Body.Bytes(), []byte(`"errors"`)) {
			b.Fatalf("status %d: %.300s", w.Code, w.Body.String())
		}
		return w.Body.Bytes()
	}
	if err := check(do()); err != nil {
		b.Fatal(err)
	}
	b.ResetTimer()
	for b.Loop() {
		do()
	}
}

// BenchmarkKPIAggregationRead: an aggregation read over HTTP (target < 5 ms).
func BenchmarkKPIAggregationRead(b *testing.B) {
	db := kpiBenchDB(b)
	h := kpiBenchServer(b, db)
	rows := func(n int) func([]byte) error {
		return func(body []byte) error {
			if got := bytes.Count(body, []byte(`"code"`)); got != n {
				return fmt.Errorf("%d rows, want %d", got, n)
			}
			return nil
		}
	}
	b.Run("one unit all KPIs", func(b *testing.B) {
		var pz string
		if err := db.Pool.QueryRow(context.Background(), `SELECT u.pz_code FROM submissions s JOIN paediatric_diabetes_units u ON u.id = s.unit_id
            WHERE s.state = 'active' ORDER BY s.patient_count DESC LIMIT 1`).Scan(&pz); err != nil {
			b.Fatal(err)
		}
		benchQuery(b, h, `{ kpiAggregations(level: UNIT, code: "`+pz+`", auditYear: 2024) {
            code name kpi { id } eligible ineligible passed failed percentage value suppressed } }`, rows(51))
	})
	b.Run("42 ICBs one KPI", func(b *testing.B) {
		benchQuery(b, h, `{ kpiAggregations(level: INTEGRATED_CARE_BOARD, auditYear: 2024, kpis: ["25"]) {
            code name areaCode eligible passed failed percentage suppressed } }`, rows(42))
	})
	b.Run("national quarter all KPIs", func(b *testing.B) {
		benchQuery(b, h, `{ kpiAggregations(level: NATIONAL, auditYear: 2024, quarter: 2) {
            code kpi { id } eligible passed failed percentage value suppressed } }`, rows(51))
	})
}

// BenchmarkKPIMap: a choropleth of the 42 ICBs (target < 20 ms), at full detail and at
// a country-wide web-map zoom.
func BenchmarkKPIMap(b *testing.B) {
	db := kpiBenchDB(b)
	h := kpiBenchServer(b, db)
	features := func(body []byte) error {
		if n := bytes.Count(body, []byte(`"type":"Feature"`)); n != 42 {
			return fmt.Errorf("%d features", n)
		}
		if n := bytes.Count(body, []byte(`"percentage":`)); n != 42 {
			return fmt.Errorf("%d features with a percentage member", n)
		}
		return nil
	}
	for _, zoom := range []string{"", ", zoom: 6"} {
		name := "full detail"
		if zoom != "" {
			name = "zoom 6"
		}
		b.Run(name, func(b *testing.B) {
			benchQuery(b, h, `{ kpiMap(level: INTEGRATED_CARE_BOARD, auditYear: 2024, kpi: "25"`+zoom+`) }`, features)
		})
	}
}
