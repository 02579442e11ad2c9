package store

import (
	"context"
	"encoding/binary"
	"fmt"
	"math"
	"time"

	"caregraph/audit/kpi"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgtype"
)

// The store reads and writes the KPI tables of migration 0008. The rules that make the
// results are in audit/kpi and the sums in sync/aggregate; this file only moves them.

// TriggerActivation marks a KPI recompute started by a unit's activated submission.
const TriggerActivation JobTrigger = "activation"

// Patients load for the KPIs in two statements: the patients, then their visits in the
// order of the visits' unique index (submission, row), which needs no sort; each visit
// is attached to its patient by id. Both decode PostgreSQL's binary format directly
// (dates, smallints, doubles): going through pgx's generic scanning costs several times
// as long for half a million visits with 45 columns each.
const sqlKPIPatients = `
SELECT p.id, p.unit_id, s.dataset_version, p.visit_count, p.date_of_birth, p.diabetes_type, p.diagnosis_date,
    p.date_leaving_service, p.reason_leaving_service, p.death_date
FROM submissions s
JOIN patients p ON p.submission_id = s.id
WHERE s.state = 'active' AND s.audit_year = $1 AND ($2::bigint[] IS NULL OR s.unit_id = ANY($2))
ORDER BY p.id`

// kpiVisitColumns are the visit columns the rules read, each with where it goes.
var kpiVisitColumns = []struct {
	name string
	set  func(v *kpi.Visit, b []byte, a *visitArena)
}{
	{"row_number", func(v *kpi.Visit, b []byte, _ *visitArena) { v.RowNumber = int(int32(binary.BigEndian.Uint32(b))) }},
	{"visit_date", func(v *kpi.Visit, b []byte, _ *visitArena) { v.VisitDate = pgDate(b) }},
	{"height", func(v *kpi.Visit, b []byte, a *visitArena) { v.Height = a.float(b) }},
	{"weight", func(v *kpi.Visit, b []byte, a *visitArena) { v.Weight = a.float(b) }},
	{"height_weight_date", func(v *kpi.Visit, b []byte, _ *visitArena) { v.HeightWeightDate = pgDate(b) }},
	{"hba1c", func(v *kpi.Visit, b []byte, a *visitArena) { v.HbA1c = a.float(b) }},
	{"hba1c_format", func(v *kpi.Visit, b []byte, a *visitArena) { v.HbA1cFormat = a.small(b) }},
	{"hba1c_date", func(v *kpi.Visit, b []byte, _ *visitArena) { v.HbA1cDate = pgDate(b) }},
	{"treatment", func(v *kpi.Visit, b []byte, a *visitArena) { v.Treatment = a.small(b) }},
	{"closed_loop_system", func(v *kpi.Visit, b []byte, a *visitArena) { v.ClosedLoopSystem = a.small(b) }},
	{"glucose_monitoring", func(v *kpi.Visit, b []byte, a *visitArena) { v.GlucoseMonitoring = a.small(b) }},
	{"insulin_regimen", func(v *kpi.Visit, b []byte, a *visitArena) { v.InsulinRegimen = a.small(b) }},
	{"non_insulin_medication", func(v *kpi.Visit, b []byte, a *visitArena) { v.NonInsulinMedication = a.small(b) }},
	{"cgm", func(v *kpi.Visit, b []byte, a *visitArena) { v.CGM = a.small(b) }},
	{"systolic_bp", func(v *kpi.Visit, b []byte, a *visitArena) { v.SystolicBP = a.small(b) }},
	{"diastolic_bp", func(v *kpi.Visit, b []byte, a *visitArena) { v.DiastolicBP = a.small(b) }},
	{"bp_date", func(v *kpi.Visit, b []byte, _ *visitArena) { v.BPDate = pgDate(b) }},
	{"foot_exam_date", func(v *kpi.Visit, b []byte, _ *visitArena) { v.FootExamDate = pgDate(b) }},
	{"retinal_screening_date", func(v *kpi.Visit, b []byte, _ *visitArena) { v.RetinalScreeningDate = pgDate(b) }},
	{"retinal_screening_result", func(v *kpi.Visit, b []byte, a *visitArena) { v.RetinalScreeningResult = a.small(b) }},
	{"acr", func(v *kpi.Visit, b []byte, a *visitArena) { v.ACR = a.float(b) }},
	{"acr_date", func(v *kpi.Visit, b []byte, _ *visitArena) { v.ACRDate = pgDate(b) }},
	{"albuminuria_stage", func(v *kpi.Visit, b []byte, a *visitArena) { v.AlbuminuriaStage = a.small(b) }},
	{"total_cholesterol", func(v *kpi.Visit, b []byte, a *visitArena) { v.TotalCholesterol = a.float(b) }},
	{"total_cholesterol_date", func(v *kpi.Visit, b []byte, _ *visitArena) { v.TotalCholesterolDate = pgDate(b) }},
	{"thyroid_function_date", func(v *kpi.Visit, b []byte, _ *visitArena) { v.ThyroidFunctionDate = pgDate(b) }},
	{"thyroid_treatment", func(v *kpi.Visit, b []byte, a *visitArena) { v.ThyroidTreatment = a.small(b) }},
	{"coeliac_screen_date", func(v *kpi.Visit, b []byte, _ *visitArena) { v.CoeliacScreenDate = pgDate(b) }},
	{"gluten_free_diet", func(v *kpi.Visit, b []byte, a *visitArena) { v.GlutenFreeDiet = a.small(b) }},
	{"psych_screening_date", func(v *kpi.Visit, b []byte, _ *visitArena) { v.PsychScreeningDate = pgDate(b) }},
	{"psych_additional_support", func(v *kpi.Visit, b []byte, a *visitArena) { v.PsychAdditionalSupport = a.small(b) }},
	{"psych_support_outcome", func(v *kpi.Visit, b []byte, a *visitArena) { v.PsychSupportOutcome = a.small(b) }},
	{"smoking_status", func(v *kpi.Visit, b []byte, a *visitArena) { v.SmokingStatus = a.small(b) }},
	{"smoking_vaping_status", func(v *kpi.Visit, b []byte, a *visitArena) { v.SmokingVapingStatus = a.small(b) }},
	{"smoking_cessation_date", func(v *kpi.Visit, b []byte, _ *visitArena) { v.SmokingCessationDate = pgDate(b) }},
	{"carb_counting_date", func(v *kpi.Visit, b []byte, _ *visitArena) { v.CarbCountingDate = pgDate(b) }},
	{"dietitian_offered", func(v *kpi.Visit, b []byte, a *visitArena) { v.DietitianOffered = a.small(b) }},
	{"dietitian_date", func(v *kpi.Visit, b []byte, _ *visitArena) { v.DietitianDate = pgDate(b) }},
	{"ketone_testing", func(v *kpi.Visit, b []byte, a *visitArena) { v.KetoneTesting = a.small(b) }},
	{"flu_immunisation_date", func(v *kpi.Visit, b []byte, _ *visitArena) { v.FluImmunisationDate = pgDate(b) }},
	{"sick_day_rules_date", func(v *kpi.Visit, b []byte, _ *visitArena) { v.SickDayRulesDate = pgDate(b) }},
	{"admission_date", func(v *kpi.Visit, b []byte, _ *visitArena) { v.AdmissionDate = pgDate(b) }},
	{"discharge_date", func(v *kpi.Visit, b []byte, _ *visitArena) { v.DischargeDate = pgDate(b) }},
	{"admission_reason", func(v *kpi.Visit, b []byte, a *visitArena) { v.AdmissionReason = a.small(b) }},
}

var sqlKPIVisits = func() string {
	cols := ""
	for _, c := range kpiVisitColumns {
		cols += ", v." + pgx.Identifier{c.name}.Sanitize()
	}
	return `
SELECT v.patient_id` + cols + `
FROM submissions s
JOIN visits v ON v.submission_id = s.id
WHERE s.state = 'active' AND s.audit_year = $1 AND ($2::bigint[] IS NULL OR s.unit_id = ANY($2))
ORDER BY v.submission_id, v.row_number`
}()

// visitArena hands out the values a visit's pointers point to from blocks, so that half
// a million visits cost a few hundred allocations rather than millions.
type visitArena struct {
	smalls []int16
	floats []float64
}

func (a *visitArena) small(b []byte) *int16 {
	if len(a.smalls) == 0 {
		a.smalls = make([]int16, 8192)
	}
	p := &a.smalls[0]
	*p = int16(binary.BigEndian.Uint16(b))
	a.smalls = a.smalls[1:]
	return p
}

func (a *visitArena) float(b []byte) *float64 {
	if len(a.floats) == 0 {
		a.floats = make([]float64, 4096)
	}
	p := &a.floats[0]
	*p = math.Float64frombits(binary.BigEndian.Uint64(b))
	a.floats = a.floats[1:]
	return p
}

// pgEpochDays is 2000-01-01, PostgreSQL's date epoch, in days since 1970-01-01.
const pgEpochDays = 10957

// pgDate decodes a binary date; ±infinity count as missing.
func pgDate(b []byte) time.Time {
	d := int32(binary.BigEndian.Uint32(b))
	if d == math.MaxInt32 || d == math.MinInt32 {
		return time.Time{}
	}
	return time.Unix((int64(d)+pgEpochDays)*86400, 0).UTC()
}

// binaryRows checks that the columns came in binary format; text is the same in both.
func binaryRows(rows pgx.Rows) error {
	for i, fd := range rows.FieldDescriptions() {
		if fd.Format != pgx.BinaryFormatCode && fd.DataTypeOID != pgtype.TextOID {
			return fmt.Errorf("column %d (%s) came in text format", i, fd.Name)
		}
	}
	return nil
}

// txBeginner starts a transaction with options: a pool does, a transaction does not.
type txBeginner interface {
	BeginTx(ctx context.Context, opts pgx.TxOptions) (pgx.Tx, error)
}

// KPIPatients loads the patients of the active submissions of the audit year (of the
// given units, or of all when unitIDs is nil) with their visits, for the KPI rules.
// Both statements read one snapshot (a read-only repeatable-read transaction), so an
// activation committing between them cannot pair patients with another upload's visits.
func (s *Store) KPIPatients(ctx context.Context, year int, unitIDs []int64) ([]kpi.Patient, error) {
	b, ok := s.db.(txBeginner)
	if !ok {
		return s.kpiPatients(ctx, year, unitIDs)
	}
	tx, err := b.BeginTx(ctx, pgx.TxOptions{IsoLevel: pgx.RepeatableRead, AccessMode: pgx.ReadOnly})
	if err != nil {
		return nil, fmt.Errorf("kpi patients: %w", err)
	}
	defer func() { _ = tx.Rollback(context.WithoutCancel(ctx)) }()
	return (&Store{db: tx}).kpiPatients(ctx, year, unitIDs)
}

func (s *Store) kpiPatients(ctx context.Context, year int, unitIDs []int64) ([]kpi.Patient, error) {
	var units any
	if unitIDs != nil {
		units = unitIDs
	}
	rows, err := s.db.Query(ctx, sqlKPIPatients, year, units)
	if err != nil {
		return nil, fmt.Errorf("kpi patients: %w", err)
	}
	var ps []kpi.Patient
	var counts []int
	var arena visitArena
	total := 0
	for rows.Next() {
		if len(ps) == 0 {
			if err := binaryRows(rows); err != nil {
				rows.Close()
				return nil, fmt.Errorf("kpi patients: %w", err)
			}
		}
		raw := rows.RawValues()
		p := kpi.Patient{
			ID:             int64(binary.BigEndian.Uint64(raw[0])),
			UnitID:         int64(binary.BigEndian.Uint64(raw[1])),
			DatasetVersion: int(int32(binary.BigEndian.Uint32(raw[2]))),
		}
		n := int(int32(binary.BigEndian.Uint32(raw[3])))
		if raw[4] != nil {
			p.DateOfBirth = pgDate(raw[4])
		}
		if raw[5] != nil {
			p.DiabetesType = arena.small(raw[5])
		}
		if raw[6] != nil {
			p.DiagnosisDate = pgDate(raw[6])
		}
		if raw[7] != nil {
			p.DateLeavingService = pgDate(raw[7])
		}
		if raw[8] != nil {
			p.LeavingReason = arena.small(raw[8])
		}
		if raw[9] != nil {
			p.DeathDate = pgDate(raw[9])
		}
		ps = append(ps, p)
		counts = append(counts, n)
		total += n
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("kpi patients: %w", err)
	}
	if len(ps) == 0 {
		return nil, nil
	}
	// One backing array for every visit, each patient a window of it sized by its
	// visit count, so appending in row order allocates nothing.
	all := make([]kpi.Visit, total)
	index := make(map[int64]int, len(ps))
	off := 0
	for i := range ps {
		ps[i].Visits = all[off : off : off+counts[i]]
		off += counts[i]
		index[ps[i].ID] = i
	}
	rows, err = s.db.Query(ctx, sqlKPIVisits, year, units)
	if err != nil {
		return nil, fmt.Errorf("kpi visits: %w", err)
	}
	first := true
	for rows.Next() {
		if first {
			if err := binaryRows(rows); err != nil {
				rows.Close()
				return nil, fmt.Errorf("kpi visits: %w", err)
			}
			first = false
		}
		raw := rows.RawValues()
		i, ok := index[int64(binary.BigEndian.Uint64(raw[0]))]
		if !ok {
			// Within one snapshot every visit's patient was read; skip rather than
			// fail should that ever not hold (the store runs inside a caller's
			// transaction at a weaker isolation).
			continue
		}
		var v kpi.Visit
		for c, col := range kpiVisitColumns {
			if b := raw[c+1]; b != nil {
				col.set(&v, b, &arena)
			}
		}
		ps[i].Visits = append(ps[i].Visits, v)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("kpi visits: %w", err)
	}
	return ps, nil
}

// KPIPatientResult is one patient's results for every KPI and period of an audit year,
// packed as kpi_patient_results stores them (see PackKPIResults).
type KPIPatientResult struct {
	PatientID int64
	UnitID    int64
	AuditYear int
	KPICount  int
	Outcomes  []byte
	// Values are the packed figures: 8 bytes each, NaN for none.
	Values []byte
}

// ValueKPI reports whether a KPI's kind carries a figure per patient.
func ValueKPI(k kpi.Kind) bool {
	return k == kpi.Mean || k == kpi.Median || k == kpi.Sum || k == kpi.Ratio
}

// valueSlots is how many values a period packs: one per value KPI, two for a Ratio.
func valueSlots() int {
	n := 0
	for _, d := range kpi.Definitions {
		if ValueKPI(d.Kind) {
			n++
		}
		if d.Kind == kpi.Ratio {
			n++
		}
	}
	return n
}

// PackKPIResults packs a patient's results, one slice per period (the year, then
// quarters 1–4), each in kpi.Definitions order, appending to the buffers given.
func PackKPIResults(periods [][]kpi.Result, outcomes, vals []byte) ([]byte, []byte) {
	put := func(v float64, ok bool) {
		if !ok {
			v = math.NaN()
		}
		vals = binary.LittleEndian.AppendUint64(vals, math.Float64bits(v))
	}
	for _, rs := range periods {
		for i, r := range rs {
			outcomes = append(outcomes, byte(r.Outcome)&3|byte(r.Care)<<2)
			k := kpi.Definitions[i].Kind
			if !ValueKPI(k) {
				continue
			}
			put(r.Value, r.HasValue)
			if k == kpi.Ratio {
				put(r.Denominator, r.HasValue)
			}
		}
	}
	return outcomes, vals
}

// UnpackKPIResults reverses PackKPIResults: the results of period p (0 the year, 1–4 the
// quarters). It fails when the row was packed for another list of KPIs.
func UnpackKPIResults(r KPIPatientResult, p int) ([]kpi.Result, error) {
	n := len(kpi.Definitions)
	slots := valueSlots()
	if r.KPICount != n || len(r.Outcomes) != 5*n || len(r.Values) != 5*slots*8 {
		return nil, fmt.Errorf("patient %d: results were stored for %d KPIs, not the %d defined now; they return after the next recompute", r.PatientID, r.KPICount, n)
	}
	out := make([]kpi.Result, n)
	vi := p * slots
	for i := range n {
		b := r.Outcomes[p*n+i]
		out[i] = kpi.Result{Outcome: kpi.Outcome(b & 3), Care: kpi.CareStatus(b >> 2 & 7)}
		k := kpi.Definitions[i].Kind
		if !ValueKPI(k) {
			continue
		}
		at := func(j int) float64 { return math.Float64frombits(binary.LittleEndian.Uint64(r.Values[8*j:])) }
		if v := at(vi); !math.IsNaN(v) {
			out[i].Value, out[i].HasValue = v, true
		}
		vi++
		if k == kpi.Ratio {
			if d := at(vi); !math.IsNaN(d) {
				out[i].Denominator = d
			}
			vi++
		}
	}
	return out, nil
}

// KPIAggregate is the sums of one KPI for one place and period.
type KPIAggregate struct {
	AuditYear int
	// Quarter is 1–4, or 0 for the whole audit year.
	Quarter  int
	Level    PlaceLevel
	Code     string
	Name     string
	AreaCode string
	// UnitID is the unit of a unit row, else 0.
	UnitID int64
	KPI    string
	// Order is the KPI's position in kpi.Definitions; Kind its kpi.Kind.
	Order      int
	Kind       kpi.Kind
	Eligible   int
	Ineligible int
	Passed     int
	Failed     int
	// Percentage is passed / eligible × 100, nil when nobody is eligible.
	Percentage *float64
	// Value is the figure of a Mean, Median, Sum or Ratio KPI, nil when there is none.
	Value          *float64
	ValueSum       float64
	ValueCount     int
	DenominatorSum float64
	ComputedAt     time.Time
}

// LockKPIYear serialises the writers of one audit year's KPIs until the transaction
// ends, so that a unit's recompute and a full one never interleave. The store must be
// inside a transaction (InTx).
func (s *Store) LockKPIYear(ctx context.Context, year int) error {
	if _, ok := s.db.(pgx.Tx); !ok {
		return fmt.Errorf("lock kpi year %d: needs a transaction", year)
	}
	if _, err := s.db.Exec(ctx, `SELECT pg_advisory_xact_lock(hashtextextended('caregraph.kpi:' || $1::int::text, 0))`, year); err != nil {
		return fmt.Errorf("lock kpi year %d: %w", year, err)
	}
	return nil
}

// deleteOfUnits deletes a KPI table's rows of the audit year: of the units, or of all
// when unitIDs is nil. Two statements rather than "$2 IS NULL OR unit_id = ANY($2)",
// whose generic plan cannot use the unit index.
func (s *Store) deleteOfUnits(ctx context.Context, table string, year int, unitIDs []int64) error {
	t := pgx.Identifier{table}.Sanitize()
	var err error
	if unitIDs == nil {
		_, err = s.db.Exec(ctx, `DELETE FROM `+t+` WHERE audit_year = $1`, year)
	} else {
		_, err = s.db.Exec(ctx, `DELETE FROM `+t+` WHERE audit_year = $1 AND unit_id = ANY($2)`, year, unitIDs)
	}
	return err
}

// ReplaceKPIPatientResults replaces the stored results of the audit year's patients:
// of the given units, or of every unit when unitIDs is nil.
func (s *Store) ReplaceKPIPatientResults(ctx context.Context, year int, unitIDs []int64, rs []KPIPatientResult) error {
	if err := s.deleteOfUnits(ctx, "kpi_patient_results", year, unitIDs); err != nil {
		return fmt.Errorf("delete kpi patient results: %w", err)
	}
	now := time.Now()
	_, err := s.db.CopyFrom(ctx, pgx.Identifier{"kpi_patient_results"},
		[]string{"patient_id", "unit_id", "audit_year", "kpi_count", "outcomes", "vals", "computed_at"},
		pgx.CopyFromSlice(len(rs), func(i int) ([]any, error) {
			r := rs[i]
			return []any{r.PatientID, r.UnitID, int32(r.AuditYear), int16(r.KPICount), r.Outcomes, r.Values, now}, nil
		}))
	if err != nil {
		return fmt.Errorf("write kpi patient results: %w", err)
	}
	return nil
}

// PlaceKey names one place of a level.
type PlaceKey struct {
	Level PlaceLevel
	Code  string
}

// ReplaceKPIAggregates replaces the audit year's aggregates: of the places given, or of
// every place when places is nil.
func (s *Store) ReplaceKPIAggregates(ctx context.Context, year int, places []PlaceKey, as []KPIAggregate) error {
	if places == nil {
		if _, err := s.db.Exec(ctx, `DELETE FROM kpi_aggregates WHERE audit_year = $1`, year); err != nil {
			return fmt.Errorf("delete kpi aggregates: %w", err)
		}
	} else {
		levels, codes := make([]string, len(places)), make([]string, len(places))
		for i, p := range places {
			levels[i], codes[i] = string(p.Level), p.Code
		}
		if _, err := s.db.Exec(ctx, `DELETE FROM kpi_aggregates a USING unnest($2::text[], $3::text[]) AS k(level, code)
            WHERE a.audit_year = $1 AND a.level = k.level AND a.code = k.code`, year, levels, codes); err != nil {
			return fmt.Errorf("delete kpi aggregates: %w", err)
		}
	}
	now := time.Now()
	_, err := s.db.CopyFrom(ctx, pgx.Identifier{"kpi_aggregates"},
		[]string{"audit_year", "quarter", "level", "code", "kpi", "kpi_order", "kind", "name", "area_code", "unit_id",
			"eligible", "ineligible", "passed", "failed", "percentage", "value", "value_sum", "value_count",
			"denominator_sum", "computed_at"},
		pgx.CopyFromSlice(len(as), func(i int) ([]any, error) {
			a := &as[i]
			var area *string
			if a.AreaCode != "" {
				area = &a.AreaCode
			}
			var unit *int64
			if a.UnitID != 0 {
				unit = &a.UnitID
			}
			return []any{int32(a.AuditYear), int16(a.Quarter), string(a.Level), a.Code, a.KPI, int16(a.Order), int16(a.Kind),
				a.Name, area, unit, int32(a.Eligible), int32(a.Ineligible), int32(a.Passed), int32(a.Failed),
				a.Percentage, a.Value, a.ValueSum, int32(a.ValueCount), a.DenominatorSum, now}, nil
		}))
	if err != nil {
		return fmt.Errorf("write kpi aggregates: %w", err)
	}
	return nil
}

const kpiAggregateColumns = `audit_year, quarter, level, code, name, COALESCE(area_code, ''), COALESCE(unit_id, 0), kpi,
    kpi_order, kind, eligible, ineligible, passed, failed, percentage, value, value_sum, value_count, denominator_sum, computed_at`

func scanKPIAggregate(row pgx.CollectableRow) (KPIAggregate, error) {
	var a KPIAggregate
	var level string
	var kind int16
	err := row.Scan(&a.AuditYear, &a.Quarter, &level, &a.Code, &a.Name, &a.AreaCode, &a.UnitID, &a.KPI,
		&a.Order, &kind, &a.Eligible, &a.Ineligible, &a.Passed, &a.Failed, &a.Percentage, &a.Value,
		&a.ValueSum, &a.ValueCount, &a.DenominatorSum, &a.ComputedAt)
	a.Level, a.Kind = PlaceLevel(level), kpi.Kind(kind)
	return a, err
}

// KPIUnitSums is a unit's sums for every period and KPI of an audit year, as
// kpi_unit_sums packs them (see migration 0008): what the places above it are
// recomputed from.
type KPIUnitSums struct {
	AuditYear     int
	UnitID        int64
	PZCode        string
	KPICount      int
	Counts        []int32
	Sums          []float64
	MedianValues  []float64
	MedianLengths []int32
}

// ReplaceKPIUnitSums replaces the audit year's unit sums: of the given units, or of
// every unit when unitIDs is nil.
func (s *Store) ReplaceKPIUnitSums(ctx context.Context, year int, unitIDs []int64, us []KPIUnitSums) error {
	if err := s.deleteOfUnits(ctx, "kpi_unit_sums", year, unitIDs); err != nil {
		return fmt.Errorf("delete kpi unit sums: %w", err)
	}
	_, err := s.db.CopyFrom(ctx, pgx.Identifier{"kpi_unit_sums"},
		[]string{"audit_year", "unit_id", "pz_code", "kpi_count", "counts", "sums", "median_values", "median_lengths"},
		pgx.CopyFromSlice(len(us), func(i int) ([]any, error) {
			u := us[i]
			return []any{int32(year), u.UnitID, u.PZCode, int16(u.KPICount), u.Counts, u.Sums, nonNilFloats(u.MedianValues),
				nonNilInts(u.MedianLengths)}, nil
		}))
	if err != nil {
		return fmt.Errorf("write kpi unit sums: %w", err)
	}
	return nil
}

func nonNilFloats(f []float64) []float64 {
	if f == nil {
		return []float64{}
	}
	return f
}

func nonNilInts(f []int32) []int32 {
	if f == nil {
		return []int32{}
	}
	return f
}

// KPIUnitSumsOf returns the stored sums of the audit year of the given units (all when
// unitIDs is nil).
func (s *Store) KPIUnitSumsOf(ctx context.Context, year int, unitIDs []int64) ([]KPIUnitSums, error) {
	const cols = `SELECT unit_id, pz_code, kpi_count, counts, sums, median_values, median_lengths FROM kpi_unit_sums`
	var rows pgx.Rows
	var err error
	if unitIDs == nil {
		rows, err = s.db.Query(ctx, cols+` WHERE audit_year = $1`, year)
	} else {
		rows, err = s.db.Query(ctx, cols+` WHERE audit_year = $1 AND unit_id = ANY($2)`, year, unitIDs)
	}
	if err != nil {
		return nil, fmt.Errorf("kpi unit sums: %w", err)
	}
	out, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (KPIUnitSums, error) {
		u := KPIUnitSums{AuditYear: year}
		err := row.Scan(&u.UnitID, &u.PZCode, &u.KPICount, &u.Counts, &u.Sums, &u.MedianValues, &u.MedianLengths)
		return u, err
	})
	if err != nil {
		return nil, fmt.Errorf("kpi unit sums: %w", err)
	}
	return out, nil
}

// KPIQuery selects aggregates of one level, audit year and period.
type KPIQuery struct {
	Level   PlaceLevel
	Year    int
	Quarter int
	// Code, when set, is one place: its code or the GSS code of its area.
	Code *string
	// KPIs, when set, are the KPI ids wanted.
	KPIs []string
}

// sqlKPIAggregations lists a level's places; sqlKPIAggregationsOf one place, by its code
// or its area's GSS code. Two statements rather than "$4 IS NULL OR code = …": a
// prepared statement's generic plan cannot use the primary key's code column behind an
// OR, and reads every place of the level.
const (
	sqlKPIAggregations = `SELECT ` + kpiAggregateColumns + ` FROM kpi_aggregates
WHERE audit_year = $1 AND level = $2 AND quarter = $3 AND ($4::text[] IS NULL OR kpi = ANY($4))
ORDER BY code, kpi_order`
	sqlKPIAggregationsOf = `SELECT ` + kpiAggregateColumns + ` FROM kpi_aggregates
WHERE audit_year = $1 AND level = $2 AND quarter = $3 AND ($4::text[] IS NULL OR kpi = ANY($4))
  AND code = COALESCE((SELECT a.code FROM kpi_aggregates a
        WHERE a.audit_year = $1 AND a.level = $2 AND a.quarter = $3 AND a.area_code = $5 LIMIT 1), $5)
ORDER BY kpi_order`
)

// KPIAggregations returns the aggregates the query selects, by place code and then in
// the order of kpi.Definitions.
func (s *Store) KPIAggregations(ctx context.Context, q KPIQuery) ([]KPIAggregate, error) {
	var kpis any
	if q.KPIs != nil {
		kpis = q.KPIs
	}
	var rows pgx.Rows
	var err error
	if q.Code != nil {
		rows, err = s.db.Query(ctx, sqlKPIAggregationsOf, q.Year, string(q.Level), q.Quarter, kpis, *q.Code)
	} else {
		rows, err = s.db.Query(ctx, sqlKPIAggregations, q.Year, string(q.Level), q.Quarter, kpis)
	}
	if err != nil {
		return nil, fmt.Errorf("kpi aggregations: %w", err)
	}
	as, err := pgx.CollectRows(rows, scanKPIAggregate)
	if err != nil {
		return nil, fmt.Errorf("kpi aggregations: %w", err)
	}
	return as, nil
}

// KPIPatientResults returns the stored results of the patients, by patient id; patients
// without results (not yet computed) are left out.
func (s *Store) KPIPatientResults(ctx context.Context, ids []int64) (map[int64]KPIPatientResult, error) {
	rows, err := s.db.Query(ctx, `SELECT patient_id, unit_id, audit_year, kpi_count, outcomes, vals
        FROM kpi_patient_results WHERE patient_id = ANY($1)`, ids)
	if err != nil {
		return nil, fmt.Errorf("kpi patient results: %w", err)
	}
	out := make(map[int64]KPIPatientResult, len(ids))
	_, err = pgx.CollectRows(rows, func(row pgx.CollectableRow) (struct{}, error) {
		var r KPIPatientResult
		err := row.Scan(&r.PatientID, &r.UnitID, &r.AuditYear, &r.KPICount, &r.Outcomes, &r.Values)
		out[r.PatientID] = r
		return struct{}{}, err
	})
	if err != nil {
		return nil, fmt.Errorf("kpi patient results: %w", err)
	}
	return out, nil
}

// KPIYears are the audit years with an active submission or stored aggregates.
func (s *Store) KPIYears(ctx context.Context) ([]int, error) {
	rows, err := s.db.Query(ctx, `SELECT audit_year FROM submissions WHERE state = 'active'
        UNION SELECT DISTINCT audit_year FROM kpi_aggregates ORDER BY 1`)
	if err != nil {
		return nil, fmt.Errorf("kpi years: %w", err)
	}
	years, err := pgx.CollectRows(rows, pgx.RowTo[int])
	if err != nil {
		return nil, fmt.Errorf("kpi years: %w", err)
	}
	return years, nil
}
