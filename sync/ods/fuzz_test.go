package ods

import (
	"encoding/json"
	"os"
	"path/filepath"
	"testing"
)

func jsonUnmarshal(s string, into any) error { return json.Unmarshal([]byte(s), into) }

// FuzzRecords feeds arbitrary bytes to both record parsers: they may refuse, never panic.
func FuzzRecords(f *testing.F) {
	for _, name := range []string{"ord_RGT01.json", "ord_RW6.json", "fhir_org_page1.json", "fhir_affiliations.json"} {
		b, err := os.ReadFile(filepath.Join("testdata", name))
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	f.Add([]byte(`{"Organisation": {"Rels": {"Rel": {"Target": null}}}}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		var o ordRecord
		if json.Unmarshal(b, &o) == nil {
			if r, err := o.record("X"); err == nil {
				r.ActiveParent()
				r.EndDate()
			}
		}
		var fr fhirResource
		if json.Unmarshal(b, &fr) == nil {
			_, _ = fr.record()
			fr.rel()
		}
		var bu bundle
		_ = json.Unmarshal(b, &bu)
	})
}
