package auth

// The Policy's decisions on dropdown datasets. Synced datasets (NHS Data Dictionary,
// RCPCH lists) are public reference data that only their sync changes. User lists
// belong to a unit: its members see them; its editors and coordinators change them;
// its coordinators publish them to everyone; the RCPCH audit team does all of it for
// every unit and may make lists that belong to no unit.
//
//	                            anyone  reader  editor  coordinator  audit team
//	read a global dataset       yes     yes     yes     yes          yes
//	read a unit's list          -       own     own     own          all
//	create, edit, delete a list -       -       own     own          all
//	publish a list to everyone  -       -       -       own          all

// DatasetSubject is a dataset as the Policy needs it.
type DatasetSubject struct {
	// UserCreated is set for user lists (category user_created).
	UserCreated bool
	// Global is set for datasets everyone may see.
	Global bool
	// UnitID is the unit that owns a user list, if any.
	UnitID *int64
}

// DatasetScope says which datasets p may see: every one (all), or the global ones and
// those of unitIDs.
func (Policy) DatasetScope(p *Principal) (all bool, unitIDs []int64) {
	if p == nil || p.EnrolmentOnly {
		return false, nil
	}
	if admin(p) {
		return true, nil
	}
	return false, p.UnitIDs
}

// CanReadDataset decides whether p may see the dataset s.
func (pol Policy) CanReadDataset(p *Principal, s DatasetSubject) error {
	if s.Global {
		return nil
	}
	if err := signedIn(p); err != nil {
		return err
	}
	if admin(p) || (s.UnitID != nil && p.hasUnit(*s.UnitID)) {
		return nil
	}
	return forbidden("this list is visible to its unit only")
}

// CanCreateDataset decides whether p may create a user list owned by unitID (nil for a
// list of no unit, which only the audit team may make).
func (Policy) CanCreateDataset(p *Principal, unitID *int64) error {
	if err := signedIn(p); err != nil {
		return err
	}
	if p.Kind == KindService {
		return errNotForTokens
	}
	if admin(p) {
		return nil
	}
	if unitID == nil {
		return forbidden("lists that belong to no unit are made by the RCPCH audit team; name your unit")
	}
	if !p.hasUnit(*unitID) {
		return forbidden("you can make lists for your own units only")
	}
	if p.Role != Coordinator && p.Role != Editor {
		return forbidden("read-only access: making lists needs the coordinator or editor role")
	}
	return nil
}

// CanEditDataset decides whether p may change or delete the dataset s.
func (pol Policy) CanEditDataset(p *Principal, s DatasetSubject) error {
	if err := signedIn(p); err != nil {
		return err
	}
	if !s.UserCreated {
		return forbidden("synced datasets change only through their source; make a custom version to change one")
	}
	if p.Kind == KindService {
		return errNotForTokens
	}
	if admin(p) {
		return nil
	}
	if s.UnitID == nil || !p.hasUnit(*s.UnitID) {
		return forbidden("this list belongs to a unit you are not a member of")
	}
	if p.Role != Coordinator && p.Role != Editor {
		return forbidden("read-only access: changing lists needs the coordinator or editor role")
	}
	return nil
}

// CanPublishDataset decides whether p may make the user list s visible to everyone.
func (pol Policy) CanPublishDataset(p *Principal, s DatasetSubject) error {
	if err := pol.CanEditDataset(p, s); err != nil {
		return err
	}
	if admin(p) || p.Role == Coordinator {
		return nil
	}
	return forbidden("publishing a list to everyone needs the coordinator role")
}

// CanReadJobRuns decides whether p may read the record of job runs: anyone signed in
// (the record names hosts and carries error messages, so it is not public).
func (Policy) CanReadJobRuns(p *Principal) error {
	return signedIn(p)
}
