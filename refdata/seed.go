package refdata

import (
	"context"
	"errors"
	"fmt"
	"io"
	"slices"
	"sort"
	"strings"
	"time"

	"caregraph/store"
)

// Options adjust a seed.
type Options struct {
	// Effective is the date from which changes to facts already recorded take effect;
	// zero means today. Facts recorded for the first time hold "since before our records
	// begin", since the lists say nothing about when they began.
	Effective time.Time
	// Progress receives one line per step; nil discards them.
	Progress io.Writer
}

// Problem is something wrong with a row of a list, and what the seed did about it.
type Problem struct {
	File    string
	Code    string
	Message string
}

func (p Problem) String() string {
	if p.Code == "" {
		return p.File + ": " + p.Message
	}
	return p.File + " " + p.Code + ": " + p.Message
}

// Disagreement is a site whose geographic answer (from its point) differs from the
// lookup-table answer (from its trust and the lists).
type Disagreement struct {
	Code, Name string
	// Field is one of country, nhs_england_region, integrated_care_board,
	// local_health_board, london_borough.
	Field      string
	Geographic string
	Lookup     string
}

// Report is what a seed did and found.
type Report struct {
	// Created counts rows created (organisations, units, networks).
	Created int
	// Changed counts facts changed: a new version, or a relation opened or closed.
	Changed int
	// Replaced counts organisation versions whose placement was computed or changed.
	Replaced      int64
	Counts        map[string]int
	Problems      []Problem
	Disagreements []Disagreement
}

// Unchanged reports whether the seed found everything already as the lists say.
func (r *Report) Unchanged() bool { return r.Created == 0 && r.Changed == 0 && r.Replaced == 0 }

// Country codes the lists' country names stand for.
var countryCodes = map[string]string{
	"ENGLAND":          "E92000001",
	"WALES":            "W92000004",
	"SCOTLAND":         "S92000003",
	"NORTHERN IRELAND": "N92000002",
}

type seeder struct {
	tx       *store.Store
	lists    *Lists
	from     time.Time
	progress io.Writer
	report   *Report
	// kinds holds every organisation in the register by ODS code, as this seed leaves it.
	kinds map[string]store.OrgKind
	// created holds the codes created by this seed: their relations are recorded as
	// holding since before our records begin.
	created map[string]bool
}

// Seed brings the register in line with the lists, in one transaction, through the
// store's history-keeping writes: new organisations are created, changed attributes
// and relations are recorded from opts.Effective, and nothing already right is touched,
// so a second run changes nothing. Problems in the rows are reported, never fatal; an
// error means the database failed and nothing was written.
func Seed(ctx context.Context, st *store.Store, l *Lists, opts Options) (*Report, error) {
	from := opts.Effective
	if from.IsZero() {
		from = time.Now()
	}
	progress := opts.Progress
	if progress == nil {
		progress = io.Discard
	}
	var report *Report
	err := st.InTx(ctx, func(tx *store.Store) error {
		report = &Report{}
		if err := tx.LockRegister(ctx); err != nil {
			return err
		}
		kinds, err := tx.OrganisationKinds(ctx)
		if err != nil {
			return err
		}
		sd := &seeder{tx: tx, lists: l, from: store.Day(from), progress: progress, report: report, kinds: kinds, created: map[string]bool{}}
		steps := []struct {
			name string
			run  func(context.Context) error
		}{
			{"NHS England regions", sd.regions},
			{"integrated care boards", sd.icbs},
			{"local health boards", sd.lhbs},
			{"NHS trusts", sd.trusts},
			{"trust, ICB and region links", sd.hierarchy},
			{"sites", sd.sites},
			{"placement of sites", sd.place},
			{"paediatric diabetes networks and units", sd.units},
			{"OPEN UK networks", sd.openUK},
			{"countries", sd.countries},
		}
		for _, s := range steps {
			created, changed := report.Created, report.Changed
			if err := s.run(ctx); err != nil {
				return fmt.Errorf("seed %s: %w", s.name, err)
			}
			fmt.Fprintf(progress, "seed: %-40s %d created, %d changed\n", s.name, report.Created-created, report.Changed-changed)
		}
		if err := sd.compare(ctx); err != nil {
			return fmt.Errorf("compare placement with the lookup tables: %w", err)
		}
		if !report.Unchanged() {
			if err := tx.AnalyzeRegister(ctx); err != nil {
				return err
			}
		}
		report.Counts, err = tx.RegisterCounts(ctx)
		return err
	})
	if err != nil {
		return nil, err
	}
	return report, nil
}

func (sd *seeder) problem(file, code, format string, args ...any) {
	sd.report.Problems = append(sd.report.Problems, Problem{File: file, Code: code, Message: fmt.Sprintf(format, args...)})
}

// fromFor is the start of a relation owned by code: since before our records begin for
// an owner this seed created, else the effective date.
func (sd *seeder) fromFor(code string) time.Time {
	if sd.created[code] {
		return time.Time{}
	}
	return sd.from
}

func (sd *seeder) count(changed bool, err error) error {
	if changed {
		sd.report.Changed++
	}
	return err
}

// upsert creates the organisations that are new and records the attributes of those
// that exist, skipping (and reporting) a code that is recorded as another kind.
func (sd *seeder) upsert(ctx context.Context, file string, orgs []store.NewOrganisation) error {
	var fresh []store.NewOrganisation
	for _, n := range orgs {
		kind, exists := sd.kinds[n.ODSCode]
		switch {
		case !exists:
			fresh = append(fresh, n)
		case kind != n.Kind:
			sd.problem(file, n.ODSCode, "listed as %s but recorded as %s; left as recorded", n.Kind, kind)
		default:
			changed, err := sd.tx.SetAttributes(ctx, n.ODSCode, n.Attrs, sd.from)
			if errors.Is(err, store.ErrNotFound) {
				sd.problem(file, n.ODSCode, "listed, but recorded as closed; left closed")
				continue
			}
			if errors.Is(err, store.ErrConflict) {
				sd.problem(file, n.ODSCode, "not updated: %v", err)
				continue
			}
			if err := sd.count(changed, err); err != nil {
				return err
			}
		}
	}
	if len(fresh) == 0 {
		return nil
	}
	if _, err := sd.tx.CreateOrganisations(ctx, fresh); err != nil {
		return err
	}
	for _, n := range fresh {
		sd.kinds[n.ODSCode] = n.Kind
		sd.created[n.ODSCode] = true
	}
	sd.report.Created += len(fresh)
	return nil
}

// dedupe keeps the first row of each code and reports the others.
func dedupe[T any](sd *seeder, file string, rows []T, code func(T) string) []T {
	seen := map[string]bool{}
	var out []T
	for _, r := range rows {
		c := code(r)
		switch {
		case c == "":
			sd.problem(file, "", "a row without a code was skipped")
		case seen[c]:
			sd.problem(file, c, "listed more than once; the first row is kept")
		default:
			seen[c] = true
			out = append(out, r)
		}
	}
	return out
}

func (sd *seeder) regions(ctx context.Context) error {
	var ns []store.NewOrganisation
	for _, r := range dedupe(sd, FileRegions, sd.lists.Regions, func(r Region) string { return r.Code }) {
		ns = append(ns, store.NewOrganisation{ODSCode: r.Code, Kind: store.KindRegion, GSSCode: r.GSSCode,
			Attrs: store.OrgAttrs{Name: r.Name, CountryCode: countryCodes["ENGLAND"]}})
	}
	return sd.upsert(ctx, FileRegions, ns)
}

func (sd *seeder) icbs(ctx context.Context) error {
	var ns []store.NewOrganisation
	for _, i := range dedupe(sd, FileICBs, sd.lists.ICBs, func(i ICB) string { return i.Code }) {
		ns = append(ns, store.NewOrganisation{ODSCode: i.Code, Kind: store.KindICB, GSSCode: i.GSSCode,
			Attrs: store.OrgAttrs{Name: i.Name, CountryCode: countryCodes["ENGLAND"]}})
	}
	return sd.upsert(ctx, FileICBs, ns)
}

func (sd *seeder) lhbs(ctx context.Context) error {
	var ns []store.NewOrganisation
	for _, h := range dedupe(sd, FileLHBs, sd.lists.LHBs, func(h LHB) string { return h.Code }) {
		ns = append(ns, store.NewOrganisation{ODSCode: h.Code, Kind: store.KindLHB, GSSCode: h.GSSCode,
			Attrs: store.OrgAttrs{Name: h.Name, CountryCode: countryCodes["WALES"]}})
	}
	return sd.upsert(ctx, FileLHBs, ns)
}

func (sd *seeder) trusts(ctx context.Context) error {
	var ns []store.NewOrganisation
	for _, t := range dedupe(sd, FileTrusts, sd.lists.Trusts, func(t Trust) string { return t.Code }) {
		if k := sd.kinds[t.Code]; k == store.KindLHB {
			// Powys (7A7) runs its own services and appears in the trust list, but it is a
			// health board and is recorded once, as one.
			sd.problem(FileTrusts, t.Code, "%s is a local health board, listed here as a trust; kept as a health board only", t.Name)
			continue
		}
		country, ok := countryCodes[strings.ToUpper(t.Country)]
		if !ok && t.Country != "" {
			sd.problem(FileTrusts, t.Code, "unknown country %q; recorded without one", t.Country)
		}
		ns = append(ns, store.NewOrganisation{ODSCode: t.Code, Kind: store.KindTrust, Attrs: store.OrgAttrs{
			Name: t.Name, AddressLine1: t.Address1, AddressLine2: t.Address2, Town: t.Town, Postcode: t.Postcode,
			CountryCode: country}})
	}
	return sd.upsert(ctx, FileTrusts, ns)
}

// lookup is what the mapping file says: trust → ICBs and regions, ICB → region.
type lookup struct {
	trustICBs, trustRegions, icbRegions map[string][]string
}

func addOnce(m map[string][]string, k, v string) {
	if v != "" && !slices.Contains(m[k], v) {
		m[k] = append(m[k], v)
		slices.Sort(m[k])
	}
}

// readMapping builds the lookup from the mapping rows, reporting rows that name unknown
// codes or disagree with the ICB list.
func (sd *seeder) readMapping() lookup {
	lk := lookup{trustICBs: map[string][]string{}, trustRegions: map[string][]string{}, icbRegions: map[string][]string{}}
	icbGSS := map[string]string{}
	for _, i := range sd.lists.ICBs {
		icbGSS[i.Code] = i.GSSCode
	}
	reported := map[string]bool{}
	once := func(key, code, format string, args ...any) {
		if !reported[key] {
			reported[key] = true
			sd.problem(FileMapping, code, format, args...)
		}
	}
	for _, m := range sd.lists.Mapping {
		if sd.kinds[m.RegionCode] != store.KindRegion {
			once("region "+m.RegionCode, m.RegionCode, "unknown NHS England region code; its rows are skipped")
			continue
		}
		if sd.kinds[m.ICBCode] != store.KindICB {
			once("icb "+m.ICBCode, m.ICBCode, "unknown ICB code; its rows are skipped")
			continue
		}
		if g := icbGSS[m.ICBCode]; g != m.ICBGSSCode {
			once("gss "+m.ICBCode, m.ICBCode, "boundary code %s disagrees with %s (%s); the ICB list, which matches the imported boundaries, is kept",
				m.ICBGSSCode, FileICBs, g)
		}
		addOnce(lk.icbRegions, m.ICBCode, m.RegionCode)
		switch k := sd.kinds[m.TrustCode]; {
		case m.TrustCode == "":
			continue
		case k != store.KindTrust:
			once("trust "+m.TrustCode, m.TrustCode, "%s is not a known NHS trust; its rows link nothing", m.TrustName)
			continue
		}
		addOnce(lk.trustICBs, m.TrustCode, m.ICBCode)
		addOnce(lk.trustRegions, m.TrustCode, m.RegionCode)
	}
	return lk
}

// hierarchy records each ICB's region and each trust's ICBs and regions. A trust the
// mapping does not mention keeps no links (dissolved trusts and Welsh bodies).
func (sd *seeder) hierarchy(ctx context.Context) error {
	lk := sd.readMapping()
	for _, i := range sd.lists.ICBs {
		if sd.kinds[i.Code] != store.KindICB {
			continue
		}
		regions := lk.icbRegions[i.Code]
		if len(regions) > 1 {
			sd.problem(FileMapping, i.Code, "ICB is listed in several regions (%s); all are kept", strings.Join(regions, ", "))
		}
		if err := sd.count(sd.tx.SetLinks(ctx, i.Code, store.RelationRegion, regions, sd.fromFor(i.Code))); err != nil {
			return err
		}
	}
	var unmapped []string
	for _, t := range sd.lists.Trusts {
		if sd.kinds[t.Code] != store.KindTrust {
			continue
		}
		if len(lk.trustICBs[t.Code]) == 0 {
			unmapped = append(unmapped, t.Code)
		}
		if err := sd.count(sd.tx.SetLinks(ctx, t.Code, store.RelationICB, lk.trustICBs[t.Code], sd.fromFor(t.Code))); err != nil {
			return err
		}
		if err := sd.count(sd.tx.SetLinks(ctx, t.Code, store.RelationRegion, lk.trustRegions[t.Code], sd.fromFor(t.Code))); err != nil {
			return err
		}
	}
	if len(unmapped) > 0 {
		slices.Sort(unmapped)
		unmapped = slices.Compact(unmapped)
		sd.problem(FileMapping, "", "%d trusts have no ICB or region in the mapping (dissolved trusts and Welsh bodies); they keep none: %s",
			len(unmapped), strings.Join(unmapped, ", "))
	}
	return nil
}

func (sd *seeder) sites(ctx context.Context) error {
	rows := dedupe(sd, FileSites, sd.lists.Sites, func(s Site) string { return s.Code })
	var ns []store.NewOrganisation
	for _, s := range rows {
		kind := store.KindSite
		if s.ParentCode == "" {
			kind = store.KindOther
			sd.problem(FileSites, s.Code, "%s has no parent organisation; recorded as an organisation outside the NHS hierarchy", s.Name)
		}
		attrs := store.OrgAttrs{Name: s.Name, AddressLine1: s.Address1, AddressLine2: s.Address2, AddressLine3: s.Address3,
			Town: s.City, County: s.County, Postcode: s.Postcode, Phone: s.Phone, Email: s.Email, Website: s.Website,
			OrganisationType: s.Type, SubType: s.SubType, Sector: s.Sector, LocalAuthority: s.LocalAuthority}
		lat, lon, ok, err := parsePoint(s.Latitude, s.Longitude)
		switch {
		case err != nil:
			sd.problem(FileSites, s.Code, "%v; recorded without a point, placed through its parent", err)
		case !ok:
			sd.problem(FileSites, s.Code, "no latitude and longitude; placed through its parent")
		default:
			attrs.Point = &store.LatLon{Lat: lat, Lon: lon}
		}
		ns = append(ns, store.NewOrganisation{ODSCode: s.Code, Kind: kind, Attrs: attrs})
	}
	if err := sd.upsert(ctx, FileSites, ns); err != nil {
		return err
	}
	for _, s := range rows {
		if k := sd.kinds[s.Code]; k != store.KindSite && k != store.KindOther {
			continue
		}
		parent := s.ParentCode
		if k := sd.kinds[parent]; parent != "" && k != store.KindTrust && k != store.KindLHB {
			sd.problem(FileSites, s.Code, "unknown parent code %s (%s); recorded without a parent", parent, s.ParentName)
			parent = ""
		}
		if err := sd.count(sd.tx.SetParent(ctx, s.Code, parent, sd.fromFor(s.Code))); err != nil {
			return err
		}
	}
	return nil
}

// place computes every point's areas again (set-based) and reports the points that lie
// in no country.
func (sd *seeder) place(ctx context.Context) error {
	n, err := sd.tx.PlaceOrganisations(ctx)
	if err != nil {
		return err
	}
	sd.report.Replaced = n
	return nil
}

func (sd *seeder) units(ctx context.Context) error {
	for _, n := range dedupe(sd, FileDiabetesNetworks, sd.lists.DiabetesNetworks, func(n DiabetesNetwork) string { return n.Code }) {
		created, err := sd.tx.UpsertDiabetesNetwork(ctx, n.Code, n.Name)
		if err != nil {
			return err
		}
		if created {
			sd.report.Created++
		}
	}
	networks := map[string]bool{}
	for _, n := range sd.lists.DiabetesNetworks {
		networks[n.Code] = true
	}
	// The first row of a PZ code names its lead; a later row with the same code is the
	// duplicate (PZ010 in the 2024 lists).
	lead := map[string]string{}
	var pzs []string
	for _, u := range sd.lists.Units {
		switch {
		case u.PZCode == "":
			sd.problem(FileUnits, u.OrgCode, "a row without a PZ code was skipped")
			continue
		case lead[u.PZCode] != "" || slices.Contains(pzs, u.PZCode):
			sd.problem(FileUnits, u.PZCode, "duplicate PZ code: already led by %s, so the row naming %s is skipped", lead[u.PZCode], u.OrgCode)
			continue
		}
		pzs = append(pzs, u.PZCode)
		switch k, ok := sd.kinds[u.OrgCode]; {
		case !ok:
			sd.problem(FileUnits, u.PZCode, "unknown lead organisation %s; the unit is recorded without a lead", u.OrgCode)
		case k == store.KindICB || k == store.KindRegion:
			sd.problem(FileUnits, u.PZCode, "lead %s is an %s, not a site, trust or health board; recorded without a lead", u.OrgCode, k)
		default:
			lead[u.PZCode] = u.OrgCode
		}
	}
	network := map[string]string{}
	for _, u := range sd.lists.UnitNetworks {
		if _, seen := network[u.PZCode]; seen || !slices.Contains(pzs, u.PZCode) {
			continue
		}
		switch {
		case u.NetworkCode == nil:
			sd.problem(FileUnitNetworks, u.PZCode, "network %q has no code; the unit is recorded without a network", u.NetworkName)
			network[u.PZCode] = ""
		case !networks[*u.NetworkCode]:
			sd.problem(FileUnitNetworks, u.PZCode, "unknown network %s; the unit is recorded without a network", *u.NetworkCode)
			network[u.PZCode] = ""
		default:
			network[u.PZCode] = *u.NetworkCode
		}
	}
	for _, pz := range pzs {
		created, err := sd.tx.UpsertUnit(ctx, pz)
		if err != nil {
			return err
		}
		from := sd.from
		if created {
			sd.report.Created++
			from = time.Time{}
		}
		if err := sd.count(sd.tx.SetUnitLead(ctx, pz, lead[pz], from)); err != nil {
			return err
		}
		if err := sd.count(sd.tx.SetUnitNetwork(ctx, pz, network[pz], from)); err != nil {
			return err
		}
	}
	return sd.unitSites(ctx, pzs, lead)
}

// unitSites gives each site its unit: the unit it leads itself, else the unit its trust
// or health board leads.
func (sd *seeder) unitSites(ctx context.Context, pzs []string, lead map[string]string) error {
	unitOf := map[string]string{}
	for _, pz := range pzs {
		if k := sd.kinds[lead[pz]]; k == store.KindSite || k == store.KindOther {
			unitOf[lead[pz]] = pz
		}
	}
	parentOf := map[string]string{}
	for _, s := range sd.lists.Sites {
		if _, seen := parentOf[s.Code]; !seen {
			parentOf[s.Code] = s.ParentCode
		}
	}
	sites := make([]string, 0, len(parentOf))
	for c := range parentOf {
		sites = append(sites, c)
	}
	sort.Strings(sites)
	byParent := map[string]string{}
	for _, pz := range pzs {
		if k := sd.kinds[lead[pz]]; k != store.KindTrust && k != store.KindLHB {
			continue
		}
		for _, s := range sites {
			if parentOf[s] != lead[pz] || unitOf[s] != "" && byParent[s] == "" {
				continue
			}
			if prev := byParent[s]; prev != "" {
				sd.problem(FileUnits, pz, "site %s is already in unit %s through the same parent; it stays there", s, prev)
				continue
			}
			unitOf[s], byParent[s] = pz, pz
		}
	}
	for _, s := range sites {
		if k := sd.kinds[s]; k != store.KindSite && k != store.KindOther {
			continue
		}
		if err := sd.count(sd.tx.SetSiteUnit(ctx, s, unitOf[s], sd.fromFor(s))); err != nil {
			if errors.Is(err, store.ErrConflict) {
				sd.problem(FileUnits, s, "unit not changed: %v", err)
				continue
			}
			return err
		}
	}
	return nil
}

func (sd *seeder) openUK(ctx context.Context) error {
	known := map[string]bool{}
	for _, n := range dedupe(sd, FileOpenUKNetworks, sd.lists.OpenUKNetworks, func(n OpenUKNetwork) string { return n.Code }) {
		known[n.Code] = true
		created, err := sd.tx.UpsertOpenUKNetwork(ctx, n.Code, n.Name, n.Country)
		if err != nil {
			return err
		}
		if created {
			sd.report.Created++
		}
	}
	members := map[string][]string{}
	for _, m := range sd.lists.OpenUKMembers {
		k, ok := sd.kinds[m.OrgCode]
		switch {
		case !ok:
			sd.problem(FileOpenUKMembers, m.OrgCode, "unknown organisation; its membership of %s is skipped", m.NetworkCode)
		case k != store.KindTrust && k != store.KindLHB:
			sd.problem(FileOpenUKMembers, m.OrgCode, "is a %s, not a trust or health board; its membership of %s is skipped", k, m.NetworkCode)
		case !known[m.NetworkCode]:
			sd.problem(FileOpenUKMembers, m.OrgCode, "unknown OPEN UK network %s; skipped", m.NetworkCode)
		case slices.Contains(members[m.OrgCode], m.NetworkCode):
			sd.problem(FileOpenUKMembers, m.OrgCode, "membership of %s listed twice; kept once", m.NetworkCode)
		default:
			members[m.OrgCode] = append(members[m.OrgCode], m.NetworkCode)
		}
	}
	var codes []string
	for c, k := range sd.kinds {
		if k == store.KindTrust || k == store.KindLHB {
			codes = append(codes, c)
		}
	}
	sort.Strings(codes)
	for _, c := range codes {
		if ns := members[c]; len(ns) > 1 {
			sd.problem(FileOpenUKMembers, c, "member of %d OPEN UK networks (%s); all are kept", len(ns), strings.Join(ns, ", "))
		}
		if err := sd.count(sd.tx.SetOpenUKNetworks(ctx, c, members[c], sd.fromFor(c))); err != nil {
			return err
		}
	}
	return nil
}

// countries checks the country list against the country boundaries: countries are
// areas, not organisations, so nothing is written.
func (sd *seeder) countries(ctx context.Context) error {
	codes := make([]string, 0, len(sd.lists.Countries))
	for _, c := range sd.lists.Countries {
		codes = append(codes, c.GSSCode)
	}
	areas, err := sd.tx.AreasByCode(ctx, codes)
	if err != nil {
		return err
	}
	if len(areas) == 0 {
		sd.problem(FileCountries, "", "no country boundaries are imported; countries cannot be checked (run import-shapefiles)")
		return nil
	}
	have := map[string]bool{}
	for _, a := range areas {
		if a.Kind == store.Country {
			have[a.Code] = true
		}
	}
	for _, c := range sd.lists.Countries {
		if !have[c.GSSCode] {
			sd.problem(FileCountries, c.GSSCode, "%s: not a country of the ONS country boundaries (not a valid GSS country code); ignored", c.Name)
		}
	}
	return nil
}
