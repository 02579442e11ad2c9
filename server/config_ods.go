package main

import (
	"fmt"
	"net/url"
	"strconv"
	"strings"

	"caregraph/sync/fetch"
	"caregraph/sync/ods"
	"caregraph/sync/schedule"
)

// odsConfig are the settings of the NHS ODS sync.
type odsConfig struct {
	// ODSSource is "ord" or "fhir" (ODS_SOURCE; default fhir when ODS_API_KEY is set, else ord).
	ODSSource string
	// ODSORDBaseURL is the ORD 2-0-0 API (ODS_ORD_BASE_URL).
	ODSORDBaseURL string
	// ODSFHIRBaseURL is the Organisation Data Terminology FHIR R4 API (ODS_FHIR_BASE_URL).
	ODSFHIRBaseURL string
	// ODSAPIKey is the FHIR API's key (ODS_API_KEY). A secret: never logged or printed.
	ODSAPIKey string
	// ODSRateLimit is requests per second to either API (ODS_RATE_LIMIT, default 5: NHS
	// England asks for no more).
	ODSRateLimit float64
	// ScheduleODS is the daily sync's cron schedule in UTC, or "off" (CAREGRAPH_SCHEDULE_ODS,
	// default 04:30).
	ScheduleODS string
}

func (c *config) loadODS(getenv func(string) string) error {
	c.ODSORDBaseURL = orDefault(strings.TrimSpace(getenv("ODS_ORD_BASE_URL")), ods.DefaultORDBaseURL)
	c.ODSFHIRBaseURL = orDefault(strings.TrimSpace(getenv("ODS_FHIR_BASE_URL")), ods.DefaultFHIRBaseURL)
	c.ODSAPIKey = strings.TrimSpace(getenv("ODS_API_KEY"))
	c.ODSSource = strings.ToLower(strings.TrimSpace(getenv("ODS_SOURCE")))
	if c.ODSSource == "" {
		c.ODSSource = "ord"
		if c.ODSAPIKey != "" {
			c.ODSSource = "fhir"
		}
	}
	if c.ODSSource != "ord" && c.ODSSource != "fhir" {
		return fmt.Errorf("ODS_SOURCE: want ord or fhir, got %q", c.ODSSource)
	}
	if c.ODSSource == "fhir" && c.ODSAPIKey == "" {
		return fmt.Errorf("ODS_SOURCE: the fhir source needs ODS_API_KEY")
	}
	for name, v := range map[string]string{"ODS_ORD_BASE_URL": c.ODSORDBaseURL, "ODS_FHIR_BASE_URL": c.ODSFHIRBaseURL} {
		u, err := url.Parse(v)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			return fmt.Errorf("%s: want an absolute http(s) URL, got %q", name, v)
		}
		if u.User != nil {
			return fmt.Errorf("%s: credentials do not belong in the URL (use ODS_API_KEY)", name)
		}
	}
	c.ODSRateLimit = 5
	if v := strings.TrimSpace(getenv("ODS_RATE_LIMIT")); v != "" {
		f, err := strconv.ParseFloat(v, 64)
		if err != nil || f <= 0 {
			return fmt.Errorf("ODS_RATE_LIMIT: want a positive number of requests per second, got %q", v)
		}
		c.ODSRateLimit = f
	}
	c.ScheduleODS = orDefault(strings.TrimSpace(getenv("CAREGRAPH_SCHEDULE_ODS")), "30 4 * * *")
	if err := schedule.Validate(c.ScheduleODS); err != nil {
		return fmt.Errorf("CAREGRAPH_SCHEDULE_ODS: %w (or \"off\")", err)
	}
	return nil
}

// odsSource builds the configured source with its own rate-limited client.
func (e env) odsSource() ods.Source {
	client := fetch.New(fetch.Options{UserAgent: "caregraph ods sync", Logger: e.logger, RateLimit: e.cfg.ODSRateLimit, Burst: 1})
	if e.cfg.ODSSource == "fhir" {
		return &ods.FHIR{BaseURL: e.cfg.ODSFHIRBaseURL, APIKey: e.cfg.ODSAPIKey, Client: client}
	}
	return &ods.ORD{BaseURL: e.cfg.ODSORDBaseURL, Client: client}
}

// odsLogAttrs describe the ODS settings for the start-up log; the key appears only as
// whether it is set.
func (c config) odsLogAttrs() []any {
	key := "not set"
	if c.ODSAPIKey != "" {
		key = "set"
	}
	base := c.ODSORDBaseURL
	if c.ODSSource == "fhir" {
		base = c.ODSFHIRBaseURL
	}
	return []any{"ods_source", c.ODSSource, "ods_base_url", base, "ods_api_key", key, "ods_rate_limit", c.ODSRateLimit,
		"schedule_ods", c.ScheduleODS}
}
