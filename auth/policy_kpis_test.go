package auth

import (
	"errors"
	"testing"
)

func TestCanReadExactKPIs(t *testing.T) {
	var pol Policy
	member := &Principal{Kind: KindUser, UserID: 1, Role: Reader, UnitIDs: []int64{7}}
	team := &Principal{Kind: KindUser, UserID: 2, Role: AuditTeam}
	enrolling := &Principal{Kind: KindUser, UserID: 3, Role: AuditTeam, EnrolmentOnly: true}
	token := &Principal{Kind: KindService, UserID: 1, TokenID: 9, UnitIDs: []int64{7}, Access: AccessRead}
	tests := []struct {
		name string
		p    *Principal
		unit int64
		want error
	}{
		{"anonymous, unit", nil, 7, ErrUnauthenticated},
		{"anonymous, region", nil, 0, ErrUnauthenticated},
		{"member, own unit", member, 7, nil},
		{"member, other unit", member, 8, ErrForbidden},
		{"member, place above units", member, 0, ErrForbidden},
		{"service token, its unit", token, 7, nil},
		{"service token, place above", token, 0, ErrForbidden},
		{"audit team, any unit", team, 8, nil},
		{"audit team, place above", team, 0, nil},
		{"audit team without second factor", enrolling, 0, ErrForbidden},
		{"operator", Operator(), 0, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := pol.CanReadExactKPIs(tt.p, tt.unit)
			if tt.want == nil && err != nil || tt.want != nil && !errors.Is(err, tt.want) {
				t.Fatalf("CanReadExactKPIs = %v, want %v", err, tt.want)
			}
		})
	}
}
