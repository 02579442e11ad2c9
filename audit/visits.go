package audit

import (
	"context"
	"encoding/csv"
	"fmt"
	"io"
	"strings"
	"time"
)

// Visit is one data row read and checked in the second pass.
type Visit struct {
	// Row is the line of the file the row starts on (the header is row 1).
	Row     int
	Patient *Patient
	// Cells are the row's raw cells in the order of File.Columns, exactly as written.
	Cells []string
	// Values holds the checked visit-level fields.
	Values [NumFields]Value
	// BMI is computed from the row's height and weight, when both passed and share an
	// observation date.
	BMI      Value
	Centiles Centiles
	// Issues are the problems of the row's visit-level cells.
	Issues []Issue
}

// VisitReader reads the visits of a File, one row at a time.
type VisitReader struct {
	f      *File
	r      *csv.Reader
	row    int
	header bool
	v      Visit
	cells  []string
}

// Visits starts the second pass over the file.
func (f *File) Visits() *VisitReader {
	return &VisitReader{f: f, r: f.newCSV(), cells: make([]string, len(f.Columns))}
}

// Next returns the next visit, or io.EOF after the last. The Visit and its slices are
// reused by the following call.
func (vr *VisitReader) Next(ctx context.Context) (*Visit, error) {
	if !vr.header {
		if _, err := readHeader(vr.r); err != nil {
			return nil, err
		}
		vr.header = true
	}
	for {
		rec, err := vr.r.Read()
		if err == io.EOF {
			return nil, io.EOF
		}
		if err != nil {
			return nil, csvError(err)
		}
		if blankRecord(rec) {
			continue
		}
		if vr.row >= len(vr.f.rowPatient) {
			return nil, fmt.Errorf("audit: the file has more rows on the second pass than on the first")
		}
		if vr.row%4096 == 0 && ctx.Err() != nil {
			return nil, ctx.Err()
		}
		line, _ := vr.r.FieldPos(0)
		clear(vr.cells)
		for i, cell := range rec {
			if i < len(vr.f.fileCol) && vr.f.fileCol[i] >= 0 {
				vr.cells[vr.f.fileCol[i]] = cell
			}
		}
		pat := vr.f.Patients[vr.f.rowPatient[vr.row]]
		vr.row++
		vr.v = Visit{Row: line, Patient: pat, Cells: vr.cells, Issues: vr.v.Issues[:0]}
		vr.f.checkVisit(ctx, &vr.v)
		return &vr.v, nil
	}
}

// dateWindow is how far before the diagnosis a visit-level date may lie, and where it
// may lie relative to the audit period.
type dateWindow struct {
	beforeDiagnosisDays int
	period              func(f *File, v *[NumFields]Value, pat *Patient, d time.Time) (ok bool, exception string)
}

func inPeriod(f *File, _ *[NumFields]Value, _ *Patient, d time.Time) (bool, string) {
	return f.Period.Contains(d), ""
}

func nearDiagnosis(before, after int, what string) func(f *File, v *[NumFields]Value, pat *Patient, d time.Time) (bool, string) {
	return func(f *File, v *[NumFields]Value, pat *Patient, d time.Time) (bool, string) {
		if f.Period.Contains(d) {
			return true, ""
		}
		ok := false
		if diag := pat.Values[DiagnosisDate]; diag.Set {
			ok = !d.Before(diag.Date.AddDate(0, 0, -before)) && !d.After(diag.Date.AddDate(0, 0, after))
		}
		return ok, fmt.Sprintf("%s outside the period is accepted only within %d days before and %d days after the diagnosis", what, before, after)
	}
}

var dateWindows = map[Field]dateWindow{
	VisitDate: {0, func(f *File, v *[NumFields]Value, pat *Patient, d time.Time) (bool, string) {
		if f.Period.Contains(d) {
			return true, ""
		}
		in := func(x Value) bool { return x.Set && f.Period.Contains(x.Date) }
		return in(v[AdmissionDate]) || in(v[DischargeDate]), "a visit outside the period is accepted only when the row's admission or discharge date is inside it"
	}},
	HeightWeightDate:     {0, inPeriod},
	HbA1cDate:            {0, inPeriod},
	BPDate:               {0, inPeriod},
	FootExamDate:         {0, inPeriod},
	ACRDate:              {0, inPeriod},
	TotalCholesterolDate: {0, inPeriod},
	PsychScreeningDate:   {0, inPeriod},
	SmokingCessationDate: {0, inPeriod},
	DietitianDate:        {0, inPeriod},
	FluImmunisationDate:  {0, inPeriod},
	SickDayRulesDate:     {0, inPeriod},
	RetinalScreeningDate: {0, func(f *File, _ *[NumFields]Value, _ *Patient, d time.Time) (bool, string) {
		return !d.Before(f.Period.Start.AddDate(-1, 0, 0)) && !d.After(f.Period.End),
			"retinal screening is every two years, so a date in the year before the period is accepted too"
	}},
	ThyroidFunctionDate: {90, nearDiagnosis(90, 90, "a thyroid screen")},
	CoeliacScreenDate:   {90, nearDiagnosis(90, 90, "a coeliac screen")},
	CarbCountingDate:    {7, nearDiagnosis(7, 14, "carbohydrate counting education")},
	AdmissionDate: {11, func(f *File, v *[NumFields]Value, pat *Patient, d time.Time) (bool, string) {
		dis := v[DischargeDate]
		return f.Period.Contains(d) || (d.Before(f.Period.Start) && dis.Set && f.Period.Contains(dis.Date)),
			"an admission that started before the period is accepted only when its discharge is inside it"
	}},
	DischargeDate: {11, func(f *File, v *[NumFields]Value, pat *Patient, d time.Time) (bool, string) {
		adm := v[AdmissionDate]
		return f.Period.Contains(d) || (d.After(f.Period.End) && adm.Set && f.Period.Contains(adm.Date)),
			"a discharge after the period is accepted only when the admission started inside it"
	}},
}

func (f *File) checkVisit(ctx context.Context, v *Visit) {
	pat := v.Patient
	present := func(field Field) bool {
		i := f.Dataset.index[field]
		return i >= 0 && strings.TrimSpace(v.Cells[i]) != ""
	}
	bad := func(field Field, code, msg string) {
		v.Issues = append(v.Issues, Issue{Row: v.Row, Field: field, Code: code, Message: msg})
		v.Values[field] = Value{}
	}
	// Read every visit-level cell.
	for i, col := range f.Columns {
		if col.Field.Level() != VisitLevel {
			continue
		}
		val, err := f.parseCell(col, v.Cells[i])
		if err != nil {
			code, msg := issueOf(err)
			bad(col.Field, code, msg)
			continue
		}
		v.Values[col.Field] = val
	}
	f.checkHbA1c(v, present, bad)

	// Date windows, against the patient's merged dates and the audit period. The
	// companions of a date (an admission's discharge) are judged as read, before any of
	// them is dropped.
	read := v.Values
	dob, death, diag := pat.Values[DateOfBirth], pat.Values[DeathDate], pat.Values[DiagnosisDate]
	for _, col := range f.Columns {
		w, ok := dateWindows[col.Field]
		val := read[col.Field]
		if !ok || !val.Set || !v.Values[col.Field].Set {
			continue
		}
		d := val.Date
		switch {
		case dob.Set && d.Before(dob.Date):
			bad(col.Field, IssueBeforeBirth, "before the Date of Birth")
		case death.Set && d.After(death.Date):
			bad(col.Field, IssueAfterDeath, "after the Death Date")
		case diag.Set && d.Before(diag.Date.AddDate(0, 0, -w.beforeDiagnosisDays)):
			msg := "before the Date of Diabetes Diagnosis"
			if w.beforeDiagnosisDays > 0 {
				msg = fmt.Sprintf("more than %d days before the Date of Diabetes Diagnosis", w.beforeDiagnosisDays)
			}
			bad(col.Field, IssueBeforeDiagnosis, msg)
		default:
			if ok, exception := w.period(f, &read, pat, d); !ok {
				bad(col.Field, IssueOutsidePeriod, outsidePeriod(f.Period, exception))
			}
		}
	}
	if adm, dis := v.Values[AdmissionDate], v.Values[DischargeDate]; adm.Set && dis.Set && adm.Date.After(dis.Date) {
		bad(AdmissionDate, IssueInconsistent, "after the Discharge date (Hospital provider spell)")
	}

	f.visitTogether(v, present, bad)
	f.computeBMI(ctx, v, bad)
}

func (f *File) checkHbA1c(v *Visit, present func(Field) bool, bad func(Field, string, string)) {
	raw := strings.TrimSpace(v.Cells[f.Dataset.index[HbA1c]])
	if raw == "" {
		return
	}
	n, err := ParseNumber(raw)
	if err != nil {
		return // already reported by parseCell
	}
	if f.Dataset.Version >= 2026 {
		r := HbA1cRange[1]
		if err := checkRange(n, r); err != nil {
			_, msg := issueOf(err)
			if n >= HbA1cRange[2].Min && n <= HbA1cRange[2].Max {
				msg += "; the 2026 dataset takes IFCC mmol/mol only, and this looks like a DCCT (%) value"
			}
			bad(HbA1c, IssueOutOfRange, msg)
			return
		}
		v.Values[HbA1c] = Value{Set: true, Num: Round(n, r.Decimals)}
		return
	}
	format := v.Values[HbA1cFormat]
	if !format.Set {
		// Without a valid format the number cannot be read; the format cell carries the
		// error (invalid, or missing: see visitTogether).
		v.Values[HbA1c] = Value{}
		return
	}
	r := HbA1cRange[1]
	if format.Is("2") {
		r = HbA1cRange[2]
	}
	if err := checkRange(n, r); err != nil {
		_, msg := issueOf(err)
		switch {
		case format.Is("1") && n < r.Min:
			msg += ". Did you mean a DCCT (%) value? Then set HbA1c result format to 2"
		case format.Is("2") && n > r.Max:
			msg += ". Did you mean an IFCC (mmol/mol) value? Then set HbA1c result format to 1"
		}
		bad(HbA1c, IssueOutOfRange, msg)
		return
	}
	v.Values[HbA1c] = Value{Set: true, Num: Round(n, r.Decimals)}
}

// visitTogether applies the rules about fields that go together, or must not.
func (f *File) visitTogether(v *Visit, present func(Field) bool, bad func(Field, string, string)) {
	d := f.Dataset
	// Labels, not headings: some headings are whole questions.
	heading := func(field Field) string { return field.Label() }
	need := func(missing Field, because ...Field) {
		if present(missing) {
			return
		}
		var given []string
		for _, b := range because {
			if present(b) {
				given = append(given, heading(b))
			}
		}
		if len(given) == 0 {
			return
		}
		v.Issues = append(v.Issues, Issue{Row: v.Row, Field: missing, Code: IssueRequiredTogether,
			Message: "missing: required when " + joinAnd(given) + " " + isAre(len(given)) + " filled in"})
	}
	group := func(fields ...Field) {
		for _, a := range fields {
			var others []Field
			for _, b := range fields {
				if b != a {
					others = append(others, b)
				}
			}
			need(a, others...)
		}
	}
	val := &v.Values

	// A row is a visit or an admission: it needs a visit date unless it records an admission.
	if !present(VisitDate) && !present(AdmissionDate) {
		v.Issues = append(v.Issues, Issue{Row: v.Row, Field: VisitDate, Code: IssueRequired,
			Message: "missing: every row needs a Visit/Appointment Date (or, for an admission, a Start date (Hospital Provider Spell))"})
	}
	// Height and weight with their observation date.
	need(HeightWeightDate, Height, Weight)
	if present(HeightWeightDate) && !present(Height) && !present(Weight) {
		v.Issues = append(v.Issues, Issue{Row: v.Row, Field: HeightWeightDate, Code: IssueRequiredTogether,
			Message: "given without a Patient Height (cm) or a Patient Weight (kg)"})
	}
	// HbA1c: value, format (2021 only) and date together.
	if d.Version >= 2026 {
		group(HbA1c, HbA1cDate)
	} else {
		group(HbA1c, HbA1cFormat, HbA1cDate)
		// Treatment and closed loop (2021).
		switch t := val[Treatment]; {
		case t.Is("3", "6"):
			need(ClosedLoopSystem, Treatment)
		case t.Set && present(ClosedLoopSystem):
			bad(ClosedLoopSystem, IssueForbidden, "must be empty unless the Diabetes Treatment is an insulin pump (3 or 6)")
		}
		if !present(Treatment) && present(ClosedLoopSystem) {
			need(Treatment, ClosedLoopSystem)
		}
	}
	group(SystolicBP, DiastolicBP, BPDate)
	group(RetinalScreeningDate, RetinalScreeningResult)
	group(ACR, ACRDate, AlbuminuriaStage)
	group(TotalCholesterol, TotalCholesterolDate)
	if val[ThyroidTreatment].Is("2", "3") {
		need(ThyroidFunctionDate, ThyroidTreatment)
	}
	if s := val[PsychAdditionalSupport]; s.Set && !s.Is("99") {
		need(PsychScreeningDate, PsychAdditionalSupport)
	}
	// Smoking cessation only for current smokers.
	status, smokers := SmokingStatus, []string{"2"}
	if d.Version >= 2026 {
		status, smokers = SmokingVapingStatus, []string{"2", "4"}
	}
	if present(SmokingCessationDate) {
		switch s := val[status]; {
		case !present(status):
			bad(SmokingCessationDate, IssueForbidden, "must be empty when "+heading(status)+" is not filled in")
		case s.Set && !s.Is(smokers...):
			bad(SmokingCessationDate, IssueForbidden, "must be empty unless the patient is a current smoker")
		}
	}
	if present(DietitianDate) && val[DietitianOffered].Is("2") {
		bad(DietitianDate, IssueForbidden, "must be empty when no additional dietitian appointment was offered (2 = No)")
	}
	// Admissions.
	admissionFields := []Field{AdmissionDate, DischargeDate, AdmissionReason, DKATherapies, AdmissionReasonOther}
	if d.Version >= 2026 {
		admissionFields = append(admissionFields, BloodPH, BloodBicarbonate)
	}
	admitted := false
	for _, a := range admissionFields {
		admitted = admitted || present(a)
	}
	if admitted {
		need(AdmissionDate, admissionFields...)
		need(AdmissionReason, admissionFields...)
		reason := val[AdmissionReason]
		if reason.Is("2") {
			need(DKATherapies, AdmissionReason)
		}
		if reason.Is("6") {
			need(AdmissionReasonOther, AdmissionReason)
		}
		if reason.Set && !reason.Is("2") && present(DKATherapies) {
			bad(DKATherapies, IssueForbidden, "must be empty unless the Reason for admission is DKA (2)")
		}
		if reason.Set && !reason.Is("6") && present(AdmissionReasonOther) {
			bad(AdmissionReasonOther, IssueForbidden, "must be empty unless the Reason for admission is Other (6)")
		}
		if d.Version >= 2026 && reason.Set && !reason.Is("2") {
			for _, g := range []Field{BloodPH, BloodBicarbonate} {
				if present(g) {
					bad(g, IssueForbidden, "must be empty unless the Reason for admission is DKA (2)")
				}
			}
		}
	}
}

func (f *File) computeBMI(ctx context.Context, v *Visit, bad func(Field, string, string)) {
	h, w, on := v.Values[Height], v.Values[Weight], v.Values[HeightWeightDate]
	v.BMI = Value{}
	v.Centiles = Centiles{}
	if !on.Set || (!h.Set && !w.Set) {
		return
	}
	req := CentileRequest{Sex: v.Patient.Values[Sex].Text, DateOfBirth: v.Patient.Values[DateOfBirth].Date, Observed: on.Date}
	if h.Set {
		req.HeightCm = &v.Values[Height].Num
	}
	if w.Set {
		req.WeightKg = &v.Values[Weight].Num
	}
	if h.Set && w.Set {
		m := h.Num / 100
		bmi := Round(w.Num/(m*m), BMIRange.Decimals)
		if bmi < BMIRange.Min || bmi > BMIRange.Max {
			v.Issues = append(v.Issues, Issue{Row: v.Row, Field: Weight, Code: IssueImplausible,
				Message: fmt.Sprintf("with the height on this row, the weight gives a BMI outside %s–%s %s: check the height and the weight", fmtNum(BMIRange.Min), fmtNum(BMIRange.Max), BMIRange.Unit)})
		} else {
			v.BMI = Value{Set: true, Num: bmi}
			req.BMI = &v.BMI.Num
		}
	}
	if !v.Patient.Values[DateOfBirth].Set {
		v.Centiles = Centiles{Check: NotChecked}
		return
	}
	v.Centiles = f.opts.Lookups.centiles(ctx, req)
	if v.Centiles.Check.Status == CheckInvalid {
		bad(Weight, IssueLookup, lookupMessage("the growth reference rejects this height or weight", v.Centiles.Check))
	}
}

func joinAnd(items []string) string {
	switch len(items) {
	case 0:
		return ""
	case 1:
		return items[0]
	}
	return strings.Join(items[:len(items)-1], ", ") + " and " + items[len(items)-1]
}

func isAre(n int) string {
	if n == 1 {
		return "is"
	}
	return "are"
}
