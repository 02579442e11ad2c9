package ods

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"caregraph/store"
)

// Reference is what the reference lists (CAREGRAPH_DATA_DIR/reference) say about sites
// the mergers command creates; the server reads the lists and fills it in.
type Reference struct {
	// Points are the sites' locations by ODS code.
	Points map[string]store.LatLon
	// UnitLedBy is the PZ code of the unit each organisation (site, trust or board) leads.
	UnitLedBy map[string]string
	// OpenUK are the OPEN UK networks of each trust or board.
	OpenUK map[string][]string
}

// CreatePlan is a site the mergers command would create.
type CreatePlan struct {
	Code, Name string
	Parent     string
	From       time.Time
	Point      *store.LatLon
	Unit       string
	OpenUK     []string
	// Warnings need a yes before the site is created.
	Warnings []string
	site     store.NewSite
}

// namedOnce is the codes of a batch seen so far.
type namedOnce map[string]bool

// check returns raw as a code, and an error when the batch named it already.
func (n namedOnce) check(raw string) (string, error) {
	code := normCode(raw)
	if n[code] {
		return code, fmt.Errorf("%s: named twice", code)
	}
	n[code] = true
	return code, nil
}

// PlanCreate looks every code up in ODS and checks it against the register, for the
// whole batch before anything is written. Errors name the code and the reason.
func PlanCreate(ctx context.Context, st *store.Store, src Source, ref Reference, codes []string) ([]CreatePlan, error) {
	held, err := st.ODSHeld(ctx)
	if err != nil {
		return nil, err
	}
	var plans []CreatePlan
	var errs []error
	seen := namedOnce{}
	for _, raw := range codes {
		code, err := seen.check(raw)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		if _, ok := held[code]; ok {
			errs = append(errs, fmt.Errorf("%s: already in the register", code))
			continue
		}
		r, err := src.Record(ctx, code)
		if err != nil {
			if errors.Is(err, ErrNotFound) {
				errs = append(errs, fmt.Errorf("%s: not found in ODS", code))
			} else {
				errs = append(errs, fmt.Errorf("%s: %w", code, err))
			}
			continue
		}
		if k := kindOf(r); k != store.KindSite {
			errs = append(errs, fmt.Errorf("%s: ODS lists it as %s, not an NHS trust or health board site", code, orNone(r.PrimaryRole())))
			continue
		}
		if !r.Active {
			errs = append(errs, fmt.Errorf("%s: ODS marks it inactive", code))
			continue
		}
		parent, ok := r.ActiveParent()
		if !ok {
			errs = append(errs, fmt.Errorf("%s: ODS gives it no active RE6 (operated by) relationship", code))
			continue
		}
		if h, ok := held[parent]; !ok || !h.Open || (h.Kind != store.KindTrust && h.Kind != store.KindLHB) {
			errs = append(errs, fmt.Errorf("%s: its trust %s is not an open trust or health board of the register", code, parent))
			continue
		}
		from := r.StartDate()
		if from.IsZero() {
			from = store.Day(time.Now())
		}
		attrs, _ := mergeAttrs(store.OrgAttrs{}, r)
		p := CreatePlan{Code: code, Name: r.Name, Parent: parent, From: from, OpenUK: ref.OpenUK[parent]}
		if pt, ok := ref.Points[code]; ok {
			p.Point = &pt
			attrs.Point = &pt
		} else {
			p.Warnings = append(p.Warnings, "no location in the reference lists: placed through its trust")
		}
		p.Unit = ref.UnitLedBy[code]
		if p.Unit == "" {
			p.Unit = ref.UnitLedBy[parent]
		}
		if p.Unit != "" {
			ok, err := st.UnitExists(ctx, p.Unit)
			if err != nil {
				return nil, err
			}
			if !ok {
				p.Unit = ""
			}
		}
		if p.Unit == "" {
			p.Warnings = append(p.Warnings, "no paediatric diabetes unit")
		}
		if len(p.OpenUK) == 0 {
			p.Warnings = append(p.Warnings, "no OPEN UK network")
		}
		p.site = store.NewSite{Org: store.NewOrganisation{ODSCode: code, Kind: store.KindSite, Attrs: attrs, From: from},
			Parent: parent, Unit: p.Unit}
		plans = append(plans, p)
	}
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	return plans, nil
}

// NeedsAsking reports whether the plan lacks an OPEN UK network or a diabetes unit.
func (p CreatePlan) NeedsAsking() bool { return p.Unit == "" || len(p.OpenUK) == 0 }

// Create writes the site in its own transaction.
func (p CreatePlan) Create(ctx context.Context, st *store.Store) error {
	return st.CreateSite(ctx, p.site)
}

// DeletePlan is a site the mergers command would close.
type DeletePlan struct {
	Code       string
	Dependants store.SiteDependants
}

// PlanDelete checks every code: an open site of the register without audit data.
func PlanDelete(ctx context.Context, st *store.Store, codes []string) ([]DeletePlan, error) {
	var plans []DeletePlan
	var errs []error
	seen := namedOnce{}
	for _, raw := range codes {
		code, err := seen.check(raw)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		d, err := st.SiteDependantsOf(ctx, code)
		switch {
		case errors.Is(err, store.ErrNotFound):
			errs = append(errs, fmt.Errorf("%s: not in the register", code))
			continue
		case err != nil:
			return nil, err
		case d.Kind != store.KindSite && d.Kind != store.KindOther:
			errs = append(errs, fmt.Errorf("%s: is a %s, not a site; mergers closes sites only", code, d.Kind))
			continue
		case !d.Open:
			errs = append(errs, fmt.Errorf("%s: already closed", code))
			continue
		case d.Patients > 0 || d.Submissions > 0:
			errs = append(errs, fmt.Errorf("%s: has audit data (%d submissions, %d patients through its unit); refusing to close it", code, d.Submissions, d.Patients))
			continue
		}
		plans = append(plans, DeletePlan{Code: code, Dependants: d})
	}
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	return plans, nil
}

// Describe lists every relationship and dependant of the site.
func (p DeletePlan) Describe() string {
	d := p.Dependants
	lines := []string{
		"parent: " + orNone(d.Parent),
		"unit: " + orNone(d.Unit),
		"leads units: " + orNone(strings.Join(d.LedUnits, ", ")),
		"sites under it: " + orNone(strings.Join(d.ChildSites, ", ")),
		"OPEN UK networks: " + orNone(strings.Join(d.OpenUK, ", ")),
		"successions: " + orNone(strings.Join(d.Successions, "; ")),
	}
	return "  " + strings.Join(lines, "\n  ")
}

// Close closes the site on the date (its versions and links end, a closure succession
// is recorded); nothing is erased.
func (p DeletePlan) Close(ctx context.Context, st *store.Store, on time.Time) error {
	return st.RecordSuccession(ctx, store.NewSuccession{PredecessorCode: p.Code, Kind: store.SuccessionClosure,
		EffectiveOn: on, Note: "closed with server mergers --delete"})
}

func orNone(s string) string {
	if s == "" {
		return "(none)"
	}
	return s
}
