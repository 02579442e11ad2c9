package ods

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"caregraph/store"
	"caregraph/store/dbtest"
	"caregraph/sync/fetch"
)

// benchSites is the size of the benchmark: 20 trusts of 100 sites, every site changed.
const (
	benchTrusts        = 20
	benchSitesPerTrust = 100
)

func benchCodes() (trusts, sites []string) {
	for t := range benchTrusts {
		tc := fmt.Sprintf("X%02d", t)
		trusts = append(trusts, tc)
		for s := range benchSitesPerTrust {
			sites = append(sites, fmt.Sprintf("%s%02d", tc, s))
		}
	}
	return trusts, sites
}

func benchRegister(b *testing.B) *store.Store {
	st := store.New(dbtest.New(b).Pool)
	ctx := context.Background()
	trusts, sites := benchCodes()
	var orgs []store.NewOrganisation
	for _, c := range trusts {
		orgs = append(orgs, store.NewOrganisation{ODSCode: c, Kind: store.KindTrust, Attrs: store.OrgAttrs{Name: "TRUST " + c}})
	}
	for _, c := range sites {
		orgs = append(orgs, store.NewOrganisation{ODSCode: c, Kind: store.KindSite, Attrs: store.OrgAttrs{Name: "SITE " + c, Postcode: "AB1 2CD"}})
	}
	if _, err := st.CreateOrganisations(ctx, orgs); err != nil {
		b.Fatal(err)
	}
	err := st.InTx(ctx, func(tx *store.Store) error {
		for _, c := range sites {
			if _, err := tx.SetParent(ctx, c, c[:3], time.Time{}); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		b.Fatal(err)
	}
	return st
}

// The changed record of a site: a new name and postcode, the same trust.
func benchORDRecord(code string) string {
	return `{"Organisation": {"Name": "SITE ` + code + ` (RENAMED)", "OrgId": {"extension": "` + code + `"}, "Status": "Active",
      "LastChangeDate": "2026-11-01", "orgRecordClass": "RC2", "Date": [{"Type": "Operational", "Start": "1990-01-01"}],
      "GeoLoc": {"Location": {"AddrLn1": "1 HIGH STREET", "Town": "TOWN", "PostCode": "ZZ9 9ZZ", "Country": "ENGLAND"}},
      "Roles": {"Role": [{"id": "RO198", "primaryRole": true, "Status": "Active"}]},
      "Rels": {"Rel": [{"id": "RE6", "Status": "Active", "Date": [{"Type": "Operational", "Start": "1990-01-01"}],
        "Target": {"OrgId": {"extension": "` + code[:3] + `"}, "PrimaryRoleId": {"id": "RO197"}}}]}}}`
}

func benchFHIROrg(code string) string {
	return `{"resourceType": "Organization", "id": "` + code + `", "active": true, "name": "SITE ` + code + ` (RENAMED)",
      "identifier": [{"system": "https://fhir.nhs.uk/Id/ods-organization-code", "value": "` + code + `"}],
      "extension": [{"url": "https://fhir.nhs.uk/England/StructureDefinition/Extension-England-OrganisationRole",
        "extension": [{"url": "roleCode", "valueCodeableConcept": {"coding": [{"code": "RO198"}]}}, {"url": "primaryRole", "valueBoolean": true}]},
       {"url": "https://fhir.nhs.uk/England/StructureDefinition/Extension-England-TypedDateTime",
        "extension": [{"url": "dateType", "valueCoding": {"code": "LastChangeDate"}}, {"url": "dateTime", "valueDateTime": "2026-11-01"}]}],
      "address": [{"line": ["1 HIGH STREET"], "city": "TOWN", "postalCode": "ZZ9 9ZZ", "country": "ENGLAND"}]}`
}

func benchServer(b *testing.B, sites []string, n *atomic.Int64) *httptest.Server {
	var srv *httptest.Server
	srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n.Add(1)
		switch {
		case r.URL.Path == "/ord/sync":
			var links []string
			for _, c := range sites {
				links = append(links, `{"OrgLink": "https://x/ORD/2-0-0/organisations/`+c+`"}`)
			}
			for i := range 500 { // GP practices and pharmacies: listed, never fetched
				links = append(links, fmt.Sprintf(`{"OrgLink": "https://x/ORD/2-0-0/organisations/A%05d"}`, i))
			}
			_, _ = w.Write([]byte(`{"Organisations": [` + strings.Join(links, ",") + `]}`))
		case strings.HasPrefix(r.URL.Path, "/ord/organisations/"):
			_, _ = w.Write([]byte(benchORDRecord(strings.TrimPrefix(r.URL.Path, "/ord/organisations/"))))
		case r.URL.Path == "/ord/notifications":
			_, _ = w.Write([]byte(`{"DeletedOrganisations": []}`))
		case r.URL.Path == "/fhir/Organization":
			page, _ := strconv.Atoi(r.URL.Query().Get("page"))
			from, to := page*FHIRPageSize, min((page+1)*FHIRPageSize, len(sites))
			var entries []string
			for _, c := range sites[from:to] {
				entries = append(entries, `{"resource": `+benchFHIROrg(c)+`}`)
			}
			next := ""
			if to < len(sites) {
				next = `, {"relation": "next", "url": "` + srv.URL + `/fhir/Organization?page=` + strconv.Itoa(page+1) + `"}`
			}
			_, _ = w.Write([]byte(`{"resourceType": "Bundle", "link": [{"relation": "self", "url": "x"}` + next + `], "entry": [` + strings.Join(entries, ",") + `]}`))
		case r.URL.Path == "/fhir/OrganizationAffiliation":
			var entries []string
			for _, tok := range strings.Split(r.URL.Query().Get("primary-organization"), ",") {
				_, c, _ := strings.Cut(tok, "|")
				entries = append(entries, `{"resource": {"resourceType": "OrganizationAffiliation", "active": true,
                  "organization": {"identifier": {"value": "`+c+`"}}, "participatingOrganization": {"identifier": {"value": "`+c[:3]+`"}},
                  "code": [{"coding": [{"code": "RE6"}]}]}}`)
			}
			_, _ = w.Write([]byte(`{"resourceType": "Bundle", "entry": [` + strings.Join(entries, ",") + `]}`))
		case r.URL.Path == "/fhir/List":
			_, _ = w.Write([]byte(`{"resourceType": "Bundle", "entry": []}`))
		default:
			http.NotFound(w, r)
		}
	}))
	b.Cleanup(srv.Close)
	return srv
}

// BenchmarkSync2000 syncs 2,000 changed sites from a local server at the rate limit
// (ODS_BENCH_RATE requests a second, default 5) and reports the requests made and the
// target's bound, 1.1 × requests / 5 seconds, beside the time per run.
func BenchmarkSync2000(b *testing.B) {
	rate := 5.0
	if v := os.Getenv("ODS_BENCH_RATE"); v != "" {
		rate, _ = strconv.ParseFloat(v, 64)
	}
	for _, source := range []string{"fhir", "ord"} {
		b.Run(source, func(b *testing.B) {
			if source == "ord" && os.Getenv("ODS_BENCH_ORD") == "" {
				b.Skip("the ORD run makes 2,002 requests (400 s at 5 a second); set ODS_BENCH_ORD=1 to run it")
			}
			_, sites := benchCodes()
			var n atomic.Int64
			srv := benchServer(b, sites, &n)
			var elapsed time.Duration
			var requests int64
			for b.Loop() {
				b.StopTimer()
				st := benchRegister(b)
				n.Store(0)
				client := fetch.New(fetch.Options{RateLimit: rate, Burst: 1})
				var src Source = &FHIR{BaseURL: srv.URL + "/fhir", APIKey: "k", Client: client}
				if source == "ord" {
					src = &ORD{BaseURL: srv.URL + "/ord", Client: client}
				}
				sy := &Syncer{Store: st, Source: src, Now: func() time.Time { return time.Date(2026, 11, 21, 0, 0, 0, 0, time.UTC) }}
				b.StartTimer()
				start := time.Now()
				rep, err := sy.Run(context.Background(), Options{Since: time.Date(2026, 10, 1, 0, 0, 0, 0, time.UTC)})
				elapsed += time.Since(start)
				b.StopTimer()
				if err != nil || rep.Changed != len(sites) || rep.Failed != 0 {
					b.Fatalf("%v: %s", err, rep.Summary())
				}
				requests = n.Load()
				b.StartTimer()
			}
			b.ReportMetric(float64(requests), "requests")
			b.ReportMetric(1.1*float64(requests)/5, "bound-s")
			b.ReportMetric(elapsed.Seconds()/float64(b.N), "s/run")
		})
	}
}
