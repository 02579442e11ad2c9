package audit

import (
	"bytes"
	"context"
	"encoding/csv"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"testing"
	"time"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata/")

// testToday is during the submission window of the 2024/25 period.
var testToday = Day(2025, time.June, 1)

// dataDir is the shared reference data: CAREGRAPH_DATA_DIR, else ../shared/data beside
// the repository.
func dataDir() string {
	if d := os.Getenv("CAREGRAPH_DATA_DIR"); d != "" {
		return d
	}
	_, file, _, _ := runtime.Caller(0)
	return filepath.Join(filepath.Dir(file), "..", "..", "shared", "data")
}

// sharedFile reads a file of the shared NPDA data, skipping the test when the data is
// absent (failing under CI=true, where it must be there).
func sharedFile(t testing.TB, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(dataDir(), "npda", name))
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("shared data: %v", err)
		}
		t.Skipf("shared data not found (%v); set CAREGRAPH_DATA_DIR", err)
	}
	return b
}

type row map[Field]string

func (r row) with(changes row) row {
	out := row{}
	for k, v := range r {
		out[k] = v
	}
	for k, v := range changes {
		out[k] = v
	}
	return out
}

// baseRow is a valid row of the 2021 dataset for PZ041 in the 2024/25 period.
func baseRow() row {
	return row{
		NHSNumber: "780 071 3695", DateOfBirth: "01/04/2014", Postcode: "GU21 5JG", Sex: "2", Ethnicity: "E",
		DiabetesType: "1", DiagnosisDate: "26/09/2015", GPPracticeCode: "G85023", PDUNumber: "PZ041",
		VisitDate: "22/05/2024", Height: "155.13", Weight: "56.96", HeightWeightDate: "22/05/2024",
		HbA1c: "53.0", HbA1cFormat: "1", HbA1cDate: "22/05/2024", Treatment: "2", GlucoseMonitoring: "4",
		SystolicBP: "100", DiastolicBP: "57", BPDate: "22/05/2024",
	}
}

// baseRow2026 is a valid row of the 2026 dataset for PZ041 in the 2026/27 period.
func baseRow2026() row {
	return row{
		NHSNumber: "7800713695", DateOfBirth: "01/04/2014", Postcode: "GU21 5JG", Sex: "2", Ethnicity: "E",
		ADHDASD: "4", LearningDisability: "2", DiabetesType: "1", DiagnosisDate: "26/09/2015", GPPracticeCode: "G85023",
		PDUNumber: "PZ041", VisitDate: "22/05/2026", Height: "155.1", Weight: "56.9", HeightWeightDate: "22/05/2026",
		HbA1c: "53", HbA1cDate: "22/05/2026", InsulinRegimen: "3", NonInsulinMedication: "1", CGM: "1",
	}
}

// csvOf writes a file of dataset d: the template header (with the identifier id) and
// the rows.
func csvOf(d *Dataset, id Field, rows ...row) []byte { return csvWith(d, id, ',', rows...) }

// csvWith is csvOf with another separator.
func csvWith(d *Dataset, id Field, comma rune, rows ...row) []byte {
	var buf bytes.Buffer
	w := csv.NewWriter(&buf)
	w.Comma = comma
	cols := d.ColumnsFor(id)
	rec := make([]string, len(cols))
	for i, c := range cols {
		rec[i] = c.Heading
	}
	w.Write(rec)
	for _, r := range rows {
		for i, c := range cols {
			rec[i] = r[c.Field]
			if c.Field == UniqueReferenceNumber && rec[i] == "" {
				rec[i] = r[NHSNumber]
			}
		}
		w.Write(rec)
	}
	w.Flush()
	return buf.Bytes()
}

// result is a whole file read: the patients and every issue, patient- and visit-level.
type result struct {
	file   *File
	visits []Visit
	issues []Issue
}

func readAll(t testing.TB, data []byte, opts Options) (*result, error) {
	t.Helper()
	if opts.Today.IsZero() {
		opts.Today = testToday
	}
	f, err := Read(context.Background(), data, opts)
	if err != nil {
		return nil, err
	}
	res := &result{file: f, issues: slices.Clone(f.Issues)}
	vr := f.Visits()
	for {
		v, err := vr.Next(context.Background())
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatalf("visits: %v", err)
		}
		c := *v
		c.Cells = slices.Clone(v.Cells)
		c.Issues = slices.Clone(v.Issues)
		res.visits = append(res.visits, c)
		res.issues = append(res.issues, v.Issues...)
	}
	sortIssues(res.issues)
	if len(res.visits) != f.Rows {
		t.Fatalf("second pass read %d visits, first pass %d rows", len(res.visits), f.Rows)
	}
	return res, nil
}

func mustRead(t testing.TB, data []byte, opts Options) *result {
	t.Helper()
	res, err := readAll(t, data, opts)
	if err != nil {
		t.Fatalf("read: %v", err)
	}
	return res
}

// issueKeys writes issues as "row field code" for comparisons.
func issueKeys(is []Issue) []string {
	out := make([]string, len(is))
	for i, x := range is {
		out[i] = fmt.Sprintf("%d %s %s", x.Row, x.Field.Key(), x.Code)
	}
	return out
}

func describeIssues(is []Issue) string {
	var b strings.Builder
	for _, x := range is {
		fmt.Fprintf(&b, "\n  row %d %s %s: %s", x.Row, x.Field.Key(), x.Code, x.Message)
	}
	return b.String()
}
