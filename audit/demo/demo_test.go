package demo

import (
	"bytes"
	"context"
	"errors"
	"io"
	"testing"

	"caregraph/audit"
)

// TestDemoFilesReadCleanlyApartFromSpoiledCells writes files for both datasets and for
// Jersey, reads them with the audit package, and checks that they are accepted, that
// the patients and rows are as many as written, that the distributions look like the
// audit, and that the invalid cells are few but present.
func TestDemoFilesReadCleanlyApartFromSpoiledCells(t *testing.T) {
	for _, tt := range []struct {
		pz   string
		year int
	}{{"PZ041", 2024}, {"PZ248", 2024}, {"PZ041", 2026}} {
		t.Run(tt.pz, func(t *testing.T) {
			var buf bytes.Buffer
			st, err := Write(&buf, tt.pz, Options{AuditYear: tt.year, Patients: 400, Seed: 1})
			if err != nil {
				t.Fatal(err)
			}
			if st.Patients != 400 || st.Rows < 1200 || st.Rows > 2400 {
				t.Fatalf("stats %+v", st)
			}
			f, err := audit.Read(context.Background(), buf.Bytes(), audit.Options{PZCode: tt.pz, AuditYear: tt.year, Today: audit.PeriodOf(tt.year).End.AddDate(0, 1, 0)})
			if err != nil {
				t.Fatal(err)
			}
			// A spoiled NHS number on one row makes that row a patient of its own, as it
			// would in a real file.
			if f.Rows != st.Rows || len(f.Patients) < 400 || len(f.Patients) > 410 {
				t.Fatalf("read %d rows and %d patients, wrote %+v", f.Rows, len(f.Patients), st)
			}
			issues := len(f.Issues)
			type1, hba1c, hba1cN := 0, 0.0, 0
			vr := f.Visits()
			for {
				v, err := vr.Next(context.Background())
				if errors.Is(err, io.EOF) {
					break
				}
				if err != nil {
					t.Fatal(err)
				}
				issues += len(v.Issues)
				if x := v.Values[audit.HbA1c]; x.Set && (tt.year >= 2026 || v.Values[audit.HbA1cFormat].Is("1")) {
					hba1c += x.Num
					hba1cN++
				}
			}
			for _, p := range f.Patients {
				if p.Values[audit.DiabetesType].Is("1") {
					type1++
				}
			}
			if share := float64(type1) / float64(len(f.Patients)); share < 0.85 {
				t.Errorf("type 1 share %.2f", share)
			}
			if mean := hba1c / float64(hba1cN); mean < 50 || mean > 70 {
				t.Errorf("mean HbA1c %.1f mmol/mol", mean)
			}
			// Most spoiled cells give an issue (a day and month swapped can still make a
			// date; a 0 is a valid sex code), and rules across cells add a few more.
			if issues < st.InvalidCells*3/4 || issues > 3*st.InvalidCells+40 {
				t.Errorf("%d issues for %d spoiled cells", issues, st.InvalidCells)
			}
			if st.InvalidCells == 0 {
				t.Error("no invalid cells")
			}
		})
	}
}

func TestDemoIsReproducibleAndUnitsDiffer(t *testing.T) {
	write := func(pz string, seed uint64) string {
		var buf bytes.Buffer
		if _, err := Write(&buf, pz, Options{AuditYear: 2024, Patients: 20, Seed: seed}); err != nil {
			t.Fatal(err)
		}
		return buf.String()
	}
	if write("PZ041", 3) != write("PZ041", 3) {
		t.Error("the same seed wrote different files")
	}
	if write("PZ041", 3) == write("PZ042", 3) || write("PZ041", 3) == write("PZ041", 4) {
		t.Error("different units or seeds wrote the same file")
	}
}
