package main

import (
	"context"
	"encoding/json"
	"fmt"
	"testing"
	"time"

	"caregraph/store"
)

// relationFields are every @prefetched relation of an organisation, nested one level,
// in two groups (all at once over the whole register exceeds the complexity limit).
var relationFields = []string{`
	parent { odsCode } trust { odsCode } localHealthBoard { odsCode }
	integratedCareBoard { odsCode area { code } } integratedCareBoards { odsCode area { code } }
	nhsEnglandRegion { odsCode area { code } } nhsEnglandRegions { odsCode }`, `
	country { code } londonBorough { code } area { code }
	paediatricDiabetesUnit { pzCode name network { code } } paediatricDiabetesNetwork { code }
	openUkNetwork { code } openUkNetworks { code }`}

// TestPrefetchedRelationsMatchLoaders checks that relations answered from what a list
// or lookup loaded ahead equal those resolved one object at a time through the loaders
// (the path of organisations no resolver loaded ahead for, such as a unit's lead).
func TestPrefetchedRelationsMatchLoaders(t *testing.T) {
	s := newOrgServer(t)
	for i, fields := range relationFields {
		t.Run(fmt.Sprint("group ", i+1), func(t *testing.T) { compareRelations(t, s, fields) })
	}
}

type gqlRow map[string]json.RawMessage

func compareRelations(t *testing.T, s *orgServer, relationFields string) {
	type row = gqlRow
	var list struct {
		Organisations struct{ Nodes []row }
	}
	s.mustQuery(t, `{ organisations(filter: {kinds: [SITE, NHS_TRUST, LOCAL_HEALTH_BOARD, INTEGRATED_CARE_BOARD, OTHER]}, first: 1000) {
		nodes { odsCode `+relationFields+` } } }`, nil, &list)
	ahead := map[string]row{}
	for _, r := range list.Organisations.Nodes {
		var code string
		if err := json.Unmarshal(r["odsCode"], &code); err != nil {
			t.Fatal(err)
		}
		ahead[code] = r
	}

	var units struct {
		PaediatricDiabetesUnits struct {
			Nodes []struct {
				PzCode           string
				Network          *struct{ Code string }
				LeadOrganisation row
			}
		}
	}
	s.mustQuery(t, `{ paediatricDiabetesUnits(first: 1000) { nodes { pzCode network { code }
		leadOrganisation { odsCode `+relationFields+` } } } }`, nil, &units)
	compared, withUnit := 0, 0
	for _, u := range units.PaediatricDiabetesUnits.Nodes {
		lead := u.LeadOrganisation
		if lead == nil {
			continue
		}
		var code string
		if err := json.Unmarshal(lead["odsCode"], &code); err != nil {
			t.Fatal(err)
		}
		want, ok := ahead[code]
		if !ok {
			t.Errorf("unit %s: lead %s is not in the list", u.PzCode, code)
			continue
		}
		for field, got := range lead {
			if string(got) != string(want[field]) {
				t.Errorf("%s.%s: %s through the loaders, %s loaded ahead", code, field, got, want[field])
			}
		}
		if string(want["paediatricDiabetesUnit"]) != "null" {
			withUnit++
		}
		compared++
	}
	if compared < 100 || withUnit == 0 {
		t.Fatalf("compared %d leads (%d with a unit of their own): too few to mean anything", compared, withUnit)
	}

	// A relation's own object (the trust) is not loaded ahead: its relations come through
	// the loaders and must equal the trust's when it is looked up itself.
	var nested, direct struct {
		Organisation row
	}
	s.mustQuery(t, `{ organisation(odsCode: "RGT01") { trust { odsCode `+relationFields+` } } }`, nil, &nested)
	s.mustQuery(t, `{ organisation(odsCode: "RGT") { odsCode `+relationFields+` } }`, nil, &direct)
	var trust row
	if err := json.Unmarshal(nested.Organisation["trust"], &trust); err != nil {
		t.Fatal(err)
	}
	for field, want := range direct.Organisation {
		if string(trust[field]) != string(want) {
			t.Errorf("RGT01's trust .%s = %s, RGT's own %s", field, trust[field], want)
		}
	}
}

// TestPrefetchedRelationsHonourAsOf checks that a relation asked for on another date than
// its object's is not answered from what was loaded ahead for the object's date.
func TestPrefetchedRelationsHonourAsOf(t *testing.T) {
	s := newOrgServer(t)
	ctx := context.Background()
	from := time.Date(2025, 4, 1, 0, 0, 0, 0, time.UTC)
	if _, err := s.st.CreateOrganisation(ctx, store.NewOrganisation{ODSCode: "R9X", Kind: store.KindTrust,
		Attrs: store.OrgAttrs{Name: "EAST ANGLIA UNIVERSITY HOSPITALS NHS TRUST"}, From: from}); err != nil {
		t.Fatal(err)
	}
	if err := s.st.RecordSuccession(ctx, store.NewSuccession{PredecessorCode: "RGT", SuccessorCode: "R9X",
		Kind: store.SuccessionMerger, EffectiveOn: from}); err != nil {
		t.Fatal(err)
	}
	type ref struct{ OdsCode string }
	var got struct {
		Organisation struct {
			Trust, Before, Parent, ParentToday *ref
			ICB                                *ref
		}
		Organisations struct {
			Nodes []struct {
				OdsCode       string
				Trust, Before *ref
			}
		}
	}
	s.mustQuery(t, `{
		organisation(odsCode: "RGT01", asOf: "2025-05-01") {
			trust { odsCode } before: trust(asOf: "2025-03-01") { odsCode }
			parent(asOf: "2025-03-01") { odsCode } parentToday: parent(asOf: "2025-05-01") { odsCode }
			icb: integratedCareBoard(asOf: "2025-03-01") { odsCode }
		}
		organisations(filter: {trust: "R9X"}, asOf: "2025-05-01", first: 1000) {
			nodes { odsCode trust { odsCode } before: trust(asOf: "2025-03-01") { odsCode } }
		}
	}`, nil, &got)
	o := got.Organisation
	if o.Trust == nil || o.Trust.OdsCode != "R9X" || o.ParentToday == nil || o.ParentToday.OdsCode != "R9X" {
		t.Errorf("RGT01 in May 2025: trust %+v, parent %+v; want R9X", o.Trust, o.ParentToday)
	}
	if o.Before == nil || o.Before.OdsCode != "RGT" || o.Parent == nil || o.Parent.OdsCode != "RGT" {
		t.Errorf("RGT01's trust asked for March 2025: %+v, parent %+v; want RGT", o.Before, o.Parent)
	}
	if o.ICB == nil || o.ICB.OdsCode != "QUE" {
		t.Errorf("RGT01's ICB in March 2025: %+v", o.ICB)
	}
	if len(got.Organisations.Nodes) == 0 {
		t.Fatal("no sites under R9X in May 2025")
	}
	for _, n := range got.Organisations.Nodes {
		if n.Trust == nil || n.Trust.OdsCode != "R9X" || n.Before == nil || n.Before.OdsCode != "RGT" {
			t.Errorf("%s: trust %+v in May, %+v in March; want R9X and RGT", n.OdsCode, n.Trust, n.Before)
		}
	}
}
