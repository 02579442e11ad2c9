package audit

import (
	"bytes"
	"encoding/csv"
	"errors"
	"io"
	"strings"
)

// AnnotationHeading heads the column the annotated file adds.
const AnnotationHeading = "Errors found by caregraph"

// Annotate writes an uploaded file back with one more column, after the last, listing
// each row's problems ("Heading: message", separated by " | "); rows are numbered as
// issues number them (the line a row starts on). The output is UTF-8 CSV with a byte
// order mark, which Excel opens without mangling, whatever the original encoding and
// separator were.
func Annotate(w io.Writer, original []byte, notes map[int][]string) error {
	text, _, err := decode(original)
	if err != nil {
		return err
	}
	r := csv.NewReader(bytes.NewReader(text))
	r.Comma = sniffDelimiter(text)
	r.FieldsPerRecord = -1
	if _, err := io.WriteString(w, "\ufeff"); err != nil {
		return err
	}
	out := csv.NewWriter(w)
	header := true
	width := 0
	for {
		rec, err := r.Read()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return csvError(err)
		}
		if header && blankRecord(rec) {
			continue
		}
		line, _ := r.FieldPos(0)
		if header {
			width = len(rec)
			rec = append(rec, AnnotationHeading)
			header = false
		} else {
			for len(rec) < width {
				rec = append(rec, "")
			}
			rec = append(rec, strings.Join(notes[line], " | "))
		}
		if err := out.Write(rec); err != nil {
			return err
		}
	}
	out.Flush()
	return out.Error()
}
