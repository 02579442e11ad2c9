package main

import (
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"caregraph/auth"
)

// auditTeamToken creates an RCPCH audit team account and goes through its first
// sign-in over GraphQL: the enrolment-only token, enrolTotp, confirmTotp, and a login
// with a code. It returns the full token.
func (s *authServer) auditTeamToken(t *testing.T, email string) string {
	t.Helper()
	s.account(t, email, auth.AuditTeam, "audit team password")
	var first struct {
		Login struct {
			Token                 string
			TotpEnrolmentRequired bool
		}
	}
	s.as(t, "", `mutation($e: String!) { login(email: $e, password: "audit team password") { token totpEnrolmentRequired } }`, map[string]any{"e": email}, &first)
	if !first.Login.TotpEnrolmentRequired {
		t.Fatal("an audit team login without a second factor gave a full token")
	}
	enrolling := first.Login.Token
	_, r := s.post(t, enrolling, `{ users { totalCount } }`, nil)
	if codes := errorCodes(r); !slices.Equal(codes, []string{"FORBIDDEN"}) {
		t.Fatalf("the enrolment token listed users: %v", codes)
	}
	var enrol struct{ EnrolTotp struct{ Secret, URI string } }
	s.as(t, enrolling, `mutation { enrolTotp { secret uri } }`, nil, &enrol)
	secret := decodeTOTPSecret(t, enrol.EnrolTotp.Secret)
	s.as(t, enrolling, `mutation($c: String!) { confirmTotp(code: $c) { totpEnabled } }`, map[string]any{"c": auth.TOTPCode(secret, time.Now())}, nil)
	// The confirming code's step is used up; the next step's code is within the window.
	return s.login(t, email, "audit team password", auth.TOTPCode(secret, time.Now().Add(auth.TOTPPeriod)))
}

func TestAccountsOverGraphQL(t *testing.T) {
	s := newAuthServer(t, nil)
	s.account(t, "coord@a.example", auth.Coordinator, "coordinator password", "PZ001")
	s.account(t, "reader@b.example", auth.Reader, "reader b password", "PZ002")
	coord := s.login(t, "coord@a.example", "coordinator password", "")
	readerB := s.login(t, "reader@b.example", "reader b password", "")
	team := s.auditTeamToken(t, "team@rcpch.example")

	var me struct {
		Me struct {
			ID, Email, Role string
			PrimaryUnit     struct{ PzCode string }
			Units           []struct{ PzCode string }
		}
	}
	s.as(t, coord, `{ me { id email role primaryUnit { pzCode } units { pzCode } } }`, nil, &me)
	if me.Me.Email != "coord@a.example" || me.Me.Role != "COORDINATOR" || me.Me.PrimaryUnit.PzCode != "PZ001" || len(me.Me.Units) != 1 {
		t.Errorf("me = %+v", me.Me)
	}

	// A coordinator creates an editor in their unit; the generated password signs in.
	var created struct {
		CreateUser struct {
			User              struct{ ID, Email string }
			GeneratedPassword string
		}
	}
	s.as(t, coord, `mutation { createUser(input: {email: "ed@a.example", name: "Ed", role: EDITOR, pzCodes: ["pz001"]}) { user { id email } generatedPassword } }`, nil, &created)
	editor := s.login(t, "ed@a.example", created.CreateUser.GeneratedPassword, "")
	for q, want := range map[string]string{
		`mutation { createUser(input: {email: "x@a.example", name: "X", role: RCPCH_AUDIT_TEAM}) { user { id } } }`:                              "FORBIDDEN",
		`mutation { createUser(input: {email: "x@a.example", name: "X", role: EDITOR, pzCodes: ["PZ002"]}) { user { id } } }`:                    "FORBIDDEN",
		`mutation { createUser(input: {email: "x@a.example", name: "X", role: EDITOR, pzCodes: ["PZ999"]}) { user { id } } }`:                    "FORBIDDEN",
		`mutation { createUser(input: {email: "ED@a.example", name: "X", role: EDITOR, pzCodes: ["PZ001"]}) { user { id } } }`:                   "CONFLICT",
		`mutation { createUser(input: {email: "x@a.example", name: "X", role: EDITOR, pzCodes: ["PZ001"], password: "short"}) { user { id } } }`: "BAD_USER_INPUT",
		`{ users(filter: {pzCode: "PZ002"}) { totalCount } }`:                                                                                    "FORBIDDEN",
		`{ accessLog { totalCount } }`: "FORBIDDEN",
	} {
		if _, r := s.post(t, coord, q, nil); !slices.Equal(errorCodes(r), []string{want}) {
			t.Errorf("as coordinator, %s: %v, want %s", q, errorCodes(r), want)
		}
	}
	// The audit team gets the plainer answer about a unit that does not exist.
	if _, r := s.post(t, team, `mutation { createUser(input: {email: "x@a.example", name: "X", role: EDITOR, pzCodes: ["PZ999"]}) { user { id } } }`, nil); !slices.Equal(errorCodes(r), []string{"BAD_USER_INPUT"}) {
		t.Errorf("audit team, unknown unit: %v", errorCodes(r))
	}

	// Who sees which accounts.
	list := func(token string) ([]string, []string) {
		_, r := s.post(t, token, `{ users(first: 1000) { totalCount nodes { email } } }`, nil)
		var got struct {
			Users struct{ Nodes []struct{ Email string } }
		}
		_ = json.Unmarshal(r.Data, &got)
		var emails []string
		for _, n := range got.Users.Nodes {
			emails = append(emails, n.Email)
		}
		return emails, errorCodes(r)
	}
	if emails, codes := list(coord); strings.Join(emails, ",") != "coord@a.example,ed@a.example" || codes != nil {
		t.Errorf("coordinator lists %v %v", emails, codes)
	}
	if emails, codes := list(team); len(emails) != 4 || codes != nil {
		t.Errorf("audit team lists %v %v", emails, codes)
	}
	if _, codes := list(readerB); !slices.Equal(codes, []string{"FORBIDDEN"}) {
		t.Errorf("reader lists users: %v", codes)
	}
	if _, codes := list(""); !slices.Equal(codes, []string{"UNAUTHENTICATED"}) {
		t.Errorf("anonymous lists users: %v", codes)
	}

	// The nested path: a unit is public, its users are not.
	unitUsers := `{ paediatricDiabetesUnit(pzCode: "PZ001") { pzCode users { email } } }`
	var unit struct {
		PaediatricDiabetesUnit struct {
			PzCode string
			Users  []struct{ Email string }
		}
	}
	s.as(t, coord, unitUsers, nil, &unit)
	if len(unit.PaediatricDiabetesUnit.Users) != 2 {
		t.Errorf("unit users as coordinator: %+v", unit)
	}
	for token, want := range map[string]string{"": "UNAUTHENTICATED", readerB: "FORBIDDEN", editor: "FORBIDDEN"} {
		_, r := s.post(t, token, unitUsers, nil)
		if !slices.Equal(errorCodes(r), []string{want}) || !strings.Contains(string(r.Data), `"pzCode":"PZ001"`) || strings.Contains(string(r.Data), "@a.example") {
			t.Errorf("unit users as %q: %v %s", token, errorCodes(r), r.Data)
		}
	}

	// Deactivation by the coordinator ends the editor's session at once.
	s.as(t, coord, `mutation($id: ID!) { updateUser(id: $id, input: {active: false}) { active } }`, map[string]any{"id": created.CreateUser.User.ID}, nil)
	if status, r := s.post(t, editor, `{ me { email } }`, nil); status != http.StatusUnauthorized || !slices.Equal(errorCodes(r), []string{"UNAUTHENTICATED"}) {
		t.Errorf("a deactivated editor's token: %d %v", status, errorCodes(r))
	}

	// Tokens: listed by their owner, revoked by them; logout ends the current one.
	second := s.login(t, "coord@a.example", "coordinator password", "")
	var mine struct {
		MyTokens []struct {
			ID      string
			Kind    string
			Current bool
		}
	}
	s.as(t, second, `{ myTokens { id kind current } }`, nil, &mine)
	if len(mine.MyTokens) != 2 || !mine.MyTokens[0].Current || mine.MyTokens[1].Current || mine.MyTokens[0].Kind != "USER" {
		t.Fatalf("myTokens = %+v", mine.MyTokens)
	}
	s.as(t, second, `mutation($id: ID!) { revokeToken(id: $id) { revokedAt } }`, map[string]any{"id": mine.MyTokens[1].ID}, nil)
	if status, _ := s.post(t, coord, `{ me { email } }`, nil); status != http.StatusUnauthorized {
		t.Errorf("a revoked token still works: %d", status)
	}
	// Another unit's reader cannot revoke it, nor list the coordinator's tokens.
	if _, r := s.post(t, readerB, `mutation($id: ID!) { revokeToken(id: $id) { id } }`, map[string]any{"id": mine.MyTokens[0].ID}); !slices.Equal(errorCodes(r), []string{"FORBIDDEN"}) {
		t.Errorf("a stranger revoked a token: %v", errorCodes(r))
	}
	s.as(t, second, `mutation { logout }`, nil, nil)
	if status, _ := s.post(t, second, `{ me { email } }`, nil); status != http.StatusUnauthorized {
		t.Errorf("a logged-out token still works: %d", status)
	}

	// The audit team reads the access log, newest first, a page at a time.
	var page struct {
		AccessLog struct {
			TotalCount int
			Nodes      []struct {
				Action      string
				IP          *string
				User        *struct{ Email string }
				ActingAdmin *struct{ Email string }
				Details     string
			}
			PageInfo struct {
				HasNextPage bool
				EndCursor   string
			}
		}
	}
	s.as(t, team, `{ accessLog(first: 3) { totalCount nodes { action ip user { email } actingAdmin { email } details } pageInfo { hasNextPage endCursor } } }`, nil, &page)
	if page.AccessLog.TotalCount < 10 || len(page.AccessLog.Nodes) != 3 || !page.AccessLog.PageInfo.HasNextPage {
		t.Fatalf("access log page %+v", page.AccessLog)
	}
	if n := page.AccessLog.Nodes[0]; n.Action != "LOGOUT" || n.IP == nil || *n.IP != "127.0.0.1" || n.User.Email != "coord@a.example" {
		t.Errorf("newest entry %+v", n)
	}
	var actions []string
	for _, n := range page.AccessLog.Nodes {
		actions = append(actions, n.Action)
	}
	after := page.AccessLog.PageInfo.EndCursor
	for after != "" {
		var next struct {
			AccessLog struct {
				Nodes    []struct{ Action string }
				PageInfo struct {
					HasNextPage bool
					EndCursor   string
				}
			}
		}
		s.as(t, team, `query($a: String) { accessLog(first: 4, after: $a) { nodes { action } pageInfo { hasNextPage endCursor } } }`, map[string]any{"a": after}, &next)
		for _, n := range next.AccessLog.Nodes {
			actions = append(actions, n.Action)
		}
		after = ""
		if next.AccessLog.PageInfo.HasNextPage {
			after = next.AccessLog.PageInfo.EndCursor
		}
	}
	if len(actions) != page.AccessLog.TotalCount {
		t.Errorf("paged through %d entries, totalCount %d", len(actions), page.AccessLog.TotalCount)
	}
	for _, want := range []string{"USER_CREATED", "LOGIN", "TOTP_ENABLED", "USER_UPDATED", "TOKEN_REVOKED"} {
		if !slices.Contains(actions, want) {
			t.Errorf("no %s in the access log: %v", want, actions)
		}
	}
	var deactivation struct {
		AccessLog struct {
			Nodes []struct {
				User        struct{ Email string }
				ActingAdmin struct{ Email string }
				Details     string
			}
		}
	}
	s.as(t, team, `{ accessLog(filter: {actions: [USER_UPDATED]}) { nodes { user { email } actingAdmin { email } details } } }`, nil, &deactivation)
	if n := deactivation.AccessLog.Nodes; len(n) != 1 || n[0].User.Email != "ed@a.example" || n[0].ActingAdmin.Email != "coord@a.example" || !strings.Contains(n[0].Details, `"active":false`) {
		t.Errorf("deactivation entries %+v", n)
	}
}

// TestUserListUsesConstantQueries is the N+1 guard for accounts and their units.
func TestUserListUsesConstantQueries(t *testing.T) {
	s := newAuthServer(t, nil)
	team := s.auditTeamToken(t, "team@rcpch.example")
	for i := range 12 {
		s.account(t, fmt.Sprintf("u%02d@a.example", i), auth.Editor, "a long password", "PZ001", "PZ002")
	}
	count := func(first int) int64 {
		before := s.counter.n.Load()
		var got struct {
			Users struct {
				Nodes []struct {
					Units       []struct{ PzCode string }
					PrimaryUnit struct{ PzCode string }
				}
			}
		}
		s.as(t, team, `query($n: Int) { users(first: $n, filter: {role: EDITOR}) { nodes { email units { pzCode name } primaryUnit { pzCode } } } }`, map[string]any{"n": first}, &got)
		if len(got.Users.Nodes) != first || len(got.Users.Nodes[0].Units) != 2 || got.Users.Nodes[0].PrimaryUnit.PzCode != "PZ001" {
			t.Fatalf("got %+v", got.Users.Nodes)
		}
		return s.counter.n.Load() - before
	}
	count(1) // the first request authenticates the token against the database
	few, many := count(3), count(12)
	if few != many {
		t.Errorf("3 users took %d statements, 12 took %d; want the same", few, many)
	}
	t.Logf("a page of users with their units: %d statements", many)
}
