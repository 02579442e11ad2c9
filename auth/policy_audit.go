package auth

import (
	"context"
	"fmt"

	"caregraph/store"
)

// Decisions about the National Paediatric Diabetes Audit data: submissions, patients,
// visits, their errors and the original files. They build on the unit decisions of
// policy.go, so that the table there stays the one statement of who may do what.

// CanReadAuditData decides whether p may read a unit's audit data: its submissions,
// their errors and files, and its patients and visits.
func (pol Policy) CanReadAuditData(p *Principal, unitID int64) error {
	return pol.CanReadUnit(p, unitID)
}

// CanSubmitAudit decides whether p may submit a unit's CSV for an audit period that is
// open, or closed (past its deadline or not yet started): a closed period takes
// submissions from the RCPCH audit team only.
func (pol Policy) CanSubmitAudit(p *Principal, unitID int64, periodOpen bool) error {
	if err := pol.CanSubmitForUnit(p, unitID); err != nil {
		return err
	}
	if periodOpen {
		return nil
	}
	if err := pol.CanWriteClosedPeriod(p); err != nil {
		return fmt.Errorf("%w: this audit period is closed; only the RCPCH audit team may submit for it", ErrForbidden)
	}
	return nil
}

// AuditAccessEntry completes an access log entry about audit data with the caller: the
// user (for a service token, the user who created it) and the address, or "via command
// line" for the operator.
func AuditAccessEntry(ctx context.Context, p *Principal, e store.AccessEntry) store.AccessEntry {
	e.IP = ClientIP(ctx)
	if e.Details == nil {
		e.Details = map[string]any{}
	}
	switch {
	case p == nil:
	case p.Kind == KindOperator:
		e.Details["via"] = "command line"
	default:
		id := p.UserID
		e.UserID = &id
		if p.Kind == KindService {
			e.Details["service_token_id"] = p.TokenID
		}
	}
	return e
}
