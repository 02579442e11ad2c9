package store

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
)

// DatasetCategory says where a dataset comes from.
type DatasetCategory string

// The dataset categories.
const (
	CategoryNHSDD       DatasetCategory = "nhs_dd"
	CategoryRCPCH       DatasetCategory = "rcpch"
	CategoryExternalAPI DatasetCategory = "external_api"
	CategoryUserCreated DatasetCategory = "user_created"
)

// DatasetSource says how a dataset's options are obtained.
type DatasetSource string

// The source types.
const (
	SourceScrape   DatasetSource = "scrape"
	SourceAPI      DatasetSource = "api"
	SourceImported DatasetSource = "imported"
	SourceManual   DatasetSource = "manual"
)

// DatasetAction is what an audit log entry records.
type DatasetAction string

// The audited actions.
const (
	ActionSync    DatasetAction = "sync"
	ActionScrape  DatasetAction = "scrape"
	ActionEdit    DatasetAction = "edit"
	ActionCreate  DatasetAction = "create"
	ActionPublish DatasetAction = "publish"
	ActionDelete  DatasetAction = "delete"
)

// ErrNoOptions is returned when a sync or an edit would leave a dataset without options.
var ErrNoOptions = errors.New("no options")

// ErrOptionsShrank is returned when a sync finds far fewer options than the dataset
// holds: the source more likely broke than lost most of its codes.
var ErrOptionsShrank = errors.New("far fewer options than before")

// Option is one entry of a dataset: a code and the label shown for it. Retired codes
// stay in the list, flagged, so that old answers still read.
type Option struct {
	Code    string `json:"code"`
	Label   string `json:"label"`
	Retired bool   `json:"retired,omitempty"`
}

// Dataset is a dataset without its options.
type Dataset struct {
	ID                 int64
	Key                string
	Name               string
	Description        string
	Category           DatasetCategory
	SourceType         DatasetSource
	ReferenceURL       *string
	APIEndpoint        *string
	Tags               []string
	Version            int
	OptionCount        int
	LastSyncedAt       *time.Time
	LastScrapedAt      *time.Time
	NHSDDPublishedOn   *time.Time
	SyncFrequencyHours *int
	Active             bool
	IsGlobal           bool
	UnitID             *int64
	// UnitPZCode is the PZ code of UnitID.
	UnitPZCode  *string
	ParentID    *int64
	PublishedAt *time.Time
	CreatedBy   *int64
	CreatedAt   time.Time
	UpdatedAt   time.Time
}

// DatasetScope is what a caller may see: everything (All), or the global datasets and
// those of UnitIDs.
type DatasetScope struct {
	All     bool
	UnitIDs []int64
}

// Actor is who changes a dataset: a user of the API (UserID) or a job or command, named.
type Actor struct {
	UserID *int64
	Name   string
}

const datasetColumns = `d.id, d.key, d.name, d.description, d.category, d.source_type, d.reference_url, d.api_endpoint,
    d.tags, d.version, d.option_count, d.last_synced_at, d.last_scraped_at, d.nhs_dd_published_on,
    d.sync_frequency_hours, d.active, d.is_global, d.unit_id, d.parent_id, d.published_at, d.created_by,
    d.created_at, d.updated_at, (SELECT u.pz_code FROM paediatric_diabetes_units u WHERE u.id = d.unit_id)`

func datasetTargets(d *Dataset) []any {
	return []any{&d.ID, &d.Key, &d.Name, &d.Description, &d.Category, &d.SourceType, &d.ReferenceURL, &d.APIEndpoint,
		&d.Tags, &d.Version, &d.OptionCount, &d.LastSyncedAt, &d.LastScrapedAt, &d.NHSDDPublishedOn,
		&d.SyncFrequencyHours, &d.Active, &d.IsGlobal, &d.UnitID, &d.ParentID, &d.PublishedAt, &d.CreatedBy,
		&d.CreatedAt, &d.UpdatedAt, &d.UnitPZCode}
}

func scanDataset(row pgx.CollectableRow) (Dataset, error) {
	var d Dataset
	err := row.Scan(datasetTargets(&d)...)
	return d, err
}

const sqlDatasetByKey = `SELECT ` + datasetColumns + ` FROM datasets d WHERE d.key = $1 AND d.deleted_at IS NULL`

// DatasetByKey returns the dataset with key, or ErrNotFound (also for a deleted one).
func (s *Store) DatasetByKey(ctx context.Context, key string) (Dataset, error) {
	rows, err := s.db.Query(ctx, sqlDatasetByKey, key)
	if err != nil {
		return Dataset{}, fmt.Errorf("dataset %s: %w", key, err)
	}
	d, err := pgx.CollectExactlyOneRow(rows, scanDataset)
	if errors.Is(err, pgx.ErrNoRows) {
		return Dataset{}, ErrNotFound
	}
	if err != nil {
		return Dataset{}, fmt.Errorf("dataset %s: %w", key, err)
	}
	return d, nil
}

const sqlDatasetsByID = `SELECT ` + datasetColumns + ` FROM datasets d WHERE d.id = ANY($1) AND d.deleted_at IS NULL`

// DatasetsByID returns the datasets with the given ids; deleted ones are left out.
func (s *Store) DatasetsByID(ctx context.Context, ids []int64) (map[int64]Dataset, error) {
	rows, err := s.db.Query(ctx, sqlDatasetsByID, ids)
	return collectByKey(rows, err, "datasets by id", scanDataset, func(d Dataset) int64 { return d.ID })
}

// DatasetFilter narrows a dataset listing. Empty fields do not filter.
type DatasetFilter struct {
	Category DatasetCategory
	// Tags must all be present on a dataset.
	Tags []string
	// Search keeps datasets whose key, name, description or tags have a word starting
	// with each word of it, folded like normalise_name.
	Search string
	// IncludeCustom also lists custom versions of other datasets.
	IncludeCustom bool
	Scope         DatasetScope
}

// The visibility test and the filters are one WHERE clause shared by the page and the
// count, which rides along as a column so that a page is one statement.
const datasetsWhere = `
WHERE d.deleted_at IS NULL
  AND ($1::boolean OR d.is_global OR d.unit_id = ANY($2))
  AND ($3 = '' OR d.category = $3)
  AND d.tags @> $4
  AND ($5 = '' OR ' ' || normalise_name(d.key || ' ' || d.name || ' ' || d.description || ' ' || array_to_string(d.tags, ' '))
      LIKE ALL (SELECT '% ' || w || '%' FROM unnest(string_to_array(normalise_name($5), ' ')) AS w))
  AND ($6::boolean OR d.parent_id IS NULL)`

// The count rides along as a window column computed before the page is cut, so that a
// page and its total are one statement.
const sqlDatasets = `
SELECT * FROM (
    SELECT ` + datasetColumns + `, count(*) OVER () AS total
    FROM datasets d` + datasetsWhere + `
) AS page
WHERE page.key > $7
ORDER BY page.key
LIMIT $8`

// Datasets returns up to limit datasets matching f ordered by key, starting after the
// key afterKey (empty for the first page), and how many match in all.
func (s *Store) Datasets(ctx context.Context, f DatasetFilter, afterKey string, limit int) ([]Dataset, int, error) {
	tags := f.Tags
	if tags == nil {
		tags = []string{}
	}
	args := []any{f.Scope.All, f.Scope.UnitIDs, string(f.Category), tags, f.Search, f.IncludeCustom, afterKey, limit}
	rows, err := s.db.Query(ctx, sqlDatasets, args...)
	if err != nil {
		return nil, 0, fmt.Errorf("list datasets: %w", err)
	}
	var total int
	ds, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (Dataset, error) {
		var d Dataset
		err := row.Scan(append(datasetTargets(&d), &total)...)
		return d, err
	})
	if err != nil {
		return nil, 0, fmt.Errorf("list datasets: %w", err)
	}
	if len(ds) == 0 && afterKey != "" {
		// A page past the end carries no row to read the total from.
		if err := s.db.QueryRow(ctx, `SELECT count(*) FROM datasets d`+datasetsWhere, args[:6]...).Scan(&total); err != nil {
			return nil, 0, fmt.Errorf("count datasets: %w", err)
		}
	}
	return ds, total, nil
}

// TagCount is a tag and how many visible datasets carry it.
type TagCount struct {
	Tag   string
	Count int
}

const sqlDatasetTags = `
SELECT t.tag, count(*)
FROM datasets d, unnest(d.tags) AS t(tag)
WHERE d.deleted_at IS NULL AND ($1::boolean OR d.is_global OR d.unit_id = ANY($2))
GROUP BY t.tag
ORDER BY t.tag`

// DatasetTags returns every tag of the datasets in scope, with counts, ordered by tag.
func (s *Store) DatasetTags(ctx context.Context, scope DatasetScope) ([]TagCount, error) {
	rows, err := s.db.Query(ctx, sqlDatasetTags, scope.All, scope.UnitIDs)
	if err != nil {
		return nil, fmt.Errorf("dataset tags: %w", err)
	}
	tags, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (TagCount, error) {
		var t TagCount
		err := row.Scan(&t.Tag, &t.Count)
		return t, err
	})
	if err != nil {
		return nil, fmt.Errorf("dataset tags: %w", err)
	}
	return tags, nil
}

const sqlDatasetOptions = `
SELECT code, label, retired FROM dataset_options WHERE dataset_id = $1 ORDER BY position`

// DatasetOptions returns every option of a dataset in order.
func (s *Store) DatasetOptions(ctx context.Context, datasetID int64) ([]Option, error) {
	rows, err := s.db.Query(ctx, sqlDatasetOptions, datasetID)
	if err != nil {
		return nil, fmt.Errorf("dataset options: %w", err)
	}
	opts, err := pgx.CollectRows(rows, scanOption)
	if err != nil {
		return nil, fmt.Errorf("dataset options: %w", err)
	}
	return opts, nil
}

func scanOption(row pgx.CollectableRow) (Option, error) {
	var o Option
	err := row.Scan(&o.Code, &o.Label, &o.Retired)
	return o, err
}

// OptionQuery asks for the options of several datasets at once, filtered the same way.
type OptionQuery struct {
	// Search keeps options whose code or label has a word starting with each word of
	// it, folded like normalise_name ("white brit" finds "White - British"); empty keeps
	// all.
	Search string
	// Limit bounds the options per dataset; 0 returns all.
	Limit int
}

// Typeahead ranks an exact code first, then labels that start with the query, then
// those with a word that does, then the rest, each in list order; every word of the
// query must start a word of the option. Without a query the list keeps its order.
const sqlSearchOptions = `
WITH q AS (SELECT normalise_name($2) AS s, lower(btrim($2)) AS code)
SELECT x.dataset_id, x.code, x.label, x.retired FROM (
    SELECT o.dataset_id, o.code, o.label, o.retired,
           row_number() OVER (PARTITION BY o.dataset_id ORDER BY
               CASE WHEN q.s = '' THEN 0
                    WHEN lower(o.code) = q.code THEN 0
                    WHEN normalise_name(o.label) LIKE q.s || '%' THEN 1
                    WHEN position(' ' || q.s IN ' ' || o.search_text) > 0 THEN 2
                    ELSE 3 END,
               o.position) AS rn
    FROM dataset_options o, q
    WHERE o.dataset_id = ANY($1)
      AND (q.s = '' OR ' ' || o.search_text LIKE ALL (SELECT '% ' || w || '%' FROM unnest(string_to_array(q.s, ' ')) AS w))
) x
WHERE $3 = 0 OR x.rn <= $3
ORDER BY x.dataset_id, x.rn`

// Without a search or a limit the whole lists are read in order, with no ranking.
const sqlAllOptions = `
SELECT dataset_id, code, label, retired FROM dataset_options WHERE dataset_id = ANY($1) ORDER BY dataset_id, position`

// SearchOptions returns, per dataset id, the options that match q, best first.
func (s *Store) SearchOptions(ctx context.Context, datasetIDs []int64, q OptionQuery) (map[int64][]Option, error) {
	sql, args := sqlSearchOptions, []any{datasetIDs, q.Search, q.Limit}
	if strings.TrimSpace(q.Search) == "" && q.Limit == 0 {
		sql, args = sqlAllOptions, []any{datasetIDs}
	}
	rows, err := s.db.Query(ctx, sql, args...)
	if err != nil {
		return nil, fmt.Errorf("search options: %w", err)
	}
	out := make(map[int64][]Option, len(datasetIDs))
	var id int64
	var o Option
	_, err = pgx.ForEachRow(rows, []any{&id, &o.Code, &o.Label, &o.Retired}, func() error {
		out[id] = append(out[id], o)
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("search options: %w", err)
	}
	return out, nil
}

// AuditEntry is one line of a dataset's audit log.
type AuditEntry struct {
	ID          int64
	DatasetID   int64
	Action      DatasetAction
	BeforeCount int
	AfterCount  int
	Version     int
	UserID      *int64
	Actor       string
	At          time.Time
	Details     map[string]any
}

const sqlDatasetAudit = `
SELECT x.id, x.dataset_id, x.action, x.before_count, x.after_count, x.version, x.user_id, x.actor, x.at, x.details
FROM (SELECT l.*, row_number() OVER (PARTITION BY l.dataset_id ORDER BY l.id DESC) AS rn
      FROM dataset_audit_log l WHERE l.dataset_id = ANY($1)) x
WHERE x.rn <= $2
ORDER BY x.dataset_id, x.id DESC`

// DatasetAudit returns the latest limit audit entries of each dataset, newest first.
func (s *Store) DatasetAudit(ctx context.Context, datasetIDs []int64, limit int) (map[int64][]AuditEntry, error) {
	rows, err := s.db.Query(ctx, sqlDatasetAudit, datasetIDs, limit)
	if err != nil {
		return nil, fmt.Errorf("dataset audit log: %w", err)
	}
	es, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (AuditEntry, error) {
		var e AuditEntry
		err := row.Scan(&e.ID, &e.DatasetID, &e.Action, &e.BeforeCount, &e.AfterCount, &e.Version, &e.UserID, &e.Actor, &e.At, &e.Details)
		return e, err
	})
	if err != nil {
		return nil, fmt.Errorf("dataset audit log: %w", err)
	}
	out := map[int64][]AuditEntry{}
	for _, e := range es {
		out[e.DatasetID] = append(out[e.DatasetID], e)
	}
	return out, nil
}

const sqlAudit = `
INSERT INTO dataset_audit_log (dataset_id, action, before_count, after_count, version, user_id, actor, details)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8)`

func (s *Store) audit(ctx context.Context, datasetID int64, action DatasetAction, before, after, version int, actor Actor, details map[string]any) error {
	if details == nil {
		details = map[string]any{}
	}
	if _, err := s.db.Exec(ctx, sqlAudit, datasetID, action, before, after, version, actor.UserID, actor.Name, details); err != nil {
		return fmt.Errorf("audit dataset %d: %w", datasetID, err)
	}
	return nil
}

const sqlInsertOptions = `
INSERT INTO dataset_options (dataset_id, position, code, label, retired)
SELECT $1, t.ord - 1, t.code, t.label, t.retired
FROM unnest($2::text[], $3::text[], $4::boolean[]) WITH ORDINALITY AS t(code, label, retired, ord)`

// replaceOptions swaps a dataset's options for opts; run it inside a transaction.
func (s *Store) replaceOptions(ctx context.Context, datasetID int64, opts []Option) error {
	if _, err := s.db.Exec(ctx, `DELETE FROM dataset_options WHERE dataset_id = $1`, datasetID); err != nil {
		return fmt.Errorf("replace options: %w", err)
	}
	codes, labels, retired := make([]string, len(opts)), make([]string, len(opts)), make([]bool, len(opts))
	for i, o := range opts {
		codes[i], labels[i], retired[i] = o.Code, o.Label, o.Retired
	}
	if _, err := s.db.Exec(ctx, sqlInsertOptions, datasetID, codes, labels, retired); err != nil {
		if isDatasetConflict(err) {
			return fmt.Errorf("%w: two options share a code", ErrConflict)
		}
		return fmt.Errorf("replace options: %w", err)
	}
	return nil
}

// OptionDiff counts how two option lists differ.
type OptionDiff struct {
	Added, Removed, Changed int
	// Reordered is set when the same options come in another order.
	Reordered bool
}

// Same reports whether the lists are identical.
func (d OptionDiff) Same() bool { return d == OptionDiff{} }

// DiffOptions compares an old and a new option list by code.
func DiffOptions(before, after []Option) OptionDiff {
	var d OptionDiff
	old := make(map[string]Option, len(before))
	for _, o := range before {
		old[o.Code] = o
	}
	seen := make(map[string]bool, len(after))
	for _, o := range after {
		seen[o.Code] = true
		prev, ok := old[o.Code]
		switch {
		case !ok:
			d.Added++
		case prev != o:
			d.Changed++
		}
	}
	for _, o := range before {
		if !seen[o.Code] {
			d.Removed++
		}
	}
	if d.Same() && !slices.Equal(before, after) {
		d.Reordered = true
	}
	return d
}

func (d OptionDiff) details() map[string]any {
	return map[string]any{"added": d.Added, "removed": d.Removed, "changed": d.Changed, "reordered": d.Reordered}
}

// SyncInput is what a sync found for one dataset: its description from the source and
// its options.
type SyncInput struct {
	Key                string
	Name               string
	Description        string
	Category           DatasetCategory
	SourceType         DatasetSource
	ReferenceURL       *string
	APIEndpoint        *string
	Tags               []string
	SyncFrequencyHours int
	// PublishedOn is the publication date the source states, if any.
	PublishedOn *time.Time
	Options     []Option
	// Action is ActionScrape for a page scraped, ActionSync for an API or our own tables.
	Action DatasetAction
	Actor  Actor
	// MinKeepRatio refuses a list shorter than this share of the options held now
	// (0.5 refuses fewer than half); 0 turns the check off.
	MinKeepRatio float64
	// DryRun works everything out and writes nothing.
	DryRun bool
}

// SyncOutcome is what a sync did to one dataset.
type SyncOutcome string

// The outcomes of a dataset sync.
const (
	SyncCreated   SyncOutcome = "created"
	SyncUpdated   SyncOutcome = "updated"
	SyncUnchanged SyncOutcome = "unchanged"
	SyncSkipped   SyncOutcome = "skipped"
	SyncFailed    SyncOutcome = "failed"
)

// SyncResult is the outcome of SyncDataset.
type SyncResult struct {
	Outcome SyncOutcome
	Version int
	Before  int
	After   int
	Diff    OptionDiff
}

// errRollback undoes a dry run's transaction.
var errRollback = errors.New("dry run")

const sqlLockDataset = `
SELECT id, category, version, option_count FROM datasets WHERE key = $1 FOR UPDATE`

const sqlCreateSynced = `
INSERT INTO datasets (key, name, description, category, source_type, reference_url, api_endpoint, tags,
    version, option_count, last_synced_at, last_scraped_at, nhs_dd_published_on, sync_frequency_hours,
    active, is_global, published_at)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8, 1, $9, now(), CASE WHEN $10 THEN now() END, $11, $12, true, true, now())
RETURNING id`

// The published date is kept when a page stops stating one: a page we cannot read a
// date from is no evidence that the old date was wrong.
const sqlUpdateSynced = `
UPDATE datasets SET name = $2, description = $3, source_type = $4, reference_url = $5, api_endpoint = $6,
    tags = $7, version = $8, option_count = $9, last_synced_at = now(),
    last_scraped_at = CASE WHEN $10 THEN now() ELSE last_scraped_at END,
    nhs_dd_published_on = COALESCE($11, nhs_dd_published_on), sync_frequency_hours = $12,
    updated_at = CASE WHEN version <> $8 OR name <> $2 OR description <> $3 OR tags <> $7 THEN now() ELSE updated_at END
WHERE id = $1`

// SyncDataset brings a synced dataset in line with what its source holds, in one
// transaction: it creates the dataset when missing, refuses an empty list or one far
// shorter than the current one (ErrNoOptions, ErrOptionsShrank: the dataset keeps its
// options), replaces the options and raises the version only when they changed, and
// records the run in the audit log.
func (s *Store) SyncDataset(ctx context.Context, in SyncInput) (SyncResult, error) {
	var res SyncResult
	err := s.InTx(ctx, func(tx *Store) error {
		var err error
		res, err = tx.syncDataset(ctx, in)
		if err == nil && in.DryRun {
			return errRollback
		}
		return err
	})
	if errors.Is(err, errRollback) {
		err = nil
	}
	if err != nil {
		return SyncResult{}, fmt.Errorf("sync dataset %s: %w", in.Key, err)
	}
	return res, nil
}

func (s *Store) syncDataset(ctx context.Context, in SyncInput) (SyncResult, error) {
	tags := in.Tags
	if tags == nil {
		tags = []string{}
	}
	scraped := in.Action == ActionScrape
	var freq *int
	if in.SyncFrequencyHours > 0 {
		freq = &in.SyncFrequencyHours
	}
	var (
		id       int64
		category DatasetCategory
		version  int
		count    int
	)
	err := s.db.QueryRow(ctx, sqlLockDataset, in.Key).Scan(&id, &category, &version, &count)
	if errors.Is(err, pgx.ErrNoRows) {
		if len(in.Options) == 0 {
			return SyncResult{}, ErrNoOptions
		}
		err := s.db.QueryRow(ctx, sqlCreateSynced, in.Key, in.Name, in.Description, in.Category, in.SourceType,
			in.ReferenceURL, in.APIEndpoint, tags, len(in.Options), scraped, in.PublishedOn, freq).Scan(&id)
		if err != nil {
			return SyncResult{}, err
		}
		if err := s.replaceOptions(ctx, id, in.Options); err != nil {
			return SyncResult{}, err
		}
		diff := OptionDiff{Added: len(in.Options)}
		details := diff.details()
		details["outcome"] = SyncCreated
		if err := s.audit(ctx, id, in.Action, 0, len(in.Options), 1, in.Actor, details); err != nil {
			return SyncResult{}, err
		}
		return SyncResult{Outcome: SyncCreated, Version: 1, After: len(in.Options), Diff: diff}, nil
	}
	if err != nil {
		return SyncResult{}, err
	}
	if category != in.Category {
		return SyncResult{}, fmt.Errorf("%w: key %s belongs to a %s dataset", ErrConflict, in.Key, category)
	}
	if len(in.Options) == 0 {
		return SyncResult{}, ErrNoOptions
	}
	if in.MinKeepRatio > 0 && float64(len(in.Options)) < in.MinKeepRatio*float64(count) {
		return SyncResult{}, fmt.Errorf("%w: %d options where the dataset holds %d", ErrOptionsShrank, len(in.Options), count)
	}
	before, err := s.DatasetOptions(ctx, id)
	if err != nil {
		return SyncResult{}, err
	}
	diff := DiffOptions(before, in.Options)
	res := SyncResult{Outcome: SyncUnchanged, Version: version, Before: len(before), After: len(in.Options), Diff: diff}
	if !diff.Same() {
		res.Outcome = SyncUpdated
		res.Version = version + 1
		if err := s.replaceOptions(ctx, id, in.Options); err != nil {
			return SyncResult{}, err
		}
	}
	if _, err := s.db.Exec(ctx, sqlUpdateSynced, id, in.Name, in.Description, in.SourceType, in.ReferenceURL,
		in.APIEndpoint, tags, res.Version, len(in.Options), scraped, in.PublishedOn, freq); err != nil {
		return SyncResult{}, err
	}
	details := diff.details()
	details["outcome"] = res.Outcome
	if err := s.audit(ctx, id, in.Action, len(before), len(in.Options), res.Version, in.Actor, details); err != nil {
		return SyncResult{}, err
	}
	return res, nil
}

const sqlFailureTarget = `SELECT id, version, option_count FROM datasets WHERE key = $1 AND category = $2`

// RecordSyncFailure notes in the audit log of an existing dataset that a sync failed and
// left it as it was. It does nothing for a dataset that does not exist yet.
func (s *Store) RecordSyncFailure(ctx context.Context, key string, category DatasetCategory, action DatasetAction, actor Actor, cause error) error {
	var id int64
	var version, count int
	err := s.db.QueryRow(ctx, sqlFailureTarget, key, category).Scan(&id, &version, &count)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("record failed sync of %s: %w", key, err)
	}
	return s.audit(ctx, id, action, count, count, version, actor, map[string]any{"outcome": SyncFailed, "error": cause.Error()})
}

// SyncState is what a sync needs to know about a dataset before fetching it.
type SyncState struct {
	Key           string
	OptionCount   int
	LastSyncedAt  *time.Time
	LastScrapedAt *time.Time
}

const sqlSyncStates = `
SELECT key, option_count, last_synced_at, last_scraped_at FROM datasets WHERE category = $1`

// SyncStates returns the sync state of every dataset of a category, by key.
func (s *Store) SyncStates(ctx context.Context, category DatasetCategory) (map[string]SyncState, error) {
	rows, err := s.db.Query(ctx, sqlSyncStates, category)
	if err != nil {
		return nil, fmt.Errorf("sync states: %w", err)
	}
	states, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (SyncState, error) {
		var st SyncState
		err := row.Scan(&st.Key, &st.OptionCount, &st.LastSyncedAt, &st.LastScrapedAt)
		return st, err
	})
	if err != nil {
		return nil, fmt.Errorf("sync states: %w", err)
	}
	out := make(map[string]SyncState, len(states))
	for _, st := range states {
		out[st.Key] = st
	}
	return out, nil
}

// NewDataset is a user list as its creator describes it.
type NewDataset struct {
	Key         string
	Name        string
	Description string
	Tags        []string
	Options     []Option
	// UnitID owns the list; nil makes a global list (only for those allowed everything).
	UnitID *int64
	Actor  Actor
}

const sqlCreateUserDataset = `
INSERT INTO datasets (key, name, description, category, source_type, tags, version, option_count,
    is_global, unit_id, parent_id, created_by)
VALUES ($1, $2, $3, 'user_created', 'manual', $4, 1, $5, $6::bigint IS NULL, $6, $7, $8)
RETURNING id`

// CreateUserDataset creates a user list with its options, owned by n.UnitID (or global
// when nil), and logs it. A key already taken, even by a deleted list, is ErrConflict.
func (s *Store) CreateUserDataset(ctx context.Context, n NewDataset) (Dataset, error) {
	return s.createUserDataset(ctx, n, nil)
}

// CreateCustomDataset creates a user list as a custom version of the dataset parentID,
// starting from a copy of its options (n.Options is ignored), and logs it.
func (s *Store) CreateCustomDataset(ctx context.Context, parentID int64, n NewDataset) (Dataset, error) {
	return s.createUserDataset(ctx, n, &parentID)
}

func (s *Store) createUserDataset(ctx context.Context, n NewDataset, parentID *int64) (Dataset, error) {
	var d Dataset
	err := s.InTx(ctx, func(tx *Store) error {
		opts := n.Options
		if parentID != nil {
			var err error
			if opts, err = tx.DatasetOptions(ctx, *parentID); err != nil {
				return err
			}
		}
		if len(opts) == 0 {
			return ErrNoOptions
		}
		tags := n.Tags
		if tags == nil {
			tags = []string{}
		}
		var id int64
		err := tx.db.QueryRow(ctx, sqlCreateUserDataset, n.Key, n.Name, n.Description, tags, len(opts), n.UnitID, parentID, n.Actor.UserID).Scan(&id)
		if isDatasetConflict(err) {
			return fmt.Errorf("%w: the key %q is taken", ErrConflict, n.Key)
		}
		if err != nil {
			return err
		}
		if err := tx.replaceOptions(ctx, id, opts); err != nil {
			return err
		}
		details := map[string]any{}
		if parentID != nil {
			details["parent_id"] = *parentID
		}
		if err := tx.audit(ctx, id, ActionCreate, 0, len(opts), 1, n.Actor, details); err != nil {
			return err
		}
		d, err = tx.datasetByID(ctx, id)
		return err
	})
	if err != nil {
		return Dataset{}, fmt.Errorf("create dataset %s: %w", n.Key, err)
	}
	return d, nil
}

func (s *Store) datasetByID(ctx context.Context, id int64) (Dataset, error) {
	ds, err := s.DatasetsByID(ctx, []int64{id})
	if err != nil {
		return Dataset{}, err
	}
	d, ok := ds[id]
	if !ok {
		return Dataset{}, ErrNotFound
	}
	return d, nil
}

// DatasetChanges are the edits to a user list; nil fields stay as they are.
type DatasetChanges struct {
	Name        *string
	Description *string
	Tags        []string
	// SetTags applies Tags (which may be empty).
	SetTags bool
	Options []Option
	// SetOptions applies Options.
	SetOptions bool
	// ExpectedVersion, when set, refuses the edit (ErrConflict) if someone else changed
	// the options since the caller read them.
	ExpectedVersion *int
	Actor           Actor
}

const sqlLockUserDataset = `
SELECT version, option_count FROM datasets
WHERE id = $1 AND category = 'user_created' AND deleted_at IS NULL FOR UPDATE`

const sqlUpdateUserDataset = `
UPDATE datasets SET name = COALESCE($2, name), description = COALESCE($3, description),
    tags = CASE WHEN $4 THEN $5 ELSE tags END, version = $6, option_count = $7, updated_at = now()
WHERE id = $1`

// UpdateUserDataset applies ch to a user list in one transaction and logs the edit; the
// version rises only when the options change.
func (s *Store) UpdateUserDataset(ctx context.Context, id int64, ch DatasetChanges) (Dataset, error) {
	var d Dataset
	err := s.InTx(ctx, func(tx *Store) error {
		var version, count int
		err := tx.db.QueryRow(ctx, sqlLockUserDataset, id).Scan(&version, &count)
		if errors.Is(err, pgx.ErrNoRows) {
			return ErrNotFound
		}
		if err != nil {
			return err
		}
		if ch.ExpectedVersion != nil && *ch.ExpectedVersion != version {
			return fmt.Errorf("%w: the list is at version %d, not %d: someone changed it since you read it", ErrConflict, version, *ch.ExpectedVersion)
		}
		details := map[string]any{}
		after := count
		newVersion := version
		if ch.SetOptions {
			if len(ch.Options) == 0 {
				return ErrNoOptions
			}
			before, err := tx.DatasetOptions(ctx, id)
			if err != nil {
				return err
			}
			diff := DiffOptions(before, ch.Options)
			details = diff.details()
			if !diff.Same() {
				newVersion++
				if err := tx.replaceOptions(ctx, id, ch.Options); err != nil {
					return err
				}
			}
			after = len(ch.Options)
		}
		tags := ch.Tags
		if tags == nil {
			tags = []string{}
		}
		if _, err := tx.db.Exec(ctx, sqlUpdateUserDataset, id, ch.Name, ch.Description, ch.SetTags, tags, newVersion, after); err != nil {
			return err
		}
		if err := tx.audit(ctx, id, ActionEdit, count, after, newVersion, ch.Actor, details); err != nil {
			return err
		}
		d, err = tx.datasetByID(ctx, id)
		return err
	})
	if err != nil {
		return Dataset{}, fmt.Errorf("update dataset %d: %w", id, err)
	}
	return d, nil
}

const sqlPublishDataset = `
UPDATE datasets SET is_global = true, published_at = COALESCE(published_at, now()), updated_at = now()
WHERE id = $1 AND category = 'user_created' AND deleted_at IS NULL
RETURNING version, option_count`

// PublishDataset makes a user list visible to everyone and logs it.
func (s *Store) PublishDataset(ctx context.Context, id int64, actor Actor) (Dataset, error) {
	return s.changeAndLog(ctx, id, sqlPublishDataset, ActionPublish, actor)
}

const sqlDeleteDataset = `
UPDATE datasets SET deleted_at = now(), active = false, updated_at = now()
WHERE id = $1 AND category = 'user_created' AND deleted_at IS NULL
RETURNING version, option_count`

// DeleteDataset soft-deletes a user list (its row, options and audit log stay) and logs it.
func (s *Store) DeleteDataset(ctx context.Context, id int64, actor Actor) error {
	_, err := s.changeAndLog(ctx, id, sqlDeleteDataset, ActionDelete, actor)
	return err
}

func (s *Store) changeAndLog(ctx context.Context, id int64, sql string, action DatasetAction, actor Actor) (Dataset, error) {
	var d Dataset
	err := s.InTx(ctx, func(tx *Store) error {
		var version, count int
		err := tx.db.QueryRow(ctx, sql, id).Scan(&version, &count)
		if errors.Is(err, pgx.ErrNoRows) {
			return ErrNotFound
		}
		if err != nil {
			return err
		}
		if err := tx.audit(ctx, id, action, count, count, version, actor, nil); err != nil {
			return err
		}
		if action == ActionDelete {
			return nil
		}
		d, err = tx.datasetByID(ctx, id)
		return err
	})
	if err != nil {
		return Dataset{}, fmt.Errorf("%s dataset %d: %w", action, id, err)
	}
	return d, nil
}

func isDatasetConflict(err error) bool {
	var pgErr *pgconn.PgError
	return errors.As(err, &pgErr) && pgErr.Code == "23505"
}

// RegisterList names a list that the organisation register and the boundaries can
// provide when the RCPCH API is not configured.
type RegisterList string

// The lists our own tables provide.
const (
	RegisterHospitals RegisterList = "hospitals"
	RegisterTrusts    RegisterList = "nhs_trusts"
	RegisterLHBs      RegisterList = "local_health_boards"
	RegisterBoroughs  RegisterList = "london_boroughs"
	RegisterRegions   RegisterList = "nhs_england_regions"
	RegisterUnits     RegisterList = "paediatric_diabetes_units"
	RegisterICBs      RegisterList = "integrated_care_boards"
)

// currentOrgs lists the organisations of kind $1 open today, with their current name.
const currentOrgs = `
SELECT o.ods_code AS code, v.name AS label
FROM organisations o
JOIN organisation_versions v ON v.organisation_id = o.id AND v.valid @> current_date
WHERE o.kind = $1`

// areaOrgs lists the areas of kind $1 under the ODS code of the organisation that covers
// each (so the codes match the RCPCH API's), else the GSS code, with the ONS name; then
// the open organisations of kind $2 that cover no imported area, so that a register
// seeded without boundaries still yields the list.
const areaOrgs = `
SELECT COALESCE(o.ods_code, a.code) AS code, a.name AS label
FROM areas a
LEFT JOIN organisations o ON o.gss_code = a.code AND o.kind = $2
WHERE a.kind = $1
UNION ALL
SELECT o.ods_code, v.name
FROM organisations o
JOIN organisation_versions v ON v.organisation_id = o.id AND v.valid @> current_date
WHERE o.kind = $2 AND NOT EXISTS (SELECT 1 FROM areas a WHERE a.code = o.gss_code AND a.kind = $1)`

// A unit is named by its own name, else its lead organisation's current name.
const unitOptions = `
SELECT u.pz_code AS code, COALESCE(u.name, lv.name, u.pz_code) AS label
FROM paediatric_diabetes_units u
LEFT JOIN unit_leads l ON l.unit_id = u.id AND l.valid @> current_date
LEFT JOIN organisation_versions lv ON lv.organisation_id = l.organisation_id AND lv.valid @> current_date`

// RegisterOptions returns a list built from our own tables, ordered by label then code.
func (s *Store) RegisterOptions(ctx context.Context, list RegisterList) ([]Option, error) {
	var sql string
	var args []any
	switch list {
	case RegisterHospitals:
		sql, args = currentOrgs, []any{KindSite}
	case RegisterTrusts:
		sql, args = currentOrgs, []any{KindTrust}
	case RegisterLHBs:
		sql, args = areaOrgs, []any{LocalHealthBoard, KindLHB}
	case RegisterICBs:
		sql, args = areaOrgs, []any{IntegratedCareBoard, KindICB}
	case RegisterRegions:
		sql, args = areaOrgs, []any{NHSEnglandRegion, KindRegion}
	case RegisterBoroughs:
		sql, args = `SELECT code, name AS label FROM areas WHERE kind = $1`, []any{LondonBorough}
	case RegisterUnits:
		sql = unitOptions
	default:
		return nil, fmt.Errorf("unknown register list %q", list)
	}
	rows, err := s.db.Query(ctx, `SELECT code, label, false FROM (`+sql+`) AS l ORDER BY label, code`, args...)
	if err != nil {
		return nil, fmt.Errorf("register list %s: %w", list, err)
	}
	opts, err := pgx.CollectRows(rows, scanOption)
	if err != nil {
		return nil, fmt.Errorf("register list %s: %w", list, err)
	}
	return opts, nil
}

// MarshalDetails renders an audit entry's details as JSON text for display.
func (e AuditEntry) MarshalDetails() string {
	if len(e.Details) == 0 {
		return "{}"
	}
	b, err := json.Marshal(e.Details)
	if err != nil {
		return "{}"
	}
	return string(b)
}
