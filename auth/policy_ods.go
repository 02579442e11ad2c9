package auth

// CanReviewODSChanges decides whether p may see the ODS review queue and approve or
// reject its items: the RCPCH audit team and the operator, as for every change to the
// organisation register that is not routine.
func (Policy) CanReviewODSChanges(p *Principal) error {
	if err := signedIn(p); err != nil {
		return err
	}
	if admin(p) {
		return nil
	}
	return forbidden("ODS changes are reviewed by the RCPCH audit team only")
}
