package audit

import (
	"bytes"
	"context"
	"errors"
	"slices"
	"strings"
	"testing"

	"golang.org/x/text/encoding/charmap"
	"golang.org/x/text/encoding/unicode"
)

func TestRejections(t *testing.T) {
	base := baseRow()
	valid := csvOf(Dataset2021, NHSNumber, base)
	header := string(valid[:bytes.IndexByte(valid, '\n')+1])
	line := string(valid[bytes.IndexByte(valid, '\n')+1:])
	swapHeading := func(from, to string) string { return strings.Replace(string(valid), from, to, 1) }
	tests := []struct {
		name     string
		data     string
		pz       string
		year     int
		reason   string
		message  string
		expected []string
		found    []string
		rows     []int
	}{
		{name: "empty", data: "", reason: RejectEmpty},
		{name: "blank lines only", data: "\n\n ,, \n", reason: RejectEmpty},
		{name: "xlsx", data: "PK\x03\x04rest of a zip", reason: RejectUnreadable, message: "Excel workbook (.xlsx)"},
		{name: "xls", data: "\xd0\xcf\x11\xe0\xa1\xb1", reason: RejectUnreadable, message: "old Excel workbook"},
		{name: "binary", data: "NHS Number\x00\x01", reason: RejectUnreadable, message: "binary"},
		{name: "bad BOM", data: "\xef\xbb\xbfNHS Number\xff\n", reason: RejectUnreadable, message: "byte order mark"},
		{name: "bare quote", data: header + strings.Replace(line, "GU21 5JG", `GU21 "5JG`, 1), reason: RejectUnreadable, message: "line 2"},
		{name: "no header", data: line + line, reason: RejectNoHeader, expected: []string{"NHS Number", "Date of Birth", "Postcode of usual address", "Stated gender", "Ethnic Category", "…"}},
		{name: "header only", data: header, reason: RejectNoRows},
		{name: "header and blank rows", data: header + ",,,\n\n", reason: RejectNoRows},
		{name: "missing column", data: strings.Replace(swapHeading("Death Date,", ""), ",,,,G85023", ",,,G85023", 1), reason: RejectMissingColumns,
			expected: []string{"Death Date"}, found: []string{"51 of the 52 columns, without those expected"}},
		{name: "extra column", data: strings.Replace(header, "\n", ",My notes\n", 1) + strings.Replace(line, "\n", ",note\n", 1), reason: RejectExtraColumns,
			expected: []string{"only the 52 columns of the 2021 dataset"}, found: []string{"My notes"}},
		{name: "renamed column", data: swapHeading("Death Date", "Date of Death"), reason: RejectMissingColumns,
			expected: []string{"Death Date"}, found: []string{"Date of Death"}},
		{name: "duplicate column", data: swapHeading("Death Date", "DOB"), reason: RejectDuplicateColumns, message: `"DOB" (columns B and J)`},
		{name: "no identifier column", data: swapHeading("NHS Number", "Patient ID"), reason: RejectNoIdentifier, expected: []string{"NHS Number"}},
		{name: "both identifiers", data: strings.Replace(header, "\n", ",Unique Reference Number\n", 1) + strings.Replace(line, "\n", ",X1\n", 1),
			reason: RejectBothIdentifiers},
		{name: "URN for an English unit", data: string(csvOf(Dataset2021, UniqueReferenceNumber, base)), reason: RejectWrongIdentifier,
			expected: []string{"NHS Number"}, found: []string{"Unique Reference Number"}},
		{name: "NHS number for Jersey", data: string(csvOf(Dataset2021, NHSNumber, base.with(row{PDUNumber: "PZ248"}))), pz: "PZ248", reason: RejectWrongIdentifier,
			expected: []string{"Unique Reference Number"}, message: "Jersey"},
		{name: "row without identifier", data: string(csvOf(Dataset2021, NHSNumber, base, base.with(row{NHSNumber: " "}), base, base.with(row{NHSNumber: ""}))),
			reason: RejectMissingIdentifier, rows: []int{3, 5}, message: "rows 3, 5 have no NHS Number"},
		{name: "two PDU numbers", data: string(csvOf(Dataset2021, NHSNumber, base, base.with(row{PDUNumber: "PZ042"}))), reason: RejectSeveralPDUs,
			expected: []string{"PZ041"}, found: []string{"PZ041 (2)", "PZ042 (3)"}},
		{name: "another unit's PDU number", data: string(csvOf(Dataset2021, NHSNumber, base.with(row{PDUNumber: "42.0"}))), reason: RejectWrongPDU,
			expected: []string{"PZ041"}, found: []string{"PZ042"}, rows: []int{2}},
		{name: "too many cells", data: header + line + strings.Replace(line, "\n", ",surprise\n", 1), reason: RejectTooManyCells, rows: []int{3}},
		{name: "values under a blank heading", data: strings.Replace(header, "\n", ",\n", 1) + strings.Replace(line, "\n", ",x\n", 1), reason: RejectExtraColumns,
			rows: []int{2}, message: "without a heading"},
		{name: "2026 file in 2024/25", data: string(csvOf(Dataset2026, NHSNumber, baseRow2026())), reason: RejectMissingColumns,
			message: "looks like the 2026 dataset"},
		{name: "2021 file in 2026/27", data: string(valid), year: 2026, reason: RejectMissingColumns, message: "looks like the 2021 dataset"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if tt.pz == "" {
				tt.pz = "PZ041"
			}
			if tt.year == 0 {
				tt.year = 2024
			}
			_, err := readAll(t, []byte(tt.data), Options{PZCode: tt.pz, AuditYear: tt.year})
			r, ok := IsRejection(err)
			if !ok {
				t.Fatalf("err = %v, want a rejection %s", err, tt.reason)
			}
			if r.Reason != tt.reason || !strings.Contains(r.Message, tt.message) || r.Message == "" {
				t.Errorf("rejection %s: %q; want %s containing %q", r.Reason, r.Message, tt.reason, tt.message)
			}
			if tt.expected != nil && !slices.Equal(r.Expected, tt.expected) {
				t.Errorf("expected %q, want %q", r.Expected, tt.expected)
			}
			if tt.found != nil && !slices.Equal(r.Found, tt.found) {
				t.Errorf("found %q, want %q", r.Found, tt.found)
			}
			if tt.rows != nil && !slices.Equal(r.Rows, tt.rows) {
				t.Errorf("rows %v, want %v", r.Rows, tt.rows)
			}
			if len(r.Expected) == 0 || len(r.Found) == 0 {
				t.Errorf("a rejection must show what was expected and what was found: %+v", r)
			}
		})
	}
}

func TestRejectionListsAtMostTwentyRows(t *testing.T) {
	rows := []row{baseRow()}
	for i := 0; i < 30; i++ {
		rows = append(rows, baseRow().with(row{NHSNumber: ""}))
	}
	_, err := readAll(t, csvOf(Dataset2021, NHSNumber, rows...), Options{PZCode: "PZ041", AuditYear: 2024})
	r, ok := IsRejection(err)
	if !ok || len(r.Rows) != MaxRejectionRows || !strings.Contains(r.Message, "and maybe more") || !strings.Contains(r.Found[0], "20 or more rows") {
		t.Fatalf("%v %+v", err, r)
	}
}

func TestEncodingsAndLayouts(t *testing.T) {
	base := baseRow().with(row{AdmissionDate: "01/06/2024", DischargeDate: "03/06/2024", AdmissionReason: "6", AdmissionReasonOther: "Café visit – fell ill"})
	plain := csvOf(Dataset2021, NHSNumber, base)
	win1252, err := charmap.Windows1252.NewEncoder().Bytes(plain)
	if err != nil {
		t.Fatal(err)
	}
	utf16, err := unicode.UTF16(unicode.LittleEndian, unicode.UseBOM).NewEncoder().Bytes(csvWith(Dataset2021, NHSNumber, '\t', base))
	if err != nil {
		t.Fatal(err)
	}
	// Headings as people write them: odd case, non-breaking spaces, daggers, quotes.
	messy := strings.NewReplacer(
		"NHS Number", `"nhs number"`,
		"Date of Birth", "DATE OF BIRTH",
		"Stated gender", "Stated\u00a0gender ",
		"Ethnic Category", " Ethnic  Category†",
		"Systolic Blood Pressure", "Systolic Blood Pressure††",
	).Replace(string(plain))
	// Columns in another order: swap the first two columns throughout.
	var swapped bytes.Buffer
	for _, l := range strings.SplitAfter(string(plain), "\n") {
		if l == "" {
			continue
		}
		cells := strings.SplitN(l, ",", 3)
		swapped.WriteString(cells[1] + "," + cells[0] + "," + cells[2])
	}
	tests := []struct {
		name     string
		data     []byte
		encoding string
	}{
		{"UTF-8", plain, "UTF-8"},
		{"UTF-8 with BOM", append([]byte("\xef\xbb\xbf"), plain...), "UTF-8 with BOM"},
		{"Windows-1252", win1252, "Windows-1252"},
		{"UTF-16 tab-separated", utf16, "UTF-16"},
		{"semicolons", csvWith(Dataset2021, NHSNumber, ';', base), "UTF-8"},
		{"CRLF line ends", bytes.ReplaceAll(plain, []byte("\n"), []byte("\r\n")), "UTF-8"},
		{"messy headings", []byte(messy), "UTF-8"},
		{"columns reordered", swapped.Bytes(), "UTF-8"},
		{"blank rows and trailing empty columns", []byte(strings.Replace(string(plain), "\n", ",,\n\n,,,,\n", -1)), "UTF-8"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res := mustRead(t, tt.data, Options{PZCode: "PZ041", AuditYear: 2024})
			if res.file.Encoding != tt.encoding {
				t.Errorf("encoding %q, want %q", res.file.Encoding, tt.encoding)
			}
			if len(res.issues) > 0 {
				t.Errorf("issues:%s", describeIssues(res.issues))
			}
			if len(res.visits) != 1 {
				t.Fatalf("%d visits", len(res.visits))
			}
			v := res.visits[0]
			if got := v.Values[AdmissionReasonOther].Text; got != "Café visit – fell ill" {
				t.Errorf("free text read as %q", got)
			}
			if got := v.Cells[0]; got != "780 071 3695" {
				t.Errorf("raw identifier cell %q", got)
			}
			if got := v.Patient.Values[NHSNumber].Text; got != "7800713695" {
				t.Errorf("identifier %q", got)
			}
		})
	}
}

func TestReadStopsWhenCancelled(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_, err := Read(ctx, csvOf(Dataset2021, NHSNumber, baseRow()), Options{PZCode: "PZ041", AuditYear: 2024, Today: testToday})
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("err = %v", err)
	}
}
