package refdata

import (
	"strings"
	"testing"
)

// FuzzDecodeSites feeds the site list's decoder arbitrary input: it must return an error
// or rows, never panic, and normalising what it returns must not panic either.
func FuzzDecodeSites(f *testing.F) {
	f.Add(`[{"OrganisationCode":" rgt01 ","OrganisationName":"ADDENBROOKE'S","Latitude":"52.1","Longitude":"0.14","ParentODSCode":"RGT"}]`)
	f.Add(`[]`)
	f.Add(`{"not":"an array"}`)
	f.Add(`[{"Latitude": 52}]`)
	f.Fuzz(func(t *testing.T, in string) {
		var sites []Site
		if err := decodeList(strings.NewReader(in), &sites); err != nil {
			return
		}
		l := Lists{Sites: sites}
		l.normalise()
		for _, s := range l.Sites {
			if s.Code != strings.ToUpper(strings.TrimSpace(s.Code)) {
				t.Errorf("code %q not normalised", s.Code)
			}
			if la, lo, ok, err := parsePoint(s.Latitude, s.Longitude); ok && (err != nil || la < -90 || la > 90 || lo < -180 || lo > 180) {
				t.Errorf("point %q %q accepted as %v %v", s.Latitude, s.Longitude, la, lo)
			}
		}
	})
}
