package ods

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"path"
	"strings"
	"sync/atomic"
	"time"

	"caregraph/sync/fetch"
)

// DefaultFHIRBaseURL is the Organisation Data Terminology FHIR R4 API.
const DefaultFHIRBaseURL = "https://api.service.nhs.uk/organisation-data-terminology-api/fhir"

// The systems and extensions of the ODS FHIR R4 profiles (UKCore-Organization,
// UKCore-OrganizationAffiliation and the NHS England extensions).
const (
	SystemODSCode    = "https://fhir.nhs.uk/Id/ods-organization-code"
	SystemRole       = "https://digital.nhs.uk/services/organisation-data-service/CodeSystem/ODSOrganisationRole"
	SystemRecordCls  = "https://digital.nhs.uk/services/organisation-data-service/CodeSystem/ODSRecordClass"
	extRole          = "https://fhir.nhs.uk/England/StructureDefinition/Extension-England-OrganisationRole"
	extTypedPeriod   = "https://fhir.nhs.uk/England/StructureDefinition/Extension-England-TypedPeriod"
	extTypedDateTime = "https://fhir.nhs.uk/England/StructureDefinition/Extension-England-TypedDateTime"
)

// FHIRPageSize is the _count asked for; FHIRCodesPerSearch is how many ODS codes one
// OrganizationAffiliation search names (a token search takes a comma-separated OR list).
const (
	FHIRPageSize       = 1000
	FHIRCodesPerSearch = 100
)

// FHIRDeletionsPath is the search that lists records withdrawn from publication, as List
// resources whose entries name the deleted codes.
const FHIRDeletionsPath = "/List?code=deleted-organisations"

// FHIR reads the Organisation Data Terminology FHIR R4 API: changed Organizations come
// whole in Bundle pages, their relationships from OrganizationAffiliation searches that
// name many organisations at once. The published FHIR mapping carries no successions,
// so this source reports none.
type FHIR struct {
	BaseURL string
	// APIKey is sent in the "apikey" header the NHS API platform asks for. Never logged.
	APIKey   string
	Client   *fetch.Client
	requests atomic.Int64
}

// Name implements Source.
func (f *FHIR) Name() string { return "fhir" }

// MaxLookback implements Source.
func (f *FHIR) MaxLookback() time.Duration { return 0 }

// Requests implements Source.
func (f *FHIR) Requests() int { return int(f.requests.Load()) }

func (f *FHIR) get(ctx context.Context, u string, into any) error {
	f.requests.Add(1)
	h := http.Header{"Accept": {"application/fhir+json"}}
	if f.APIKey != "" {
		h.Set("apikey", f.APIKey)
	}
	return getJSON(ctx, f.Client, u, h, "FHIR JSON", into)
}

type coding struct {
	System string `json:"system"`
	Code   string `json:"code"`
}

type fhirExt struct {
	URL                  string             `json:"url"`
	Extension            listOrOne[fhirExt] `json:"extension"`
	ValueCodeableConcept *struct {
		Coding listOrOne[coding] `json:"coding"`
	} `json:"valueCodeableConcept"`
	ValueCoding   *coding `json:"valueCoding"`
	ValueBoolean  *bool   `json:"valueBoolean"`
	ValueDateTime string  `json:"valueDateTime"`
	ValuePeriod   *struct {
		Start string `json:"start"`
		End   string `json:"end"`
	} `json:"valuePeriod"`
}

func (e fhirExt) sub(u string) []fhirExt {
	var out []fhirExt
	for _, x := range e.Extension {
		if x.URL == u {
			out = append(out, x)
		}
	}
	return out
}

func (e fhirExt) code() string {
	if e.ValueCoding != nil {
		return e.ValueCoding.Code
	}
	if e.ValueCodeableConcept != nil && len(e.ValueCodeableConcept.Coding) > 0 {
		return e.ValueCodeableConcept.Coding[0].Code
	}
	return ""
}

// typedPeriod reads an Extension-England-TypedPeriod.
func (e fhirExt) typedPeriod() Period {
	var p Period
	for _, x := range e.sub("dateType") {
		p.Type = x.code()
	}
	for _, x := range e.sub("period") {
		if x.ValuePeriod != nil {
			p.Start, p.End = parseDate(x.ValuePeriod.Start), parseDate(x.ValuePeriod.End)
		}
	}
	return p
}

type fhirRef struct {
	Reference  string `json:"reference"`
	Identifier *struct {
		Value string `json:"value"`
	} `json:"identifier"`
}

func (r *fhirRef) code() string {
	if r == nil {
		return ""
	}
	if r.Identifier != nil && r.Identifier.Value != "" {
		return normCode(r.Identifier.Value)
	}
	return normCode(path.Base(r.Reference))
}

type fhirResource struct {
	ResourceType string `json:"resourceType"`
	ID           string `json:"id"`
	Meta         *struct {
		LastUpdated string `json:"lastUpdated"`
	} `json:"meta"`
	Identifier listOrOne[struct {
		System string `json:"system"`
		Value  string `json:"value"`
	}] `json:"identifier"`
	Active *bool  `json:"active"`
	Name   string `json:"name"`
	Type   listOrOne[struct {
		Coding listOrOne[coding] `json:"coding"`
	}] `json:"type"`
	Telecom listOrOne[struct {
		System string `json:"system"`
		Value  string `json:"value"`
	}] `json:"telecom"`
	Address listOrOne[struct {
		Line       listOrOne[string] `json:"line"`
		City       string            `json:"city"`
		District   string            `json:"district"`
		PostalCode string            `json:"postalCode"`
		Country    string            `json:"country"`
	}] `json:"address"`
	Extension listOrOne[fhirExt] `json:"extension"`
	// OrganizationAffiliation
	Organization              *fhirRef `json:"organization"`
	ParticipatingOrganization *fhirRef `json:"participatingOrganization"`
	Code                      listOrOne[struct {
		Coding listOrOne[coding] `json:"coding"`
	}] `json:"code"`
	// List (deletion notices)
	Date  string `json:"date"`
	Entry listOrOne[struct {
		Date string `json:"date"`
		Flag *struct {
			Text string `json:"text"`
		} `json:"flag"`
		Item *fhirRef `json:"item"`
	}] `json:"entry"`
}

type bundle struct {
	ResourceType string `json:"resourceType"`
	Link         listOrOne[struct {
		Relation string `json:"relation"`
		URL      string `json:"url"`
	}] `json:"link"`
	Entry listOrOne[struct {
		Resource json.RawMessage `json:"resource"`
	}] `json:"entry"`
}

// search follows a Bundle's next links from u, handing each resource to fn. A page
// that links to itself, or a chain longer than maxPages, stops with an error rather
// than looping.
func (f *FHIR) search(ctx context.Context, u string, fn func(fhirResource) error) error {
	const maxPages = 10000
	seen := map[string]bool{}
	for page := 0; u != ""; page++ {
		if seen[u] || page >= maxPages {
			return fmt.Errorf("GET %s: the Bundle's next links go round in a circle", u)
		}
		seen[u] = true
		var b bundle
		if err := f.get(ctx, u, &b); err != nil {
			return err
		}
		if b.ResourceType != "" && b.ResourceType != "Bundle" {
			return fmt.Errorf("GET %s: expected a Bundle, got %s", u, b.ResourceType)
		}
		for _, e := range b.Entry {
			if len(e.Resource) == 0 {
				continue
			}
			var r fhirResource
			if err := json.Unmarshal(e.Resource, &r); err != nil {
				return fmt.Errorf("GET %s: an entry is not a FHIR resource: %w", u, err)
			}
			if err := fn(r); err != nil {
				return err
			}
		}
		next := ""
		for _, l := range b.Link {
			if l.Relation == "next" {
				next = l.URL
			}
		}
		u = f.resolve(next)
	}
	return nil
}

// resolve makes a next link absolute against the base URL (servers behind a gateway
// may answer with relative links).
func (f *FHIR) resolve(link string) string {
	if link == "" {
		return ""
	}
	base, err := url.Parse(strings.TrimRight(f.BaseURL, "/") + "/")
	if err != nil {
		return link
	}
	ref, err := url.Parse(link)
	if err != nil {
		return link
	}
	if ref.IsAbs() {
		return link
	}
	return base.ResolveReference(ref).String()
}

func tokenList(system string, codes []string) string {
	parts := make([]string, len(codes))
	for i, c := range codes {
		parts[i] = system + "|" + c
	}
	return strings.Join(parts, ",")
}

// Changes implements Source: every Organization of the tracked roles updated since the
// date (pages of FHIRPageSize), then their relationships in searches of
// FHIRCodesPerSearch organisations each, handing on each such group as soon as its
// relationships are in, then the deletion notices.
func (f *FHIR) Changes(ctx context.Context, since time.Time, want func(string) bool, emit func(Changes) error) error {
	base := strings.TrimRight(f.BaseURL, "/")
	q := url.Values{}
	q.Set("_lastUpdated", "ge"+since.Format(time.DateOnly))
	q.Set("roleCode", tokenList(SystemRole, TrackedRoles))
	q.Set("_count", fmt.Sprint(FHIRPageSize))
	var recs []Record
	var failures []Failure
	seen := map[string]bool{}
	err := f.search(ctx, base+"/Organization?"+q.Encode(), func(r fhirResource) error {
		if r.ResourceType != "Organization" {
			return nil
		}
		rec, err := r.record()
		if err != nil {
			failures = append(failures, Failure{Code: normCode(r.ID), Err: err})
			return nil
		}
		if !seen[rec.Code] {
			seen[rec.Code] = true
			recs = append(recs, rec)
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("list ODS changes: %w", err)
	}
	if len(failures) > 0 {
		if err := emit(Changes{Failures: failures}); err != nil {
			return err
		}
	}
	for i := 0; i < len(recs); i += FHIRCodesPerSearch {
		batch := recs[i:min(i+FHIRCodesPerSearch, len(recs))]
		codes := make([]string, len(batch))
		for j, r := range batch {
			codes[j] = r.Code
		}
		rels, err := f.affiliations(ctx, codes)
		if err != nil {
			return fmt.Errorf("relationships: %w", err)
		}
		for j := range batch {
			batch[j].Rels = rels[batch[j].Code]
		}
		if err := emit(Changes{Records: batch}); err != nil {
			return err
		}
	}
	dels, err := f.deletions(ctx, since)
	if err != nil {
		return fmt.Errorf("deletion notices: %w", err)
	}
	if len(dels) > 0 {
		return emit(Changes{Deletions: dels})
	}
	return nil
}

// affiliations reads the relationships of the organisations, all in one search (and
// its pages): the caller keeps the list to FHIRCodesPerSearch codes.
func (f *FHIR) affiliations(ctx context.Context, codes []string) (map[string][]Rel, error) {
	out := map[string][]Rel{}
	q := url.Values{}
	q.Set("primary-organization", tokenList(SystemODSCode, codes))
	q.Set("_count", fmt.Sprint(FHIRPageSize))
	err := f.search(ctx, strings.TrimRight(f.BaseURL, "/")+"/OrganizationAffiliation?"+q.Encode(), func(r fhirResource) error {
		if r.ResourceType != "OrganizationAffiliation" {
			return nil
		}
		if src := r.Organization.code(); src != "" {
			out[src] = append(out[src], r.rel())
		}
		return nil
	})
	return out, err
}

func (f *FHIR) deletions(ctx context.Context, since time.Time) ([]Deletion, error) {
	u := strings.TrimRight(f.BaseURL, "/") + FHIRDeletionsPath + "&date=ge" + since.Format(time.DateOnly)
	var out []Deletion
	err := f.search(ctx, u, func(r fhirResource) error {
		if r.ResourceType != "List" {
			return nil
		}
		for _, e := range r.Entry {
			code := e.Item.code()
			if code == "" {
				continue
			}
			d := Deletion{Code: code, At: parseDate(e.Date)}
			if d.At.IsZero() {
				d.At = parseDate(r.Date)
			}
			if e.Flag != nil {
				d.Reason = e.Flag.Text
			}
			out = append(out, d)
		}
		return nil
	})
	if errors.Is(err, ErrNotFound) {
		return nil, nil
	}
	return out, err
}

// Record implements Source.
func (f *FHIR) Record(ctx context.Context, code string) (Record, error) {
	code = normCode(code)
	base := strings.TrimRight(f.BaseURL, "/")
	var r fhirResource
	if err := f.get(ctx, base+"/Organization/"+url.PathEscape(code), &r); err != nil {
		return Record{}, err
	}
	if r.ResourceType != "Organization" {
		return Record{}, fmt.Errorf("%s: expected an Organization, got %q", code, r.ResourceType)
	}
	rec, err := r.record()
	if err != nil {
		return Record{}, err
	}
	if rec.Code != code {
		return Record{}, fmt.Errorf("%s: the answer describes %s", code, rec.Code)
	}
	rels, err := f.affiliations(ctx, []string{code})
	if err != nil {
		return Record{}, fmt.Errorf("relationships of %s: %w", code, err)
	}
	rec.Rels = rels[code]
	return rec, nil
}

func (r fhirResource) record() (Record, error) {
	rec := Record{Name: strings.TrimSpace(r.Name), Active: r.Active == nil || *r.Active}
	for _, id := range r.Identifier {
		if id.System == SystemODSCode && id.Value != "" {
			rec.Code = normCode(id.Value)
		}
	}
	if rec.Code == "" {
		rec.Code = normCode(r.ID)
	}
	if rec.Code == "" {
		return Record{}, errors.New("an Organization without an ODS code")
	}
	if rec.Name == "" {
		return Record{}, fmt.Errorf("%s: the record has no name", rec.Code)
	}
	for _, t := range r.Type {
		for _, c := range t.Coding {
			if c.System == SystemRecordCls {
				rec.RecordClass = strings.ToUpper(c.Code)
			}
		}
	}
	for _, e := range r.Extension {
		switch e.URL {
		case extRole:
			ro := Role{Active: true}
			for _, x := range e.sub("roleCode") {
				ro.ID = strings.ToUpper(x.code())
			}
			for _, x := range e.sub("primaryRole") {
				ro.Primary = x.ValueBoolean != nil && *x.ValueBoolean
			}
			for _, x := range e.sub("active") {
				ro.Active = x.ValueBoolean == nil || *x.ValueBoolean
			}
			if ro.ID != "" {
				rec.Roles = append(rec.Roles, ro)
			}
		case extTypedPeriod:
			rec.Periods = append(rec.Periods, e.typedPeriod())
		case extTypedDateTime:
			isLCD := false
			for _, x := range e.sub("dateType") {
				isLCD = strings.EqualFold(x.code(), "LastChangeDate")
			}
			for _, x := range e.sub("dateTime") {
				if isLCD {
					rec.LastChange = parseDate(x.ValueDateTime)
				}
			}
		}
	}
	if rec.LastChange.IsZero() && r.Meta != nil {
		rec.LastChange = parseDate(r.Meta.LastUpdated)
	}
	if len(r.Address) > 0 {
		a := r.Address[0]
		rec.HasAddress = true
		lines := append([]string(nil), a.Line...)
		for len(lines) < 3 {
			lines = append(lines, "")
		}
		rec.Address = Address{Line1: lines[0], Line2: lines[1], Line3: strings.Join(lines[2:], ", "), Town: a.City,
			County: a.District, Postcode: a.PostalCode, Country: a.Country}
		rec.Address.Line3 = strings.Trim(rec.Address.Line3, ", ")
	}
	if r.Telecom != nil {
		rec.HasContacts = true
		for _, t := range r.Telecom {
			switch t.System {
			case "phone":
				rec.Phone = t.Value
			case "url":
				rec.Website = t.Value
			case "email":
				rec.Email = t.Value
			}
		}
	}
	return rec, nil
}

func (r fhirResource) rel() Rel {
	rel := Rel{Active: r.Active == nil || *r.Active, Target: r.ParticipatingOrganization.code()}
	for _, c := range r.Code {
		for _, cd := range c.Coding {
			if cd.Code != "" {
				rel.ID = strings.ToUpper(cd.Code)
			}
		}
	}
	for _, e := range r.Extension {
		if e.URL == extTypedPeriod {
			p := e.typedPeriod()
			if p.Type == "Operational" || rel.Start.IsZero() {
				rel.Start, rel.End = p.Start, p.End
			}
		}
	}
	return rel
}
