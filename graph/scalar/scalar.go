// Package scalar holds the custom GraphQL scalars: Date and GeoJSON.
package scalar

import (
	"encoding/json"
	"fmt"
	"io"
	"time"

	"github.com/vektah/gqlparser/v2/gqlerror"
)

// Date is a calendar date without time or zone, written YYYY-MM-DD.
type Date struct{ time.Time }

// UnmarshalGQL parses YYYY-MM-DD. A malformed date is the caller's mistake, so the error
// carries the BAD_USER_INPUT code (this package cannot reach graph's error presenter).
func (d *Date) UnmarshalGQL(v any) error {
	s, ok := v.(string)
	if !ok {
		return badInput("Date must be a string in the form YYYY-MM-DD")
	}
	t, err := time.Parse(time.DateOnly, s)
	if err != nil {
		return badInput(fmt.Sprintf("Date must be in the form YYYY-MM-DD, got %q", s))
	}
	d.Time = t
	return nil
}

func badInput(msg string) error {
	return &gqlerror.Error{Message: msg, Extensions: map[string]any{"code": "BAD_USER_INPUT"}}
}

// MarshalGQL writes YYYY-MM-DD.
func (d Date) MarshalGQL(w io.Writer) {
	fmt.Fprintf(w, "%q", d.Format(time.DateOnly))
}

// GeoJSON is a GeoJSON document already encoded (by PostGIS or the boundary cache); it is
// written into the response as it is, never re-encoded.
type GeoJSON []byte

// UnmarshalGQL accepts any JSON value and keeps its encoding.
func (g *GeoJSON) UnmarshalGQL(v any) error {
	b, err := json.Marshal(v)
	if err != nil {
		return fmt.Errorf("GeoJSON: %w", err)
	}
	*g = b
	return nil
}

// MarshalGQL writes the document.
func (g GeoJSON) MarshalGQL(w io.Writer) {
	if len(g) == 0 {
		_, _ = io.WriteString(w, "null")
		return
	}
	_, _ = w.Write(g)
}
