package auth

import (
	"context"
	"testing"

	"caregraph/store"
)

func TestAuditPolicy(t *testing.T) {
	tests := []struct {
		name       string
		p          *Principal
		unit       int64
		read       outcome
		submitOpen outcome
		submitShut outcome
	}{
		{"anonymous", anon, 1, unauth, unauth, unauth},
		{"enrolling audit team member", enrolling, 1, deny, deny, deny},
		{"reader", reader, 1, allow, deny, deny},
		{"editor", editor, 1, allow, allow, deny},
		{"coordinator", coord, 1, allow, allow, deny},
		{"coordinator of another unit", coord, 2, deny, deny, deny},
		{"read token", svcRead, 1, allow, deny, deny},
		{"submit token", svcSubmit, 1, allow, allow, deny},
		{"submit token, another unit", svcSubmit, 2, deny, deny, deny},
		{"audit team", team, 2, allow, allow, allow},
		{"operator", operator, 2, allow, allow, allow},
	}
	var pol Policy
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := outcomeOf(pol.CanReadAuditData(tt.p, tt.unit)); got != tt.read {
				t.Errorf("read: %v, want %v", got, tt.read)
			}
			if got := outcomeOf(pol.CanSubmitAudit(tt.p, tt.unit, true)); got != tt.submitOpen {
				t.Errorf("submit to an open period: %v, want %v", got, tt.submitOpen)
			}
			if got := outcomeOf(pol.CanSubmitAudit(tt.p, tt.unit, false)); got != tt.submitShut {
				t.Errorf("submit to a closed period: %v, want %v", got, tt.submitShut)
			}
		})
	}
}

func TestAuditAccessEntry(t *testing.T) {
	ctx := WithClientIP(context.Background(), "192.0.2.1")
	e := AuditAccessEntry(ctx, svcSubmit, store.AccessEntry{Action: store.ActionCSVUploaded})
	if e.UserID == nil || *e.UserID != svcSubmit.UserID || e.IP != "192.0.2.1" || e.Details["service_token_id"] != svcSubmit.TokenID {
		t.Errorf("service token entry %+v", e)
	}
	e = AuditAccessEntry(context.Background(), operator, store.AccessEntry{Action: store.ActionCSVUploaded})
	if e.UserID != nil || e.Details["via"] != "command line" {
		t.Errorf("operator entry %+v", e)
	}
}
