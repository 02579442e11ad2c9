package refdata_test

import (
	"context"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"caregraph/refdata"
	"caregraph/store"
	"caregraph/store/dbtest"
)

func load(t *testing.T) *refdata.Lists {
	t.Helper()
	l, err := refdata.Load(filepath.Join(dbtest.DataDir(), "reference"))
	if err != nil {
		t.Fatal(err)
	}
	return l
}

func seed(t *testing.T, st *store.Store, l *refdata.Lists, effective string) *refdata.Report {
	t.Helper()
	var on time.Time
	if effective != "" {
		var err error
		if on, err = time.Parse(time.DateOnly, effective); err != nil {
			t.Fatal(err)
		}
	}
	r, err := refdata.Seed(context.Background(), st, l, refdata.Options{Effective: on})
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func problems(r *refdata.Report) string {
	var b strings.Builder
	for _, p := range r.Problems {
		b.WriteString(p.String())
		b.WriteByte('\n')
	}
	return b.String()
}

func TestSeedRealLists(t *testing.T) {
	st := store.New(dbtest.NewWithBoundaries(t).Pool)
	l := load(t)
	r := seed(t, st, l, "")
	want := map[string]int{
		"nhs_england_region": 7, "integrated_care_board": 42, "local_health_board": 7, "nhs_trust": 241,
		"site": 338, "other": 1, "paediatric_diabetes_unit": 173, "paediatric_diabetes_network": 12,
		"open_uk_network": 15, "succession": 0,
	}
	for k, n := range want {
		if r.Counts[k] != n {
			t.Errorf("%s: %d after the seed, want %d", k, r.Counts[k], n)
		}
	}
	ps := problems(r)
	for _, quirk := range []string{
		"trusts.json 7A7: POWYS TEACHING LOCAL HEALTH BOARD is a local health board, listed here as a trust",
		"paediatric_diabetes_units_pz_codes.json PZ010: duplicate PZ code: already led by RC971, so the row naming RGT2X is skipped",
		"rcpch_organisations.json 8HV48: ROYAL COLLEGE OF PAEDIATRICS AND CHILD HEALTH has no parent organisation",
		"rcpch_organisations.json RGT1W: point (49.18773, -2.11216) lies outside every UK country boundary (Jersey",
		"listed under RGT (CAMBRIDGE UNIVERSITY HOSPITALS NHS FOUNDATION TRUST), kept as listed",
		"icb_subicb_local_authority_trust_mapping.json QNX: boundary code E54000053 disagrees with integrated_care_boards.json (E54000064)",
		"paediatric_diabetes_units_pz_codes.json PZ014: unknown lead organisation RALC7",
		"paediatric_diabetes_units_with_networks.json PZ999: network \"Unknown\" has no code",
		"open_uk_network_trusts.json RN3: member of 2 OPEN UK networks (ORENG, WPNN)",
		"open_uk_network_trusts.json RXP: membership of PENNEC listed twice",
		"country_codes.json E92000003: Jersey: not a country of the ONS country boundaries",
	} {
		if !strings.Contains(ps, quirk) {
			t.Errorf("problems lack %q:\n%s", quirk, ps)
		}
	}
	found := map[string]refdata.Disagreement{}
	for _, d := range r.Disagreements {
		found[d.Code+" "+d.Field] = d
	}
	// Queen Mary's Hospital, Sidcup lies in Bexley (south-east London) but its trust maps
	// to Kent and Medway.
	if d, ok := found["RN7QM integrated_care_board"]; !ok || d.Geographic != "QKK" || d.Lookup != "QKS" {
		t.Errorf("RN7QM ICB disagreement = %+v", d)
	}
	if _, ok := found["RGT01 integrated_care_board"]; ok {
		t.Error("Addenbrooke's is reported though its point and its trust agree")
	}
	if d, ok := found["RGT1W country"]; !ok || d.Geographic != "(none)" || d.Lookup != "E92000001" {
		t.Errorf("RGT1W country disagreement = %+v", d)
	}

	again := seed(t, st, l, "")
	if !again.Unchanged() || again.Created != 0 || again.Changed != 0 {
		t.Errorf("second seed changed things: created %d, changed %d, placed %d", again.Created, again.Changed, again.Replaced)
	}
	if len(again.Problems) != len(r.Problems) || len(again.Disagreements) != len(r.Disagreements) {
		t.Errorf("second seed reported %d problems and %d disagreements, first %d and %d",
			len(again.Problems), len(again.Disagreements), len(r.Problems), len(r.Disagreements))
	}
}

func TestSeedRecordsChangesAsHistory(t *testing.T) {
	ctx := context.Background()
	st := store.New(dbtest.NewWithBoundaries(t).Pool)
	l := load(t)
	seed(t, st, l, "")
	// A later edition of the lists renames a site, moves a site to another trust and
	// gives a unit another lead.
	for i := range l.Sites {
		switch l.Sites[i].Code {
		case "RGT01":
			l.Sites[i].Name = "ADDENBROOKE'S HOSPITAL (CAMBRIDGE)"
		case "RGN90":
			l.Sites[i].ParentCode = "RGT"
		}
	}
	r := seed(t, st, l, "2025-04-01")
	if r.Created != 0 || r.Changed < 2 {
		t.Errorf("re-seed: created %d, changed %d", r.Created, r.Changed)
	}
	before, _, _, err := st.OrganisationByCode(ctx, "RGT01", time.Date(2025, 3, 31, 0, 0, 0, 0, time.UTC), false)
	if err != nil {
		t.Fatal(err)
	}
	after, _, rel, err := st.OrganisationByCode(ctx, "RGT01", time.Date(2025, 4, 1, 0, 0, 0, 0, time.UTC), true)
	if err != nil {
		t.Fatal(err)
	}
	if before.Attrs.Name != "ADDENBROOKE'S HOSPITAL" || after.Attrs.Name != "ADDENBROOKE'S HOSPITAL (CAMBRIDGE)" {
		t.Errorf("names: %q before, %q after", before.Attrs.Name, after.Attrs.Name)
	}
	if rel.UnitID == nil {
		t.Error("RGT01 lost its unit")
	}
	rgt, _, _, _ := st.OrganisationByCode(ctx, "RGT", time.Date(2025, 4, 1, 0, 0, 0, 0, time.UTC), false)
	_, _, moved, _ := st.OrganisationByCode(ctx, "RGN90", time.Date(2025, 4, 1, 0, 0, 0, 0, time.UTC), true)
	_, _, was, _ := st.OrganisationByCode(ctx, "RGN90", time.Date(2025, 3, 1, 0, 0, 0, 0, time.UTC), true)
	if moved.ParentID == nil || *moved.ParentID != rgt.ID || was.ParentID == nil || *was.ParentID == rgt.ID {
		t.Errorf("RGN90's parent: %v before, %v after; want the move to RGT (%d) from April", was.ParentID, moved.ParentID, rgt.ID)
	}
	if again := seed(t, st, l, "2025-05-01"); !again.Unchanged() {
		t.Errorf("third seed changed %d facts", again.Changed)
	}
}

func TestSeedReportsBadRows(t *testing.T) {
	st := store.New(dbtest.NewWithBoundaries(t).Pool)
	l := load(t)
	l.Sites = append(l.Sites,
		refdata.Site{Code: "ZZ001", Name: "A SITE OF AN UNKNOWN TRUST", ParentCode: "ZZZ", Latitude: "52.2", Longitude: "0.12"},
		refdata.Site{Code: "ZZ002", Name: "A SITE IN THE SEA", ParentCode: "RGT", Latitude: "54.0", Longitude: "2.5"},
		refdata.Site{Code: "ZZ003", Name: "A SITE WITH A BROKEN POINT", ParentCode: "RGT", Latitude: "north", Longitude: "0"},
		refdata.Site{Code: "RGT01", Name: "A SECOND ADDENBROOKE'S", ParentCode: "RGT"},
	)
	l.Units = append(l.Units, refdata.Unit{OrgCode: "QUE", PZCode: "PZ900"})
	r := seed(t, st, l, "")
	ps := problems(r)
	for _, want := range []string{
		"ZZ001: unknown parent code ZZZ",
		"ZZ002: point (54.00000, 2.50000) lies outside every UK country boundary",
		`ZZ003: latitude "north" / longitude "0" is not a pair of numbers`,
		"RGT01: listed more than once; the first row is kept",
		"PZ900: lead QUE is an integrated_care_board",
	} {
		if !strings.Contains(ps, want) {
			t.Errorf("problems lack %q:\n%s", want, ps)
		}
	}
	// Reported rows are kept, not dropped.
	if r.Counts["site"] != 341 {
		t.Errorf("%d sites, want 338 + 3 reported ones", r.Counts["site"])
	}
}

func TestLoadRejectsMalformedLists(t *testing.T) {
	if _, err := refdata.Load(t.TempDir()); err == nil || !strings.Contains(err.Error(), refdata.FileSites) {
		t.Errorf("empty folder: %v", err)
	}
}
