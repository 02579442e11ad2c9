package audit

import (
	"bytes"
	"encoding/csv"
	"testing"
)

// TestDatasetsMatchPublishedTemplates reads the RCPCH templates and checks that each
// heading, in order, is the dataset's column at that position.
func TestDatasetsMatchPublishedTemplates(t *testing.T) {
	for _, tt := range []struct {
		file string
		d    *Dataset
		n    int
	}{
		{"npda_csv_submission_template_for_use_from_april_2021.csv", Dataset2021, 52},
		{"npda_csv_template_-_2026_onwards.csv", Dataset2026, 59},
	} {
		t.Run(tt.file, func(t *testing.T) {
			header, err := csv.NewReader(bytes.NewReader(sharedFile(t, tt.file))).Read()
			if err != nil {
				t.Fatal(err)
			}
			if len(header) != tt.n || len(tt.d.Columns) != tt.n {
				t.Fatalf("template has %d columns, dataset %d, want %d", len(header), len(tt.d.Columns), tt.n)
			}
			for i, h := range header {
				col, ok := tt.d.Match(h)
				if !ok || col.Field != tt.d.Columns[i].Field {
					t.Errorf("column %s %q matches %v (%v), want %s", columnName(i), h, col.Field, ok, tt.d.Columns[i].Field)
				}
			}
		})
	}
}

func TestDatasetColumns(t *testing.T) {
	for _, d := range []*Dataset{Dataset2021, Dataset2026} {
		seen := map[Field]bool{}
		for _, c := range d.Columns {
			if seen[c.Field] {
				t.Errorf("%d: %s twice", d.Version, c.Field)
			}
			seen[c.Field] = true
			if (c.Field.Info().Kind == KindCode) != (c.Codes != nil) {
				t.Errorf("%d: %s is kind %d with codes %v", d.Version, c.Field, c.Field.Info().Kind, c.Codes != nil)
			}
			if f, ok := FieldByKey(c.Field.Key()); !ok || f != c.Field {
				t.Errorf("FieldByKey(%q) = %v", c.Field.Key(), f)
			}
		}
		if d.Columns[0].Field != NHSNumber || d.ColumnsFor(UniqueReferenceNumber)[0].Field != UniqueReferenceNumber {
			t.Errorf("%d: the identifier is not the first column", d.Version)
		}
		if len(d.ColumnsFor(UniqueReferenceNumber)) != len(d.Columns) || d.Columns[0].Field != NHSNumber {
			t.Errorf("%d: ColumnsFor changed the dataset", d.Version)
		}
	}
	// Fields of one dataset only.
	for _, tt := range []struct {
		f      Field
		in2021 bool
		in2026 bool
	}{
		{HbA1cFormat, true, false}, {Treatment, true, false}, {SmokingStatus, true, false},
		{InsulinRegimen, false, true}, {BloodPH, false, true}, {SmokingVapingStatus, false, true}, {ImmunotherapyDate, false, true},
		{HbA1c, true, true}, {VisitDate, true, true},
	} {
		if Dataset2021.Has(tt.f) != tt.in2021 || Dataset2026.Has(tt.f) != tt.in2026 {
			t.Errorf("%s: in 2021 %v, in 2026 %v", tt.f, Dataset2021.Has(tt.f), Dataset2026.Has(tt.f))
		}
	}
	for f := Field(0); f < NumFields; f++ {
		if f.Key() == "" || f.Label() == "" || f.Level() == 0 || f.Info().Kind == 0 {
			t.Errorf("field %d has no description", f)
		}
	}
	if IdentifierFor("PZ248") != UniqueReferenceNumber || IdentifierFor("pz248.0") != UniqueReferenceNumber || IdentifierFor("PZ041") != NHSNumber {
		t.Error("IdentifierFor")
	}
}

func TestAlternativeHeadings(t *testing.T) {
	tests := []struct {
		d       *Dataset
		heading string
		want    Field
	}{
		{Dataset2021, "NHSNumber", NHSNumber},
		{Dataset2021, "DOB", DateOfBirth},
		{Dataset2021, "Ethnic cateogry", Ethnicity},
		{Dataset2021, "HB1AC Result Format", HbA1cFormat},
		{Dataset2021, "Observation Date: HbA1c Value", HbA1cDate},
		{Dataset2021, "Effective Death Date", DeathDate},
		{Dataset2021, "Visit Date", VisitDate},
		{Dataset2021, "Date of Diagnosis", DiagnosisDate},
		{Dataset2021, "Has the patient been\u00a0recommended a Gluten-free\u00a0diet?", GlutenFreeDiet},
		{Dataset2021, "At time of or following measurement of thyroid function, was the patient prescribed any thyroid treatment?", ThyroidTreatment},
		{Dataset2021, "Observation Date -Psychological Assessment Screening", PsychScreeningDate},
		{Dataset2021, "Date of provision of advice('sick-day rules') about managing diabetes during intercurrent illness or episodes of hyperglycaemia", SickDayRulesDate},
		{Dataset2021, "If treatment included insulin pump therapy (i.e. option 3 or 6 selected), was this as part of a closed loop system?)", ClosedLoopSystem},
		{Dataset2021, "Unique Reference Number", UniqueReferenceNumber},
		{Dataset2026, "Sex assigned at birth†††", Sex},
		{Dataset2026, "Insulin regime at time of visit†", InsulinRegimen},
		{Dataset2026, "Date of Annual Psychological Screening Assessment††", PsychScreeningDate},
		{Dataset2026, "Initial pH at admission†", BloodPH},
		{Dataset2026, "Does the patient smoke and/or vape?", SmokingVapingStatus},
	}
	for _, tt := range tests {
		if col, ok := tt.d.Match(tt.heading); !ok || col.Field != tt.want {
			t.Errorf("%d: Match(%q) = %v, %v; want %v", tt.d.Version, tt.heading, col.Field, ok, tt.want)
		}
	}
	if _, ok := Dataset2021.Match("Insulin regime at time of visit"); ok {
		t.Error("a 2026 heading matches the 2021 dataset")
	}
}
