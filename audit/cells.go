package audit

import (
	"errors"
	"math"
	"regexp"
	"strconv"
	"strings"
	"time"
)

// Cell problems found while reading a single value. Their text is what the user sees;
// it never repeats the cell's value, so that error reports carry no patient data beyond
// what the file itself holds.
var (
	errNotDate     = errors.New("not a date: write dates day first, as DD/MM/YYYY (or DD/MM/YY)")
	errNoSuchDate  = errors.New("not a real calendar date (check the day and month: dates are read day first, DD/MM/YYYY)")
	errNotNumber   = errors.New("not a number")
	errNHSLength   = errors.New("not a valid NHS number: it must have 10 digits (spaces and dashes are allowed between them)")
	errNHSCheck    = errors.New("not a valid NHS number: the check digit does not match (modulus 11); check for a mistyped digit")
	errNHSExcel    = errors.New("not a valid NHS number: it looks like a spreadsheet turned it into a number in scientific notation (format the column as text)")
	errPostcode    = errors.New("not a valid UK postcode (for example SW1A 1AA)")
	errGPCode      = errors.New("not a GP practice ODS code: expected a letter followed by five digits (for example G85023)")
	errPDU         = errors.New("not a PDU number: expected PZ followed by three digits (for example PZ041)")
	errURN         = errors.New("not a valid Unique Reference Number: up to 20 letters, digits, spaces, dashes or slashes")
	errWholeNumber = errors.New("must be a whole number")
	errTextTooLong = errors.New("is too long")
)

var (
	// UK postcodes (including the Crown dependencies and BFPO-style non-geographic
	// codes), compared without spaces.
	rePostcode = regexp.MustCompile(`^(?:GIR0AA|(?:[A-PR-UWYZ][0-9][0-9]?|[A-PR-UWYZ][A-HK-Y][0-9][0-9]?|[A-PR-UWYZ][0-9][A-HJKPSTUW]|[A-PR-UWYZ][A-HK-Y][0-9][ABEHMNPRVWXY])[0-9][ABD-HJLNP-UW-Z]{2})$`)
	reGPCode   = regexp.MustCompile(`^[A-Z][0-9]{5}$`)
	reURN      = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9 /\-]{0,19}$`)
)

// UnknownPostcodes are the NHS pseudo-postcodes for no fixed abode or an unknown
// address; they are valid entries that no lookup can place.
var UnknownPostcodes = map[string]bool{
	"ZZ993CZ": true, "ZZ993GZ": true, "ZZ993HZ": true, "ZZ993VZ": true, "ZZ993WZ": true, "ZZ994QZ": true,
}

// ParseDate reads a day-first date: DD/MM/YYYY or DD/MM/YY (also with - or . between
// the parts, single-digit days and months, and a midnight time as spreadsheets write
// it), or an ISO date YYYY-MM-DD. A two-digit year is in this century unless that
// would put it after the current year of today, then in the last.
func ParseDate(s string, today time.Time) (time.Time, error) {
	s = strings.TrimSpace(s)
	if i := strings.IndexAny(s, " T"); i > 0 {
		if !isMidnight(strings.TrimSpace(s[i+1:])) {
			return time.Time{}, errNotDate
		}
		s = s[:i]
	}
	var y, m, d int
	if len(s) == 10 && s[4] == '-' && s[7] == '-' && allDigits(s[:4]) && allDigits(s[5:7]) && allDigits(s[8:]) {
		y, m, d = atoi(s[:4]), atoi(s[5:7]), atoi(s[8:])
	} else {
		sep := strings.IndexAny(s, "/-.")
		if sep < 0 {
			return time.Time{}, errNotDate
		}
		parts := strings.Split(s, s[sep:sep+1])
		if len(parts) != 3 || len(parts[0]) < 1 || len(parts[0]) > 2 || len(parts[1]) < 1 || len(parts[1]) > 2 ||
			(len(parts[2]) != 2 && len(parts[2]) != 4) || !allDigits(parts[0]) || !allDigits(parts[1]) || !allDigits(parts[2]) {
			return time.Time{}, errNotDate
		}
		d, m, y = atoi(parts[0]), atoi(parts[1]), atoi(parts[2])
		if len(parts[2]) == 2 {
			y += 2000
			if y > today.Year() {
				y -= 100
			}
		}
	}
	if y < 1900 || m < 1 || m > 12 || d < 1 {
		return time.Time{}, errNoSuchDate
	}
	t := Day(y, time.Month(m), d)
	if t.Day() != d {
		return time.Time{}, errNoSuchDate
	}
	return t, nil
}

// isMidnight accepts the time part spreadsheets add to dates: 00:00, 0:00, 00:00:00
// or 00:00:00.000.
func isMidnight(s string) bool {
	switch s {
	case "00:00", "0:00", "00:00:00", "0:00:00", "00:00:00.000", "00:00:00.0":
		return true
	}
	return false
}

func allDigits(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

func atoi(s string) int {
	n := 0
	for i := 0; i < len(s); i++ {
		n = n*10 + int(s[i]-'0')
	}
	return n
}

// ParseNumber reads a decimal number such as 53, 53.0 or .5. Thousands separators,
// units and decimal commas are refused.
func ParseNumber(s string) (float64, error) {
	s = strings.TrimSpace(s)
	if s == "" || strings.ContainsAny(s, "eExXpP_ ,") || strings.EqualFold(s, "nan") || strings.Contains(strings.ToLower(s), "inf") {
		return 0, errNotNumber
	}
	v, err := strconv.ParseFloat(s, 64)
	if err != nil || math.IsNaN(v) || math.IsInf(v, 0) {
		return 0, errNotNumber
	}
	return v, nil
}

// Round rounds v to n decimal places, halves away from zero.
func Round(v float64, n int) float64 {
	if n < 0 {
		return v
	}
	p := math.Pow(10, float64(n))
	return math.Round(v*p) / p
}

// NormaliseNHSNumber strips spaces and dashes from an NHS number and checks its ten
// digits with the modulus 11 algorithm: the first nine digits are weighted 10 down to
// 2, and 11 minus the remainder of their sum divided by 11 (0 when that is 11) must equal
// the tenth digit; a result of 10 is never valid.
func NormaliseNHSNumber(s string) (string, error) {
	s = strings.TrimSpace(s)
	if strings.ContainsAny(s, "eE+") && strings.ContainsAny(s, "0123456789") && !strings.ContainsAny(s, "-/ ") {
		if _, err := strconv.ParseFloat(s, 64); err == nil {
			return "", errNHSExcel
		}
	}
	var b strings.Builder
	for _, r := range s {
		switch {
		case r >= '0' && r <= '9':
			b.WriteRune(r)
		case r == ' ' || r == '-' || r == '\u00a0':
		default:
			return "", errNHSLength
		}
	}
	digits := b.String()
	if len(digits) != 10 {
		return "", errNHSLength
	}
	if !NHSNumberCheckDigitOK(digits) {
		return "", errNHSCheck
	}
	return digits, nil
}

// NHSNumberCheckDigitOK reports whether ten digits pass the modulus 11 check.
func NHSNumberCheckDigitOK(digits string) bool {
	if len(digits) != 10 {
		return false
	}
	sum := 0
	for i := 0; i < 9; i++ {
		sum += int(digits[i]-'0') * (10 - i)
	}
	check := 11 - sum%11
	if check == 11 {
		check = 0
	}
	return check != 10 && check == int(digits[9]-'0')
}

// IdentifierKey is how rows are grouped into patients: an NHS number with its spaces
// and dashes removed, a Unique Reference Number upper-cased and trimmed. It is computed
// for invalid identifiers too, so that the rows of a patient stay together.
func IdentifierKey(id Field, s string) string {
	s = strings.TrimSpace(s)
	if id == NHSNumber {
		return strings.Map(func(r rune) rune {
			if r == ' ' || r == '-' || r == '\u00a0' {
				return -1
			}
			return r
		}, s)
	}
	return strings.ToUpper(s)
}

// NormaliseURN checks a Unique Reference Number.
func NormaliseURN(s string) (string, error) {
	s = strings.TrimSpace(s)
	if !reURN.MatchString(s) {
		return "", errURN
	}
	return strings.ToUpper(s), nil
}

// NormalisePostcode upper-cases a postcode, checks its form and writes it with one
// space before the inward code (SW1A1AA → SW1A 1AA).
func NormalisePostcode(s string) (string, error) {
	compact := strings.ToUpper(strings.Map(func(r rune) rune {
		if r == ' ' || r == '\u00a0' || r == '-' || r == '\t' {
			return -1
		}
		return r
	}, s))
	if !UnknownPostcodes[compact] && !rePostcode.MatchString(compact) {
		return "", errPostcode
	}
	return compact[:len(compact)-3] + " " + compact[len(compact)-3:], nil
}

// NormaliseGPCode upper-cases and checks a GP practice ODS code.
func NormaliseGPCode(s string) (string, error) {
	code := strings.ToUpper(strings.TrimSpace(s))
	if !reGPCode.MatchString(code) {
		return "", errGPCode
	}
	return code, nil
}

// NormalisePZ writes a PDU number the canonical way, PZ and three digits, accepting the
// spellings files carry: with or without PZ (any case), with or without leading zeros,
// with a trailing ".0" left by a spreadsheet (41, 041, PZ41, pz041, 41.0 → PZ041). It
// returns the input trimmed and upper-cased when it is not a PDU number at all.
func NormalisePZ(s string) string {
	code, err := ParsePZ(s)
	if err != nil {
		return strings.ToUpper(strings.TrimSpace(s))
	}
	return code
}

// ParsePZ is NormalisePZ with an error for input that is not a PDU number.
func ParsePZ(s string) (string, error) {
	t := strings.ToUpper(strings.TrimSpace(s))
	t = strings.TrimPrefix(t, "PZ")
	t = strings.TrimSpace(t)
	if n, ok := wholeNumber(t); ok {
		t = n
	} else {
		return "", errPDU
	}
	if len(t) > 3 || t == "0" {
		return "", errPDU
	}
	v, _ := strconv.Atoi(t)
	return "PZ" + leftPad3(v), nil
}

func leftPad3(v int) string {
	s := strconv.Itoa(v)
	for len(s) < 3 {
		s = "0" + s
	}
	return s
}

// NHSNumberFrom completes nine digits with their check digit; ok is false for the one
// in eleven nine-digit stems that no check digit makes valid.
func NHSNumberFrom(nine string) (string, bool) {
	if len(nine) != 9 || !allDigits(nine) {
		return "", false
	}
	for c := byte('0'); c <= '9'; c++ {
		if n := nine + string(c); NHSNumberCheckDigitOK(n) {
			return n, true
		}
	}
	return "", false
}
