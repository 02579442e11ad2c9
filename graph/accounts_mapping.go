package graph

import (
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"time"

	"caregraph/auth"
	"caregraph/graph/model"
	"caregraph/store"
)

func rfc3339(t time.Time) string { return t.UTC().Format(time.RFC3339) }

func rfc3339Ptr(t *time.Time) *string {
	if t == nil {
		return nil
	}
	s := rfc3339(*t)
	return &s
}

func parseTime(name string, s *string) (*time.Time, error) {
	if s == nil || *s == "" {
		return nil, nil
	}
	t, err := time.Parse(time.RFC3339, *s)
	if err != nil {
		return nil, badInput(fmt.Sprintf("%s must be an RFC 3339 time such as 2026-04-01T00:00:00Z, got %q", name, *s))
	}
	return &t, nil
}

// decodeDBID reads a global ID of typeName into its database id.
func decodeDBID(typeName, id string) (int64, error) {
	t, key, err := model.DecodeID(id)
	if err != nil || t != typeName {
		return 0, badInput(fmt.Sprintf("id is not a %s identifier from this API", typeName))
	}
	n, err := strconv.ParseInt(key, 10, 64)
	if err != nil {
		return 0, badInput(fmt.Sprintf("id is not a %s identifier from this API", typeName))
	}
	return n, nil
}

func toModelRole(r string) model.Role { return model.Role(strings.ToUpper(r)) }

func toAuthRole(r model.Role) auth.Role { return auth.Role(strings.ToLower(string(r))) }

func toUser(u store.User) *model.User {
	return &model.User{
		DBID:        u.ID,
		Email:       u.Email,
		Name:        u.Name,
		Role:        toModelRole(u.Role),
		Active:      u.Active,
		TotpEnabled: u.TOTPEnabled,
		LastLoginAt: rfc3339Ptr(u.LastLoginAt),
		CreatedAt:   rfc3339(u.CreatedAt),
		UnitIDs:     u.UnitIDs,
	}
}

// toToken maps a token's record; current is the id of the token of the request.
func toToken(t store.Token, current int64) *model.Token {
	out := &model.Token{
		DBID:              t.ID,
		OwnerID:           t.UserID,
		Kind:              model.TokenKind(strings.ToUpper(t.Kind)),
		UnitID:            t.UnitID,
		Description:       t.Description,
		TotpEnrolmentOnly: t.Scope == "totp_enrolment",
		CreatedAt:         rfc3339(t.CreatedAt),
		ExpiresAt:         rfc3339(t.ExpiresAt),
		LastUsedAt:        rfc3339Ptr(t.LastUsedAt),
		RevokedAt:         rfc3339Ptr(t.RevokedAt),
		Current:           t.ID == current,
	}
	if t.Access != nil {
		a := model.TokenAccess(strings.ToUpper(*t.Access))
		out.Access = &a
	}
	return out
}

func toTokens(ts []store.Token, current int64) []*model.Token {
	out := make([]*model.Token, len(ts))
	for i, t := range ts {
		out[i] = toToken(t, current)
	}
	return out
}

func toAccessLogEntry(e store.AccessEntry) (*model.AccessLogEntry, error) {
	details, err := json.Marshal(e.Details)
	if err != nil {
		return nil, fmt.Errorf("access log entry %d: %w", e.ID, err)
	}
	if e.Details == nil {
		details = []byte("{}")
	}
	out := &model.AccessLogEntry{
		DBID:    e.ID,
		At:      rfc3339(e.At),
		Action:  model.AccessAction(strings.ToUpper(e.Action)),
		UserID:  e.UserID,
		AdminID: e.AdminID,
		UnitID:  e.UnitID,
		Details: string(details),
	}
	if e.IP != "" {
		out.IP = &e.IP
	}
	return out, nil
}

// currentTokenID is the id of the token the request came with (0 when none).
func currentTokenID(p *auth.Principal) int64 {
	if p == nil {
		return 0
	}
	return p.TokenID
}
