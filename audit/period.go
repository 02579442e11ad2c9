package audit

import (
	"fmt"
	"time"

	// Audit dates are UK dates: the zone database is embedded so that "today" is right
	// in containers without /usr/share/zoneinfo.
	_ "time/tzdata"
)

// FirstAuditYear is the earliest audit year caregraph accepts: the 2021 dataset came
// into use in April 2021.
const FirstAuditYear = 2021

// LastAuditYear bounds audit years from above so that a typo cannot create a
// submission for the year 20245.
const LastAuditYear = 2100

// UK is the time zone audit dates are read in.
var UK = loadUK()

func loadUK() *time.Location {
	loc, err := time.LoadLocation("Europe/London")
	if err != nil {
		return time.UTC
	}
	return loc
}

// Day returns the calendar date y-m-d as midnight UTC, the form every date in this
// package takes, so that dates compare with Before, After and Equal.
func Day(y int, m time.Month, d int) time.Time { return time.Date(y, m, d, 0, 0, 0, 0, time.UTC) }

// DateOf returns the UK calendar date of the instant t, as Day does.
func DateOf(t time.Time) time.Time {
	t = t.In(UK)
	return Day(t.Year(), t.Month(), t.Day())
}

// Period is an audit year: 1 April of Year to 31 March of the year after.
type Period struct {
	Year int
	// Start is 1 April of Year; End is 31 March of Year+1 (both included).
	Start, End time.Time
}

// PeriodOf returns the audit period of an audit year.
func PeriodOf(year int) Period {
	return Period{Year: year, Start: Day(year, time.April, 1), End: Day(year+1, time.March, 31)}
}

// PeriodContaining returns the audit period a date falls in.
func PeriodContaining(d time.Time) Period {
	d = Day(d.Year(), d.Month(), d.Day())
	if d.Month() < time.April {
		return PeriodOf(d.Year() - 1)
	}
	return PeriodOf(d.Year())
}

// ValidYear checks that year is an audit year caregraph knows a dataset for.
func ValidYear(year int) error {
	if year < FirstAuditYear || year > LastAuditYear {
		return fmt.Errorf("audit year must be between %d and %d (the year the audit period starts, e.g. 2024 for April 2024 to March 2025), got %d", FirstAuditYear, LastAuditYear, year)
	}
	return nil
}

// Label is the period as the audit writes it, e.g. "2024/25".
func (p Period) Label() string { return fmt.Sprintf("%d/%02d", p.Year, (p.Year+1)%100) }

// Contains reports whether the date d lies in the period (both ends included).
func (p Period) Contains(d time.Time) bool { return !d.Before(p.Start) && !d.After(p.End) }

// Quarter returns the quarter of the period d falls in: 1 for April–June, 2 for
// July–September, 3 for October–December and 4 for January–March; 0 outside.
func (p Period) Quarter(d time.Time) int {
	if !p.Contains(d) {
		return 0
	}
	months := (d.Year()-p.Year)*12 + int(d.Month()) - int(time.April)
	return months/3 + 1
}

// QuarterDates returns the first and last day of quarter q (1–4) of the period.
func (p Period) QuarterDates(q int) (first, last time.Time) {
	first = p.Start.AddDate(0, 3*(q-1), 0)
	return first, first.AddDate(0, 3, -1)
}

// Schedule says when an audit period is open for submissions: from its first day
// until its deadline, CloseMonths whole months after the period ends (by default the
// end of 30 June after the audit year). Deadlines may be moved per year.
type Schedule struct {
	// CloseMonths is how many months after the end of the period submissions close.
	CloseMonths int
	// Deadlines overrides the last day of submissions of some audit years.
	Deadlines map[int]time.Time
}

// DefaultSchedule closes each period at the end of 30 June after it ends.
var DefaultSchedule = Schedule{CloseMonths: 3}

// Deadline is the last day on which the period takes submissions.
func (s Schedule) Deadline(p Period) time.Time {
	if d, ok := s.Deadlines[p.Year]; ok {
		return d
	}
	// The day after End plus CloseMonths months, minus one day: 31 March + 3 months → 30 June.
	return p.End.AddDate(0, 0, 1).AddDate(0, s.CloseMonths, -1)
}

// PeriodStatus is whether a period takes submissions on a given day, and why.
type PeriodStatus struct {
	Period   Period
	Open     bool
	Deadline time.Time
	// Reason explains a closed period: not started yet, or past its deadline.
	Reason string
}

// Status returns whether p takes submissions on the UK date of now.
func (s Schedule) Status(p Period, now time.Time) PeriodStatus {
	today := DateOf(now)
	st := PeriodStatus{Period: p, Deadline: s.Deadline(p), Open: true}
	switch {
	case today.Before(p.Start):
		st.Open = false
		st.Reason = fmt.Sprintf("the %s audit period has not started yet (it opens on %s)", p.Label(), FormatDate(p.Start))
	case today.After(st.Deadline):
		st.Open = false
		st.Reason = fmt.Sprintf("the %s audit period closed for submissions after %s", p.Label(), FormatDate(st.Deadline))
	}
	return st
}

// FormatDate writes a date the way the CSV does: DD/MM/YYYY.
func FormatDate(d time.Time) string { return d.Format("02/01/2006") }
