package ods

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"path"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"caregraph/sync/fetch"
)

// DefaultORDBaseURL is the ORD 2-0-0 API.
const DefaultORDBaseURL = "https://directory.spineservices.nhs.uk/ORD/2-0-0"

// ORDLookback is how far back /sync answers.
const ORDLookback = 185 * 24 * time.Hour

// ORD reads the ORD 2-0-0 API. Its /sync lists only links, so every changed record is
// fetched on its own: it has no bulk read of full records.
type ORD struct {
	BaseURL string
	Client  *fetch.Client
	// Workers is how many records are fetched at once (4); the client's rate limit
	// bounds the pace whatever this is.
	Workers  int
	requests atomic.Int64
}

// Name implements Source.
func (o *ORD) Name() string { return "ord" }

// MaxLookback implements Source.
func (o *ORD) MaxLookback() time.Duration { return ORDLookback }

// Requests implements Source.
func (o *ORD) Requests() int { return int(o.requests.Load()) }

func (o *ORD) get(ctx context.Context, u string, into any) error {
	o.requests.Add(1)
	return getJSON(ctx, o.Client, u, http.Header{"Accept": {"application/json"}}, "JSON", into)
}

type ordSync struct {
	Organisations listOrOne[struct {
		OrgLink string `json:"OrgLink"`
	}] `json:"Organisations"`
}

// ORDBatch is how many records the ORD source hands on at once.
const ORDBatch = 50

// Changes implements Source: /sync, then each wanted record (several at once, within
// the client's rate limit), then /notifications.
func (o *ORD) Changes(ctx context.Context, since time.Time, want func(string) bool, emit func(Changes) error) error {
	base := strings.TrimRight(o.BaseURL, "/")
	var list ordSync
	if err := o.get(ctx, base+"/sync?LastChangeDate="+since.Format(time.DateOnly), &list); err != nil {
		return fmt.Errorf("list ODS changes: %w", err)
	}
	var codes []string
	seen := map[string]bool{}
	for _, l := range list.Organisations {
		c := codeFromLink(l.OrgLink)
		if c == "" || seen[c] || (want != nil && !want(c)) {
			continue
		}
		seen[c] = true
		codes = append(codes, c)
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var (
		mu      sync.Mutex
		batch   Changes
		emitErr error
	)
	// flush hands the batch on; the caller holds mu, so emit is never concurrent.
	flush := func(force bool) {
		if emitErr != nil || (!force && len(batch.Records)+len(batch.Failures) < ORDBatch) {
			return
		}
		if len(batch.Records)+len(batch.Failures) == 0 {
			return
		}
		if err := emit(batch); err != nil {
			emitErr = err
			cancel()
		}
		batch = Changes{}
	}
	work := make(chan string)
	workers := o.Workers
	if workers <= 0 {
		workers = 4
	}
	var wg sync.WaitGroup
	for range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for c := range work {
				r, err := o.Record(ctx, c)
				mu.Lock()
				if err != nil {
					batch.Failures = append(batch.Failures, Failure{Code: c, Err: err})
				} else {
					batch.Records = append(batch.Records, r)
				}
				flush(false)
				mu.Unlock()
			}
		}()
	}
feed:
	for _, c := range codes {
		select {
		case work <- c:
		case <-ctx.Done():
			break feed
		}
	}
	close(work)
	wg.Wait()
	mu.Lock()
	flush(true)
	mu.Unlock()
	if emitErr != nil {
		return emitErr
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	dels, err := o.deletions(ctx, base, since)
	if err != nil {
		return fmt.Errorf("deletion notices: %w", err)
	}
	if len(dels) > 0 {
		return emit(Changes{Deletions: dels})
	}
	return nil
}

// codeFromLink is the last path segment of an OrgLink.
func codeFromLink(link string) string {
	link = strings.TrimSpace(link)
	if u, err := url.Parse(link); err == nil && u.Path != "" {
		link = u.Path
	}
	return normCode(path.Base(strings.TrimRight(link, "/")))
}

type ordNotifications struct {
	DeletedOrganisations listOrOne[struct {
		OrgID         string `json:"OrgID"`
		PrimaryRoleID string `json:"PrimaryRoleId"`
		Reason        *struct {
			Description string `json:"description"`
		} `json:"reason"`
		Time string `json:"time"`
	}] `json:"DeletedOrganisations"`
}

func (o *ORD) deletions(ctx context.Context, base string, since time.Time) ([]Deletion, error) {
	var n ordNotifications
	if err := o.get(ctx, base+"/notifications", &n); err != nil {
		if errors.Is(err, ErrNotFound) {
			return nil, nil
		}
		return nil, err
	}
	var out []Deletion
	for _, d := range n.DeletedOrganisations {
		at := parseDate(d.Time)
		if d.OrgID == "" || (!at.IsZero() && at.Before(since)) {
			continue
		}
		del := Deletion{Code: normCode(d.OrgID), Role: d.PrimaryRoleID, At: at}
		if d.Reason != nil {
			del.Reason = d.Reason.Description
		}
		out = append(out, del)
	}
	return out, nil
}

type ordDate struct {
	Type  string `json:"Type"`
	Start string `json:"Start"`
	End   string `json:"End"`
}

type ordTarget struct {
	OrgID struct {
		Extension string `json:"extension"`
	} `json:"OrgId"`
	PrimaryRoleID struct {
		ID string `json:"id"`
	} `json:"PrimaryRoleId"`
}

type ordRecord struct {
	Organisation *struct {
		Name  string             `json:"Name"`
		Date  listOrOne[ordDate] `json:"Date"`
		OrgID struct {
			Extension string `json:"extension"`
		} `json:"OrgId"`
		Status         string `json:"Status"`
		LastChangeDate string `json:"LastChangeDate"`
		RecordClass    string `json:"orgRecordClass"`
		GeoLoc         *struct {
			Location *struct {
				AddrLn1, AddrLn2, AddrLn3, Town, County, PostCode, Country string
			} `json:"Location"`
		} `json:"GeoLoc"`
		Contacts *struct {
			Contact listOrOne[struct {
				Type  string `json:"type"`
				Value string `json:"value"`
			}] `json:"Contact"`
		} `json:"Contacts"`
		Roles *struct {
			Role listOrOne[struct {
				ID          string             `json:"id"`
				PrimaryRole bool               `json:"primaryRole"`
				Status      string             `json:"Status"`
				Date        listOrOne[ordDate] `json:"Date"`
			}] `json:"Role"`
		} `json:"Roles"`
		Rels *struct {
			Rel listOrOne[struct {
				ID     string             `json:"id"`
				Status string             `json:"Status"`
				Date   listOrOne[ordDate] `json:"Date"`
				Target ordTarget          `json:"Target"`
			}] `json:"Rel"`
		} `json:"Rels"`
		Succs *struct {
			Succ listOrOne[struct {
				Type   string             `json:"Type"`
				Date   listOrOne[ordDate] `json:"Date"`
				Target ordTarget          `json:"Target"`
			}] `json:"Succ"`
		} `json:"Succs"`
	} `json:"Organisation"`
}

// Record implements Source.
func (o *ORD) Record(ctx context.Context, code string) (Record, error) {
	code = normCode(code)
	var raw ordRecord
	if err := o.get(ctx, strings.TrimRight(o.BaseURL, "/")+"/organisations/"+url.PathEscape(code), &raw); err != nil {
		return Record{}, err
	}
	return raw.record(code)
}

func periods(ds []ordDate) []Period {
	out := make([]Period, 0, len(ds))
	for _, d := range ds {
		out = append(out, Period{Type: d.Type, Start: parseDate(d.Start), End: parseDate(d.End)})
	}
	return out
}

// span is the operational period of ds, else the first.
func span(ds []ordDate) (start, end time.Time) {
	for _, p := range periods(ds) {
		if p.Type == "Operational" {
			return p.Start, p.End
		}
	}
	if len(ds) > 0 {
		return parseDate(ds[0].Start), parseDate(ds[0].End)
	}
	return time.Time{}, time.Time{}
}

func (raw ordRecord) record(asked string) (Record, error) {
	org := raw.Organisation
	if org == nil {
		return Record{}, fmt.Errorf("%s: the answer has no Organisation", asked)
	}
	r := Record{
		Code:        normCode(org.OrgID.Extension),
		Name:        strings.TrimSpace(org.Name),
		Active:      strings.EqualFold(org.Status, "Active"),
		LastChange:  parseDate(org.LastChangeDate),
		RecordClass: strings.ToUpper(org.RecordClass),
		Periods:     periods(org.Date),
	}
	if r.Code == "" {
		r.Code = asked
	}
	if r.Code != asked {
		return Record{}, fmt.Errorf("%s: the answer describes %s", asked, r.Code)
	}
	if r.Name == "" {
		return Record{}, fmt.Errorf("%s: the record has no name", asked)
	}
	if org.GeoLoc != nil && org.GeoLoc.Location != nil {
		l := org.GeoLoc.Location
		r.HasAddress = true
		r.Address = Address{Line1: l.AddrLn1, Line2: l.AddrLn2, Line3: l.AddrLn3, Town: l.Town, County: l.County, Postcode: l.PostCode, Country: l.Country}
	}
	if org.Contacts != nil {
		r.HasContacts = true
		for _, c := range org.Contacts.Contact {
			switch strings.ToLower(c.Type) {
			case "tel":
				r.Phone = c.Value
			case "http":
				r.Website = c.Value
			case "email":
				r.Email = c.Value
			}
		}
	}
	if org.Roles != nil {
		for _, ro := range org.Roles.Role {
			r.Roles = append(r.Roles, Role{ID: strings.ToUpper(ro.ID), Primary: ro.PrimaryRole, Active: strings.EqualFold(ro.Status, "Active")})
		}
	}
	if org.Rels != nil {
		for _, rel := range org.Rels.Rel {
			start, end := span(rel.Date)
			r.Rels = append(r.Rels, Rel{ID: strings.ToUpper(rel.ID), Active: strings.EqualFold(rel.Status, "Active"),
				Target: normCode(rel.Target.OrgID.Extension), TargetRole: rel.Target.PrimaryRoleID.ID, Start: start, End: end})
		}
	}
	if org.Succs != nil {
		for _, s := range org.Succs.Succ {
			on, _ := span(s.Date)
			r.Succs = append(r.Succs, Succ{Type: s.Type, Target: normCode(s.Target.OrgID.Extension), On: on})
		}
	}
	return r, nil
}
