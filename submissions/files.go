package submissions

import (
	"bytes"
	"context"
	"fmt"
	"strings"

	"caregraph/audit"
	"caregraph/auth"
	"caregraph/store"
)

// File is a download of a submission's CSV.
type File struct {
	Name string
	Data []byte
}

// Original returns the file a submission was uploaded as, byte for byte.
func (s *Service) Original(ctx context.Context, p *auth.Principal, id int64) (File, error) {
	sub, err := s.readable(ctx, p, id)
	if err != nil {
		return File{}, err
	}
	data, err := s.store.SubmissionFile(ctx, id)
	if err != nil {
		return File{}, err
	}
	s.logView(ctx, p, sub, "original")
	return File{Name: sub.FileName, Data: data}, nil
}

// Annotated returns the file with each row's errors in a last column.
func (s *Service) Annotated(ctx context.Context, p *auth.Principal, id int64) (File, error) {
	sub, err := s.readable(ctx, p, id)
	if err != nil {
		return File{}, err
	}
	data, err := s.store.SubmissionFile(ctx, id)
	if err != nil {
		return File{}, err
	}
	errs, err := s.store.AllSubmissionErrors(ctx, id)
	if err != nil {
		return File{}, err
	}
	notes := map[int][]string{}
	for _, e := range errs {
		notes[e.Row] = append(notes[e.Row], HeadingOf(sub.DatasetVersion, e.Field)+": "+e.Message)
	}
	var buf bytes.Buffer
	if err := audit.Annotate(&buf, data, notes); err != nil {
		return File{}, fmt.Errorf("annotate submission %d: %w", id, err)
	}
	s.logView(ctx, p, sub, "annotated")
	name := strings.TrimSuffix(sub.FileName, ".csv") + " (errors).csv"
	return File{Name: name, Data: buf.Bytes()}, nil
}

// readable returns the submission if p may read its unit's data. A missing submission
// answers as one the caller may not see, so ids reveal nothing.
func (s *Service) readable(ctx context.Context, p *auth.Principal, id int64) (store.Submission, error) {
	sub, err := s.store.SubmissionByID(ctx, id)
	if err != nil {
		if perr := s.policy.CanReadAuditData(p, 0); perr != nil {
			return store.Submission{}, perr
		}
		return store.Submission{}, err
	}
	if err := s.policy.CanReadAuditData(p, sub.UnitID); err != nil {
		return store.Submission{}, err
	}
	return sub, nil
}

func (s *Service) logView(ctx context.Context, p *auth.Principal, sub store.Submission, what string) {
	e := auth.AuditAccessEntry(ctx, p, store.AccessEntry{UnitID: &sub.UnitID, Action: store.ActionPatientViewed,
		Details: map[string]any{"submission_id": sub.ID, "download": what}})
	if err := s.store.LogAccess(context.WithoutCancel(ctx), e); err != nil {
		s.logger.ErrorContext(ctx, "write access log", "action", store.ActionPatientViewed, "error", err)
	}
}

// HeadingOf is the template heading of a field in a dataset version, or the field's
// label when the dataset has no such column.
func HeadingOf(version int, field string) string {
	d := audit.DatasetFor(version)
	f, ok := audit.FieldByKey(field)
	if !ok {
		return field
	}
	if c, ok := d.Column(f); ok {
		return c.Heading
	}
	return f.Label()
}
