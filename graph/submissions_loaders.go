package graph

import (
	"context"

	"caregraph/store"

	"github.com/99designs/gqlgen/graphql"
	"github.com/vektah/gqlparser/v2/ast"
	"github.com/vikstrous/dataloadgen"
)

// AuditLoaders batch the relations of submissions and patients.
type AuditLoaders struct {
	// Submissions are submissions by id.
	Submissions *dataloadgen.Loader[int64, store.Submission]
	// UnitSubmissions are the submissions of a unit (and year, 0 for all), newest first.
	UnitSubmissions *dataloadgen.Loader[store.SubmissionKey, []store.Submission]
	// ErrorSummaries are each submission's error counts by column and code.
	ErrorSummaries *dataloadgen.Loader[int64, []store.ErrorCount]
	// Patients are patients by id.
	Patients *dataloadgen.Loader[int64, store.Patient]
	// Visits, Transfers and Errors are each patient's, by patient id.
	Visits    *dataloadgen.Loader[int64, []store.Visit]
	Transfers *dataloadgen.Loader[int64, []store.Transfer]
	Errors    *dataloadgen.Loader[int64, []store.SubmissionError]
}

// orEmpty gives every key asked for an entry, so that a patient without visits (or a
// submission without errors) is an empty list rather than a loader error.
func orEmpty[K comparable, V any](fetch func(context.Context, []K) (map[K][]V, error)) func(context.Context, []K) (map[K][]V, error) {
	return func(ctx context.Context, keys []K) (map[K][]V, error) {
		m, err := fetch(ctx, keys)
		if err != nil {
			return nil, err
		}
		for _, k := range keys {
			if _, ok := m[k]; !ok {
				m[k] = []V{}
			}
		}
		return m, nil
	}
}

func newAuditLoaders(st *store.Store) *AuditLoaders {
	wait := dataloadgen.WithWait(loaderWait)
	return &AuditLoaders{
		Submissions:     dataloadgen.NewMappedLoader(st.SubmissionsByID, wait),
		UnitSubmissions: dataloadgen.NewMappedLoader(orEmpty(st.SubmissionsOf), wait),
		ErrorSummaries:  dataloadgen.NewMappedLoader(orEmpty(st.ErrorSummaries), wait),
		Patients:        dataloadgen.NewMappedLoader(st.PatientsByID, wait),
		Visits:          dataloadgen.NewMappedLoader(orEmpty(st.VisitsOfPatients), wait),
		Transfers:       dataloadgen.NewMappedLoader(orEmpty(st.TransfersOfPatients), wait),
		Errors:          dataloadgen.NewMappedLoader(orEmpty(st.ErrorsOfPatients), wait),
	}
}

// patientRowTypes are the types whose fragments count when reading what the rows of a
// patient list select.
var patientRowTypes = []string{"Patient", "PatientConnection", "PatientEdge", "Visit", "Transfer", "Submission", "Node"}

// selectedBelow lists every field name selected below the current field (to a depth of
// eight), fragments on the patient types included.
func selectedBelow(ctx context.Context) map[string]bool {
	out := map[string]bool{}
	fc := graphql.GetFieldContext(ctx)
	if fc == nil || fc.Field.Field == nil || !graphql.HasOperationContext(ctx) {
		return out
	}
	op := graphql.GetOperationContext(ctx)
	var walk func(ss ast.SelectionSet, depth int)
	walk = func(ss ast.SelectionSet, depth int) {
		if depth > 8 {
			return
		}
		for _, f := range graphql.CollectFields(op, ss, patientRowTypes) {
			out[f.Name] = true
			walk(f.Selections, depth+1)
		}
	}
	walk(fc.Field.Selections, 0)
	return out
}

// prefetchPatients loads, in one statement each, the relations the rows of a page of
// patients select, and primes the loaders with them. A dataloader only batches the keys
// that arrive within its wait; the rows of a long page are resolved by many goroutines
// that do not all ask in time, so without this the batches would split and the number
// of statements would grow with the page.
func (r *Resolver) prefetchPatients(ctx context.Context, unitID, submissionID int64, ps []store.Patient) error {
	if len(ps) == 0 {
		return nil
	}
	sel := selectedBelow(ctx)
	l := r.loaders(ctx)
	ids := make([]int64, len(ps))
	for i, p := range ps {
		ids[i] = p.ID
		l.Audit.Patients.Prime(p.ID, p)
	}
	if sel["unit"] || sel["previousUnit"] {
		if _, err := l.Accounts.Units.Load(ctx, unitID); err != nil && !isNotFound(err) {
			return err
		}
	}
	if sel["submission"] || sel["cells"] || sel["errors"] {
		if _, err := l.Audit.Submissions.Load(ctx, submissionID); err != nil && !isNotFound(err) {
			return err
		}
	}
	if sel["errorSummary"] {
		if _, err := l.Audit.ErrorSummaries.Load(ctx, submissionID); err != nil {
			return err
		}
	}
	if err := primeAll(ctx, sel["visits"], ids, r.Store.VisitsOfPatients, l.Audit.Visits); err != nil {
		return err
	}
	if err := primeAll(ctx, sel["errors"], ids, r.Store.ErrorsOfPatients, l.Audit.Errors); err != nil {
		return err
	}
	if !sel["transfers"] {
		return nil
	}
	ts, err := r.Store.TransfersOfPatients(ctx, ids)
	if err != nil {
		return err
	}
	var previous []int64
	for _, id := range ids {
		l.Audit.Transfers.Prime(id, append([]store.Transfer{}, ts[id]...))
		for _, t := range ts[id] {
			if t.PreviousUnitID != nil {
				previous = append(previous, *t.PreviousUnitID)
			}
		}
	}
	if sel["previousUnit"] && len(previous) > 0 {
		if _, err := l.Accounts.Units.LoadAll(ctx, previous); err != nil && !isNotFound(err) {
			return err
		}
	}
	return nil
}

// primeAll fetches a relation for every id in one call and primes the loader, giving the
// ids without rows an empty list.
func primeAll[V any](ctx context.Context, wanted bool, ids []int64, fetch func(context.Context, []int64) (map[int64][]V, error), l *dataloadgen.Loader[int64, []V]) error {
	if !wanted {
		return nil
	}
	m, err := fetch(ctx, ids)
	if err != nil {
		return err
	}
	for _, id := range ids {
		l.Prime(id, append([]V{}, m[id]...))
	}
	return nil
}
