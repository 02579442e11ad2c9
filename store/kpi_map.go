package store

import (
	"bytes"
	"encoding/json"
	"fmt"
)

// WithFeatureProperties copies a FeatureCollection rendered by RenderFeatureCollection,
// adding to each feature's properties the members extra returns for its code (JSON
// object members without braces, e.g. `"value":1.5,"suppressed":false`). It splices
// rather than decodes, so a choropleth of full-detail boundaries costs a copy of the
// document, not a parse of it.
func WithFeatureProperties(fc []byte, extra func(code string) []byte) ([]byte, error) {
	const feature = `{"type":"Feature","id":`
	const geometry = `},"geometry":`
	out := make([]byte, 0, len(fc)+len(fc)/8+4096)
	rest := fc
	for {
		i := bytes.Index(rest, []byte(feature))
		if i < 0 {
			break
		}
		start := i + len(feature)
		var code string
		dec := json.NewDecoder(bytes.NewReader(rest[start:]))
		if err := dec.Decode(&code); err != nil {
			return nil, fmt.Errorf("feature collection: feature id: %w", err)
		}
		j := bytes.Index(rest[start:], []byte(geometry))
		if j < 0 {
			return nil, fmt.Errorf("feature collection: feature %s has no properties before its geometry", code)
		}
		cut := start + j
		out = append(out, rest[:cut]...)
		if b := extra(code); len(b) > 0 {
			out = append(out, ',')
			out = append(out, b...)
		}
		rest = rest[cut:]
	}
	return append(out, rest...), nil
}
