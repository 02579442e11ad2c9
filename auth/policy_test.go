package auth

import (
	"errors"
	"testing"
)

// Units 1 and 2; every principal below belongs to unit 1 only, except the audit team.
var (
	anon      *Principal
	reader    = &Principal{Kind: KindUser, UserID: 10, TokenID: 100, Role: Reader, UnitIDs: []int64{1}}
	editor    = &Principal{Kind: KindUser, UserID: 11, TokenID: 101, Role: Editor, UnitIDs: []int64{1}}
	coord     = &Principal{Kind: KindUser, UserID: 12, TokenID: 102, Role: Coordinator, UnitIDs: []int64{1}}
	team      = &Principal{Kind: KindUser, UserID: 13, TokenID: 103, Role: AuditTeam}
	enrolling = &Principal{Kind: KindUser, UserID: 14, TokenID: 104, Role: AuditTeam, EnrolmentOnly: true}
	svcRead   = &Principal{Kind: KindService, UserID: 12, TokenID: 105, Access: AccessRead, UnitIDs: []int64{1}}
	svcSubmit = &Principal{Kind: KindService, UserID: 12, TokenID: 106, Access: AccessSubmit, UnitIDs: []int64{1}}
	operator  = Operator()
)

// outcome is what a decision should be: allow, unauthenticated or forbidden.
type outcome int

const (
	allow outcome = iota
	unauth
	deny
)

func (o outcome) String() string { return [...]string{"allow", "UNAUTHENTICATED", "FORBIDDEN"}[o] }

func outcomeOf(err error) outcome {
	switch {
	case err == nil:
		return allow
	case errors.Is(err, ErrUnauthenticated):
		return unauth
	case errors.Is(err, ErrForbidden):
		return deny
	}
	panic("policy returned an error that is neither: " + err.Error())
}

// TestPolicyTable is the role table of docs/security.md, decision by decision.
func TestPolicyTable(t *testing.T) {
	var pol Policy
	principals := []struct {
		name string
		p    *Principal
	}{
		{"anonymous", anon}, {"reader", reader}, {"editor", editor}, {"coordinator", coord},
		{"audit team", team}, {"audit team enrolling", enrolling}, {"service read", svcRead},
		{"service submit", svcSubmit}, {"operator", operator},
	}
	decisions := []struct {
		name string
		do   func(*Principal) error
		// want lists the outcome for each principal above, in order.
		want [9]outcome
	}{
		{"read own unit", func(p *Principal) error { return pol.CanReadUnit(p, 1) },
			[9]outcome{unauth, allow, allow, allow, allow, deny, allow, allow, allow}},
		{"read other unit", func(p *Principal) error { return pol.CanReadUnit(p, 2) },
			[9]outcome{unauth, deny, deny, deny, allow, deny, deny, deny, allow}},
		{"submit own unit", func(p *Principal) error { return pol.CanSubmitForUnit(p, 1) },
			[9]outcome{unauth, deny, allow, allow, allow, deny, deny, allow, allow}},
		{"submit other unit", func(p *Principal) error { return pol.CanSubmitForUnit(p, 2) },
			[9]outcome{unauth, deny, deny, deny, allow, deny, deny, deny, allow}},
		{"write closed period", func(p *Principal) error { return pol.CanWriteClosedPeriod(p) },
			[9]outcome{unauth, deny, deny, deny, allow, deny, deny, deny, allow}},
		{"manage users of own unit", func(p *Principal) error { return pol.CanManageUsersOfUnit(p, 1) },
			[9]outcome{unauth, deny, deny, allow, allow, deny, deny, deny, allow}},
		{"manage users of other unit", func(p *Principal) error { return pol.CanManageUsersOfUnit(p, 2) },
			[9]outcome{unauth, deny, deny, deny, allow, deny, deny, deny, allow}},
		{"read access log", func(p *Principal) error { return pol.CanReadAccessLog(p) },
			[9]outcome{unauth, deny, deny, deny, allow, deny, deny, deny, allow}},
		{"use own account", func(p *Principal) error { return pol.CanUseOwnAccount(p) },
			[9]outcome{unauth, allow, allow, allow, allow, deny, deny, deny, deny}},
		{"read self", func(p *Principal) error { return pol.CanReadSelf(p) },
			[9]outcome{unauth, allow, allow, allow, allow, allow, deny, deny, deny}},
		{"enrol TOTP", func(p *Principal) error { return pol.CanEnrolTOTP(p) },
			[9]outcome{unauth, allow, allow, allow, allow, allow, deny, deny, deny}},
		{"end session", func(p *Principal) error { return pol.CanEndSession(p) },
			[9]outcome{unauth, allow, allow, allow, allow, allow, allow, allow, unauth}},
		{"create editor in own unit", func(p *Principal) error { return pol.CanCreateUser(p, Editor, []int64{1}) },
			[9]outcome{unauth, deny, deny, allow, allow, deny, deny, deny, allow}},
		{"create editor in both units", func(p *Principal) error { return pol.CanCreateUser(p, Editor, []int64{1, 2}) },
			[9]outcome{unauth, deny, deny, deny, allow, deny, deny, deny, allow}},
		{"create audit team member", func(p *Principal) error { return pol.CanCreateUser(p, AuditTeam, nil) },
			[9]outcome{unauth, deny, deny, deny, allow, deny, deny, deny, allow}},
		{"view a user of own unit", func(p *Principal) error {
			return pol.CanViewUser(p, UserSubject{ID: 50, Role: Reader, UnitIDs: []int64{2, 1}})
		}, [9]outcome{unauth, deny, deny, allow, allow, deny, deny, deny, allow}},
		{"view a user of other unit", func(p *Principal) error {
			return pol.CanViewUser(p, UserSubject{ID: 50, Role: Reader, UnitIDs: []int64{2}})
		}, [9]outcome{unauth, deny, deny, deny, allow, deny, deny, deny, allow}},
		{"promote a reader of own unit to coordinator", func(p *Principal) error {
			return pol.CanChangeUser(p, UserSubject{ID: 50, Role: Reader, UnitIDs: []int64{1}}, Coordinator, []int64{1})
		}, [9]outcome{unauth, deny, deny, allow, allow, deny, deny, deny, allow}},
		{"move a user of own unit to other unit", func(p *Principal) error {
			return pol.CanChangeUser(p, UserSubject{ID: 50, Role: Reader, UnitIDs: []int64{1}}, Reader, []int64{2})
		}, [9]outcome{unauth, deny, deny, deny, allow, deny, deny, deny, allow}},
		{"change a user shared with other unit", func(p *Principal) error {
			return pol.CanChangeUser(p, UserSubject{ID: 50, Role: Reader, UnitIDs: []int64{1, 2}}, Reader, []int64{1, 2})
		}, [9]outcome{unauth, deny, deny, deny, allow, deny, deny, deny, allow}},
		{"tokens of a user of own unit", func(p *Principal) error {
			return pol.CanManageTokensOf(p, UserSubject{ID: 50, Role: Editor, UnitIDs: []int64{1}})
		}, [9]outcome{unauth, deny, deny, allow, allow, deny, deny, deny, allow}},
		{"issue a submit token owned by an editor", func(p *Principal) error {
			return pol.CanIssueServiceToken(p, UserSubject{ID: 50, Role: Editor, UnitIDs: []int64{1}}, 1, AccessSubmit)
		}, [9]outcome{unauth, deny, deny, allow, allow, deny, deny, deny, allow}},
		{"issue a submit token owned by a reader", func(p *Principal) error {
			return pol.CanIssueServiceToken(p, UserSubject{ID: 50, Role: Reader, UnitIDs: []int64{1}}, 1, AccessSubmit)
		}, [9]outcome{unauth, deny, deny, deny, deny, deny, deny, deny, deny}},
		{"issue a token for a unit the owner lacks", func(p *Principal) error {
			return pol.CanIssueServiceToken(p, UserSubject{ID: 50, Role: Editor, UnitIDs: []int64{1}}, 2, AccessRead)
		}, [9]outcome{unauth, deny, deny, deny, deny, deny, deny, deny, deny}},
	}
	for _, d := range decisions {
		for i, pr := range principals {
			if got := outcomeOf(d.do(pr.p)); got != d.want[i] {
				t.Errorf("%s, as %s: %s, want %s", d.name, pr.name, got, d.want[i])
			}
		}
	}
}

func TestPolicyOwnAccount(t *testing.T) {
	var pol Policy
	self := UserSubject{ID: reader.UserID, Role: Reader, UnitIDs: []int64{1}}
	if err := pol.CanViewUser(reader, self); err != nil {
		t.Errorf("a reader cannot see their own account: %v", err)
	}
	if err := pol.CanManageTokensOf(reader, self); err != nil {
		t.Errorf("a reader cannot manage their own tokens: %v", err)
	}
	if err := pol.CanChangeUser(reader, self, Coordinator, []int64{1}); !errors.Is(err, ErrForbidden) {
		t.Errorf("a reader promoted themselves: %v", err)
	}
	// A coordinator may not touch an audit team account, even one sharing their unit.
	if err := pol.CanChangeUser(coord, UserSubject{ID: 60, Role: AuditTeam, UnitIDs: []int64{1}}, AuditTeam, []int64{1}); !errors.Is(err, ErrForbidden) {
		t.Errorf("a coordinator changed an audit team account: %v", err)
	}
	all, units, err := pol.UserListScope(coord)
	if err != nil || all || len(units) != 1 || units[0] != 1 {
		t.Errorf("coordinator's user list scope = %v %v %v", all, units, err)
	}
	if all, _, err := pol.UserListScope(team); err != nil || !all {
		t.Errorf("audit team's user list scope = %v %v", all, err)
	}
	if _, _, err := pol.UserListScope(editor); !errors.Is(err, ErrForbidden) {
		t.Errorf("an editor may list users: %v", err)
	}
}
