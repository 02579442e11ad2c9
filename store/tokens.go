package store

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
)

// Token is a bearer token's record; the token itself is never stored, only its hash.
type Token struct {
	ID     int64
	UserID int64
	// Kind is "user" (from login) or "service" (for a unit's system).
	Kind string
	// UnitID, PZCode and Access are set for service tokens.
	UnitID *int64
	PZCode *string
	Access *string
	// Scope is "full", or "totp_enrolment" for a token that may only set up TOTP.
	Scope       string
	Description string
	CreatedAt   time.Time
	ExpiresAt   time.Time
	RevokedAt   *time.Time
	LastUsedAt  *time.Time
}

// Active reports whether the token still authenticates at t (its owner aside).
func (t Token) Active(at time.Time) bool { return t.RevokedAt == nil && at.Before(t.ExpiresAt) }

const tokenColumns = `t.id, t.user_id, t.kind, t.unit_id, p.pz_code, t.access, t.scope, t.description,
	t.created_at, t.expires_at, t.revoked_at, t.last_used_at`

const tokenFrom = ` FROM tokens t LEFT JOIN paediatric_diabetes_units p ON p.id = t.unit_id`

func scanToken(row pgx.CollectableRow) (Token, error) {
	var t Token
	err := row.Scan(&t.ID, &t.UserID, &t.Kind, &t.UnitID, &t.PZCode, &t.Access, &t.Scope, &t.Description,
		&t.CreatedAt, &t.ExpiresAt, &t.RevokedAt, &t.LastUsedAt)
	return t, err
}

// NewToken is a token to record.
type NewToken struct {
	UserID      int64
	Kind        string
	Hash        []byte
	UnitID      *int64
	Access      *string
	Scope       string
	Description string
	ExpiresAt   time.Time
}

const sqlCreateToken = `
WITH t AS (
    INSERT INTO tokens (user_id, kind, token_hash, unit_id, access, scope, description, expires_at)
    VALUES ($1, $2, $3, $4, $5, COALESCE(NULLIF($6, ''), 'full'), $7, $8)
    RETURNING *
)
SELECT ` + tokenColumns + ` FROM t LEFT JOIN paediatric_diabetes_units p ON p.id = t.unit_id`

// CreateToken records a token and returns its record.
func (s *Store) CreateToken(ctx context.Context, nt NewToken) (Token, error) {
	rows, err := s.db.Query(ctx, sqlCreateToken, nt.UserID, nt.Kind, nt.Hash, nt.UnitID, nt.Access, nt.Scope, nt.Description, nt.ExpiresAt)
	if err != nil {
		return Token{}, fmt.Errorf("create token: %w", err)
	}
	t, err := pgx.CollectExactlyOneRow(rows, scanToken)
	if err != nil {
		return Token{}, fmt.Errorf("create token: %w", err)
	}
	return t, nil
}

// TokenAuth is what authenticating a request with a token needs: the token and its
// owner's current role and units, read together in one indexed lookup.
type TokenAuth struct {
	TokenID    int64
	UserID     int64
	Kind       string
	UnitID     *int64
	Access     *string
	Scope      string
	ExpiresAt  time.Time
	LastUsedAt *time.Time
	Role       string
	// TOTPEnabled is whether the owner has a second factor set up.
	TOTPEnabled bool
	UnitIDs     []int64
}

const sqlTokenAuth = `
SELECT t.id, t.user_id, t.kind, t.unit_id, t.access, t.scope, t.expires_at, t.last_used_at, u.role, u.totp_enabled,
    ARRAY(SELECT uu.unit_id FROM user_units uu WHERE uu.user_id = u.id ORDER BY uu.is_primary DESC, uu.unit_id)
FROM tokens t JOIN users u ON u.id = t.user_id
WHERE t.token_hash = $1 AND t.revoked_at IS NULL AND t.expires_at > now() AND u.active`

// TokenAuth returns the live token with the hash, or ErrNotFound when there is none, it
// is revoked or expired, or its owner is inactive.
func (s *Store) TokenAuth(ctx context.Context, hash []byte) (TokenAuth, error) {
	var a TokenAuth
	err := s.db.QueryRow(ctx, sqlTokenAuth, hash).Scan(&a.TokenID, &a.UserID, &a.Kind, &a.UnitID, &a.Access, &a.Scope,
		&a.ExpiresAt, &a.LastUsedAt, &a.Role, &a.TOTPEnabled, &a.UnitIDs)
	if errors.Is(err, pgx.ErrNoRows) {
		return a, ErrNotFound
	}
	if err != nil {
		return a, fmt.Errorf("authenticate token: %w", err)
	}
	return a, nil
}

// TouchToken records that the token was used now. Callers do this at most once a
// minute per token, so that authentication stays a read.
func (s *Store) TouchToken(ctx context.Context, id int64) error {
	if _, err := s.db.Exec(ctx, `UPDATE tokens SET last_used_at = now() WHERE id = $1`, id); err != nil {
		return fmt.Errorf("touch token %d: %w", id, err)
	}
	return nil
}

// TokenByID returns the token, or ErrNotFound.
func (s *Store) TokenByID(ctx context.Context, id int64) (Token, error) {
	rows, err := s.db.Query(ctx, `SELECT `+tokenColumns+tokenFrom+` WHERE t.id = $1`, id)
	if err != nil {
		return Token{}, fmt.Errorf("token %d: %w", id, err)
	}
	t, err := pgx.CollectExactlyOneRow(rows, scanToken)
	if errors.Is(err, pgx.ErrNoRows) {
		return Token{}, ErrNotFound
	}
	if err != nil {
		return Token{}, fmt.Errorf("token %d: %w", id, err)
	}
	return t, nil
}

// TokensOfUser returns the user's tokens, newest first: the live ones, and with
// includeInactive also the revoked and expired ones.
func (s *Store) TokensOfUser(ctx context.Context, userID int64, includeInactive bool) ([]Token, error) {
	rows, err := s.db.Query(ctx, `SELECT `+tokenColumns+tokenFrom+`
		WHERE t.user_id = $1 AND ($2 OR (t.revoked_at IS NULL AND t.expires_at > now()))
		ORDER BY t.id DESC`, userID, includeInactive)
	if err != nil {
		return nil, fmt.Errorf("tokens of user %d: %w", userID, err)
	}
	ts, err := pgx.CollectRows(rows, scanToken)
	if err != nil {
		return nil, fmt.Errorf("tokens of user %d: %w", userID, err)
	}
	return ts, nil
}

// RevokeToken revokes the token (a no-op when it is revoked already) and returns it, or
// ErrNotFound.
func (s *Store) RevokeToken(ctx context.Context, id int64) (Token, error) {
	if _, err := s.db.Exec(ctx, `UPDATE tokens SET revoked_at = now() WHERE id = $1 AND revoked_at IS NULL`, id); err != nil {
		return Token{}, fmt.Errorf("revoke token %d: %w", id, err)
	}
	return s.TokenByID(ctx, id)
}

// RevokeTokensOfUser revokes every live token of the user except keepID (0 keeps none)
// and returns the ids revoked.
func (s *Store) RevokeTokensOfUser(ctx context.Context, userID, keepID int64) ([]int64, error) {
	rows, err := s.db.Query(ctx, `UPDATE tokens SET revoked_at = now()
		WHERE user_id = $1 AND id <> $2 AND revoked_at IS NULL AND expires_at > now() RETURNING id`, userID, keepID)
	if err != nil {
		return nil, fmt.Errorf("revoke tokens of user %d: %w", userID, err)
	}
	ids, err := pgx.CollectRows(rows, pgx.RowTo[int64])
	if err != nil {
		return nil, fmt.Errorf("revoke tokens of user %d: %w", userID, err)
	}
	return ids, nil
}
