// Package rcpch keeps the seven RCPCH organisation lists current as datasets: hospitals,
// NHS trusts, Welsh local health boards, London boroughs, NHS England regions,
// paediatric diabetes units and integrated care boards. They come from the RCPCH NHS
// Organisations API when one is configured, and otherwise from caregraph's own
// organisation register and boundaries, so that a deployment without API access still
// has them. Each list is stored through the store's guarded sync, which never blanks a
// dataset and versions only real changes; one list failing does not stop the others.
package rcpch

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"sync"
	"time"

	"caregraph/store"
	"caregraph/sync/fetch"
	"caregraph/sync/tally"
)

// List is one of the seven lists.
type List struct {
	Key         string
	Name        string
	Description string
	Tags        []string
	// Endpoint is the API path under EXTERNAL_DATASET_API_URL.
	Endpoint string
	// Register is the list our own tables provide instead.
	Register store.RegisterList
	// option reads one item of the API's answer; ok is false for an item without a
	// code or a name.
	option func(item map[string]any) (o store.Option, ok bool)
}

// Lists are the seven lists, in the order they are synced.
var Lists = []List{
	{Key: "hospitals_england_wales", Name: "Hospitals (England & Wales)", Endpoint: "/organisations/limited/",
		Description: "Hospitals and community sites that care for children, by ODS code.",
		Tags:        []string{"organisations", "hospitals"}, Register: store.RegisterHospitals, option: codeName("ods_code", "name")},
	{Key: "nhs_trusts", Name: "NHS Trusts", Endpoint: "/trusts/",
		Description: "NHS trusts, by ODS code.",
		Tags:        []string{"organisations", "trusts"}, Register: store.RegisterTrusts, option: codeName("ods_code", "name", "trust_name")},
	{Key: "welsh_lhbs", Name: "Welsh Local Health Boards", Endpoint: "/local_health_boards/",
		Description: "The seven local health boards of Wales, by ODS code.",
		Tags:        []string{"organisations", "wales"}, Register: store.RegisterLHBs, option: codeName("ods_code", "name", "health_board")},
	{Key: "london_boroughs", Name: "London Boroughs", Endpoint: "/london_boroughs/",
		Description: "The 32 London boroughs and the City of London, by GSS code.",
		Tags:        []string{"geography", "london"}, Register: store.RegisterBoroughs, option: codeName("gss_code", "name")},
	{Key: "nhs_england_regions", Name: "NHS England Regions", Endpoint: "/nhs_england_regions/",
		Description: "The seven NHS England regions, by region code.",
		Tags:        []string{"geography", "organisations"}, Register: store.RegisterRegions, option: codeName("region_code", "name")},
	{Key: "paediatric_diabetes_units", Name: "Paediatric Diabetes Units", Endpoint: "/paediatric_diabetes_units/",
		Description: "Paediatric diabetes units by PZ code, named after the organisation that leads each.",
		Tags:        []string{"organisations", "diabetes"}, Register: store.RegisterUnits, option: unitOption},
	{Key: "integrated_care_boards", Name: "Integrated Care Boards (ICBs)", Endpoint: "/integrated_care_boards/",
		Description: "The integrated care boards of England, by ODS code.",
		Tags:        []string{"geography", "organisations"}, Register: store.RegisterICBs, option: codeName("ods_code", "name")},
}

// Frequency is how often a list is refreshed; Slack is taken off it when deciding
// whether a list is due, so that a daily run is not skipped because yesterday's run
// stored the list a few seconds after the hour.
const (
	Frequency = 24 * time.Hour
	Slack     = time.Hour
)

// MinKeepRatio refuses a list with fewer than half the options the dataset holds.
const MinKeepRatio = 0.5

// Syncer brings the RCPCH lists in line with their source.
type Syncer struct {
	Store *store.Store
	// Client calls the API; unused when BaseURL is empty.
	Client *fetch.Client
	// BaseURL is EXTERNAL_DATASET_API_URL; empty builds the lists from our own tables.
	BaseURL string
	// APIKey is sent as Ocp-Apim-Subscription-Key when set. It is never logged.
	APIKey string
	// Progress receives a line per list (discarded when nil).
	Progress io.Writer
	// Actor is recorded in the audit log.
	Actor store.Actor
	// Now is the clock (time.Now).
	Now func() time.Time
}

// Options choose what a run does.
type Options struct {
	Dataset     string
	Force       bool
	DryRun      bool
	AllowShrink bool
}

// Failure is a dataset that could not be synced, and why.
type Failure = tally.Failure

// Report is what a run did.
type Report struct {
	tally.Tally
	// Source is "api" or "register".
	Source string
}

// ErrUnknownDataset is returned for a --dataset key that is not one of the lists.
var ErrUnknownDataset = errors.New("not one of the RCPCH lists")

// Run syncs the lists. An error means the run could not start; failures of single
// lists are in the report.
func (s *Syncer) Run(ctx context.Context, o Options) (*Report, error) {
	lists := Lists
	if o.Dataset != "" {
		i := slices.IndexFunc(Lists, func(l List) bool { return l.Key == o.Dataset })
		if i < 0 {
			keys := make([]string, len(Lists))
			for j, l := range Lists {
				keys[j] = l.Key
			}
			return nil, fmt.Errorf("dataset %q: %w (%s)", o.Dataset, ErrUnknownDataset, strings.Join(keys, ", "))
		}
		lists = Lists[i : i+1]
	}
	now := time.Now
	if s.Now != nil {
		now = s.Now
	}
	progress := s.Progress
	if progress == nil {
		progress = io.Discard
	}
	states, err := s.Store.SyncStates(ctx, store.CategoryRCPCH)
	if err != nil {
		return nil, err
	}
	rep := &Report{Tally: tally.Tally{Of: "RCPCH lists"}, Source: "register"}
	if s.BaseURL != "" {
		rep.Source = "api"
	}
	var mu sync.Mutex
	line := func(i int, key, msg string) {
		mu.Lock()
		defer mu.Unlock()
		fmt.Fprintf(progress, "rcpch [%d/%d] %s: %s\n", i+1, len(lists), key, msg)
	}
	for i, l := range lists {
		if err := ctx.Err(); err != nil {
			return rep, err
		}
		st, known := states[l.Key]
		if !o.Force && known && st.LastSyncedAt != nil && now().Sub(*st.LastSyncedAt) < Frequency-Slack {
			rep.Skipped++
			line(i, l.Key, fmt.Sprintf("skipped (synced %s ago; --force to sync anyway)", now().Sub(*st.LastSyncedAt).Round(time.Minute)))
			continue
		}
		res, err := s.syncOne(ctx, l, o)
		if err != nil {
			if ctx.Err() != nil {
				return rep, ctx.Err()
			}
			rep.Failed++
			rep.Failures = append(rep.Failures, Failure{Key: l.Key, Err: err})
			if !o.DryRun {
				if rerr := s.Store.RecordSyncFailure(ctx, l.Key, store.CategoryRCPCH, store.ActionSync, s.Actor, err); rerr != nil {
					err = errors.Join(err, rerr)
				}
			}
			line(i, l.Key, "FAILED: "+err.Error())
			continue
		}
		var msg string
		switch res.Outcome {
		case store.SyncCreated:
			rep.Created++
			msg = fmt.Sprintf("created with %d options", res.After)
		case store.SyncUpdated:
			rep.Updated++
			msg = fmt.Sprintf("updated to version %d (%d → %d options; %d added, %d removed, %d changed)", res.Version, res.Before, res.After, res.Diff.Added, res.Diff.Removed, res.Diff.Changed)
		default:
			rep.Unchanged++
			msg = fmt.Sprintf("unchanged (%d options, version %d)", res.After, res.Version)
		}
		if o.DryRun {
			msg = "would be " + msg
		}
		line(i, l.Key, msg+" from "+rep.Source)
	}
	return rep, nil
}

func (s *Syncer) syncOne(ctx context.Context, l List, o Options) (store.SyncResult, error) {
	in := store.SyncInput{
		Key: l.Key, Name: l.Name, Category: store.CategoryRCPCH, Tags: append([]string{"rcpch"}, l.Tags...),
		SyncFrequencyHours: int(Frequency / time.Hour), Action: store.ActionSync, Actor: s.Actor,
		MinKeepRatio: MinKeepRatio, DryRun: o.DryRun,
	}
	if o.AllowShrink {
		in.MinKeepRatio = 0
	}
	var err error
	if s.BaseURL != "" {
		endpoint := strings.TrimRight(s.BaseURL, "/") + l.Endpoint
		in.SourceType, in.APIEndpoint = store.SourceAPI, &endpoint
		in.Description = l.Description + " From the RCPCH NHS Organisations API."
		in.Options, err = s.fetch(ctx, l, endpoint)
	} else {
		in.SourceType = store.SourceImported
		in.Description = l.Description + " From caregraph's organisation register and boundaries."
		in.Options, err = s.Store.RegisterOptions(ctx, l.Register)
		if err == nil && len(in.Options) == 0 {
			err = fmt.Errorf("our own tables hold no %s: seed the organisation register and import the boundaries, or set EXTERNAL_DATASET_API_URL", strings.ToLower(l.Name))
		}
	}
	if err != nil {
		return store.SyncResult{}, err
	}
	res, err := s.Store.SyncDataset(ctx, in)
	if errors.Is(err, store.ErrOptionsShrank) {
		err = fmt.Errorf("%w; the dataset keeps its options (check the source, then --allow-shrink to accept)", err)
	}
	return res, err
}

// maxPages bounds how many pages of one list are followed.
const maxPages = 100

// fetch reads every page of a list from the API and turns it into options, sorted by
// label then code.
func (s *Syncer) fetch(ctx context.Context, l List, endpoint string) ([]store.Option, error) {
	var header http.Header
	if s.APIKey != "" {
		header = http.Header{"Ocp-Apim-Subscription-Key": {s.APIKey}}
	}
	base, err := url.Parse(endpoint)
	if err != nil {
		return nil, fmt.Errorf("EXTERNAL_DATASET_API_URL: %w", err)
	}
	var items []map[string]any
	next := endpoint
	for page := 0; next != ""; page++ {
		if page == maxPages {
			return nil, fmt.Errorf("%s: more than %d pages", endpoint, maxPages)
		}
		body, err := s.Client.Get(ctx, next, header)
		if err != nil {
			return nil, err
		}
		got, more, err := decodeItems(body)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", next, err)
		}
		items = append(items, got...)
		next = ""
		if more != "" {
			u, err := base.Parse(more)
			if err != nil || u.Host != base.Host {
				// The key goes only to the configured host.
				return nil, fmt.Errorf("%s: the next page %q is not on %s", endpoint, more, base.Host)
			}
			next = u.String()
		}
	}
	var opts []store.Option
	seen := map[string]bool{}
	invalid := 0
	for _, it := range items {
		o, ok := l.option(it)
		if !ok {
			invalid++
			continue
		}
		if seen[o.Code] {
			continue
		}
		seen[o.Code] = true
		opts = append(opts, o)
	}
	if len(items) > 0 && invalid*2 > len(items) {
		return nil, fmt.Errorf("%s: %d of %d items lack a code or a name; has the answer's shape changed?", endpoint, invalid, len(items))
	}
	slices.SortFunc(opts, func(a, b store.Option) int {
		return cmp.Or(cmp.Compare(strings.ToLower(a.Label), strings.ToLower(b.Label)), cmp.Compare(a.Code, b.Code))
	})
	return opts, nil
}

// decodeItems reads the objects of an answer in any of the shapes the API uses: a JSON
// array, a page {"results": [...], "next": url}, or a GeoJSON FeatureCollection whose
// features carry the fields as properties.
func decodeItems(body []byte) (items []map[string]any, next string, err error) {
	trimmed := strings.TrimSpace(string(body))
	if strings.HasPrefix(trimmed, "[") {
		if err := json.Unmarshal(body, &items); err != nil {
			return nil, "", fmt.Errorf("malformed JSON array: %w", err)
		}
		return items, "", nil
	}
	var doc struct {
		Results  *[]map[string]any `json:"results"`
		Next     *string           `json:"next"`
		Type     string            `json:"type"`
		Features []struct {
			Properties map[string]any `json:"properties"`
		} `json:"features"`
	}
	if err := json.Unmarshal(body, &doc); err != nil {
		return nil, "", fmt.Errorf("malformed JSON: %w", err)
	}
	switch {
	case doc.Results != nil:
		if doc.Next != nil {
			next = *doc.Next
		}
		return *doc.Results, next, nil
	case doc.Type == "FeatureCollection":
		for _, f := range doc.Features {
			items = append(items, f.Properties)
		}
		return items, "", nil
	}
	return nil, "", errors.New("the answer is neither a list, a page of results nor a FeatureCollection")
}

// codeName reads the code from codeField and the name from the first of nameFields set.
func codeName(codeField string, nameFields ...string) func(map[string]any) (store.Option, bool) {
	return func(it map[string]any) (store.Option, bool) {
		code := str(it[codeField])
		for _, f := range nameFields {
			if name := str(it[f]); name != "" {
				return store.Option{Code: code, Label: name}, code != ""
			}
		}
		return store.Option{}, false
	}
}

// unitOption names a unit by its own name, else its lead organisation's, else its
// parent's: the API nests them as primary_organisation and parent.
func unitOption(it map[string]any) (store.Option, bool) {
	code := str(it["pz_code"])
	if code == "" {
		return store.Option{}, false
	}
	if active, ok := it["active"].(bool); ok && !active {
		return store.Option{Code: code, Label: unitName(it), Retired: true}, true
	}
	return store.Option{Code: code, Label: unitName(it)}, true
}

func unitName(it map[string]any) string {
	if name := str(it["name"]); name != "" {
		return name
	}
	for _, k := range []string{"primary_organisation", "parent"} {
		if org, ok := it[k].(map[string]any); ok {
			if name := str(org["name"]); name != "" {
				return name
			}
		}
	}
	return str(it["pz_code"])
}

// str reads a JSON string (or number) field, trimmed; anything else is "".
func str(v any) string {
	switch x := v.(type) {
	case string:
		return strings.Join(strings.Fields(x), " ")
	case float64:
		return fmt.Sprint(x)
	}
	return ""
}
