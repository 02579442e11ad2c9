package graph

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"caregraph/audit/kpi"
	"caregraph/auth"
	"caregraph/graph/model"
	"caregraph/store"
	"caregraph/sync/aggregate"

	"github.com/vikstrous/dataloadgen"
)

// KPI figures are public, but small counts are withheld unless the Policy lets the
// caller see a place's exact figures (aggregate.Suppress says which and why). Patient
// results are audit data: Patient.kpis asks the Policy like every field of a patient.

var levelToStore = map[model.PlaceLevel]store.PlaceLevel{
	model.PlaceLevelUnit:                store.LevelUnit,
	model.PlaceLevelTrust:               store.LevelTrust,
	model.PlaceLevelIntegratedCareBoard: store.LevelICB,
	model.PlaceLevelNhsEnglandRegion:    store.LevelRegion,
	model.PlaceLevelDiabetesNetwork:     store.LevelNetwork,
	model.PlaceLevelCountry:             store.LevelCountry,
	model.PlaceLevelNational:            store.LevelNational,
}

var levelFromStore = func() map[store.PlaceLevel]model.PlaceLevel {
	m := map[store.PlaceLevel]model.PlaceLevel{}
	for k, v := range levelToStore {
		m[v] = k
	}
	return m
}()

// mapLevels are the levels with boundaries, and the boundary layer each draws.
var mapLevels = map[model.PlaceLevel]store.AreaKind{
	model.PlaceLevelIntegratedCareBoard: store.IntegratedCareBoard,
	model.PlaceLevelNhsEnglandRegion:    store.NHSEnglandRegion,
	model.PlaceLevelCountry:             store.Country,
}

var kindNames = map[kpi.Kind]model.KpiKind{
	kpi.Proportion: model.KpiKindProportion,
	kpi.Count:      model.KpiKindCount,
	kpi.Mean:       model.KpiKindMean,
	kpi.Median:     model.KpiKindMedian,
	kpi.Sum:        model.KpiKindSum,
	kpi.Ratio:      model.KpiKindRatio,
}

// kpiDefinitions are the models of kpi.Definitions, shared by every response.
var kpiDefinitions = func() []*model.KpiDefinition {
	out := make([]*model.KpiDefinition, len(kpi.Definitions))
	for i, d := range kpi.Definitions {
		out[i] = &model.KpiDefinition{ID: d.ID, Name: d.Name, Kind: kindNames[d.Kind]}
	}
	return out
}()

func storeLevel(l model.PlaceLevel) (store.PlaceLevel, error) {
	sl, ok := levelToStore[l]
	if !ok {
		return "", badInput(fmt.Sprintf("unknown place level %s", l))
	}
	return sl, nil
}

// kpiQuarter checks a quarter argument: null is the whole year (0).
func kpiQuarter(q *int) (int, error) {
	if q == nil {
		return 0, nil
	}
	if *q < 1 || *q > 4 {
		return 0, badInput(fmt.Sprintf("quarter must be 1 to 4 (or null for the whole audit year), got %d", *q))
	}
	return *q, nil
}

func kpiIDs(ids []string) ([]string, error) {
	if ids == nil {
		return nil, nil
	}
	out := make([]string, len(ids))
	for i, id := range ids {
		id = strings.TrimSpace(id)
		if _, ok := kpi.Index(id); !ok {
			return nil, badInput(fmt.Sprintf("unknown KPI %q: KPIs are 1 to 49 with 32.1, 32.2 and 32.3 (see kpiDefinitions)", ids[i]))
		}
		out[i] = id
	}
	return out, nil
}

func kpiPeriod(year, quarter int) *model.KpiPeriod {
	ps := kpi.Periods(year)
	p := ps[quarter]
	out := &model.KpiPeriod{AuditYear: year, Start: date(p.Start), End: date(p.End)}
	if quarter > 0 {
		q := quarter
		out.Quarter = &q
	}
	return out
}

// normalisePlaceCode upper-cases codes as the registers hold them; the nation's code is
// lower-case.
func normalisePlaceCode(code string) string {
	code = strings.TrimSpace(code)
	if strings.EqualFold(code, store.NationalCode) {
		return store.NationalCode
	}
	return strings.ToUpper(code)
}

// kpiAggregations answers the kpiAggregations field.
func (r *Resolver) kpiAggregations(ctx context.Context, level model.PlaceLevel, code *string, year int, quarter *int, kpis []string) ([]*model.KpiAggregation, error) {
	sl, err := storeLevel(level)
	if err != nil {
		return nil, err
	}
	if err := checkYear(year); err != nil {
		return nil, err
	}
	q, err := kpiQuarter(quarter)
	if err != nil {
		return nil, err
	}
	ids, err := kpiIDs(kpis)
	if err != nil {
		return nil, err
	}
	var c *string
	if code != nil {
		n := normalisePlaceCode(*code)
		c = &n
	}
	rows, err := r.Store.KPIAggregations(ctx, store.KPIQuery{Level: sl, Year: year, Quarter: q, Code: c, KPIs: ids})
	if err != nil {
		return nil, err
	}
	if len(rows) == 0 && c != nil {
		// Only an empty answer asks whether the place exists at all, so that reads of
		// places with figures stay one statement.
		if err := r.checkPlace(ctx, sl, *c); err != nil {
			return nil, err
		}
	}
	period := kpiPeriod(year, q)
	see := r.exactness(ctx)
	out := make([]*model.KpiAggregation, len(rows))
	for i, a := range rows {
		out[i] = toKPIAggregation(a, see(a), period)
	}
	return out, nil
}

// checkPlace refuses a code that names no place of the level.
func (r *Resolver) checkPlace(ctx context.Context, l store.PlaceLevel, code string) error {
	units, err := r.Store.KPIPlaces(ctx, time.Now())
	if err != nil {
		return err
	}
	for _, u := range units {
		for _, p := range u.Places {
			if p.Level == l && (p.Code == code || (p.AreaCode != "" && p.AreaCode == code)) {
				return nil
			}
		}
	}
	return badInput(fmt.Sprintf("no %s has the code %q", strings.ReplaceAll(string(l), "_", " "), code))
}

// exactness returns, for the caller, whether a row's figures are shown exactly: the
// Policy's answer per unit (or for places above units), asked once per request and unit.
func (r *Resolver) exactness(ctx context.Context) func(store.KPIAggregate) bool {
	p := auth.PrincipalFrom(ctx)
	pol := r.Auth.Policy()
	if p == nil {
		return func(store.KPIAggregate) bool { return false }
	}
	above := pol.CanReadExactKPIs(p, 0) == nil
	units := map[int64]bool{}
	return func(a store.KPIAggregate) bool {
		if above {
			return true
		}
		if a.Level != store.LevelUnit || a.UnitID == 0 {
			return false
		}
		ok, seen := units[a.UnitID]
		if !seen {
			ok = pol.CanReadExactKPIs(p, a.UnitID) == nil
			units[a.UnitID] = ok
		}
		return ok
	}
}

func toKPIAggregation(a store.KPIAggregate, exact bool, period *model.KpiPeriod) *model.KpiAggregation {
	f := aggregate.Exact(a)
	if !exact {
		f = aggregate.Suppress(a)
	}
	out := &model.KpiAggregation{Level: levelFromStore[a.Level], Code: a.Code, Name: a.Name, Period: period,
		Kpi: kpiDefinitions[a.Order], Eligible: f.Eligible, Ineligible: f.Ineligible, Passed: f.Passed, Failed: f.Failed,
		Percentage: f.Percentage, Value: f.Value, Suppressed: f.Suppressed, ComputedAt: a.ComputedAt.UTC().Format(time.RFC3339)}
	if a.Order >= len(kpiDefinitions) || kpiDefinitions[a.Order].ID != a.KPI {
		out.Kpi = &model.KpiDefinition{ID: a.KPI, Name: a.KPI, Kind: kindNames[a.Kind]}
	}
	if a.AreaCode != "" {
		ac := a.AreaCode
		out.AreaCode = &ac
	}
	return out
}

// kpiMap answers the kpiMap field: the level's boundaries (from the boundary cache) with
// each place's figures spliced into its feature's properties.
func (r *Resolver) kpiMap(ctx context.Context, level model.PlaceLevel, year int, id string, quarter *int, zoom *int) ([]byte, error) {
	kind, ok := mapLevels[level]
	if !ok {
		return nil, badInput(fmt.Sprintf("%s has no boundaries to draw: kpiMap takes INTEGRATED_CARE_BOARD, NHS_ENGLAND_REGION or COUNTRY (use kpiAggregations for the others)", level))
	}
	if err := checkYear(year); err != nil {
		return nil, err
	}
	q, err := kpiQuarter(quarter)
	if err != nil {
		return nil, err
	}
	ids, err := kpiIDs([]string{id})
	if err != nil {
		return nil, err
	}
	detail, err := zoomLevel(zoom)
	if err != nil {
		return nil, err
	}
	doc, err := r.BoundaryCache.Get(ctx, kind, detail)
	if errors.Is(err, store.ErrNotFound) {
		return nil, fmt.Errorf("boundaries of %s have not been imported (run `server import-shapefiles`): %w", kind, err)
	}
	if err != nil {
		return nil, err
	}
	rows, err := r.Store.KPIAggregations(ctx, store.KPIQuery{Level: levelToStore[level], Year: year, Quarter: q, KPIs: ids})
	if err != nil {
		return nil, err
	}
	see := r.exactness(ctx)
	props := make(map[string][]byte, len(rows))
	for _, a := range rows {
		if a.AreaCode == "" {
			continue
		}
		f := aggregate.Exact(a)
		if !see(a) {
			f = aggregate.Suppress(a)
		}
		b, err := json.Marshal(mapProperties{KPI: a.KPI, Place: a.Code, PlaceName: a.Name, Eligible: f.Eligible,
			Ineligible: f.Ineligible, Passed: f.Passed, Failed: f.Failed, Percentage: f.Percentage, Value: f.Value,
			Suppressed: f.Suppressed})
		if err != nil {
			return nil, err
		}
		props[a.AreaCode] = b[1 : len(b)-1]
	}
	empty, _ := json.Marshal(mapProperties{KPI: ids[0]})
	return store.WithFeatureProperties(doc.JSON, func(code string) []byte {
		if b, ok := props[code]; ok {
			return b
		}
		return empty[1 : len(empty)-1]
	})
}

// mapProperties are the members kpiMap adds to a feature's properties (the boundary
// layer's own are code and name, the area's GSS code and name).
type mapProperties struct {
	KPI        string   `json:"kpi"`
	Place      string   `json:"placeCode,omitempty"`
	PlaceName  string   `json:"placeName,omitempty"`
	Eligible   *int     `json:"eligible"`
	Ineligible *int     `json:"ineligible"`
	Passed     *int     `json:"passed"`
	Failed     *int     `json:"failed"`
	Percentage *float64 `json:"percentage"`
	Value      *float64 `json:"value"`
	Suppressed bool     `json:"suppressed"`
}

// KPILoaders batch the KPI results of patients.
type KPILoaders struct {
	// PatientResults are each patient's stored results, by patient id.
	PatientResults *dataloadgen.Loader[int64, store.KPIPatientResult]
}

func newKPILoaders(st *store.Store) *KPILoaders {
	return &KPILoaders{PatientResults: dataloadgen.NewMappedLoader(st.KPIPatientResults, dataloadgen.WithWait(loaderWait))}
}

var (
	outcomeNames = map[kpi.Outcome]model.KpiOutcome{kpi.Passed: model.KpiOutcomePassed, kpi.Failed: model.KpiOutcomeFailed,
		kpi.Ineligible: model.KpiOutcomeIneligible}
	careNames = map[kpi.CareStatus]model.CareProcessStatus{kpi.CareComplete: model.CareProcessStatusComplete,
		kpi.CareIncomplete: model.CareProcessStatusIncomplete, kpi.CareNotRequired: model.CareProcessStatusNotRequired,
		kpi.CareIncompleteYear: model.CareProcessStatusIncompleteYearOfCare, kpi.CareMissed: model.CareProcessStatusMissed}
)

// patientKPIs answers Patient.kpis, after the Policy.
func (r *Resolver) patientKPIs(ctx context.Context, p *model.Patient, year int, quarter *int) ([]*model.PatientKpi, error) {
	if err := r.guardAudit(ctx, p.UnitID); err != nil {
		return nil, err
	}
	if year != p.AuditYear {
		return nil, badInput(fmt.Sprintf("this patient record belongs to audit year %d, not %d", p.AuditYear, year))
	}
	q, err := kpiQuarter(quarter)
	if err != nil {
		return nil, err
	}
	res, ok, err := load(ctx, r.loaders(ctx).KPIs.PatientResults, p.DBID)
	if err != nil || !ok {
		return []*model.PatientKpi{}, err
	}
	rs, err := store.UnpackKPIResults(res, q)
	if err != nil {
		return nil, err
	}
	period := kpiPeriod(year, q)
	out := make([]*model.PatientKpi, len(rs))
	for i, x := range rs {
		pk := &model.PatientKpi{Kpi: kpiDefinitions[i], Period: period, Outcome: outcomeNames[x.Outcome]}
		if c, ok := careNames[x.Care]; ok {
			pk.CareStatus = &c
		}
		if x.HasValue {
			v := x.Value
			pk.Value = &v
			if kpi.Definitions[i].Kind == kpi.Ratio {
				d := x.Denominator
				pk.Denominator = &d
			}
		}
		out[i] = pk
	}
	return out, nil
}
