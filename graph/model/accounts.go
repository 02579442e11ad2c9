package model

import "strconv"

// User is an account; its units resolve through a loader.
type User struct {
	DBID        int64
	Email       string
	Name        string
	Role        Role
	Active      bool
	TotpEnabled bool
	LastLoginAt *string
	CreatedAt   string
	// UnitIDs are the account's units, primary first.
	UnitIDs []int64
}

// IsNode marks User as a Node.
func (User) IsNode() {}

// GetID returns the global ID.
func (u User) GetID() string { return EncodeID("User", strconv.FormatInt(u.DBID, 10)) }

// ID returns the global ID.
func (u User) ID() string { return u.GetID() }

// Token is a bearer token's record; its unit and owner resolve through loaders.
type Token struct {
	DBID              int64
	OwnerID           int64
	Kind              TokenKind
	UnitID            *int64
	Access            *TokenAccess
	Description       string
	TotpEnrolmentOnly bool
	CreatedAt         string
	ExpiresAt         string
	LastUsedAt        *string
	RevokedAt         *string
	Current           bool
}

// IsNode marks Token as a Node.
func (Token) IsNode() {}

// GetID returns the global ID.
func (t Token) GetID() string { return EncodeID("Token", strconv.FormatInt(t.DBID, 10)) }

// ID returns the global ID.
func (t Token) ID() string { return t.GetID() }

// AccessLogEntry is one access log entry; its user, admin and unit resolve through loaders.
type AccessLogEntry struct {
	DBID    int64
	At      string
	Action  AccessAction
	IP      *string
	UserID  *int64
	AdminID *int64
	UnitID  *int64
	Details string
}

// IsNode marks AccessLogEntry as a Node.
func (AccessLogEntry) IsNode() {}

// GetID returns the global ID.
func (e AccessLogEntry) GetID() string {
	return EncodeID("AccessLogEntry", strconv.FormatInt(e.DBID, 10))
}

// ID returns the global ID.
func (e AccessLogEntry) ID() string { return e.GetID() }
