package store

import (
	"context"
	"encoding/json"
	"fmt"
	"net/netip"
	"time"

	"github.com/jackc/pgx/v5"
)

// Access log actions, as stored in access_log.action.
const (
	ActionLogin           = "login"
	ActionLoginFailed     = "login_failed"
	ActionLockout         = "lockout"
	ActionLogout          = "logout"
	ActionTokenCreated    = "token_created"
	ActionTokenRevoked    = "token_revoked"
	ActionUserCreated     = "user_created"
	ActionUserUpdated     = "user_updated"
	ActionRoleChanged     = "role_changed"
	ActionUnitsChanged    = "units_changed"
	ActionPasswordChanged = "password_changed"
	ActionTOTPEnabled     = "totp_enabled"
	ActionTOTPReset       = "totp_reset"
	ActionCSVUploaded     = "csv_uploaded"
	ActionPatientViewed   = "patient_viewed"
	// ActionODSReviewApproved and ActionODSReviewRejected are an admin's decisions on
	// ODS changes queued for review (migrations/0007_ods.sql).
	ActionODSReviewApproved = "ods_review_approved"
	ActionODSReviewRejected = "ods_review_rejected"
)

// AccessEntry is one access log row to write or read.
type AccessEntry struct {
	ID int64
	At time.Time
	// IP is the caller's address as text; empty when unknown (the command line).
	IP string
	// UserID is who the entry is about; AdminID who acted on them, when someone else did.
	UserID  *int64
	AdminID *int64
	UnitID  *int64
	// PZCode is the unit's code (read only).
	PZCode  *string
	Action  string
	Details map[string]any
}

// LogAccess appends an entry to the access log. An IP that does not parse is kept in
// the details instead of failing the write.
func (s *Store) LogAccess(ctx context.Context, e AccessEntry) error {
	var ip *netip.Addr
	details := e.Details
	if e.IP != "" {
		if a, err := netip.ParseAddr(e.IP); err == nil {
			ip = &a
		} else {
			details = mergeDetails(details, map[string]any{"ip_text": e.IP})
		}
	}
	if details == nil {
		details = map[string]any{}
	}
	_, err := s.db.Exec(ctx, `INSERT INTO access_log (ip, user_id, admin_id, unit_id, action, details) VALUES ($1, $2, $3, $4, $5, $6)`,
		ip, e.UserID, e.AdminID, e.UnitID, e.Action, details)
	if err != nil {
		return fmt.Errorf("write access log (%s): %w", e.Action, err)
	}
	return nil
}

func mergeDetails(a, b map[string]any) map[string]any {
	out := make(map[string]any, len(a)+len(b))
	for k, v := range a {
		out[k] = v
	}
	for k, v := range b {
		out[k] = v
	}
	return out
}

// AccessLogQuery selects a page of the access log, newest first.
type AccessLogQuery struct {
	UserID  *int64
	AdminID *int64
	UnitID  *int64
	Actions []string
	Since   *time.Time
	Until   *time.Time
	// BeforeID is the cursor: the id of the last entry of the previous page (0 for the first).
	BeforeID int64
	Limit    int
}

const sqlAccessLog = `
WITH matched AS (
    SELECT * FROM access_log
    WHERE ($1::bigint IS NULL OR user_id = $1)
      AND ($2::bigint IS NULL OR admin_id = $2)
      AND ($3::bigint IS NULL OR unit_id = $3)
      AND (cardinality($4::text[]) = 0 OR action = ANY($4))
      AND ($5::timestamptz IS NULL OR at >= $5)
      AND ($6::timestamptz IS NULL OR at < $6)
)
SELECT l.id, l.at, host(l.ip), l.user_id, l.admin_id, l.unit_id, p.pz_code, l.action, l.details,
    (SELECT count(*) FROM matched)
FROM matched l LEFT JOIN paediatric_diabetes_units p ON p.id = l.unit_id
WHERE $7 = 0 OR l.id < $7
ORDER BY l.id DESC
LIMIT $8`

// AccessLog returns up to q.Limit entries, newest first, and how many match in all.
func (s *Store) AccessLog(ctx context.Context, q AccessLogQuery) ([]AccessEntry, int, error) {
	actions := q.Actions
	if actions == nil {
		actions = []string{}
	}
	run := func(before int64, limit int) ([]AccessEntry, int, error) {
		rows, err := s.db.Query(ctx, sqlAccessLog, q.UserID, q.AdminID, q.UnitID, actions, q.Since, q.Until, before, limit)
		if err != nil {
			return nil, 0, fmt.Errorf("read access log: %w", err)
		}
		var total int
		es, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (AccessEntry, error) {
			var e AccessEntry
			var ip *string
			var details []byte
			if err := row.Scan(&e.ID, &e.At, &ip, &e.UserID, &e.AdminID, &e.UnitID, &e.PZCode, &e.Action, &details, &total); err != nil {
				return e, err
			}
			if ip != nil {
				e.IP = *ip
			}
			return e, json.Unmarshal(details, &e.Details)
		})
		if err != nil {
			return nil, 0, fmt.Errorf("read access log: %w", err)
		}
		return es, total, nil
	}
	es, total, err := run(q.BeforeID, q.Limit)
	if err != nil || len(es) > 0 || q.BeforeID == 0 {
		return es, total, err
	}
	// A page past the end carries no row to read the total from.
	_, total, err = run(0, 1)
	return es, total, err
}

// AccessEntryByID returns one entry, or ErrNotFound.
func (s *Store) AccessEntryByID(ctx context.Context, id int64) (AccessEntry, error) {
	es, _, err := s.AccessLog(ctx, AccessLogQuery{BeforeID: id + 1, Limit: 1})
	if err != nil {
		return AccessEntry{}, err
	}
	if len(es) == 0 || es[0].ID != id {
		return AccessEntry{}, ErrNotFound
	}
	return es[0], nil
}
