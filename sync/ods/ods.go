// Package ods keeps the organisation register current from NHS ODS (the Organisation
// Data Service). Two sources stand behind one interface: the ORD 2-0-0 API (being
// withdrawn; no key) and the Organisation Data Terminology FHIR R4 API (API key). The
// Syncer compares each changed record of a kind the register holds field by field and
// writes only real changes, through the store's history writers, dated at the ODS change
// date; closures, successions dated after the run's window and deletions from
// publication are queued for an admin to review instead.
package ods

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"

	"caregraph/sync/fetch"
)

// ODS role and relationship codes the sync reads.
const (
	RoleTrust     = "RO197" // NHS trust
	RoleTrustSite = "RO198" // NHS trust site
	RoleLHB       = "RO142" // Welsh local health board
	RoleLHBSite   = "RO144" // local health board site
	RoleICB       = "RO261" // integrated care board
	RelOperatedBy = "RE6"   // site → the trust or board that runs it
)

// TrackedRoles are the primary roles of the kinds the register holds.
var TrackedRoles = []string{RoleTrust, RoleTrustSite, RoleLHB, RoleLHBSite, RoleICB}

// ErrNotFound is a code the source does not know (404).
var ErrNotFound = errors.New("not found in ODS")

// Period is a typed date range of ODS ("Legal" or "Operational"); End is zero while open.
type Period struct {
	Type       string
	Start, End time.Time
}

// Role is one role of an organisation.
type Role struct {
	ID      string
	Primary bool
	Active  bool
}

// Rel is one relationship: the organisation is RelID (RE6 …) of Target.
type Rel struct {
	ID         string
	Active     bool
	Target     string
	TargetRole string
	Start, End time.Time
}

// Succ is one succession entry as ODS gives it on the record: Type "Successor" means the
// record's organisation passed into Target; "Predecessor" means Target passed into it.
type Succ struct {
	Type   string
	Target string
	On     time.Time
}

// Address is the record's location as ODS publishes it (no coordinates).
type Address struct {
	Line1, Line2, Line3, Town, County, Postcode, Country string
}

// Record is one ODS organisation, as either source describes it. HasAddress and
// HasContacts tell an absent block (which changes nothing) from an empty one.
type Record struct {
	Code        string
	Name        string
	Active      bool
	LastChange  time.Time
	RecordClass string // RC1 organisation, RC2 site
	Periods     []Period
	Roles       []Role
	Rels        []Rel
	Succs       []Succ
	HasAddress  bool
	Address     Address
	HasContacts bool
	Phone       string
	Website     string
	Email       string
}

// PrimaryRole returns the record's primary role ("" when none is marked).
func (r Record) PrimaryRole() string {
	for _, ro := range r.Roles {
		if ro.Primary {
			return ro.ID
		}
	}
	return ""
}

// ActiveParent returns the target of the record's active RE6 relationship: the one in
// force, not the first in the list (ODS lists closed ones too, in no meaningful order).
// Where several are active the latest begun wins.
func (r Record) ActiveParent() (string, bool) {
	var best *Rel
	for i, rel := range r.Rels {
		if rel.ID != RelOperatedBy || !rel.Active || rel.Target == "" {
			continue
		}
		if best == nil || rel.Start.After(best.Start) {
			best = &r.Rels[i]
		}
	}
	if best == nil {
		return "", false
	}
	return best.Target, true
}

// EndDate is when the record closed: the operational end, else the legal end (zero
// while open).
func (r Record) EndDate() time.Time {
	var legal time.Time
	for _, p := range r.Periods {
		if p.End.IsZero() {
			continue
		}
		if p.Type == "Operational" {
			return p.End
		}
		legal = p.End
	}
	return legal
}

// StartDate is when the record opened: the operational start, else the legal start.
func (r Record) StartDate() time.Time {
	var legal time.Time
	for _, p := range r.Periods {
		if p.Type == "Operational" && !p.Start.IsZero() {
			return p.Start
		}
		if !p.Start.IsZero() {
			legal = p.Start
		}
	}
	return legal
}

// Deletion is a record ODS withdrew from publication.
type Deletion struct {
	Code   string
	Role   string
	Reason string
	At     time.Time
}

// Failure is a code whose record could not be read, and why.
type Failure struct {
	Code string
	Err  error
}

// Changes is what a source reports for a window.
type Changes struct {
	Records   []Record
	Deletions []Deletion
	// Failures are records listed as changed that could not be read; the rest go on.
	Failures []Failure
}

// Source is one ODS API.
type Source interface {
	// Name is "ord" or "fhir".
	Name() string
	// MaxLookback is how far back the source lists changes (0: no limit).
	MaxLookback() time.Duration
	// Changes hands emit the records of the tracked roles changed on or after since (and,
	// for a source that lists bare codes, only those want admits) and the deletion
	// notices, in batches as they arrive, so that the caller can write one batch while
	// the next is fetched. emit is never called concurrently; an error from it stops the
	// listing.
	Changes(ctx context.Context, since time.Time, want func(code string) bool, emit func(Changes) error) error
	// Record returns one organisation; ErrNotFound when ODS does not know the code.
	Record(ctx context.Context, code string) (Record, error)
	// Requests is how many requests the source has made (retries not counted).
	Requests() int
}

// listOrOne reads a JSON list, a single object where a list was expected, or null.
type listOrOne[T any] []T

func (l *listOrOne[T]) UnmarshalJSON(b []byte) error {
	b = bytes.TrimSpace(b)
	switch {
	case len(b) == 0 || string(b) == "null":
		*l = nil
		return nil
	case b[0] == '[':
		var xs []T
		if err := json.Unmarshal(b, &xs); err != nil {
			return err
		}
		*l = xs
		return nil
	}
	var x T
	if err := json.Unmarshal(b, &x); err != nil {
		return err
	}
	*l = []T{x}
	return nil
}

// parseDate reads an ODS date (YYYY-MM-DD, or the date part of a date-time); zero when
// empty or unreadable.
func parseDate(s string) time.Time {
	s = strings.TrimSpace(s)
	if len(s) >= 10 {
		s = s[:10]
	}
	t, err := time.Parse(time.DateOnly, s)
	if err != nil {
		return time.Time{}
	}
	return t
}

// normCode upper-cases and trims an ODS code.
func normCode(s string) string { return strings.ToUpper(strings.TrimSpace(s)) }

// getJSON fetches u and decodes its JSON answer into into; a 404 becomes ErrNotFound.
// what names the format expected, for the error.
func getJSON(ctx context.Context, c *fetch.Client, u string, h http.Header, what string, into any) error {
	body, err := c.Get(ctx, u, h)
	if err != nil {
		var se *fetch.StatusError
		if errors.As(err, &se) && se.StatusCode == http.StatusNotFound {
			return fmt.Errorf("%w (GET %s: 404)", ErrNotFound, u)
		}
		return err
	}
	if err := json.Unmarshal(body, into); err != nil {
		return fmt.Errorf("GET %s: the answer is not the %s expected: %w", u, what, err)
	}
	return nil
}
