package store_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"

	"caregraph/store"
	"caregraph/store/dbtest"
)

func opts(pairs ...string) []store.Option {
	var out []store.Option
	for i := 0; i+1 < len(pairs); i += 2 {
		out = append(out, store.Option{Code: pairs[i], Label: pairs[i+1]})
	}
	return out
}

func syncInput(key string, o []store.Option) store.SyncInput {
	url := "https://www.datadictionary.nhs.uk/data_elements/" + key + ".html"
	return store.SyncInput{
		Key: key, Name: "Test " + key, Category: store.CategoryNHSDD, SourceType: store.SourceScrape,
		ReferenceURL: &url, Tags: []string{"demographic"}, SyncFrequencyHours: 168, Options: o,
		Action: store.ActionScrape, Actor: store.Actor{Name: "test"}, MinKeepRatio: 0.5,
	}
}

func TestSyncDatasetVersionsOnlyOnChange(t *testing.T) {
	ctx := context.Background()
	st := store.New(dbtest.New(t).Pool)

	first := opts("A", "White - British", "B", "White - Irish", "Z", "Not stated", "99", "Not known")
	res, err := st.SyncDataset(ctx, syncInput("ethnic_category", first))
	if err != nil {
		t.Fatal(err)
	}
	if res.Outcome != store.SyncCreated || res.Version != 1 || res.After != 4 {
		t.Fatalf("first sync: %+v", res)
	}
	res, err = st.SyncDataset(ctx, syncInput("ethnic_category", first))
	if err != nil {
		t.Fatal(err)
	}
	if res.Outcome != store.SyncUnchanged || res.Version != 1 {
		t.Errorf("same options again: %+v, want unchanged at version 1", res)
	}
	changed := opts("A", "White - British", "B", "White - Irish", "C", "White - Any other White background", "Z", "Not stated", "99", "Not known")
	changed[1].Retired = true
	res, err = st.SyncDataset(ctx, syncInput("ethnic_category", changed))
	if err != nil {
		t.Fatal(err)
	}
	if res.Outcome != store.SyncUpdated || res.Version != 2 || res.Diff.Added != 1 || res.Diff.Changed != 1 {
		t.Errorf("changed options: %+v", res)
	}
	d, err := st.DatasetByKey(ctx, "ethnic_category")
	if err != nil {
		t.Fatal(err)
	}
	if d.Version != 2 || d.OptionCount != 5 || d.LastScrapedAt == nil || !d.IsGlobal {
		t.Errorf("dataset after update: %+v", d)
	}
	got, err := st.DatasetOptions(ctx, d.ID)
	if err != nil {
		t.Fatal(err)
	}
	if fmt.Sprint(got) != fmt.Sprint(changed) {
		t.Errorf("options = %v, want %v in order", got, changed)
	}
	audit, err := st.DatasetAudit(ctx, []int64{d.ID}, 10)
	if err != nil {
		t.Fatal(err)
	}
	if n := len(audit[d.ID]); n != 3 {
		t.Fatalf("audit entries = %d, want 3 (created, unchanged, updated)", n)
	}
	last := audit[d.ID][0]
	if last.Action != store.ActionScrape || last.BeforeCount != 4 || last.AfterCount != 5 || last.Version != 2 || last.Details["outcome"] != "updated" {
		t.Errorf("latest audit entry: %+v", last)
	}
}

func TestSyncDatasetNeverBlanks(t *testing.T) {
	ctx := context.Background()
	st := store.New(dbtest.New(t).Pool)
	var many []string
	for i := range 20 {
		many = append(many, fmt.Sprint(i), fmt.Sprintf("Label %d", i))
	}
	if _, err := st.SyncDataset(ctx, syncInput("x", opts(many...))); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		in   []store.Option
		want error
	}{
		{"empty", nil, store.ErrNoOptions},
		{"far fewer", opts("1", "one", "2", "two", "3", "three"), store.ErrOptionsShrank},
		{"duplicate codes", opts("1", "one", "1", "uno", "2", "two", "3", "three", "4", "4", "5", "5", "6", "6", "7", "7", "8", "8", "9", "9", "10", "10"), store.ErrConflict},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := st.SyncDataset(ctx, syncInput("x", tt.in))
			if !errors.Is(err, tt.want) {
				t.Fatalf("err = %v, want %v", err, tt.want)
			}
			d, err := st.DatasetByKey(ctx, "x")
			if err != nil {
				t.Fatal(err)
			}
			if d.OptionCount != 20 || d.Version != 1 {
				t.Errorf("dataset changed by a refused sync: %+v", d)
			}
			got, _ := st.DatasetOptions(ctx, d.ID)
			if len(got) != 20 {
				t.Errorf("options left: %d, want 20", len(got))
			}
		})
	}
	if err := st.RecordSyncFailure(ctx, "x", store.CategoryNHSDD, store.ActionScrape, store.Actor{Name: "test"}, errors.New("page layout changed")); err != nil {
		t.Fatal(err)
	}
	d, _ := st.DatasetByKey(ctx, "x")
	audit, _ := st.DatasetAudit(ctx, []int64{d.ID}, 1)
	if e := audit[d.ID][0]; e.Details["outcome"] != "failed" || e.BeforeCount != 20 || e.AfterCount != 20 || !strings.Contains(e.MarshalDetails(), "page layout changed") {
		t.Errorf("failure entry: %+v", e)
	}
	if err := st.RecordSyncFailure(ctx, "never-made", store.CategoryNHSDD, store.ActionScrape, store.Actor{Name: "test"}, errors.New("boom")); err != nil {
		t.Errorf("failure of a dataset never created: %v", err)
	}
}

func TestSyncDatasetDryRunWritesNothing(t *testing.T) {
	ctx := context.Background()
	st := store.New(dbtest.New(t).Pool)
	in := syncInput("dry", opts("1", "one"))
	in.DryRun = true
	res, err := st.SyncDataset(ctx, in)
	if err != nil || res.Outcome != store.SyncCreated {
		t.Fatalf("dry run: %+v, %v", res, err)
	}
	if _, err := st.DatasetByKey(ctx, "dry"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("dry run created the dataset: %v", err)
	}
}

func TestDatasetListingAndTypeahead(t *testing.T) {
	ctx := context.Background()
	db := dbtest.New(t)
	st := store.New(db.Pool)
	hospitals := opts("RGT01", "ADDENBROOKE'S HOSPITAL", "RCF22", "AIREDALE GENERAL HOSPITAL",
		"RQ3", "BIRMINGHAM CHILDREN'S HOSPITAL", "RP401", "GREAT ORMOND STREET HOSPITAL CENTRAL LONDON SITE",
		"RBS25", "ALDER HEY CHILDREN'S HOSPITAL", "RCF", "ROYAL HOSPITAL")
	in := syncInput("hospitals", hospitals)
	in.Category, in.SourceType, in.Tags, in.Action = store.CategoryRCPCH, store.SourceImported, []string{"organisations", "rcpch"}, store.ActionSync
	if _, err := st.SyncDataset(ctx, in); err != nil {
		t.Fatal(err)
	}
	if _, err := st.SyncDataset(ctx, syncInput("ethnic_category", opts("A", "White - British"))); err != nil {
		t.Fatal(err)
	}
	unit := insertUnit(t, db, "PZ041")
	other := insertUnit(t, db, "PZ042")
	mine, err := st.CreateUserDataset(ctx, store.NewDataset{Key: "clinic-rooms", Name: "Clinic rooms", Tags: []string{"rcpch"}, Options: opts("1", "Room one", "2", "Room two"), UnitID: &unit, Actor: store.Actor{Name: "u"}})
	if err != nil {
		t.Fatal(err)
	}
	hosp, _ := st.DatasetByKey(ctx, "hospitals")
	custom, err := st.CreateCustomDataset(ctx, hosp.ID, store.NewDataset{Key: "our-hospitals", Name: "Our hospitals", UnitID: &other, Actor: store.Actor{Name: "u"}})
	if err != nil {
		t.Fatal(err)
	}
	if custom.ParentID == nil || *custom.ParentID != hosp.ID || custom.OptionCount != len(hospitals) || custom.IsGlobal {
		t.Errorf("custom version: %+v", custom)
	}
	keys := func(f store.DatasetFilter) string {
		ds, total, err := st.Datasets(ctx, f, "", 100)
		if err != nil {
			t.Fatal(err)
		}
		var ks []string
		for _, d := range ds {
			ks = append(ks, d.Key)
		}
		return fmt.Sprintf("%d:%s", total, strings.Join(ks, ","))
	}
	listing := []struct {
		name string
		f    store.DatasetFilter
		want string
	}{
		{"anonymous sees global only", store.DatasetFilter{}, "2:ethnic_category,hospitals"},
		{"a unit member sees their list", store.DatasetFilter{Scope: store.DatasetScope{UnitIDs: []int64{unit}}}, "3:clinic-rooms,ethnic_category,hospitals"},
		{"custom versions only when asked", store.DatasetFilter{Scope: store.DatasetScope{UnitIDs: []int64{other}}, IncludeCustom: true}, "3:ethnic_category,hospitals,our-hospitals"},
		{"admin sees all", store.DatasetFilter{Scope: store.DatasetScope{All: true}, IncludeCustom: true}, "4:clinic-rooms,ethnic_category,hospitals,our-hospitals"},
		{"tags all match", store.DatasetFilter{Tags: []string{"rcpch", "organisations"}}, "1:hospitals"},
		{"category", store.DatasetFilter{Category: store.CategoryNHSDD}, "1:ethnic_category"},
		{"search folds case and words", store.DatasetFilter{Search: "ETHNIC categ"}, "1:ethnic_category"},
	}
	for _, tt := range listing {
		t.Run(tt.name, func(t *testing.T) {
			if got := keys(tt.f); got != tt.want {
				t.Errorf("got %s, want %s", got, tt.want)
			}
		})
	}
	page, total, err := st.Datasets(ctx, store.DatasetFilter{Scope: store.DatasetScope{All: true}, IncludeCustom: true}, "ethnic_category", 1)
	if err != nil || total != 4 || len(page) != 1 || page[0].Key != "hospitals" {
		t.Errorf("second page: %v %d %v", page, total, err)
	}
	if _, total, _ := st.Datasets(ctx, store.DatasetFilter{}, "zzz", 10); total != 2 {
		t.Errorf("total past the end = %d, want 2", total)
	}

	tags, err := st.DatasetTags(ctx, store.DatasetScope{})
	if err != nil || fmt.Sprint(tags) != "[{demographic 1} {organisations 1} {rcpch 1}]" {
		t.Errorf("tags: %v %v", tags, err)
	}

	search := []struct {
		q     string
		limit int
		want  string
	}{
		{"", 2, "RGT01,RCF22"},
		{"addenbrookes", 0, "RGT01"},
		{"children", 0, "RQ3,RBS25"},
		{"hey child", 0, "RBS25"},
		{"rcf", 0, "RCF,RCF22"},
		{"royal", 0, "RCF"},
		{"hospital", 3, "RGT01,RCF22,RQ3"},
		{"nothing like it", 0, ""},
	}
	for _, tt := range search {
		got, err := st.SearchOptions(ctx, []int64{hosp.ID, mine.ID}, store.OptionQuery{Search: tt.q, Limit: tt.limit})
		if err != nil {
			t.Fatal(err)
		}
		var codes []string
		for _, o := range got[hosp.ID] {
			codes = append(codes, o.Code)
		}
		if strings.Join(codes, ",") != tt.want {
			t.Errorf("search %q: %v, want %s", tt.q, codes, tt.want)
		}
	}
}

func insertUnit(t *testing.T, db *dbtest.DB, pz string) int64 {
	t.Helper()
	var id int64
	if err := db.Pool.QueryRow(context.Background(), `INSERT INTO paediatric_diabetes_units (pz_code) VALUES ($1) RETURNING id`, pz).Scan(&id); err != nil {
		t.Fatal(err)
	}
	return id
}

func TestUserDatasetEdits(t *testing.T) {
	ctx := context.Background()
	db := dbtest.New(t)
	st := store.New(db.Pool)
	unit := insertUnit(t, db, "PZ001")
	actor := store.Actor{Name: "coordinator"}
	d, err := st.CreateUserDataset(ctx, store.NewDataset{Key: "rooms", Name: "Rooms", Options: opts("1", "One"), UnitID: &unit, Actor: actor})
	if err != nil {
		t.Fatal(err)
	}
	if d.Category != store.CategoryUserCreated || d.SourceType != store.SourceManual || d.IsGlobal || d.Version != 1 {
		t.Errorf("created: %+v", d)
	}
	if _, err := st.CreateUserDataset(ctx, store.NewDataset{Key: "rooms", Name: "Again", Options: opts("1", "One"), UnitID: &unit, Actor: actor}); !errors.Is(err, store.ErrConflict) {
		t.Errorf("duplicate key: %v", err)
	}
	name := "Clinic rooms"
	d, err = st.UpdateUserDataset(ctx, d.ID, store.DatasetChanges{Name: &name, Actor: actor})
	if err != nil || d.Name != name || d.Version != 1 {
		t.Fatalf("rename: %+v %v", d, err)
	}
	v := 1
	d, err = st.UpdateUserDataset(ctx, d.ID, store.DatasetChanges{Options: opts("1", "One", "2", "Two"), SetOptions: true, ExpectedVersion: &v, Actor: actor})
	if err != nil || d.Version != 2 || d.OptionCount != 2 {
		t.Fatalf("new options: %+v %v", d, err)
	}
	if _, err := st.UpdateUserDataset(ctx, d.ID, store.DatasetChanges{Options: opts("3", "Three"), SetOptions: true, ExpectedVersion: &v, Actor: actor}); !errors.Is(err, store.ErrConflict) {
		t.Errorf("stale version: %v", err)
	}
	if _, err := st.UpdateUserDataset(ctx, d.ID, store.DatasetChanges{SetOptions: true, Actor: actor}); !errors.Is(err, store.ErrNoOptions) {
		t.Errorf("blanking a list: %v", err)
	}
	d, err = st.PublishDataset(ctx, d.ID, actor)
	if err != nil || !d.IsGlobal || d.PublishedAt == nil {
		t.Fatalf("publish: %+v %v", d, err)
	}
	if err := st.DeleteDataset(ctx, d.ID, actor); err != nil {
		t.Fatal(err)
	}
	if _, err := st.DatasetByKey(ctx, "rooms"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("deleted list still found: %v", err)
	}
	if err := st.DeleteDataset(ctx, d.ID, actor); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("second delete: %v", err)
	}
	var actions string
	if err := db.Pool.QueryRow(ctx, `SELECT string_agg(action || ':' || before_count || '>' || after_count, ' ' ORDER BY id) FROM dataset_audit_log WHERE dataset_id = $1`, d.ID).Scan(&actions); err != nil {
		t.Fatal(err)
	}
	if actions != "create:0>1 edit:1>1 edit:1>2 publish:2>2 delete:2>2" {
		t.Errorf("audit log: %s", actions)
	}
	if _, err := db.Pool.Exec(ctx, `DELETE FROM dataset_audit_log`); err == nil {
		t.Error("the audit log accepted a delete")
	}
	// A synced dataset is not a user list: the edits refuse it.
	if _, err := st.SyncDataset(ctx, syncInput("synced", opts("1", "one"))); err != nil {
		t.Fatal(err)
	}
	synced, _ := st.DatasetByKey(ctx, "synced")
	if _, err := st.UpdateUserDataset(ctx, synced.ID, store.DatasetChanges{Name: &name, Actor: actor}); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("edit of a synced dataset: %v", err)
	}
}

func TestDiffOptions(t *testing.T) {
	a := opts("1", "one", "2", "two", "3", "three")
	tests := []struct {
		name  string
		after []store.Option
		want  store.OptionDiff
	}{
		{"same", opts("1", "one", "2", "two", "3", "three"), store.OptionDiff{}},
		{"reordered", opts("2", "two", "1", "one", "3", "three"), store.OptionDiff{Reordered: true}},
		{"relabelled, added, removed", opts("1", "uno", "2", "two", "4", "four"), store.OptionDiff{Added: 1, Removed: 1, Changed: 1}},
		{"retired", []store.Option{{Code: "1", Label: "one", Retired: true}, {Code: "2", Label: "two"}, {Code: "3", Label: "three"}}, store.OptionDiff{Changed: 1}},
	}
	for _, tt := range tests {
		if got := store.DiffOptions(a, tt.after); got != tt.want {
			t.Errorf("%s: %+v, want %+v", tt.name, got, tt.want)
		}
	}
}
