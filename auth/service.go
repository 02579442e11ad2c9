package auth

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/mail"
	"runtime"
	"slices"
	"strings"
	"time"

	"caregraph/store"
)

// ErrBadInput is wrapped by errors about the caller's arguments (a malformed email, a
// short password, an unknown unit). The GraphQL layer reports it as BAD_USER_INPUT.
var ErrBadInput = errors.New("bad input")

func badInput(format string, args ...any) error {
	return fmt.Errorf("%w: %s", ErrBadInput, fmt.Sprintf(format, args...))
}

// Options tune a Service; zero fields take the defaults shown.
type Options struct {
	// Argon2 is the cost of new password hashes (DefaultArgon2).
	Argon2 Argon2Params
	// SessionTTL is how long a login token lasts (12h).
	SessionTTL time.Duration
	// EnrolmentTTL is how long the token of an audit team member who still has to set up
	// a second factor lasts (15m).
	EnrolmentTTL time.Duration
	// Lockout is how failed logins lock an account (5 within 5m lock it for 10m).
	Lockout store.LockoutRule
	// TokenCacheTTL is how long a validated token is trusted without asking the database
	// again (1s): the longest a revocation takes to reach another replica. Negative turns
	// the cache off.
	TokenCacheTTL time.Duration
	// TokenCacheSize bounds the cache (10000 tokens).
	TokenCacheSize int
	// MaxConcurrentHashes bounds the argon2id computations running at once (the number
	// of CPUs, at least 2): each holds Argon2.MemoryKiB, so a burst of logins queues
	// instead of exhausting memory.
	MaxConcurrentHashes int
	// Issuer labels TOTP entries in authenticator apps ("caregraph").
	Issuer string
	// Logger receives errors that do not fail the request (recording a token's last use).
	Logger *slog.Logger
	// Now is the clock (time.Now); tests move it.
	Now func() time.Time
}

func (o Options) withDefaults() Options {
	if o.Argon2 == (Argon2Params{}) {
		o.Argon2 = DefaultArgon2
	}
	if o.SessionTTL <= 0 {
		o.SessionTTL = 12 * time.Hour
	}
	if o.EnrolmentTTL <= 0 {
		o.EnrolmentTTL = 15 * time.Minute
	}
	if o.Lockout == (store.LockoutRule{}) {
		o.Lockout = store.LockoutRule{Max: 5, Window: 5 * time.Minute, LockFor: 10 * time.Minute}
	}
	if o.TokenCacheTTL == 0 {
		o.TokenCacheTTL = time.Second
	}
	if o.TokenCacheSize <= 0 {
		o.TokenCacheSize = 10_000
	}
	if o.MaxConcurrentHashes <= 0 {
		o.MaxConcurrentHashes = max(2, runtime.GOMAXPROCS(0))
	}
	if o.Issuer == "" {
		o.Issuer = "caregraph"
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	return o
}

// Service carries out what accounts do: sign in and out, authenticate tokens, create and
// change users, issue and revoke tokens, set up second factors. Every operation asks the
// Policy first and writes the access log.
type Service struct {
	st      *store.Store
	pol     Policy
	opt     Options
	tokens  *tokenCache
	hashing chan struct{}
}

// NewService returns a Service over st.
func NewService(st *store.Store, opt Options) *Service {
	opt = opt.withDefaults()
	return &Service{st: st, opt: opt, tokens: newTokenCache(opt.TokenCacheSize), hashing: make(chan struct{}, opt.MaxConcurrentHashes)}
}

// hash runs argon2id work once a slot is free, or gives up when ctx ends first.
func (s *Service) hash(ctx context.Context, work func()) error {
	select {
	case s.hashing <- struct{}{}:
	case <-ctx.Done():
		return ctx.Err()
	}
	defer func() { <-s.hashing }()
	work()
	return nil
}

// verify checks a password under the hashing bound.
func (s *Service) verify(ctx context.Context, encoded, pw string) (ok bool, err error) {
	if herr := s.hash(ctx, func() { ok, err = VerifyPassword(encoded, pw) }); herr != nil {
		return false, herr
	}
	return ok, err
}

// burn spends the time of a password check for an attempt that has no account to check.
func (s *Service) burn(ctx context.Context, pw string) error {
	return s.hash(ctx, func() { burnPasswordWork(pw, s.opt.Argon2) })
}

// hashNew hashes a new password under the hashing bound.
func (s *Service) hashNew(ctx context.Context, pw string) (h string, err error) {
	err = s.hash(ctx, func() { h = HashPassword(pw, s.opt.Argon2) })
	return h, err
}

// Policy returns the policy the service decides with.
func (s *Service) Policy() Policy { return s.pol }

// errLoginFailed is the one answer to every failed login, whatever failed, so that it
// reveals neither whether the email has an account nor which factor was wrong.
func (s *Service) errLoginFailed() error {
	return fmt.Errorf("%w: login failed: the email, password or one-time code is wrong, or the account is locked after %d failures (for %s)",
		ErrUnauthenticated, s.opt.Lockout.Max, s.opt.Lockout.LockFor)
}

// LoginResult is a successful login: the token (shown once) and the account.
type LoginResult struct {
	Token     string
	ExpiresAt time.Time
	User      store.User
	// EnrolmentOnly is true when the token may only set up a second factor.
	EnrolmentOnly bool
}

// Login checks email, password and, for accounts with a second factor, the TOTP code,
// and issues a login token. Every failure returns the same error after the same argon2id
// work, and counts toward the lockout.
func (s *Service) Login(ctx context.Context, email, password, totp string) (LoginResult, error) {
	acc, err := s.st.BeginLoginAttempt(ctx, email, s.opt.Lockout)
	if errors.Is(err, store.ErrNotFound) {
		// Unknown, inactive or locked: spend the time a real check would take.
		if err := s.burn(ctx, password); err != nil {
			return LoginResult{}, err
		}
		uid, reason, err := s.st.LoginRefusal(ctx, email)
		if err != nil {
			return LoginResult{}, err
		}
		s.log(ctx, nil, store.AccessEntry{UserID: idOrNil(uid), Action: store.ActionLoginFailed, Details: map[string]any{"reason": reason}})
		return LoginResult{}, s.errLoginFailed()
	}
	if err != nil {
		return LoginResult{}, err
	}
	ok, err := s.verify(ctx, acc.PasswordHash, password)
	if err != nil {
		return LoginResult{}, fmt.Errorf("check password of user %d: %w", acc.UserID, err)
	}
	if !ok {
		return LoginResult{}, s.loginFailed(ctx, acc, "wrong_password")
	}
	now := s.opt.Now()
	var step int64
	enrolmentOnly := false
	switch {
	case acc.TOTPEnabled:
		var matched bool
		if step, matched = VerifyTOTP(acc.TOTPSecret, totp, now, acc.TOTPLastStep); !matched {
			reason := "wrong_totp"
			if strings.TrimSpace(totp) == "" {
				reason = "missing_totp"
			}
			return LoginResult{}, s.loginFailed(ctx, acc, reason)
		}
	case Role(acc.Role) == AuditTeam:
		// Required but not yet set up: a short token that can only set it up.
		enrolmentOnly = true
	}
	rehash := ""
	if NeedsRehash(acc.PasswordHash, s.opt.Argon2) {
		if rehash, err = s.hashNew(ctx, password); err != nil {
			return LoginResult{}, err
		}
	}
	text, hash := NewToken()
	ttl, scope := s.opt.SessionTTL, "full"
	if enrolmentOnly {
		ttl, scope = s.opt.EnrolmentTTL, "totp_enrolment"
	}
	var res LoginResult
	err = s.st.InTx(ctx, func(tx *store.Store) error {
		if err := tx.CompleteLogin(ctx, acc.UserID, step, rehash); err != nil {
			return err
		}
		tok, err := tx.CreateToken(ctx, store.NewToken{UserID: acc.UserID, Kind: "user", Hash: hash[:], Scope: scope,
			Description: "login", ExpiresAt: now.Add(ttl)})
		if err != nil {
			return err
		}
		if res.User, err = tx.UserByID(ctx, acc.UserID); err != nil {
			return err
		}
		res.Token, res.ExpiresAt, res.EnrolmentOnly = text, tok.ExpiresAt, enrolmentOnly
		details := map[string]any{"token_id": tok.ID}
		if enrolmentOnly {
			details["totp_enrolment_only"] = true
		}
		return tx.LogAccess(ctx, s.entry(ctx, nil, store.AccessEntry{UserID: &acc.UserID, Action: store.ActionLogin, Details: details}))
	})
	if errors.Is(err, store.ErrConflict) {
		// The TOTP step was used by a parallel login, or the account was just deactivated.
		return LoginResult{}, s.loginFailed(ctx, acc, "totp_replayed_or_inactive")
	}
	if err != nil {
		return LoginResult{}, err
	}
	return res, nil
}

// loginFailed records a failed attempt that was checked, and the lockout it caused.
func (s *Service) loginFailed(ctx context.Context, acc store.LoginAccount, reason string) error {
	s.log(ctx, nil, store.AccessEntry{UserID: &acc.UserID, Action: store.ActionLoginFailed, Details: map[string]any{"reason": reason}})
	if acc.Locks {
		s.log(ctx, nil, store.AccessEntry{UserID: &acc.UserID, Action: store.ActionLockout,
			Details: map[string]any{"failures": s.opt.Lockout.Max, "locked_for": s.opt.Lockout.LockFor.String()}})
	}
	return s.errLoginFailed()
}

// Logout revokes the token the caller presented.
func (s *Service) Logout(ctx context.Context, p *Principal) error {
	if err := s.pol.CanEndSession(p); err != nil {
		return err
	}
	if _, err := s.st.RevokeToken(ctx, p.TokenID); err != nil {
		return err
	}
	s.tokens.forgetToken(p.TokenID)
	s.log(ctx, nil, store.AccessEntry{UserID: &p.UserID, Action: store.ActionLogout, Details: map[string]any{"token_id": p.TokenID}})
	return nil
}

// NewUserRequest is an account to create.
type NewUserRequest struct {
	Email string
	Name  string
	Role  Role
	// PZCodes are the user's units; the first is the primary one.
	PZCodes []string
	// Password is the initial password; empty generates one.
	Password string
}

// CreateUser creates an account as actor and returns it with the generated password
// (empty when the request set one), to be shown once.
func (s *Service) CreateUser(ctx context.Context, actor *Principal, req NewUserRequest) (store.User, string, error) {
	if _, err := ParseRole(string(req.Role)); err != nil {
		return store.User{}, "", badInput("%v", err)
	}
	unitIDs, unknown, err := s.unitIDs(ctx, req.PZCodes)
	if err != nil {
		return store.User{}, "", err
	}
	if err := s.pol.CanCreateUser(actor, req.Role, withUnknown(unitIDs, unknown)); err != nil {
		return store.User{}, "", err
	}
	if len(unknown) > 0 {
		return store.User{}, "", badInput("no unit with PZ code %s", strings.Join(unknown, ", "))
	}
	email, err := normaliseEmail(req.Email)
	if err != nil {
		return store.User{}, "", err
	}
	name := strings.TrimSpace(req.Name)
	if name == "" {
		return store.User{}, "", badInput("name must not be empty")
	}
	if err := needsUnits(req.Role, unitIDs); err != nil {
		return store.User{}, "", err
	}
	generated := ""
	pw := req.Password
	if pw == "" {
		generated = GeneratePassword()
		pw = generated
	} else if err := ValidatePassword(pw); err != nil {
		return store.User{}, "", badInput("%v", err)
	}
	hash, err := s.hashNew(ctx, pw)
	if err != nil {
		return store.User{}, "", err
	}
	var u store.User
	err = s.st.InTx(ctx, func(tx *store.Store) error {
		var err error
		u, err = tx.CreateUser(ctx, store.NewUser{Email: email, Name: name, Role: string(req.Role),
			PasswordHash: hash, UnitIDs: unitIDs})
		if err != nil {
			return err
		}
		return tx.LogAccess(ctx, s.entry(ctx, actor, store.AccessEntry{UserID: &u.ID, UnitID: idOrNil(u.PrimaryUnitID()),
			Action: store.ActionUserCreated, Details: map[string]any{"email": u.Email, "role": u.Role, "units": u.PZCodes}}))
	})
	if err != nil {
		return store.User{}, "", err
	}
	return u, generated, nil
}

// UserUpdate are the changes UpdateUser makes; nil fields stay as they are.
type UserUpdate struct {
	Name   *string
	Role   *Role
	Active *bool
	// PZCodes, when not nil, replaces the user's units; the first is the primary one.
	PZCodes []string
	// ResetTOTP removes the user's second factor so that they enrol again.
	ResetTOTP bool
}

// UpdateUser changes the account id as actor. Deactivating it revokes its tokens; every
// change takes effect on the next request.
func (s *Service) UpdateUser(ctx context.Context, actor *Principal, id int64, up UserUpdate) (store.User, error) {
	before, err := s.st.UserByID(ctx, id)
	if errors.Is(err, store.ErrNotFound) {
		if err := s.pol.CanChangeUser(actor, UserSubject{Role: Reader}, Reader, nil); err != nil {
			return store.User{}, err
		}
		return store.User{}, fmt.Errorf("user: %w", store.ErrNotFound)
	}
	if err != nil {
		return store.User{}, err
	}
	role := Role(before.Role)
	if up.Role != nil {
		if _, err := ParseRole(string(*up.Role)); err != nil {
			return store.User{}, badInput("%v", err)
		}
		role = *up.Role
	}
	unitIDs, unknown := before.UnitIDs, []string(nil)
	if up.PZCodes != nil {
		if unitIDs, unknown, err = s.unitIDs(ctx, up.PZCodes); err != nil {
			return store.User{}, err
		}
	}
	if err := s.pol.CanChangeUser(actor, SubjectOf(before), role, withUnknown(unitIDs, unknown)); err != nil {
		return store.User{}, err
	}
	if len(unknown) > 0 {
		return store.User{}, badInput("no unit with PZ code %s", strings.Join(unknown, ", "))
	}
	ch := store.UserChanges{Active: up.Active, ResetTOTP: up.ResetTOTP}
	if up.Name != nil {
		n := strings.TrimSpace(*up.Name)
		if n == "" {
			return store.User{}, badInput("name must not be empty")
		}
		ch.Name = &n
	}
	if up.Role != nil {
		r := string(role)
		ch.Role = &r
	}
	if up.PZCodes != nil {
		if unitIDs == nil {
			unitIDs = []int64{}
		}
		ch.UnitIDs = unitIDs
	}
	if err := needsUnits(role, unitIDs); err != nil {
		return store.User{}, err
	}
	var after store.User
	err = s.st.InTx(ctx, func(tx *store.Store) error {
		var err error
		if after, err = tx.UpdateUser(ctx, id, ch); err != nil {
			return err
		}
		var revoked []int64
		if !after.Active && before.Active {
			if revoked, err = tx.RevokeTokensOfUser(ctx, id, 0); err != nil {
				return err
			}
		}
		for _, e := range userChangeEntries(before, after, up, revoked) {
			if err := tx.LogAccess(ctx, s.entry(ctx, actor, e)); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return store.User{}, err
	}
	s.tokens.forgetUser(id)
	return after, nil
}

// userChangeEntries describes a change of account for the access log: role and unit
// changes get entries of their own, the rest one user_updated entry.
func userChangeEntries(before, after store.User, up UserUpdate, revoked []int64) []store.AccessEntry {
	uid := after.ID
	var out []store.AccessEntry
	if before.Role != after.Role {
		out = append(out, store.AccessEntry{UserID: &uid, Action: store.ActionRoleChanged,
			Details: map[string]any{"from": before.Role, "to": after.Role}})
	}
	if !slices.Equal(before.PZCodes, after.PZCodes) {
		out = append(out, store.AccessEntry{UserID: &uid, Action: store.ActionUnitsChanged,
			Details: map[string]any{"from": before.PZCodes, "to": after.PZCodes}})
	}
	if up.ResetTOTP {
		out = append(out, store.AccessEntry{UserID: &uid, Action: store.ActionTOTPReset})
	}
	details := map[string]any{}
	if before.Name != after.Name {
		details["name"] = map[string]any{"from": before.Name, "to": after.Name}
	}
	if before.Active != after.Active {
		details["active"] = after.Active
	}
	if len(revoked) > 0 {
		details["tokens_revoked"] = revoked
	}
	if len(details) > 0 {
		out = append(out, store.AccessEntry{UserID: &uid, Action: store.ActionUserUpdated, Details: details})
	}
	return out
}

// RevokeToken revokes a token as actor (its owner or someone who manages the owner).
func (s *Service) RevokeToken(ctx context.Context, actor *Principal, tokenID int64) (store.Token, error) {
	if actor == nil {
		return store.Token{}, errSignIn
	}
	t, err := s.st.TokenByID(ctx, tokenID)
	if errors.Is(err, store.ErrNotFound) {
		// Unknown ids get the same answer as other people's, so ids cannot be probed.
		if err := s.pol.CanManageTokensOf(actor, UserSubject{}); err != nil {
			return store.Token{}, err
		}
		return store.Token{}, fmt.Errorf("token: %w", store.ErrNotFound)
	}
	if err != nil {
		return store.Token{}, err
	}
	owner, err := s.st.UserByID(ctx, t.UserID)
	if err != nil {
		return store.Token{}, err
	}
	if err := s.pol.CanManageTokensOf(actor, SubjectOf(owner)); err != nil {
		return store.Token{}, err
	}
	if t.RevokedAt != nil {
		return t, nil
	}
	err = s.st.InTx(ctx, func(tx *store.Store) error {
		if t, err = tx.RevokeToken(ctx, tokenID); err != nil {
			return err
		}
		return tx.LogAccess(ctx, s.entry(ctx, actor, store.AccessEntry{UserID: &owner.ID, UnitID: t.UnitID, Action: store.ActionTokenRevoked,
			Details: map[string]any{"token_id": t.ID, "kind": t.Kind}}))
	})
	if err != nil {
		return store.Token{}, err
	}
	s.tokens.forgetToken(tokenID)
	return t, nil
}

// ServiceTokenRequest asks for a token for one unit's system.
type ServiceTokenRequest struct {
	// OwnerEmail is the account the token belongs to and dies with.
	OwnerEmail  string
	PZCode      string
	Access      Access
	TTL         time.Duration
	Description string
}

// IssueServiceToken creates a service token as actor and returns its text (shown once).
func (s *Service) IssueServiceToken(ctx context.Context, actor *Principal, req ServiceTokenRequest) (string, store.Token, error) {
	if _, err := ParseAccess(string(req.Access)); err != nil {
		return "", store.Token{}, badInput("%v", err)
	}
	if req.TTL <= 0 {
		return "", store.Token{}, badInput("a service token needs a lifetime")
	}
	owner, err := s.st.UserByEmail(ctx, req.OwnerEmail)
	if errors.Is(err, store.ErrNotFound) {
		return "", store.Token{}, badInput("no account with email %s", req.OwnerEmail)
	}
	if err != nil {
		return "", store.Token{}, err
	}
	if !owner.Active {
		return "", store.Token{}, badInput("the account %s is deactivated", owner.Email)
	}
	ids, err := s.st.UnitIDsByPZ(ctx, []string{normalisePZ(req.PZCode)})
	if err != nil {
		return "", store.Token{}, err
	}
	unitID, ok := ids[normalisePZ(req.PZCode)]
	if !ok {
		return "", store.Token{}, badInput("no unit with PZ code %s", req.PZCode)
	}
	if err := s.pol.CanIssueServiceToken(actor, SubjectOf(owner), unitID, req.Access); err != nil {
		return "", store.Token{}, err
	}
	text, hash := NewToken()
	access := string(req.Access)
	var t store.Token
	err = s.st.InTx(ctx, func(tx *store.Store) error {
		var err error
		t, err = tx.CreateToken(ctx, store.NewToken{UserID: owner.ID, Kind: "service", Hash: hash[:], UnitID: &unitID,
			Access: &access, Description: req.Description, ExpiresAt: s.opt.Now().Add(req.TTL)})
		if err != nil {
			return err
		}
		return tx.LogAccess(ctx, s.entry(ctx, actor, store.AccessEntry{UserID: &owner.ID, UnitID: &unitID, Action: store.ActionTokenCreated,
			Details: map[string]any{"token_id": t.ID, "kind": "service", "access": access, "expires_at": t.ExpiresAt}}))
	})
	if err != nil {
		return "", store.Token{}, err
	}
	return text, t, nil
}

// TOTPEnrolment is a new shared secret, shown once, as text and as an otpauth:// URI.
type TOTPEnrolment struct {
	Secret string
	URI    string
}

// EnrolTOTP starts setting up a second factor for the caller: it stores a new secret
// and returns it for their authenticator app. It takes effect once ConfirmTOTP sees a
// code from it.
func (s *Service) EnrolTOTP(ctx context.Context, p *Principal) (TOTPEnrolment, error) {
	if err := s.pol.CanEnrolTOTP(p); err != nil {
		return TOTPEnrolment{}, err
	}
	u, err := s.st.UserByID(ctx, p.UserID)
	if err != nil {
		return TOTPEnrolment{}, err
	}
	secret := NewTOTPSecret()
	if err := s.st.StartTOTPEnrolment(ctx, u.ID, secret); err != nil {
		return TOTPEnrolment{}, err
	}
	return TOTPEnrolment{Secret: TOTPSecretText(secret), URI: TOTPURI(secret, s.opt.Issuer, u.Email)}, nil
}

// ConfirmTOTP turns the caller's second factor on when code comes from the secret
// EnrolTOTP gave. A token that could only set up the second factor is revoked: the user
// signs in again, now with a code.
func (s *Service) ConfirmTOTP(ctx context.Context, p *Principal, code string) (store.User, error) {
	if err := s.pol.CanEnrolTOTP(p); err != nil {
		return store.User{}, err
	}
	st, err := s.st.UserTOTP(ctx, p.UserID)
	if err != nil {
		return store.User{}, err
	}
	if st.Enabled {
		return store.User{}, fmt.Errorf("%w: a second factor is already set up; an administrator can reset it", store.ErrConflict)
	}
	if st.Secret == nil {
		return store.User{}, badInput("start with enrolTotp")
	}
	step, ok := VerifyTOTP(st.Secret, code, s.opt.Now(), 0)
	if !ok {
		return store.User{}, badInput("the code does not match: check the phone's clock and enter the current code")
	}
	var u store.User
	err = s.st.InTx(ctx, func(tx *store.Store) error {
		if err := tx.ConfirmTOTP(ctx, p.UserID, st.Secret, step); err != nil {
			return err
		}
		if p.EnrolmentOnly {
			if _, err := tx.RevokeToken(ctx, p.TokenID); err != nil {
				return err
			}
		}
		if err := tx.LogAccess(ctx, s.entry(ctx, nil, store.AccessEntry{UserID: &p.UserID, Action: store.ActionTOTPEnabled})); err != nil {
			return err
		}
		u, err = tx.UserByID(ctx, p.UserID)
		return err
	})
	if err != nil {
		return store.User{}, err
	}
	if p.EnrolmentOnly {
		s.tokens.forgetToken(p.TokenID)
	}
	return u, nil
}

// ChangePassword replaces the caller's password after checking the current one (which
// counts toward the lockout like a login) and revokes their other tokens.
func (s *Service) ChangePassword(ctx context.Context, p *Principal, current, next string) error {
	if err := s.pol.CanUseOwnAccount(p); err != nil {
		return err
	}
	// The new password is checked first: a refusal for its length says nothing about
	// the current one, and must not count as a failed attempt.
	if err := ValidatePassword(next); err != nil {
		return badInput("%v", err)
	}
	u, err := s.st.UserByID(ctx, p.UserID)
	if err != nil {
		return err
	}
	acc, err := s.st.BeginLoginAttempt(ctx, u.Email, s.opt.Lockout)
	if errors.Is(err, store.ErrNotFound) {
		if err := s.burn(ctx, current); err != nil {
			return err
		}
		return fmt.Errorf("%w: the current password is wrong, or the account is locked", ErrForbidden)
	}
	if err != nil {
		return err
	}
	ok, err := s.verify(ctx, acc.PasswordHash, current)
	if err != nil {
		return fmt.Errorf("check password of user %d: %w", acc.UserID, err)
	}
	if !ok {
		_ = s.loginFailed(ctx, acc, "wrong_password_on_change")
		return fmt.Errorf("%w: the current password is wrong, or the account is locked", ErrForbidden)
	}
	hash, err := s.hashNew(ctx, next)
	if err != nil {
		return err
	}
	err = s.st.InTx(ctx, func(tx *store.Store) error {
		if err := tx.ChangePassword(ctx, u.ID, hash); err != nil {
			return err
		}
		revoked, err := tx.RevokeTokensOfUser(ctx, u.ID, p.TokenID)
		if err != nil {
			return err
		}
		return tx.LogAccess(ctx, s.entry(ctx, nil, store.AccessEntry{UserID: &u.ID, Action: store.ActionPasswordChanged,
			Details: map[string]any{"tokens_revoked": revoked}}))
	})
	if err != nil {
		return err
	}
	s.tokens.forgetUser(u.ID)
	return nil
}

// entry completes an access log entry with the caller's IP and, when actor is a person
// acting on someone else's account, the acting admin; the command line is noted as such.
func (s *Service) entry(ctx context.Context, actor *Principal, e store.AccessEntry) store.AccessEntry {
	e.IP = ClientIP(ctx)
	switch {
	case actor == nil:
	case actor.Kind == KindOperator:
		if e.Details == nil {
			e.Details = map[string]any{}
		}
		e.Details["via"] = "command line"
	case actor.UserID != 0 && (e.UserID == nil || *e.UserID != actor.UserID):
		id := actor.UserID
		e.AdminID = &id
	}
	return e
}

// log writes an access log entry outside any transaction. A failure is logged rather
// than returned: the request it describes has already been refused.
func (s *Service) log(ctx context.Context, actor *Principal, e store.AccessEntry) {
	if err := s.st.LogAccess(ctx, s.entry(ctx, actor, e)); err != nil {
		s.opt.Logger.ErrorContext(ctx, "write access log", "action", e.Action, "error", err)
	}
}

// unitIDs resolves PZ codes (trimmed, upper-cased, duplicates dropped) in order and
// returns the codes that name no unit.
func (s *Service) unitIDs(ctx context.Context, codes []string) ([]int64, []string, error) {
	var norm []string
	for _, c := range codes {
		if c = normalisePZ(c); c != "" && !slices.Contains(norm, c) {
			norm = append(norm, c)
		}
	}
	if len(norm) == 0 {
		return nil, nil, nil
	}
	found, err := s.st.UnitIDsByPZ(ctx, norm)
	if err != nil {
		return nil, nil, err
	}
	var ids []int64
	var unknown []string
	for _, c := range norm {
		if id, ok := found[c]; ok {
			ids = append(ids, id)
		} else {
			unknown = append(unknown, c)
		}
	}
	return ids, unknown, nil
}

// withUnknown adds, for each unknown PZ code, a unit id no one belongs to, so that the
// Policy refuses a coordinator naming a unit that does not exist as it would one that is
// not theirs, and lets an admin through to the clearer "no such unit".
func withUnknown(ids []int64, unknown []string) []int64 {
	out := slices.Clone(ids)
	for range unknown {
		out = append(out, 0)
	}
	return out
}

func needsUnits(role Role, unitIDs []int64) error {
	if role != AuditTeam && len(unitIDs) == 0 {
		return badInput("a %s needs at least one unit (the first listed is the primary one)", role)
	}
	return nil
}

func normalisePZ(code string) string { return strings.ToUpper(strings.TrimSpace(code)) }

func normaliseEmail(email string) (string, error) {
	email = strings.TrimSpace(email)
	a, err := mail.ParseAddress(email)
	if err != nil || a.Address != email || a.Name != "" || len(email) > 254 {
		return "", badInput("%q is not an email address", email)
	}
	return email, nil
}

// SubjectOf describes a stored account for the Policy.
func SubjectOf(u store.User) UserSubject {
	return UserSubject{ID: u.ID, Role: Role(u.Role), UnitIDs: u.UnitIDs}
}

func idOrNil(id int64) *int64 {
	if id == 0 {
		return nil
	}
	return &id
}
