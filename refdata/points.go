package refdata

import "caregraph/store"

// SitePoint returns the site's point when the list gives a usable one.
func SitePoint(s Site) (store.LatLon, bool) {
	la, lo, ok, err := parsePoint(s.Latitude, s.Longitude)
	if err != nil || !ok {
		return store.LatLon{}, false
	}
	return store.LatLon{Lat: la, Lon: lo}, true
}
