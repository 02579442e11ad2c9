// Package aggregate computes the audit KPIs of every patient of the units' active
// submissions and sums them by place — unit, trust or health board, ICB, NHS England
// region, diabetes network, country, the nation — for an audit year and each of its
// quarters. The rules are audit/kpi's; this package loads, evaluates, sums and stores
// through the store. A full run replaces a year in one transaction; a unit's run
// (after its submission is activated) replaces that unit and the places above it.
package aggregate

import (
	"context"
	"fmt"
	"log/slog"
	"runtime"
	"slices"
	"sync"
	"time"

	"caregraph/audit/kpi"
	"caregraph/store"
)

// Job is the name full and manual runs are recorded under in job_runs; UnitJob is the
// name of the runs after an activation (a different name, so that a manual run, which
// marks its job's unfinished runs abandoned, never touches a unit's run under way).
const (
	Job     = "kpi-aggregate"
	UnitJob = "kpi-aggregate-unit"
)

// Aggregator computes and stores KPI aggregates.
type Aggregator struct {
	Store  *store.Store
	Logger *slog.Logger
	// Now is the clock (time.Now): the organisation hierarchy is read as of its date.
	Now func() time.Time
	// Host names this process in job_runs.
	Host string
	// Workers evaluate patients in parallel (GOMAXPROCS when 0).
	Workers int

	wg sync.WaitGroup
}

// Progress hears how a run goes: a stage and, where it has one, a count.
type Progress func(stage string, n int)

// Report is what a run did and how long each part took.
type Report struct {
	Year     int
	Units    int
	Patients int
	Visits   int
	Places   int
	Rows     int
	Load     time.Duration
	Evaluate time.Duration
	Write    time.Duration
	Total    time.Duration
}

// Counts are the report's figures as job_runs records them.
func (r Report) Counts() map[string]int {
	return map[string]int{"audit_year": r.Year, "units": r.Units, "patients": r.Patients, "visits": r.Visits,
		"places": r.Places, "rows": r.Rows, "load_ms": int(r.Load.Milliseconds()),
		"evaluate_ms": int(r.Evaluate.Milliseconds()), "write_ms": int(r.Write.Milliseconds())}
}

func (a *Aggregator) logger() *slog.Logger {
	if a.Logger == nil {
		return slog.New(slog.DiscardHandler)
	}
	return a.Logger
}

func (a *Aggregator) today() time.Time {
	now := time.Now
	if a.Now != nil {
		now = a.Now
	}
	return store.Day(now())
}

// Years are the audit years to recompute nightly: those with an active submission or
// stored aggregates (so that a year whose last submission went away is emptied).
func (a *Aggregator) Years(ctx context.Context) ([]int, error) {
	return a.Store.KPIYears(ctx)
}

// load reads today's places of the units and the patients of the year (of unitIDs, or
// of every unit when nil), and counts them and the time taken into rep.
func (a *Aggregator) load(ctx context.Context, year int, unitIDs []int64, rep *Report, progress Progress) ([]store.UnitPlaces, []kpi.Patient, error) {
	start := time.Now()
	places, err := a.Store.KPIPlaces(ctx, a.today())
	if err != nil {
		return nil, nil, err
	}
	progress("loading", 0)
	pats, err := a.Store.KPIPatients(ctx, year, unitIDs)
	if err != nil {
		return nil, nil, err
	}
	rep.Load = time.Since(start)
	rep.Patients = len(pats)
	for i := range pats {
		rep.Visits += len(pats[i].Visits)
	}
	progress("loaded patients", rep.Patients)
	return places, pats, nil
}

// RunYear recomputes every unit and place of the audit year and replaces the year's
// results and aggregates in one transaction: readers see the old figures until the new
// ones are all there.
func (a *Aggregator) RunYear(ctx context.Context, year int, progress Progress) (Report, error) {
	if progress == nil {
		progress = func(string, int) {}
	}
	start := time.Now()
	rep := Report{Year: year}
	places, pats, err := a.load(ctx, year, nil, &rep, progress)
	if err != nil {
		return rep, err
	}

	t := time.Now()
	ev := a.evaluate(pats, year)
	byPZ := map[string]*unitSums{}
	var rows []store.KPIAggregate
	var packed []store.KPIUnitSums
	for _, u := range places {
		sums, ok := ev.units[u.UnitID]
		if !ok {
			continue
		}
		byPZ[u.PZCode] = sums
		place, _ := u.Place(store.LevelUnit)
		rows = append(rows, sums.rows(year, place, u.UnitID)...)
		packed = append(packed, sums.pack(u))
	}
	if len(packed) != len(ev.units) {
		return rep, fmt.Errorf("audit year %d: %d units have patients but are not in the register", year, len(ev.units)-len(packed))
	}
	for _, p := range placesAbove(places, nil) {
		rows = append(rows, sumPlace(p, byPZ).rows(year, p.place, 0)...)
	}
	rep.Evaluate = time.Since(t)
	rep.Units, rep.Rows = len(ev.units), len(rows)
	rep.Places = countPlaces(rows)
	progress("evaluated patients", rep.Patients)

	t = time.Now()
	progress("writing", rep.Rows)
	err = a.Store.InTx(ctx, func(tx *store.Store) error {
		if err := tx.LockKPIYear(ctx, year); err != nil {
			return err
		}
		if err := tx.ReplaceKPIPatientResults(ctx, year, nil, ev.results); err != nil {
			return err
		}
		if err := tx.ReplaceKPIUnitSums(ctx, year, nil, packed); err != nil {
			return err
		}
		return tx.ReplaceKPIAggregates(ctx, year, nil, rows)
	})
	if err != nil {
		return rep, fmt.Errorf("audit year %d: %w", year, err)
	}
	rep.Write = time.Since(t)
	rep.Total = time.Since(start)
	progress("written", rep.Rows)
	return rep, nil
}

// RunUnits recomputes the units of the audit year and the places above them: the units'
// patients are evaluated again, the other units' stored sums are reused.
func (a *Aggregator) RunUnits(ctx context.Context, year int, unitIDs []int64, progress Progress) (Report, error) {
	if progress == nil {
		progress = func(string, int) {}
	}
	start := time.Now()
	rep := Report{Year: year}
	places, pats, err := a.load(ctx, year, unitIDs, &rep, progress)
	if err != nil {
		return rep, err
	}

	t := time.Now()
	ev := a.evaluate(pats, year)
	changed := map[int64]bool{}
	for _, id := range unitIDs {
		changed[id] = true
	}
	byPZ := map[string]*unitSums{}
	var rows []store.KPIAggregate
	var packed []store.KPIUnitSums
	var replace []store.PlaceKey
	for _, u := range places {
		if !changed[u.UnitID] {
			continue
		}
		replace = append(replace, store.PlaceKey{Level: store.LevelUnit, Code: u.PZCode})
		if sums, ok := ev.units[u.UnitID]; ok {
			byPZ[u.PZCode] = sums
			place, _ := u.Place(store.LevelUnit)
			rows = append(rows, sums.rows(year, place, u.UnitID)...)
			packed = append(packed, sums.pack(u))
		}
	}
	if len(replace) != len(changed) {
		return rep, fmt.Errorf("audit year %d: %d of the units asked for are not in the register", year, len(changed)-len(replace))
	}
	above := placesAbove(places, changed)
	var others []int64
	for _, u := range places {
		if !changed[u.UnitID] && inAny(above, u.PZCode) {
			others = append(others, u.UnitID)
		}
	}
	rep.Evaluate = time.Since(t)
	progress("evaluated patients", rep.Patients)

	t = time.Now()
	err = a.Store.InTx(ctx, func(tx *store.Store) error {
		if err := tx.LockKPIYear(ctx, year); err != nil {
			return err
		}
		if err := tx.ReplaceKPIPatientResults(ctx, year, unitIDs, ev.results); err != nil {
			return err
		}
		if err := tx.ReplaceKPIUnitSums(ctx, year, unitIDs, packed); err != nil {
			return err
		}
		// The other units' sums are read after the lock, so that a recompute of a
		// neighbour that committed a moment ago is in the places above.
		stored, err := tx.KPIUnitSumsOf(ctx, year, others)
		if err != nil {
			return err
		}
		for _, su := range stored {
			sums, err := unpack(su)
			if err != nil {
				return err
			}
			byPZ[su.PZCode] = sums
		}
		for _, p := range above {
			replace = append(replace, store.PlaceKey{Level: p.place.Level, Code: p.place.Code})
			rows = append(rows, sumPlace(p, byPZ).rows(year, p.place, 0)...)
		}
		return tx.ReplaceKPIAggregates(ctx, year, replace, rows)
	})
	if err != nil {
		return rep, fmt.Errorf("audit year %d: %w", year, err)
	}
	rep.Write = time.Since(t)
	rep.Units, rep.Rows, rep.Places = len(unitIDs), len(rows), len(replace)
	rep.Total = time.Since(start)
	progress("written", rep.Rows)
	return rep, nil
}

// AfterActivation recomputes a unit's KPIs, and the places above it, in the background
// after its submission for the audit year was activated. It returns at once: the
// upload neither waits for it nor fails with it. The run is recorded in job_runs and a
// failure is logged; the nightly run repairs whatever a failed one left.
func (a *Aggregator) AfterActivation(unitID int64, year int) {
	a.wg.Add(1)
	go func() {
		defer a.wg.Done()
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
		defer cancel()
		log := a.logger().With("job", UnitJob, "unit_id", unitID, "audit_year", year)
		id, err := a.Store.StartJobRun(ctx, UnitJob, store.TriggerActivation, nil, a.Host)
		if err != nil {
			log.Error("kpi recompute not started", "error", err)
			return
		}
		rep, err := a.runUnitSafely(ctx, year, unitID)
		outcome, msg := store.OutcomeSucceeded, (*string)(nil)
		if err != nil {
			outcome = store.OutcomeFailed
			m := err.Error()
			msg = &m
			log.Error("kpi recompute failed", "error", err)
		} else {
			log.Info("kpi recompute finished", "patients", rep.Patients, "rows", rep.Rows, "took", rep.Total)
		}
		if ferr := a.Store.FinishJobRun(ctx, id, outcome, rep.Counts(), msg); ferr != nil {
			log.Error("kpi recompute not recorded", "error", ferr)
		}
	}()
}

// runUnitSafely turns a panic in the rules into an error, so that a background run can
// never take the server down.
func (a *Aggregator) runUnitSafely(ctx context.Context, year int, unitID int64) (rep Report, err error) {
	defer func() {
		if p := recover(); p != nil {
			err = fmt.Errorf("kpi recompute panicked: %v", p)
		}
	}()
	return a.RunUnits(ctx, year, []int64{unitID}, nil)
}

// Wait blocks until the background recomputes started so far have finished.
func (a *Aggregator) Wait() { a.wg.Wait() }

// evaluation is every patient's packed results and every unit's sums.
type evaluation struct {
	results []store.KPIPatientResult
	units   map[int64]*unitSums
}

// unitSums holds a unit's sums per period (the year, quarters 1–4) and KPI.
type unitSums [5][]Sums

func newUnitSums() *unitSums {
	var u unitSums
	for p := range u {
		u[p] = make([]Sums, len(kpi.Definitions))
	}
	return &u
}

func (u *unitSums) merge(o *unitSums) {
	for p := range u {
		for k := range u[p] {
			u[p][k].Add(o[p][k])
		}
	}
}

// rows turns sums into the aggregate rows of the place (unitID for a unit's rows).
func (u *unitSums) rows(year int, place store.Place, unitID int64) []store.KPIAggregate {
	out := make([]store.KPIAggregate, 0, 5*len(kpi.Definitions))
	for p := range u {
		for k, d := range kpi.Definitions {
			s := u[p][k]
			if d.Kind == kpi.Median {
				slices.Sort(s.Values)
			}
			a := s.Aggregate(year, p, place, k)
			a.UnitID = unitID
			out = append(out, a)
		}
	}
	return out
}

// sumPlace adds up the sums of a place's units (those with data).
func sumPlace(p placeMembers, byPZ map[string]*unitSums) *unitSums {
	s := newUnitSums()
	for pz := range p.members {
		if u, ok := byPZ[pz]; ok {
			s.merge(u)
		}
	}
	return s
}

// pack stores a unit's sums as kpi_unit_sums holds them; the Median KPIs' values must
// be sorted (rows sorts them).
func (u *unitSums) pack(up store.UnitPlaces) store.KPIUnitSums {
	n := len(kpi.Definitions)
	out := store.KPIUnitSums{UnitID: up.UnitID, PZCode: up.PZCode, KPICount: n,
		Counts: make([]int32, 0, 25*n), Sums: make([]float64, 0, 10*n)}
	for p := range u {
		for k, d := range kpi.Definitions {
			s := u[p][k]
			out.Counts = append(out.Counts, int32(s.Eligible), int32(s.Ineligible), int32(s.Passed), int32(s.Failed), int32(s.ValueCount))
			out.Sums = append(out.Sums, s.ValueSum, s.DenominatorSum)
			if d.Kind == kpi.Median {
				out.MedianValues = append(out.MedianValues, s.Values...)
				out.MedianLengths = append(out.MedianLengths, int32(len(s.Values)))
			}
		}
	}
	return out
}

// unpack reverses pack; sums stored for another list of KPIs are refused (the next full
// run rewrites them).
func unpack(su store.KPIUnitSums) (*unitSums, error) {
	n := len(kpi.Definitions)
	medians := 0
	for _, d := range kpi.Definitions {
		if d.Kind == kpi.Median {
			medians++
		}
	}
	if su.KPICount != n || len(su.Counts) != 25*n || len(su.Sums) != 10*n || len(su.MedianLengths) != 5*medians {
		return nil, fmt.Errorf("the stored sums of unit %s are for %d KPIs, not the %d defined now: run a full aggregation", su.PZCode, su.KPICount, n)
	}
	u := newUnitSums()
	c, f, m, off := 0, 0, 0, 0
	for p := range u {
		for k, d := range kpi.Definitions {
			s := &u[p][k]
			s.Eligible, s.Ineligible, s.Passed, s.Failed, s.ValueCount = int(su.Counts[c]), int(su.Counts[c+1]), int(su.Counts[c+2]), int(su.Counts[c+3]), int(su.Counts[c+4])
			s.ValueSum, s.DenominatorSum = su.Sums[f], su.Sums[f+1]
			c, f = c+5, f+2
			if d.Kind == kpi.Median {
				l := int(su.MedianLengths[m])
				if off+l > len(su.MedianValues) {
					return nil, fmt.Errorf("the stored median values of unit %s are short", su.PZCode)
				}
				s.Values = su.MedianValues[off : off+l : off+l]
				off += l
				m++
			}
		}
	}
	return u, nil
}

// evaluate runs the rules for every patient and period, on several workers, each
// summing its share of patients by unit.
func (a *Aggregator) evaluate(pats []kpi.Patient, year int) evaluation {
	periods := kpi.Periods(year)
	workers := a.Workers
	if workers <= 0 {
		workers = runtime.GOMAXPROCS(0)
	}
	workers = max(1, min(workers, len(pats)/256+1))
	results := make([]store.KPIPatientResult, len(pats))
	partial := make([]map[int64]*unitSums, workers)
	var wg sync.WaitGroup
	chunk := (len(pats) + workers - 1) / workers
	for w := range workers {
		lo, hi := w*chunk, min(len(pats), (w+1)*chunk)
		partial[w] = map[int64]*unitSums{}
		if lo >= hi {
			continue
		}
		wg.Add(1)
		go func(units map[int64]*unitSums, pats []kpi.Patient, out []store.KPIPatientResult) {
			defer wg.Done()
			n := len(kpi.Definitions)
			var buf []kpi.Result
			per := make([][]kpi.Result, len(periods))
			// The packed results of a whole chunk share two backing arrays.
			outcomes := make([]byte, 0, len(pats)*len(periods)*n)
			slots := 0
			for _, d := range kpi.Definitions {
				if store.ValueKPI(d.Kind) {
					slots++
				}
				if d.Kind == kpi.Ratio {
					slots++
				}
			}
			vals := make([]byte, 0, len(pats)*len(periods)*slots*8)
			var sums *unitSums
			var sumsUnit int64 = -1
			for i := range pats {
				p := &pats[i]
				if p.UnitID != sumsUnit {
					sums = units[p.UnitID]
					if sums == nil {
						sums = newUnitSums()
						units[p.UnitID] = sums
					}
					sumsUnit = p.UnitID
				}
				for pi, per0 := range periods {
					buf = kpi.EvaluateInto(buf, p, per0)
					per[pi] = append(per[pi][:0], buf...)
					for k := range buf {
						sums[pi][k].AddResult(kpi.Definitions[k].Kind, buf[k])
					}
				}
				o0, v0 := len(outcomes), len(vals)
				outcomes, vals = store.PackKPIResults(per, outcomes, vals)
				out[i] = store.KPIPatientResult{PatientID: p.ID, UnitID: p.UnitID, AuditYear: year, KPICount: n,
					Outcomes: outcomes[o0:len(outcomes):len(outcomes)], Values: vals[v0:len(vals):len(vals)]}
			}
		}(partial[w], pats[lo:hi], results[lo:hi])
	}
	wg.Wait()
	units := partial[0]
	for _, m := range partial[1:] {
		for id, s := range m {
			if have, ok := units[id]; ok {
				have.merge(s)
			} else {
				units[id] = s
			}
		}
	}
	return evaluation{results: results, units: units}
}

// placeMembers is a place above units with the PZ codes of its units.
type placeMembers struct {
	place   store.Place
	members map[string]bool
}

// placesAbove groups the units by their places above the unit level; with changed
// set, only the places of the changed units.
func placesAbove(units []store.UnitPlaces, changed map[int64]bool) []placeMembers {
	idx := map[store.PlaceKey]int{}
	var out []placeMembers
	want := map[store.PlaceKey]bool{}
	for _, u := range units {
		if changed != nil && !changed[u.UnitID] {
			continue
		}
		for _, p := range u.Places {
			want[store.PlaceKey{Level: p.Level, Code: p.Code}] = true
		}
	}
	for _, u := range units {
		for _, p := range u.Places {
			k := store.PlaceKey{Level: p.Level, Code: p.Code}
			if p.Level == store.LevelUnit || !want[k] {
				continue
			}
			i, ok := idx[k]
			if !ok {
				i = len(out)
				idx[k] = i
				out = append(out, placeMembers{place: p, members: map[string]bool{}})
			}
			out[i].members[u.PZCode] = true
		}
	}
	return out
}

func inAny(ps []placeMembers, pz string) bool {
	for _, p := range ps {
		if p.members[pz] {
			return true
		}
	}
	return false
}

func countPlaces(rows []store.KPIAggregate) int {
	seen := map[store.PlaceKey]bool{}
	for _, r := range rows {
		seen[store.PlaceKey{Level: r.Level, Code: r.Code}] = true
	}
	return len(seen)
}
