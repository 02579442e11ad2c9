package submissions_test

import (
	"bufio"
	"bytes"
	"context"
	"encoding/csv"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"caregraph/audit"
	"caregraph/audit/demo"
	"caregraph/auth"
	"caregraph/store"
	"caregraph/store/dbtest"
	"caregraph/submissions"
)

// inTheWindow is a day on which the 2024/25 period takes submissions.
var inTheWindow = time.Date(2025, time.May, 20, 12, 0, 0, 0, audit.UK)

type fixture struct {
	db    *dbtest.DB
	st    *store.Store
	svc   *submissions.Service
	units map[string]int64
	now   time.Time
}

func newFixture(t *testing.T) *fixture {
	t.Helper()
	db := dbtest.New(t)
	f := &fixture{db: db, st: store.New(db.Pool), units: map[string]int64{}, now: inTheWindow}
	f.svc = submissions.New(f.st, submissions.Options{Now: func() time.Time { return f.now }})
	for _, pz := range []string{"PZ041", "PZ042", "PZ248"} {
		var id int64
		if err := db.Pool.QueryRow(context.Background(), `INSERT INTO paediatric_diabetes_units (pz_code) VALUES ($1) RETURNING id`, pz).Scan(&id); err != nil {
			t.Fatal(err)
		}
		f.units[pz] = id
	}
	return f
}

// user makes an account with a role in units and returns its principal.
func (f *fixture) user(t *testing.T, email string, role auth.Role, pz ...string) *auth.Principal {
	t.Helper()
	var id int64
	err := f.db.Pool.QueryRow(context.Background(), `INSERT INTO users (email, name, role, password_hash) VALUES ($1, $1, $2, '$argon2id$test') RETURNING id`, email, string(role)).Scan(&id)
	if err != nil {
		t.Fatal(err)
	}
	p := &auth.Principal{Kind: auth.KindUser, UserID: id, TokenID: 1, Role: role}
	for _, code := range pz {
		p.UnitIDs = append(p.UnitIDs, f.units[code])
	}
	return p
}

func demoFile(t testing.TB, pz string, year, patients int, seed uint64) []byte {
	t.Helper()
	var buf bytes.Buffer
	if _, err := demo.Write(&buf, pz, demo.Options{AuditYear: year, Patients: patients, Seed: seed, Today: inTheWindow}); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func (f *fixture) count(t *testing.T, sql string, args ...any) int {
	t.Helper()
	var n int
	if err := f.db.Pool.QueryRow(context.Background(), sql, args...).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}

func TestSubmitReplacesThePreviousSubmission(t *testing.T) {
	f := newFixture(t)
	ctx := auth.WithClientIP(context.Background(), "192.0.2.7")
	editor := f.user(t, "editor@a.example", auth.Editor, "PZ041")
	var stages []string
	res, err := f.svc.Submit(ctx, editor, submissions.Request{PZCode: "pz41", AuditYear: 2024, FileName: `C:\Users\me\npda 2024.csv`,
		File: demoFile(t, "PZ041", 2024, 120, 1), Via: store.ViaAPI, Progress: func(stage string, _ int) { stages = append(stages, stage) }})
	if err != nil || res.Rejection != nil {
		t.Fatalf("submit: %v %+v", err, res.Rejection)
	}
	first := res.Submission
	if first.State != store.SubmissionActive || first.Patients < 120 || first.Rows < 300 || first.FileName != "npda 2024.csv" ||
		first.UploadedBy == nil || *first.UploadedBy != editor.UserID || first.Via != store.ViaAPI || first.DatasetVersion != 2021 || res.Superseded != nil {
		t.Fatalf("first submission %+v", first)
	}
	if first.Errors == 0 || first.InvalidRows == 0 || first.InvalidRows > first.Rows/2 {
		t.Errorf("errors %d on %d invalid rows of %d", first.Errors, first.InvalidRows, first.Rows)
	}
	if got := strings.Join(stages, ","); !strings.HasPrefix(got, "reading,read,") || !strings.HasSuffix(got, "activating,done") {
		t.Errorf("progress %s", got)
	}
	if n := f.count(t, `SELECT count(*) FROM visits WHERE submission_id = $1`, first.ID); n != first.Rows {
		t.Errorf("%d visits stored for %d rows", n, first.Rows)
	}
	// Raw cells and typed values side by side.
	var cells []string
	var visitDate *time.Time
	if err := f.db.Pool.QueryRow(ctx, `SELECT cells, visit_date FROM visits WHERE submission_id = $1 ORDER BY row_number LIMIT 1`, first.ID).Scan(&cells, &visitDate); err != nil {
		t.Fatal(err)
	}
	if len(cells) != 52 || visitDate == nil || cells[12] != audit.FormatDate(*visitDate) {
		t.Errorf("first visit: %d cells, date %v, cell %q", len(cells), visitDate, cells[12])
	}

	res2, err := f.svc.Submit(ctx, editor, submissions.Request{PZCode: "PZ041", AuditYear: 2024, FileName: "second.csv", File: demoFile(t, "PZ041", 2024, 80, 2), Via: store.ViaAPI})
	if err != nil || res2.Submission == nil || res2.Superseded == nil || *res2.Superseded != first.ID {
		t.Fatalf("second submit: %v %+v", err, res2)
	}
	if n := f.count(t, `SELECT count(*) FROM patients WHERE submission_id = $1`, first.ID); n != 0 {
		t.Errorf("%d patients of the superseded submission remain", n)
	}
	if n := f.count(t, `SELECT count(*) FROM patients WHERE unit_id = $1`, f.units["PZ041"]); n != res2.Submission.Patients {
		t.Errorf("%d patients for the unit, want %d", n, res2.Submission.Patients)
	}
	// The access log has both uploads, with counts and no patient data.
	var details []string
	rows, err := f.db.Pool.Query(ctx, `SELECT details::text FROM access_log WHERE action = 'csv_uploaded' AND user_id = $1 AND unit_id = $2 AND ip = '192.0.2.7' ORDER BY id`, editor.UserID, f.units["PZ041"])
	if err != nil {
		t.Fatal(err)
	}
	for rows.Next() {
		var d string
		rows.Scan(&d)
		details = append(details, d)
	}
	if len(details) != 2 || !strings.Contains(details[1], fmt.Sprintf(`"superseded": %d`, first.ID)) || !strings.Contains(details[0], `"outcome": "active"`) {
		t.Errorf("access log: %v", details)
	}
}

func TestSubmitRefusals(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	file := demoFile(t, "PZ041", 2024, 10, 1)
	coordinator := f.user(t, "coord@a.example", auth.Coordinator, "PZ041")
	reader := f.user(t, "reader@a.example", auth.Reader, "PZ041")
	stranger := f.user(t, "coord@b.example", auth.Coordinator, "PZ042")
	team := f.user(t, "team@rcpch.example", auth.AuditTeam)
	readToken := &auth.Principal{Kind: auth.KindService, UserID: coordinator.UserID, TokenID: 9, UnitIDs: []int64{f.units["PZ041"]}, Access: auth.AccessRead}
	tests := []struct {
		name string
		p    *auth.Principal
		pz   string
		year int
		now  time.Time
		want error
	}{
		{"anonymous", nil, "PZ041", 2024, inTheWindow, auth.ErrUnauthenticated},
		{"another unit's coordinator", stranger, "PZ041", 2024, inTheWindow, auth.ErrForbidden},
		{"a reader", reader, "PZ041", 2024, inTheWindow, auth.ErrForbidden},
		{"a read-only service token", readToken, "PZ041", 2024, inTheWindow, auth.ErrForbidden},
		{"an unknown unit, to a stranger", stranger, "PZ777", 2024, inTheWindow, auth.ErrForbidden},
		{"an unknown unit, to the audit team", team, "PZ777", 2024, inTheWindow, submissions.ErrBadInput},
		{"a year out of range", coordinator, "PZ041", 2019, inTheWindow, submissions.ErrBadInput},
		{"a closed period", coordinator, "PZ041", 2024, time.Date(2025, time.July, 2, 9, 0, 0, 0, audit.UK), auth.ErrForbidden},
		{"a period not open yet", coordinator, "PZ041", 2025, time.Date(2025, time.March, 2, 9, 0, 0, 0, audit.UK), auth.ErrForbidden},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f.now = tt.now
			_, err := f.svc.Submit(ctx, tt.p, submissions.Request{PZCode: tt.pz, AuditYear: tt.year, FileName: "x.csv", File: file, Via: store.ViaAPI})
			if !errors.Is(err, tt.want) {
				t.Fatalf("err = %v, want %v", err, tt.want)
			}
		})
	}
	var closed *submissions.ClosedError
	f.now = time.Date(2025, time.July, 2, 9, 0, 0, 0, audit.UK)
	_, err := f.svc.Submit(ctx, coordinator, submissions.Request{PZCode: "PZ041", AuditYear: 2024, FileName: "x.csv", File: file, Via: store.ViaAPI})
	if !errors.As(err, &closed) || !strings.Contains(closed.Found()[0], "2024/25, deadline 30/06/2025") || len(closed.Expected()) == 0 {
		t.Fatalf("closed period error %v", err)
	}
	// The audit team may submit for a closed period.
	res, err := f.svc.Submit(ctx, team, submissions.Request{PZCode: "PZ041", AuditYear: 2024, FileName: "late.csv", File: file, Via: store.ViaAPI})
	if err != nil || res.Submission == nil {
		t.Fatalf("audit team in a closed period: %v", err)
	}
	if n := f.count(t, `SELECT count(*) FROM submissions`); n != 1 {
		t.Errorf("%d submissions stored, want only the audit team's", n)
	}
	if n := f.count(t, `SELECT count(*) FROM access_log WHERE action = 'csv_uploaded' AND details->>'reason' = 'closed_period'`); n != 3 {
		t.Errorf("%d refusals for a closed period logged, want 3 (two periods after and before their window, and the check of the error)", n)
	}
}

func TestRejectedFileStoresNothing(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	editor := f.user(t, "editor@a.example", auth.Editor, "PZ041", "PZ248")
	good, err := f.svc.Submit(ctx, editor, submissions.Request{PZCode: "PZ041", AuditYear: 2024, FileName: "good.csv", File: demoFile(t, "PZ041", 2024, 10, 1), Via: store.ViaAPI})
	if err != nil || good.Submission == nil {
		t.Fatal(err)
	}
	for name, tt := range map[string]struct {
		pz     string
		file   []byte
		reason string
	}{
		"another unit's file":       {"PZ041", demoFile(t, "PZ042", 2024, 5, 1), audit.RejectWrongPDU},
		"NHS numbers for Jersey":    {"PZ248", bytes.ReplaceAll(demoFile(t, "PZ041", 2024, 5, 1), []byte("PZ041"), []byte("PZ248")), audit.RejectWrongIdentifier},
		"the 2026 dataset in 2024":  {"PZ041", demoFile(t, "PZ041", 2026, 5, 1), audit.RejectMissingColumns},
		"a header without any rows": {"PZ041", demoFile(t, "PZ041", 2024, 0, 1), audit.RejectNoRows},
	} {
		t.Run(name, func(t *testing.T) {
			res, err := f.svc.Submit(ctx, editor, submissions.Request{PZCode: tt.pz, AuditYear: 2024, FileName: "bad.csv", File: tt.file, Via: store.ViaAPI})
			if err != nil || res.Rejection == nil || res.Rejection.Reason != tt.reason || res.Submission != nil {
				t.Fatalf("%v %+v", err, res.Rejection)
			}
		})
	}
	if n := f.count(t, `SELECT count(*) FROM submissions`); n != 1 {
		t.Errorf("%d submissions, want only the good one", n)
	}
	if a, err := f.st.ActiveSubmission(ctx, f.units["PZ041"], 2024); err != nil || a.ID != good.Submission.ID {
		t.Errorf("active %v %+v", err, a)
	}
	if n := f.count(t, `SELECT count(*) FROM access_log WHERE action = 'csv_uploaded' AND details->>'outcome' = 'rejected'`); n != 4 {
		t.Errorf("%d rejections logged", n)
	}
}

func TestFiles(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	editor := f.user(t, "editor@a.example", auth.Editor, "PZ041")
	stranger := f.user(t, "coord@b.example", auth.Coordinator, "PZ042")
	file := []byte("\xef\xbb\xbf" + string(demoFile(t, "PZ041", 2024, 30, 5)))
	res, err := f.svc.Submit(ctx, editor, submissions.Request{PZCode: "PZ041", AuditYear: 2024, FileName: "mine.csv", File: file, Via: store.ViaAPI})
	if err != nil || res.Submission == nil {
		t.Fatal(err)
	}
	id := res.Submission.ID
	orig, err := f.svc.Original(ctx, editor, id)
	if err != nil || !bytes.Equal(orig.Data, file) || orig.Name != "mine.csv" {
		t.Fatalf("original: %v %q", err, orig.Name)
	}
	ann, err := f.svc.Annotated(ctx, editor, id)
	if err != nil || ann.Name != "mine (errors).csv" {
		t.Fatalf("annotated: %v %q", err, ann.Name)
	}
	recs, err := csv.NewReader(bytes.NewReader(bytes.TrimPrefix(ann.Data, []byte("\xef\xbb\xbf")))).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	if len(recs) != res.Submission.Rows+1 || recs[0][52] != audit.AnnotationHeading {
		t.Fatalf("%d records, header end %q", len(recs), recs[0][len(recs[0])-1])
	}
	annotated := 0
	for _, r := range recs[1:] {
		if r[52] != "" {
			annotated++
			if !strings.Contains(r[52], ": ") {
				t.Errorf("annotation %q", r[52])
			}
		}
	}
	if annotated != res.Submission.InvalidRows {
		t.Errorf("%d annotated rows, %d invalid rows", annotated, res.Submission.InvalidRows)
	}
	if _, err := f.svc.Original(ctx, stranger, id); !errors.Is(err, auth.ErrForbidden) {
		t.Errorf("stranger: %v", err)
	}
	if _, err := f.svc.Annotated(ctx, stranger, id+100); !errors.Is(err, auth.ErrForbidden) {
		t.Errorf("stranger, missing submission: %v", err)
	}
	if _, err := f.svc.Original(ctx, nil, id); !errors.Is(err, auth.ErrUnauthenticated) {
		t.Errorf("anonymous: %v", err)
	}
	if n := f.count(t, `SELECT count(*) FROM access_log WHERE action = 'patient_viewed' AND user_id = $1`, editor.UserID); n != 2 {
		t.Errorf("%d downloads logged", n)
	}
}

// TestKilledUploadKeepsThePreviousData runs an upload in a child process, kills it with
// SIGKILL while it is loading visits (its patients already copied), and checks that the
// unit's previous data is intact, that nothing of the half-made submission is visible,
// and that the clean-up of the next start marks it failed and removes what it left.
func TestKilledUploadKeepsThePreviousData(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	before, err := f.svc.Submit(ctx, auth.Operator(), submissions.Request{PZCode: "PZ041", AuditYear: 2024, FileName: "before.csv", File: demoFile(t, "PZ041", 2024, 200, 1), Via: store.ViaCommandLine})
	if err != nil || before.Submission == nil {
		t.Fatal(err)
	}
	patientsBefore := f.count(t, `SELECT count(*) FROM patients WHERE submission_id = $1`, before.Submission.ID)

	path := t.TempDir() + "/big.csv"
	if err := os.WriteFile(path, demoFile(t, "PZ041", 2024, 3000, 2), 0o600); err != nil {
		t.Fatal(err)
	}
	child := exec.Command(os.Args[0], "-test.run=^TestUploadChildProcess$", "-test.v")
	child.Env = append(os.Environ(), "CAREGRAPH_UPLOAD_CHILD_DB="+f.db.URL, "CAREGRAPH_UPLOAD_CHILD_FILE="+path)
	out, err := child.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	child.Stderr = os.Stderr
	if err := child.Start(); err != nil {
		t.Fatal(err)
	}
	lines := bufio.NewScanner(out)
	loading := false
	for lines.Scan() {
		if strings.Contains(lines.Text(), "CHILD LOADING") {
			loading = true
			break
		}
	}
	if !loading {
		child.Wait()
		t.Fatal("the child never started loading")
	}
	if err := child.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	child.Wait()

	var half store.Submission
	if err := f.db.Pool.QueryRow(ctx, `SELECT id, state FROM submissions WHERE file_name = 'big.csv'`).Scan(&half.ID, &half.State); err != nil {
		t.Fatal(err)
	}
	if half.State != store.SubmissionProcessing {
		t.Fatalf("the killed upload is %s", half.State)
	}
	a, err := f.st.ActiveSubmission(ctx, f.units["PZ041"], 2024)
	if err != nil || a.ID != before.Submission.ID {
		t.Fatalf("active after the kill: %v %+v", err, a)
	}
	if n := f.count(t, `SELECT count(*) FROM patients WHERE unit_id = $1`, f.units["PZ041"]); n != patientsBefore {
		t.Fatalf("%d patients after the kill, want the %d of before", n, patientsBefore)
	}

	// The next start: the server would call CleanUp with its start time. The killed
	// session's lock goes when PostgreSQL notices the connection is gone, so allow it a
	// moment.
	var cleaned []int64
	deadline := time.Now().Add(10 * time.Second)
	for len(cleaned) == 0 && time.Now().Before(deadline) {
		if cleaned, err = f.svc.CleanUp(ctx, time.Now()); err != nil {
			t.Fatal(err)
		}
		if len(cleaned) == 0 {
			time.Sleep(100 * time.Millisecond)
		}
	}
	if len(cleaned) != 1 || cleaned[0] != half.ID {
		t.Fatalf("cleaned %v, want [%d]", cleaned, half.ID)
	}
	if err := f.db.Pool.QueryRow(ctx, `SELECT state FROM submissions WHERE id = $1`, half.ID).Scan(&half.State); err != nil || half.State != store.SubmissionFailed {
		t.Fatalf("after clean-up: %v %s", err, half.State)
	}
	for _, table := range []string{"patients", "visits", "submission_errors"} {
		if n := f.count(t, `SELECT count(*) FROM `+table+` WHERE submission_id = $1`, half.ID); n != 0 {
			t.Errorf("%d %s of the killed upload remain", n, table)
		}
	}
	// And the unit can upload again.
	again, err := f.svc.Submit(ctx, auth.Operator(), submissions.Request{PZCode: "PZ041", AuditYear: 2024, FileName: "again.csv", File: demoFile(t, "PZ041", 2024, 20, 3), Via: store.ViaCommandLine})
	if err != nil || again.Submission == nil || again.Superseded == nil || *again.Superseded != before.Submission.ID {
		t.Fatalf("upload after the clean-up: %v %+v", err, again)
	}
}

// TestUploadChildProcess is the child of TestKilledUploadKeepsThePreviousData: it
// uploads a file and, once it is loading visits, announces it and waits to be killed.
func TestUploadChildProcess(t *testing.T) {
	url, path := os.Getenv("CAREGRAPH_UPLOAD_CHILD_DB"), os.Getenv("CAREGRAPH_UPLOAD_CHILD_FILE")
	if url == "" {
		t.Skip("the child process of TestKilledUploadKeepsThePreviousData")
	}
	ctx := context.Background()
	pool, err := store.Connect(ctx, url, store.PoolConfig{MaxConns: 4})
	if err != nil {
		t.Fatal(err)
	}
	file, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	svc := submissions.New(store.New(pool), submissions.Options{Now: func() time.Time { return inTheWindow }})
	_, err = svc.Submit(ctx, auth.Operator(), submissions.Request{PZCode: "PZ041", AuditYear: 2024, FileName: "big.csv", File: file, Via: store.ViaCommandLine,
		Progress: func(stage string, n int) {
			if stage == "storing" {
				fmt.Println("CHILD LOADING", n)
				select {} // wait for the parent's SIGKILL
			}
		}})
	t.Fatalf("the upload finished (%v) instead of waiting to be killed", err)
}
