package graph

import (
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net/url"
	"sort"
	"strconv"
	"strings"
	"time"

	"caregraph/audit"
	"caregraph/auth"
	"caregraph/graph/model"
	"caregraph/graph/scalar"
	"caregraph/store"
	"caregraph/submissions"

	"github.com/99designs/gqlgen/graphql"
	"github.com/vektah/gqlparser/v2/gqlerror"
)

// Audit data is guarded twice: every root field checks the Policy for the unit, and
// every nested field that returns submissions, patients, visits or their errors checks
// again for the unit of its parent, so that no path through the schema skips the check.

// guardAudit asks the Policy whether the caller may read a unit's audit data.
func (r *Resolver) guardAudit(ctx context.Context, unitID int64) error {
	return r.Auth.Policy().CanReadAuditData(auth.PrincipalFrom(ctx), unitID)
}

// logPatientView records in the access log that the caller read patient records of a
// unit. The view fails if the record cannot be written: an unrecorded view of patient
// data is not allowed to happen.
func (r *Resolver) logPatientView(ctx context.Context, unitID int64, details map[string]any) error {
	e := auth.AuditAccessEntry(ctx, auth.PrincipalFrom(ctx), store.AccessEntry{UnitID: &unitID, Action: store.ActionPatientViewed, Details: details})
	return r.Store.LogAccess(ctx, e)
}

// auditUnit resolves a PZ code for a read of audit data (see unitFilter: the Policy
// decides before the unit's existence is revealed).
func (r *Resolver) auditUnit(ctx context.Context, pzCode string) (int64, error) {
	id, err := r.unitFilter(ctx, &pzCode, r.Auth.Policy().CanReadAuditData)
	if err != nil {
		return 0, err
	}
	return *id, nil
}

func checkYear(year int) error {
	if err := audit.ValidYear(year); err != nil {
		return badInput(err.Error())
	}
	return nil
}

// submissionByID loads a submission the caller may read; nil when it does not exist
// (after the Policy has had its say, so that ids reveal nothing).
func (r *Resolver) submissionByID(ctx context.Context, id int64) (*model.Submission, error) {
	sub, ok, err := load(ctx, r.loaders(ctx).Audit.Submissions, id)
	if err != nil {
		return nil, err
	}
	if !ok {
		return nil, r.guardAudit(ctx, 0)
	}
	if err := r.guardAudit(ctx, sub.UnitID); err != nil {
		return nil, err
	}
	return toSubmission(sub), nil
}

// patientByID loads a patient the caller may read and records the view; nil when it
// does not exist.
func (r *Resolver) patientByID(ctx context.Context, id int64) (*model.Patient, error) {
	p, ok, err := load(ctx, r.loaders(ctx).Audit.Patients, id)
	if err != nil {
		return nil, err
	}
	if !ok {
		return nil, r.guardAudit(ctx, 0)
	}
	if err := r.guardAudit(ctx, p.UnitID); err != nil {
		return nil, err
	}
	if err := r.logPatientView(ctx, p.UnitID, map[string]any{"patient_id": p.ID, "submission_id": p.SubmissionID}); err != nil {
		return nil, err
	}
	return toPatient(p), nil
}

// unitSubmissions lists a unit's submissions, of a year or all.
func (r *Resolver) unitSubmissions(ctx context.Context, unitID int64, year *int) ([]*model.Submission, error) {
	if err := r.guardAudit(ctx, unitID); err != nil {
		return nil, err
	}
	key := store.SubmissionKey{UnitID: unitID}
	if year != nil {
		if err := checkYear(*year); err != nil {
			return nil, err
		}
		key.Year = *year
	}
	subs, err := r.loaders(ctx).Audit.UnitSubmissions.Load(ctx, key)
	if err != nil {
		return nil, err
	}
	return mapAll(subs, toSubmission), nil
}

// activePatients pages the patients of the unit's active submission for a year; a unit
// without one has none.
func (r *Resolver) activePatients(ctx context.Context, unitID int64, year int, filter *model.PatientFilter, first *int, after *string) (*model.PatientConnection, error) {
	if err := r.guardAudit(ctx, unitID); err != nil {
		return nil, err
	}
	if err := checkYear(year); err != nil {
		return nil, err
	}
	sub, err := r.Store.ActiveSubmission(ctx, unitID, year)
	if errors.Is(err, store.ErrNotFound) {
		return emptyPatients(), nil
	}
	if err != nil {
		return nil, err
	}
	return r.patientsOf(ctx, sub.ID, sub.UnitID, filter, first, after)
}

// identifierKey is how a patient filter finds a patient: an NHS number without its
// spaces and dashes, else a Unique Reference Number as rows are grouped by it.
func identifierKey(s string) string {
	if k := audit.IdentifierKey(audit.NHSNumber, s); len(k) == 10 && strings.Trim(k, "0123456789") == "" {
		return k
	}
	return audit.IdentifierKey(audit.UniqueReferenceNumber, s)
}

func ptr[T any](v T) *T { return &v }

func emptyPatients() *model.PatientConnection {
	return &model.PatientConnection{Edges: []*model.PatientEdge{}, Nodes: []*model.Patient{}, PageInfo: &model.PageInfo{}}
}

// patientsOf pages a submission's patients and records the view.
func (r *Resolver) patientsOf(ctx context.Context, submissionID, unitID int64, filter *model.PatientFilter, first *int, after *string) (*model.PatientConnection, error) {
	if err := r.guardAudit(ctx, unitID); err != nil {
		return nil, err
	}
	q := store.PatientQuery{SubmissionID: submissionID}
	var err error
	if q.Limit, err = pageSize(first); err != nil {
		return nil, err
	}
	cursor, err := decodeCursor(after)
	if err != nil {
		return nil, err
	}
	if cursor != "" {
		n, err := strconv.Atoi(cursor)
		if err != nil || n < 0 {
			return nil, badInput("after is not a cursor of this list of patients")
		}
		q.FromOrdinal = n + 1
	}
	if filter != nil {
		if filter.Identifier != nil {
			q.Identifier = ptr(identifierKey(*filter.Identifier))
		}
		q.DiabetesType, q.HasErrors = filter.DiabetesType, filter.HasErrors
	}
	limit := q.Limit
	q.Limit++
	rows, total, err := r.Store.Patients(ctx, q)
	if err != nil {
		return nil, err
	}
	rows, cursors, info := page(rows, limit, cursor != "", func(_ int, p store.Patient) string { return encodeCursor(strconv.Itoa(p.Ordinal)) })
	conn := &model.PatientConnection{TotalCount: total, PageInfo: info, Nodes: make([]*model.Patient, len(rows)), Edges: make([]*model.PatientEdge, len(rows))}
	ids := make([]int64, len(rows))
	for i, p := range rows {
		conn.Nodes[i] = toPatient(p)
		conn.Edges[i] = &model.PatientEdge{Cursor: cursors[i], Node: conn.Nodes[i]}
		ids[i] = p.ID
	}
	if len(ids) > 0 {
		if err := r.logPatientView(ctx, unitID, map[string]any{"submission_id": submissionID, "patient_ids": ids}); err != nil {
			return nil, err
		}
	}
	return conn, r.prefetchPatients(ctx, unitID, submissionID, rows)
}

// submissionErrors pages a submission's errors.
func (r *Resolver) submissionErrors(ctx context.Context, sub *model.Submission, row *int, column, code *string, first *int, after *string) (*model.SubmissionErrorConnection, error) {
	if err := r.guardAudit(ctx, sub.UnitID); err != nil {
		return nil, err
	}
	q := store.ErrorQuery{SubmissionID: sub.DBID, Row: row, Code: code}
	if column != nil {
		field := fieldKeyOf(sub.DatasetVersion, *column)
		q.Field = &field
	}
	var err error
	if q.Limit, err = pageSize(first); err != nil {
		return nil, err
	}
	cursor, err := decodeCursor(after)
	if err != nil {
		return nil, err
	}
	if cursor != "" {
		r, id, ok := strings.Cut(cursor, ":")
		rn, err1 := strconv.ParseInt(r, 10, 64)
		idn, err2 := strconv.ParseInt(id, 10, 64)
		if !ok || err1 != nil || err2 != nil {
			return nil, badInput("after is not a cursor of this list of errors")
		}
		q.AfterRow, q.AfterID = rn, idn
	}
	limit := q.Limit
	q.Limit++
	rows, total, err := r.Store.SubmissionErrors(ctx, q)
	if err != nil {
		return nil, err
	}
	rows, cursors, info := page(rows, limit, cursor != "", func(_ int, e store.SubmissionError) string { return encodeCursor(fmt.Sprintf("%d:%d", e.Row, e.ID)) })
	conn := &model.SubmissionErrorConnection{TotalCount: total, PageInfo: info, Nodes: make([]*model.SubmissionError, len(rows)), Edges: make([]*model.SubmissionErrorEdge, len(rows))}
	for i, e := range rows {
		conn.Nodes[i] = toSubmissionError(sub.DatasetVersion, e.CellError)
		conn.Edges[i] = &model.SubmissionErrorEdge{Cursor: cursors[i], Node: conn.Nodes[i]}
	}
	return conn, nil
}

// fieldKeyOf accepts a column as a field key (hba1c_date) or a heading of the dataset.
func fieldKeyOf(version int, column string) string {
	if _, ok := audit.FieldByKey(column); ok {
		return column
	}
	if c, ok := audit.DatasetFor(version).Match(column); ok {
		return c.Field.Key()
	}
	return column
}

// submitAuditCSV reads the upload and hands it to the submissions service.
func (r *Resolver) submitAuditCSV(ctx context.Context, pzCode string, year int, file graphql.Upload) (*model.SubmitAuditCSVResult, error) {
	if file.Size > submissions.MaxFileBytes {
		return nil, badInput(fmt.Sprintf("the file is larger than %d MB", submissions.MaxFileBytes>>20))
	}
	// The policy is asked before the file is read: a refused caller's upload is never
	// opened.
	if err := r.guardAudit(ctx, 0); errors.Is(err, auth.ErrUnauthenticated) {
		return nil, err
	}
	data, err := io.ReadAll(io.LimitReader(file.File, submissions.MaxFileBytes+1))
	if err != nil {
		return nil, fmt.Errorf("read the uploaded file: %w", err)
	}
	if len(data) > submissions.MaxFileBytes {
		return nil, badInput(fmt.Sprintf("the file is larger than %d MB", submissions.MaxFileBytes>>20))
	}
	res, err := r.Uploads.Submit(ctx, auth.PrincipalFrom(ctx), submissions.Request{PZCode: pzCode, AuditYear: year, FileName: file.Filename, File: data, Via: store.ViaAPI})
	if err != nil {
		return nil, submitError(err)
	}
	out := &model.SubmitAuditCSVResult{}
	if res.Rejection != nil {
		rej := res.Rejection
		out.Rejection = &model.CSVRejection{Reason: rej.Reason, Message: rej.Message, Expected: nonNil(rej.Expected), Found: nonNil(rej.Found), Rows: rej.Rows}
		if out.Rejection.Rows == nil {
			out.Rejection.Rows = []int{}
		}
		return out, nil
	}
	out.Submission = toSubmission(*res.Submission)
	if res.Superseded != nil {
		prev, err := r.submissionByID(ctx, *res.Superseded)
		if err != nil {
			return nil, err
		}
		out.SupersededSubmission = prev
	}
	return out, nil
}

func nonNil(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}

// submitError maps the service's errors to the API's: bad input, and a closed period
// as FORBIDDEN with what was expected and found.
func submitError(err error) error {
	var closed *submissions.ClosedError
	switch {
	case errors.As(err, &closed):
		// A gqlerror with its extensions set passes the error presenter as it is.
		return &gqlerror.Error{Err: err, Message: closed.Error(), Extensions: map[string]any{
			"code": CodeForbidden, "reason": audit.RejectClosedPeriod, "expected": closed.Expected(), "found": closed.Found()}}
	case errors.Is(err, submissions.ErrBadInput):
		return badInput(strings.TrimPrefix(err.Error(), submissions.ErrBadInput.Error()+": "))
	}
	return err
}

// auditPeriod describes a period with its status on the service's clock.
func (r *Resolver) auditPeriod(year int) *model.AuditPeriod {
	p := audit.PeriodOf(year)
	st := r.Uploads.Status(p)
	out := &model.AuditPeriod{Year: year, Label: p.Label(), Start: date(p.Start), End: date(p.End),
		DatasetVersion: audit.DatasetFor(year).Version, Open: st.Open, Deadline: date(st.Deadline)}
	if st.Reason != "" {
		out.ClosedReason = &st.Reason
	}
	for q := 1; q <= 4; q++ {
		first, last := p.QuarterDates(q)
		out.Quarters = append(out.Quarters, &model.AuditQuarter{Number: q, Start: date(first), End: date(last)})
	}
	return out
}

func date(t time.Time) scalar.Date { return scalar.Date{Time: t} }

func rfc3339p(t *time.Time) *string {
	if t == nil {
		return nil
	}
	s := rfc3339(*t)
	return &s
}

var submissionStates = map[string]model.SubmissionState{
	store.SubmissionProcessing: model.SubmissionStateProcessing,
	store.SubmissionInactive:   model.SubmissionStateInactive,
	store.SubmissionActive:     model.SubmissionStateActive,
	store.SubmissionSuperseded: model.SubmissionStateSuperseded,
	store.SubmissionFailed:     model.SubmissionStateFailed,
}

func toSubmission(s store.Submission) *model.Submission {
	return &model.Submission{
		DBID: s.ID, UnitID: s.UnitID, AuditYear: s.AuditYear, DatasetVersion: s.DatasetVersion, State: submissionStates[s.State],
		UploadedByID: s.UploadedBy, UploadedVia: s.Via, UploadedAt: rfc3339(s.UploadedAt), ProcessedAt: rfc3339p(s.ProcessedAt),
		ActivatedAt: rfc3339p(s.ActivatedAt), SupersededAt: rfc3339p(s.SupersededAt), SupersededByID: s.SupersededBy,
		Failure: s.Failure, FileName: s.FileName, FileSize: s.FileSize, FileSha256: hex.EncodeToString(s.FileSHA256), Encoding: s.Encoding,
		Counts:  &model.SubmissionCounts{Rows: s.Rows, Patients: s.Patients, Visits: s.Visits, InvalidRows: s.InvalidRows, Errors: s.Errors},
		Columns: s.Columns,
	}
}

func checkStatus(v any) model.CheckStatus {
	s, _ := v.(string)
	return model.CheckStatus(strings.ToUpper(s))
}

func valDate(v any) *scalar.Date {
	t, ok := v.(time.Time)
	if !ok {
		return nil
	}
	d := date(t)
	return &d
}

func valInt(v any) *int {
	switch n := v.(type) {
	case int16:
		i := int(n)
		return &i
	case int32:
		i := int(n)
		return &i
	case int64:
		i := int(n)
		return &i
	}
	return nil
}

func valFloat(v any) *float64 {
	f, ok := v.(float64)
	if !ok {
		return nil
	}
	return &f
}

func valString(v any) *string {
	s, ok := v.(string)
	if !ok {
		return nil
	}
	return &s
}

// valText writes a typed value as text for FieldValue and VisitCell.
func valText(v any) *string {
	var s string
	switch x := v.(type) {
	case nil:
		return nil
	case time.Time:
		s = x.Format(time.DateOnly)
	case float64:
		s = strconv.FormatFloat(x, 'f', -1, 64)
	case string:
		s = x
	default:
		if i := valInt(v); i != nil {
			s = strconv.Itoa(*i)
		} else {
			s = fmt.Sprint(v)
		}
	}
	return &s
}

func toPatient(p store.Patient) *model.Patient {
	v := p.Values
	return &model.Patient{
		DBID: p.ID, SubmissionID: p.SubmissionID, UnitID: p.UnitID, AuditYear: p.AuditYear, Identifier: p.Identifier,
		NhsNumber: valString(v["nhs_number"]), UniqueReferenceNumber: valString(v["unique_reference_number"]),
		DateOfBirth: valDate(v["date_of_birth"]), Sex: valInt(v["sex"]), Ethnicity: valString(v["ethnicity"]),
		DiabetesType: valInt(v["diabetes_type"]), DiagnosisDate: valDate(v["diagnosis_date"]), DeathDate: valDate(v["death_date"]),
		Postcode: valString(v["postcode"]), GpPracticeCode: valString(v["gp_practice_code"]), ImdQuintile: valInt(v["imd_quintile"]),
		PostcodeCheck: checkStatus(v["postcode_check"]), GpPracticeCheck: checkStatus(v["gp_practice_check"]),
		DeprivationCheck: checkStatus(v["deprivation_check"]),
		FirstRow:         p.FirstRow, VisitCount: p.VisitCount, ErrorCount: p.ErrorCount, Values: v,
	}
}

// patientFields lists the patient-level fields of the patient's dataset in template
// order.
func patientFields(p *model.Patient) []*model.FieldValue {
	d := audit.DatasetFor(p.AuditYear)
	var out []*model.FieldValue
	for _, c := range d.Columns {
		if c.Field.Level() != audit.PatientLevel {
			continue
		}
		key := c.Field.Key()
		if c.Field == audit.NHSNumber && p.UniqueReferenceNumber != nil {
			urn, _ := d.Column(audit.UniqueReferenceNumber)
			key, c = audit.UniqueReferenceNumber.Key(), urn
		}
		out = append(out, &model.FieldValue{Column: key, Heading: c.Heading, Value: valText(p.Values[key])})
	}
	return out
}

func toVisit(v store.Visit, unitID int64) *model.Visit {
	x := v.Values
	out := &model.Visit{
		DBID: v.ID, SubmissionID: v.SubmissionID, PatientID: v.PatientID, UnitID: unitID, Row: v.Row,
		VisitDate: valDate(x["visit_date"]), HeightCm: valFloat(x["height"]), WeightKg: valFloat(x["weight"]), Bmi: valFloat(x["bmi"]),
		HeightWeightDate: valDate(x["height_weight_date"]), Hba1c: valFloat(x["hba1c"]), Hba1cFormat: valInt(x["hba1c_format"]),
		Hba1cDate: valDate(x["hba1c_date"]), SystolicBp: valInt(x["systolic_bp"]), DiastolicBp: valInt(x["diastolic_bp"]),
		AdmissionDate: valDate(x["admission_date"]), DischargeDate: valDate(x["discharge_date"]), AdmissionReason: valInt(x["admission_reason"]),
		ErrorCount: v.ErrorCount, RawCells: v.Cells, Values: x,
	}
	if s, ok := x["centile_check"].(string); ok {
		c := checkStatus(s)
		out.CentileCheck = &c
	}
	return out
}

// visitCells pairs each raw cell with its column and checked value.
func visitCells(v *model.Visit, sub store.Submission) []*model.VisitCell {
	out := make([]*model.VisitCell, 0, len(v.RawCells))
	for i, raw := range v.RawCells {
		key := ""
		if i < len(sub.Columns) {
			key = sub.Columns[i]
		}
		cell := &model.VisitCell{Column: key, Heading: submissions.HeadingOf(sub.DatasetVersion, key), Raw: raw}
		if f, ok := audit.FieldByKey(key); ok && f.Level() == audit.VisitLevel {
			cell.Value = valText(v.Values[key])
		}
		out = append(out, cell)
	}
	return out
}

var leavingReasons = func() map[int]string {
	m := map[int]string{}
	for _, c := range audit.LeavingReasons.Codes {
		n, _ := strconv.Atoi(c.Value)
		m[n] = c.Label
	}
	return m
}()

func toTransfer(t store.Transfer) *model.Transfer {
	out := &model.Transfer{UnitID: t.UnitID, PreviousUnitID: t.PreviousUnitID}
	if t.LeftOn != nil {
		out.DateLeftService = valDate(*t.LeftOn)
	}
	if t.PreviousLeftOn != nil {
		out.PreviousUnitLeftOn = valDate(*t.PreviousLeftOn)
	}
	if t.Reason != nil {
		n := int(*t.Reason)
		out.ReasonLeftService = &n
		if l, ok := leavingReasons[n]; ok {
			out.ReasonLabel = &l
		}
	}
	return out
}

func toSubmissionError(version int, e store.CellError) *model.SubmissionError {
	return &model.SubmissionError{Row: e.Row, Column: e.Field, Heading: submissions.HeadingOf(version, e.Field), Code: e.Code, Message: e.Message}
}

func toErrorCounts(version int, cs []store.ErrorCount) []*model.SubmissionErrorCount {
	out := make([]*model.SubmissionErrorCount, len(cs))
	for i, c := range cs {
		out[i] = &model.SubmissionErrorCount{Column: c.Field, Heading: submissions.HeadingOf(version, c.Field), Code: c.Code, Count: c.Count, Rows: c.Rows}
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i].Count > out[j].Count })
	return out
}

// downloadURL is the path of a submission's file download (see server/http_submissions.go).
func downloadURL(s *model.Submission, which string) string {
	return "/submissions/" + url.PathEscape(s.ID()) + "/" + which + ".csv"
}

// auditNode answers node(id) for submissions and patients, through the same checks as
// their own lookups.
func (r *Resolver) auditNode(ctx context.Context, typeName, key string) (model.Node, error) {
	id, err := strconv.ParseInt(key, 10, 64)
	if err != nil {
		return nil, badInput("id is not an identifier from this API")
	}
	switch typeName {
	case "Submission":
		s, err := r.submissionByID(ctx, id)
		if s == nil || err != nil {
			return nil, err
		}
		return s, nil
	case "Patient":
		p, err := r.patientByID(ctx, id)
		if p == nil || err != nil {
			return nil, err
		}
		return p, nil
	}
	return nil, badInput(fmt.Sprintf("id names an unknown type %q", typeName))
}
