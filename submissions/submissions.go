// Package submissions takes a unit's NPDA CSV from upload to the unit's active data:
// it asks the access policy and the audit period schedule, reads and checks the file
// with the audit package, loads it through the store as an inactive submission, and
// activates it in one transaction that replaces the previous active submission. It is
// shared by the GraphQL API and the `server submit` command.
package submissions

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"path"
	"strconv"
	"strings"
	"time"

	"caregraph/audit"
	"caregraph/auth"
	"caregraph/store"
)

// ErrBadInput is wrapped by errors about the caller's arguments.
var ErrBadInput = errors.New("bad input")

// MaxFileBytes bounds an upload: a national file of 50,000 visits is about 15 MB.
const MaxFileBytes = 64 << 20

// Service submits and reads back audit CSVs.
type Service struct {
	store    *store.Store
	policy   auth.Policy
	schedule audit.Schedule
	lookups  audit.Lookups
	now      func() time.Time
	logger   *slog.Logger
	// activated is Options.OnActivated.
	activated func(unitID int64, auditYear int)
}

// Options configure a Service; zero fields take the defaults.
type Options struct {
	// Schedule says when periods are open (audit.DefaultSchedule).
	Schedule *audit.Schedule
	// Lookups are the outside services (none: every check is "not checked").
	Lookups audit.Lookups
	// Now is the clock (time.Now).
	Now func() time.Time
	// Logger receives failures that do not fail the request (slog.DiscardHandler).
	Logger *slog.Logger
	// OnActivated, when set, hears of every submission made active (the KPI
	// aggregation recomputes the unit). It must return at once: the upload does not wait.
	OnActivated func(unitID int64, auditYear int)
}

// New returns a Service over st.
func New(st *store.Store, opts Options) *Service {
	s := &Service{store: st, schedule: audit.DefaultSchedule, lookups: opts.Lookups, now: time.Now, logger: slog.New(slog.DiscardHandler)}
	if opts.Schedule != nil {
		s.schedule = *opts.Schedule
	}
	if opts.Now != nil {
		s.now = opts.Now
	}
	if opts.Logger != nil {
		s.logger = opts.Logger
	}
	s.activated = opts.OnActivated
	return s
}

// Schedule is the audit period schedule the service follows.
func (s *Service) Schedule() audit.Schedule { return s.schedule }

// Request is an upload.
type Request struct {
	PZCode    string
	AuditYear int
	FileName  string
	File      []byte
	// Via is store.ViaAPI or store.ViaCommandLine.
	Via string
	// Progress, when set, hears how the upload goes (the command line prints it).
	Progress func(stage string, done int)
}

// Result is what an upload came to: an active submission, or a rejection of the whole
// file (nothing stored).
type Result struct {
	Submission *store.Submission
	Rejection  *audit.Rejection
	// Superseded is the submission this one replaced, if any.
	Superseded *int64
	// Took is how long the upload took.
	Took time.Duration
}

// unit resolves a PZ code for a caller. The policy is asked before the unit's existence
// is revealed: an unknown code counts as a unit the caller does not belong to.
func (s *Service) unit(ctx context.Context, p *auth.Principal, pzCode string, check func(*auth.Principal, int64) error) (int64, string, error) {
	code := audit.NormalisePZ(pzCode)
	ids, err := s.store.UnitIDsByPZ(ctx, []string{code})
	if err != nil {
		return 0, code, err
	}
	id := ids[code]
	if err := check(p, id); err != nil {
		return 0, code, err
	}
	if id == 0 {
		return 0, code, fmt.Errorf("%w: no unit with PZ code %s", ErrBadInput, code)
	}
	return id, code, nil
}

// Submit checks the caller and the period, reads the file, stores it and makes it the
// unit's active submission for the year. A structural problem of the file is a
// Rejection in the result, not an error; permission and a closed period are
// auth.ErrForbidden (or ErrUnauthenticated); a closed period's error is a *ClosedError.
func (s *Service) Submit(ctx context.Context, p *auth.Principal, req Request) (Result, error) {
	start := time.Now()
	progress := req.Progress
	if progress == nil {
		progress = func(string, int) {}
	}
	if err := audit.ValidYear(req.AuditYear); err != nil {
		return Result{}, fmt.Errorf("%w: %v", ErrBadInput, err)
	}
	unitID, pz, err := s.unit(ctx, p, req.PZCode, s.policy.CanReadAuditData)
	if err != nil {
		return Result{}, err
	}
	period := audit.PeriodOf(req.AuditYear)
	status := s.schedule.Status(period, s.now())
	if err := s.policy.CanSubmitAudit(p, unitID, status.Open); err != nil {
		if !status.Open && errors.Is(err, auth.ErrForbidden) && s.policy.CanSubmitForUnit(p, unitID) == nil {
			err = &ClosedError{Status: status, err: err}
		}
		s.logUpload(ctx, p, unitID, map[string]any{"audit_year": req.AuditYear, "outcome": "refused", "reason": reasonOf(err)})
		return Result{}, err
	}
	if len(req.File) > MaxFileBytes {
		return Result{}, fmt.Errorf("%w: the file is larger than %d MB", ErrBadInput, MaxFileBytes>>20)
	}
	name := cleanFileName(req.FileName)
	progress("reading", 0)
	f, err := audit.Read(ctx, req.File, audit.Options{PZCode: pz, AuditYear: req.AuditYear, Today: audit.DateOf(s.now()), Lookups: s.lookups})
	if r, ok := audit.IsRejection(err); ok {
		s.logUpload(ctx, p, unitID, map[string]any{"audit_year": req.AuditYear, "file_name": name, "outcome": "rejected", "reason": r.Reason})
		return Result{Rejection: r, Took: time.Since(start)}, nil
	}
	if err != nil {
		return Result{}, fmt.Errorf("read %s: %w", name, err)
	}
	progress("read", f.Rows)

	var uploadedBy *int64
	if p.Kind != auth.KindOperator && p.UserID != 0 {
		id := p.UserID
		uploadedBy = &id
	}
	cols := make([]string, len(f.Columns))
	for i, c := range f.Columns {
		cols[i] = c.Field.Key()
	}
	up, err := s.store.BeginUpload(ctx, store.NewSubmission{
		UnitID: unitID, AuditYear: req.AuditYear, DatasetVersion: f.Dataset.Version, Identifier: f.Identifier.Key(),
		UploadedBy: uploadedBy, Via: req.Via, FileName: name, File: req.File, Encoding: f.Encoding, Columns: cols,
	})
	if err != nil {
		return Result{}, err
	}
	defer up.Close()
	fail := func(err error) (Result, error) {
		reason := "failed: " + err.Error()
		if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
			reason = "cancelled before the upload finished; the previous data was kept"
		}
		if ferr := up.Fail(ctx, reason); ferr != nil {
			s.logger.ErrorContext(ctx, "mark submission failed", "submission_id", up.ID, "error", ferr)
		}
		s.logUpload(ctx, p, unitID, map[string]any{"audit_year": req.AuditYear, "submission_id": up.ID, "outcome": "failed"})
		return Result{}, err
	}
	load := newLoad(ctx, f, progress)
	if _, err := up.Load(ctx, load.storeLoad()); err != nil {
		return fail(err)
	}
	progress("activating", f.Rows)
	prev, err := up.Activate(ctx)
	if err != nil {
		return fail(err)
	}
	if s.activated != nil {
		s.activated(unitID, req.AuditYear)
	}
	sub, err := s.store.SubmissionByID(ctx, up.ID)
	if err != nil {
		return Result{}, err
	}
	details := map[string]any{"audit_year": req.AuditYear, "submission_id": sub.ID, "file_name": name, "outcome": "active",
		"rows": sub.Rows, "patients": sub.Patients, "errors": sub.Errors}
	if prev != nil {
		details["superseded"] = *prev
	}
	s.logUpload(ctx, p, unitID, details)
	progress("done", f.Rows)
	return Result{Submission: &sub, Superseded: prev, Took: time.Since(start)}, nil
}

// ClosedError refuses a submission for a closed audit period.
type ClosedError struct {
	Status audit.PeriodStatus
	err    error
}

func (e *ClosedError) Error() string {
	return fmt.Sprintf("forbidden: %s; only the RCPCH audit team may submit for it", e.Status.Reason)
}

func (e *ClosedError) Unwrap() error { return e.err }

// Expected and Found describe the refusal the way file rejections do.
func (e *ClosedError) Expected() []string {
	return []string{"an audit period open for submissions (from its 1 April until its deadline)"}
}

// Found is the period asked for and why it is closed.
func (e *ClosedError) Found() []string {
	return []string{fmt.Sprintf("%s, deadline %s: %s", e.Status.Period.Label(), audit.FormatDate(e.Status.Deadline), e.Status.Reason)}
}

func reasonOf(err error) string {
	var ce *ClosedError
	switch {
	case errors.As(err, &ce):
		return audit.RejectClosedPeriod
	case errors.Is(err, auth.ErrUnauthenticated):
		return "unauthenticated"
	}
	return audit.RejectForbidden
}

// logUpload writes the csv_uploaded access log entry. A failure to write it is logged:
// the upload itself has already happened or been refused.
func (s *Service) logUpload(ctx context.Context, p *auth.Principal, unitID int64, details map[string]any) {
	e := auth.AuditAccessEntry(ctx, p, store.AccessEntry{UnitID: &unitID, Action: store.ActionCSVUploaded, Details: details})
	if err := s.store.LogAccess(context.WithoutCancel(ctx), e); err != nil {
		s.logger.ErrorContext(ctx, "write access log", "action", store.ActionCSVUploaded, "error", err)
	}
}

func cleanFileName(name string) string {
	name = path.Base(strings.ReplaceAll(strings.TrimSpace(name), "\\", "/"))
	if name == "" || name == "." || name == "/" {
		return "upload.csv"
	}
	if len(name) > 200 {
		name = name[:200]
	}
	return name
}

// CleanUp fails the submissions a dead process left processing or inactive before
// `before`, and removes what they loaded.
func (s *Service) CleanUp(ctx context.Context, before time.Time) ([]int64, error) {
	return s.store.CleanUpInterrupted(ctx, before)
}

// load adapts a read file to the store's streaming load.
type load struct {
	ctx      context.Context
	f        *audit.File
	vr       *audit.VisitReader
	progress func(string, int)
	// rowIssues counts the patient-level issues of each row, for the visits' counts.
	rowIssues map[int]int
	errs      []store.CellError
	n         int
}

func newLoad(ctx context.Context, f *audit.File, progress func(string, int)) *load {
	l := &load{ctx: ctx, f: f, vr: f.Visits(), progress: progress, rowIssues: map[int]int{}}
	for _, is := range f.Issues {
		l.rowIssues[is.Row]++
		l.errs = append(l.errs, cellError(is))
	}
	return l
}

func cellError(is audit.Issue) store.CellError {
	return store.CellError{Row: is.Row, Field: is.Field.Key(), Code: is.Code, Message: is.Message}
}

func (l *load) storeLoad() store.SubmissionLoad {
	patients := make([]store.PatientRow, len(l.f.Patients))
	for i, p := range l.f.Patients {
		patients[i] = store.PatientRow{Ordinal: p.Index, Identifier: p.Key, FirstRow: p.FirstRow, VisitCount: p.Visits(), Values: patientValues(p)}
	}
	return store.SubmissionLoad{Patients: patients, NextVisit: l.next, Errors: func() []store.CellError { return l.errs }}
}

func (l *load) next() (store.VisitRow, bool, error) {
	v, err := l.vr.Next(l.ctx)
	if errors.Is(err, io.EOF) {
		return store.VisitRow{}, false, nil
	}
	if err != nil {
		return store.VisitRow{}, false, err
	}
	for _, is := range v.Issues {
		l.errs = append(l.errs, cellError(is))
	}
	l.n++
	if l.n%5000 == 0 {
		l.progress("storing", l.n)
	}
	return store.VisitRow{PatientOrdinal: v.Patient.Index, Row: v.Row, Cells: v.Cells,
		ErrorCount: len(v.Issues) + l.rowIssues[v.Row], Values: visitValues(v)}, true, nil
}

// dbValue converts a checked cell to what its column holds: nil when unset, a date, a
// float, a small integer for codes and whole measurements, or text.
func dbValue(f audit.Field, v audit.Value) any {
	if !v.Set {
		return nil
	}
	info := f.Info()
	switch info.Kind {
	case audit.KindDate:
		return v.Date
	case audit.KindNumber:
		if info.Range != nil && info.Range.Whole {
			return int16(v.Num)
		}
		return v.Num
	case audit.KindCode:
		if f == audit.Ethnicity {
			return v.Text
		}
		n, err := strconv.ParseInt(v.Text, 10, 16)
		if err != nil {
			return nil
		}
		return int16(n)
	}
	return v.Text
}

var (
	patientFields = fieldsOf(store.PatientValueColumns)
	visitFields   = fieldsOf(store.VisitValueColumns)
)

// fieldsOf maps store columns to audit fields by key; columns that are not a dataset
// field (checks, centiles, BMI) map to -1 and are filled by name.
func fieldsOf(cols []string) []audit.Field {
	out := make([]audit.Field, len(cols))
	for i, c := range cols {
		f, ok := audit.FieldByKey(c)
		if !ok {
			f = -1
		}
		out[i] = f
	}
	return out
}

func patientValues(p *audit.Patient) []any {
	vals := make([]any, len(store.PatientValueColumns))
	for i, c := range store.PatientValueColumns {
		switch c {
		case "postcode_check":
			vals[i] = string(p.PostcodeCheck.Status)
		case "gp_practice_check":
			vals[i] = string(p.GPPracticeCheck.Status)
		case "deprivation_check":
			vals[i] = string(p.DeprivationCheck.Status)
		case "imd_quintile":
			if p.IMDQuintile > 0 {
				vals[i] = int16(p.IMDQuintile)
			}
		default:
			if f := patientFields[i]; f >= 0 {
				vals[i] = dbValue(f, p.Values[f])
			}
		}
	}
	return vals
}

func visitValues(v *audit.Visit) []any {
	vals := make([]any, len(store.VisitValueColumns))
	ptr := func(x *float64) any {
		if x == nil {
			return nil
		}
		return *x
	}
	for i, c := range store.VisitValueColumns {
		switch c {
		case "bmi":
			if v.BMI.Set {
				vals[i] = v.BMI.Num
			}
		case "centile_check":
			if v.Centiles.Check.Status != "" {
				vals[i] = string(v.Centiles.Check.Status)
			}
		case "height_centile":
			vals[i] = ptr(v.Centiles.Height)
		case "weight_centile":
			vals[i] = ptr(v.Centiles.Weight)
		case "bmi_centile":
			vals[i] = ptr(v.Centiles.BMI)
		default:
			if f := visitFields[i]; f >= 0 {
				vals[i] = dbValue(f, v.Values[f])
			}
		}
	}
	return vals
}

// Status says whether the period takes submissions today.
func (s *Service) Status(p audit.Period) audit.PeriodStatus { return s.schedule.Status(p, s.now()) }

// Today is the service's UK date.
func (s *Service) Today() time.Time { return audit.DateOf(s.now()) }
