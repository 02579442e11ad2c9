package store

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
)

// User is an account without its secrets (password hash, TOTP secret).
type User struct {
	ID          int64
	Email       string
	Name        string
	Role        string
	Active      bool
	TOTPEnabled bool
	LastLoginAt *time.Time
	CreatedAt   time.Time
	UpdatedAt   time.Time
	// UnitIDs and PZCodes are the user's units, primary first, then by PZ code.
	UnitIDs []int64
	PZCodes []string
}

// PrimaryUnitID is the user's primary unit, or 0 when they have none.
func (u User) PrimaryUnitID() int64 {
	if len(u.UnitIDs) == 0 {
		return 0
	}
	return u.UnitIDs[0]
}

const userColumns = `u.id, u.email, u.name, u.role, u.active, u.totp_enabled, u.last_login_at, u.created_at, u.updated_at,
	COALESCE(m.unit_ids, '{}'), COALESCE(m.pz_codes, '{}')`

// userUnits joins each user u to their units, primary first.
const userUnits = `
LEFT JOIN LATERAL (
    SELECT array_agg(uu.unit_id ORDER BY uu.is_primary DESC, p.pz_code) AS unit_ids,
           array_agg(p.pz_code ORDER BY uu.is_primary DESC, p.pz_code) AS pz_codes
    FROM user_units uu JOIN paediatric_diabetes_units p ON p.id = uu.unit_id
    WHERE uu.user_id = u.id) m ON true`

func scanUser(row pgx.CollectableRow) (User, error) {
	var u User
	err := row.Scan(&u.ID, &u.Email, &u.Name, &u.Role, &u.Active, &u.TOTPEnabled, &u.LastLoginAt, &u.CreatedAt, &u.UpdatedAt, &u.UnitIDs, &u.PZCodes)
	return u, err
}

// NewUser is an account to create.
type NewUser struct {
	Email        string
	Name         string
	Role         string
	PasswordHash string
	// UnitIDs are the user's units; the first is the primary one.
	UnitIDs []int64
}

const sqlCreateUser = `
INSERT INTO users (email, name, role, password_hash) VALUES ($1, $2, $3, $4) RETURNING id`

// CreateUser adds an account with its units and returns it; ErrConflict when the email
// is taken (whatever its case). Run it in a transaction (InTx) so that a failure leaves
// no half-made account.
func (s *Store) CreateUser(ctx context.Context, nu NewUser) (User, error) {
	var id int64
	err := s.db.QueryRow(ctx, sqlCreateUser, nu.Email, nu.Name, nu.Role, nu.PasswordHash).Scan(&id)
	if isUniqueViolation(err) {
		return User{}, fmt.Errorf("%w: an account with email %s exists", ErrConflict, nu.Email)
	}
	if err != nil {
		return User{}, fmt.Errorf("create user: %w", err)
	}
	if err := s.setUserUnits(ctx, id, nu.UnitIDs); err != nil {
		return User{}, err
	}
	return s.UserByID(ctx, id)
}

const sqlSetUserUnits = `
WITH wanted AS (
    SELECT unit_id, ord = 1 AS is_primary FROM unnest($2::bigint[]) WITH ORDINALITY AS w(unit_id, ord)
), gone AS (
    DELETE FROM user_units uu WHERE uu.user_id = $1 AND uu.unit_id <> ALL ($2::bigint[])
)
INSERT INTO user_units (user_id, unit_id, is_primary)
SELECT $1, unit_id, is_primary FROM wanted
ON CONFLICT (user_id, unit_id) DO UPDATE SET is_primary = EXCLUDED.is_primary`

// setUserUnits makes unitIDs the user's units, the first primary. The primary index is
// checked per row, so the old primary is cleared first.
// It runs in a transaction (a savepoint inside one) because the at-least-one-primary
// check runs at commit and must see both statements.
func (s *Store) setUserUnits(ctx context.Context, userID int64, unitIDs []int64) error {
	if unitIDs == nil {
		unitIDs = []int64{}
	}
	err := s.InTx(ctx, func(tx *Store) error {
		if _, err := tx.db.Exec(ctx, `UPDATE user_units SET is_primary = false WHERE user_id = $1 AND is_primary`, userID); err != nil {
			return err
		}
		_, err := tx.db.Exec(ctx, sqlSetUserUnits, userID, unitIDs)
		return err
	})
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) && pgErr.Code == "23503" {
		return fmt.Errorf("%w: no such unit", ErrNotFound)
	}
	if err != nil {
		return fmt.Errorf("set units of user %d: %w", userID, err)
	}
	return nil
}

// UserChanges are the fields UpdateUser sets; nil leaves a field as it is.
type UserChanges struct {
	Name   *string
	Role   *string
	Active *bool
	// UnitIDs, when not nil, replaces the user's units; the first is the primary one.
	UnitIDs []int64
	// ResetTOTP removes the second factor, so the user enrols again.
	ResetTOTP bool
}

const sqlUpdateUser = `
UPDATE users SET
    name = COALESCE($2, name),
    role = COALESCE($3, role),
    active = COALESCE($4, active),
    totp_secret = CASE WHEN $5 THEN NULL ELSE totp_secret END,
    totp_enabled = totp_enabled AND NOT $5,
    totp_last_step = CASE WHEN $5 THEN NULL ELSE totp_last_step END,
    -- Reactivating an account also lifts a lockout.
    locked_until = CASE WHEN $4 THEN NULL ELSE locked_until END,
    failed_logins = CASE WHEN $4 THEN 0 ELSE failed_logins END,
    updated_at = now()
WHERE id = $1`

// UpdateUser applies ch to the user and returns the result, or ErrNotFound. Run it in a
// transaction when it changes units.
func (s *Store) UpdateUser(ctx context.Context, id int64, ch UserChanges) (User, error) {
	tag, err := s.db.Exec(ctx, sqlUpdateUser, id, ch.Name, ch.Role, ch.Active, ch.ResetTOTP)
	if err != nil {
		return User{}, fmt.Errorf("update user %d: %w", id, err)
	}
	if tag.RowsAffected() == 0 {
		return User{}, ErrNotFound
	}
	if ch.UnitIDs != nil {
		if err := s.setUserUnits(ctx, id, ch.UnitIDs); err != nil {
			return User{}, err
		}
	}
	return s.UserByID(ctx, id)
}

const sqlUserByID = `SELECT ` + userColumns + ` FROM users u` + userUnits + ` WHERE u.id = $1`

// UserByID returns the user, or ErrNotFound.
func (s *Store) UserByID(ctx context.Context, id int64) (User, error) {
	return s.oneUser(ctx, sqlUserByID, id)
}

const sqlUserByEmail = `SELECT ` + userColumns + ` FROM users u` + userUnits + ` WHERE lower(u.email) = lower($1)`

// UserByEmail returns the user with the email in any case, or ErrNotFound.
func (s *Store) UserByEmail(ctx context.Context, email string) (User, error) {
	return s.oneUser(ctx, sqlUserByEmail, strings.TrimSpace(email))
}

func (s *Store) oneUser(ctx context.Context, sql string, arg any) (User, error) {
	rows, err := s.db.Query(ctx, sql, arg)
	if err != nil {
		return User{}, fmt.Errorf("user: %w", err)
	}
	u, err := pgx.CollectExactlyOneRow(rows, scanUser)
	if errors.Is(err, pgx.ErrNoRows) {
		return User{}, ErrNotFound
	}
	if err != nil {
		return User{}, fmt.Errorf("user: %w", err)
	}
	return u, nil
}

const sqlUsersByID = `SELECT ` + userColumns + ` FROM users u` + userUnits + ` WHERE u.id = ANY($1)`

// UsersByID returns the users with the ids, keyed by id; unknown ids are left out.
func (s *Store) UsersByID(ctx context.Context, ids []int64) (map[int64]User, error) {
	rows, err := s.db.Query(ctx, sqlUsersByID, ids)
	return collectByKey(rows, err, "users by id", scanUser, func(u User) int64 { return u.ID })
}

const sqlUsersOfUnits = `
SELECT uu.unit_id, ` + userColumns + `
FROM user_units uu JOIN users u ON u.id = uu.user_id` + userUnits + `
WHERE uu.unit_id = ANY($1)
ORDER BY lower(u.email)`

// UsersOfUnits returns the members of each unit, ordered by email.
func (s *Store) UsersOfUnits(ctx context.Context, unitIDs []int64) (map[int64][]User, error) {
	rows, err := s.db.Query(ctx, sqlUsersOfUnits, unitIDs)
	if err != nil {
		return nil, fmt.Errorf("users of units: %w", err)
	}
	defer rows.Close()
	out := make(map[int64][]User, len(unitIDs))
	for rows.Next() {
		var unit int64
		var u User
		if err := rows.Scan(&unit, &u.ID, &u.Email, &u.Name, &u.Role, &u.Active, &u.TOTPEnabled, &u.LastLoginAt, &u.CreatedAt, &u.UpdatedAt, &u.UnitIDs, &u.PZCodes); err != nil {
			return nil, fmt.Errorf("users of units: %w", err)
		}
		out[unit] = append(out[unit], u)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("users of units: %w", err)
	}
	return out, nil
}

// UserQuery selects a page of users.
type UserQuery struct {
	// All lists every user; otherwise only members of one of ScopeUnitIDs.
	All          bool
	ScopeUnitIDs []int64
	// UnitID, Role and Active narrow the list when set.
	UnitID *int64
	Role   *string
	Active *bool
	// Search matches part of the email or name, in any case.
	Search string
	// AfterEmail is the cursor: the lower-cased email of the last user of the previous page.
	AfterEmail string
	Limit      int
}

const sqlUsers = `
WITH matched AS (
    SELECT u.* FROM users u
    WHERE ($1::boolean OR EXISTS (SELECT 1 FROM user_units s WHERE s.user_id = u.id AND s.unit_id = ANY($2::bigint[])))
      AND ($3::bigint IS NULL OR EXISTS (SELECT 1 FROM user_units f WHERE f.user_id = u.id AND f.unit_id = $3))
      AND ($4::text IS NULL OR u.role = $4)
      AND ($5::boolean IS NULL OR u.active = $5)
      AND ($6 = '' OR strpos(lower(u.email), lower($6)) > 0 OR strpos(lower(u.name), lower($6)) > 0)
)
SELECT ` + userColumns + `, (SELECT count(*) FROM matched)
FROM matched u` + userUnits + `
WHERE lower(u.email) > $7
ORDER BY lower(u.email)
LIMIT $8`

// Users returns up to q.Limit users ordered by email, and how many match in all pages.
func (s *Store) Users(ctx context.Context, q UserQuery) ([]User, int, error) {
	scope := q.ScopeUnitIDs
	if scope == nil {
		scope = []int64{}
	}
	args := []any{q.All, scope, q.UnitID, q.Role, q.Active, strings.TrimSpace(q.Search)}
	rows, err := s.db.Query(ctx, sqlUsers, append(args, q.AfterEmail, q.Limit)...)
	if err != nil {
		return nil, 0, fmt.Errorf("list users: %w", err)
	}
	var total int
	us, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (User, error) {
		var u User
		err := row.Scan(&u.ID, &u.Email, &u.Name, &u.Role, &u.Active, &u.TOTPEnabled, &u.LastLoginAt, &u.CreatedAt, &u.UpdatedAt, &u.UnitIDs, &u.PZCodes, &total)
		return u, err
	})
	if err != nil {
		return nil, 0, fmt.Errorf("list users: %w", err)
	}
	if len(us) == 0 && q.AfterEmail != "" {
		// A page past the end carries no row to read the total from.
		rows, err := s.db.Query(ctx, sqlUsers, append(args, "", 1)...)
		if err != nil {
			return nil, 0, fmt.Errorf("count users: %w", err)
		}
		if _, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (User, error) {
			var u User
			err := row.Scan(&u.ID, &u.Email, &u.Name, &u.Role, &u.Active, &u.TOTPEnabled, &u.LastLoginAt, &u.CreatedAt, &u.UpdatedAt, &u.UnitIDs, &u.PZCodes, &total)
			return u, err
		}); err != nil {
			return nil, 0, fmt.Errorf("count users: %w", err)
		}
	}
	return us, total, nil
}

// UnitIDsByPZ returns the ids of the units with the PZ codes, keyed by code; codes
// naming no unit are left out.
func (s *Store) UnitIDsByPZ(ctx context.Context, pzCodes []string) (map[string]int64, error) {
	rows, err := s.db.Query(ctx, `SELECT pz_code, id FROM paediatric_diabetes_units WHERE pz_code = ANY($1)`, pzCodes)
	if err != nil {
		return nil, fmt.Errorf("units by PZ code: %w", err)
	}
	defer rows.Close()
	out := make(map[string]int64, len(pzCodes))
	for rows.Next() {
		var code string
		var id int64
		if err := rows.Scan(&code, &id); err != nil {
			return nil, fmt.Errorf("units by PZ code: %w", err)
		}
		out[code] = id
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("units by PZ code: %w", err)
	}
	return out, nil
}

func isUniqueViolation(err error) bool {
	var pgErr *pgconn.PgError
	return errors.As(err, &pgErr) && pgErr.Code == "23505"
}

// LockoutRule is how failed logins lock an account: Max failures within Window lock it
// for LockFor.
type LockoutRule struct {
	Max     int
	Window  time.Duration
	LockFor time.Duration
}

// LoginAccount is what checking a login needs to know about the account.
type LoginAccount struct {
	UserID       int64
	Role         string
	PasswordHash string
	TOTPSecret   []byte
	TOTPEnabled  bool
	TOTPLastStep int64
	// Locks is true when this attempt, should it fail, is the one that locks the account.
	Locks bool
}

// The attempt is counted as a failure before the password is checked, in the statement
// that reads the count: PostgreSQL re-reads a row updated concurrently before applying
// an UPDATE to it, so parallel attempts queue on the row and each sees the others'
// counts. The attempt that reaches the limit sets locked_until at once; a success clears
// it (CompleteLogin). SET expressions all see the row as it was, hence the repetition.
const sqlBeginLoginAttempt = `
UPDATE users SET
    failed_logins  = CASE WHEN failures_since > now() - $2::interval THEN failed_logins + 1 ELSE 1 END,
    failures_since = CASE WHEN failures_since > now() - $2::interval THEN failures_since ELSE now() END,
    locked_until   = CASE WHEN (CASE WHEN failures_since > now() - $2::interval THEN failed_logins + 1 ELSE 1 END) >= $3
                          THEN now() + $4::interval END
WHERE lower(email) = lower($1) AND active AND (locked_until IS NULL OR locked_until <= now())
RETURNING id, role, password_hash, totp_secret, totp_enabled, COALESCE(totp_last_step, 0), locked_until IS NOT NULL`

// BeginLoginAttempt counts a login attempt for the active, unlocked account with the
// email and returns what checking it needs; ErrNotFound when there is no such account,
// or it is inactive or locked (LoginRefusal tells which).
func (s *Store) BeginLoginAttempt(ctx context.Context, email string, rule LockoutRule) (LoginAccount, error) {
	var a LoginAccount
	err := s.db.QueryRow(ctx, sqlBeginLoginAttempt, strings.TrimSpace(email), rule.Window, rule.Max, rule.LockFor).
		Scan(&a.UserID, &a.Role, &a.PasswordHash, &a.TOTPSecret, &a.TOTPEnabled, &a.TOTPLastStep, &a.Locks)
	if errors.Is(err, pgx.ErrNoRows) {
		return a, ErrNotFound
	}
	if err != nil {
		return a, fmt.Errorf("begin login attempt: %w", err)
	}
	return a, nil
}

// LoginRefusal says why BeginLoginAttempt found no account to check: "unknown",
// "inactive" or "locked", with the user id when there is an account.
func (s *Store) LoginRefusal(ctx context.Context, email string) (userID int64, reason string, err error) {
	var active, locked bool
	err = s.db.QueryRow(ctx, `SELECT id, active, COALESCE(locked_until > now(), false) FROM users WHERE lower(email) = lower($1)`,
		strings.TrimSpace(email)).Scan(&userID, &active, &locked)
	switch {
	case errors.Is(err, pgx.ErrNoRows):
		return 0, "unknown", nil
	case err != nil:
		return 0, "", fmt.Errorf("login refusal: %w", err)
	case !active:
		return userID, "inactive", nil
	case locked:
		return userID, "locked", nil
	}
	// Unlocked since BeginLoginAttempt looked: treat it as the lock it was.
	return userID, "locked", nil
}

// A replayed TOTP step, or an account deactivated since the attempt began, matches no
// row: the login fails.
const sqlCompleteLogin = `
UPDATE users SET
    failed_logins = 0, failures_since = NULL, locked_until = NULL, last_login_at = now(),
    totp_last_step = CASE WHEN $2 > 0 THEN $2 ELSE totp_last_step END,
    password_hash = COALESCE(NULLIF($3, ''), password_hash)
WHERE id = $1 AND active AND ($2 = 0 OR totp_last_step IS NULL OR totp_last_step < $2)`

// CompleteLogin records a successful login: the failures are forgiven, the TOTP step
// used (0 for none) is remembered so that it cannot be used again, and rehash, when not
// empty, replaces the password hash. ErrConflict when the step was used meanwhile or
// the account was deactivated.
func (s *Store) CompleteLogin(ctx context.Context, userID, totpStep int64, rehash string) error {
	tag, err := s.db.Exec(ctx, sqlCompleteLogin, userID, totpStep, rehash)
	if err != nil {
		return fmt.Errorf("complete login: %w", err)
	}
	if tag.RowsAffected() == 0 {
		return fmt.Errorf("%w: the code was already used or the account was deactivated", ErrConflict)
	}
	return nil
}

// TOTPState is a user's second factor as the database holds it.
type TOTPState struct {
	Secret   []byte
	Enabled  bool
	LastStep int64
}

// UserTOTP returns the user's TOTP state, or ErrNotFound.
func (s *Store) UserTOTP(ctx context.Context, userID int64) (TOTPState, error) {
	var t TOTPState
	err := s.db.QueryRow(ctx, `SELECT totp_secret, totp_enabled, COALESCE(totp_last_step, 0) FROM users WHERE id = $1`, userID).
		Scan(&t.Secret, &t.Enabled, &t.LastStep)
	if errors.Is(err, pgx.ErrNoRows) {
		return t, ErrNotFound
	}
	if err != nil {
		return t, fmt.Errorf("totp of user %d: %w", userID, err)
	}
	return t, nil
}

// StartTOTPEnrolment stores a new TOTP secret for a user who has no second factor
// confirmed; ErrConflict when one is.
func (s *Store) StartTOTPEnrolment(ctx context.Context, userID int64, secret []byte) error {
	tag, err := s.db.Exec(ctx, `UPDATE users SET totp_secret = $2, totp_last_step = NULL, updated_at = now() WHERE id = $1 AND NOT totp_enabled`, userID, secret)
	if err != nil {
		return fmt.Errorf("start totp enrolment: %w", err)
	}
	if tag.RowsAffected() == 0 {
		return fmt.Errorf("%w: a second factor is already set up; an administrator can reset it", ErrConflict)
	}
	return nil
}

// ConfirmTOTP turns the second factor on once a code from the stored secret has matched
// step; ErrConflict when it is on already or the secret changed meanwhile.
func (s *Store) ConfirmTOTP(ctx context.Context, userID int64, secret []byte, step int64) error {
	tag, err := s.db.Exec(ctx, `UPDATE users SET totp_enabled = true, totp_last_step = $3, updated_at = now()
		WHERE id = $1 AND NOT totp_enabled AND totp_secret = $2`, userID, secret, step)
	if err != nil {
		return fmt.Errorf("confirm totp: %w", err)
	}
	if tag.RowsAffected() == 0 {
		return fmt.Errorf("%w: the second factor is already on, or enrolment started again", ErrConflict)
	}
	return nil
}

// ChangePassword stores a new password hash and forgives the login failures counted
// while the old password was checked; ErrNotFound when there is no such user.
func (s *Store) ChangePassword(ctx context.Context, userID int64, hash string) error {
	tag, err := s.db.Exec(ctx, `UPDATE users SET password_hash = $2, failed_logins = 0, failures_since = NULL,
		locked_until = NULL, updated_at = now() WHERE id = $1`, userID, hash)
	if err != nil {
		return fmt.Errorf("change password of user %d: %w", userID, err)
	}
	if tag.RowsAffected() == 0 {
		return ErrNotFound
	}
	return nil
}
