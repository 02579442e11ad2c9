// Package auth decides who may read or change what in caregraph: it hashes passwords
// (argon2id), checks second factors (TOTP, RFC 6238), issues and checks bearer tokens,
// and holds the Policy, the one place where access is decided. Resolvers and commands
// ask the Policy and never decide themselves.
package auth

import (
	"errors"
	"fmt"
	"slices"
)

// ErrUnauthenticated means the caller did not prove who they are: no token, a bad
// one, or a failed login. The GraphQL layer reports it as UNAUTHENTICATED.
var ErrUnauthenticated = errors.New("unauthenticated")

// ErrForbidden means the caller is known but may not do this. The GraphQL layer
// reports it as FORBIDDEN.
var ErrForbidden = errors.New("forbidden")

func forbidden(why string) error { return fmt.Errorf("%w: %s", ErrForbidden, why) }

var (
	errSignIn       = fmt.Errorf("%w: sign in first (send Authorization: Bearer <token>)", ErrUnauthenticated)
	errEnrolFirst   = forbidden("set up your second factor first (enrolTotp, confirmTotp), then sign in again with a code")
	errNotForTokens = forbidden("service tokens act for a unit's system, not for a person's account")
)

// UserSubject is a user someone wants to see or change, as the Policy needs it.
type UserSubject struct {
	ID      int64
	Role    Role
	UnitIDs []int64
}

// Policy decides. Every method returns nil when p may act, ErrUnauthenticated (wrapped)
// for an anonymous caller (p == nil) and ErrForbidden (wrapped, with the reason) when p
// may not. The zero Policy is ready to use; it holds no state so that every decision
// follows from its arguments alone.
//
//	                       reader  editor  coordinator  audit team  service read  service submit
//	read a unit            own     own     own          all         its unit      its unit
//	submit for a unit      -       own     own          all         -             its unit
//	write a closed period  -       -       -            yes         -             -
//	manage users of a unit -       -       own          all         -             -
//	read the access log    -       -       -            yes         -             -
//	own account, tokens    yes     yes     yes          yes         -             -
type Policy struct{}

// admin reports whether p may act on every unit: the audit team and the operator.
func admin(p *Principal) bool {
	return p.Kind == KindOperator || (p.Kind == KindUser && p.Role == AuditTeam && !p.EnrolmentOnly)
}

// signedIn is the check every method starts with: an anonymous caller must sign in, and
// an audit team member without a second factor may do nothing but enrol one.
func signedIn(p *Principal) error {
	if p == nil {
		return errSignIn
	}
	if p.EnrolmentOnly {
		return errEnrolFirst
	}
	return nil
}

// CanReadUnit decides whether p may read the audit data of a unit.
func (Policy) CanReadUnit(p *Principal, unitID int64) error {
	if err := signedIn(p); err != nil {
		return err
	}
	if admin(p) || p.hasUnit(unitID) {
		return nil
	}
	return forbidden("this unit's data is visible to its own members and the RCPCH audit team only")
}

// CanSubmitForUnit decides whether p may submit (upload, correct) a unit's audit data
// in an open audit period.
func (Policy) CanSubmitForUnit(p *Principal, unitID int64) error {
	if err := signedIn(p); err != nil {
		return err
	}
	if admin(p) {
		return nil
	}
	if !p.hasUnit(unitID) {
		return forbidden("only members of this unit and the RCPCH audit team may submit for it")
	}
	switch {
	case p.Kind == KindService && p.Access == AccessSubmit:
		return nil
	case p.Kind == KindUser && (p.Role == Coordinator || p.Role == Editor):
		return nil
	}
	return forbidden("read-only access: submitting needs the coordinator or editor role, or a submit token")
}

// CanWriteClosedPeriod decides whether p may change data of an audit period that has
// closed: only the RCPCH audit team.
func (Policy) CanWriteClosedPeriod(p *Principal) error {
	if err := signedIn(p); err != nil {
		return err
	}
	if admin(p) {
		return nil
	}
	return forbidden("closed audit periods can only be changed by the RCPCH audit team")
}

// CanManageUsersOfUnit decides whether p may see and manage the users of a unit.
func (Policy) CanManageUsersOfUnit(p *Principal, unitID int64) error {
	if err := signedIn(p); err != nil {
		return err
	}
	if admin(p) || (p.Kind == KindUser && p.Role == Coordinator && p.hasUnit(unitID)) {
		return nil
	}
	return forbidden("a unit's users are managed by its coordinators and the RCPCH audit team")
}

// CanReadAccessLog decides whether p may read the access log.
func (Policy) CanReadAccessLog(p *Principal) error {
	if err := signedIn(p); err != nil {
		return err
	}
	if admin(p) {
		return nil
	}
	return forbidden("the access log is visible to the RCPCH audit team only")
}

// UserListScope says which users p may list: every user (all), or those with a
// membership of one of unitIDs.
func (Policy) UserListScope(p *Principal) (all bool, unitIDs []int64, err error) {
	if err := signedIn(p); err != nil {
		return false, nil, err
	}
	if admin(p) {
		return true, nil, nil
	}
	if p.Kind == KindUser && p.Role == Coordinator {
		return false, p.UnitIDs, nil
	}
	return false, nil, forbidden("users are listed for coordinators (their units) and the RCPCH audit team only")
}

// CanViewUser decides whether p may see the account s: their own, any account in a
// unit they coordinate, or any at all for the audit team.
func (pol Policy) CanViewUser(p *Principal, s UserSubject) error {
	if err := signedIn(p); err != nil {
		return err
	}
	if p.Kind == KindUser && p.UserID == s.ID {
		return nil
	}
	if admin(p) {
		return nil
	}
	if p.Kind == KindUser && p.Role == Coordinator {
		for _, u := range s.UnitIDs {
			if p.hasUnit(u) {
				return nil
			}
		}
	}
	return forbidden("this account belongs to a unit you do not coordinate")
}

// CanCreateUser decides whether p may create an account with role in units.
func (pol Policy) CanCreateUser(p *Principal, role Role, unitIDs []int64) error {
	return pol.CanChangeUser(p, UserSubject{Role: Reader}, role, unitIDs)
}

// CanChangeUser decides whether p may change the account s so that it ends with role
// and units (pass s's own role and units for changes that keep them, such as
// deactivation). A coordinator may only change accounts all of whose units, before and
// after, they coordinate, and may never grant or touch the audit team role.
func (Policy) CanChangeUser(p *Principal, s UserSubject, role Role, unitIDs []int64) error {
	if err := signedIn(p); err != nil {
		return err
	}
	if admin(p) {
		return nil
	}
	if p.Kind != KindUser || p.Role != Coordinator {
		return forbidden("accounts are managed by unit coordinators and the RCPCH audit team")
	}
	if s.Role == AuditTeam || role == AuditTeam {
		return forbidden("only the RCPCH audit team manages audit team accounts")
	}
	for _, u := range slices.Concat(s.UnitIDs, unitIDs) {
		if !p.hasUnit(u) {
			return forbidden("this account has, or would have, a unit you do not coordinate")
		}
	}
	return nil
}

// CanUseOwnAccount decides whether p may see and manage their own account: read it,
// list and revoke their tokens, change their password. A person signed in only to set
// up a second factor may read their account (me) but do nothing else.
func (Policy) CanUseOwnAccount(p *Principal) error {
	if p == nil {
		return errSignIn
	}
	if p.Kind != KindUser {
		return errNotForTokens
	}
	if p.EnrolmentOnly {
		return errEnrolFirst
	}
	return nil
}

// CanReadSelf decides whether p may read their own account (me). Unlike
// CanUseOwnAccount it admits a person who still has to set up a second factor.
func (Policy) CanReadSelf(p *Principal) error {
	if p == nil {
		return errSignIn
	}
	if p.Kind != KindUser {
		return errNotForTokens
	}
	return nil
}

// CanEnrolTOTP decides whether p may set up a second factor for their own account.
func (Policy) CanEnrolTOTP(p *Principal) error {
	if p == nil {
		return errSignIn
	}
	if p.Kind != KindUser {
		return errNotForTokens
	}
	return nil
}

// CanEndSession decides whether p may revoke the token it presented (logout).
func (Policy) CanEndSession(p *Principal) error {
	if p == nil || p.TokenID == 0 {
		return errSignIn
	}
	return nil
}

// CanManageTokensOf decides whether p may list and revoke the tokens of owner: their
// own, or those of an account p may change.
func (pol Policy) CanManageTokensOf(p *Principal, owner UserSubject) error {
	if err := signedIn(p); err != nil {
		return err
	}
	if p.Kind == KindUser && p.UserID == owner.ID {
		return nil
	}
	if err := pol.CanChangeUser(p, owner, owner.Role, owner.UnitIDs); err != nil {
		return forbidden("tokens are managed by their owner, the owner's coordinators and the RCPCH audit team")
	}
	return nil
}

// CanIssueServiceToken decides whether p may create a service token owned by owner
// for unitID with access: p must manage owner's tokens, and owner must themself be
// allowed that access to the unit, so a token never carries more than its owner has.
func (pol Policy) CanIssueServiceToken(p *Principal, owner UserSubject, unitID int64, access Access) error {
	if err := pol.CanManageTokensOf(p, owner); err != nil {
		return err
	}
	as := &Principal{Kind: KindUser, UserID: owner.ID, Role: owner.Role, UnitIDs: owner.UnitIDs}
	var err error
	if access == AccessSubmit {
		err = pol.CanSubmitForUnit(as, unitID)
	} else {
		err = pol.CanReadUnit(as, unitID)
	}
	if err != nil {
		return forbidden(fmt.Sprintf("the token's owner may not %s for this unit", map[Access]string{AccessRead: "read", AccessSubmit: "submit"}[access]))
	}
	return nil
}
