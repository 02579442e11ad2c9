package audit

import (
	"bytes"
	"context"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"slices"
	"sort"
	"strings"
	"time"
	"unicode/utf8"

	"golang.org/x/text/encoding/charmap"
	"golang.org/x/text/encoding/unicode"
)

// MaxRejectionRows bounds how many row numbers a rejection lists.
const MaxRejectionRows = 20

// Rejection reasons: whole-file problems. A rejected file is not stored at all.
const (
	RejectUnreadable        = "unreadable"
	RejectEmpty             = "empty"
	RejectNoHeader          = "no_header"
	RejectMissingColumns    = "missing_columns"
	RejectExtraColumns      = "extra_columns"
	RejectDuplicateColumns  = "duplicate_columns"
	RejectNoIdentifier      = "no_identifier_column"
	RejectBothIdentifiers   = "both_identifier_columns"
	RejectWrongIdentifier   = "wrong_identifier_column"
	RejectMissingIdentifier = "row_without_identifier"
	RejectSeveralPDUs       = "several_pdu_numbers"
	RejectWrongPDU          = "wrong_pdu_number"
	RejectTooManyCells      = "too_many_cells"
	RejectNoRows            = "no_rows"
	// RejectClosedPeriod and RejectForbidden are decided by the caller (the audit
	// period schedule and the access policy), before the file is read.
	RejectClosedPeriod = "closed_period"
	RejectForbidden    = "forbidden"
)

// Rejection is a whole-file problem: the file is refused and nothing of it is kept.
// Expected and Found show what the file should have had beside what it had.
type Rejection struct {
	Reason   string
	Message  string
	Expected []string
	Found    []string
	// Rows are the row numbers at fault (at most MaxRejectionRows), when rows are.
	Rows []int
}

func (r *Rejection) Error() string { return r.Message }

// IsRejection returns the rejection err holds, if any.
func IsRejection(err error) (*Rejection, bool) {
	var r *Rejection
	ok := errors.As(err, &r)
	return r, ok
}

// Options say which unit and audit year a file is read for.
type Options struct {
	// PZCode is the unit the file is submitted for.
	PZCode string
	// AuditYear is the year the audit period starts.
	AuditYear int
	// Today is the date the file is read on (dates after it are in the future).
	Today time.Time
	// Lookups are the outside services; nil fields are not consulted ("not checked").
	Lookups Lookups
}

// File is an upload read and checked as a whole (the first pass): its header matched to
// the dataset, its rows grouped into patients and the patients' rows merged. The visits
// are read by a second pass over the text, through Visits, so that a large file is never
// held in memory twice.
type File struct {
	Dataset    *Dataset
	Period     Period
	Identifier Field
	// Encoding is how the file was written: UTF-8, UTF-8 with BOM, UTF-16 or Windows-1252.
	Encoding  string
	Delimiter rune
	// Headings are the file's own header cells.
	Headings []string
	// Columns are the dataset's columns for the file's identifier, in template order;
	// Visit.Cells follow this order.
	Columns []Column
	// Rows is the number of data rows (blank rows are skipped and not counted).
	Rows     int
	Patients []*Patient
	// Issues are the problems of patient-level cells, merge conflicts and cross-field
	// rules of patients, ordered by row. Visit-level issues come with each Visit.
	Issues []Issue

	opts       Options
	text       []byte
	fileCol    []int   // file column → index in Columns, -1 for an ignored blank column
	rowPatient []int32 // data row (in file order) → patient index
}

// Read decodes a CSV upload, matches its header to the dataset of the audit year,
// rejects the whole file for structural problems (as a *Rejection), groups its rows by
// patient and merges each patient's rows. It reads every row once; Visits reads them
// again.
func Read(ctx context.Context, data []byte, opts Options) (*File, error) {
	if err := ValidYear(opts.AuditYear); err != nil {
		return nil, err
	}
	if opts.Today.IsZero() {
		opts.Today = DateOf(time.Now())
	}
	opts.PZCode = NormalisePZ(opts.PZCode)
	text, enc, err := decode(data)
	if err != nil {
		return nil, err
	}
	f := &File{
		Dataset:   DatasetFor(opts.AuditYear),
		Period:    PeriodOf(opts.AuditYear),
		Encoding:  enc,
		Delimiter: sniffDelimiter(text),
		opts:      opts,
		text:      text,
	}
	r := f.newCSV()
	header, err := readHeader(r)
	if err != nil {
		return nil, err
	}
	f.Headings = slices.Clone(header)
	if err := f.matchHeader(header); err != nil {
		return nil, err
	}
	pass, err := f.firstPass(ctx, r)
	if err != nil {
		return nil, err
	}
	if err := f.merge(ctx, pass); err != nil {
		return nil, err
	}
	return f, nil
}

func (f *File) newCSV() *csv.Reader {
	r := csv.NewReader(bytes.NewReader(f.text))
	r.Comma = f.Delimiter
	r.FieldsPerRecord = -1
	r.ReuseRecord = true
	return r
}

// decode turns the upload into UTF-8: UTF-8 with or without a byte order mark as it is,
// UTF-16 with a byte order mark decoded, anything else read as Windows-1252 (what Excel
// writes on a UK machine). Spreadsheets and binary files are refused.
func decode(data []byte) ([]byte, string, error) {
	unreadable := func(msg string, found string) error {
		return &Rejection{Reason: RejectUnreadable, Message: msg, Expected: []string{"a CSV file (comma-separated text)"}, Found: []string{found}}
	}
	switch {
	case len(bytes.TrimSpace(data)) == 0:
		return nil, "", &Rejection{Reason: RejectEmpty, Message: "the file is empty", Expected: []string{"a header row and one row per visit"}, Found: []string{"an empty file"}}
	case bytes.HasPrefix(data, []byte("PK\x03\x04")):
		return nil, "", unreadable("the file is an Excel workbook (.xlsx), not CSV: open it in Excel and save it as \"CSV UTF-8 (Comma delimited)\"", "an Excel workbook (.xlsx)")
	case bytes.HasPrefix(data, []byte("\xd0\xcf\x11\xe0")):
		return nil, "", unreadable("the file is an old Excel workbook (.xls), not CSV: open it in Excel and save it as \"CSV UTF-8 (Comma delimited)\"", "an Excel workbook (.xls)")
	case bytes.HasPrefix(data, []byte("\xef\xbb\xbf")):
		body := data[3:]
		if !utf8.Valid(body) {
			return nil, "", unreadable("the file starts with a UTF-8 byte order mark but is not valid UTF-8 text", "invalid UTF-8")
		}
		return body, "UTF-8 with BOM", nil
	case bytes.HasPrefix(data, []byte("\xff\xfe")), bytes.HasPrefix(data, []byte("\xfe\xff")):
		out, err := unicode.UTF16(unicode.BigEndian, unicode.ExpectBOM).NewDecoder().Bytes(data)
		if err != nil || bytes.IndexByte(out, 0) >= 0 {
			return nil, "", unreadable("the file starts with a UTF-16 byte order mark but is not valid UTF-16 text", "invalid UTF-16")
		}
		return out, "UTF-16", nil
	}
	if bytes.IndexByte(data, 0) >= 0 {
		return nil, "", unreadable("the file holds binary data, not text", "binary data")
	}
	if utf8.Valid(data) {
		return data, "UTF-8", nil
	}
	out, err := charmap.Windows1252.NewDecoder().Bytes(data)
	if err != nil {
		return nil, "", unreadable("the file is neither UTF-8 nor Windows-1252 text", "undecodable text")
	}
	return out, "Windows-1252", nil
}

// sniffDelimiter picks the separator of the header line: a comma unless the line has
// more semicolons or tabs (spreadsheets in other locales, and Excel's "Unicode text").
func sniffDelimiter(text []byte) rune {
	line := text
	if i := bytes.IndexByte(text, '\n'); i >= 0 {
		line = text[:i]
	}
	best, n := ',', bytes.Count(line, []byte(","))
	for _, d := range []rune{';', '\t'} {
		if c := bytes.Count(line, []byte(string(d))); c > n {
			best, n = d, c
		}
	}
	return best
}

func csvError(err error) error {
	msg := err.Error()
	var pe *csv.ParseError
	if errors.As(err, &pe) {
		msg = fmt.Sprintf("line %d: %v", pe.StartLine, pe.Err)
		if errors.Is(pe.Err, csv.ErrBareQuote) || errors.Is(pe.Err, csv.ErrQuote) {
			msg += " (a cell holding a double quote must be enclosed in double quotes, with the quote doubled)"
		}
	}
	return &Rejection{Reason: RejectUnreadable, Message: "the file is not valid CSV: " + msg,
		Expected: []string{"valid CSV"}, Found: []string{msg}}
}

func blankRecord(rec []string) bool {
	for _, c := range rec {
		if strings.TrimSpace(c) != "" {
			return false
		}
	}
	return true
}

// readHeader returns the first record that is not blank.
func readHeader(r *csv.Reader) ([]string, error) {
	for {
		rec, err := r.Read()
		if err == io.EOF {
			return nil, &Rejection{Reason: RejectEmpty, Message: "the file has no header row", Expected: []string{"a header row and one row per visit"}, Found: []string{"only blank lines"}}
		}
		if err != nil {
			return nil, csvError(err)
		}
		if !blankRecord(rec) {
			return rec, nil
		}
	}
}

func (f *File) matchHeader(header []string) error {
	d := f.Dataset
	f.fileCol = make([]int, len(header))
	var hasNHS, hasURN bool
	var unknown []string
	seen := map[Field]int{}
	var dups []string
	matchedAny := false
	for i, h := range header {
		f.fileCol[i] = -1
		if HeadingKey(h) == "" {
			continue
		}
		col, ok := d.Match(h)
		if !ok {
			if _, other := otherDataset(d).Match(h); other {
				matchedAny = true
			}
			unknown = append(unknown, strings.TrimSpace(h))
			f.fileCol[i] = -2
			continue
		}
		matchedAny = true
		switch col.Field {
		case NHSNumber:
			hasNHS = true
		case UniqueReferenceNumber:
			hasURN = true
		}
		if prev, dup := seen[col.Field]; dup {
			dups = append(dups, fmt.Sprintf("%q (columns %s and %s)", strings.TrimSpace(h), columnName(prev), columnName(i)))
			continue
		}
		seen[col.Field] = i
	}
	want := IdentifierFor(f.opts.PZCode)
	switch {
	case !matchedAny:
		return &Rejection{Reason: RejectNoHeader,
			Message:  fmt.Sprintf("the first row is not a recognisable NPDA header: none of its cells is a heading of the %d dataset", d.Version),
			Expected: firstN(d.Headings(want), 5), Found: firstN(trimAll(header), 5)}
	case len(dups) > 0:
		return &Rejection{Reason: RejectDuplicateColumns, Message: "the header names some columns more than once: " + strings.Join(dups, ", "),
			Expected: []string{"each column once"}, Found: dups}
	case hasNHS && hasURN:
		return &Rejection{Reason: RejectBothIdentifiers, Message: "the file has both an NHS Number and a Unique Reference Number column; keep only one",
			Expected: []string{d.urn.Heading + " (Jersey) or " + colNHS.Heading + " (everyone else)"}, Found: []string{colNHS.Heading, d.urn.Heading}}
	case !hasNHS && !hasURN:
		return &Rejection{Reason: RejectNoIdentifier, Message: "the file has no identifier column: it needs " + identifierHeading(want),
			Expected: []string{identifierHeading(want)}, Found: []string{"no NHS Number or Unique Reference Number column"}}
	case (want == NHSNumber && !hasNHS) || (want == UniqueReferenceNumber && !hasURN):
		have := d.urn.Heading
		if hasNHS {
			have = colNHS.Heading
		}
		why := "units outside Jersey identify patients by NHS number"
		if want == UniqueReferenceNumber {
			why = "Jersey (" + JerseyPZCode + ") identifies patients by Unique Reference Number, not NHS number"
		}
		return &Rejection{Reason: RejectWrongIdentifier, Message: fmt.Sprintf("the file identifies patients by %s, but %s", have, why),
			Expected: []string{identifierHeading(want)}, Found: []string{have}}
	}
	f.Identifier = want
	f.Columns = d.ColumnsFor(want)
	var missing []string
	for _, c := range f.Columns {
		if _, ok := seen[c.Field]; !ok {
			missing = append(missing, c.Heading)
		}
	}
	if len(missing) > 0 || len(unknown) > 0 {
		reason, msg := RejectMissingColumns, fmt.Sprintf("the header does not match the %d dataset used for the %s audit period: %d of its %d columns are missing",
			d.Version, f.Period.Label(), len(missing), len(f.Columns))
		expected, found := missing, unknown
		switch {
		case len(missing) == 0:
			reason, msg = RejectExtraColumns, fmt.Sprintf("the header has %d columns that are not in the %d dataset used for the %s audit period", len(unknown), d.Version, f.Period.Label())
			expected = []string{fmt.Sprintf("only the %d columns of the %d dataset", len(f.Columns), d.Version)}
		case len(unknown) > 0:
			msg += fmt.Sprintf(" and %d are not in it", len(unknown))
		default:
			found = []string{fmt.Sprintf("%d of the %d columns, without those expected", len(f.Columns)-len(missing), len(f.Columns))}
		}
		if other := otherDataset(d); fitsBetter(other, header, want, len(missing)+len(unknown)) {
			msg += fmt.Sprintf(". The file looks like the %d dataset; the %s audit period uses the %d dataset", other.Version, f.Period.Label(), d.Version)
		}
		return &Rejection{Reason: reason, Message: msg, Expected: expected, Found: found}
	}
	index := map[Field]int{}
	for i, c := range f.Columns {
		index[c.Field] = i
	}
	for i, h := range header {
		if HeadingKey(h) == "" {
			continue // a blank heading: its cells must be blank too (see firstPass)
		}
		col, _ := d.Match(h)
		f.fileCol[i] = index[col.Field]
	}
	return nil
}

// fitsBetter reports whether header matches dataset d with fewer than mismatches
// differences.
func fitsBetter(d *Dataset, header []string, id Field, mismatches int) bool {
	seen := map[Field]bool{}
	unknown := 0
	for _, h := range header {
		if HeadingKey(h) == "" {
			continue
		}
		if c, ok := d.Match(h); ok {
			seen[c.Field] = true
		} else {
			unknown++
		}
	}
	missing := 0
	for _, c := range d.ColumnsFor(id) {
		if !seen[c.Field] {
			missing++
		}
	}
	return missing+unknown < mismatches
}

func otherDataset(d *Dataset) *Dataset {
	if d.Version == 2021 {
		return Dataset2026
	}
	return Dataset2021
}

func identifierHeading(id Field) string {
	if id == UniqueReferenceNumber {
		return colURN.Heading
	}
	return colNHS.Heading
}

// columnName is the spreadsheet letter of a zero-based column index (0 → A, 26 → AA).
func columnName(i int) string {
	name := ""
	for i++; i > 0; i = (i - 1) / 26 {
		name = string(rune('A'+(i-1)%26)) + name
	}
	return name
}

func firstN(s []string, n int) []string {
	if len(s) > n {
		return append(slices.Clone(s[:n]), "…")
	}
	return s
}

func trimAll(s []string) []string {
	out := make([]string, len(s))
	for i, v := range s {
		out[i] = strings.TrimSpace(v)
	}
	return out
}

// passOne is what the first pass keeps of each row: its line, its patient and its
// patient-level cells (the strides of cells follow patientCols, then the visit date).
type passOne struct {
	patientCols []int // indexes in f.Columns of the patient-level columns
	visitCol    int
	lines       []int32
	cells       []string
}

func (p *passOne) stride() int { return len(p.patientCols) + 1 }

// firstPass reads every data row, keeping what the merge needs, and applies the
// whole-file rules about rows: identifiers present, one PDU number and the unit's.
func (f *File) firstPass(ctx context.Context, r *csv.Reader) (*passOne, error) {
	p := &passOne{visitCol: -1}
	for i, c := range f.Columns {
		if c.Field.Level() == PatientLevel {
			p.patientCols = append(p.patientCols, i)
		}
		if c.Field == VisitDate {
			p.visitCol = i
		}
	}
	idCol := 0 // the identifier is the first column of every dataset
	pduCol := slices.IndexFunc(f.Columns, func(c Column) bool { return c.Field == PDUNumber })
	byKey := map[string]int32{}
	var noID, tooMany []int
	var blankHeadingCells []int
	pdus := map[string][]int{}
	row := make([]string, len(f.Columns))
	for n := 0; ; n++ {
		if n%4096 == 0 && ctx.Err() != nil {
			return nil, ctx.Err()
		}
		rec, err := r.Read()
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, csvError(err)
		}
		if blankRecord(rec) {
			continue
		}
		line, _ := r.FieldPos(0)
		if len(rec) > len(f.fileCol) && !blankRecord(rec[len(f.fileCol):]) {
			tooMany = appendRow(tooMany, line)
			continue
		}
		clear(row)
		for i, cell := range rec {
			if i >= len(f.fileCol) {
				break
			}
			switch c := f.fileCol[i]; {
			case c >= 0:
				row[c] = cell
			case strings.TrimSpace(cell) != "":
				blankHeadingCells = appendRow(blankHeadingCells, line)
			}
		}
		key := IdentifierKey(f.Identifier, row[idCol])
		if key == "" {
			noID = appendRow(noID, line)
			continue
		}
		if pz := strings.TrimSpace(row[pduCol]); pz != "" {
			norm := NormalisePZ(pz)
			pdus[norm] = appendRow(pdus[norm], line)
		}
		pi, ok := byKey[key]
		if !ok {
			pi = int32(len(f.Patients))
			byKey[key] = pi
			f.Patients = append(f.Patients, &Patient{Index: int(pi), Key: key, Identifier: f.Identifier, FirstRow: line})
		}
		f.Patients[pi].rows = append(f.Patients[pi].rows, int32(len(p.lines)))
		f.rowPatient = append(f.rowPatient, pi)
		p.lines = append(p.lines, int32(line))
		for _, c := range p.patientCols {
			p.cells = append(p.cells, row[c])
		}
		if p.visitCol >= 0 {
			p.cells = append(p.cells, row[p.visitCol])
		} else {
			p.cells = append(p.cells, "")
		}
	}
	f.Rows = len(p.lines)
	switch {
	case len(tooMany) > 0:
		return nil, &Rejection{Reason: RejectTooManyCells, Rows: tooMany,
			Message:  fmt.Sprintf("%s more cells than the header has columns", rowsPhrase(tooMany)),
			Expected: []string{fmt.Sprintf("at most %d cells per row", len(f.fileCol))}, Found: []string{"rows with more cells"}}
	case len(blankHeadingCells) > 0:
		return nil, &Rejection{Reason: RejectExtraColumns, Rows: blankHeadingCells,
			Message:  fmt.Sprintf("%s values in a column without a heading", rowsPhrase(blankHeadingCells)),
			Expected: []string{"every column with values to have a heading of the dataset"}, Found: []string{"a column without a heading"}}
	case len(noID) > 0:
		h := identifierHeading(f.Identifier)
		return nil, &Rejection{Reason: RejectMissingIdentifier, Rows: noID,
			Message:  fmt.Sprintf("%s no %s: every row needs one", rowsPhrase(noID), h),
			Expected: []string{"a value in the " + h + " column on every row"}, Found: []string{rowsCount(len(noID)) + " without one"}}
	case f.Rows == 0:
		return nil, &Rejection{Reason: RejectNoRows, Message: "the file has a header but no rows; an empty file would remove the unit's data, so it is refused",
			Expected: []string{"one row per visit"}, Found: []string{"no rows"}}
	}
	if len(pdus) > 1 {
		found := make([]string, 0, len(pdus))
		for code, rows := range pdus {
			found = append(found, fmt.Sprintf("%s (%s)", code, rowsList(rows)))
		}
		sort.Strings(found)
		return nil, &Rejection{Reason: RejectSeveralPDUs,
			Message:  fmt.Sprintf("the file holds more than one PDU number; a file is for one unit (%s)", f.opts.PZCode),
			Expected: []string{f.opts.PZCode}, Found: found}
	}
	for code, rows := range pdus {
		if code != f.opts.PZCode {
			return nil, &Rejection{Reason: RejectWrongPDU, Rows: rows,
				Message:  fmt.Sprintf("the file is for PDU %s, but it is being submitted for %s", code, f.opts.PZCode),
				Expected: []string{f.opts.PZCode}, Found: []string{code}}
		}
	}
	return p, nil
}

func rowsCount(n int) string {
	more := ""
	if n >= MaxRejectionRows {
		more = " or more"
	}
	if n == 1 {
		return "1 row"
	}
	return fmt.Sprintf("%d%s rows", n, more)
}

func appendRow(rows []int, line int) []int {
	if len(rows) < MaxRejectionRows {
		rows = append(rows, line)
	}
	return rows
}

func rowsPhrase(rows []int) string {
	if len(rows) == 1 {
		return fmt.Sprintf("row %d has", rows[0])
	}
	more := ""
	if len(rows) == MaxRejectionRows {
		more = " and maybe more"
	}
	return fmt.Sprintf("rows %s%s have", rowsList(rows), more)
}

func rowsList(rows []int) string {
	parts := make([]string, len(rows))
	for i, r := range rows {
		parts[i] = fmt.Sprint(r)
	}
	return strings.Join(parts, ", ")
}
