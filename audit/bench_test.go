package audit_test

import (
	"bytes"
	"context"
	"errors"
	"io"
	"testing"

	"caregraph/audit"
	"caregraph/audit/demo"
)

// BenchmarkRead50000Rows reads and checks a national file of 50,000 rows, both passes,
// without storing anything: the share of the upload that is plain Go.
func BenchmarkRead50000Rows(b *testing.B) {
	var buf bytes.Buffer
	st, err := demo.Write(&buf, "PZ041", demo.Options{AuditYear: 2024, Patients: 50000 * 10 / 39, Seed: 7, Today: audit.Day(2025, 5, 1)})
	if err != nil {
		b.Fatal(err)
	}
	data := buf.Bytes()
	b.ReportAllocs()
	b.SetBytes(int64(len(data)))
	for b.Loop() {
		f, err := audit.Read(context.Background(), data, audit.Options{PZCode: "PZ041", AuditYear: 2024, Today: audit.Day(2025, 5, 1)})
		if err != nil {
			b.Fatal(err)
		}
		vr := f.Visits()
		for {
			if _, err := vr.Next(context.Background()); errors.Is(err, io.EOF) {
				break
			} else if err != nil {
				b.Fatal(err)
			}
		}
	}
	b.ReportMetric(float64(st.Rows), "rows")
}
