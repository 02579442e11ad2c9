package main

import (
	"bytes"
	"context"
	"encoding/base32"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"testing"

	"caregraph/auth"
	"caregraph/store"
	"caregraph/store/dbtest"
)

// authServer is a test server over a database without boundaries, for the account,
// policy and hardening tests.
type authServer struct {
	*testServer
	app   *app
	db    *dbtest.DB
	logs  *syncBuffer
	units map[string]int64
}

// newAuthServer starts a server with units PZ001 and PZ002.
func newAuthServer(t *testing.T, mutate func(*config)) *authServer {
	t.Helper()
	counter := &statementCounter{}
	db := dbtest.NewWith(t, dbtest.Options{Tracer: counter})
	cfg, err := loadConfig(func(string) string { return "" })
	if err != nil {
		t.Fatal(err)
	}
	// Tests fire requests faster than any client should; TestRateLimits sets its own.
	cfg.RateLimitIP, cfg.RateLimitToken = rateLimit{}, rateLimit{}
	if mutate != nil {
		mutate(&cfg)
	}
	logs := &syncBuffer{}
	a := newApp(cfg, slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug})), db.Pool)
	// Before the database goes: KPI recomputes an upload started in the background.
	t.Cleanup(a.aggregator.Wait)
	srv := httptest.NewServer(a.routes())
	t.Cleanup(srv.Close)
	s := &authServer{testServer: &testServer{Server: srv, counter: counter}, app: a, db: db, logs: logs, units: map[string]int64{}}
	for _, pz := range []string{"PZ001", "PZ002"} {
		s.units[pz] = s.unit(t, pz)
	}
	return s
}

func (s *authServer) unit(t *testing.T, pz string) int64 {
	t.Helper()
	return insertUnit(t, s.db, pz)
}

// insertUnit adds the unit pz, named "Unit pz", to the database and returns its id.
func insertUnit(t testing.TB, db *dbtest.DB, pz string) int64 {
	t.Helper()
	var id int64
	if err := db.Pool.QueryRow(context.Background(), `INSERT INTO paediatric_diabetes_units (pz_code, name) VALUES ($1, $2) RETURNING id`, pz, "Unit "+pz).Scan(&id); err != nil {
		t.Fatal(err)
	}
	return id
}

// account creates a user as the operator and returns it.
func (s *authServer) account(t *testing.T, email string, role auth.Role, password string, pz ...string) store.User {
	t.Helper()
	u, _, err := s.app.auth.CreateUser(context.Background(), auth.Operator(), auth.NewUserRequest{Email: email, Name: "Test " + email, Role: role, PZCodes: pz, Password: password})
	if err != nil {
		t.Fatal(err)
	}
	return u
}

// post sends a GraphQL request with an optional bearer token and returns the status
// and decoded response.
func (s *authServer) post(t *testing.T, token, q string, vars map[string]any) (int, gqlResponse) {
	t.Helper()
	body, _ := json.Marshal(map[string]any{"query": q, "variables": vars})
	return s.postRaw(t, token, body)
}

func (s *authServer) postRaw(t *testing.T, token string, body []byte) (int, gqlResponse) {
	t.Helper()
	req, _ := http.NewRequest("POST", s.URL+"/graphql", bytes.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
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

// as runs a query with a token and fails the test on any error.
func (s *authServer) as(t *testing.T, token, q string, vars map[string]any, into any) {
	t.Helper()
	_, r := s.post(t, token, q, vars)
	if len(r.Errors) > 0 {
		t.Fatalf("query failed: %+v\n%s", r.Errors, q)
	}
	if into != nil {
		if err := json.Unmarshal(r.Data, into); err != nil {
			t.Fatal(err)
		}
	}
}

// login signs in through GraphQL and returns the token.
func (s *authServer) login(t *testing.T, email, password, totp string) string {
	t.Helper()
	var got struct {
		Login struct{ Token string }
	}
	vars := map[string]any{"e": email, "p": password}
	if totp != "" {
		vars["c"] = totp
	}
	s.as(t, "", `mutation($e: String!, $p: String!, $c: String) { login(email: $e, password: $p, totp: $c) { token } }`, vars, &got)
	return got.Login.Token
}

// errorCodes lists the extensions.code of each error of a response.
func errorCodes(r gqlResponse) []string {
	var codes []string
	for _, e := range r.Errors {
		c, _ := e.Extensions["code"].(string)
		codes = append(codes, c)
	}
	return codes
}

func decodeTOTPSecret(t *testing.T, text string) []byte {
	t.Helper()
	b, err := base32.StdEncoding.WithPadding(base32.NoPadding).DecodeString(text)
	if err != nil {
		t.Fatal(err)
	}
	return b
}
