package gis

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"math"
	"os"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"

	shp "github.com/jonas-p/go-shp"
	"github.com/twpayne/go-geom"
	"golang.org/x/text/encoding/charmap"
)

// Shapefile is a polygon layer read from an ESRI shapefile.
type Shapefile struct {
	Path     string    // the .shp path
	SRID     int       // EPSG code recognised from the .prj
	Fields   []string  // DBF field names in file order
	Features []Feature // one per DBF record, in file order
}

// Feature is one record: its attributes and its geometry.
type Feature struct {
	Attributes map[string]string  // DBF values, trimmed of spaces and NULs, decoded to UTF-8
	Geometry   *geom.MultiPolygon // layout XY in the layer's SRID; never nil or empty
	Vertices   int                // number of points read for this feature
}

// ShapefileError names the file at fault and the problem.
type ShapefileError struct {
	File    string
	Problem string
	// err is the underlying error, if any, so that callers can still test for
	// fs.ErrNotExist and the like with errors.Is.
	err error
}

// Error returns "<file>: <problem>".
func (e *ShapefileError) Error() string { return e.File + ": " + e.Problem }

// Unwrap returns the underlying error, or nil when the problem is the file's content.
func (e *ShapefileError) Unwrap() error { return e.err }

// fileProblem reports something wrong with the content of file.
func fileProblem(file, format string, args ...any) *ShapefileError {
	return &ShapefileError{File: file, Problem: fmt.Sprintf(format, args...)}
}

// wrapFileError turns an I/O error about file into a *ShapefileError that still unwraps to
// err. The path is dropped from a *fs.PathError's text because File already names it.
func wrapFileError(file string, err error) *ShapefileError {
	text := err.Error()
	var pe *fs.PathError
	if errors.As(err, &pe) {
		text = pe.Op + ": " + pe.Err.Error()
	}
	return &ShapefileError{File: file, Problem: text, err: err}
}

// Shape types this reader accepts. go-shp also decodes PolygonZ and PolygonM, whose X/Y
// are laid out as in Polygon, so those are read with Z and M dropped.
const (
	shapeNull     = 0
	shapePolygon  = 5
	shapePolygonZ = 15
	shapePolygonM = 25

	shpFileCode   = 9994
	shpVersion    = 1000
	shpHeaderSize = 100
	dbfTerminator = 0x0D
)

// ReadShapefile reads stem.shp, stem.shx, stem.dbf, stem.prj (stem = path without
// extension; a trailing ".shp" is tolerated) and, if present, stem.cpg.
//
// The binary files are validated in full before go-shp decodes them, because go-shp
// v0.1.1 trusts every count and length it reads: a corrupt file can make it panic,
// allocate without bound or silently stop early. go-shp then decodes the very bytes
// that were validated (read once into memory), so the files cannot change in between.
func ReadShapefile(stem string) (*Shapefile, error) {
	if n := len(stem); n > 4 && strings.EqualFold(stem[n-4:], ".shp") {
		stem = stem[:n-4]
	}
	shpPath, shxPath, dbfPath, prjPath := stem+".shp", stem+".shx", stem+".dbf", stem+".prj"
	// Check all four first so that an incomplete file set is reported as such rather
	// than as whatever the present files happen to contain.
	for _, p := range []string{shpPath, shxPath, dbfPath, prjPath} {
		if _, err := os.Stat(p); err != nil {
			if errors.Is(err, fs.ErrNotExist) {
				return nil, &ShapefileError{File: p, Problem: "missing (a shapefile needs .shp, .shx, .dbf and .prj)", err: err}
			}
			return nil, wrapFileError(p, err)
		}
	}

	prj, err := os.ReadFile(prjPath)
	if err != nil {
		return nil, wrapFileError(prjPath, err)
	}
	srid, err := sridFromPRJ(string(prj))
	if err != nil {
		return nil, &ShapefileError{File: prjPath, Problem: err.Error(), err: err}
	}

	shpData, err := os.ReadFile(shpPath)
	if err != nil {
		return nil, wrapFileError(shpPath, err)
	}
	layout, err := validateSHP(shpPath, shpData)
	if err != nil {
		return nil, err
	}
	shxData, err := os.ReadFile(shxPath)
	if err != nil {
		return nil, wrapFileError(shxPath, err)
	}
	if err := validateSHX(shxPath, shxData, layout); err != nil {
		return nil, err
	}
	dbfData, err := os.ReadFile(dbfPath)
	if err != nil {
		return nil, wrapFileError(dbfPath, err)
	}
	table, err := validateDBF(dbfPath, dbfData)
	if err != nil {
		return nil, err
	}
	if len(layout.records) != table.records {
		return nil, fileProblem(dbfPath, "read %d shapes but the .dbf has %d records", len(layout.records), table.records)
	}
	decode, err := textDecoder(stem+".cpg", table.body)
	if err != nil {
		return nil, err
	}

	fields := make([]string, len(table.fields))
	seen := make(map[string]int, len(table.fields))
	for i, raw := range table.fields {
		// A name ends at its first NUL; some writers leave junk after it.
		if end := bytes.IndexByte(raw, 0); end >= 0 {
			raw = raw[:end]
		}
		name := cleanText(decode(raw))
		if name == "" {
			return nil, fileProblem(dbfPath, "field %d has no name", i+1)
		}
		// Attributes are keyed by name, so two fields with one name cannot both be kept.
		if j, dup := seen[name]; dup {
			return nil, fileProblem(dbfPath, "fields %d and %d are both named %q", j+1, i+1, name)
		}
		seen[name] = i
		fields[i] = name
	}

	shapes, rows, err := decodeWithGoShp(shpPath, shpData, table.normalized, len(fields))
	if err != nil {
		return nil, err
	}
	if len(shapes) != table.records {
		return nil, fileProblem(dbfPath, "read %d shapes but the .dbf has %d records", len(shapes), table.records)
	}

	sf := &Shapefile{Path: shpPath, SRID: srid, Fields: fields, Features: make([]Feature, len(shapes))}
	for i, s := range shapes {
		mp, vertices, err := buildMultiPolygon(s, layout.records[i])
		if err != nil {
			return nil, fileProblem(shpPath, "record %d: %s", i+1, err)
		}
		attrs := make(map[string]string, len(fields))
		for j, name := range fields {
			attrs[name] = cleanText(decode([]byte(rows[i][j])))
		}
		sf.Features[i] = Feature{Attributes: attrs, Geometry: mp.SetSRID(srid), Vertices: vertices}
	}
	return sf, nil
}

// cleanText trims the padding DBF writers leave around values: spaces, and NULs from
// writers that zero-fill instead.
func cleanText(s string) string { return strings.Trim(s, " \x00") }

// shpRecord is where one record sits in the .shp, as found by validateSHP.
type shpRecord struct {
	offset int   // byte offset of the record header
	words  int32 // content length in 16-bit words, as the .shx must repeat it
	parts  int32
	points int32
}

// shpLayout is what validateSHP learnt about a .shp.
type shpLayout struct {
	shapeType int32
	records   []shpRecord
}

// validateSHP checks the main header and walks every record, so that go-shp, which
// trusts every length and count, only ever sees a well-formed file.
func validateSHP(file string, data []byte) (shpLayout, error) {
	var layout shpLayout
	size := int64(len(data))
	if size < shpHeaderSize {
		return layout, fileProblem(file, "truncated: %d bytes, shorter than the %d-byte header", size, shpHeaderSize)
	}
	if code := int32(binary.BigEndian.Uint32(data[0:4])); code != shpFileCode {
		return layout, fileProblem(file, "file code %d, want %d (not a shapefile?)", code, shpFileCode)
	}
	declared := int64(int32(binary.BigEndian.Uint32(data[24:28]))) * 2
	if declared > size {
		return layout, fileProblem(file, "truncated: the header says %d bytes but the file has %d", declared, size)
	}
	if declared != size {
		return layout, fileProblem(file, "the header says %d bytes but the file has %d", declared, size)
	}
	if v := int32(binary.LittleEndian.Uint32(data[28:32])); v != shpVersion {
		return layout, fileProblem(file, "version %d, want %d", v, shpVersion)
	}
	layout.shapeType = int32(binary.LittleEndian.Uint32(data[32:36]))
	switch layout.shapeType {
	case shapePolygon, shapePolygonZ, shapePolygonM:
	default:
		return layout, fileProblem(file, "unexpected shape type %d (want %d, Polygon)", layout.shapeType, shapePolygon)
	}

	for pos := int64(shpHeaderSize); pos < size; {
		n := len(layout.records) + 1
		if size-pos < 8 {
			return layout, fileProblem(file, "truncated: record %d at byte %d has only %d of its 8 header bytes", n, pos, size-pos)
		}
		words := int32(binary.BigEndian.Uint32(data[pos+4 : pos+8]))
		if words < 2 {
			return layout, fileProblem(file, "record %d at byte %d has content length %d words, too short to hold a shape type", n, pos, words)
		}
		end := pos + 8 + int64(words)*2
		if end > size {
			return layout, fileProblem(file, "truncated: record %d at byte %d needs %d bytes but only %d remain", n, pos, end-pos, size-pos)
		}
		rec, err := checkPolygonContent(data[pos+8:end], layout.shapeType)
		if err != nil {
			return layout, fileProblem(file, "record %d at byte %d: %s", n, pos, err)
		}
		rec.offset, rec.words = int(pos), words
		layout.records = append(layout.records, rec)
		pos = end
	}
	return layout, nil
}

// checkPolygonContent checks that a record's counts fit its content length before go-shp
// allocates slices of those sizes, and that its part indices make sense.
func checkPolygonContent(c []byte, headerType int32) (shpRecord, error) {
	var rec shpRecord
	t := int32(binary.LittleEndian.Uint32(c[0:4]))
	if t == shapeNull {
		return rec, errors.New("null shape (a boundary needs a polygon)")
	}
	if t != headerType {
		return rec, fmt.Errorf("shape type %d, but the file header says %d", t, headerType)
	}
	const fixed = 4 + 32 + 4 + 4 // type, bounding box, part count, point count
	if len(c) < fixed {
		return rec, fmt.Errorf("%d content bytes, too short for a polygon", len(c))
	}
	rec.parts = int32(binary.LittleEndian.Uint32(c[36:40]))
	rec.points = int32(binary.LittleEndian.Uint32(c[40:44]))
	if rec.parts < 1 || rec.points < 1 {
		return rec, fmt.Errorf("%d parts and %d points (a polygon needs at least one ring)", rec.parts, rec.points)
	}
	np, nv := int64(rec.parts), int64(rec.points)
	need := fixed + 4*np + 16*nv
	switch t {
	case shapePolygonZ:
		// Z range and values, then M range and values. M is optional in the format, but
		// go-shp always reads it and would misalign on the next record without it.
		need += 2 * (16 + 8*nv)
	case shapePolygonM:
		need += 16 + 8*nv
	}
	if int64(len(c)) < need {
		return rec, fmt.Errorf("%d parts and %d points need %d content bytes but the record has %d", np, nv, need, len(c))
	}
	prev := int32(0)
	for i := int64(0); i < np; i++ {
		p := int32(binary.LittleEndian.Uint32(c[fixed+4*i:]))
		if (i == 0 && p != 0) || p < prev || p > rec.points {
			return rec, fmt.Errorf("part %d starts at point %d, which is out of order or range (%d points)", i+1, p, rec.points)
		}
		prev = p
	}
	return rec, nil
}

// validateSHX checks that the index agrees with the .shp record by record. go-shp does not
// read the .shx, but a disagreeing index means the file set is corrupt or mismatched.
func validateSHX(file string, data []byte, layout shpLayout) error {
	size := int64(len(data))
	if size < shpHeaderSize {
		return fileProblem(file, "truncated: %d bytes, shorter than the %d-byte header", size, shpHeaderSize)
	}
	if code := int32(binary.BigEndian.Uint32(data[0:4])); code != shpFileCode {
		return fileProblem(file, "file code %d, want %d (not a shapefile index?)", code, shpFileCode)
	}
	declared := int64(int32(binary.BigEndian.Uint32(data[24:28]))) * 2
	if declared > size {
		return fileProblem(file, "truncated: the header says %d bytes but the file has %d", declared, size)
	}
	if declared != size {
		return fileProblem(file, "the header says %d bytes but the file has %d", declared, size)
	}
	if v := int32(binary.LittleEndian.Uint32(data[28:32])); v != shpVersion {
		return fileProblem(file, "version %d, want %d", v, shpVersion)
	}
	if t := int32(binary.LittleEndian.Uint32(data[32:36])); t != layout.shapeType {
		return fileProblem(file, "shape type %d, but the .shp says %d", t, layout.shapeType)
	}
	if (size-shpHeaderSize)%8 != 0 {
		return fileProblem(file, "%d bytes of entries is not a whole number of 8-byte entries", size-shpHeaderSize)
	}
	if n := int((size - shpHeaderSize) / 8); n != len(layout.records) {
		return fileProblem(file, "indexes %d records but the .shp has %d", n, len(layout.records))
	}
	for i, rec := range layout.records {
		e := data[shpHeaderSize+8*i:]
		off := int64(int32(binary.BigEndian.Uint32(e[0:4]))) * 2
		words := int32(binary.BigEndian.Uint32(e[4:8]))
		if off != int64(rec.offset) || words != rec.words {
			return fileProblem(file, "entry %d points to byte %d (%d words) but record %d of the .shp is at byte %d (%d words)",
				i+1, off, words, i+1, rec.offset, rec.words)
		}
	}
	return nil
}

// dbfTable is what validateDBF learnt about a .dbf.
type dbfTable struct {
	fields     [][]byte // raw field names, NUL padding included
	records    int
	body       []byte // the record bytes, for guessing the encoding
	normalized []byte // the table as go-shp can read it (see validateDBF)
}

// validateDBF checks the header, field descriptors and record area. go-shp's sequential
// reader derives the field count from the header length and starts reading rows right
// after the terminator, so a header padded beyond its descriptors (which some writers
// produce) is rewritten without the padding instead of being rejected.
func validateDBF(file string, data []byte) (dbfTable, error) {
	var t dbfTable
	size := int64(len(data))
	if size < 32 {
		return t, fileProblem(file, "truncated: %d bytes, shorter than the 32-byte header", size)
	}
	numRecords := int64(binary.LittleEndian.Uint32(data[4:8]))
	headerLen := int64(binary.LittleEndian.Uint16(data[8:10]))
	recordLen := int64(binary.LittleEndian.Uint16(data[10:12]))
	if headerLen > size {
		return t, fileProblem(file, "truncated: the header is %d bytes but the file has %d", headerLen, size)
	}
	pos := int64(32)
	sum := int64(1) // the deletion flag that starts every record
	for ; pos < headerLen && data[pos] != dbfTerminator; pos += 32 {
		if pos+32 > headerLen {
			return t, fileProblem(file, "field descriptor %d runs past the %d-byte header", len(t.fields)+1, headerLen)
		}
		t.fields = append(t.fields, data[pos:pos+11])
		sum += int64(data[pos+16])
	}
	if pos >= headerLen {
		return t, fileProblem(file, "no end-of-fields marker (0x0D) within the %d-byte header", headerLen)
	}
	if recordLen != sum {
		return t, fileProblem(file, "the header says records are %d bytes but the fields add up to %d", recordLen, sum)
	}
	// go-shp holds both lengths in int16.
	if compact := pos + 1; compact > math.MaxInt16 || recordLen > math.MaxInt16 {
		return t, fileProblem(file, "%d fields in %d-byte records is more than go-shp can read", len(t.fields), recordLen)
	}
	if need := numRecords * recordLen; need > size-headerLen {
		return t, fileProblem(file, "truncated: the header says %d records of %d bytes but only %d bytes follow the header",
			numRecords, recordLen, size-headerLen)
	}
	t.records = int(numRecords)
	t.body = data[headerLen : headerLen+numRecords*recordLen]
	for r := int64(0); r < numRecords; r++ {
		if f := t.body[r*recordLen]; f != ' ' && f != '*' {
			return t, fileProblem(file, "record %d starts with byte 0x%02X, not a deletion flag (' ' or '*')", r+1, f)
		}
	}
	if pos+1 == headerLen {
		t.normalized = data[:headerLen+numRecords*recordLen]
		return t, nil
	}
	t.normalized = make([]byte, 0, pos+1+int64(len(t.body)))
	t.normalized = append(t.normalized, data[:pos+1]...)
	t.normalized = append(t.normalized, t.body...)
	binary.LittleEndian.PutUint16(t.normalized[8:10], uint16(pos+1))
	return t, nil
}

// decodeWithGoShp reads every shape and attribute row with go-shp from data that has
// already been validated. The recover is a last line of defence: go-shp was not written
// for hostile input, and a panic in it must not take the caller down.
func decodeWithGoShp(shpPath string, shpData, dbfData []byte, nFields int) (shapes []shp.Shape, rows [][]string, err error) {
	defer func() {
		if r := recover(); r != nil {
			shapes, rows = nil, nil
			err = fileProblem(shpPath, "go-shp failed on this file: %v", r)
		}
	}()
	sr := shp.SequentialReaderFromExt(io.NopCloser(bytes.NewReader(shpData)), io.NopCloser(bytes.NewReader(dbfData)))
	defer sr.Close()
	if got := len(sr.Fields()); got != nFields && sr.Err() == nil {
		return nil, nil, fileProblem(shpPath, "go-shp found %d fields in the .dbf, want %d", got, nFields)
	}
	for sr.Next() {
		_, s := sr.Shape()
		row := make([]string, nFields)
		for i := range row {
			row[i] = sr.Attribute(i)
		}
		shapes = append(shapes, s)
		rows = append(rows, row)
	}
	if err := sr.Err(); err != nil {
		return nil, nil, &ShapefileError{File: shpPath, Problem: "go-shp: " + err.Error(), err: err}
	}
	return shapes, rows, nil
}

// textDecoder picks how DBF text is decoded: as the .cpg says if there is one, else UTF-8
// when the whole record area is valid UTF-8 (deciding per file, not per value, so one
// layer is never decoded two ways), else Windows-1252, the usual ANSI code page.
func textDecoder(cpgPath string, body []byte) (func([]byte) string, error) {
	cpg, err := os.ReadFile(cpgPath)
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return nil, wrapFileError(cpgPath, err)
	}
	name := strings.Map(func(r rune) rune {
		if r < utf8.RuneSelf && (unicode.IsLetter(r) || unicode.IsDigit(r)) {
			return unicode.ToLower(r)
		}
		return -1
	}, string(cpg))
	switch name {
	case "":
		if utf8.Valid(body) {
			return decodeUTF8, nil
		}
		return charmapDecoder(charmap.Windows1252), nil
	case "utf8", "65001":
		return decodeUTF8, nil
	case "1252", "cp1252", "windows1252", "ansi1252":
		return charmapDecoder(charmap.Windows1252), nil
	case "88591", "iso88591", "latin1":
		return charmapDecoder(charmap.ISO8859_1), nil
	default:
		return nil, fileProblem(cpgPath, "unsupported code page %q (want UTF-8, Windows-1252 or ISO-8859-1)", truncateRunes(strings.TrimSpace(string(cpg)), 40))
	}
}

// decodeUTF8 replaces invalid sequences, such as a character cut in two by a field's byte
// width, so that attributes are always valid UTF-8.
func decodeUTF8(b []byte) string { return strings.ToValidUTF8(string(b), "\uFFFD") }

// charmapDecoder decodes a single-byte code page.
func charmapDecoder(cm *charmap.Charmap) func([]byte) string {
	return func(b []byte) string {
		var sb strings.Builder
		sb.Grow(len(b))
		for _, c := range b {
			sb.WriteRune(cm.DecodeByte(c))
		}
		return sb.String()
	}
}

// shpRing is one closed ring of a record, as flat x/y coordinates.
type shpRing struct {
	flat []float64
	area float64 // signed: negative when clockwise, as shapefile outer rings are
	// bounding box, so that most outer rings are ruled out for a hole without a
	// point-in-ring test: records can hold thousands of rings.
	minX, minY, maxX, maxY float64
}

// within reports whether r's bounding box lies within o's.
func (r *shpRing) within(o *shpRing) bool {
	return r.minX >= o.minX && r.maxX <= o.maxX && r.minY >= o.minY && r.maxY <= o.maxY
}

// buildMultiPolygon groups a record's rings into polygons. Shapefiles store outer rings
// clockwise and holes counter-clockwise but do not say which outer ring a hole belongs to,
// so each hole goes to the smallest outer ring containing it (smallest, so that a hole in
// an island inside another polygon's hole finds the island).
func buildMultiPolygon(s shp.Shape, rec shpRecord) (*geom.MultiPolygon, int, error) {
	var parts []int32
	var points []shp.Point
	switch p := s.(type) {
	case *shp.Polygon:
		parts, points = p.Parts, p.Points
	case *shp.PolygonZ:
		parts, points = p.Parts, p.Points
	case *shp.PolygonM:
		parts, points = p.Parts, p.Points
	default:
		return nil, 0, fmt.Errorf("go-shp returned a %T, not a polygon", s)
	}
	// go-shp decoded the bytes that validateSHP walked; disagreement would be a bug in one
	// of the two, and indexing below relies on the counts.
	if len(parts) != int(rec.parts) || len(points) != int(rec.points) {
		return nil, 0, fmt.Errorf("go-shp read %d parts and %d points, the record says %d and %d", len(parts), len(points), rec.parts, rec.points)
	}

	var rings []shpRing
	for i := range parts {
		start, end := int(parts[i]), len(points)
		if i+1 < len(parts) {
			end = int(parts[i+1])
		}
		if start < 0 || start > end || end > len(points) {
			return nil, 0, fmt.Errorf("part %d has invalid bounds %d..%d", i+1, start, end)
		}
		pts := points[start:end]
		flat := make([]float64, 0, 2*len(pts)+2)
		for j, p := range pts {
			if math.IsNaN(p.X) || math.IsInf(p.X, 0) || math.IsNaN(p.Y) || math.IsInf(p.Y, 0) {
				return nil, 0, fmt.Errorf("point %d of part %d is not a finite coordinate", start+j+1, i+1)
			}
			flat = append(flat, p.X, p.Y)
		}
		// Unclosed rings and rings too short to enclose anything are repaired (closed) or
		// dropped rather than rejected: they carry no area, and real-world writers emit them.
		if n := len(flat); n >= 2 && (flat[0] != flat[n-2] || flat[1] != flat[n-1]) {
			flat = append(flat, flat[0], flat[1])
		}
		if len(flat) < 8 {
			continue
		}
		a := ringSignedArea(flat)
		if a == 0 {
			continue // no orientation, so neither an outer ring nor a hole
		}
		r := shpRing{flat: flat, area: a, minX: flat[0], minY: flat[1], maxX: flat[0], maxY: flat[1]}
		for j := 2; j+1 < len(flat); j += 2 {
			r.minX, r.maxX = math.Min(r.minX, flat[j]), math.Max(r.maxX, flat[j])
			r.minY, r.maxY = math.Min(r.minY, flat[j+1]), math.Max(r.maxY, flat[j+1])
		}
		rings = append(rings, r)
	}
	if len(rings) == 0 {
		return nil, 0, errors.New("no usable rings (each needs at least 4 points and some area)")
	}

	var outers []int
	for i, r := range rings {
		if r.area < 0 {
			outers = append(outers, i)
		}
	}
	holes := make(map[int][]int) // outer ring index -> its holes, in file order
	if len(outers) == 0 {
		// A writer that got the orientation backwards: every ring is taken as an outer ring
		// rather than losing the record.
		for i := range rings {
			outers = append(outers, i)
		}
	} else {
		for i, r := range rings {
			if r.area < 0 {
				continue
			}
			o := ownerOf(rings, outers, i)
			holes[o] = append(holes[o], i)
		}
	}

	var flat []float64
	endss := make([][]int, 0, len(outers))
	for _, o := range outers {
		ends := make([]int, 0, 1+len(holes[o]))
		flat = append(flat, rings[o].flat...)
		ends = append(ends, len(flat))
		for _, h := range holes[o] {
			flat = append(flat, rings[h].flat...)
			ends = append(ends, len(flat))
		}
		endss = append(endss, ends)
	}
	return geom.NewMultiPolygonFlat(geom.XY, flat, endss), len(points), nil
}

// ownerOf returns the outer ring that hole h belongs to: the smallest containing it, or,
// when none does (a malformed record), the nearest outer ring before it in the file, as
// writers put holes after their outer ring, or failing that the last outer ring.
func ownerOf(rings []shpRing, outers []int, h int) int {
	best := -1
	for _, o := range outers {
		if best >= 0 && math.Abs(rings[o].area) >= math.Abs(rings[best].area) {
			continue // cannot improve on the smaller outer ring already found
		}
		if rings[h].within(&rings[o]) && ringInRing(rings[h].flat, rings[o].flat) {
			best = o
		}
	}
	if best >= 0 {
		return best
	}
	for i := len(outers) - 1; i >= 0; i-- {
		if outers[i] < h {
			return outers[i]
		}
	}
	return outers[len(outers)-1]
}

// ringInRing reports whether inner lies inside outer, judged by its first vertex that is
// not on outer's boundary (holes often touch their outer ring at a vertex).
func ringInRing(inner, outer []float64) bool {
	for i := 0; i+1 < len(inner); i += 2 {
		switch pointInRing(inner[i], inner[i+1], outer) {
		case 1:
			return true
		case -1:
			return false
		}
	}
	return true // every vertex on the boundary: the rings coincide
}

// pointInRing returns 1 if (x, y) is inside the closed ring, -1 if outside and 0 if on
// its boundary, by counting crossings of a ray towards +x.
func pointInRing(x, y float64, r []float64) int {
	inside := false
	for i := 0; i+3 < len(r); i += 2 {
		x1, y1, x2, y2 := r[i], r[i+1], r[i+2], r[i+3]
		if pointOnSegment(x, y, x1, y1, x2, y2) {
			return 0
		}
		if (y1 > y) != (y2 > y) && x < x1+(y-y1)*(x2-x1)/(y2-y1) {
			inside = !inside
		}
	}
	if inside {
		return 1
	}
	return -1
}

// pointOnSegment reports whether (x, y) lies exactly on the segment from (x1, y1) to (x2, y2).
func pointOnSegment(x, y, x1, y1, x2, y2 float64) bool {
	if x < math.Min(x1, x2) || x > math.Max(x1, x2) || y < math.Min(y1, y2) || y > math.Max(y1, y2) {
		return false
	}
	return (x2-x1)*(y-y1)-(y2-y1)*(x-x1) == 0
}

// ringSignedArea is the shoelace area of a closed ring, negative when clockwise. Coordinates
// are taken relative to the first vertex, since national-grid values in the hundreds of
// thousands would otherwise lose precision in the products.
func ringSignedArea(r []float64) float64 {
	var sum float64
	x0, y0 := r[0], r[1]
	for i := 0; i+3 < len(r); i += 2 {
		sum += (r[i]-x0)*(r[i+3]-y0) - (r[i+2]-x0)*(r[i+1]-y0)
	}
	return sum / 2
}

// Projections recognised by name, after normalizeWKTName.
var (
	bngNames = map[string]bool{
		"britishnationalgrid":         true,
		"osgb1936britishnationalgrid": true,
		"osgb36britishnationalgrid":   true,
	}
	webMercatorNames = map[string]bool{
		"wgs1984webmercatorauxiliarysphere": true,
		"wgs84pseudomercator":               true,
	}
	wgs84Names  = map[string]bool{"wgs84": true, "gcswgs1984": true, "wgs1984": true}
	wgs84Datums = map[string]bool{
		"wgs1984": true, "dwgs1984": true, "wgs84": true, "worldgeodeticsystem1984": true,
	}
)

// bngParameters are British National Grid's Transverse Mercator parameters, keyed by
// normalised ESRI/OGC (WKT1) and EPSG (WKT2) parameter names.
var bngParameters = map[string]float64{
	"falseeasting":               400000,
	"falsenorthing":              -100000,
	"centralmeridian":            -2,
	"longitudeofnaturalorigin":   -2,
	"latitudeoforigin":           49,
	"latitudeofnaturalorigin":    49,
	"scalefactor":                0.9996012717,
	"scalefactoratnaturalorigin": 0.9996012717,
}

// sridFromPRJ recognises the few projections caregraph handles from a .prj's WKT. Anything
// it does not positively recognise is an error: guessing wrong would misplace every
// boundary silently.
func sridFromPRJ(text string) (int, error) {
	text = strings.TrimSpace(strings.TrimPrefix(text, "\uFEFF"))
	unknown := fmt.Errorf("unknown projection: %s", strings.ToValidUTF8(truncateRunes(text, 80), "?"))
	root, err := parseWKT(text)
	if err != nil {
		return 0, unknown
	}
	// An EPSG authority on the outermost object is the most explicit statement there is;
	// a different EPSG code there means a different projection whatever the names say.
	code, hasCode := root.epsg()
	switch strings.ToUpper(root.keyword) {
	case "PROJCS", "PROJCRS":
		if hasCode {
			if code == 27700 || code == 3857 {
				return code, nil
			}
			return 0, unknown
		}
		name := normalizeWKTName(root.name())
		switch {
		case bngNames[name]:
			return 27700, nil
		case webMercatorNames[name]:
			return 3857, nil
		case isBNGDefinition(root):
			return 27700, nil
		}
	case "GEOGCS", "GEOGCRS", "GEODCRS":
		if hasCode {
			if code == 4326 {
				return code, nil
			}
			return 0, unknown
		}
		datum := root.find("DATUM")
		if wgs84Names[normalizeWKTName(root.name())] || (datum != nil && wgs84Datums[normalizeWKTName(datum.name())]) {
			return 4326, nil
		}
	}
	return 0, unknown
}

// isBNGDefinition recognises British National Grid by content rather than name: a
// Transverse Mercator on the OSGB 1936 datum in metres, with BNG's parameters wherever
// they are given.
func isBNGDefinition(root *wktNode) bool {
	datum := root.find("DATUM")
	if datum == nil {
		return false
	}
	if d := normalizeWKTName(datum.name()); !strings.Contains(d, "osgb1936") && !strings.Contains(d, "osgb36") {
		return false
	}
	method := root.find("PROJECTION")
	if method == nil {
		method = root.find("METHOD")
	}
	if method == nil || normalizeWKTName(method.name()) != "transversemercator" {
		return false
	}
	for _, a := range root.args {
		if a.node == nil {
			continue
		}
		switch strings.ToUpper(a.node.keyword) {
		case "UNIT", "LENGTHUNIT":
			if v, ok := a.node.number(); ok && v != 1 {
				return false // not metres
			}
		}
	}
	ok := true
	root.walk(func(n *wktNode) {
		if !strings.EqualFold(n.keyword, "PARAMETER") {
			return
		}
		want, known := bngParameters[normalizeWKTName(n.name())]
		v, has := n.number()
		if known && has && math.Abs(v-want) > 1e-6*math.Max(1, math.Abs(want)) {
			ok = false
		}
	})
	return ok
}

// normalizeWKTName lower-cases a WKT name and keeps only letters and digits, so that
// "OSGB36 / British National Grid" and "OSGB_1936_British_National_Grid" compare by words.
func normalizeWKTName(s string) string {
	return strings.Map(func(r rune) rune {
		if unicode.IsLetter(r) || unicode.IsDigit(r) {
			return unicode.ToLower(r)
		}
		return -1
	}, s)
}

// truncateRunes returns at most n runes of s, for quoting input in errors.
func truncateRunes(s string, n int) string {
	for i := range s {
		if n == 0 {
			return s[:i]
		}
		n--
	}
	return s
}

// wktNode is one KEYWORD[arg, ...] of well-known text.
type wktNode struct {
	keyword string
	args    []wktArg
}

// wktArg is a quoted string, a bare token (number or enumeration) or a nested node.
type wktArg struct {
	text   string
	quoted bool
	node   *wktNode
}

// name is the node's first quoted argument, which WKT uses for names.
func (n *wktNode) name() string {
	if len(n.args) > 0 && n.args[0].quoted {
		return n.args[0].text
	}
	return ""
}

// number is the node's first bare numeric argument, such as a parameter's value.
func (n *wktNode) number() (float64, bool) {
	for _, a := range n.args {
		if a.node == nil && !a.quoted {
			v, err := strconv.ParseFloat(a.text, 64)
			return v, err == nil
		}
	}
	return 0, false
}

// epsg returns the code of the node's own AUTHORITY (WKT1) or ID (WKT2) if it is EPSG's.
// Only direct children count: nested ones describe the datum, units and so on.
func (n *wktNode) epsg() (int, bool) {
	code, found := 0, false
	for _, a := range n.args {
		c := a.node
		if c == nil || len(c.args) < 2 {
			continue
		}
		if k := strings.ToUpper(c.keyword); k != "AUTHORITY" && k != "ID" {
			continue
		}
		if !strings.EqualFold(c.args[0].text, "EPSG") {
			continue
		}
		if v, err := strconv.Atoi(strings.TrimSpace(c.args[1].text)); err == nil {
			code, found = v, true // the last one wins: it closes the object
		}
	}
	return code, found
}

// find returns the first descendant with the keyword, depth first.
func (n *wktNode) find(keyword string) *wktNode {
	var found *wktNode
	n.walk(func(c *wktNode) {
		if found == nil && c != n && strings.EqualFold(c.keyword, keyword) {
			found = c
		}
	})
	return found
}

// walk calls f on n and every descendant, depth first.
func (n *wktNode) walk(f func(*wktNode)) {
	f(n)
	for _, a := range n.args {
		if a.node != nil {
			a.node.walk(f)
		}
	}
}

// maxWKTDepth bounds nesting so that a hostile .prj cannot exhaust the stack; real
// definitions nest about five deep.
const maxWKTDepth = 32

// wktParser is a recursive-descent parser for WKT 1 and 2, which share this grammar.
type wktParser struct {
	s   string
	pos int
}

// parseWKT parses one WKT object filling the whole text.
func parseWKT(s string) (*wktNode, error) {
	p := &wktParser{s: s}
	a, err := p.arg(0)
	if err != nil {
		return nil, err
	}
	if a.node == nil {
		return nil, errors.New("not a WKT object")
	}
	p.space()
	if p.pos != len(p.s) {
		return nil, fmt.Errorf("unexpected text at offset %d", p.pos)
	}
	return a.node, nil
}

// space skips white space, which WKT allows between tokens.
func (p *wktParser) space() {
	for p.pos < len(p.s) && strings.IndexByte(" \t\r\n", p.s[p.pos]) >= 0 {
		p.pos++
	}
}

// arg parses a quoted string, or a bare token that is a node if brackets follow it.
func (p *wktParser) arg(depth int) (wktArg, error) {
	if depth > maxWKTDepth {
		return wktArg{}, errors.New("nested too deeply")
	}
	p.space()
	if p.pos < len(p.s) && p.s[p.pos] == '"' {
		var sb strings.Builder
		for p.pos++; p.pos < len(p.s); p.pos++ {
			if c := p.s[p.pos]; c != '"' {
				sb.WriteByte(c)
				continue
			}
			if p.pos+1 < len(p.s) && p.s[p.pos+1] == '"' { // "" escapes a quote
				sb.WriteByte('"')
				p.pos++
				continue
			}
			p.pos++
			return wktArg{text: sb.String(), quoted: true}, nil
		}
		return wktArg{}, errors.New("unterminated string")
	}
	start := p.pos
	for p.pos < len(p.s) && strings.IndexByte(" \t\r\n[](),\"", p.s[p.pos]) < 0 {
		p.pos++
	}
	word := p.s[start:p.pos]
	if word == "" {
		return wktArg{}, fmt.Errorf("expected a value at offset %d", p.pos)
	}
	p.space()
	if p.pos >= len(p.s) || (p.s[p.pos] != '[' && p.s[p.pos] != '(') {
		return wktArg{text: word}, nil
	}
	open := p.s[p.pos]
	p.pos++
	n := &wktNode{keyword: word}
	for {
		a, err := p.arg(depth + 1)
		if err != nil {
			return wktArg{}, err
		}
		n.args = append(n.args, a)
		p.space()
		if p.pos >= len(p.s) {
			return wktArg{}, errors.New("unterminated " + word)
		}
		switch c := p.s[p.pos]; {
		case c == ',':
			p.pos++
		case (c == ']' && open == '[') || (c == ')' && open == '('):
			p.pos++
			return wktArg{node: n}, nil
		default:
			return wktArg{}, fmt.Errorf("unexpected %q at offset %d", c, p.pos)
		}
	}
}
