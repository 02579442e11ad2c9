package audit

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// golden compares got with testdata/name, or rewrites the file with -update.
func golden(t *testing.T, name, got string) {
	t.Helper()
	path := filepath.Join("testdata", name)
	if *update {
		if err := os.MkdirAll("testdata", 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test ./audit/ -run %s -update to create it)", err, t.Name())
	}
	if string(want) != got {
		t.Errorf("%s differs from the golden file (rerun with -update after checking):\n%s", path, diffLines(string(want), got))
	}
}

func diffLines(want, got string) string {
	w, g := strings.Split(want, "\n"), strings.Split(got, "\n")
	var b strings.Builder
	for i := 0; i < len(w) || i < len(g); i++ {
		var a, c string
		if i < len(w) {
			a = w[i]
		}
		if i < len(g) {
			c = g[i]
		}
		if a != c {
			fmt.Fprintf(&b, "line %d\n  want: %s\n  got:  %s\n", i+1, a, c)
		}
	}
	return b.String()
}

// report writes a read file the way the golden files hold it.
func report(res *result) string {
	var b strings.Builder
	f := res.file
	fmt.Fprintf(&b, "dataset %d, period %s, encoding %s, identifier %s\n", f.Dataset.Version, f.Period.Label(), f.Encoding, f.Identifier.Key())
	fmt.Fprintf(&b, "%d rows, %d patients, %d issues\n\npatients:\n", f.Rows, len(f.Patients), len(res.issues))
	for _, p := range f.Patients {
		fmt.Fprintf(&b, "  #%d first row %d, %d visits:", p.Index, p.FirstRow, p.Visits())
		for _, c := range f.Columns {
			if c.Field.Level() != PatientLevel {
				continue
			}
			if v := p.Values[c.Field]; v.Set {
				fmt.Fprintf(&b, " %s=%s", c.Field.Key(), show(v))
			}
		}
		fmt.Fprintf(&b, " postcode_check=%s gp_check=%s\n", p.PostcodeCheck.Status, p.GPPracticeCheck.Status)
	}
	b.WriteString("\nvisits:\n")
	for _, v := range res.visits {
		fmt.Fprintf(&b, "  row %d patient #%d", v.Row, v.Patient.Index)
		for _, c := range f.Columns {
			if c.Field.Level() != VisitLevel {
				continue
			}
			if x := v.Values[c.Field]; x.Set {
				fmt.Fprintf(&b, " %s=%s", c.Field.Key(), show(x))
			}
		}
		if v.BMI.Set {
			fmt.Fprintf(&b, " bmi=%g", v.BMI.Num)
		}
		b.WriteString("\n")
	}
	b.WriteString("\nissues:\n")
	for _, is := range res.issues {
		fmt.Fprintf(&b, "  row %d %s [%s] %s\n", is.Row, is.Field.Key(), is.Code, is.Message)
	}
	return b.String()
}

func show(v Value) string {
	switch {
	case !v.Date.IsZero():
		return v.Date.Format("2006-01-02")
	case v.Text != "":
		return v.Text
	}
	return fmt.Sprintf("%g", v.Num)
}

func TestGoldenSharedFiles(t *testing.T) {
	tests := []struct {
		golden, file string
		opts         Options
	}{
		{"dummy_sheet_pz041_2022.golden", "dummy_sheet_2024-10.csv", Options{PZCode: "PZ041", AuditYear: 2022, Today: Day(2024, 10, 15)}},
		{"dummy_sheet_pz041_2023.golden", "dummy_sheet_2024-10.csv", Options{PZCode: "PZ041", AuditYear: 2023, Today: Day(2024, 10, 15)}},
		{"one_patient_pz999_2025.golden", "one_patient_four_visits.csv", Options{PZCode: "PZ999", AuditYear: 2025, Today: Day(2026, 2, 1)}},
	}
	for _, tt := range tests {
		t.Run(tt.golden, func(t *testing.T) {
			res := mustRead(t, sharedFile(t, tt.file), tt.opts)
			golden(t, tt.golden, report(res))
		})
	}
}

// TestGoldenRejections keeps the wording of whole-file rejections under review.
func TestGoldenRejections(t *testing.T) {
	base := baseRow()
	valid := string(csvOf(Dataset2021, NHSNumber, base))
	files := []struct {
		name, data, pz string
		year           int
	}{
		{"2026 template in 2024/25", string(csvOf(Dataset2026, NHSNumber, baseRow2026())), "PZ041", 2024},
		{"another unit's file", valid, "PZ042", 2024},
		{"two units in one file", string(csvOf(Dataset2021, NHSNumber, base, base.with(row{PDUNumber: "PZ042"}), base.with(row{PDUNumber: "42"}))), "PZ041", 2024},
		{"Jersey with NHS numbers", strings.ReplaceAll(valid, "PZ041", "PZ248"), "PZ248", 2024},
		{"rows without NHS number", string(csvOf(Dataset2021, NHSNumber, base, base.with(row{NHSNumber: ""}))), "PZ041", 2024},
		{"headings renamed", strings.NewReplacer("Death Date", "Died", "Hba1c Value", "HbA1c").Replace(valid), "PZ041", 2024},
		{"not a header", "hello,world\n1,2\n", "PZ041", 2024},
	}
	var b strings.Builder
	for _, f := range files {
		_, err := readAll(t, []byte(f.data), Options{PZCode: f.pz, AuditYear: f.year})
		r, ok := IsRejection(err)
		if !ok {
			t.Fatalf("%s: not rejected: %v", f.name, err)
		}
		fmt.Fprintf(&b, "%s:\n  reason: %s\n  message: %s\n  expected: %q\n  found: %q\n  rows: %v\n\n", f.name, r.Reason, r.Message, r.Expected, r.Found, r.Rows)
	}
	golden(t, "rejections.golden", b.String())
}
