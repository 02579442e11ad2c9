package audit

import (
	"context"
	"fmt"
	"math"
	"slices"
	"strings"
	"time"
)

// Issue codes: what kind of problem a cell has.
const (
	IssueRequired         = "required"
	IssueInvalid          = "invalid"
	IssueInvalidCode      = "invalid_code"
	IssueOutOfRange       = "out_of_range"
	IssueFutureDate       = "future_date"
	IssueBeforeBirth      = "before_birth"
	IssueBeforeDiagnosis  = "before_diagnosis"
	IssueAfterDeath       = "after_death"
	IssueOutsidePeriod    = "outside_audit_period"
	IssueInconsistent     = "inconsistent_dates"
	IssueTooOld           = "too_old"
	IssueRequiredTogether = "required_together"
	IssueForbidden        = "forbidden_together"
	IssueConflict         = "conflict"
	IssueImplausible      = "implausible"
	IssueLookup           = "lookup_failed"
)

// Issue is a problem with one cell: its row (the line of the file the row starts on;
// the header is row 1), its column and what is wrong. Messages never quote the cell.
type Issue struct {
	Row     int
	Field   Field
	Code    string
	Message string
}

// Value is a cell read and checked. Set is true only when the cell had a value that
// passed every check; otherwise the raw text is all there is.
type Value struct {
	Set  bool
	Date time.Time
	Num  float64
	// Text is the value of codes (the code, e.g. "1" or "A"), identifiers, postcodes,
	// GP practice codes, PDU numbers and free text, normalised.
	Text string
}

// Is reports whether v is the code c.
func (v Value) Is(codes ...string) bool {
	if !v.Set {
		return false
	}
	for _, c := range codes {
		if v.Text == c {
			return true
		}
	}
	return false
}

// Patient is one child of the file: the merge of their rows.
type Patient struct {
	// Index is the patient's position in File.Patients (first appearance order).
	Index      int
	Key        string
	Identifier Field
	// FirstRow is the row the patient first appears on.
	FirstRow int
	// Values holds the merged patient-level fields; SourceRow the row each came from.
	Values    [NumFields]Value
	SourceRow [NumFields]int
	// Outside checks.
	PostcodeCheck    Check
	GPPracticeCheck  Check
	DeprivationCheck Check
	// IMDQuintile is the deprivation quintile, 0 when unknown.
	IMDQuintile int

	rows []int32
	// present marks the fields with a non-blank cell on some row, valid or not.
	present [NumFields]bool
}

// Visits is how many rows the patient has.
func (p *Patient) Visits() int { return len(p.rows) }

// parseCell reads one cell by the kind of its column. A blank cell gives an unset
// value and no error.
func (f *File) parseCell(col Column, raw string) (Value, error) {
	s := strings.TrimSpace(raw)
	if s == "" {
		return Value{}, nil
	}
	info := col.Field.Info()
	switch info.Kind {
	case KindIdentifier:
		var id string
		var err error
		if col.Field == NHSNumber {
			id, err = NormaliseNHSNumber(s)
		} else {
			id, err = NormaliseURN(s)
		}
		if err != nil {
			return Value{}, err
		}
		return Value{Set: true, Text: id}, nil
	case KindDate:
		d, err := ParseDate(s, f.opts.Today)
		if err != nil {
			return Value{}, err
		}
		if d.After(f.opts.Today) {
			return Value{}, issueErr{IssueFutureDate, "in the future (after " + FormatDate(f.opts.Today) + ")"}
		}
		return Value{Set: true, Date: d}, nil
	case KindCode:
		c, ok := col.Codes.Lookup(s)
		if !ok {
			return Value{}, issueErr{IssueInvalidCode, "not one of the codes for " + col.Codes.Name + ": " + col.Codes.Describe()}
		}
		return Value{Set: true, Text: c.Value}, nil
	case KindNumber:
		n, err := ParseNumber(s)
		if err != nil {
			return Value{}, err
		}
		if r := info.Range; r != nil {
			if err := checkRange(n, *r); err != nil {
				return Value{}, err
			}
			n = Round(n, r.Decimals)
		}
		return Value{Set: true, Num: n}, nil
	case KindText:
		if info.MaxLength > 0 && len([]rune(s)) > info.MaxLength {
			return Value{}, fmt.Errorf("%w: at most %d characters", errTextTooLong, info.MaxLength)
		}
		return Value{Set: true, Text: s}, nil
	case KindPostcode:
		pc, err := NormalisePostcode(s)
		if err != nil {
			return Value{}, err
		}
		return Value{Set: true, Text: pc}, nil
	case KindGPPractice:
		code, err := NormaliseGPCode(s)
		if err != nil {
			return Value{}, err
		}
		return Value{Set: true, Text: code}, nil
	case KindPDU:
		code, err := ParsePZ(s)
		if err != nil {
			return Value{}, err
		}
		return Value{Set: true, Text: code}, nil
	}
	return Value{}, fmt.Errorf("unknown kind of column")
}

// issueErr is a cell error with its own issue code (other errors are IssueInvalid).
type issueErr struct{ code, msg string }

func (e issueErr) Error() string { return e.msg }

func issueOf(err error) (code, msg string) {
	if ie, ok := err.(issueErr); ok {
		return ie.code, ie.msg
	}
	return IssueInvalid, err.Error()
}

func checkRange(n float64, r Range) error {
	if r.Whole && n != math.Trunc(n) {
		return errWholeNumber
	}
	if n < r.Min || n > r.Max {
		return issueErr{IssueOutOfRange, fmt.Sprintf("out of range: must be between %s and %s%s", fmtNum(r.Min), fmtNum(r.Max), unitSuffix(r.Unit))}
	}
	return nil
}

func fmtNum(v float64) string { return fmt.Sprintf("%g", v) }

func unitSuffix(u string) string {
	if u == "" {
		return ""
	}
	return " " + u
}

// mergeRule is how a patient-level field is chosen from the patient's rows.
type mergeRule int

const (
	mergeModal        mergeRule = iota + 1 // most common; ties to the most recent by visit date
	mergeModalKnown                        // most common of the known values (unknown codes give way)
	mergeLatestVisit                       // the value of the row with the latest visit date
	mergeEarliest                          // the earliest date
	mergeLatestDate                        // the latest date
	mergeFirst                             // the first row's (identifier, PDU number)
	mergeLatestSilent                      // latest by visit date, a change is no conflict
)

var mergeRules = map[Field]mergeRule{
	NHSNumber:             mergeFirst,
	UniqueReferenceNumber: mergeFirst,
	DateOfBirth:           mergeModal,
	Sex:                   mergeModalKnown,
	Ethnicity:             mergeModalKnown,
	DiabetesType:          mergeLatestVisit,
	DiagnosisDate:         mergeEarliest,
	DeathDate:             mergeLatestVisit,
	LeavingDate:           mergeLatestDate,
	LeavingReason:         mergeLatestVisit,
	ImmunotherapyDate:     mergeLatestVisit,
	PDUNumber:             mergeFirst,
	Postcode:              mergeLatestSilent,
	GPPracticeCode:        mergeLatestSilent,
	ADHDASD:               mergeLatestSilent,
	LearningDisability:    mergeLatestSilent,
	Immunotherapy:         mergeLatestSilent,
}

var ruleWords = map[mergeRule]string{
	mergeModal:       "the most common; on a tie, the most recent by visit date",
	mergeModalKnown:  "the most common known value; on a tie, the most recent by visit date",
	mergeLatestVisit: "the value of the most recent visit",
	mergeEarliest:    "the earliest",
	mergeLatestDate:  "the latest",
}

// unknownCodes are codes that give way to a known value without a conflict: a patient
// recorded as "not known" who is later recorded properly.
var unknownCodes = map[Field]map[string]bool{
	Sex:       {"0": true, "99": true},
	Ethnicity: {"99": true, "Z": true},
}

// Patient-level fields that must have a value on at least one of the patient's rows.
var requiredPatientFields = []Field{DateOfBirth, DiagnosisDate, DiabetesType, Postcode, GPPracticeCode, PDUNumber}

type candidate struct {
	key   string
	value Value
	row   int
	visit time.Time // the row's visit date; zero when blank or invalid
	order int       // position of the row in the file
	count int
}

// merge parses the patient-level cells of every row, reports their problems, merges
// each patient's rows by the rules above, applies the patient's cross-field rules and
// runs the outside checks.
func (f *File) merge(ctx context.Context, p *passOne) error {
	stride := p.stride()
	visitCol, hasVisit := f.Dataset.Column(VisitDate)
	for pi, pat := range f.Patients {
		if pi%1024 == 0 && ctx.Err() != nil {
			return ctx.Err()
		}
		visits := make([]time.Time, len(pat.rows))
		if hasVisit {
			for j, r := range pat.rows {
				if v, err := f.parseCell(visitCol, p.cells[int(r)*stride+stride-1]); err == nil && v.Set {
					visits[j] = v.Date
				}
			}
		}
		for k, ci := range p.patientCols {
			col := f.Columns[ci]
			var cands []candidate
			present := false
			for j, r := range pat.rows {
				raw := p.cells[int(r)*stride+k]
				line := int(p.lines[r])
				if strings.TrimSpace(raw) == "" {
					continue
				}
				present = true
				v, err := f.parseCell(col, raw)
				if err != nil {
					code, msg := issueOf(err)
					f.Issues = append(f.Issues, Issue{Row: line, Field: col.Field, Code: code, Message: msg})
					continue
				}
				key := valueKey(v)
				found := false
				for i := range cands {
					if cands[i].key == key {
						cands[i].count++
						if !visits[j].Before(cands[i].visit) {
							cands[i].visit, cands[i].order, cands[i].row = visits[j], int(r), line
						}
						found = true
						break
					}
				}
				if !found {
					cands = append(cands, candidate{key: key, value: v, row: line, visit: visits[j], order: int(r), count: 1})
				}
			}
			pat.present[col.Field] = present
			if len(cands) == 0 {
				if !present && isRequiredPatientField(col.Field) {
					f.Issues = append(f.Issues, Issue{Row: pat.FirstRow, Field: col.Field, Code: IssueRequired,
						Message: "missing: every patient needs a " + col.Heading})
				}
				continue
			}
			rule := mergeRules[col.Field]
			kept := choose(rule, col.Field, cands)
			pat.Values[col.Field] = kept.value
			pat.SourceRow[col.Field] = kept.row
			if len(cands) > 1 && rule != mergeFirst && rule != mergeLatestSilent {
				f.reportConflict(pat, col, rule, kept, cands, p, stride, k)
			}
		}
		f.patientRules(pat)
		f.patientLookups(ctx, pat)
	}
	sortIssues(f.Issues)
	return nil
}

func isRequiredPatientField(f Field) bool {
	for _, r := range requiredPatientFields {
		if r == f {
			return true
		}
	}
	return f == NHSNumber || f == UniqueReferenceNumber
}

func valueKey(v Value) string {
	if !v.Date.IsZero() {
		return v.Date.Format("2006-01-02")
	}
	if v.Text != "" {
		return v.Text
	}
	return fmt.Sprint(v.Num)
}

// later reports whether a is more recent than b by visit date, then by file order.
func later(a, b candidate) bool {
	if !a.visit.Equal(b.visit) {
		return a.visit.After(b.visit)
	}
	return a.order > b.order
}

func choose(rule mergeRule, f Field, cands []candidate) candidate {
	best := cands[0]
	switch rule {
	case mergeFirst:
		for _, c := range cands {
			if c.row < best.row {
				best = c
			}
		}
	case mergeModal, mergeModalKnown:
		pool := cands
		if rule == mergeModalKnown {
			var known []candidate
			for _, c := range cands {
				if !unknownCodes[f][c.key] {
					known = append(known, c)
				}
			}
			if len(known) > 0 {
				pool = known
			}
		}
		best = pool[0]
		for _, c := range pool[1:] {
			if c.count > best.count || (c.count == best.count && later(c, best)) {
				best = c
			}
		}
	case mergeLatestVisit, mergeLatestSilent:
		for _, c := range cands[1:] {
			if later(c, best) {
				best = c
			}
		}
	case mergeEarliest:
		for _, c := range cands[1:] {
			if c.value.Date.Before(best.value.Date) {
				best = c
			}
		}
	case mergeLatestDate:
		for _, c := range cands[1:] {
			if c.value.Date.After(best.value.Date) {
				best = c
			}
		}
	}
	return best
}

// reportConflict puts a conflict issue on every row of the patient whose value differs
// from the one kept. Unknown codes that gave way to a known value are no conflict.
func (f *File) reportConflict(pat *Patient, col Column, rule mergeRule, kept candidate, cands []candidate, p *passOne, stride, k int) {
	distinct := 0
	for _, c := range cands {
		if rule == mergeModalKnown && unknownCodes[col.Field][c.key] {
			continue
		}
		distinct++
	}
	if distinct < 2 {
		return
	}
	msg := fmt.Sprintf("this patient's rows disagree on %s; the value of row %d was kept (%s)", col.Heading, kept.row, ruleWords[rule])
	for _, r := range pat.rows {
		raw := p.cells[int(r)*stride+k]
		v, err := f.parseCell(col, raw)
		if err != nil || !v.Set {
			continue
		}
		key := valueKey(v)
		if key == kept.key || (rule == mergeModalKnown && unknownCodes[col.Field][key]) {
			continue
		}
		f.Issues = append(f.Issues, Issue{Row: int(p.lines[r]), Field: col.Field, Code: IssueConflict, Message: msg})
	}
}

// patientRules are the cross-field rules of the merged patient; a value that breaks
// one is reported on the row it came from and not kept.
func (f *File) patientRules(pat *Patient) {
	v := &pat.Values
	bad := func(field Field, code, msg string) {
		row := pat.SourceRow[field]
		if row == 0 {
			row = pat.FirstRow
		}
		f.Issues = append(f.Issues, Issue{Row: row, Field: field, Code: code, Message: msg})
		v[field] = Value{}
	}
	period := f.Period
	if dob := v[DateOfBirth]; dob.Set {
		if age := yearsBetween(dob.Date, period.Start); age >= 25 {
			bad(DateOfBirth, IssueTooOld, fmt.Sprintf("the patient is 25 or older at the start of the %s audit period (%s); the audit covers children and young people under 25", period.Label(), FormatDate(period.Start)))
		}
	}
	dob, diag := v[DateOfBirth], v[DiagnosisDate]
	if diag.Set {
		switch {
		case dob.Set && diag.Date.Before(dob.Date):
			bad(DiagnosisDate, IssueBeforeBirth, "before the Date of Birth")
		case diag.Date.After(period.End):
			bad(DiagnosisDate, IssueOutsidePeriod, fmt.Sprintf("after the end of the %s audit period (%s)", period.Label(), FormatDate(period.End)))
		}
	}
	diag = v[DiagnosisDate]
	if death := v[DeathDate]; death.Set {
		switch {
		case dob.Set && death.Date.Before(dob.Date):
			bad(DeathDate, IssueBeforeBirth, "before the Date of Birth")
		case diag.Set && death.Date.Before(diag.Date):
			bad(DeathDate, IssueBeforeDiagnosis, "before the Date of Diabetes Diagnosis")
		case !period.Contains(death.Date):
			bad(DeathDate, IssueOutsidePeriod, outsidePeriod(period, ""))
		}
	}
	death := v[DeathDate]
	if leave := v[LeavingDate]; leave.Set {
		switch {
		case dob.Set && leave.Date.Before(dob.Date):
			bad(LeavingDate, IssueBeforeBirth, "before the Date of Birth")
		case death.Set && leave.Date.After(death.Date):
			bad(LeavingDate, IssueAfterDeath, "after the Death Date")
		case !period.Contains(leave.Date):
			bad(LeavingDate, IssueOutsidePeriod, outsidePeriod(period, ""))
		}
	}
	if f.Dataset.Has(LeavingDate) {
		f.patientTogether(pat, LeavingDate, LeavingReason)
	}
	if f.Dataset.Version >= 2026 {
		imm, immDate := v[Immunotherapy], v[ImmunotherapyDate]
		switch {
		case immDate.Set && dob.Set && immDate.Date.Before(dob.Date):
			bad(ImmunotherapyDate, IssueBeforeBirth, "before the Date of Birth")
		case imm.Is("1") && !pat.present[ImmunotherapyDate]:
			f.Issues = append(f.Issues, Issue{Row: pat.SourceRow[Immunotherapy], Field: ImmunotherapyDate, Code: IssueRequiredTogether,
				Message: "missing: required when immunotherapy was received (1 = Yes)"})
		case immDate.Set && imm.Set && !imm.Is("1"):
			bad(ImmunotherapyDate, IssueForbidden, "must be empty unless immunotherapy was received (1 = Yes)")
		}
	}
}

// patientTogether requires a and b together: a leaving date with its reason.
func (f *File) patientTogether(pat *Patient, a, b Field) {
	v := &pat.Values
	for _, pair := range [][2]Field{{a, b}, {b, a}} {
		has, lacks := pair[0], pair[1]
		if v[has].Set && !pat.present[lacks] {
			f.Issues = append(f.Issues, Issue{Row: pat.SourceRow[has], Field: lacks, Code: IssueRequiredTogether,
				Message: "missing: required when " + mustColumn(f.Dataset, has).Heading + " is filled in"})
		}
	}
}

func mustColumn(d *Dataset, f Field) Column {
	c, ok := d.Column(f)
	if !ok {
		return Column{Field: f, Heading: f.Label()}
	}
	return c
}

func (f *File) patientLookups(ctx context.Context, pat *Patient) {
	l := f.opts.Lookups
	pat.PostcodeCheck, pat.GPPracticeCheck, pat.DeprivationCheck = NotChecked, NotChecked, NotChecked
	if pc := pat.Values[Postcode]; pc.Set && !UnknownPostcodes[strings.ReplaceAll(pc.Text, " ", "")] {
		pat.PostcodeCheck = l.postcode(ctx, pc.Text)
		if pat.PostcodeCheck.Status == CheckInvalid {
			f.Issues = append(f.Issues, Issue{Row: pat.SourceRow[Postcode], Field: Postcode, Code: IssueLookup, Message: lookupMessage("the postcode lookup does not know this postcode", pat.PostcodeCheck)})
		} else {
			pat.IMDQuintile, pat.DeprivationCheck = l.deprivation(ctx, pc.Text)
		}
	}
	if gp := pat.Values[GPPracticeCode]; gp.Set {
		pat.GPPracticeCheck = l.gpPractice(ctx, gp.Text)
		if pat.GPPracticeCheck.Status == CheckInvalid {
			f.Issues = append(f.Issues, Issue{Row: pat.SourceRow[GPPracticeCode], Field: GPPracticeCode, Code: IssueLookup, Message: lookupMessage("the ODS lookup does not know this GP practice", pat.GPPracticeCheck)})
		}
	}
}

func lookupMessage(base string, c Check) string {
	if c.Detail != "" {
		return base + ": " + c.Detail
	}
	return base
}

// yearsBetween is the age in whole years on date at, of someone born on born.
func yearsBetween(born, at time.Time) int {
	years := at.Year() - born.Year()
	if at.Month() < born.Month() || (at.Month() == born.Month() && at.Day() < born.Day()) {
		years--
	}
	return years
}

func outsidePeriod(p Period, exception string) string {
	msg := fmt.Sprintf("outside the %s audit period (%s to %s)", p.Label(), FormatDate(p.Start), FormatDate(p.End))
	if exception != "" {
		msg += "; " + exception
	}
	return msg
}

// sortIssues orders issues by row, then column: they are found patient by patient, and
// readers want them in file order.
func sortIssues(is []Issue) {
	slices.SortStableFunc(is, func(a, b Issue) int {
		if a.Row != b.Row {
			return a.Row - b.Row
		}
		return int(a.Field) - int(b.Field)
	})
}
