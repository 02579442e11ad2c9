package audit

import (
	"strings"
	"testing"
	"time"
)

func TestParseDate(t *testing.T) {
	today := Day(2025, time.June, 1)
	tests := []struct {
		in   string
		want time.Time
		err  string
	}{
		{"22/05/2024", Day(2024, 5, 22), ""},
		{" 2/5/2024 ", Day(2024, 5, 2), ""},
		{"22-05-2024", Day(2024, 5, 22), ""},
		{"22.05.2024", Day(2024, 5, 22), ""},
		{"22/05/24", Day(2024, 5, 22), ""},
		{"01/01/25", Day(2025, 1, 1), ""},
		{"01/01/26", Day(1926, 1, 1), ""}, // 2026 would be after this year
		{"01/01/99", Day(1999, 1, 1), ""},
		{"2024-05-22", Day(2024, 5, 22), ""},
		{"22/05/2024 00:00", Day(2024, 5, 22), ""},
		{"22/05/2024 00:00:00", Day(2024, 5, 22), ""},
		{"2024-05-22T00:00:00", Day(2024, 5, 22), ""},
		{"29/02/2024", Day(2024, 2, 29), ""},
		{"29/02/2023", time.Time{}, "not a real calendar date"},
		{"31/04/2024", time.Time{}, "not a real calendar date"},
		{"05/13/2024", time.Time{}, "not a real calendar date"}, // month-first is not accepted
		{"00/01/2024", time.Time{}, "not a real calendar date"},
		{"01/01/1899", time.Time{}, "not a real calendar date"},
		{"22/05/2024 10:30", time.Time{}, "not a date"},
		{"2024/05/22", time.Time{}, "not a date"},
		{"22/05/202", time.Time{}, "not a date"},
		{"22/05-2024", time.Time{}, "not a date"},
		{"45436", time.Time{}, "not a date"}, // an Excel serial number
		{"yesterday", time.Time{}, "not a date"},
		{"", time.Time{}, "not a date"},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			got, err := ParseDate(tt.in, today)
			if tt.err != "" {
				if err == nil || !strings.Contains(err.Error(), tt.err) {
					t.Fatalf("ParseDate(%q) = %v, %v; want error %q", tt.in, got, err, tt.err)
				}
				return
			}
			if err != nil || !got.Equal(tt.want) {
				t.Fatalf("ParseDate(%q) = %v, %v; want %v", tt.in, got, err, tt.want)
			}
		})
	}
}

func TestParseNumber(t *testing.T) {
	for in, want := range map[string]float64{"53": 53, " 53.0 ": 53, ".5": 0.5, "155.13": 155.13, "-1": -1} {
		if got, err := ParseNumber(in); err != nil || got != want {
			t.Errorf("ParseNumber(%q) = %v, %v", in, got, err)
		}
	}
	for _, in := range []string{"", "1,000", "58kg", "5e3", "NaN", "Inf", "0x10", "1 000", "12,5"} {
		if _, err := ParseNumber(in); err == nil {
			t.Errorf("ParseNumber(%q) accepted", in)
		}
	}
	if Round(155.15, 1) != 155.2 || Round(56.94, 1) != 56.9 || Round(7.345, 2) != 7.35 {
		t.Errorf("Round: %v %v %v", Round(155.15, 1), Round(56.94, 1), Round(7.345, 2))
	}
}

func TestNHSNumber(t *testing.T) {
	tests := []struct {
		in, want, err string
	}{
		{"7800713695", "7800713695", ""},
		{"780 071 3695", "7800713695", ""},
		{"780-071-3695", "7800713695", ""},
		{" 780\u00a0071\u00a03695 ", "7800713695", ""},
		{"9434765919", "9434765919", ""},
		{"7800713696", "", "check digit"},
		{"780071369", "", "10 digits"},
		{"78007136955", "", "10 digits"},
		{"780071369X", "", "10 digits"},
		{"7.800713695E+09", "", "scientific notation"},
		// 10 digits whose check digit would have to be 10: never valid.
		{"1000000010", "", "check digit"},
		{"1000000019", "", "check digit"},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			got, err := NormaliseNHSNumber(tt.in)
			if tt.err != "" {
				if err == nil || !strings.Contains(err.Error(), tt.err) {
					t.Fatalf("NormaliseNHSNumber(%q) = %q, %v; want error %q", tt.in, got, err, tt.err)
				}
				return
			}
			if err != nil || got != tt.want {
				t.Fatalf("NormaliseNHSNumber(%q) = %q, %v", tt.in, got, err)
			}
		})
	}
	// Every stem gets at most one check digit, and the one it gets passes.
	valid := 0
	for stem := 100000000; stem < 100001000; stem++ {
		n, ok := NHSNumberFrom(itoa9(stem))
		if ok {
			valid++
			if _, err := NormaliseNHSNumber(n); err != nil {
				t.Fatalf("NHSNumberFrom(%d) = %s, which fails: %v", stem, n, err)
			}
		}
	}
	if valid < 880 || valid > 940 { // 10 in 11 stems have a check digit
		t.Errorf("%d of 1000 stems have a check digit", valid)
	}
}

func itoa9(n int) string {
	s := ""
	for i := 0; i < 9; i++ {
		s = string(rune('0'+n%10)) + s
		n /= 10
	}
	return s
}

func TestPostcodeGPAndPDU(t *testing.T) {
	postcodes := map[string]string{
		"GU21 5JG": "GU21 5JG", "gu215jg": "GU21 5JG", "SW1A 1AA": "SW1A 1AA", "M1 1AE": "M1 1AE",
		"B14 4EJ": "B14 4EJ", "EC1A 1BB": "EC1A 1BB", "W1A 0AX": "W1A 0AX", "JE2 3QS": "JE2 3QS",
		"CR2 6XH": "CR2 6XH", "ZZ99 3VZ": "ZZ99 3VZ", "zz993cz": "ZZ99 3CZ",
	}
	for in, want := range postcodes {
		if got, err := NormalisePostcode(in); err != nil || got != want {
			t.Errorf("NormalisePostcode(%q) = %q, %v", in, got, err)
		}
	}
	for _, in := range []string{"", "GU21", "QQ1 1AA", "12345", "GU21 5JGG", "GU21 5CI", "SW1A-1AA-X"} {
		if _, err := NormalisePostcode(in); err == nil {
			t.Errorf("NormalisePostcode(%q) accepted", in)
		}
	}
	for in, want := range map[string]string{"G85023": "G85023", " g85023 ": "G85023", "W95010": "W95010"} {
		if got, err := NormaliseGPCode(in); err != nil || got != want {
			t.Errorf("NormaliseGPCode(%q) = %q, %v", in, got, err)
		}
	}
	for _, in := range []string{"G7103993", "85023", "GG85023", "G8502"} {
		if _, err := NormaliseGPCode(in); err == nil {
			t.Errorf("NormaliseGPCode(%q) accepted", in)
		}
	}
	for in, want := range map[string]string{
		"PZ041": "PZ041", "pz041": "PZ041", "PZ41": "PZ041", "41": "PZ041", "041": "PZ041", "41.0": "PZ041",
		"PZ041.0": "PZ041", " PZ 41 ": "PZ041", "PZ248": "PZ248", "7": "PZ007", "999": "PZ999",
	} {
		if got, err := ParsePZ(in); err != nil || got != want {
			t.Errorf("ParsePZ(%q) = %q, %v", in, got, err)
		}
	}
	for _, in := range []string{"", "PZ", "PZ0", "PZ1000", "RGT01", "41.5", "PZ-41"} {
		if got, err := ParsePZ(in); err == nil {
			t.Errorf("ParsePZ(%q) = %q, accepted", in, got)
		}
	}
	if NormalisePZ("rgt01") != "RGT01" {
		t.Errorf("NormalisePZ of a non-PZ code = %q", NormalisePZ("rgt01"))
	}
}

func TestCodeLists(t *testing.T) {
	tests := []struct {
		list *CodeList
		in   string
		want string
	}{
		{YesNoUnknown, "1", "1"}, {YesNoUnknown, "1.0", "1"}, {YesNoUnknown, "01", "1"}, {YesNoUnknown, " 99 ", "99"},
		{YesNoUnknown, "3", ""}, {YesNoUnknown, "Yes", ""}, {YesNoUnknown, "1.5", ""},
		{Sex2021, "M", "1"}, {Sex2021, "female", "2"}, {Sex2021, "9", "9"}, {Sex2021, "0", "0"},
		{Sex2026, "9", ""}, {Sex2026, "3", "3"},
		{Ethnicities, "a", "A"}, {Ethnicities, "Z", "Z"}, {Ethnicities, "99", "99"}, {Ethnicities, "I", ""}, {Ethnicities, "O", ""},
		{DiabetesTypes, "5", "5"}, {DiabetesTypes, "6", ""},
		{Treatments, "8", "8"}, {Treatments, "9", ""},
		{InsulinRegimens, "5", "5"}, {InsulinRegimens, "6", ""},
		{SmokingVapingStatuses, "4", "4"}, {SmokingStatuses, "4", ""},
		{AdmissionReasons, "6", "6"}, {AdmissionReasons, "99", ""},
	}
	for _, tt := range tests {
		got, ok := tt.list.Lookup(tt.in)
		if (tt.want == "") == ok || got.Value != tt.want {
			t.Errorf("%s.Lookup(%q) = %q, %v; want %q", tt.list.Name, tt.in, got.Value, ok, tt.want)
		}
	}
	if d := YesNoUnknown.Describe(); d != "1 = Yes, 2 = No, 99 = Unknown" {
		t.Errorf("Describe = %q", d)
	}
	if d := Treatments.Describe(); d != "1, 2, 3, 4, 5, 6, 7, 8 or 99" {
		t.Errorf("Describe of a long list = %q", d)
	}
}

func TestHeadingKey(t *testing.T) {
	same := [][2]string{
		{"Observation Date: Thyroid Function ", "observation date: thyroid function"},
		{"Sex assigned at birth   ", "Sex assigned at birth†††"},
		{"Has the patient been\u00a0recommended a Gluten-free\u00a0diet?", "Has the patient been recommended a Gluten-free diet?"},
		{"\"NHS Number\"", "NHS Number"},
		{"'NHS Number'", "nhs number"},
		{"\ufeffNHS Number", "NHS Number"},
		{"Foot Assessment/Examination Date", "Foot Assessment / Examination Date"},
		{"Systolic Blood Pressure††", "SYSTOLIC BLOOD PRESSURE"},
		{"Was the patient using (or trained to use) blood ketone testing equipment at time of visit?\ufffd\ufffd", "Was the patient using (or trained to use) blood ketone testing equipment at time of visit?"},
	}
	for _, p := range same {
		if HeadingKey(p[0]) != HeadingKey(p[1]) {
			t.Errorf("HeadingKey(%q) = %q, HeadingKey(%q) = %q", p[0], HeadingKey(p[0]), p[1], HeadingKey(p[1]))
		}
	}
	if HeadingKey("Date of Birth") == HeadingKey("Date of Death") {
		t.Error("different headings fold together")
	}
}
