package main

import (
	"context"
	"encoding/json"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"caregraph/auth"
)

// TestSecretsNeverReachTheLogs runs authenticated traffic — logins with passwords and
// codes, failed logins, requests with tokens, password changes, oversize and malformed
// bodies — with the database failing underneath so that errors are logged, and then
// searches everything the server logged for the secrets.
func TestSecretsNeverReachTheLogs(t *testing.T) {
	s := newAuthServer(t, func(c *config) { c.MaxBodyBytes = 4096 })
	ctx := context.Background()
	var secrets []string
	secret := func(v string) string { secrets = append(secrets, v); return v }

	s.account(t, "lee@a.example", auth.Coordinator, secret("lee's first password"), "PZ001")
	lee := secret(s.login(t, "lee@a.example", "lee's first password", ""))
	team := secret(s.auditTeamToken(t, "team@rcpch.example"))

	// A created account's password, given and generated.
	var created struct {
		CreateUser struct{ GeneratedPassword string }
	}
	s.as(t, lee, `mutation($p: String) { createUser(input: {email: "new@a.example", name: "New", role: EDITOR, pzCodes: ["PZ001"], password: $p}) { generatedPassword } }`,
		map[string]any{"p": secret("a given password")}, nil)
	s.as(t, team, `mutation { createUser(input: {email: "gen@a.example", name: "Gen", role: READER, pzCodes: ["PZ001"]}) { generatedPassword } }`, nil, &created)
	secret(created.CreateUser.GeneratedPassword)

	// Second factor: the secret, and codes given at login.
	s.account(t, "mfa@a.example", auth.Editor, secret("mfa's long password"), "PZ001")
	mfa := secret(s.login(t, "mfa@a.example", "mfa's long password", ""))
	var enrol struct{ EnrolTotp struct{ Secret, URI string } }
	s.as(t, mfa, `mutation { enrolTotp { secret uri } }`, nil, &enrol)
	secret(enrol.EnrolTotp.Secret)
	totpSecret := decodeTOTPSecret(t, enrol.EnrolTotp.Secret)
	codes := []string{auth.TOTPCode(totpSecret, time.Now()), auth.TOTPCode(totpSecret, time.Now().Add(auth.TOTPPeriod))}
	s.as(t, mfa, `mutation($c: String!) { confirmTotp(code: $c) { totpEnabled } }`, map[string]any{"c": codes[0]}, nil)
	secret(s.login(t, "mfa@a.example", "mfa's long password", codes[1]))

	// Failures: a wrong password, an unknown email, a wrong code, a wrong current
	// password, a malformed token, a token in a variable of the wrong type.
	for _, vars := range []map[string]any{
		{"e": "lee@a.example", "p": secret("lee's wrong guess"), "c": nil},
		{"e": "nobody@a.example", "p": secret("nobody's guess"), "c": nil},
		{"e": "mfa@a.example", "p": "mfa's long password", "c": "999999"},
	} {
		s.post(t, "", `mutation($e: String!, $p: String!, $c: String) { login(email: $e, password: $p, totp: $c) { token } }`, vars)
	}
	s.post(t, lee, `mutation($o: String!, $n: String!) { changePassword(currentPassword: $o, newPassword: $n) }`,
		map[string]any{"o": secret("not lee's password"), "n": secret("lee's next password")})
	s.post(t, secret("cgt_"+strings.Repeat("Z", 43)), `{ me { email } }`, nil)
	s.post(t, "", `query($n: Int) { users(first: $n) { totalCount } }`, map[string]any{"n": secret("cgt_notanumber")})
	big, _ := json.Marshal(map[string]any{"query": `mutation($p: String!) { login(email: "lee@a.example", password: $p) { token } }`,
		"variables": map[string]any{"p": secret("oversize " + strings.Repeat("x", 5000))}})
	s.postRaw(t, "", big)

	// Now the access log fails underneath: every login and failure is logged as an error,
	// with the request's variables in reach of the logger.
	if _, err := s.db.Pool.Exec(ctx, `ALTER TABLE access_log RENAME TO access_log_gone`); err != nil {
		t.Fatal(err)
	}
	s.post(t, "", `mutation($e: String!, $p: String!) { login(email: $e, password: $p) { token } }`,
		map[string]any{"e": "lee@a.example", "p": "lee's first password"})
	s.post(t, "", `mutation($e: String!, $p: String!) { login(email: $e, password: $p) { token } }`,
		map[string]any{"e": "lee@a.example", "p": secret("another wrong guess")})
	s.post(t, team, `mutation($p: String) { createUser(input: {email: "late@a.example", name: "Late", role: EDITOR, pzCodes: ["PZ001"], password: $p}) { generatedPassword } }`,
		map[string]any{"p": secret("a password while failing")})

	logs := s.logs.String()
	if !strings.Contains(logs, "graphql resolver failed") || !strings.Contains(logs, "write access log") {
		t.Fatalf("the failures were not logged, so this test proves nothing:\n%s", logs)
	}
	for _, sec := range secrets {
		if sec != "" && strings.Contains(logs, sec) {
			t.Errorf("the log holds a secret %q", sec[:min(len(sec), 12)]+"…")
		}
	}
	// Codes are six digits: look for them as whole numbers only.
	numbers := regexp.MustCompile(`(?:^|\D)(\d{6})(?:\D|$)`).FindAllStringSubmatch(logs, -1)
	for _, m := range numbers {
		if slices.Contains(codes, m[1]) {
			t.Errorf("the log holds a TOTP code %s", m[1])
		}
	}
	t.Logf("searched %d bytes of log for %d secrets", len(logs), len(secrets))
}
