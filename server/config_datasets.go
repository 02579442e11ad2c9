package main

import (
	"fmt"
	"net/url"
	"strings"

	"caregraph/sync/nhsdd"
	"caregraph/sync/schedule"
)

// datasetsConfig are the settings of the dataset syncs and their schedules.
type datasetsConfig struct {
	// NHSDDBaseURL replaces the host of the NHS Data Dictionary pages (NHS_DD_BASE_URL),
	// so that a mirror or a test server can stand in for the site.
	NHSDDBaseURL string
	// ExternalAPIURL is the RCPCH NHS Organisations API (EXTERNAL_DATASET_API_URL); when
	// empty the RCPCH lists are built from our own tables.
	ExternalAPIURL string
	// ExternalAPIKey is sent as Ocp-Apim-Subscription-Key (EXTERNAL_DATASET_API_KEY).
	// It is a secret: never logged or printed.
	ExternalAPIKey string
	// ScheduleNHSDD and ScheduleRCPCH are cron schedules in UTC, or "off"
	// (CAREGRAPH_SCHEDULE_NHSDD, weekly on Sundays at 05:00; CAREGRAPH_SCHEDULE_RCPCH,
	// daily at 04:00).
	ScheduleNHSDD string
	ScheduleRCPCH string
}

// loadDatasets reads the dataset settings into c.
func (c *config) loadDatasets(getenv func(string) string) error {
	c.NHSDDBaseURL = orDefault(strings.TrimSpace(getenv("NHS_DD_BASE_URL")), nhsdd.DefaultBaseURL)
	c.ExternalAPIURL = strings.TrimSpace(getenv("EXTERNAL_DATASET_API_URL"))
	c.ExternalAPIKey = strings.TrimSpace(getenv("EXTERNAL_DATASET_API_KEY"))
	c.ScheduleNHSDD = orDefault(strings.TrimSpace(getenv("CAREGRAPH_SCHEDULE_NHSDD")), "0 5 * * 0")
	c.ScheduleRCPCH = orDefault(strings.TrimSpace(getenv("CAREGRAPH_SCHEDULE_RCPCH")), "0 4 * * *")
	for name, v := range map[string]string{"NHS_DD_BASE_URL": c.NHSDDBaseURL, "EXTERNAL_DATASET_API_URL": c.ExternalAPIURL} {
		if v == "" {
			continue
		}
		u, err := url.Parse(v)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			return fmt.Errorf("%s: want an absolute http(s) URL, got %q", name, v)
		}
		if u.User != nil {
			return fmt.Errorf("%s: credentials do not belong in the URL (use EXTERNAL_DATASET_API_KEY)", name)
		}
	}
	for name, v := range map[string]string{"CAREGRAPH_SCHEDULE_NHSDD": c.ScheduleNHSDD, "CAREGRAPH_SCHEDULE_RCPCH": c.ScheduleRCPCH} {
		if err := schedule.Validate(v); err != nil {
			return fmt.Errorf("%s: %w (or \"off\")", name, err)
		}
	}
	return nil
}

// datasetsLogAttrs describe the dataset settings for the start-up log; the API key
// appears only as whether it is set.
func (c config) datasetsLogAttrs() []any {
	api := "not set: RCPCH lists from our own tables"
	if c.ExternalAPIURL != "" {
		api = c.ExternalAPIURL
	}
	key := "not set"
	if c.ExternalAPIKey != "" {
		key = "set"
	}
	return []any{"nhs_dd_base_url", c.NHSDDBaseURL, "external_dataset_api_url", api, "external_dataset_api_key", key,
		"schedule_nhsdd", c.ScheduleNHSDD, "schedule_rcpch", c.ScheduleRCPCH}
}
