package store

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
)

// Submission states, as stored in submissions.state.
const (
	SubmissionProcessing = "processing"
	SubmissionInactive   = "inactive"
	SubmissionActive     = "active"
	SubmissionSuperseded = "superseded"
	SubmissionFailed     = "failed"
)

// Ways a submission arrives, as stored in submissions.via.
const (
	ViaAPI         = "api"
	ViaCommandLine = "command_line"
)

// uploadLockClass is the first key of the session advisory lock an upload holds on its
// submission while it works; the second is the submission id. A submission left
// processing whose lock nobody holds was left by a process that died.
const uploadLockClass = 726_201_106

// activationLockClass serialises activations of one unit (second key: the unit id).
const activationLockClass = 726_201_107

// Submission is a unit's upload for an audit year, without its file.
type Submission struct {
	ID             int64
	UnitID         int64
	PZCode         string
	AuditYear      int
	DatasetVersion int
	Identifier     string
	State          string
	UploadedBy     *int64
	Via            string
	FileName       string
	FileSize       int
	FileSHA256     []byte
	Encoding       string
	Columns        []string
	Rows           int
	Patients       int
	Visits         int
	InvalidRows    int
	Errors         int
	UploadedAt     time.Time
	ProcessedAt    *time.Time
	ActivatedAt    *time.Time
	SupersededAt   *time.Time
	SupersededBy   *int64
	Failure        *string
}

const submissionColumns = `s.id, s.unit_id, u.pz_code, s.audit_year, s.dataset_version, s.identifier, s.state,
    s.uploaded_by, s.via, s.file_name, length(s.file), s.file_sha256, s.encoding, s.columns, s.row_count,
    s.patient_count, s.visit_count, s.invalid_row_count, s.error_count, s.uploaded_at, s.processed_at,
    s.activated_at, s.superseded_at, s.superseded_by, s.failure`

func scanSubmission(row pgx.CollectableRow) (Submission, error) {
	var s Submission
	err := row.Scan(&s.ID, &s.UnitID, &s.PZCode, &s.AuditYear, &s.DatasetVersion, &s.Identifier, &s.State,
		&s.UploadedBy, &s.Via, &s.FileName, &s.FileSize, &s.FileSHA256, &s.Encoding, &s.Columns, &s.Rows,
		&s.Patients, &s.Visits, &s.InvalidRows, &s.Errors, &s.UploadedAt, &s.ProcessedAt,
		&s.ActivatedAt, &s.SupersededAt, &s.SupersededBy, &s.Failure)
	return s, err
}

// NewSubmission is what starting an upload records.
type NewSubmission struct {
	UnitID         int64
	AuditYear      int
	DatasetVersion int
	Identifier     string
	UploadedBy     *int64
	Via            string
	FileName       string
	File           []byte
	Encoding       string
	Columns        []string
}

// PatientRow is a patient to load. Values follow PatientValueColumns.
type PatientRow struct {
	Ordinal    int
	Identifier string
	FirstRow   int
	VisitCount int
	Values     []any
}

// VisitRow is a visit to load, of the patient with ordinal PatientOrdinal. Values follow
// VisitValueColumns.
type VisitRow struct {
	PatientOrdinal int
	Row            int
	Cells          []string
	ErrorCount     int
	Values         []any
}

// CellError is a problem of one cell of a submission.
type CellError struct {
	SubmissionID int64
	Row          int
	Field        string
	Code         string
	Message      string
}

// PatientValueColumns are the typed patient columns a load fills, in the order of
// PatientRow.Values.
var PatientValueColumns = []string{
	"nhs_number", "unique_reference_number", "date_of_birth", "postcode", "sex", "ethnicity",
	"adhd_asd", "learning_disability", "diabetes_type", "diagnosis_date", "immunotherapy", "immunotherapy_date",
	"date_leaving_service", "reason_leaving_service", "death_date", "gp_practice_code", "pdu_number",
	"postcode_check", "gp_practice_check", "deprivation_check", "imd_quintile",
}

// VisitValueColumns are the typed visit columns a load fills, in the order of
// VisitRow.Values.
var VisitValueColumns = []string{
	"visit_date", "height", "weight", "height_weight_date", "bmi", "centile_check", "height_centile", "weight_centile",
	"bmi_centile", "hba1c", "hba1c_format", "hba1c_date", "treatment", "closed_loop_system", "glucose_monitoring",
	"insulin_regimen", "non_insulin_medication", "lifestyle_modification", "cgm", "systolic_bp", "diastolic_bp",
	"bp_date", "foot_exam_date", "retinal_screening_date", "retinal_screening_result", "acr", "acr_date",
	"albuminuria_stage", "total_cholesterol", "total_cholesterol_date", "thyroid_function_date", "thyroid_treatment",
	"coeliac_screen_date", "gluten_free_diet", "psych_screening_date", "psych_additional_support",
	"psych_support_outcome", "smoking_status", "smoking_vaping_status", "smoking_cessation_date", "carb_counting_date",
	"dietitian_offered", "dietitian_date", "ketone_testing", "flu_immunisation_date", "sick_day_rules_date",
	"admission_date", "discharge_date", "admission_reason", "dka_therapies", "admission_reason_other", "blood_ph",
	"blood_bicarbonate",
}

// SubmissionLoad is everything a submission holds, patients in memory and visits
// streamed.
type SubmissionLoad struct {
	Patients []PatientRow
	// NextVisit returns the next visit, and false after the last one.
	NextVisit func() (VisitRow, bool, error)
	// Errors is called once the last visit has been read: every cell error of the file.
	Errors func() []CellError
}

// LoadCounts are what a load stored.
type LoadCounts struct {
	Patients, Visits, Errors, InvalidRows int
}

// Upload is one submission being written. It holds a connection of its own, with a
// session advisory lock on the submission, from BeginUpload to Close: the lock is how
// CleanUpInterrupted tells a live upload from one whose process died.
type Upload struct {
	ID   int64
	conn *pgxpool.Conn
	// pool is the store on the pool: failing an upload must not depend on its own
	// connection, which a cancelled statement leaves closed.
	pool *Store
}

const sqlInsertSubmission = `
INSERT INTO submissions (unit_id, audit_year, dataset_version, identifier, uploaded_by, via, file_name, file,
    file_sha256, encoding, columns)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)
RETURNING id, pg_advisory_lock($12, (id % 2147483647)::int)`

// BeginUpload records a new submission, state processing, with its original file, and
// returns the upload that will load it. The row is committed at once so that the
// attempt is on record even if the process dies; the advisory lock is taken by the
// same statement, before any other session can see the row.
func (s *Store) BeginUpload(ctx context.Context, n NewSubmission) (*Upload, error) {
	pool, ok := s.db.(*pgxpool.Pool)
	if !ok {
		return nil, errors.New("begin upload: the store must run on a connection pool")
	}
	conn, err := pool.Acquire(ctx)
	if err != nil {
		return nil, fmt.Errorf("begin upload: %w", err)
	}
	sum := sha256.Sum256(n.File)
	u := &Upload{conn: conn, pool: s}
	err = conn.QueryRow(ctx, sqlInsertSubmission, n.UnitID, n.AuditYear, n.DatasetVersion, n.Identifier, n.UploadedBy,
		n.Via, n.FileName, n.File, sum[:], n.Encoding, n.Columns, uploadLockClass).Scan(&u.ID, new(any))
	if err != nil {
		conn.Release()
		return nil, fmt.Errorf("record submission: %w", err)
	}
	return u, nil
}

// Close releases the upload's lock and connection. A connection whose state is in doubt
// (the context was cancelled mid-statement) is closed rather than returned to the pool,
// which ends its session and so its lock.
func (u *Upload) Close() {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if _, err := u.conn.Exec(ctx, `SELECT pg_advisory_unlock($1, ($2 % 2147483647)::int)`, uploadLockClass, u.ID); err != nil {
		_ = u.conn.Conn().Close(ctx)
	}
	u.conn.Release()
}

// Load writes the patients, visits, errors and transfers of the submission in one
// transaction and marks it inactive with its counts. On any error nothing of it stays.
func (u *Upload) Load(ctx context.Context, l SubmissionLoad) (LoadCounts, error) {
	var counts LoadCounts
	err := pgx.BeginFunc(ctx, u.conn, func(tx pgx.Tx) error {
		var unitID int64
		var year int
		var kind string
		if err := tx.QueryRow(ctx, `SELECT unit_id, audit_year, identifier FROM submissions WHERE id = $1 AND state = 'processing'`, u.ID).Scan(&unitID, &year, &kind); err != nil {
			return fmt.Errorf("read submission: %w", err)
		}
		ids, err := reservePatientIDs(ctx, tx, len(l.Patients))
		if err != nil {
			return err
		}
		if err := copyPatients(ctx, tx, u.ID, unitID, year, kind, l.Patients, ids); err != nil {
			return err
		}
		counts.Patients = len(l.Patients)
		src := &visitSource{next: l.NextVisit, submissionID: u.ID, patientIDs: ids}
		n, err := tx.CopyFrom(ctx, pgx.Identifier{"visits"}, append([]string{"submission_id", "patient_id", "row_number", "cells", "error_count"}, VisitValueColumns...), src)
		if err != nil {
			return fmt.Errorf("load visits: %w", err)
		}
		counts.Visits = int(n)
		errs := l.Errors()
		rows := map[int]bool{}
		_, err = tx.CopyFrom(ctx, pgx.Identifier{"submission_errors"}, []string{"submission_id", "row_number", "field", "code", "message"},
			pgx.CopyFromSlice(len(errs), func(i int) ([]any, error) {
				e := errs[i]
				rows[e.Row] = true
				return []any{u.ID, e.Row, e.Field, e.Code, e.Message}, nil
			}))
		if err != nil {
			return fmt.Errorf("load errors: %w", err)
		}
		counts.Errors, counts.InvalidRows = len(errs), len(rows)
		if _, err := tx.Exec(ctx, sqlPatientErrorCounts, u.ID); err != nil {
			return fmt.Errorf("count patient errors: %w", err)
		}
		if _, err := tx.Exec(ctx, sqlInsertTransfers, u.ID, unitID, year); err != nil {
			return fmt.Errorf("record transfers: %w", err)
		}
		tag, err := tx.Exec(ctx, `UPDATE submissions SET state = 'inactive', processed_at = now(), row_count = $2,
            patient_count = $3, visit_count = $2, invalid_row_count = $4, error_count = $5 WHERE id = $1 AND state = 'processing'`,
			u.ID, counts.Visits, counts.Patients, counts.InvalidRows, counts.Errors)
		if err != nil {
			return fmt.Errorf("mark submission inactive: %w", err)
		}
		if tag.RowsAffected() != 1 {
			return fmt.Errorf("mark submission inactive: %w", ErrConflict)
		}
		return nil
	})
	if err != nil {
		// A cancelled context can surface from the copy as the closed connection rather
		// than as the cancellation; callers tell the two apart, so the cause is kept.
		if cause := ctx.Err(); cause != nil && !errors.Is(err, cause) {
			err = fmt.Errorf("%w (%v)", cause, err)
		}
		return LoadCounts{}, fmt.Errorf("load submission %d: %w", u.ID, err)
	}
	return counts, nil
}

func reservePatientIDs(ctx context.Context, tx pgx.Tx, n int) ([]int64, error) {
	rows, err := tx.Query(ctx, `SELECT nextval(pg_get_serial_sequence('patients', 'id')) FROM generate_series(1, $1)`, n)
	if err != nil {
		return nil, fmt.Errorf("reserve patient ids: %w", err)
	}
	ids, err := pgx.CollectRows(rows, pgx.RowTo[int64])
	if err != nil {
		return nil, fmt.Errorf("reserve patient ids: %w", err)
	}
	return ids, nil
}

func copyPatients(ctx context.Context, tx pgx.Tx, submissionID, unitID int64, year int, kind string, ps []PatientRow, ids []int64) error {
	cols := append([]string{"id", "submission_id", "unit_id", "audit_year", "ordinal", "identifier_kind", "identifier", "first_row", "visit_count"}, PatientValueColumns...)
	_, err := tx.CopyFrom(ctx, pgx.Identifier{"patients"}, cols, pgx.CopyFromSlice(len(ps), func(i int) ([]any, error) {
		p := ps[i]
		if len(p.Values) != len(PatientValueColumns) {
			return nil, fmt.Errorf("patient %d has %d values, want %d", p.Ordinal, len(p.Values), len(PatientValueColumns))
		}
		vals := make([]any, 0, len(cols))
		vals = append(vals, ids[i], submissionID, unitID, year, p.Ordinal, kind, p.Identifier, p.FirstRow, p.VisitCount)
		return append(vals, p.Values...), nil
	}))
	if err != nil {
		return fmt.Errorf("load patients: %w", err)
	}
	return nil
}

// visitSource feeds streamed visits to CopyFrom, reusing one slice of values.
type visitSource struct {
	next         func() (VisitRow, bool, error)
	submissionID int64
	patientIDs   []int64
	cur          VisitRow
	vals         []any
	err          error
}

func (v *visitSource) Next() bool {
	row, ok, err := v.next()
	if err != nil {
		v.err = err
		return false
	}
	v.cur = row
	return ok
}

func (v *visitSource) Values() ([]any, error) {
	r := v.cur
	if r.PatientOrdinal < 0 || r.PatientOrdinal >= len(v.patientIDs) || len(r.Values) != len(VisitValueColumns) {
		return nil, fmt.Errorf("visit on row %d is malformed", r.Row)
	}
	v.vals = append(v.vals[:0], v.submissionID, v.patientIDs[r.PatientOrdinal], r.Row, r.Cells, r.ErrorCount)
	return append(v.vals, r.Values...), nil
}

func (v *visitSource) Err() error { return v.err }

const sqlPatientErrorCounts = `
UPDATE patients p SET error_count = c.n
FROM (SELECT v.patient_id, count(*) AS n
      FROM submission_errors e JOIN visits v ON v.submission_id = e.submission_id AND v.row_number = e.row_number
      WHERE e.submission_id = $1 GROUP BY v.patient_id) c
WHERE p.id = c.patient_id`

// The previous unit is the one whose active submission, of this or the previous audit
// year, last records the same patient leaving its service. The candidates (patients
// who left another unit) are few and gathered once, then hash-joined: a lateral lookup
// per patient is planned badly on rows loaded by the same transaction, whose
// statistics the planner does not have yet (7 s instead of 40 ms for 12,000 patients).
const sqlInsertTransfers = `
WITH left_elsewhere AS (
    SELECT DISTINCT ON (q.identifier_kind, q.identifier) q.identifier_kind, q.identifier, q.unit_id, q.date_leaving_service
    FROM patients q JOIN submissions s ON s.id = q.submission_id AND s.state = 'active'
    WHERE q.date_leaving_service IS NOT NULL AND q.unit_id <> $2 AND q.audit_year BETWEEN $3 - 1 AND $3
    ORDER BY q.identifier_kind, q.identifier, q.date_leaving_service DESC, q.id DESC
)
INSERT INTO transfers (patient_id, unit_id, previous_unit_id, previous_left_on, date_leaving_service, reason_leaving_service)
SELECT p.id, p.unit_id, e.unit_id, e.date_leaving_service, p.date_leaving_service, p.reason_leaving_service
FROM patients p
LEFT JOIN left_elsewhere e ON e.identifier = p.identifier AND e.identifier_kind = p.identifier_kind
WHERE p.submission_id = $1`

// Activate makes the loaded submission the unit's active one for its audit year, in one
// transaction: the previous active submission becomes superseded (its row and file
// stay) and its patients, visits and transfers are deleted. It returns the id of the
// submission it superseded, if any.
func (u *Upload) Activate(ctx context.Context) (*int64, error) {
	var previous *int64
	err := pgx.BeginFunc(ctx, u.conn, func(tx pgx.Tx) error {
		var unitID int64
		var year int
		if err := tx.QueryRow(ctx, `SELECT unit_id, audit_year FROM submissions WHERE id = $1 AND state = 'inactive'`, u.ID).Scan(&unitID, &year); err != nil {
			if errors.Is(err, pgx.ErrNoRows) {
				return fmt.Errorf("submission %d is not loaded: %w", u.ID, ErrConflict)
			}
			return err
		}
		if _, err := tx.Exec(ctx, `SELECT pg_advisory_xact_lock($1, ($2 % 2147483647)::int)`, activationLockClass, unitID); err != nil {
			return err
		}
		var prev int64
		err := tx.QueryRow(ctx, `UPDATE submissions SET state = 'superseded', superseded_at = now(), superseded_by = $3
            WHERE unit_id = $1 AND audit_year = $2 AND state = 'active' RETURNING id`, unitID, year, u.ID).Scan(&prev)
		switch {
		case err == nil:
			previous = &prev
			if err := deletePatientsOf(ctx, tx, prev); err != nil {
				return err
			}
		case !errors.Is(err, pgx.ErrNoRows):
			return fmt.Errorf("supersede: %w", err)
		}
		_, err = tx.Exec(ctx, `UPDATE submissions SET state = 'active', activated_at = now() WHERE id = $1`, u.ID)
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("activate submission %d: %w", u.ID, err)
	}
	return previous, nil
}

// deletePatientsOf removes a submission's visits, transfers and patients (its errors
// and file stay).
func deletePatientsOf(ctx context.Context, tx pgx.Tx, submissionID int64) error {
	if _, err := tx.Exec(ctx, `DELETE FROM visits WHERE submission_id = $1`, submissionID); err != nil {
		return fmt.Errorf("delete visits of submission %d: %w", submissionID, err)
	}
	if _, err := tx.Exec(ctx, `DELETE FROM transfers t USING patients p WHERE p.id = t.patient_id AND p.submission_id = $1`, submissionID); err != nil {
		return fmt.Errorf("delete transfers of submission %d: %w", submissionID, err)
	}
	if _, err := tx.Exec(ctx, `DELETE FROM patients WHERE submission_id = $1`, submissionID); err != nil {
		return fmt.Errorf("delete patients of submission %d: %w", submissionID, err)
	}
	return nil
}

// Fail marks the submission failed with the reason and removes whatever of it was
// loaded. It runs even when ctx is cancelled (the usual reason to fail).
func (u *Upload) Fail(ctx context.Context, reason string) error {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 30*time.Second)
	defer cancel()
	return u.pool.failSubmission(ctx, u.ID, reason, SubmissionProcessing, SubmissionInactive)
}

func (s *Store) failSubmission(ctx context.Context, id int64, reason string, from ...string) error {
	err := s.InTx(ctx, func(tx *Store) error {
		t := tx.db.(pgx.Tx)
		tag, err := t.Exec(ctx, `UPDATE submissions SET state = 'failed', failure = $2 WHERE id = $1 AND state = ANY($3)`, id, reason, from)
		if err != nil {
			return err
		}
		if tag.RowsAffected() == 0 {
			return nil
		}
		if err := deletePatientsOf(ctx, t, id); err != nil {
			return err
		}
		_, err = t.Exec(ctx, `DELETE FROM submission_errors WHERE submission_id = $1`, id)
		return err
	})
	if err != nil {
		return fmt.Errorf("mark submission %d failed: %w", id, err)
	}
	return nil
}

// InterruptedReason is the failure recorded for an upload whose process died.
const InterruptedReason = "interrupted: the server stopped before the upload finished; the previous data was kept"

// CleanUpInterrupted finds submissions left processing or inactive, uploaded before
// `before` (the start of this process), whose upload lock nobody holds: their process
// died. Each is marked failed and whatever it loaded is removed. It returns their ids.
func (s *Store) CleanUpInterrupted(ctx context.Context, before time.Time) ([]int64, error) {
	rows, err := s.db.Query(ctx, `SELECT id FROM submissions WHERE state IN ('processing', 'inactive') AND uploaded_at < $1 ORDER BY id`, before)
	if err != nil {
		return nil, fmt.Errorf("find interrupted submissions: %w", err)
	}
	candidates, err := pgx.CollectRows(rows, pgx.RowTo[int64])
	if err != nil {
		return nil, fmt.Errorf("find interrupted submissions: %w", err)
	}
	var cleaned []int64
	for _, id := range candidates {
		done, err := s.cleanUpIfAbandoned(ctx, id)
		if err != nil {
			return cleaned, err
		}
		if done {
			cleaned = append(cleaned, id)
		}
	}
	return cleaned, nil
}

// cleanUpIfAbandoned fails the submission if no session holds its upload lock. The lock
// is tried inside the transaction, as a transaction-level lock, so that it is released
// however the transaction ends.
func (s *Store) cleanUpIfAbandoned(ctx context.Context, id int64) (bool, error) {
	abandoned := false
	err := s.InTx(ctx, func(tx *Store) error {
		if err := tx.db.QueryRow(ctx, `SELECT pg_try_advisory_xact_lock($1, ($2 % 2147483647)::int)`, uploadLockClass, id).Scan(&abandoned); err != nil {
			return err
		}
		if !abandoned {
			return nil
		}
		return tx.failSubmission(ctx, id, InterruptedReason, SubmissionProcessing, SubmissionInactive)
	})
	if err != nil {
		return false, fmt.Errorf("clean up submission %d: %w", id, err)
	}
	return abandoned, nil
}
