package store_test

import (
	"context"
	"errors"
	"slices"
	"testing"
	"time"

	"caregraph/store"
	"caregraph/store/dbtest"
)

func newUnit(t *testing.T, db *dbtest.DB, pz string) int64 {
	t.Helper()
	var id int64
	if err := db.Pool.QueryRow(context.Background(), `INSERT INTO paediatric_diabetes_units (pz_code) VALUES ($1) RETURNING id`, pz).Scan(&id); err != nil {
		t.Fatal(err)
	}
	return id
}

// syntheticLoad is n patients with two visits each; patient i is NHS number key
// "id-i", born in 2014, the second visit of every patient carries one error.
func syntheticLoad(n int, prefix string) store.SubmissionLoad {
	var patients []store.PatientRow
	var visits []store.VisitRow
	var errs []store.CellError
	for i := 0; i < n; i++ {
		pv := make([]any, len(store.PatientValueColumns))
		for j, c := range store.PatientValueColumns {
			switch c {
			case "date_of_birth":
				pv[j] = time.Date(2014, 4, 1, 0, 0, 0, 0, time.UTC)
			case "diabetes_type":
				pv[j] = int16(1 + i%2)
			case "postcode_check", "gp_practice_check", "deprivation_check":
				pv[j] = "not_checked"
			}
		}
		if i == 0 {
			pv[slices.Index(store.PatientValueColumns, "date_leaving_service")] = time.Date(2024, 9, 1, 0, 0, 0, 0, time.UTC)
			pv[slices.Index(store.PatientValueColumns, "reason_leaving_service")] = int16(2)
		}
		patients = append(patients, store.PatientRow{Ordinal: i, Identifier: prefix + itoa(i), FirstRow: 2 + 2*i, VisitCount: 2, Values: pv})
		for k := 0; k < 2; k++ {
			vv := make([]any, len(store.VisitValueColumns))
			vv[slices.Index(store.VisitValueColumns, "visit_date")] = time.Date(2024, 5, 1+k, 0, 0, 0, 0, time.UTC)
			vv[slices.Index(store.VisitValueColumns, "hba1c")] = 53.5
			vv[slices.Index(store.VisitValueColumns, "systolic_bp")] = int16(100)
			row := 2 + 2*i + k
			visits = append(visits, store.VisitRow{PatientOrdinal: i, Row: row, Cells: []string{prefix + itoa(i), "01/04/2014"}, ErrorCount: k, Values: vv})
			if k == 1 {
				errs = append(errs, store.CellError{Row: row, Field: "hba1c_date", Code: "required_together", Message: "missing"})
			}
		}
	}
	next := 0
	return store.SubmissionLoad{
		Patients: patients,
		NextVisit: func() (store.VisitRow, bool, error) {
			if next == len(visits) {
				return store.VisitRow{}, false, nil
			}
			next++
			return visits[next-1], true, nil
		},
		Errors: func() []store.CellError { return errs },
	}
}

func itoa(i int) string {
	const digits = "0123456789"
	if i < 10 {
		return digits[i : i+1]
	}
	return itoa(i/10) + digits[i%10:i%10+1]
}

func newSubmission(unit int64, year int, name string) store.NewSubmission {
	return store.NewSubmission{UnitID: unit, AuditYear: year, DatasetVersion: 2021, Identifier: "nhs_number", Via: store.ViaCommandLine,
		FileName: name, File: []byte("NHS Number,Date of Birth\n" + name + "\n"), Encoding: "UTF-8", Columns: []string{"nhs_number", "date_of_birth"}}
}

// upload runs a whole upload and returns the submission id and the one it superseded.
func upload(t *testing.T, st *store.Store, n store.NewSubmission, l store.SubmissionLoad) (int64, *int64) {
	t.Helper()
	ctx := context.Background()
	up, err := st.BeginUpload(ctx, n)
	if err != nil {
		t.Fatal(err)
	}
	defer up.Close()
	if _, err := up.Load(ctx, l); err != nil {
		t.Fatal(err)
	}
	prev, err := up.Activate(ctx)
	if err != nil {
		t.Fatal(err)
	}
	return up.ID, prev
}

func countRows(t *testing.T, db *dbtest.DB, sql string, args ...any) int {
	t.Helper()
	var n int
	if err := db.Pool.QueryRow(context.Background(), sql, args...).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}

// waitUntilNoSessionHolds waits, for at most ten seconds, until no session holds the
// upload lock of the submission (class 726201106, see store.uploadLockClass).
func waitUntilNoSessionHolds(t *testing.T, db *dbtest.DB, id int64) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		n := countRows(t, db, `SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND classid = 726201106 AND objid::bigint = $1 AND objsubid = 2`, id)
		if n == 0 {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("the upload lock of submission %d is still held after 10 s", id)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func TestSubmissionLifecycle(t *testing.T) {
	db := dbtest.New(t)
	st := store.New(db.Pool)
	ctx := context.Background()
	unit := newUnit(t, db, "PZ041")

	first, prev := upload(t, st, newSubmission(unit, 2024, "first.csv"), syntheticLoad(3, "a"))
	if prev != nil {
		t.Fatalf("first upload superseded %d", *prev)
	}
	sub, err := st.SubmissionByID(ctx, first)
	if err != nil {
		t.Fatal(err)
	}
	if sub.State != store.SubmissionActive || sub.Patients != 3 || sub.Visits != 6 || sub.Rows != 6 || sub.Errors != 3 || sub.InvalidRows != 3 ||
		sub.PZCode != "PZ041" || sub.ActivatedAt == nil || sub.FileSize == 0 || len(sub.FileSHA256) != 32 {
		t.Fatalf("submission %+v", sub)
	}
	patients, total, err := st.Patients(ctx, store.PatientQuery{SubmissionID: first, Limit: 2})
	if err != nil || total != 3 || len(patients) != 2 || patients[0].Identifier != "a0" || patients[1].Ordinal != 1 {
		t.Fatalf("patients %v %d %+v", err, total, patients)
	}
	if patients[0].ErrorCount != 1 || patients[0].Values["diabetes_type"] != int16(1) || patients[0].Values["date_of_birth"] == nil || patients[0].Values["sex"] != nil {
		t.Fatalf("patient values %+v", patients[0])
	}
	next, total, err := st.Patients(ctx, store.PatientQuery{SubmissionID: first, FromOrdinal: 2, Limit: 2})
	if err != nil || total != 3 || len(next) != 1 || next[0].Identifier != "a2" {
		t.Fatalf("second page %v %d %+v", err, total, next)
	}
	visits, err := st.VisitsOfPatients(ctx, []int64{patients[0].ID})
	if err != nil || len(visits[patients[0].ID]) != 2 || visits[patients[0].ID][0].Values["hba1c"] != 53.5 || visits[patients[0].ID][1].Cells[0] != "a0" {
		t.Fatalf("visits %v %+v", err, visits)
	}
	perrs, err := st.ErrorsOfPatients(ctx, []int64{patients[0].ID})
	if err != nil || len(perrs[patients[0].ID]) != 1 || perrs[patients[0].ID][0].Row != 3 {
		t.Fatalf("patient errors %v %+v", err, perrs)
	}

	// A second upload replaces the first: its row and file stay, its patients go.
	second, prev := upload(t, st, newSubmission(unit, 2024, "second.csv"), syntheticLoad(2, "b"))
	if prev == nil || *prev != first {
		t.Fatalf("superseded %v, want %d", prev, first)
	}
	old, err := st.SubmissionByID(ctx, first)
	if err != nil || old.State != store.SubmissionSuperseded || old.SupersededBy == nil || *old.SupersededBy != second || old.SupersededAt == nil {
		t.Fatalf("old submission %v %+v", err, old)
	}
	if file, err := st.SubmissionFile(ctx, first); err != nil || string(file) != "NHS Number,Date of Birth\nfirst.csv\n" {
		t.Fatalf("old file %q %v", file, err)
	}
	if n := countRows(t, db, `SELECT count(*) FROM patients WHERE submission_id = $1`, first); n != 0 {
		t.Errorf("%d patients of the superseded submission remain", n)
	}
	if n := countRows(t, db, `SELECT count(*) FROM visits WHERE submission_id = $1`, first); n != 0 {
		t.Errorf("%d visits of the superseded submission remain", n)
	}
	if n := countRows(t, db, `SELECT count(*) FROM submission_errors WHERE submission_id = $1`, first); n != 3 {
		t.Errorf("the superseded submission's errors: %d, want them kept", n)
	}
	if n := countRows(t, db, `SELECT count(*) FROM patients`); n != 2 {
		t.Errorf("%d patients in all, want 2", n)
	}
	active, err := st.ActiveSubmission(ctx, unit, 2024)
	if err != nil || active.ID != second {
		t.Fatalf("active %v %+v", err, active)
	}
	// Another year is separate.
	other, prev := upload(t, st, newSubmission(unit, 2023, "old-year.csv"), syntheticLoad(1, "c"))
	if prev != nil {
		t.Fatalf("a submission for 2023 superseded %d", *prev)
	}
	subs, err := st.SubmissionsOf(ctx, []store.SubmissionKey{{UnitID: unit, Year: 2024}, {UnitID: unit}})
	if err != nil {
		t.Fatal(err)
	}
	ids := func(ss []store.Submission) (out []int64) {
		for _, s := range ss {
			out = append(out, s.ID)
		}
		return out
	}
	if got := ids(subs[store.SubmissionKey{UnitID: unit, Year: 2024}]); !slices.Equal(got, []int64{second, first}) {
		t.Errorf("2024 submissions %v", got)
	}
	if got := ids(subs[store.SubmissionKey{UnitID: unit}]); !slices.Equal(got, []int64{other, second, first}) {
		t.Errorf("all submissions %v", got)
	}
	summary, err := st.ErrorSummaries(ctx, []int64{second})
	if err != nil || len(summary[second]) != 1 || summary[second][0].Count != 2 || summary[second][0].Field != "hba1c_date" {
		t.Fatalf("summary %v %+v", err, summary)
	}
	page, total, err := st.SubmissionErrors(ctx, store.ErrorQuery{SubmissionID: second, Limit: 1})
	if err != nil || total != 2 || len(page) != 1 || page[0].Row != 3 {
		t.Fatalf("errors page %v %d %+v", err, total, page)
	}
	page2, _, err := st.SubmissionErrors(ctx, store.ErrorQuery{SubmissionID: second, AfterRow: int64(page[0].Row), AfterID: page[0].ID, Limit: 5})
	if err != nil || len(page2) != 1 || page2[0].Row != 5 {
		t.Fatalf("errors page 2 %v %+v", err, page2)
	}
}

func TestOnlyOneActiveSubmission(t *testing.T) {
	db := dbtest.New(t)
	unit := newUnit(t, db, "PZ041")
	ctx := context.Background()
	insert := `INSERT INTO submissions (unit_id, audit_year, dataset_version, identifier, via, file_name, file, file_sha256, encoding, columns, state, activated_at)
        VALUES ($1, 2024, 2021, 'nhs_number', 'api', 'x.csv', '', decode(repeat('00', 32), 'hex'), 'UTF-8', '{}', 'active', now())`
	if _, err := db.Pool.Exec(ctx, insert, unit); err != nil {
		t.Fatal(err)
	}
	if _, err := db.Pool.Exec(ctx, insert, unit); err == nil {
		t.Fatal("a second active submission for the same unit and year was accepted")
	}
}

func TestTransfersFindThePreviousUnit(t *testing.T) {
	db := dbtest.New(t)
	st := store.New(db.Pool)
	ctx := context.Background()
	from, to := newUnit(t, db, "PZ001"), newUnit(t, db, "PZ002")
	// PZ001's patient a0 left on 1 September 2024 (see syntheticLoad).
	upload(t, st, newSubmission(from, 2024, "from.csv"), syntheticLoad(1, "a"))
	second, _ := upload(t, st, newSubmission(to, 2024, "to.csv"), syntheticLoad(2, "a"))
	ps, _, err := st.Patients(ctx, store.PatientQuery{SubmissionID: second, Limit: 10})
	if err != nil {
		t.Fatal(err)
	}
	ts, err := st.TransfersOfPatients(ctx, []int64{ps[0].ID, ps[1].ID})
	if err != nil {
		t.Fatal(err)
	}
	t0 := ts[ps[0].ID]
	if len(t0) != 1 || t0[0].PreviousUnitID == nil || *t0[0].PreviousUnitID != from || t0[0].PreviousLeftOn == nil || t0[0].UnitID != to {
		t.Fatalf("transfer of a0: %+v", t0)
	}
	if t1 := ts[ps[1].ID]; len(t1) != 1 || t1[0].PreviousUnitID != nil {
		t.Fatalf("transfer of a1: %+v", t1)
	}
}

// TestCancelledLoadKeepsThePreviousData cancels an upload in the middle of loading its
// visits, after the patients were copied, and checks that the unit's active data is
// untouched, that the half-made submission is invisible, and that the clean-up of the
// next start marks it failed and leaves nothing of it.
func TestCancelledLoadKeepsThePreviousData(t *testing.T) {
	db := dbtest.New(t)
	st := store.New(db.Pool)
	unit := newUnit(t, db, "PZ041")
	first, _ := upload(t, st, newSubmission(unit, 2024, "first.csv"), syntheticLoad(50, "a"))

	ctx, cancel := context.WithCancel(context.Background())
	l := syntheticLoad(500, "b")
	inner, seen := l.NextVisit, 0
	l.NextVisit = func() (store.VisitRow, bool, error) {
		if seen++; seen == 300 {
			cancel()
		}
		return inner()
	}
	up, err := st.BeginUpload(ctx, newSubmission(unit, 2024, "second.csv"))
	if err != nil {
		t.Fatal(err)
	}
	_, err = up.Load(ctx, l)
	// The process "dies" here: no Fail, no Close of the lock by the test's own hand; the
	// cancelled statement has closed the upload's connection, and with it its session.
	// (Close only hands the connection back; without it a failure below would leave the
	// pool waiting for it at the end of the test.)
	up.Close()
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("load: %v", err)
	}
	// The server ends the dead connection's session, and drops its lock, a moment after
	// the client went away; a restart comes much later, so wait for that moment here.
	waitUntilNoSessionHolds(t, db, up.ID)

	bg := context.Background()
	if a, err := st.ActiveSubmission(bg, unit, 2024); err != nil || a.ID != first || a.Patients != 50 {
		t.Fatalf("active after the cancelled upload: %v %+v", err, a)
	}
	if n := countRows(t, db, `SELECT count(*) FROM patients WHERE submission_id = $1`, first); n != 50 {
		t.Fatalf("%d patients of the active submission, want 50", n)
	}
	if n := countRows(t, db, `SELECT count(*) FROM patients WHERE submission_id = $1`, up.ID); n != 0 {
		t.Fatalf("%d patients of the cancelled submission are visible", n)
	}
	half, err := st.SubmissionByID(bg, up.ID)
	if err != nil || half.State != store.SubmissionProcessing {
		t.Fatalf("cancelled submission: %v %+v", err, half)
	}
	// A clean-up that started before the upload leaves it alone.
	if ids, err := st.CleanUpInterrupted(bg, half.UploadedAt.Add(-time.Second)); err != nil || len(ids) != 0 {
		t.Fatalf("clean-up of an earlier start: %v %v", ids, err)
	}
	ids, err := st.CleanUpInterrupted(bg, time.Now().Add(time.Second))
	if err != nil || !slices.Equal(ids, []int64{up.ID}) {
		t.Fatalf("clean-up: %v %v", ids, err)
	}
	failed, err := st.SubmissionByID(bg, up.ID)
	if err != nil || failed.State != store.SubmissionFailed || failed.Failure == nil || *failed.Failure != store.InterruptedReason {
		t.Fatalf("after clean-up: %v %+v", err, failed)
	}
	for _, table := range []string{"patients", "visits", "submission_errors"} {
		if n := countRows(t, db, `SELECT count(*) FROM `+table+` WHERE submission_id = $1`, up.ID); n != 0 {
			t.Errorf("%d %s of the failed submission remain", n, table)
		}
	}
	// Nothing more to clean.
	if ids, err := st.CleanUpInterrupted(bg, time.Now().Add(time.Second)); err != nil || len(ids) != 0 {
		t.Fatalf("second clean-up: %v %v", ids, err)
	}
}

// TestCleanUpSparesLiveUploads: a submission still being loaded by a live session (its
// upload lock held) is not touched by another process's clean-up, even when it is older.
func TestCleanUpSparesLiveUploads(t *testing.T) {
	db := dbtest.New(t)
	st := store.New(db.Pool)
	unit := newUnit(t, db, "PZ041")
	ctx := context.Background()
	up, err := st.BeginUpload(ctx, newSubmission(unit, 2024, "live.csv"))
	if err != nil {
		t.Fatal(err)
	}
	defer up.Close()
	ids, err := st.CleanUpInterrupted(ctx, time.Now().Add(time.Minute))
	if err != nil || len(ids) != 0 {
		t.Fatalf("clean-up took a live upload: %v %v", ids, err)
	}
	if _, err := up.Load(ctx, syntheticLoad(2, "a")); err != nil {
		t.Fatal(err)
	}
	if _, err := up.Activate(ctx); err != nil {
		t.Fatal(err)
	}
	// An inactive submission left by a dead process is cleaned too.
	up2, err := st.BeginUpload(ctx, newSubmission(unit, 2024, "inactive.csv"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := up2.Load(ctx, syntheticLoad(3, "b")); err != nil {
		t.Fatal(err)
	}
	up2.Close() // dies before activating
	ids, err = st.CleanUpInterrupted(ctx, time.Now().Add(time.Minute))
	if err != nil || !slices.Equal(ids, []int64{up2.ID}) {
		t.Fatalf("clean-up of an inactive leftover: %v %v", ids, err)
	}
	if a, err := st.ActiveSubmission(ctx, unit, 2024); err != nil || a.ID != up.ID || a.Patients != 2 {
		t.Fatalf("active: %v %+v", err, a)
	}
	if n := countRows(t, db, `SELECT count(*) FROM patients`); n != 2 {
		t.Fatalf("%d patients, want the 2 of the active submission", n)
	}
}
