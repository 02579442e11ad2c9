package audit

import (
	"strings"
	"testing"
	"time"
)

func TestPeriodOf(t *testing.T) {
	p := PeriodOf(2024)
	if !p.Start.Equal(Day(2024, time.April, 1)) || !p.End.Equal(Day(2025, time.March, 31)) {
		t.Fatalf("PeriodOf(2024) = %v to %v", p.Start, p.End)
	}
	if p.Label() != "2024/25" || PeriodOf(2099).Label() != "2099/00" {
		t.Errorf("labels %q %q", p.Label(), PeriodOf(2099).Label())
	}
	tests := []struct {
		date    time.Time
		in      bool
		quarter int
		year    int
	}{
		{Day(2024, time.March, 31), false, 0, 2023},
		{Day(2024, time.April, 1), true, 1, 2024},
		{Day(2024, time.June, 30), true, 1, 2024},
		{Day(2024, time.July, 1), true, 2, 2024},
		{Day(2024, time.September, 30), true, 2, 2024},
		{Day(2024, time.October, 1), true, 3, 2024},
		{Day(2024, time.December, 31), true, 3, 2024},
		{Day(2025, time.January, 1), true, 4, 2024},
		{Day(2025, time.March, 31), true, 4, 2024},
		{Day(2025, time.April, 1), false, 0, 2025},
	}
	for _, tt := range tests {
		t.Run(FormatDate(tt.date), func(t *testing.T) {
			if got := p.Contains(tt.date); got != tt.in {
				t.Errorf("Contains = %v, want %v", got, tt.in)
			}
			if got := p.Quarter(tt.date); got != tt.quarter {
				t.Errorf("Quarter = %d, want %d", got, tt.quarter)
			}
			if got := PeriodContaining(tt.date).Year; got != tt.year {
				t.Errorf("PeriodContaining = %d, want %d", got, tt.year)
			}
		})
	}
	for q, want := range map[int][2]time.Time{
		1: {Day(2024, 4, 1), Day(2024, 6, 30)}, 2: {Day(2024, 7, 1), Day(2024, 9, 30)},
		3: {Day(2024, 10, 1), Day(2024, 12, 31)}, 4: {Day(2025, 1, 1), Day(2025, 3, 31)},
	} {
		first, last := p.QuarterDates(q)
		if !first.Equal(want[0]) || !last.Equal(want[1]) {
			t.Errorf("QuarterDates(%d) = %s–%s", q, FormatDate(first), FormatDate(last))
		}
	}
}

func TestValidYearAndDataset(t *testing.T) {
	for _, tt := range []struct {
		year    int
		ok      bool
		version int
	}{{2020, false, 0}, {2021, true, 2021}, {2024, true, 2021}, {2025, true, 2021}, {2026, true, 2026}, {2030, true, 2026}, {2101, false, 0}} {
		err := ValidYear(tt.year)
		if (err == nil) != tt.ok {
			t.Errorf("ValidYear(%d) = %v", tt.year, err)
		}
		if tt.ok && DatasetFor(tt.year).Version != tt.version {
			t.Errorf("DatasetFor(%d) = %d, want %d", tt.year, DatasetFor(tt.year).Version, tt.version)
		}
	}
}

func TestScheduleStatus(t *testing.T) {
	p := PeriodOf(2024)
	london := func(y int, m time.Month, d, h int) time.Time { return time.Date(y, m, d, h, 0, 0, 0, UK) }
	tests := []struct {
		name   string
		s      Schedule
		now    time.Time
		open   bool
		reason string
	}{
		{"before the period", DefaultSchedule, london(2024, time.March, 31, 23), false, "has not started"},
		{"first day", DefaultSchedule, london(2024, time.April, 1, 0), true, ""},
		{"during the year", DefaultSchedule, london(2024, time.November, 5, 12), true, ""},
		{"after the year, before the deadline", DefaultSchedule, london(2025, time.May, 1, 9), true, ""},
		{"last day of the deadline, late evening", DefaultSchedule, london(2025, time.June, 30, 23), true, ""},
		{"after the deadline", DefaultSchedule, london(2025, time.July, 1, 0), false, "closed for submissions after 30/06/2025"},
		{"deadline moved", Schedule{CloseMonths: 3, Deadlines: map[int]time.Time{2024: Day(2025, time.September, 30)}}, london(2025, time.August, 1, 9), true, ""},
		// 23:30 UTC on 30 June is 00:30 on 1 July in London (summer time).
		{"UK date, not UTC", DefaultSchedule, time.Date(2025, time.June, 30, 23, 30, 0, 0, time.UTC), false, "closed"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			st := tt.s.Status(p, tt.now)
			if st.Open != tt.open || (tt.reason != "" && !strings.Contains(st.Reason, tt.reason)) {
				t.Errorf("Status = open %v (%q), want open %v (%q)", st.Open, st.Reason, tt.open, tt.reason)
			}
		})
	}
	if d := DefaultSchedule.Deadline(PeriodOf(2027)); !d.Equal(Day(2028, time.June, 30)) {
		t.Errorf("deadline of 2027/28 = %s", FormatDate(d))
	}
}
