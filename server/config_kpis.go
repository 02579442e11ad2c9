package main

import (
	"fmt"
	"strings"

	"caregraph/sync/schedule"
)

// kpisConfig is the schedule of the KPI aggregation.
type kpisConfig struct {
	// ScheduleKPIs is the nightly full recompute of every audit year with data, a cron
	// schedule in UTC or "off" (CAREGRAPH_SCHEDULE_KPIS, daily at 02:30). A unit's
	// activation recomputes it and the places above it in any case.
	ScheduleKPIs string
}

// loadKPIs reads the KPI settings into c.
func (c *config) loadKPIs(getenv func(string) string) error {
	c.ScheduleKPIs = orDefault(strings.TrimSpace(getenv("CAREGRAPH_SCHEDULE_KPIS")), "30 2 * * *")
	if err := schedule.Validate(c.ScheduleKPIs); err != nil {
		return fmt.Errorf("CAREGRAPH_SCHEDULE_KPIS: %w (or \"off\")", err)
	}
	return nil
}
