package store_test

import (
	"context"
	"errors"
	"go/ast"
	"go/parser"
	"go/token"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"caregraph/store"
	"caregraph/store/dbtest"
)

func day(t *testing.T, s string) time.Time {
	t.Helper()
	d, err := time.Parse(time.DateOnly, s)
	if err != nil {
		t.Fatal(err)
	}
	return d
}

// register makes a small register: a trust with two sites, one in Cambridge and one
// without a point, and an ICB linked to the trust.
func register(t *testing.T) (*store.Store, context.Context) {
	t.Helper()
	ctx := context.Background()
	st := store.New(dbtest.NewWithBoundaries(t).Pool)
	_, err := st.CreateOrganisations(ctx, []store.NewOrganisation{
		{ODSCode: "QUE", Kind: store.KindICB, GSSCode: "E54000056", Attrs: store.OrgAttrs{Name: "NHS CAMBRIDGESHIRE AND PETERBOROUGH ICB", CountryCode: "E92000001"}},
		{ODSCode: "Y61", Kind: store.KindRegion, GSSCode: "E40000007", Attrs: store.OrgAttrs{Name: "East of England", CountryCode: "E92000001"}},
		{ODSCode: "7A4", Kind: store.KindLHB, GSSCode: "W11000029", Attrs: store.OrgAttrs{Name: "CARDIFF AND VALE UNIVERSITY HEALTH BOARD", CountryCode: "W92000004"}},
		{ODSCode: "RGT", Kind: store.KindTrust, Attrs: store.OrgAttrs{Name: "CAMBRIDGE UNIVERSITY HOSPITALS NHS FOUNDATION TRUST", CountryCode: "E92000001"}},
		{ODSCode: "RGT01", Kind: store.KindSite, Attrs: store.OrgAttrs{Name: "ADDENBROOKE'S HOSPITAL", Postcode: "CB2 0QQ",
			Point: &store.LatLon{Lat: 52.17513275, Lon: 0.140753239}}},
		{ODSCode: "RGT99", Kind: store.KindSite, Attrs: store.OrgAttrs{Name: "A SITE WITHOUT A POINT"}},
	})
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range []string{"RGT01", "RGT99"} {
		if _, err := st.SetParent(ctx, s, "RGT", time.Time{}); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := st.SetLinks(ctx, "RGT", store.RelationICB, []string{"QUE"}, time.Time{}); err != nil {
		t.Fatal(err)
	}
	if _, err := st.SetLinks(ctx, "RGT", store.RelationRegion, []string{"Y61"}, time.Time{}); err != nil {
		t.Fatal(err)
	}
	return st, ctx
}

func lookup(t *testing.T, st *store.Store, code, on string) (store.Organisation, *store.Relations) {
	t.Helper()
	o, _, rel, err := st.OrganisationByCode(context.Background(), code, day(t, on), true)
	if err != nil {
		t.Fatalf("%s on %s: %v", code, on, err)
	}
	return o, rel
}

func TestNameHistory(t *testing.T) {
	st, ctx := register(t)
	changed, err := st.SetName(ctx, "RGT01", "ADDENBROOKE'S", day(t, "2025-01-01"))
	if err != nil || !changed {
		t.Fatalf("SetName: %v, changed %v", err, changed)
	}
	if changed, err := st.SetName(ctx, "RGT01", "ADDENBROOKE'S", day(t, "2025-02-01")); err != nil || changed {
		t.Errorf("setting the same name again: changed %v, %v", changed, err)
	}
	before, _ := lookup(t, st, "RGT01", "2024-12-31")
	after, _ := lookup(t, st, "RGT01", "2025-01-01")
	if before.Attrs.Name != "ADDENBROOKE'S HOSPITAL" || before.ValidTo == nil || !before.ValidTo.Equal(day(t, "2025-01-01")) || before.ValidFrom != nil {
		t.Errorf("before the change: %q valid %v–%v", before.Attrs.Name, before.ValidFrom, before.ValidTo)
	}
	if after.Attrs.Name != "ADDENBROOKE'S" || after.ValidTo != nil || after.Attrs.Postcode != "CB2 0QQ" || after.Attrs.Point == nil {
		t.Errorf("after the change: %+v (other attributes must be kept)", after)
	}
	// A second change on the same day replaces the first; one dated earlier is refused.
	if _, err := st.SetName(ctx, "RGT01", "ADDENBROOKE'S HOSPITAL CAMBRIDGE", day(t, "2025-01-01")); err != nil {
		t.Fatal(err)
	}
	if _, err := st.SetName(ctx, "RGT01", "TOO LATE", day(t, "2024-06-01")); !errors.Is(err, store.ErrConflict) {
		t.Errorf("a change dated before the open version: %v, want ErrConflict", err)
	}
	hs, err := st.Histories(ctx, []int64{after.ID})
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, v := range hs[after.ID] {
		names = append(names, v.Attrs.Name)
	}
	if strings.Join(names, " | ") != "ADDENBROOKE'S HOSPITAL | ADDENBROOKE'S HOSPITAL CAMBRIDGE" {
		t.Errorf("history = %v", names)
	}
	if _, err := st.SetName(ctx, "NOPE", "X", day(t, "2025-01-01")); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("unknown code: %v", err)
	}
	if _, err := st.SetName(ctx, "RGT01", "X", time.Time{}); err == nil {
		t.Error("a change without a date was accepted")
	}
}

func TestPlacementFollowsThePoint(t *testing.T) {
	st, ctx := register(t)
	_, rel := lookup(t, st, "RGT01", "2024-01-01")
	if rel.Placement != "point" || rel.CountryCode != "E92000001" || len(rel.ICBCodes) != 1 || rel.ICBCodes[0] != "E54000056" ||
		len(rel.RegionCodes) != 1 || rel.RegionCodes[0] != "E40000007" {
		t.Fatalf("placed in Cambridge: %+v", rel)
	}
	// The site moves to Cardiff in 2025: placed again, and the old answer stays.
	if _, err := st.SetPoint(ctx, "RGT01", &store.LatLon{Lat: 51.5074, Lon: -3.1906}, day(t, "2025-03-01")); err != nil {
		t.Fatal(err)
	}
	_, moved := lookup(t, st, "RGT01", "2025-03-01")
	if moved.CountryCode != "W92000004" || moved.LHBCode != "W11000029" || len(moved.ICBIDs) != 0 {
		t.Errorf("after the move: %+v", moved)
	}
	_, then := lookup(t, st, "RGT01", "2025-02-28")
	if then.CountryCode != "E92000001" || len(then.ICBCodes) != 1 {
		t.Errorf("the day before the move: %+v", then)
	}
	// Without a point the trust's relationships answer.
	_, fallback := lookup(t, st, "RGT99", "2025-01-01")
	if fallback.Placement != "lookup" || fallback.CountryCode != "E92000001" || len(fallback.ICBCodes) != 1 || fallback.ICBCodes[0] != "E54000056" {
		t.Errorf("a site without a point: %+v", fallback)
	}
	// Placement is idempotent: computing it again changes nothing.
	if n, err := st.PlaceOrganisations(ctx); err != nil || n != 0 {
		t.Errorf("placing again changed %d versions (%v)", n, err)
	}
}

func TestRelationHistoryAndOverlaps(t *testing.T) {
	st, ctx := register(t)
	if _, err := st.CreateOrganisation(ctx, store.NewOrganisation{ODSCode: "RGN", Kind: store.KindTrust, Attrs: store.OrgAttrs{Name: "NORTH WEST ANGLIA"}}); err != nil {
		t.Fatal(err)
	}
	if changed, err := st.SetParent(ctx, "RGT99", "RGN", day(t, "2025-06-01")); err != nil || !changed {
		t.Fatalf("SetParent: %v %v", changed, err)
	}
	_, before := lookup(t, st, "RGT99", "2025-05-31")
	_, after := lookup(t, st, "RGT99", "2025-06-01")
	rgt, _ := lookup(t, st, "RGT", "2025-01-01")
	rgn, _ := lookup(t, st, "RGN", "2025-01-01")
	if *before.ParentID != rgt.ID || *after.ParentID != rgn.ID {
		t.Errorf("parent before %v after %v; want RGT then RGN", *before.ParentID, *after.ParentID)
	}
	// A first link (since before our records) cannot replace an existing one.
	if _, err := st.SetParent(ctx, "RGT99", "RGT", time.Time{}); !errors.Is(err, store.ErrConflict) {
		t.Errorf("undated change of an existing parent: %v, want ErrConflict", err)
	}
	if _, err := st.SetParent(ctx, "RGT99", "NOPE", day(t, "2025-07-01")); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("unknown parent: %v", err)
	}
	if _, err := st.CreateOrganisation(ctx, store.NewOrganisation{ODSCode: "RGT", Kind: store.KindTrust, Attrs: store.OrgAttrs{Name: "DUPLICATE"}}); !errors.Is(err, store.ErrConflict) {
		t.Errorf("duplicate code: %v", err)
	}
}

func TestSuccessions(t *testing.T) {
	st, ctx := register(t)
	if _, err := st.CreateOrganisation(ctx, store.NewOrganisation{ODSCode: "R1X", Kind: store.KindTrust,
		Attrs: store.OrgAttrs{Name: "MERGED TRUST", CountryCode: "E92000001"}, From: day(t, "2025-04-01")}); err != nil {
		t.Fatal(err)
	}
	if err := st.RecordSuccession(ctx, store.NewSuccession{PredecessorCode: "RGT", SuccessorCode: "R1X", Kind: store.SuccessionMerger,
		EffectiveOn: day(t, "2025-04-01"), Note: "test merger"}); err != nil {
		t.Fatal(err)
	}
	old, path, _, err := st.OrganisationByCode(ctx, "RGT", day(t, "2025-03-31"), false)
	if err != nil || old.ODSCode != "RGT" || !old.Active || len(path) != 0 {
		t.Errorf("RGT before the merger: %+v %v %v", old, path, err)
	}
	succ, path, rel, err := st.OrganisationByCode(ctx, "RGT", day(t, "2025-04-01"), true)
	if err != nil || succ.ODSCode != "R1X" || len(path) != 1 || rel == nil {
		t.Fatalf("RGT after the merger: %+v %v %v", succ, path, err)
	}
	ss, err := st.Successions(ctx, path, nil)
	if err != nil || len(ss) != 1 || ss[0].Kind != store.SuccessionMerger || ss[0].Note != "test merger" {
		t.Errorf("succession = %+v %v", ss, err)
	}
	// The sites moved with the merger; the merged trust lists none from that day.
	_, site := lookup(t, st, "RGT01", "2025-04-01")
	if site.ParentID == nil || *site.ParentID != succ.ID {
		t.Errorf("RGT01's parent after the merger: %v, want R1X (%d)", site.ParentID, succ.ID)
	}
	linked, err := st.LinkedTo(ctx, []store.OrgKey{{ID: old.ID, On: day(t, "2025-04-01")}, {ID: old.ID, On: day(t, "2025-03-31")}})
	if err != nil {
		t.Fatal(err)
	}
	if n := len(linked[store.OrgKey{ID: old.ID, On: day(t, "2025-04-01")}]); n != 0 {
		t.Errorf("RGT has %d linked organisations after the merger", n)
	}
	if n := len(linked[store.OrgKey{ID: old.ID, On: day(t, "2025-03-31")}]); n != 2 {
		t.Errorf("RGT had %d sites before the merger, want 2", n)
	}
	if err := st.CloseOrganisation(ctx, "RGT", day(t, "2025-05-01")); !errors.Is(err, store.ErrConflict) {
		t.Errorf("closing a closed organisation: %v", err)
	}
	if err := st.RecordSuccession(ctx, store.NewSuccession{PredecessorCode: "RGT01", Kind: store.SuccessionMerger, EffectiveOn: day(t, "2025-05-01")}); err == nil {
		t.Error("a merger without a successor was accepted")
	}
	// A closure without a successor leaves the organisation answerable as it last was.
	if err := st.CloseOrganisation(ctx, "RGT99", day(t, "2025-06-01")); err != nil {
		t.Fatal(err)
	}
	closed, _, _, err := st.OrganisationByCode(ctx, "RGT99", day(t, "2025-07-01"), false)
	if err != nil || closed.Active || closed.ValidTo == nil {
		t.Errorf("a closed site: %+v %v", closed, err)
	}
}

// TestHistoryWritesStayInOneFile keeps every statement that changes the register's tables
// in organisations_write.go, where the history rules are kept.
func TestHistoryWritesStayInOneFile(t *testing.T) {
	tables := `organisations|organisation_versions|organisation_links|organisation_successions|paediatric_diabetes_units|` +
		`paediatric_diabetes_networks|unit_leads|unit_sites|unit_networks|open_uk_networks|open_uk_network_members`
	write := regexp.MustCompile(`(?i)\b(INSERT\s+INTO|UPDATE|DELETE\s+FROM)\s+(` + tables + `)\b`)
	files, err := filepath.Glob("*.go")
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range files {
		if f == "organisations_write.go" || strings.HasSuffix(f, "_test.go") {
			continue
		}
		src, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		fset := token.NewFileSet()
		file, err := parser.ParseFile(fset, f, src, 0)
		if err != nil {
			t.Fatal(err)
		}
		ast.Inspect(file, func(n ast.Node) bool {
			if lit, ok := n.(*ast.BasicLit); ok && lit.Kind == token.STRING && write.MatchString(lit.Value) {
				t.Errorf("%s: writes to the register outside organisations_write.go: %s", fset.Position(lit.Pos()), write.FindString(lit.Value))
			}
			return true
		})
	}
}
