package store

// The NHS ODS sync's reads and writes: what the register holds (in one statement), the
// change dates applied, the sync state, the review queue, and the composite writes of
// the sync and the mergers command. Every history write goes through the writers of
// organisations_write.go.

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
)

// HeldOrg is an organisation of the register as the ODS sync compares it: its latest
// version, current parent and the ODS change date last applied.
type HeldOrg struct {
	ODSCode string
	Kind    OrgKind
	Attrs   OrgAttrs
	// VersionFrom is when the latest version began (nil: since before our records).
	VersionFrom *time.Time
	// Open is whether the organisation is current (its latest version is open).
	Open   bool
	Parent string
	// ODSChangedOn is the LastChangeDate last applied (nil: never synced).
	ODSChangedOn *time.Time
}

const sqlODSHeld = `
SELECT o.ods_code, o.kind, ` + attrColumns + `, lower(v.valid), upper_inf(v.valid), COALESCE(p.ods_code, ''), r.last_change_date
FROM organisations o
JOIN LATERAL (SELECT * FROM organisation_versions v WHERE v.organisation_id = o.id
              ORDER BY lower(v.valid) DESC NULLS LAST LIMIT 1) v ON true
LEFT JOIN organisation_links l ON l.child_id = o.id AND l.relation = 'parent' AND upper_inf(l.valid)
LEFT JOIN organisations p ON p.id = l.parent_id
LEFT JOIN ods_records r ON r.organisation_id = o.id
WHERE o.kind <> 'nhs_england_region'`

// ODSHeld returns every organisation the ODS sync looks after (all kinds but regions),
// by ODS code, in one statement.
func (s *Store) ODSHeld(ctx context.Context) (map[string]HeldOrg, error) {
	rows, err := s.db.Query(ctx, sqlODSHeld)
	if err != nil {
		return nil, fmt.Errorf("organisations held: %w", err)
	}
	out := map[string]HeldOrg{}
	_, err = pgx.CollectRows(rows, func(row pgx.CollectableRow) (struct{}, error) {
		var h HeldOrg
		var sc attrsScanner
		t := append([]any{&h.ODSCode, &h.Kind}, sc.targets()...)
		t = append(t, &h.VersionFrom, &h.Open, &h.Parent, &h.ODSChangedOn)
		if err := row.Scan(t...); err != nil {
			return struct{}{}, err
		}
		h.Attrs = sc.attrs()
		out[h.ODSCode] = h
		return struct{}{}, nil
	})
	if err != nil {
		return nil, fmt.Errorf("organisations held: %w", err)
	}
	return out, nil
}

// ODSSuccessions returns the successions recorded, as "PREDECESSOR>SUCCESSOR" keys
// (closures as "PREDECESSOR>").
func (s *Store) ODSSuccessions(ctx context.Context) (map[string]bool, error) {
	rows, err := s.db.Query(ctx, `SELECT p.ods_code || '>' || COALESCE(n.ods_code, '')
        FROM organisation_successions s JOIN organisations p ON p.id = s.predecessor_id
        LEFT JOIN organisations n ON n.id = s.successor_id`)
	if err != nil {
		return nil, fmt.Errorf("successions: %w", err)
	}
	keys, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		return nil, fmt.Errorf("successions: %w", err)
	}
	out := make(map[string]bool, len(keys))
	for _, k := range keys {
		out[k] = true
	}
	return out, nil
}

// ODSChange is what the sync applies to one organisation, in one transaction: a new
// organisation or new attributes, a new parent, successions, and the ODS change date.
type ODSChange struct {
	Code      string
	ChangedOn time.Time
	// New creates the organisation (its first version from New.From).
	New *NewOrganisation
	// Attrs, when set, are the attributes from ChangedOn.
	Attrs *OrgAttrs
	// Parent, when set, is the parent from ChangedOn (or New.From for a new one).
	Parent *string
	// Successions are recorded after the other changes.
	Successions []NewSuccession
}

// ApplyODSChange applies c in one transaction, through the history writers.
func (s *Store) ApplyODSChange(ctx context.Context, c ODSChange) error {
	on := Day(c.ChangedOn)
	err := s.InTx(ctx, func(tx *Store) error {
		parentFrom := on
		if c.New != nil {
			if _, err := tx.CreateOrganisations(ctx, []NewOrganisation{*c.New}); err != nil {
				return err
			}
			parentFrom = c.New.From
		}
		if c.Attrs != nil {
			if _, err := tx.SetAttributes(ctx, c.Code, *c.Attrs, on); err != nil {
				return err
			}
		}
		if c.Parent != nil {
			if _, err := tx.SetParent(ctx, c.Code, *c.Parent, parentFrom); err != nil {
				return err
			}
		}
		for _, n := range c.Successions {
			if err := tx.RecordSuccession(ctx, n); err != nil {
				return err
			}
		}
		return tx.noteODSChange(ctx, c.Code, on)
	})
	if err != nil {
		return fmt.Errorf("apply ODS change of %s: %w", c.Code, err)
	}
	return nil
}

func (s *Store) noteODSChange(ctx context.Context, code string, on time.Time) error {
	if on.IsZero() {
		return nil
	}
	_, err := s.db.Exec(ctx, `INSERT INTO ods_records (organisation_id, last_change_date)
        SELECT id, $2 FROM organisations WHERE ods_code = $1
        ON CONFLICT (organisation_id) DO UPDATE SET last_change_date = GREATEST(ods_records.last_change_date, EXCLUDED.last_change_date), synced_at = now()`,
		code, on)
	return err
}

// NoteODSChange records the ODS change date of a record that was compared and found
// unchanged, so that the next run skips it until ODS changes it again.
func (s *Store) NoteODSChange(ctx context.Context, code string, on time.Time) error {
	if err := s.noteODSChange(ctx, code, Day(on)); err != nil {
		return fmt.Errorf("note ODS change of %s: %w", code, err)
	}
	return nil
}

// ODSSyncedTo returns the end of the last complete window of source (ok false before
// the first).
func (s *Store) ODSSyncedTo(ctx context.Context, source string) (time.Time, bool, error) {
	var t time.Time
	err := s.db.QueryRow(ctx, `SELECT synced_to FROM ods_sync_state WHERE source = $1`, source).Scan(&t)
	if errors.Is(err, pgx.ErrNoRows) {
		return time.Time{}, false, nil
	}
	if err != nil {
		return time.Time{}, false, fmt.Errorf("ODS sync state: %w", err)
	}
	return t, true, nil
}

// SetODSSyncedTo records that source synced completely up to the date.
func (s *Store) SetODSSyncedTo(ctx context.Context, source string, to time.Time) error {
	_, err := s.db.Exec(ctx, `INSERT INTO ods_sync_state (source, synced_to) VALUES ($1, $2)
        ON CONFLICT (source) DO UPDATE SET synced_to = EXCLUDED.synced_to, finished_at = now()`, source, Day(to))
	if err != nil {
		return fmt.Errorf("ODS sync state: %w", err)
	}
	return nil
}

// ReviewKind is the kind of an ODS change waiting for review.
type ReviewKind string

// The review kinds.
const (
	ReviewClosure    ReviewKind = "closure"
	ReviewSuccession ReviewKind = "succession"
	ReviewDeletion   ReviewKind = "deletion"
)

// ReviewStatus is where a review item stands.
type ReviewStatus string

// The review statuses.
const (
	ReviewPending  ReviewStatus = "pending"
	ReviewApproved ReviewStatus = "approved"
	ReviewRejected ReviewStatus = "rejected"
)

// ODSReviewItem is an ODS change the sync did not apply by itself.
type ODSReviewItem struct {
	ID            int64
	ODSCode       string
	Kind          ReviewKind
	SuccessorCode string
	EffectiveOn   *time.Time
	ODSChangeDate *time.Time
	Detail        string
	Status        ReviewStatus
	CreatedAt     time.Time
	DecidedAt     *time.Time
	DecidedBy     *int64
	// DecidedByEmail is the deciding admin's email (read only).
	DecidedByEmail string
	DecisionNote   string
}

// QueueODSReview adds an item to the review queue unless the same change is already
// there (pending or decided); it reports whether it added one.
func (s *Store) QueueODSReview(ctx context.Context, it ODSReviewItem) (bool, error) {
	tag, err := s.db.Exec(ctx, `INSERT INTO ods_review_items (ods_code, kind, successor_code, effective_on, ods_change_date, detail)
        VALUES ($1, $2, NULLIF($3, ''), $4, $5, $6) ON CONFLICT DO NOTHING`,
		it.ODSCode, it.Kind, it.SuccessorCode, it.EffectiveOn, it.ODSChangeDate, it.Detail)
	if err != nil {
		return false, fmt.Errorf("queue review of %s: %w", it.ODSCode, err)
	}
	return tag.RowsAffected() == 1, nil
}

const reviewColumns = `r.id, r.ods_code, r.kind, COALESCE(r.successor_code, ''), r.effective_on, r.ods_change_date, r.detail,
    r.status, r.created_at, r.decided_at, r.decided_by, COALESCE(u.email, ''), COALESCE(r.decision_note, '')`

func scanReview(row pgx.CollectableRow) (ODSReviewItem, error) {
	var it ODSReviewItem
	err := row.Scan(&it.ID, &it.ODSCode, &it.Kind, &it.SuccessorCode, &it.EffectiveOn, &it.ODSChangeDate, &it.Detail,
		&it.Status, &it.CreatedAt, &it.DecidedAt, &it.DecidedBy, &it.DecidedByEmail, &it.DecisionNote)
	return it, err
}

// ODSReviewItems returns a page of the review queue (status empty: all), oldest first,
// continuing after the id afterID, and how many match in all.
func (s *Store) ODSReviewItems(ctx context.Context, status ReviewStatus, afterID int64, limit int) ([]ODSReviewItem, int, error) {
	rows, err := s.db.Query(ctx, `WITH m AS (SELECT `+reviewColumns+`, count(*) OVER () AS total
        FROM ods_review_items r LEFT JOIN users u ON u.id = r.decided_by WHERE ($1 = '' OR r.status = $1))
        SELECT * FROM m WHERE id > $2 ORDER BY id LIMIT $3`, string(status), afterID, limit)
	if err != nil {
		return nil, 0, fmt.Errorf("review queue: %w", err)
	}
	total := 0
	items, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (ODSReviewItem, error) {
		var it ODSReviewItem
		err := row.Scan(&it.ID, &it.ODSCode, &it.Kind, &it.SuccessorCode, &it.EffectiveOn, &it.ODSChangeDate, &it.Detail,
			&it.Status, &it.CreatedAt, &it.DecidedAt, &it.DecidedBy, &it.DecidedByEmail, &it.DecisionNote, &total)
		return it, err
	})
	if err != nil {
		return nil, 0, fmt.Errorf("review queue: %w", err)
	}
	if len(items) == 0 {
		if err := s.db.QueryRow(ctx, `SELECT count(*) FROM ods_review_items WHERE ($1 = '' OR status = $1)`, string(status)).Scan(&total); err != nil {
			return nil, 0, fmt.Errorf("review queue: %w", err)
		}
	}
	return items, total, nil
}

// ODSReviewItemByID returns one review item, or ErrNotFound.
func (s *Store) ODSReviewItemByID(ctx context.Context, id int64) (ODSReviewItem, error) {
	rows, err := s.db.Query(ctx, `SELECT `+reviewColumns+` FROM ods_review_items r LEFT JOIN users u ON u.id = r.decided_by WHERE r.id = $1`, id)
	if err != nil {
		return ODSReviewItem{}, fmt.Errorf("review item %d: %w", id, err)
	}
	it, err := pgx.CollectExactlyOneRow(rows, scanReview)
	if errors.Is(err, pgx.ErrNoRows) {
		return ODSReviewItem{}, ErrNotFound
	}
	if err != nil {
		return ODSReviewItem{}, fmt.Errorf("review item %d: %w", id, err)
	}
	return it, nil
}

// ReviewDecision is an admin's answer to a review item.
type ReviewDecision struct {
	ID      int64
	Approve bool
	AdminID *int64
	Note    string
	// IP is the caller's address for the access log.
	IP string
	// Today dates a closure whose ODS record gave no end date.
	Today time.Time
}

// DecideODSReview approves (applying the change through the history writers) or
// rejects a pending review item, and writes the decision to the access log, all in one
// transaction. A decided item is ErrConflict; an approval that cannot be applied (a
// successor not in the register, a date before the open version) fails and leaves the
// item pending.
func (s *Store) DecideODSReview(ctx context.Context, d ReviewDecision) (ODSReviewItem, error) {
	err := s.InTx(ctx, func(tx *Store) error {
		var it ODSReviewItem
		err := tx.db.QueryRow(ctx, `SELECT ods_code, kind, COALESCE(successor_code, ''), effective_on, status
            FROM ods_review_items WHERE id = $1 FOR UPDATE`, d.ID).Scan(&it.ODSCode, &it.Kind, &it.SuccessorCode, &it.EffectiveOn, &it.Status)
		if errors.Is(err, pgx.ErrNoRows) {
			return ErrNotFound
		}
		if err != nil {
			return err
		}
		if it.Status != ReviewPending {
			return fmt.Errorf("%w: the item was already %s", ErrConflict, it.Status)
		}
		on := Day(d.Today)
		if it.EffectiveOn != nil {
			on = Day(*it.EffectiveOn)
		}
		status, action := ReviewRejected, ActionODSReviewRejected
		if d.Approve {
			status, action = ReviewApproved, ActionODSReviewApproved
			switch it.Kind {
			case ReviewSuccession:
				err = tx.RecordSuccession(ctx, NewSuccession{PredecessorCode: it.ODSCode, SuccessorCode: it.SuccessorCode,
					Kind: SuccessionMerger, EffectiveOn: on, Note: "from NHS ODS, approved in review"})
			default:
				err = tx.RecordSuccession(ctx, NewSuccession{PredecessorCode: it.ODSCode, Kind: SuccessionClosure,
					EffectiveOn: on, Note: "from NHS ODS (" + string(it.Kind) + "), approved in review"})
			}
			if err != nil {
				// Not applicable as it stands: the item stays pending, the reason goes back.
				return fmt.Errorf("%w: %s cannot be applied: %v", ErrConflict, it.Kind, err)
			}
		}
		if _, err := tx.db.Exec(ctx, `UPDATE ods_review_items SET status = $2, decided_at = now(), decided_by = $3,
            decision_note = NULLIF($4, '') WHERE id = $1`, d.ID, status, d.AdminID, d.Note); err != nil {
			return err
		}
		return tx.LogAccess(ctx, AccessEntry{IP: d.IP, AdminID: d.AdminID, UserID: d.AdminID, Action: action,
			Details: map[string]any{"review_item": d.ID, "ods_code": it.ODSCode, "kind": string(it.Kind),
				"successor_code": it.SuccessorCode, "note": d.Note}})
	})
	if err != nil {
		return ODSReviewItem{}, fmt.Errorf("decide review item %d: %w", d.ID, err)
	}
	return s.ODSReviewItemByID(ctx, d.ID)
}

// SiteDependants is everything tied to a site, shown before it is closed.
type SiteDependants struct {
	Kind       OrgKind
	Open       bool
	Parent     string
	Unit       string
	LedUnits   []string
	ChildSites []string
	OpenUK     []string
	// Successions are "PRED>SUCC (kind, date)" lines the site takes part in.
	Successions []string
	// Patients and Submissions are the audit rows of the units it belongs to or leads.
	Patients, Submissions int
}

const sqlSiteDependants = `
WITH o AS (SELECT id, kind FROM organisations WHERE ods_code = $1),
units AS (
    SELECT unit_id FROM unit_sites WHERE organisation_id = (SELECT id FROM o) AND upper_inf(valid)
    UNION SELECT unit_id FROM unit_leads WHERE organisation_id = (SELECT id FROM o) AND upper_inf(valid)
)
SELECT o.kind,
    EXISTS (SELECT 1 FROM organisation_versions v WHERE v.organisation_id = o.id AND upper_inf(v.valid)),
    COALESCE((SELECT p.ods_code FROM organisation_links l JOIN organisations p ON p.id = l.parent_id
              WHERE l.child_id = o.id AND l.relation = 'parent' AND upper_inf(l.valid)), ''),
    COALESCE((SELECT u.pz_code FROM unit_sites us JOIN paediatric_diabetes_units u ON u.id = us.unit_id
              WHERE us.organisation_id = o.id AND upper_inf(us.valid)), ''),
    ARRAY(SELECT u.pz_code FROM unit_leads ul JOIN paediatric_diabetes_units u ON u.id = ul.unit_id
          WHERE ul.organisation_id = o.id AND upper_inf(ul.valid) ORDER BY 1),
    ARRAY(SELECT c.ods_code FROM organisation_links l JOIN organisations c ON c.id = l.child_id
          WHERE l.parent_id = o.id AND upper_inf(l.valid) ORDER BY 1),
    ARRAY(SELECT n.code FROM open_uk_network_members m JOIN open_uk_networks n ON n.id = m.network_id
          WHERE m.organisation_id = o.id AND upper_inf(m.valid) ORDER BY 1),
    ARRAY(SELECT p.ods_code || '>' || COALESCE(n.ods_code, '') || ' (' || s.kind || ', ' || s.effective_on || ')'
          FROM organisation_successions s JOIN organisations p ON p.id = s.predecessor_id
          LEFT JOIN organisations n ON n.id = s.successor_id
          WHERE s.predecessor_id = o.id OR s.successor_id = o.id ORDER BY s.effective_on),
    (SELECT count(*) FROM patients WHERE unit_id IN (SELECT unit_id FROM units)),
    (SELECT count(*) FROM submissions WHERE unit_id IN (SELECT unit_id FROM units))
FROM o`

// SiteDependantsOf returns what depends on the organisation with the code, or
// ErrNotFound.
func (s *Store) SiteDependantsOf(ctx context.Context, code string) (SiteDependants, error) {
	var d SiteDependants
	err := s.db.QueryRow(ctx, sqlSiteDependants, code).Scan(&d.Kind, &d.Open, &d.Parent, &d.Unit, &d.LedUnits,
		&d.ChildSites, &d.OpenUK, &d.Successions, &d.Patients, &d.Submissions)
	if errors.Is(err, pgx.ErrNoRows) {
		return SiteDependants{}, ErrNotFound
	}
	if err != nil {
		return SiteDependants{}, fmt.Errorf("dependants of %s: %w", code, err)
	}
	return d, nil
}

// NewSite is a site to create with its parent and unit.
type NewSite struct {
	Org    NewOrganisation
	Parent string
	// Unit is the PZ code of the unit the site cares through (empty: none).
	Unit string
}

// CreateSite creates a site, its parent link and its unit membership in one
// transaction, placing it on the map when it has a point.
func (s *Store) CreateSite(ctx context.Context, n NewSite) error {
	err := s.InTx(ctx, func(tx *Store) error {
		if _, err := tx.CreateOrganisations(ctx, []NewOrganisation{n.Org}); err != nil {
			return err
		}
		if n.Parent != "" {
			if _, err := tx.SetParent(ctx, n.Org.ODSCode, n.Parent, n.Org.From); err != nil {
				return err
			}
		}
		if n.Unit != "" {
			if _, err := tx.SetSiteUnit(ctx, n.Org.ODSCode, n.Unit, n.Org.From); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("create site %s: %w", n.Org.ODSCode, err)
	}
	return nil
}

// UnitExists reports whether a unit with the PZ code exists.
func (s *Store) UnitExists(ctx context.Context, pz string) (bool, error) {
	var ok bool
	if err := s.db.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM paediatric_diabetes_units WHERE pz_code = $1)`, pz).Scan(&ok); err != nil {
		return false, fmt.Errorf("unit %s: %w", pz, err)
	}
	return ok, nil
}
