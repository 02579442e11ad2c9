package auth

// Decisions about the KPI aggregates. Aggregates are public, but a row's small counts
// are withheld (sync/aggregate.Suppress) unless the caller may see the place's exact
// figures: the members of a unit for that unit's own rows, the RCPCH audit team (and the
// operator) for every row.

// CanReadExactKPIs decides whether p may see a place's KPI figures unsuppressed: a unit's
// (unitID its id) for whoever may read the unit's audit data, a place above units
// (unitID 0) for the audit team only, since its figures mix units the caller does not
// belong to.
func (pol Policy) CanReadExactKPIs(p *Principal, unitID int64) error {
	if unitID != 0 {
		return pol.CanReadUnit(p, unitID)
	}
	if err := signedIn(p); err != nil {
		return err
	}
	if admin(p) {
		return nil
	}
	return forbidden("exact figures of places above a unit are visible to the RCPCH audit team only")
}
