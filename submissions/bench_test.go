package submissions_test

import (
	"bytes"
	"context"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"caregraph/audit/demo"
	"caregraph/auth"
	"caregraph/store"
	"caregraph/store/dbtest"
	"caregraph/submissions"
)

// demoRows writes a demo file of about rows rows (patients have four visits on average)
// and returns it with its exact row count.
func demoRows(b *testing.B, pz string, rows int) ([]byte, int) {
	b.Helper()
	var buf bytes.Buffer
	st, err := demo.Write(&buf, pz, demo.Options{AuditYear: 2024, Patients: rows * 10 / 39, Seed: 7, Today: inTheWindow})
	if err != nil {
		b.Fatal(err)
	}
	return buf.Bytes(), st.Rows
}

// peakHeap samples the heap while fn runs and returns the largest HeapInuse+StackInuse
// seen, in bytes: what the process held, not what it allocated in all.
func peakHeap(fn func()) uint64 {
	var peak atomic.Uint64
	stop := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		var m runtime.MemStats
		for {
			runtime.ReadMemStats(&m)
			if v := m.HeapInuse + m.StackInuse; v > peak.Load() {
				peak.Store(v)
			}
			select {
			case <-stop:
				return
			case <-time.After(5 * time.Millisecond):
			}
		}
	}()
	fn()
	close(stop)
	wg.Wait()
	return peak.Load()
}

// benchmarkSubmit submits a file of about rows rows end to end (read, check, store,
// activate, replacing the previous submission) once per iteration.
func benchmarkSubmit(b *testing.B, rows int) {
	db := dbtest.New(b)
	ctx := context.Background()
	if _, err := db.Pool.Exec(ctx, `INSERT INTO paediatric_diabetes_units (pz_code) VALUES ('PZ041')`); err != nil {
		b.Fatal(err)
	}
	svc := submissions.New(store.New(db.Pool), submissions.Options{Now: func() time.Time { return inTheWindow }})
	file, n := demoRows(b, "PZ041", rows)
	submit := func() {
		res, err := svc.Submit(ctx, auth.Operator(), submissions.Request{PZCode: "PZ041", AuditYear: 2024, FileName: "bench.csv", File: file, Via: store.ViaCommandLine})
		if err != nil || res.Submission == nil {
			b.Fatalf("submit: %v %+v", err, res.Rejection)
		}
	}
	submit() // the first one has no previous submission to replace
	runtime.GC()
	b.ReportAllocs()
	b.SetBytes(int64(len(file)))
	b.ResetTimer()
	var peak uint64
	for b.Loop() {
		if p := peakHeap(submit); p > peak {
			peak = p
		}
	}
	b.ReportMetric(float64(n), "rows")
	b.ReportMetric(float64(peak)/(1<<20), "peak-heap-MB")
}

// BenchmarkSubmit1600Rows is a unit's file of 1,600 rows; the target is under 1 s.
func BenchmarkSubmit1600Rows(b *testing.B) { benchmarkSubmit(b, 1600) }

// BenchmarkSubmit50000Rows is a national file of 50,000 rows; the target is under 20 s
// with a peak under 300 MB.
func BenchmarkSubmit50000Rows(b *testing.B) { benchmarkSubmit(b, 50000) }
