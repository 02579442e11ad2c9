package main

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"

	"caregraph/auth"
	"caregraph/graph/model"
	"caregraph/store"
)

// syncTestDataset stores a synced dataset directly, as a sync would.
func syncTestDataset(t testing.TB, st *store.Store, key string, cat store.DatasetCategory, tags []string, opts []store.Option) {
	t.Helper()
	_, err := st.SyncDataset(context.Background(), store.SyncInput{
		Key: key, Name: strings.ReplaceAll(key, "_", " "), Category: cat, SourceType: store.SourceScrape, Tags: tags,
		Options: opts, Action: store.ActionScrape, Actor: store.Actor{Name: "test"}, SyncFrequencyHours: 168,
	})
	if err != nil {
		t.Fatal(err)
	}
}

var ethnicOptions = []store.Option{
	{Code: "A", Label: "White - British"}, {Code: "B", Label: "White - Irish"}, {Code: "C", Label: "White - Any other White background"},
	{Code: "D", Label: "Mixed - White and Black Caribbean"}, {Code: "Z", Label: "Not stated"}, {Code: "99", Label: "Not known"},
}

func TestDatasetsOverGraphQL(t *testing.T) {
	s := newAuthServer(t, nil)
	st := store.New(s.db.Pool)
	syncTestDataset(t, st, "ethnic_category", store.CategoryNHSDD, []string{"demographic"}, ethnicOptions)
	syncTestDataset(t, st, "smoking_status_code", store.CategoryNHSDD, []string{"clinic", "medical"}, []store.Option{{Code: "1", Label: "Current smoker"}, {Code: "9", Label: "Unknown", Retired: true}})
	s.account(t, "coord1@example.org", auth.Coordinator, "coordinator password", "PZ001")
	s.account(t, "editor1@example.org", auth.Editor, "editor password 1", "PZ001")
	s.account(t, "reader1@example.org", auth.Reader, "reader password 1", "PZ001")
	s.account(t, "coord2@example.org", auth.Coordinator, "coordinator password", "PZ002")
	coord1 := s.login(t, "coord1@example.org", "coordinator password", "")
	editor1 := s.login(t, "editor1@example.org", "editor password 1", "")
	reader1 := s.login(t, "reader1@example.org", "reader password 1", "")
	coord2 := s.login(t, "coord2@example.org", "coordinator password", "")

	expect := func(t *testing.T, token, q string, vars map[string]any, code string) {
		t.Helper()
		_, r := s.post(t, token, q, vars)
		if codes := errorCodes(r); !slices.Equal(codes, []string{code}) {
			t.Errorf("%s: codes %v, want [%s]: %+v", q, codes, code, r.Errors)
		}
	}

	t.Run("anyone reads a synced dataset, its options and typeahead", func(t *testing.T) {
		var got struct {
			Dataset struct {
				ID, Key, Category, SourceType string
				Version, OptionCount          int
				Tags                          []string
				All                           []model.DatasetOption
				Search                        []model.DatasetOption
				AuditLog                      []struct {
					Action  string
					Outcome *string
				}
			}
		}
		s.as(t, "", `{ dataset(key: "ethnic_category") { id key category sourceType version optionCount tags
			all: options { code label retired } search: options(search: "white b", first: 3) { code label }
			auditLog { action outcome } } }`, nil, &got)
		d := got.Dataset
		if d.Key != "ethnic_category" || d.Category != "NHS_DD" || d.SourceType != "SCRAPE" || d.Version != 1 || d.OptionCount != 6 || len(d.All) != 6 {
			t.Errorf("dataset: %+v", d)
		}
		// Every word must start a word (B by its code, D by Black); A's label starts
		// with the search, C has "white b…" inside, B and D only match word by word,
		// and first: 3 cuts the list after B (list order among equals).
		if len(d.Search) != 3 || d.Search[0].Code != "A" || d.Search[1].Code != "C" || d.Search[2].Code != "B" {
			t.Errorf("typeahead 'white b': %+v", d.Search)
		}
		if len(d.AuditLog) != 1 || d.AuditLog[0].Action != "SCRAPE" || *d.AuditLog[0].Outcome != "created" {
			t.Errorf("audit log: %+v", d.AuditLog)
		}
		var node struct{ Node struct{ Key string } }
		s.as(t, "", `query($id: ID!) { node(id: $id) { ... on Dataset { key } } }`, map[string]any{"id": d.ID}, &node)
		if node.Node.Key != "ethnic_category" {
			t.Errorf("node: %+v", node)
		}
		var none struct{ Dataset *struct{ Key string } }
		s.as(t, "", `{ dataset(key: "no_such_dataset") { key } }`, nil, &none)
		if none.Dataset != nil {
			t.Error("an unknown key gave a dataset")
		}
		expect(t, "", `{ dataset(key: "ethnic_category") { options(first: -1) { code } } }`, nil, "BAD_USER_INPUT")
	})

	t.Run("listing, tags and filters", func(t *testing.T) {
		var got struct {
			All struct {
				TotalCount int
				Nodes      []struct{ Key string }
				PageInfo   struct {
					HasNextPage bool
					EndCursor   string
				}
			}
			Tagged struct{ Nodes []struct{ Key string } }
			Search struct{ Nodes []struct{ Key string } }
			Tags   []struct {
				Tag          string
				DatasetCount int
			} `json:"datasetTags"`
		}
		s.as(t, "", `{ all: datasets(first: 1) { totalCount nodes { key } pageInfo { hasNextPage endCursor } }
			tagged: datasets(filter: {tags: ["clinic", "medical"], category: NHS_DD}) { nodes { key } }
			search: datasets(filter: {search: "smoking"}) { nodes { key } }
			datasetTags { tag datasetCount } }`, nil, &got)
		if got.All.TotalCount != 2 || got.All.Nodes[0].Key != "ethnic_category" || !got.All.PageInfo.HasNextPage {
			t.Errorf("first page: %+v", got.All)
		}
		if len(got.Tagged.Nodes) != 1 || got.Tagged.Nodes[0].Key != "smoking_status_code" || len(got.Search.Nodes) != 1 {
			t.Errorf("filters: %+v %+v", got.Tagged, got.Search)
		}
		if len(got.Tags) != 3 || got.Tags[0].Tag != "clinic" {
			t.Errorf("tags: %+v", got.Tags)
		}
		var next struct {
			Datasets struct{ Nodes []struct{ Key string } }
		}
		s.as(t, "", `query($a: String) { datasets(after: $a) { nodes { key } } }`, map[string]any{"a": got.All.PageInfo.EndCursor}, &next)
		if len(next.Datasets.Nodes) != 1 || next.Datasets.Nodes[0].Key != "smoking_status_code" {
			t.Errorf("second page: %+v", next)
		}
	})

	create := `mutation($in: CreateDatasetInput!) { createDataset(input: $in) { key version isGlobal optionCount ownerPzCode options { code label retired } } }`
	rooms := map[string]any{"in": map[string]any{"key": "clinic-rooms", "name": "Clinic rooms", "tags": []string{"rooms"},
		"options": []map[string]any{{"code": "1", "label": "Room  one"}, {"label": "Room two"}, {"code": "3", "label": "Old room", "retired": true}}}}

	t.Run("user lists: create, see, edit, publish, delete", func(t *testing.T) {
		expect(t, "", create, rooms, "UNAUTHENTICATED")
		expect(t, reader1, create, rooms, "FORBIDDEN")
		expect(t, coord2, create, map[string]any{"in": map[string]any{"key": "x", "name": "X", "unitPzCode": "PZ001", "options": []map[string]any{{"label": "a"}}}}, "FORBIDDEN")
		var made struct {
			CreateDataset struct {
				Key         string
				Version     int
				IsGlobal    bool
				OptionCount int
				OwnerPzCode string
				Options     []model.DatasetOption
			}
		}
		s.as(t, editor1, create, rooms, &made)
		c := made.CreateDataset
		if c.Version != 1 || c.IsGlobal || c.OwnerPzCode != "PZ001" || c.OptionCount != 3 ||
			c.Options[0].Label != "Room one" || c.Options[1].Code != "Room two" || !c.Options[2].Retired {
			t.Errorf("created: %+v", c)
		}
		expect(t, editor1, create, rooms, "CONFLICT")
		expect(t, editor1, create, map[string]any{"in": map[string]any{"key": "Bad Key", "name": "x", "options": []map[string]any{{"label": "a"}}}}, "BAD_USER_INPUT")
		expect(t, editor1, create, map[string]any{"in": map[string]any{"key": "empty", "name": "x", "options": []map[string]any{}}}, "BAD_USER_INPUT")
		expect(t, editor1, create, map[string]any{"in": map[string]any{"key": "dups", "name": "x", "options": []map[string]any{{"code": "1", "label": "a"}, {"code": "1", "label": "b"}}}}, "BAD_USER_INPUT")

		see := `{ dataset(key: "clinic-rooms") { key } }`
		for name, token := range map[string]string{"anonymous": "", "another unit": coord2} {
			var got struct{ Dataset *struct{ Key string } }
			s.as(t, token, see, nil, &got)
			if got.Dataset != nil {
				t.Errorf("%s sees an unpublished list", name)
			}
		}
		var mine struct{ Dataset *struct{ Key string } }
		s.as(t, reader1, see, nil, &mine)
		if mine.Dataset == nil {
			t.Error("a member of the unit cannot see its list")
		}

		update := `mutation($v: Int) { updateDataset(key: "clinic-rooms", input: {name: "Rooms", options: [{code: "1", label: "Room one"}, {code: "2", label: "Room two"}], expectedVersion: $v}) { name version optionCount } }`
		var upd struct {
			UpdateDataset struct {
				Name                 string
				Version, OptionCount int
			}
		}
		s.as(t, editor1, update, map[string]any{"v": 1}, &upd)
		if upd.UpdateDataset.Version != 2 || upd.UpdateDataset.OptionCount != 2 || upd.UpdateDataset.Name != "Rooms" {
			t.Errorf("update: %+v", upd)
		}
		expect(t, editor1, update, map[string]any{"v": 1}, "CONFLICT")
		expect(t, reader1, update, nil, "FORBIDDEN")
		expect(t, coord2, update, nil, "NOT_FOUND")
		expect(t, coord1, `mutation { updateDataset(key: "ethnic_category", input: {name: "Mine"}) { key } }`, nil, "FORBIDDEN")

		publish := `mutation { publishDataset(key: "clinic-rooms") { isGlobal publishedAt } }`
		expect(t, editor1, publish, nil, "FORBIDDEN")
		var pub struct {
			PublishDataset struct {
				IsGlobal    bool
				PublishedAt *string
			}
		}
		s.as(t, coord1, publish, nil, &pub)
		if !pub.PublishDataset.IsGlobal || pub.PublishDataset.PublishedAt == nil {
			t.Errorf("publish: %+v", pub)
		}
		var public struct{ Dataset *struct{ Key string } }
		s.as(t, "", see, nil, &public)
		if public.Dataset == nil {
			t.Error("a published list is not public")
		}

		var del struct{ DeleteDataset bool }
		s.as(t, editor1, `mutation { deleteDataset(key: "clinic-rooms") }`, nil, &del)
		var gone struct{ Dataset *struct{ Key string } }
		s.as(t, coord1, see, nil, &gone)
		if !del.DeleteDataset || gone.Dataset != nil {
			t.Error("delete did not hide the list")
		}
		var actions []string
		rows, err := s.db.Pool.Query(context.Background(), `SELECT l.action || ' by ' || l.actor FROM dataset_audit_log l JOIN datasets d ON d.id = l.dataset_id WHERE d.key = 'clinic-rooms' ORDER BY l.id`)
		if err != nil {
			t.Fatal(err)
		}
		for rows.Next() {
			var a string
			_ = rows.Scan(&a)
			actions = append(actions, a)
		}
		rows.Close()
		if len(actions) != 4 || !strings.HasPrefix(actions[0], "create by user ") || !strings.HasPrefix(actions[3], "delete by user ") {
			t.Errorf("audit log: %v", actions)
		}
	})

	t.Run("custom version of a global dataset", func(t *testing.T) {
		var got struct {
			CreateCustomDataset struct {
				Key, Name   string
				OptionCount int
				IsGlobal    bool
				Tags        []string
				Parent      struct{ Key string }
				OwnerPzCode string
			}
		}
		s.as(t, coord2, `mutation { createCustomDataset(parentKey: "ethnic_category", input: {key: "ethnicity-pz002"}) {
			key name optionCount isGlobal tags parent { key } ownerPzCode } }`, nil, &got)
		c := got.CreateCustomDataset
		if c.OptionCount != 6 || c.IsGlobal || c.Parent.Key != "ethnic_category" || c.OwnerPzCode != "PZ002" || !slices.Equal(c.Tags, []string{"demographic"}) {
			t.Errorf("custom version: %+v", c)
		}
		var listing struct {
			Plain, Custom struct{ TotalCount int }
		}
		s.as(t, coord2, `{ plain: datasets { totalCount } custom: datasets(filter: {includeCustom: true}) { totalCount } }`, nil, &listing)
		if listing.Plain.TotalCount != 2 || listing.Custom.TotalCount != 3 {
			t.Errorf("listing: %+v", listing)
		}
		expect(t, coord2, `mutation { createCustomDataset(parentKey: "missing", input: {key: "x"}) { key } }`, nil, "NOT_FOUND")
	})

	t.Run("job runs are for signed-in users", func(t *testing.T) {
		id, err := st.StartJobRun(context.Background(), "nhs-dd", store.TriggerManual, nil, "cli test")
		if err != nil {
			t.Fatal(err)
		}
		msg := "1 of the NHS DD datasets failed to sync: smoking_status_code"
		if err := st.FinishJobRun(context.Background(), id, store.OutcomeFailed, map[string]int{"updated": 3, "failed": 1}, &msg); err != nil {
			t.Fatal(err)
		}
		q := `{ jobRuns(job: "nhs-dd", first: 5) { id job trigger outcome error durationMs counts { name value } } }`
		expect(t, "", q, nil, "UNAUTHENTICATED")
		var got struct {
			JobRuns []struct {
				ID, Job, Trigger, Outcome string
				Error                     *string
				DurationMs                *int
				Counts                    []struct {
					Name  string
					Value int
				}
			}
		}
		s.as(t, reader1, q, nil, &got)
		if len(got.JobRuns) != 1 {
			t.Fatalf("runs: %+v", got)
		}
		r := got.JobRuns[0]
		if r.Outcome != "FAILED" || r.Trigger != "MANUAL" || *r.Error != msg || r.DurationMs == nil || fmt.Sprint(r.Counts) != "[{failed 1} {updated 3}]" {
			t.Errorf("run: %+v", r)
		}
		var node struct{ Node struct{ Job string } }
		s.as(t, reader1, `query($id: ID!) { node(id: $id) { ... on JobRun { job } } }`, map[string]any{"id": r.ID}, &node)
		if node.Node.Job != "nhs-dd" {
			t.Errorf("node: %+v", node)
		}
	})
}

// TestDatasetListUsesConstantQueries checks that the options, parents and audit logs of
// a page of datasets cost the same number of statements whatever the page's length.
func TestDatasetListUsesConstantQueries(t *testing.T) {
	s := newAuthServer(t, nil)
	st := store.New(s.db.Pool)
	ctx := context.Background()
	for i := range 8 {
		syncTestDataset(t, st, fmt.Sprintf("list_%d", i), store.CategoryNHSDD, []string{"t"}, ethnicOptions)
		if i >= 4 {
			continue
		}
		// Published custom versions: rows with parents, visible to the anonymous caller.
		parent, _ := st.DatasetByKey(ctx, fmt.Sprintf("list_%d", i))
		unit := s.units["PZ001"]
		c, err := st.CreateCustomDataset(ctx, parent.ID, store.NewDataset{Key: fmt.Sprintf("custom_%d", i), Name: "Custom", UnitID: &unit, Actor: store.Actor{Name: "test"}})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := st.PublishDataset(ctx, c.ID, store.Actor{Name: "test"}); err != nil {
			t.Fatal(err)
		}
	}
	q := `query($n: Int) { datasets(first: $n, filter: {includeCustom: true}) { nodes { key options(search: "white", first: 2) { code }
		all: options { code } parent { key } auditLog(first: 1) { action } ownerPzCode } } }`
	count := func(n int) int64 {
		before := s.counter.n.Load()
		var got struct {
			Datasets struct{ Nodes []struct{ Key string } }
		}
		s.as(t, "", q, map[string]any{"n": n}, &got)
		if len(got.Datasets.Nodes) != n {
			t.Fatalf("got %d datasets, want %d", len(got.Datasets.Nodes), n)
		}
		return s.counter.n.Load() - before
	}
	small, large := count(2), count(8)
	if small != large {
		t.Errorf("2 datasets took %d statements, 8 took %d: the count grows with the page", small, large)
	}
	// The page, two option lists, the audit logs and the parents.
	if large > 5 {
		t.Errorf("%d statements for one page of datasets", large)
	}
}

func TestDatasetComplexityLimits(t *testing.T) {
	s := newAuthServer(t, nil)
	_, r := s.post(t, "", `{ datasets(first: 1000) { nodes { options { code label retired } auditLog(first: 200) { action details } } } }`, nil)
	if codes := errorCodes(r); len(codes) != 1 || codes[0] != "QUERY_TOO_COMPLEX" && codes[0] != "GRAPHQL_VALIDATION_FAILED" && codes[0] != "COMPLEXITY_LIMIT_EXCEEDED" {
		t.Errorf("an expensive listing was not refused: %v %+v", codes, r.Errors)
	}
	_, r = s.post(t, "", `{ dataset(key: "x") { options(first: 5000) { code label retired } } }`, nil)
	if len(r.Errors) > 0 {
		t.Errorf("a whole list of 5000 options is refused: %+v", r.Errors)
	}
}
