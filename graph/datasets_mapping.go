package graph

import (
	"fmt"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"time"

	"caregraph/auth"
	"caregraph/graph/model"
	"caregraph/graph/scalar"
	"caregraph/store"
)

// Limits of user lists and of the dataset fields' arguments.
const (
	maxListOptions    = 10_000
	maxOptionsPage    = 5_000
	defaultAuditPage  = 20
	maxAuditPage      = 200
	defaultJobRunPage = 20
	maxJobRunPage     = 200
	maxLabelLength    = 1_000
)

var (
	datasetKeyPattern = regexp.MustCompile(`^[a-z0-9][a-z0-9_-]{0,99}$`)
	datasetTagPattern = regexp.MustCompile(`^[a-z][a-z0-9-]{0,49}$`)
)

func toDataset(d store.Dataset) *model.Dataset {
	m := &model.Dataset{
		DBID:               d.ID,
		Key:                d.Key,
		Name:               d.Name,
		Description:        d.Description,
		Category:           model.DatasetCategory(strings.ToUpper(string(d.Category))),
		SourceType:         model.DatasetSourceType(strings.ToUpper(string(d.SourceType))),
		ReferenceURL:       d.ReferenceURL,
		APIEndpoint:        d.APIEndpoint,
		Tags:               d.Tags,
		Version:            d.Version,
		OptionCount:        d.OptionCount,
		LastSyncedAt:       rfc3339Ptr(d.LastSyncedAt),
		LastScrapedAt:      rfc3339Ptr(d.LastScrapedAt),
		SyncFrequencyHours: d.SyncFrequencyHours,
		Active:             d.Active,
		IsGlobal:           d.IsGlobal,
		PublishedAt:        rfc3339Ptr(d.PublishedAt),
		CreatedAt:          rfc3339(d.CreatedAt),
		UpdatedAt:          rfc3339(d.UpdatedAt),
		OwnerPzCode:        d.UnitPZCode,
		UnitID:             d.UnitID,
		ParentID:           d.ParentID,
		UserCreated:        d.Category == store.CategoryUserCreated,
	}
	if m.Tags == nil {
		m.Tags = []string{}
	}
	if d.NHSDDPublishedOn != nil {
		m.NhsDdPublishedOn = &scalar.Date{Time: *d.NHSDDPublishedOn}
	}
	return m
}

// datasetSubject is what the Policy needs to know about a dataset.
func datasetSubject(d *model.Dataset) auth.DatasetSubject {
	return auth.DatasetSubject{UserCreated: d.UserCreated, Global: d.IsGlobal, UnitID: d.UnitID}
}

func toOptions(os []store.Option) []*model.DatasetOption {
	out := make([]*model.DatasetOption, len(os))
	for i, o := range os {
		out[i] = &model.DatasetOption{Code: o.Code, Label: o.Label, Retired: o.Retired}
	}
	return out
}

func toAuditEntry(e store.AuditEntry) *model.DatasetAuditEntry {
	m := &model.DatasetAuditEntry{
		Action:      model.DatasetAction(strings.ToUpper(string(e.Action))),
		At:          rfc3339(e.At),
		Actor:       e.Actor,
		BeforeCount: e.BeforeCount,
		AfterCount:  e.AfterCount,
		Version:     e.Version,
		Details:     e.MarshalDetails(),
	}
	if o, ok := e.Details["outcome"].(string); ok {
		m.Outcome = &o
	}
	return m
}

func toJobRun(r store.JobRun) *model.JobRun {
	m := &model.JobRun{
		ID:           model.EncodeID("JobRun", strconv.FormatInt(r.ID, 10)),
		Job:          r.Job,
		Trigger:      model.JobTrigger(strings.ToUpper(string(r.Trigger))),
		ScheduledFor: rfc3339Ptr(r.ScheduledFor),
		StartedAt:    rfc3339(r.StartedAt),
		FinishedAt:   rfc3339Ptr(r.FinishedAt),
		Outcome:      model.JobOutcome(strings.ToUpper(string(r.Outcome))),
		Counts:       []*model.JobCount{},
		Error:        r.Error,
		Host:         r.Host,
	}
	if r.FinishedAt != nil {
		ms := int(r.FinishedAt.Sub(r.StartedAt) / time.Millisecond)
		m.DurationMs = &ms
	}
	names := make([]string, 0, len(r.Counts))
	for n := range r.Counts {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		m.Counts = append(m.Counts, &model.JobCount{Name: n, Value: r.Counts[n]})
	}
	return m
}

// limitArg checks a `first` argument against its default and maximum.
func limitArg(name string, first *int, def, max int) (int, error) {
	if first == nil {
		return def, nil
	}
	if *first < 0 || *first > max {
		return 0, badInput(fmt.Sprintf("%s must be between 0 and %d, got %d", name, max, *first))
	}
	return *first, nil
}

func checkDatasetKey(key string) error {
	if !datasetKeyPattern.MatchString(key) {
		return badInput(fmt.Sprintf("key %q must be 1 to 100 lower-case letters, digits, _ and -, starting with a letter or digit", key))
	}
	return nil
}

func checkName(name string) (string, error) {
	name = strings.Join(strings.Fields(name), " ")
	if name == "" || len(name) > 200 {
		return "", badInput("name must be 1 to 200 characters")
	}
	return name, nil
}

func checkTags(tags []string) ([]string, error) {
	out := make([]string, 0, len(tags))
	seen := map[string]bool{}
	for _, t := range tags {
		t = strings.TrimSpace(t)
		if !datasetTagPattern.MatchString(t) {
			return nil, badInput(fmt.Sprintf("tag %q must be lower-case words joined by -", t))
		}
		if !seen[t] {
			seen[t] = true
			out = append(out, t)
		}
	}
	if len(out) > 20 {
		return nil, badInput("a dataset may carry at most 20 tags")
	}
	return out, nil
}

// checkOptions turns the options of a user list into store options: codes default to
// the label, white space is tidied, and codes must be unique and present.
func checkOptions(in []*model.DatasetOptionInput) ([]store.Option, error) {
	if len(in) == 0 {
		return nil, badInput("a list needs at least one option")
	}
	if len(in) > maxListOptions {
		return nil, badInput(fmt.Sprintf("a list may hold at most %d options, got %d", maxListOptions, len(in)))
	}
	out := make([]store.Option, 0, len(in))
	seen := make(map[string]int, len(in))
	for i, o := range in {
		label := strings.Join(strings.Fields(o.Label), " ")
		code := label
		if o.Code != nil {
			code = strings.TrimSpace(*o.Code)
		}
		if code == "" {
			return nil, badInput(fmt.Sprintf("option %d has neither a code nor a label", i+1))
		}
		if len(code) > 200 || len(label) > maxLabelLength {
			return nil, badInput(fmt.Sprintf("option %d is too long (codes up to 200, labels up to %d characters)", i+1, maxLabelLength))
		}
		if prev, dup := seen[code]; dup {
			return nil, badInput(fmt.Sprintf("options %d and %d share the code %q", prev, i+1, code))
		}
		seen[code] = i + 1
		out = append(out, store.Option{Code: code, Label: label, Retired: o.Retired != nil && *o.Retired})
	}
	return out, nil
}

// actorOf names p in the audit log: by user number, never by email, since the log of a
// global dataset is public.
func actorOf(p *auth.Principal) store.Actor {
	switch {
	case p == nil:
		return store.Actor{Name: "anonymous"}
	case p.Kind == auth.KindUser:
		id := p.UserID
		return store.Actor{UserID: &id, Name: fmt.Sprintf("user %d", id)}
	case p.Kind == auth.KindOperator:
		return store.Actor{Name: "operator"}
	}
	return store.Actor{Name: "service token"}
}
