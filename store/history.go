package store

import "time"

// Day returns the calendar date of t (its year, month and day where t was recorded) as
// midnight UTC, the one form dates take in keys, so that equal dates compare equal.
func Day(t time.Time) time.Time {
	y, m, d := t.Date()
	return time.Date(y, m, d, 0, 0, 0, 0, time.UTC)
}

// versionsOfK is a subquery for the versions that describe the organisations of k(id, d)
// on their dates: for each, the latest version that began on or before the date. When
// the organisation had closed by then, that is its last version (and its range does not
// contain the date); one that had not begun yet has none. All keys are served at once
// with one sort, which beats a lookup per key for the long lists this serves. Join it on
// v.organisation_id = k.id AND v.d = k.d. (kvCTE is the same rule as a CTE.)
const versionsOfK = `(
    SELECT DISTINCT ON (kk.id, kk.d) kk.d AS d, v.*
    FROM (SELECT DISTINCT id, d FROM k) kk
    JOIN organisation_versions v ON v.organisation_id = kk.id AND (lower_inf(v.valid) OR lower(v.valid) <= kk.d)
    ORDER BY kk.id, kk.d, lower(v.valid) DESC NULLS LAST)`
