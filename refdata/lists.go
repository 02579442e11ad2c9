// Package refdata reads the organisation reference lists (the JSON files in
// CAREGRAPH_DATA_DIR/reference) and seeds the organisation register from them through
// the store's history-keeping writes, reporting every problem it finds in the rows.
package refdata

import (
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
)

// The files of the reference folder.
const (
	FileSites            = "rcpch_organisations.json"
	FileTrusts           = "trusts.json"
	FileLHBs             = "local_health_boards.json"
	FileICBs             = "integrated_care_boards.json"
	FileMapping          = "icb_subicb_local_authority_trust_mapping.json"
	FileRegions          = "nhs_england_regions.json"
	FileOpenUKNetworks   = "open_uk_networks.json"
	FileOpenUKMembers    = "open_uk_network_trusts.json"
	FileDiabetesNetworks = "paediatric_diabetes_networks.json"
	FileUnits            = "paediatric_diabetes_units_pz_codes.json"
	FileUnitNetworks     = "paediatric_diabetes_units_with_networks.json"
	FileCountries        = "country_codes.json"
)

// Site is a row of the organisation (site) list.
type Site struct {
	Code           string `json:"OrganisationCode"`
	Name           string `json:"OrganisationName"`
	Type           string `json:"OrganisationType"`
	SubType        string `json:"SubType"`
	Sector         string `json:"Sector"`
	Address1       string `json:"Address1"`
	Address2       string `json:"Address2"`
	Address3       string `json:"Address3"`
	City           string `json:"City"`
	County         string `json:"County"`
	Postcode       string `json:"Postcode"`
	Latitude       string `json:"Latitude"`
	Longitude      string `json:"Longitude"`
	ParentCode     string `json:"ParentODSCode"`
	ParentName     string `json:"ParentName"`
	Phone          string `json:"Phone"`
	Email          string `json:"Email"`
	Website        string `json:"Website"`
	LocalAuthority string `json:"LocalAuthority"`
}

// Trust is a row of the trust list.
type Trust struct {
	Code     string `json:"ods_code"`
	Name     string `json:"trust_name"`
	Address1 string `json:"address_line_1"`
	Address2 string `json:"address_line_2"`
	Town     string `json:"town"`
	Postcode string `json:"postcode"`
	Country  string `json:"country"`
}

// LHB is a row of the Welsh local health board list.
type LHB struct {
	Name    string `json:"health_board"`
	Code    string `json:"ods_code"`
	GSSCode string `json:"gss_code"`
}

// ICB is a row of the integrated care board list.
type ICB struct {
	Code    string `json:"ods_code"`
	GSSCode string `json:"gss_code"`
	Name    string `json:"name"`
}

// Region is a row of the NHS England region list.
type Region struct {
	GSSCode string `json:"NHS_ENGLAND_REGION_ONS_CODE"`
	Code    string `json:"NHS_ENGLAND_REGION_CODE"`
	Name    string `json:"NHS_ENGLAND_REGION_NAME"`
}

// MappingRow is a row of the region / ICB / sub-ICB / local authority / trust lookup.
type MappingRow struct {
	RegionName string `json:"NHS England Region"`
	RegionCode string `json:"NHS England Region Code"`
	ICBCode    string `json:"ODS ICB Code"`
	ICBGSSCode string `json:"ONS ICB Boundary Code"`
	ICBName    string `json:"ICB Name"`
	TrustName  string `json:"NHS Trusts"`
	TrustCode  string `json:"ODS Trust Code"`
}

// OpenUKNetwork is a row of the OPEN UK network list.
type OpenUKNetwork struct {
	Name    string `json:"OPEN_UK_Network_Name"`
	Code    string `json:"OPEN_UK_Network_Code"`
	Country string `json:"country"`
}

// OpenUKMember ties a trust or health board to an OPEN UK network.
type OpenUKMember struct {
	OrgCode     string `json:"ods trust code"`
	NetworkName string `json:"OPEN UK Network Name"`
	NetworkCode string `json:"OPEN UK Network Code"`
}

// DiabetesNetwork is a row of the paediatric diabetes network list.
type DiabetesNetwork struct {
	Code string `json:"id"`
	Name string `json:"name"`
}

// Unit ties a PZ code to its lead organisation.
type Unit struct {
	OrgCode string `json:"ods_code"`
	PZCode  string `json:"npda_code"`
}

// UnitNetwork ties a PZ code to its network; NetworkCode is empty where the list says
// "Unknown".
type UnitNetwork struct {
	OrgCode     string  `json:"ods_code"`
	PZCode      string  `json:"npda_code"`
	NetworkName string  `json:"network_name"`
	NetworkCode *string `json:"network_code"`
}

// Country is a row of the country list.
type Country struct {
	GSSCode string `json:"country_ons_code"`
	Name    string `json:"country_ons_name"`
}

// Lists are all the reference lists.
type Lists struct {
	Sites            []Site
	Trusts           []Trust
	LHBs             []LHB
	ICBs             []ICB
	Mapping          []MappingRow
	Regions          []Region
	OpenUKNetworks   []OpenUKNetwork
	OpenUKMembers    []OpenUKMember
	DiabetesNetworks []DiabetesNetwork
	Units            []Unit
	UnitNetworks     []UnitNetwork
	Countries        []Country
}

// Load reads every list from dir (the folder holding the JSON files, usually
// CAREGRAPH_DATA_DIR/reference). A missing or malformed file is an error naming it.
func Load(dir string) (*Lists, error) {
	var l Lists
	files := []struct {
		name string
		into any
	}{
		{FileSites, &l.Sites}, {FileTrusts, &l.Trusts}, {FileLHBs, &l.LHBs}, {FileICBs, &l.ICBs},
		{FileMapping, &l.Mapping}, {FileRegions, &l.Regions}, {FileOpenUKNetworks, &l.OpenUKNetworks},
		{FileOpenUKMembers, &l.OpenUKMembers}, {FileDiabetesNetworks, &l.DiabetesNetworks},
		{FileUnits, &l.Units}, {FileUnitNetworks, &l.UnitNetworks}, {FileCountries, &l.Countries},
	}
	for _, f := range files {
		fh, err := os.Open(filepath.Join(dir, f.name))
		if err != nil {
			return nil, fmt.Errorf("reference list: %w", err)
		}
		err = decodeList(fh, f.into)
		fh.Close()
		if err != nil {
			return nil, fmt.Errorf("reference list %s: %w", f.name, err)
		}
	}
	l.normalise()
	return &l, nil
}

// decodeList reads one JSON array of objects.
func decodeList(r io.Reader, into any) error {
	dec := json.NewDecoder(r)
	if err := dec.Decode(into); err != nil {
		return fmt.Errorf("not a JSON array of the expected rows: %w", err)
	}
	if dec.More() {
		return fmt.Errorf("unexpected data after the JSON array")
	}
	return nil
}

// normalise trims every value and upper-cases the codes, so that " rgt " and "RGT" meet.
func (l *Lists) normalise() {
	code := func(s *string) { *s = strings.ToUpper(strings.TrimSpace(*s)) }
	for i := range l.Sites {
		s := &l.Sites[i]
		code(&s.Code)
		code(&s.ParentCode)
		code(&s.LocalAuthority)
		for _, f := range []*string{&s.Name, &s.Type, &s.SubType, &s.Sector, &s.Address1, &s.Address2, &s.Address3,
			&s.City, &s.County, &s.Postcode, &s.Latitude, &s.Longitude, &s.ParentName, &s.Phone, &s.Email, &s.Website} {
			*f = strings.TrimSpace(*f)
		}
	}
	for i := range l.Trusts {
		t := &l.Trusts[i]
		code(&t.Code)
		for _, f := range []*string{&t.Name, &t.Address1, &t.Address2, &t.Town, &t.Postcode, &t.Country} {
			*f = strings.TrimSpace(*f)
		}
	}
	for i := range l.LHBs {
		code(&l.LHBs[i].Code)
		code(&l.LHBs[i].GSSCode)
		l.LHBs[i].Name = strings.TrimSpace(l.LHBs[i].Name)
	}
	for i := range l.ICBs {
		code(&l.ICBs[i].Code)
		code(&l.ICBs[i].GSSCode)
		l.ICBs[i].Name = strings.TrimSpace(l.ICBs[i].Name)
	}
	for i := range l.Mapping {
		m := &l.Mapping[i]
		code(&m.RegionCode)
		code(&m.ICBCode)
		code(&m.ICBGSSCode)
		code(&m.TrustCode)
	}
	for i := range l.Regions {
		code(&l.Regions[i].Code)
		code(&l.Regions[i].GSSCode)
		l.Regions[i].Name = strings.TrimSpace(l.Regions[i].Name)
	}
	for i := range l.OpenUKNetworks {
		code(&l.OpenUKNetworks[i].Code)
		l.OpenUKNetworks[i].Name = strings.TrimSpace(l.OpenUKNetworks[i].Name)
		l.OpenUKNetworks[i].Country = strings.TrimSpace(l.OpenUKNetworks[i].Country)
	}
	for i := range l.OpenUKMembers {
		code(&l.OpenUKMembers[i].OrgCode)
		code(&l.OpenUKMembers[i].NetworkCode)
	}
	for i := range l.DiabetesNetworks {
		code(&l.DiabetesNetworks[i].Code)
		l.DiabetesNetworks[i].Name = strings.TrimSpace(l.DiabetesNetworks[i].Name)
	}
	for i := range l.Units {
		code(&l.Units[i].OrgCode)
		code(&l.Units[i].PZCode)
	}
	for i := range l.UnitNetworks {
		u := &l.UnitNetworks[i]
		code(&u.OrgCode)
		code(&u.PZCode)
		if u.NetworkCode != nil {
			code(u.NetworkCode)
			if *u.NetworkCode == "" {
				u.NetworkCode = nil
			}
		}
	}
	for i := range l.Countries {
		code(&l.Countries[i].GSSCode)
	}
}

// parsePoint reads a site's latitude and longitude; ok is false when either is missing,
// and err says what is wrong with a value that is present but unusable.
func parsePoint(lat, lon string) (la, lo float64, ok bool, err error) {
	if lat == "" && lon == "" {
		return 0, 0, false, nil
	}
	la, err1 := strconv.ParseFloat(lat, 64)
	lo, err2 := strconv.ParseFloat(lon, 64)
	switch {
	case err1 != nil || err2 != nil:
		return 0, 0, false, fmt.Errorf("latitude %q / longitude %q is not a pair of numbers", lat, lon)
	case la < -90 || la > 90 || lo < -180 || lo > 180:
		return 0, 0, false, fmt.Errorf("latitude %v / longitude %v is outside the globe", la, lo)
	case la == 0 && lo == 0:
		return 0, 0, false, fmt.Errorf("latitude and longitude are both 0 (a placeholder, not a place)")
	}
	return la, lo, true, nil
}
