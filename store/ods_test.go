package store_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"caregraph/store"
	"caregraph/store/dbtest"
)

func odsDay(s string) time.Time { t, _ := time.Parse(time.DateOnly, s); return t }

func odsStore(t *testing.T) *store.Store {
	t.Helper()
	st := store.New(dbtest.New(t).Pool)
	ctx := context.Background()
	if _, err := st.CreateOrganisations(ctx, []store.NewOrganisation{
		{ODSCode: "RGT", Kind: store.KindTrust, Attrs: store.OrgAttrs{Name: "CUH"}},
		{ODSCode: "RGQ", Kind: store.KindTrust, Attrs: store.OrgAttrs{Name: "IPSWICH"}},
		{ODSCode: "RGT01", Kind: store.KindSite, Attrs: store.OrgAttrs{Name: "ADDENBROOKE'S"}, From: odsDay("2025-01-01")},
	}); err != nil {
		t.Fatal(err)
	}
	if _, err := st.SetParent(ctx, "RGT01", "RGQ", odsDay("2026-01-01")); err != nil {
		t.Fatal(err)
	}
	return st
}

func TestApplyODSChangeIsOneTransaction(t *testing.T) {
	st := odsStore(t)
	ctx := context.Background()
	name := store.OrgAttrs{Name: "ADDENBROOKE'S HOSPITAL"}
	parent := "RGT"
	// The name could change on 2025-06-01 (the version began 2025-01-01) but the parent
	// link only began 2026-01-01: the move is refused, and the new name, written first,
	// is rolled back with it.
	err := st.ApplyODSChange(ctx, store.ODSChange{Code: "RGT01", ChangedOn: odsDay("2025-06-01"), Attrs: &name, Parent: &parent})
	if !errors.Is(err, store.ErrConflict) {
		t.Fatalf("err = %v, want a conflict", err)
	}
	held, err := st.ODSHeld(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if h := held["RGT01"]; h.Attrs.Name != "ADDENBROOKE'S" || h.Parent != "RGQ" || h.ODSChangedOn != nil {
		t.Errorf("after a refused change: %+v", h)
	}
	if err := st.ApplyODSChange(ctx, store.ODSChange{Code: "RGT01", ChangedOn: odsDay("2026-09-03"), Attrs: &name, Parent: &parent}); err != nil {
		t.Fatal(err)
	}
	held, _ = st.ODSHeld(ctx)
	if h := held["RGT01"]; h.Attrs.Name != name.Name || h.Parent != "RGT" || h.ODSChangedOn == nil || !h.ODSChangedOn.Equal(odsDay("2026-09-03")) {
		t.Errorf("after the change: %+v", h)
	}
	// An older change date never moves the one recorded back.
	if err := st.NoteODSChange(ctx, "RGT01", odsDay("2026-01-05")); err != nil {
		t.Fatal(err)
	}
	held, _ = st.ODSHeld(ctx)
	if !held["RGT01"].ODSChangedOn.Equal(odsDay("2026-09-03")) {
		t.Errorf("change date = %v", held["RGT01"].ODSChangedOn)
	}
}

func TestReviewQueuePagingAndDedupe(t *testing.T) {
	st := odsStore(t)
	ctx := context.Background()
	on := odsDay("2027-04-01")
	for i := range 3 {
		code := []string{"RGT01", "RGQ", "RGT"}[i]
		added, err := st.QueueODSReview(ctx, store.ODSReviewItem{ODSCode: code, Kind: store.ReviewClosure, EffectiveOn: &on, Detail: "closed"})
		if err != nil || !added {
			t.Fatalf("%s: %v %v", code, added, err)
		}
	}
	if added, err := st.QueueODSReview(ctx, store.ODSReviewItem{ODSCode: "RGQ", Kind: store.ReviewClosure, EffectiveOn: &on, Detail: "again"}); err != nil || added {
		t.Errorf("the same change queued twice: %v %v", added, err)
	}
	page, total, err := st.ODSReviewItems(ctx, store.ReviewPending, 0, 2)
	if err != nil || total != 3 || len(page) != 2 || page[0].ODSCode != "RGT01" {
		t.Fatalf("first page: %v %d %+v", err, total, page)
	}
	rest, total, err := st.ODSReviewItems(ctx, store.ReviewPending, page[1].ID, 2)
	if err != nil || total != 3 || len(rest) != 1 || rest[0].ODSCode != "RGT" {
		t.Errorf("second page: %v %d %+v", err, total, rest)
	}
	if none, total, err := st.ODSReviewItems(ctx, store.ReviewApproved, 0, 2); err != nil || total != 0 || len(none) != 0 {
		t.Errorf("approved: %v %d %+v", err, total, none)
	}
	if _, err := st.ODSReviewItemByID(ctx, 424242); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("unknown id: %v", err)
	}
}

func TestCreateSiteAndDependants(t *testing.T) {
	st := odsStore(t)
	ctx := context.Background()
	if _, err := st.UpsertUnit(ctx, "PZ041"); err != nil {
		t.Fatal(err)
	}
	site := store.NewSite{Org: store.NewOrganisation{ODSCode: "RGT02", Kind: store.KindSite, Attrs: store.OrgAttrs{Name: "ROSIE"}, From: odsDay("2026-10-01")},
		Parent: "RGT", Unit: "PZ999"}
	if err := st.CreateSite(ctx, site); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("unknown unit: %v", err)
	}
	if _, err := st.SiteDependantsOf(ctx, "RGT02"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("a failed create left the site behind: %v", err)
	}
	site.Unit = "PZ041"
	if err := st.CreateSite(ctx, site); err != nil {
		t.Fatal(err)
	}
	d, err := st.SiteDependantsOf(ctx, "RGT02")
	if err != nil || !d.Open || d.Parent != "RGT" || d.Unit != "PZ041" || d.Patients != 0 || d.Submissions != 0 {
		t.Errorf("%v %+v", err, d)
	}
	if d, _ := st.SiteDependantsOf(ctx, "RGT"); len(d.ChildSites) != 1 || d.ChildSites[0] != "RGT02" || d.Kind != store.KindTrust {
		t.Errorf("trust dependants: %+v", d)
	}
}
