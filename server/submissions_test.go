package main

import (
	"bytes"
	"context"
	"encoding/csv"
	"encoding/json"
	"io"
	"mime/multipart"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"caregraph/audit"
	"caregraph/audit/demo"
	"caregraph/auth"
	"caregraph/graph/model"
	"caregraph/store"
	"caregraph/submissions"
)

// openYear is the audit year open for submissions today, whatever day the tests run.
func openYear() int { return audit.PeriodContaining(time.Now()).Year }

func demoCSV(t testing.TB, pz string, year, patients int, seed uint64) []byte {
	t.Helper()
	var buf bytes.Buffer
	if _, err := demo.Write(&buf, pz, demo.Options{AuditYear: year, Patients: patients, Seed: seed, Today: time.Now()}); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// uploadBody is a GraphQL multipart request (the multipart request spec): the
// operation with the variable $file set to null, the map, and the file.
func uploadBody(t testing.TB, query string, vars map[string]any, name string, data []byte) (*bytes.Buffer, string) {
	t.Helper()
	if vars == nil {
		vars = map[string]any{}
	}
	vars["file"] = nil
	ops, _ := json.Marshal(map[string]any{"query": query, "variables": vars})
	var body bytes.Buffer
	w := multipart.NewWriter(&body)
	w.WriteField("operations", string(ops))
	w.WriteField("map", `{"0": ["variables.file"]}`)
	part, err := w.CreateFormFile("0", name)
	if err != nil {
		t.Fatal(err)
	}
	part.Write(data)
	w.Close()
	return &body, w.FormDataContentType()
}

// upload sends a multipart GraphQL request with a token.
func (s *authServer) upload(t testing.TB, token, query string, vars map[string]any, name string, data []byte) (int, gqlResponse) {
	t.Helper()
	body, ct := uploadBody(t, query, vars, name, data)
	req, _ := http.NewRequest("POST", s.URL+"/graphql", body)
	req.Header.Set("Content-Type", ct)
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	var out gqlResponse
	if err := json.Unmarshal(raw, &out); err != nil {
		t.Fatalf("response is not JSON (%d): %s", resp.StatusCode, raw)
	}
	return resp.StatusCode, out
}

// get fetches a path with a token.
func (s *authServer) get(t testing.TB, token, path string) (*http.Response, []byte) {
	t.Helper()
	req, _ := http.NewRequest("GET", s.URL+path, nil)
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp, b
}

// submitAsOperator stores a submission without GraphQL, for tests that read one back.
func (s *authServer) submitAsOperator(t testing.TB, pz string, year int, data []byte) store.Submission {
	t.Helper()
	res, err := s.app.submissions.Submit(context.Background(), auth.Operator(), submissions.Request{PZCode: pz, AuditYear: year, FileName: pz + ".csv", File: data, Via: store.ViaCommandLine})
	if err != nil || res.Submission == nil {
		t.Fatalf("submit: %v %+v", err, res.Rejection)
	}
	// The unit's KPI recompute runs in the background after activation: let it finish,
	// so that tests see its results and count none of its statements as their own.
	s.app.aggregator.Wait()
	return *res.Submission
}

const submitMutation = `mutation($pz: String!, $year: Int!, $file: Upload!) {
  submitAuditCsv(pzCode: $pz, auditYear: $year, file: $file) {
    submission { id state datasetVersion fileName uploadedVia uploadedBy { email } counts { rows patients visits invalidRows errors }
      auditPeriod { label open } originalFileUrl annotatedFileUrl }
    rejection { reason message expected found rows }
    supersededSubmission { id state }
  }
}`

type submitResult struct {
	SubmitAuditCsv struct {
		Submission *struct {
			ID, State, FileName, UploadedVia string
			DatasetVersion                   int
			UploadedBy                       *struct{ Email string }
			Counts                           struct{ Rows, Patients, Visits, InvalidRows, Errors int }
			AuditPeriod                      struct {
				Label string
				Open  bool
			}
			OriginalFileURL  string `json:"originalFileUrl"`
			AnnotatedFileURL string `json:"annotatedFileUrl"`
		}
		Rejection *struct {
			Reason, Message string
			Expected, Found []string
			Rows            []int
		}
		SupersededSubmission *struct{ ID, State string }
	}
}

func TestSubmitAuditCSVOverGraphQL(t *testing.T) {
	s := newAuthServer(t, nil)
	year := openYear()
	s.account(t, "coord@a.example", auth.Coordinator, "coordinator password", "PZ001")
	coord := s.login(t, "coord@a.example", "coordinator password", "")
	s.account(t, "coord@b.example", auth.Coordinator, "other password", "PZ002")
	stranger := s.login(t, "coord@b.example", "other password", "")

	// A file of several megabytes: larger than the limit of a JSON request body.
	big := demoCSV(t, "PZ001", year, 2500, 1)
	if len(big) <= int(s.app.cfg.MaxBodyBytes) {
		t.Fatalf("the test file (%d bytes) should exceed the JSON body limit", len(big))
	}
	status, r := s.upload(t, coord, submitMutation, map[string]any{"pz": "PZ001", "year": year}, "unit a.csv", big)
	if status != http.StatusOK || len(r.Errors) > 0 {
		t.Fatalf("upload: %d %+v", status, r.Errors)
	}
	var first submitResult
	json.Unmarshal(r.Data, &first)
	sub := first.SubmitAuditCsv.Submission
	if sub == nil || sub.State != "ACTIVE" || sub.FileName != "unit a.csv" || sub.UploadedVia != "api" || sub.UploadedBy == nil || sub.UploadedBy.Email != "coord@a.example" ||
		sub.Counts.Patients < 2500 || sub.Counts.Rows < 7000 || sub.Counts.Errors == 0 || !sub.AuditPeriod.Open || first.SubmitAuditCsv.SupersededSubmission != nil {
		t.Fatalf("first upload: %s", r.Data)
	}

	// A second upload supersedes the first.
	_, r = s.upload(t, coord, submitMutation, map[string]any{"pz": "PZ001", "year": year}, "again.csv", demoCSV(t, "PZ001", year, 40, 2))
	var second submitResult
	json.Unmarshal(r.Data, &second)
	if len(r.Errors) > 0 || second.SubmitAuditCsv.SupersededSubmission == nil || second.SubmitAuditCsv.SupersededSubmission.ID != sub.ID || second.SubmitAuditCsv.SupersededSubmission.State != "SUPERSEDED" {
		t.Fatalf("second upload: %s %+v", r.Data, r.Errors)
	}
	sub2 := second.SubmitAuditCsv.Submission

	// A whole-file rejection: nothing stored, expected beside found.
	_, r = s.upload(t, coord, submitMutation, map[string]any{"pz": "PZ001", "year": year}, "theirs.csv", demoCSV(t, "PZ002", year, 5, 3))
	var rejected submitResult
	json.Unmarshal(r.Data, &rejected)
	rej := rejected.SubmitAuditCsv.Rejection
	if len(r.Errors) > 0 || rej == nil || rej.Reason != audit.RejectWrongPDU || rej.Expected[0] != "PZ001" || rej.Found[0] != "PZ002" || rejected.SubmitAuditCsv.Submission != nil {
		t.Fatalf("rejection: %s %+v", r.Data, r.Errors)
	}

	// Refusals: anonymous, another unit, a closed period.
	_, r = s.upload(t, "", submitMutation, map[string]any{"pz": "PZ001", "year": year}, "x.csv", big)
	if codes := errorCodes(r); len(codes) != 1 || codes[0] != "UNAUTHENTICATED" {
		t.Errorf("anonymous upload: %v", codes)
	}
	_, r = s.upload(t, stranger, submitMutation, map[string]any{"pz": "PZ001", "year": year}, "x.csv", big)
	if codes := errorCodes(r); len(codes) != 1 || codes[0] != "FORBIDDEN" {
		t.Errorf("another unit's coordinator: %v", codes)
	}
	_, r = s.upload(t, coord, submitMutation, map[string]any{"pz": "PZ001", "year": year - 2}, "late.csv", demoCSV(t, "PZ001", year-2, 5, 4))
	if codes := errorCodes(r); len(codes) != 1 || codes[0] != "FORBIDDEN" || r.Errors[0].Extensions["reason"] != "closed_period" || r.Errors[0].Extensions["found"] == nil {
		t.Errorf("closed period: %+v", r.Errors)
	}

	// Reading back.
	var got struct {
		Submission struct {
			State        string
			Counts       struct{ Rows, Patients int }
			ErrorSummary []struct {
				Column, Heading, Code string
				Count, Rows           int
			}
			Errors struct {
				TotalCount int
				Nodes      []struct {
					Row                            int
					Column, Heading, Code, Message string
				}
				PageInfo struct {
					HasNextPage bool
					EndCursor   string
				}
			}
			Patients struct {
				TotalCount int
				Nodes      []struct {
					ID, Identifier string
					NhsNumber      *string
					DateOfBirth    *string
					PostcodeCheck  string
					Fields         []struct{ Column, Heading string }
					Visits         []struct {
						Row   int
						Cells []struct {
							Column, Raw string
							Value       *string
						}
						Errors []struct{ Row int }
					}
					Transfers []struct{ Unit struct{ PzCode string } }
				}
			}
		}
	}
	s.as(t, coord, `query($id: ID!) { submission(id: $id) { state counts { rows patients }
        errorSummary { column heading code count rows }
        errors(first: 3) { totalCount nodes { row column heading code message } pageInfo { hasNextPage endCursor } }
        patients(first: 2) { totalCount nodes { id identifier nhsNumber dateOfBirth postcodeCheck fields { column heading }
          visits { row cells { column raw value } errors { row } } transfers { unit { pzCode } } } } } }`,
		map[string]any{"id": sub2.ID}, &got)
	g := got.Submission
	if g.State != "ACTIVE" || g.Counts.Patients != sub2.Counts.Patients || g.Patients.TotalCount != sub2.Counts.Patients || len(g.Patients.Nodes) != 2 {
		t.Fatalf("submission: %+v", g)
	}
	p := g.Patients.Nodes[0]
	if p.PostcodeCheck != "NOT_CHECKED" || len(p.Fields) == 0 || len(p.Visits) == 0 || len(p.Visits[0].Cells) != len(audit.DatasetFor(year).Columns) || len(p.Transfers) != 1 || p.Transfers[0].Unit.PzCode != "PZ001" {
		t.Errorf("patient: %+v", p)
	}
	if g.Errors.TotalCount != sub2.Counts.Errors || (sub2.Counts.Errors > 3) != g.Errors.PageInfo.HasNextPage {
		t.Errorf("errors page: total %d, %+v", g.Errors.TotalCount, g.Errors.PageInfo)
	}
	// Filtering by NHS number, written with spaces.
	var found struct {
		Patients struct {
			TotalCount int
			Nodes      []struct{ ID string }
		}
	}
	spaced := p.Identifier
	if len(spaced) == 10 {
		spaced = spaced[:3] + " " + spaced[3:6] + " " + spaced[6:]
	}
	s.as(t, coord, `query($y: Int!, $id: String) { patients(pzCode: "pz001", auditYear: $y, filter: {identifier: $id}) { totalCount nodes { id } } }`,
		map[string]any{"y": year, "id": spaced}, &found)
	if found.Patients.TotalCount != 1 || found.Patients.Nodes[0].ID != p.ID {
		t.Errorf("filter by identifier %q: %+v", spaced, found)
	}

	// The previous submission is history: no patients, file kept.
	var old struct {
		Submission struct {
			State        string
			SupersededBy struct{ ID string }
			Patients     struct{ TotalCount int }
		}
	}
	s.as(t, coord, `query($id: ID!) { submission(id: $id) { state supersededBy { id } patients { totalCount } } }`, map[string]any{"id": sub.ID}, &old)
	if old.Submission.State != "SUPERSEDED" || old.Submission.SupersededBy.ID != sub2.ID || old.Submission.Patients.TotalCount != 0 {
		t.Errorf("old submission: %+v", old)
	}
	resp, body := s.get(t, coord, sub.OriginalFileURL)
	if resp.StatusCode != 200 || !bytes.Equal(body, big) || resp.Header.Get("Cache-Control") != "no-store" || !strings.Contains(resp.Header.Get("Content-Disposition"), "unit a.csv") {
		t.Errorf("original download: %d %d bytes %v", resp.StatusCode, len(body), resp.Header)
	}
	resp, body = s.get(t, coord, sub.AnnotatedFileURL)
	recs, err := csv.NewReader(bytes.NewReader(bytes.TrimPrefix(body, []byte("\xef\xbb\xbf")))).ReadAll()
	if resp.StatusCode != 200 || err != nil || len(recs) != sub.Counts.Rows+1 || recs[0][len(recs[0])-1] != audit.AnnotationHeading {
		t.Errorf("annotated download: %d %v %d records", resp.StatusCode, err, len(recs))
	}
	if resp, _ := s.get(t, stranger, sub.OriginalFileURL); resp.StatusCode != http.StatusForbidden {
		t.Errorf("stranger's download: %d", resp.StatusCode)
	}
	if resp, _ := s.get(t, "", sub.OriginalFileURL); resp.StatusCode != http.StatusUnauthorized {
		t.Errorf("anonymous download: %d", resp.StatusCode)
	}
	if resp, _ := s.get(t, coord, "/submissions/nonsense/original.csv"); resp.StatusCode != http.StatusNotFound {
		t.Errorf("bad id: %d", resp.StatusCode)
	}

	// Every patient view and download is in the access log, with no patient data.
	var views int
	var details []byte
	if err := s.db.Pool.QueryRow(context.Background(), `SELECT count(*), max(details::text)::bytea FROM access_log WHERE action = 'patient_viewed' AND unit_id = $1`, s.units["PZ001"]).Scan(&views, &details); err != nil {
		t.Fatal(err)
	}
	if views < 3 {
		t.Errorf("%d patient views logged", views)
	}
	if p.NhsNumber != nil && bytes.Contains(details, []byte(*p.NhsNumber)) {
		t.Errorf("the access log holds an NHS number: %s", details)
	}
	if strings.Contains(s.logs.String(), p.Identifier) {
		t.Error("the server log holds a patient's identifier")
	}
}

func TestPatientsQueryUsesConstantStatements(t *testing.T) {
	s := newAuthServer(t, nil)
	year := openYear()
	team := s.auditTeamToken(t, "team@rcpch.example")
	s.submitAsOperator(t, "PZ002", year, demoCSV(t, "PZ002", year, 30, 9))
	s.submitAsOperator(t, "PZ001", year, demoCSV(t, "PZ001", year, 30, 9))
	count := func(first int) int64 {
		before := s.counter.n.Load()
		var got struct {
			Patients struct {
				Nodes []struct{ Visits []struct{ Row int } }
			}
		}
		s.as(t, team, `query($n: Int, $y: Int!) { patients(pzCode: "PZ001", auditYear: $y, first: $n) { nodes { id unit { pzCode }
            submission { counts { rows } errorSummary { count } }
            visits { row cells { raw value } errors { code } } transfers { previousUnit { pzCode } unit { pzCode } } errors { message } fields { value } } } }`,
			map[string]any{"n": first, "y": year}, &got)
		if len(got.Patients.Nodes) != first || len(got.Patients.Nodes[0].Visits) == 0 {
			t.Fatalf("got %d patients", len(got.Patients.Nodes))
		}
		return s.counter.n.Load() - before
	}
	count(1)
	few, many := count(3), count(25)
	if few != many {
		t.Errorf("3 patients took %d statements, 25 took %d; want the same", few, many)
	}
	t.Logf("a page of patients with visits, cells, errors and transfers: %d statements", many)
}

// victimAuditData submits a file for pz in the open audit year and returns the year,
// the submission's id, a patient's id and that patient's NHS number, for the policy walk.
func (s *authServer) victimAuditData(t *testing.T, pz string) (year int, submissionID, patientID, nhsNumber string) {
	t.Helper()
	year = openYear()
	sub := s.submitAsOperator(t, pz, year, demoCSV(t, pz, year, 3, 11))
	ps, _, err := s.app.store.Patients(context.Background(), store.PatientQuery{SubmissionID: sub.ID, Limit: 1})
	if err != nil || len(ps) != 1 {
		t.Fatalf("victim patients: %v", err)
	}
	return year, model.EncodeID("Submission", strconv.FormatInt(sub.ID, 10)), model.EncodeID("Patient", strconv.FormatInt(ps[0].ID, 10)), ps[0].Identifier
}

// walkPost sends an operation of the policy walk: as multipart with a small file when it
// takes $file (an Upload), else as JSON.
func (s *authServer) walkPost(t *testing.T, token, q string) (int, gqlResponse) {
	t.Helper()
	if strings.Contains(q, "$file") {
		return s.upload(t, token, q, nil, "walk.csv", demoCSV(t, "PZ001", openYear(), 1, 12))
	}
	return s.post(t, token, q, nil)
}
