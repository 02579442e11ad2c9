package auth_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"caregraph/auth"
	"caregraph/store"
	"caregraph/store/dbtest"
)

var fastArgon2 = auth.Argon2Params{Time: 1, MemoryKiB: 64, Threads: 1, SaltLen: 16, KeyLen: 32}

// clock is a settable time source for the token cache and TOTP.
type clock struct{ ns atomic.Int64 }

func (c *clock) now() time.Time          { return time.Unix(0, c.ns.Load()) }
func (c *clock) advance(d time.Duration) { c.ns.Add(int64(d)) }
func newClock() *clock                   { c := &clock{}; c.ns.Store(time.Now().UnixNano()); return c }

type fixture struct {
	db    *dbtest.DB
	st    *store.Store
	svc   *auth.Service
	clock *clock
	units map[string]int64
}

func newFixture(t *testing.T) *fixture {
	t.Helper()
	db := dbtest.New(t)
	st := store.New(db.Pool)
	f := &fixture{db: db, st: st, clock: newClock(), units: map[string]int64{}}
	f.svc = f.replica()
	for _, pz := range []string{"PZ001", "PZ002"} {
		var id int64
		if err := db.Pool.QueryRow(context.Background(), `INSERT INTO paediatric_diabetes_units (pz_code, name) VALUES ($1, $2) RETURNING id`, pz, "Unit "+pz).Scan(&id); err != nil {
			t.Fatal(err)
		}
		f.units[pz] = id
	}
	return f
}

// replica is another server over the same database, with its own token cache.
func (f *fixture) replica() *auth.Service {
	return auth.NewService(f.st, auth.Options{Argon2: fastArgon2, Now: f.clock.now})
}

func (f *fixture) user(t *testing.T, email string, role auth.Role, password string, pz ...string) store.User {
	t.Helper()
	u, _, err := f.svc.CreateUser(context.Background(), auth.Operator(), auth.NewUserRequest{Email: email, Name: "Test " + email, Role: role, PZCodes: pz, Password: password})
	if err != nil {
		t.Fatal(err)
	}
	return u
}

func (f *fixture) log(t *testing.T, action string) []store.AccessEntry {
	t.Helper()
	es, _, err := f.st.AccessLog(context.Background(), store.AccessLogQuery{Actions: []string{action}, Limit: 1000})
	if err != nil {
		t.Fatal(err)
	}
	return es
}

func TestLoginAuthenticateLogout(t *testing.T) {
	f := newFixture(t)
	ctx := auth.WithClientIP(context.Background(), "192.0.2.7")
	u := f.user(t, "Ann.Editor@Example.org", auth.Editor, "ann's long password", "PZ002", "PZ001")
	if u.PrimaryUnitID() != f.units["PZ002"] || len(u.UnitIDs) != 2 {
		t.Fatalf("units %v, want PZ002 first", u.PZCodes)
	}

	// Email is matched in any case.
	res, err := f.svc.Login(ctx, "ann.editor@EXAMPLE.org", "ann's long password", "")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(res.Token, auth.TokenPrefix) || res.User.ID != u.ID || res.EnrolmentOnly {
		t.Fatalf("login result %+v", res)
	}
	if d := res.ExpiresAt.Sub(f.clock.now()); d < 11*time.Hour || d > 13*time.Hour {
		t.Errorf("session lasts %s, want 12h", d)
	}
	p, err := f.svc.Authenticate(ctx, "Bearer "+res.Token)
	if err != nil {
		t.Fatal(err)
	}
	if p.Kind != auth.KindUser || p.UserID != u.ID || p.Role != auth.Editor || p.UnitIDs[0] != f.units["PZ002"] {
		t.Errorf("principal %+v", p)
	}
	var hashText string
	if err := f.db.Pool.QueryRow(ctx, `SELECT encode(token_hash, 'hex') FROM tokens WHERE user_id = $1`, u.ID).Scan(&hashText); err != nil {
		t.Fatal(err)
	}
	if strings.Contains(res.Token, hashText) || hashText == "" {
		t.Error("the token is stored as it is")
	}

	if err := f.svc.Logout(ctx, p); err != nil {
		t.Fatal(err)
	}
	if _, err := f.svc.Authenticate(ctx, "Bearer "+res.Token); !errors.Is(err, auth.ErrUnauthenticated) {
		t.Errorf("a logged-out token still authenticates: %v", err)
	}
	logins := f.log(t, store.ActionLogin)
	if len(logins) != 1 || *logins[0].UserID != u.ID || logins[0].IP != "192.0.2.7" {
		t.Errorf("login entries %+v", logins)
	}
	if len(f.log(t, store.ActionLogout)) != 1 || len(f.log(t, store.ActionUserCreated)) != 1 {
		t.Error("logout or user creation not in the access log")
	}
	if created := f.log(t, store.ActionUserCreated)[0]; created.Details["via"] != "command line" || created.AdminID != nil {
		t.Errorf("user_created entry %+v", created)
	}

	for _, h := range []string{"", "Basic abc", "Bearer nonsense", "Bearer " + strings.Repeat("x", len(res.Token))} {
		if _, err := f.svc.Authenticate(ctx, h); !errors.Is(err, auth.ErrUnauthenticated) {
			t.Errorf("header %q: %v", h, err)
		}
	}
}

func TestLoginFailuresLookAlike(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	f.user(t, "bob@example.org", auth.Reader, "bob's long password", "PZ001")
	inactive := f.user(t, "cy@example.org", auth.Reader, "cy's long password", "PZ001")
	off := false
	if _, err := f.svc.UpdateUser(ctx, auth.Operator(), inactive.ID, auth.UserUpdate{Active: &off}); err != nil {
		t.Fatal(err)
	}
	_, wrongPassword := f.svc.Login(ctx, "bob@example.org", "not the password", "")
	_, unknownEmail := f.svc.Login(ctx, "nobody@example.org", "not the password", "")
	_, deactivated := f.svc.Login(ctx, "cy@example.org", "cy's long password", "")
	for _, err := range []error{wrongPassword, unknownEmail, deactivated} {
		if !errors.Is(err, auth.ErrUnauthenticated) || err.Error() != wrongPassword.Error() {
			t.Errorf("login errors differ: %v / %v", err, wrongPassword)
		}
	}
	reasons := map[string]bool{}
	for _, e := range f.log(t, store.ActionLoginFailed) {
		reasons[fmt.Sprint(e.Details["reason"])] = true
	}
	for _, r := range []string{"wrong_password", "unknown", "inactive"} {
		if !reasons[r] {
			t.Errorf("no login_failed entry with reason %s: %v", r, reasons)
		}
	}
}

func TestLockout(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	u := f.user(t, "dee@example.org", auth.Editor, "dee's long password", "PZ001")
	for i := range 4 {
		if _, err := f.svc.Login(ctx, "dee@example.org", fmt.Sprintf("guess %d", i), ""); !errors.Is(err, auth.ErrUnauthenticated) {
			t.Fatal(err)
		}
	}
	// Four failures: the right password still works, and forgives them.
	if _, err := f.svc.Login(ctx, "dee@example.org", "dee's long password", ""); err != nil {
		t.Fatalf("login after four failures: %v", err)
	}
	for i := range 5 {
		f.svc.Login(ctx, "dee@example.org", fmt.Sprintf("guess %d", i), "")
	}
	if _, err := f.svc.Login(ctx, "dee@example.org", "dee's long password", ""); !errors.Is(err, auth.ErrUnauthenticated) {
		t.Fatalf("the right password worked on a locked account: %v", err)
	}
	if n := len(f.log(t, store.ActionLockout)); n != 1 {
		t.Errorf("%d lockout entries, want 1", n)
	}
	var lockedFor time.Duration
	if err := f.db.Pool.QueryRow(ctx, `SELECT locked_until - now() FROM users WHERE id = $1`, u.ID).Scan(&lockedFor); err != nil {
		t.Fatal(err)
	}
	if lockedFor < 9*time.Minute || lockedFor > 10*time.Minute {
		t.Errorf("locked for %s, want 10 minutes", lockedFor)
	}
	// Ten minutes later (moved in the database) the right password works again.
	if _, err := f.db.Pool.Exec(ctx, `UPDATE users SET locked_until = now() - interval '1 second', failures_since = now() - interval '11 minutes' WHERE id = $1`, u.ID); err != nil {
		t.Fatal(err)
	}
	if _, err := f.svc.Login(ctx, "dee@example.org", "dee's long password", ""); err != nil {
		t.Errorf("login after the lock ran out: %v", err)
	}
}

// TestLockoutParallel fires 20 wrong logins at once: at most 5 may have their password
// checked before the account locks, and the lock must then refuse the right one.
func TestLockoutParallel(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	f.user(t, "eve@example.org", auth.Editor, "eve's long password", "PZ001")
	var wg sync.WaitGroup
	start := make(chan struct{})
	for i := range 20 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			if _, err := f.svc.Login(ctx, "eve@example.org", fmt.Sprintf("parallel guess %d", i), ""); !errors.Is(err, auth.ErrUnauthenticated) {
				t.Errorf("guess %d: %v", i, err)
			}
		}()
	}
	close(start)
	wg.Wait()
	evaluated, refused := 0, 0
	for _, e := range f.log(t, store.ActionLoginFailed) {
		switch e.Details["reason"] {
		case "wrong_password":
			evaluated++
		case "locked":
			refused++
		}
	}
	if evaluated != 5 || refused != 15 {
		t.Errorf("%d passwords checked and %d refused unchecked; want 5 and 15", evaluated, refused)
	}
	if _, err := f.svc.Login(ctx, "eve@example.org", "eve's long password", ""); !errors.Is(err, auth.ErrUnauthenticated) {
		t.Errorf("the right password worked after 20 parallel failures: %v", err)
	}
}

func TestRevocationReachesOtherReplicasWithinASecond(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	f.user(t, "fay@example.org", auth.Reader, "fay's long password", "PZ001")
	res, err := f.svc.Login(ctx, "fay@example.org", "fay's long password", "")
	if err != nil {
		t.Fatal(err)
	}
	other := f.replica()
	p, err := other.Authenticate(ctx, "Bearer "+res.Token)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.svc.RevokeToken(ctx, p, p.TokenID); err != nil {
		t.Fatal(err)
	}
	if _, err := f.svc.Authenticate(ctx, "Bearer "+res.Token); !errors.Is(err, auth.ErrUnauthenticated) {
		t.Errorf("the revoking replica still accepts the token: %v", err)
	}
	// The other replica trusts its cache for at most the cache lifetime...
	f.clock.advance(500 * time.Millisecond)
	if _, err := other.Authenticate(ctx, "Bearer "+res.Token); err != nil {
		t.Logf("other replica refused already: %v", err)
	}
	// ...and not a moment past a second.
	f.clock.advance(501 * time.Millisecond)
	if _, err := other.Authenticate(ctx, "Bearer "+res.Token); !errors.Is(err, auth.ErrUnauthenticated) {
		t.Errorf("another replica accepts a token revoked over a second ago: %v", err)
	}
	if es := f.log(t, store.ActionTokenRevoked); len(es) != 1 || es[0].AdminID != nil {
		t.Errorf("token_revoked entries %+v (an owner revoking is no admin)", es)
	}
}

func TestAuditTeamNeedsTOTP(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	f.user(t, "gil@rcpch.ac.uk", auth.AuditTeam, "gil's long password")

	// Without a second factor yet: a short token that can only set one up.
	res, err := f.svc.Login(ctx, "gil@rcpch.ac.uk", "gil's long password", "")
	if err != nil {
		t.Fatal(err)
	}
	if !res.EnrolmentOnly || res.ExpiresAt.Sub(f.clock.now()) > 16*time.Minute {
		t.Fatalf("login without TOTP set up: %+v", res)
	}
	p, err := f.svc.Authenticate(ctx, "Bearer "+res.Token)
	if err != nil {
		t.Fatal(err)
	}
	if err := f.svc.Policy().CanReadUnit(p, f.units["PZ001"]); !errors.Is(err, auth.ErrForbidden) {
		t.Errorf("an enrolling audit team member reads a unit: %v", err)
	}
	enrol, err := f.svc.EnrolTOTP(ctx, p)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(enrol.URI, "otpauth://totp/caregraph:gil@rcpch.ac.uk?") || !strings.Contains(enrol.URI, enrol.Secret) {
		t.Errorf("enrolment %+v", enrol)
	}
	secret := decodeSecret(t, enrol.Secret)
	if _, err := f.svc.ConfirmTOTP(ctx, p, "000000"); !errors.Is(err, auth.ErrBadInput) && auth.TOTPCode(secret, f.clock.now()) != "000000" {
		t.Errorf("a wrong code confirmed: %v", err)
	}
	u, err := f.svc.ConfirmTOTP(ctx, p, auth.TOTPCode(secret, f.clock.now()))
	if err != nil || !u.TOTPEnabled {
		t.Fatalf("confirm: %v %+v", err, u)
	}
	if _, err := f.svc.Authenticate(ctx, "Bearer "+res.Token); !errors.Is(err, auth.ErrUnauthenticated) {
		t.Error("the enrolment token outlives the enrolment")
	}

	// From now on the code is required, and each code works once.
	if _, err := f.svc.Login(ctx, "gil@rcpch.ac.uk", "gil's long password", ""); !errors.Is(err, auth.ErrUnauthenticated) {
		t.Errorf("login without a code: %v", err)
	}
	f.clock.advance(auth.TOTPPeriod)
	code := auth.TOTPCode(secret, f.clock.now())
	full, err := f.svc.Login(ctx, "gil@rcpch.ac.uk", "gil's long password", code)
	if err != nil || full.EnrolmentOnly {
		t.Fatalf("login with a code: %v %+v", err, full)
	}
	if _, err := f.svc.Login(ctx, "gil@rcpch.ac.uk", "gil's long password", code); !errors.Is(err, auth.ErrUnauthenticated) {
		t.Errorf("a code worked twice: %v", err)
	}
	p, err = f.svc.Authenticate(ctx, "Bearer "+full.Token)
	if err != nil {
		t.Fatal(err)
	}
	if err := f.svc.Policy().CanReadUnit(p, f.units["PZ001"]); err != nil {
		t.Errorf("the audit team cannot read a unit: %v", err)
	}
	if _, err := f.svc.EnrolTOTP(ctx, p); !errors.Is(err, store.ErrConflict) {
		t.Errorf("re-enrolling over a confirmed second factor: %v", err)
	}
}

func TestServiceTokens(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	owner := f.user(t, "hal@example.org", auth.Coordinator, "hal's long password", "PZ001")
	text, tok, err := f.svc.IssueServiceToken(ctx, auth.Operator(), auth.ServiceTokenRequest{OwnerEmail: "hal@example.org", PZCode: "pz001", Access: auth.AccessSubmit, TTL: 24 * time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	if tok.Kind != "service" || *tok.PZCode != "PZ001" || *tok.Access != "submit" {
		t.Errorf("token %+v", tok)
	}
	p, err := f.svc.Authenticate(ctx, "Bearer "+text)
	if err != nil {
		t.Fatal(err)
	}
	pol := f.svc.Policy()
	if p.Kind != auth.KindService || pol.CanSubmitForUnit(p, f.units["PZ001"]) != nil || pol.CanReadUnit(p, f.units["PZ002"]) == nil {
		t.Errorf("service principal %+v", p)
	}
	if _, _, err := f.svc.IssueServiceToken(ctx, auth.Operator(), auth.ServiceTokenRequest{OwnerEmail: "hal@example.org", PZCode: "PZ002", Access: auth.AccessRead, TTL: time.Hour}); !errors.Is(err, auth.ErrForbidden) {
		t.Errorf("a token for a unit its owner is not in: %v", err)
	}

	// The owner demoted to reader: the token still reads, no longer submits.
	readerRole := auth.Reader
	if _, err := f.svc.UpdateUser(ctx, auth.Operator(), owner.ID, auth.UserUpdate{Role: &readerRole}); err != nil {
		t.Fatal(err)
	}
	p, err = f.svc.Authenticate(ctx, "Bearer "+text)
	if err != nil || p.Access != auth.AccessRead {
		t.Fatalf("after demotion: %+v %v", p, err)
	}
	// The owner moved to another unit: the token stops working.
	if _, err := f.svc.UpdateUser(ctx, auth.Operator(), owner.ID, auth.UserUpdate{PZCodes: []string{"PZ002"}}); err != nil {
		t.Fatal(err)
	}
	if _, err := f.svc.Authenticate(ctx, "Bearer "+text); !errors.Is(err, auth.ErrUnauthenticated) {
		t.Errorf("a service token outlives its owner's membership: %v", err)
	}
	for _, action := range []string{store.ActionTokenCreated, store.ActionRoleChanged, store.ActionUnitsChanged} {
		if len(f.log(t, action)) != 1 {
			t.Errorf("no %s entry", action)
		}
	}
}

func TestDeactivationRevokesTokens(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	coord := f.user(t, "ivy@example.org", auth.Coordinator, "ivy's long password", "PZ001")
	u := f.user(t, "jo@example.org", auth.Editor, "jo's long password", "PZ001")
	res, err := f.svc.Login(ctx, "jo@example.org", "jo's long password", "")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.svc.Authenticate(ctx, "Bearer "+res.Token); err != nil {
		t.Fatal(err)
	}
	cp := &auth.Principal{Kind: auth.KindUser, UserID: coord.ID, TokenID: 1, Role: auth.Coordinator, UnitIDs: coord.UnitIDs}
	off := false
	if _, err := f.svc.UpdateUser(ctx, cp, u.ID, auth.UserUpdate{Active: &off}); err != nil {
		t.Fatal(err)
	}
	if _, err := f.svc.Authenticate(ctx, "Bearer "+res.Token); !errors.Is(err, auth.ErrUnauthenticated) {
		t.Errorf("a deactivated user's token authenticates: %v", err)
	}
	es := f.log(t, store.ActionUserUpdated)
	if len(es) != 1 || es[0].AdminID == nil || *es[0].AdminID != coord.ID || es[0].Details["active"] != false {
		t.Errorf("user_updated entries %+v", es)
	}
	// A coordinator cannot move a user into a unit they do not coordinate.
	if _, err := f.svc.UpdateUser(ctx, cp, u.ID, auth.UserUpdate{PZCodes: []string{"PZ001", "PZ002"}}); !errors.Is(err, auth.ErrForbidden) {
		t.Errorf("coordinator added another unit: %v", err)
	}
}

func TestCreateUserValidation(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	op := auth.Operator()
	f.user(t, "kim@example.org", auth.Reader, "kim's long password", "PZ001")
	for name, tt := range map[string]struct {
		req  auth.NewUserRequest
		want error
	}{
		"email taken in another case": {auth.NewUserRequest{Email: "KIM@example.org", Name: "K", Role: auth.Reader, PZCodes: []string{"PZ001"}}, store.ErrConflict},
		"not an email":                {auth.NewUserRequest{Email: "kim", Name: "K", Role: auth.Reader, PZCodes: []string{"PZ001"}}, auth.ErrBadInput},
		"no name":                     {auth.NewUserRequest{Email: "l@example.org", Name: " ", Role: auth.Reader, PZCodes: []string{"PZ001"}}, auth.ErrBadInput},
		"short password":              {auth.NewUserRequest{Email: "l@example.org", Name: "L", Role: auth.Reader, PZCodes: []string{"PZ001"}, Password: "short"}, auth.ErrBadInput},
		"no unit":                     {auth.NewUserRequest{Email: "l@example.org", Name: "L", Role: auth.Editor}, auth.ErrBadInput},
		"unknown unit":                {auth.NewUserRequest{Email: "l@example.org", Name: "L", Role: auth.Editor, PZCodes: []string{"PZ999"}}, auth.ErrBadInput},
		"unknown role":                {auth.NewUserRequest{Email: "l@example.org", Name: "L", Role: "boss", PZCodes: []string{"PZ001"}}, auth.ErrBadInput},
	} {
		if _, _, err := f.svc.CreateUser(ctx, op, tt.req); !errors.Is(err, tt.want) {
			t.Errorf("%s: %v, want %v", name, err, tt.want)
		}
	}
	u, generated, err := f.svc.CreateUser(ctx, op, auth.NewUserRequest{Email: "mo@example.org", Name: "Mo", Role: auth.Editor, PZCodes: []string{" pz002 ", "PZ001", "PZ002"}})
	if err != nil {
		t.Fatal(err)
	}
	if generated == "" || strings.Join(u.PZCodes, ",") != "PZ002,PZ001" {
		t.Errorf("generated %q, units %v", generated, u.PZCodes)
	}
	if _, err := f.svc.Login(ctx, "mo@example.org", generated, ""); err != nil {
		t.Errorf("the generated password does not sign in: %v", err)
	}
}

func TestChangePassword(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	f.user(t, "ned@example.org", auth.Reader, "ned's first password", "PZ001")
	a, _ := f.svc.Login(ctx, "ned@example.org", "ned's first password", "")
	b, _ := f.svc.Login(ctx, "ned@example.org", "ned's first password", "")
	pa, err := f.svc.Authenticate(ctx, "Bearer "+a.Token)
	if err != nil {
		t.Fatal(err)
	}
	if err := f.svc.ChangePassword(ctx, pa, "wrong", "ned's second password"); !errors.Is(err, auth.ErrForbidden) {
		t.Errorf("wrong current password: %v", err)
	}
	if err := f.svc.ChangePassword(ctx, pa, "ned's first password", "short"); !errors.Is(err, auth.ErrBadInput) {
		t.Errorf("short new password: %v", err)
	}
	if err := f.svc.ChangePassword(ctx, pa, "ned's first password", "ned's second password"); err != nil {
		t.Fatal(err)
	}
	if _, err := f.svc.Authenticate(ctx, "Bearer "+a.Token); err != nil {
		t.Errorf("the token used to change the password was revoked: %v", err)
	}
	if _, err := f.svc.Authenticate(ctx, "Bearer "+b.Token); !errors.Is(err, auth.ErrUnauthenticated) {
		t.Errorf("another session survived a password change: %v", err)
	}
	if _, err := f.svc.Login(ctx, "ned@example.org", "ned's second password", ""); err != nil {
		t.Errorf("the new password does not sign in: %v", err)
	}
}

// TestPrimaryUnitIsEnforced checks the database's own guard: one primary unit per user.
func TestPrimaryUnitIsEnforced(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	u := f.user(t, "ola@example.org", auth.Editor, "ola's long password", "PZ001", "PZ002")
	if _, err := f.db.Pool.Exec(ctx, `UPDATE user_units SET is_primary = true WHERE user_id = $1`, u.ID); err == nil {
		t.Error("two primary units accepted")
	}
	if _, err := f.db.Pool.Exec(ctx, `UPDATE user_units SET is_primary = false WHERE user_id = $1`, u.ID); err == nil {
		t.Error("no primary unit accepted")
	}
	if _, err := f.db.Pool.Exec(ctx, `DELETE FROM access_log`); err == nil {
		t.Error("the access log can be deleted from")
	}
}

// TestPromotionToAuditTeamNeedsTOTP: a token issued before a promotion to the audit
// team must not carry the audit team's powers without a second factor.
func TestPromotionToAuditTeamNeedsTOTP(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	u := f.user(t, "pat@example.org", auth.Coordinator, "pat's long password", "PZ001")
	res, err := f.svc.Login(ctx, "pat@example.org", "pat's long password", "")
	if err != nil {
		t.Fatal(err)
	}
	team := auth.AuditTeam
	if _, err := f.svc.UpdateUser(ctx, auth.Operator(), u.ID, auth.UserUpdate{Role: &team}); err != nil {
		t.Fatal(err)
	}
	p, err := f.svc.Authenticate(ctx, "Bearer "+res.Token)
	if err != nil {
		t.Fatal(err)
	}
	if !p.EnrolmentOnly {
		t.Error("a promoted account without a second factor got the audit team's powers")
	}
	if err := f.svc.Policy().CanReadAccessLog(p); !errors.Is(err, auth.ErrForbidden) {
		t.Errorf("reads the access log: %v", err)
	}
	if _, err := f.svc.EnrolTOTP(ctx, p); err != nil {
		t.Errorf("cannot enrol: %v", err)
	}
}
