package store

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
)

// Patient is a patient of a submission. Values holds the typed columns named in
// PatientValueColumns (nil for a blank or invalid cell): dates as time.Time, codes as
// int16 (ethnicity as a string), text as string.
type Patient struct {
	ID             int64
	SubmissionID   int64
	UnitID         int64
	AuditYear      int
	Ordinal        int
	IdentifierKind string
	Identifier     string
	FirstRow       int
	VisitCount     int
	ErrorCount     int
	Values         map[string]any
}

// Visit is one row of a submission. Cells are its raw cells in the order of the
// submission's Columns; Values holds the typed columns named in VisitValueColumns.
type Visit struct {
	ID           int64
	SubmissionID int64
	PatientID    int64
	Row          int
	Cells        []string
	ErrorCount   int
	Values       map[string]any
}

// Transfer is a patient's record of leaving the unit, and of the unit they came from.
type Transfer struct {
	ID             int64
	PatientID      int64
	UnitID         int64
	PreviousUnitID *int64
	PreviousLeftOn *time.Time
	LeftOn         *time.Time
	Reason         *int16
}

// ErrorCount counts a submission's errors of one field and code.
type ErrorCount struct {
	Field string
	Code  string
	Count int
	Rows  int
}

var (
	patientColumns = `p.id, p.submission_id, p.unit_id, p.audit_year, p.ordinal, p.identifier_kind, p.identifier,
    p.first_row, p.visit_count, p.error_count, ` + qualified("p", PatientValueColumns)
	visitColumns = `v.id, v.submission_id, v.patient_id, v.row_number, v.cells, v.error_count, ` + qualified("v", VisitValueColumns)
)

func qualified(alias string, cols []string) string {
	out := make([]string, len(cols))
	for i, c := range cols {
		out[i] = alias + "." + pgx.Identifier{c}.Sanitize()
	}
	return strings.Join(out, ", ")
}

// scanValues reads the trailing typed columns of a row into a map by column name.
func scanValues(row pgx.CollectableRow, fixed int, names []string) (map[string]any, []any, error) {
	vals, err := row.Values()
	if err != nil {
		return nil, nil, err
	}
	if len(vals) != fixed+len(names) {
		return nil, nil, fmt.Errorf("row has %d columns, want %d", len(vals), fixed+len(names))
	}
	m := make(map[string]any, len(names))
	for i, n := range names {
		if v := vals[fixed+i]; v != nil {
			m[n] = v
		}
	}
	return m, vals[:fixed], nil
}

func scanPatient(row pgx.CollectableRow) (Patient, error) {
	var p Patient
	m, head, err := scanValues(row, 10, PatientValueColumns)
	if err != nil {
		return p, err
	}
	p.Values = m
	err = assign(head, &p.ID, &p.SubmissionID, &p.UnitID, &p.AuditYear, &p.Ordinal, &p.IdentifierKind, &p.Identifier,
		&p.FirstRow, &p.VisitCount, &p.ErrorCount)
	return p, err
}

func scanVisit(row pgx.CollectableRow) (Visit, error) {
	var v Visit
	m, head, err := scanValues(row, 6, VisitValueColumns)
	if err != nil {
		return v, err
	}
	v.Values = m
	err = assign(head, &v.ID, &v.SubmissionID, &v.PatientID, &v.Row, &v.Cells, &v.ErrorCount)
	return v, err
}

// assign copies decoded values into typed destinations: int64, int (from any integer),
// string and []string.
func assign(vals []any, dst ...any) error {
	for i, d := range dst {
		switch p := d.(type) {
		case *int64:
			n, ok := asInt64(vals[i])
			if !ok {
				return fmt.Errorf("column %d: %T is not an integer", i, vals[i])
			}
			*p = n
		case *int:
			n, ok := asInt64(vals[i])
			if !ok {
				return fmt.Errorf("column %d: %T is not an integer", i, vals[i])
			}
			*p = int(n)
		case *string:
			s, ok := vals[i].(string)
			if !ok {
				return fmt.Errorf("column %d: %T is not text", i, vals[i])
			}
			*p = s
		case *[]string:
			switch a := vals[i].(type) {
			case []any:
				out := make([]string, len(a))
				for j, x := range a {
					out[j], _ = x.(string)
				}
				*p = out
			case []string:
				*p = a
			default:
				return fmt.Errorf("column %d: %T is not a text array", i, vals[i])
			}
		default:
			return fmt.Errorf("column %d: unsupported destination %T", i, d)
		}
	}
	return nil
}

func asInt64(v any) (int64, bool) {
	switch n := v.(type) {
	case int64:
		return n, true
	case int32:
		return int64(n), true
	case int16:
		return int64(n), true
	}
	return 0, false
}

const sqlSubmissionsFrom = `FROM submissions s JOIN paediatric_diabetes_units u ON u.id = s.unit_id`

// SubmissionByID returns a submission without its file, or ErrNotFound.
func (s *Store) SubmissionByID(ctx context.Context, id int64) (Submission, error) {
	rows, err := s.db.Query(ctx, `SELECT `+submissionColumns+` `+sqlSubmissionsFrom+` WHERE s.id = $1`, id)
	if err != nil {
		return Submission{}, fmt.Errorf("submission %d: %w", id, err)
	}
	sub, err := pgx.CollectExactlyOneRow(rows, scanSubmission)
	if errors.Is(err, pgx.ErrNoRows) {
		return Submission{}, ErrNotFound
	}
	if err != nil {
		return Submission{}, fmt.Errorf("submission %d: %w", id, err)
	}
	return sub, nil
}

// SubmissionsByID returns the submissions with the ids, by id.
func (s *Store) SubmissionsByID(ctx context.Context, ids []int64) (map[int64]Submission, error) {
	rows, err := s.db.Query(ctx, `SELECT `+submissionColumns+` `+sqlSubmissionsFrom+` WHERE s.id = ANY($1)`, ids)
	return collectByKey(rows, err, "submissions by id", scanSubmission, func(sub Submission) int64 { return sub.ID })
}

// SubmissionKey asks for the submissions of a unit, of one audit year or (Year 0) all.
type SubmissionKey struct {
	UnitID int64
	Year   int
}

// SubmissionsOf returns the submissions of each unit and year asked for, newest first.
func (s *Store) SubmissionsOf(ctx context.Context, keys []SubmissionKey) (map[SubmissionKey][]Submission, error) {
	units := make([]int64, len(keys))
	years := make([]int32, len(keys))
	for i, k := range keys {
		units[i], years[i] = k.UnitID, int32(k.Year)
	}
	rows, err := s.db.Query(ctx, `
SELECT k.unit_id, k.year, `+submissionColumns+`
FROM unnest($1::bigint[], $2::int[]) AS k(unit_id, year)
JOIN submissions s ON s.unit_id = k.unit_id AND (k.year = 0 OR s.audit_year = k.year)
JOIN paediatric_diabetes_units u ON u.id = s.unit_id
ORDER BY s.id DESC`, units, years)
	if err != nil {
		return nil, fmt.Errorf("submissions of units: %w", err)
	}
	out := map[SubmissionKey][]Submission{}
	_, err = pgx.CollectRows(rows, func(row pgx.CollectableRow) (struct{}, error) {
		var k SubmissionKey
		var year int32
		var sub Submission
		err := row.Scan(&k.UnitID, &year, &sub.ID, &sub.UnitID, &sub.PZCode, &sub.AuditYear, &sub.DatasetVersion, &sub.Identifier, &sub.State,
			&sub.UploadedBy, &sub.Via, &sub.FileName, &sub.FileSize, &sub.FileSHA256, &sub.Encoding, &sub.Columns, &sub.Rows,
			&sub.Patients, &sub.Visits, &sub.InvalidRows, &sub.Errors, &sub.UploadedAt, &sub.ProcessedAt,
			&sub.ActivatedAt, &sub.SupersededAt, &sub.SupersededBy, &sub.Failure)
		k.Year = int(year)
		out[k] = append(out[k], sub)
		return struct{}{}, err
	})
	if err != nil {
		return nil, fmt.Errorf("submissions of units: %w", err)
	}
	return out, nil
}

// ActiveSubmission returns the unit's active submission for the audit year, or
// ErrNotFound.
func (s *Store) ActiveSubmission(ctx context.Context, unitID int64, year int) (Submission, error) {
	rows, err := s.db.Query(ctx, `SELECT `+submissionColumns+` `+sqlSubmissionsFrom+` WHERE s.unit_id = $1 AND s.audit_year = $2 AND s.state = 'active'`, unitID, year)
	if err != nil {
		return Submission{}, fmt.Errorf("active submission: %w", err)
	}
	sub, err := pgx.CollectExactlyOneRow(rows, scanSubmission)
	if errors.Is(err, pgx.ErrNoRows) {
		return Submission{}, ErrNotFound
	}
	if err != nil {
		return Submission{}, fmt.Errorf("active submission: %w", err)
	}
	return sub, nil
}

// SubmissionFile returns the original file of a submission.
func (s *Store) SubmissionFile(ctx context.Context, id int64) ([]byte, error) {
	var b []byte
	err := s.db.QueryRow(ctx, `SELECT file FROM submissions WHERE id = $1`, id).Scan(&b)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, ErrNotFound
	}
	if err != nil {
		return nil, fmt.Errorf("submission %d file: %w", id, err)
	}
	return b, nil
}

// ErrorQuery selects a page of a submission's errors, in row order.
type ErrorQuery struct {
	SubmissionID int64
	Row          *int
	Field        *string
	Code         *string
	// After is the cursor: the row and id of the last error of the previous page.
	AfterRow, AfterID int64
	Limit             int
}

// SubmissionError is a stored cell error with its id.
type SubmissionError struct {
	ID int64
	CellError
}

const sqlErrors = `
WITH matched AS (
    SELECT * FROM submission_errors
    WHERE submission_id = $1 AND ($2::int IS NULL OR row_number = $2)
      AND ($3::text IS NULL OR field = $3) AND ($4::text IS NULL OR code = $4)
)
SELECT id, submission_id, row_number, field, code, message, (SELECT count(*) FROM matched)
FROM matched
WHERE (row_number, id) > ($5, $6)
ORDER BY row_number, id
LIMIT $7`

// SubmissionErrors returns up to q.Limit errors and how many match in all.
func (s *Store) SubmissionErrors(ctx context.Context, q ErrorQuery) ([]SubmissionError, int, error) {
	rows, err := s.db.Query(ctx, sqlErrors, q.SubmissionID, q.Row, q.Field, q.Code, q.AfterRow, q.AfterID, q.Limit)
	if err != nil {
		return nil, 0, fmt.Errorf("submission errors: %w", err)
	}
	total := 0
	es, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (SubmissionError, error) {
		var e SubmissionError
		err := row.Scan(&e.ID, &e.SubmissionID, &e.Row, &e.Field, &e.Code, &e.Message, &total)
		return e, err
	})
	if err != nil {
		return nil, 0, fmt.Errorf("submission errors: %w", err)
	}
	if len(es) == 0 && (q.AfterRow > 0 || q.AfterID > 0) {
		err := s.db.QueryRow(ctx, `SELECT count(*) FROM submission_errors WHERE submission_id = $1 AND ($2::int IS NULL OR row_number = $2)
            AND ($3::text IS NULL OR field = $3) AND ($4::text IS NULL OR code = $4)`, q.SubmissionID, q.Row, q.Field, q.Code).Scan(&total)
		if err != nil {
			return nil, 0, fmt.Errorf("count submission errors: %w", err)
		}
	}
	return es, total, nil
}

// AllSubmissionErrors returns every error of a submission in row order, for the
// annotated file.
func (s *Store) AllSubmissionErrors(ctx context.Context, id int64) ([]CellError, error) {
	rows, err := s.db.Query(ctx, `SELECT submission_id, row_number, field, code, message FROM submission_errors WHERE submission_id = $1 ORDER BY row_number, id`, id)
	if err != nil {
		return nil, fmt.Errorf("submission errors: %w", err)
	}
	es, err := pgx.CollectRows(rows, pgx.RowToStructByPos[CellError])
	if err != nil {
		return nil, fmt.Errorf("submission errors: %w", err)
	}
	return es, nil
}

// ErrorSummaries counts the errors of each submission by field and code, most common first.
func (s *Store) ErrorSummaries(ctx context.Context, ids []int64) (map[int64][]ErrorCount, error) {
	rows, err := s.db.Query(ctx, `
SELECT submission_id, field, code, count(*), count(DISTINCT row_number)
FROM submission_errors WHERE submission_id = ANY($1)
GROUP BY submission_id, field, code
ORDER BY submission_id, count(*) DESC, field, code`, ids)
	if err != nil {
		return nil, fmt.Errorf("error summaries: %w", err)
	}
	out := map[int64][]ErrorCount{}
	_, err = pgx.CollectRows(rows, func(row pgx.CollectableRow) (struct{}, error) {
		var id int64
		var c ErrorCount
		err := row.Scan(&id, &c.Field, &c.Code, &c.Count, &c.Rows)
		out[id] = append(out[id], c)
		return struct{}{}, err
	})
	if err != nil {
		return nil, fmt.Errorf("error summaries: %w", err)
	}
	return out, nil
}

// PatientQuery selects a page of a submission's patients, in the order they first appear
// in the file.
type PatientQuery struct {
	SubmissionID int64
	// Identifier matches an NHS number (spaces and dashes ignored) or a Unique Reference
	// Number exactly.
	Identifier   *string
	DiabetesType *int
	HasErrors    *bool
	// FromOrdinal is the cursor: the first ordinal of the page (the last one's plus one).
	FromOrdinal int
	Limit       int
}

var sqlPatients = `
WITH matched AS (
    SELECT * FROM patients
    WHERE submission_id = $1 AND ($2::text IS NULL OR identifier = $2)
      AND ($3::int IS NULL OR diabetes_type = $3) AND ($4::boolean IS NULL OR (error_count > 0) = $4)
)
SELECT ` + patientColumns + `, (SELECT count(*) FROM matched)
FROM matched p
WHERE p.ordinal >= $5
ORDER BY p.ordinal
LIMIT $6`

// Patients returns up to q.Limit patients and how many match in all.
func (s *Store) Patients(ctx context.Context, q PatientQuery) ([]Patient, int, error) {
	rows, err := s.db.Query(ctx, sqlPatients, q.SubmissionID, q.Identifier, q.DiabetesType, q.HasErrors, q.FromOrdinal, q.Limit)
	if err != nil {
		return nil, 0, fmt.Errorf("patients: %w", err)
	}
	total := 0
	ps, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (Patient, error) {
		vals, err := row.Values()
		if err != nil {
			return Patient{}, err
		}
		n, _ := asInt64(vals[len(vals)-1])
		total = int(n)
		return scanPatient(trimmedRow{row, len(vals) - 1})
	})
	if err != nil {
		return nil, 0, fmt.Errorf("patients: %w", err)
	}
	if len(ps) == 0 && q.FromOrdinal > 0 {
		q.FromOrdinal, q.Limit = 0, 1
		_, total, err = s.Patients(ctx, q)
	}
	return ps, total, err
}

// trimmedRow hides the trailing columns of a row from scanPatient.
type trimmedRow struct {
	pgx.CollectableRow
	n int
}

func (r trimmedRow) Values() ([]any, error) {
	vals, err := r.CollectableRow.Values()
	if err != nil {
		return nil, err
	}
	return vals[:r.n], nil
}

// PatientsByID returns the patients with the ids, by id.
func (s *Store) PatientsByID(ctx context.Context, ids []int64) (map[int64]Patient, error) {
	rows, err := s.db.Query(ctx, `SELECT `+patientColumns+` FROM patients p WHERE p.id = ANY($1)`, ids)
	return collectByKey(rows, err, "patients by id", scanPatient, func(p Patient) int64 { return p.ID })
}

// PatientByID returns one patient, or ErrNotFound.
func (s *Store) PatientByID(ctx context.Context, id int64) (Patient, error) {
	ps, err := s.PatientsByID(ctx, []int64{id})
	if err != nil {
		return Patient{}, err
	}
	p, ok := ps[id]
	if !ok {
		return Patient{}, ErrNotFound
	}
	return p, nil
}

// VisitsOfPatients returns each patient's visits in row order.
func (s *Store) VisitsOfPatients(ctx context.Context, ids []int64) (map[int64][]Visit, error) {
	rows, err := s.db.Query(ctx, `SELECT `+visitColumns+` FROM visits v WHERE v.patient_id = ANY($1) ORDER BY v.patient_id, v.row_number`, ids)
	if err != nil {
		return nil, fmt.Errorf("visits of patients: %w", err)
	}
	vs, err := pgx.CollectRows(rows, scanVisit)
	if err != nil {
		return nil, fmt.Errorf("visits of patients: %w", err)
	}
	out := make(map[int64][]Visit, len(ids))
	for _, v := range vs {
		out[v.PatientID] = append(out[v.PatientID], v)
	}
	return out, nil
}

// TransfersOfPatients returns each patient's transfers.
func (s *Store) TransfersOfPatients(ctx context.Context, ids []int64) (map[int64][]Transfer, error) {
	rows, err := s.db.Query(ctx, `SELECT id, patient_id, unit_id, previous_unit_id, previous_left_on, date_leaving_service, reason_leaving_service
        FROM transfers WHERE patient_id = ANY($1) ORDER BY patient_id, id`, ids)
	if err != nil {
		return nil, fmt.Errorf("transfers of patients: %w", err)
	}
	ts, err := pgx.CollectRows(rows, pgx.RowToStructByPos[Transfer])
	if err != nil {
		return nil, fmt.Errorf("transfers of patients: %w", err)
	}
	out := make(map[int64][]Transfer, len(ids))
	for _, t := range ts {
		out[t.PatientID] = append(out[t.PatientID], t)
	}
	return out, nil
}

// ErrorsOfPatients returns the errors on each patient's rows, in row order.
func (s *Store) ErrorsOfPatients(ctx context.Context, ids []int64) (map[int64][]SubmissionError, error) {
	rows, err := s.db.Query(ctx, `
SELECT v.patient_id, e.id, e.submission_id, e.row_number, e.field, e.code, e.message
FROM visits v JOIN submission_errors e ON e.submission_id = v.submission_id AND e.row_number = v.row_number
WHERE v.patient_id = ANY($1)
ORDER BY v.patient_id, e.row_number, e.id`, ids)
	if err != nil {
		return nil, fmt.Errorf("errors of patients: %w", err)
	}
	out := make(map[int64][]SubmissionError, len(ids))
	_, err = pgx.CollectRows(rows, func(row pgx.CollectableRow) (struct{}, error) {
		var pid int64
		var e SubmissionError
		err := row.Scan(&pid, &e.ID, &e.SubmissionID, &e.Row, &e.Field, &e.Code, &e.Message)
		out[pid] = append(out[pid], e)
		return struct{}{}, err
	})
	if err != nil {
		return nil, fmt.Errorf("errors of patients: %w", err)
	}
	return out, nil
}
