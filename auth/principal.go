package auth

import (
	"context"
	"fmt"
	"slices"
)

// Role is what a user may do. The values are the ones stored in users.role.
type Role string

// The four roles.
const (
	// Coordinator reads and submits for their units and manages their units' users.
	Coordinator Role = "coordinator"
	// Editor reads and submits for their units.
	Editor Role = "editor"
	// Reader reads their units.
	Reader Role = "reader"
	// AuditTeam is the RCPCH audit team: everything, every unit, closed audit periods.
	AuditTeam Role = "rcpch_audit_team"
)

// Roles lists every role, from least to most powerful.
var Roles = []Role{Reader, Editor, Coordinator, AuditTeam}

// ParseRole reads a role by its stored name.
func ParseRole(s string) (Role, error) {
	r := Role(s)
	if !slices.Contains(Roles, r) {
		return "", fmt.Errorf("unknown role %q: want coordinator, editor, reader or rcpch_audit_team", s)
	}
	return r, nil
}

// Access is what a service token may do for its unit.
type Access string

// The two accesses of a service token.
const (
	// AccessRead reads the unit's data.
	AccessRead Access = "read"
	// AccessSubmit reads and submits the unit's data.
	AccessSubmit Access = "submit"
)

// ParseAccess reads an access by its stored name.
func ParseAccess(s string) (Access, error) {
	switch a := Access(s); a {
	case AccessRead, AccessSubmit:
		return a, nil
	}
	return "", fmt.Errorf("unknown access %q: want read or submit", s)
}

// PrincipalKind tells users, service tokens and the operator apart.
type PrincipalKind int

// The kinds of principal.
const (
	// KindUser is a person signed in with a login token.
	KindUser PrincipalKind = iota + 1
	// KindService is a unit's system calling with a service token.
	KindService
	// KindOperator is whoever runs the server's commands: they hold the database
	// credentials, so the policy lets them do what the audit team does.
	KindOperator
)

// Principal is who is calling. It is built by Authenticate and shared, read-only,
// between the requests that present the same token within the cache lifetime: never
// modify one.
type Principal struct {
	Kind PrincipalKind
	// UserID is the user, or for a service token the user who created it.
	UserID int64
	// TokenID is the token presented (0 for the operator).
	TokenID int64
	// Role is the user's role (users only).
	Role Role
	// UnitIDs are the user's units, primary first; for a service token, its one unit.
	UnitIDs []int64
	// Access is a service token's access.
	Access Access
	// EnrolmentOnly marks an RCPCH audit team member who signed in without a second
	// factor because none is set up yet: they may only enrol one (see Policy).
	EnrolmentOnly bool
}

// Operator returns the principal of the command line.
func Operator() *Principal { return &Principal{Kind: KindOperator} }

// IsUser reports whether p is a signed-in person.
func (p *Principal) IsUser() bool { return p != nil && p.Kind == KindUser }

// hasUnit reports whether unitID is one of p's units.
func (p *Principal) hasUnit(unitID int64) bool { return slices.Contains(p.UnitIDs, unitID) }

type principalKey struct{}

// WithPrincipal returns ctx carrying p.
func WithPrincipal(ctx context.Context, p *Principal) context.Context {
	return context.WithValue(ctx, principalKey{}, p)
}

// PrincipalFrom returns the caller of ctx, or nil for an anonymous one.
func PrincipalFrom(ctx context.Context) *Principal {
	p, _ := ctx.Value(principalKey{}).(*Principal)
	return p
}

type clientIPKey struct{}

// WithClientIP returns ctx carrying the caller's IP address, for the access log.
func WithClientIP(ctx context.Context, ip string) context.Context {
	return context.WithValue(ctx, clientIPKey{}, ip)
}

// ClientIP returns the caller's IP address, or "" when unknown.
func ClientIP(ctx context.Context) string {
	ip, _ := ctx.Value(clientIPKey{}).(string)
	return ip
}
