// Package demo writes realistic, entirely synthetic NPDA CSV files: the demo data of
// `server demo-data`, and the input of the submission benchmarks and tests. Nothing in
// them is real: NHS numbers are made from a seed (with valid check digits), postcodes
// and GP practice codes are well-formed but invented.
//
// The distributions follow the published shape of the audit: mostly type 1 diabetes,
// ages weighted to teenagers, about four clinic visits a year, HbA1c centred near
// 60 mmol/mol, some admissions (a third of them for DKA), measures left blank as real
// files leave them, and a small share of invalid cells.
package demo

import (
	"encoding/csv"
	"fmt"
	"hash/fnv"
	"io"
	"math"
	"math/rand/v2"
	"strconv"
	"time"

	"caregraph/audit"
)

// Options shape a file.
type Options struct {
	AuditYear int
	// Patients is the number of patients in the file.
	Patients int
	// Seed makes the file reproducible; files of different units with the same seed
	// still hold different patients.
	Seed uint64
	// InvalidShare is the share of filled cells written invalid (default 0.005; negative
	// for none).
	InvalidShare float64
	// Today bounds the visit dates (default: the end of the audit period).
	Today time.Time
}

// Stats say what a file holds.
type Stats struct {
	Rows, Patients, InvalidCells int
}

// Write writes a CSV of the dataset for opts.AuditYear for the unit pzCode.
func Write(w io.Writer, pzCode string, opts Options) (Stats, error) {
	if err := audit.ValidYear(opts.AuditYear); err != nil {
		return Stats{}, err
	}
	if opts.InvalidShare == 0 {
		opts.InvalidShare = 0.005
	}
	period := audit.PeriodOf(opts.AuditYear)
	last := period.End
	if !opts.Today.IsZero() && opts.Today.Before(last) {
		last = audit.DateOf(opts.Today)
	}
	pz := audit.NormalisePZ(pzCode)
	h := fnv.New64a()
	h.Write([]byte(pz))
	g := &gen{
		rng:    rand.New(rand.NewPCG(opts.Seed, h.Sum64())),
		d:      audit.DatasetFor(opts.AuditYear),
		id:     audit.IdentifierFor(pz),
		period: period,
		last:   last,
		pz:     pz,
		unitNo: h.Sum64() % 100_000,
		bad:    opts.InvalidShare,
		seed:   opts.Seed,
	}
	cols := g.d.ColumnsFor(g.id)
	cw := csv.NewWriter(w)
	header := make([]string, len(cols))
	for i, c := range cols {
		header[i] = c.Heading
	}
	if err := cw.Write(header); err != nil {
		return Stats{}, err
	}
	var st Stats
	rec := make([]string, len(cols))
	for i := 0; i < opts.Patients; i++ {
		p := g.patient(i)
		for _, v := range g.visits(p) {
			for j, c := range cols {
				rec[j] = g.cell(c, p, v, &st)
			}
			if err := cw.Write(rec); err != nil {
				return st, err
			}
			st.Rows++
		}
		st.Patients++
	}
	cw.Flush()
	return st, cw.Error()
}

type gen struct {
	rng    *rand.Rand
	d      *audit.Dataset
	id     audit.Field
	period audit.Period
	last   time.Time
	pz     string
	unitNo uint64
	bad    float64
	seed   uint64
}

type patient struct {
	identifier  string
	dob         time.Time
	sex         int
	ethnicity   string
	diabetes    int
	diagnosis   time.Time
	postcode    string
	gp          string
	leaving     time.Time
	leaveReason int
	death       time.Time
	hba1cMean   float64
	treatment   int
	pump        bool
	smoker      bool
	ageAtStart  float64
	// measures holds the patient's habits: how likely each measure is recorded at a visit.
	bpShare, acrShare float64
}

// visit is one row. Every choice that spans several cells (a measurement and its
// date) is made here, once, so that the cells agree.
type visit struct {
	date      time.Time
	measured  bool
	admission bool
	reason    int
	admitted  time.Time
	annual    bool // the visit where the annual checks are recorded

	heightCm, weightKg float64
	hba1c              float64 // 0: not measured
	hba1cPercent       bool
	bp, foot, retinal  bool
	acr, chol          bool
	thyroid, coeliac   bool
	psych, dietDate    bool
	dietOffered        string
	flu, sickDay       bool
}

func (g *gen) pick(weights ...float64) int {
	total := 0.0
	for _, w := range weights {
		total += w
	}
	r := g.rng.Float64() * total
	for i, w := range weights {
		if r < w {
			return i
		}
		r -= w
	}
	return len(weights) - 1
}

func (g *gen) day(from, to time.Time) time.Time {
	days := int(to.Sub(from).Hours() / 24)
	if days <= 0 {
		return from
	}
	return from.AddDate(0, 0, g.rng.IntN(days+1))
}

var ethnicityCodes = []string{"A", "B", "C", "D", "E", "F", "G", "H", "J", "K", "L", "M", "N", "P", "R", "S", "Z", "99"}
var ethnicityWeights = []float64{66, 1, 5, 1.5, 1, 1.5, 1.5, 3, 4, 1.5, 2, 1, 3, 0.5, 0.5, 2, 3, 1}

// postcode invents a well-formed postcode: an outward code from a list of real areas and
// a random inward code.
func (g *gen) postcode() string {
	areas := []string{"B14", "BS10", "CB2", "CF14", "EH55", "GU21", "HU9", "L12", "LS6", "M13", "NE13", "NG7", "OX29", "PL4", "S43", "SE1", "SW1A", "TR1", "W1A", "YO10"}
	letters := "ABDEFGHJLNPQRSTUWXYZ"
	return areas[g.rng.IntN(len(areas))] + " " + strconv.Itoa(g.rng.IntN(10)) + string(letters[g.rng.IntN(len(letters))]) + string(letters[g.rng.IntN(len(letters))])
}

func (g *gen) nhsNumber(i int) string {
	for k := 0; ; k++ {
		// Stems from 400000000 (numbers in the 4xx range are issued in England and
		// Wales); unit and seed spread files apart, k skips stems with no check digit.
		stem := 400_000_000 + (g.unitNo*7919+g.seed*104_729+uint64(i)*11+uint64(k))%500_000_000
		if n, ok := audit.NHSNumberFrom(fmt.Sprintf("%09d", stem)); ok {
			return n[:3] + " " + n[3:6] + " " + n[6:]
		}
	}
}

func (g *gen) patient(i int) *patient {
	p := &patient{}
	if g.id == audit.UniqueReferenceNumber {
		p.identifier = fmt.Sprintf("JY%06d", i+1)
	} else {
		p.identifier = g.nhsNumber(i)
	}
	// Age at the start of the period: weighted to teenagers, a few young adults.
	band := g.pick(8, 22, 40, 28, 2)
	lo := []float64{0.5, 5, 10, 15, 19}[band]
	hi := []float64{5, 10, 15, 19, 24}[band]
	p.ageAtStart = lo + g.rng.Float64()*(hi-lo)
	p.dob = g.period.Start.AddDate(0, 0, -int(p.ageAtStart*365.25))
	p.sex = 1 + g.rng.IntN(2)
	p.ethnicity = ethnicityCodes[g.pick(ethnicityWeights...)]
	p.diabetes = []int{1, 2, 3, 4, 5, 99}[g.pick(93, 4, 0.5, 1, 1, 0.5)]
	if g.rng.Float64() < 0.10 {
		// A new diagnosis in the period.
		p.diagnosis = g.day(g.period.Start, g.last.AddDate(0, -1, 0))
		if p.diagnosis.Before(p.dob.AddDate(0, 6, 0)) {
			p.diagnosis = p.dob.AddDate(0, 6, 0)
		}
	} else {
		p.diagnosis = g.day(p.dob.AddDate(0, 9, 0), g.period.Start.AddDate(0, 0, -1))
	}
	if p.diabetes == 2 && p.ageAtStart < 10 {
		p.diabetes = 1
	}
	p.postcode = g.postcode()
	p.gp = string(rune('A'+g.rng.IntN(25))) + fmt.Sprintf("%05d", g.rng.IntN(100000))
	if p.ageAtStart > 16.5 && g.rng.Float64() < 0.25 {
		p.leaving = g.day(g.period.Start.AddDate(0, 3, 0), g.last)
		p.leaveReason = 1
	} else if g.rng.Float64() < 0.02 {
		p.leaving = g.day(g.period.Start.AddDate(0, 2, 0), g.last)
		p.leaveReason = 2 + g.rng.IntN(2)
	}
	if g.rng.Float64() < 0.0005 {
		p.death = g.day(g.period.Start.AddDate(0, 2, 0), g.last)
	}
	// HbA1c: most children near 55–65 mmol/mol, a long tail above.
	p.hba1cMean = 45 + g.rng.ExpFloat64()*14
	if p.diabetes == 1 {
		p.treatment = []int{1, 2, 3, 6}[g.pick(3, 52, 44, 1)]
	} else {
		p.treatment = []int{4, 5, 7, 8, 99}[g.pick(15, 10, 45, 25, 5)]
	}
	p.pump = p.treatment == 3 || p.treatment == 6
	p.smoker = p.ageAtStart > 13 && g.rng.Float64() < 0.04
	p.bpShare = 0.3 + g.rng.Float64()*0.5
	p.acrShare = 0.2 + g.rng.Float64()*0.5
	return p
}

func (g *gen) visits(p *patient) []visit {
	n := 1 + g.pick(4, 10, 24, 34, 16, 7, 3, 2) // 1–8 visits, about four on average
	start := g.period.Start
	if p.diagnosis.After(start) {
		start = p.diagnosis
	}
	end := g.last
	for _, stop := range []time.Time{p.leaving, p.death} {
		if !stop.IsZero() && stop.Before(end) {
			end = stop
		}
	}
	if end.Before(start) {
		end = start
	}
	vs := make([]visit, n)
	for i := range vs {
		// Spread visits over the period, roughly one per quarter.
		from := start.Add(time.Duration(float64(end.Sub(start)) * float64(i) / float64(n)))
		to := start.Add(time.Duration(float64(end.Sub(start)) * float64(i+1) / float64(n)))
		vs[i] = visit{date: g.day(from, to), measured: g.rng.Float64() < 0.9}
	}
	vs[g.rng.IntN(n)].annual = true
	for i := range vs {
		g.decide(p, &vs[i])
	}
	if g.rng.Float64() < 0.08 {
		k := g.rng.IntN(n)
		vs[k].admission = true
		vs[k].reason = []int{1, 2, 3, 4, 5, 6}[g.pick(20, 32, 10, 15, 13, 10)]
		vs[k].admitted = vs[k].date.AddDate(0, 0, -g.rng.IntN(20))
		if vs[k].admitted.Before(p.diagnosis.AddDate(0, 0, -5)) {
			vs[k].admitted = p.diagnosis
		}
	}
	return vs
}

// decide makes the visit's choices: which measures were taken, and their values.
func (g *gen) decide(p *patient, v *visit) {
	age := v.date.Sub(p.dob).Hours() / 24 / 365.25
	if v.measured {
		v.heightCm = height(age, p.sex) * (0.96 + 0.08*g.rng.Float64())
		bmi := math.Max(12.5, 15.5+0.45*math.Max(age-5, 0)+g.rng.NormFloat64()*2.2)
		v.weightKg = bmi * v.heightCm * v.heightCm / 10000
		if g.rng.Float64() < 0.95 {
			v.hba1c = math.Max(30, p.hba1cMean+g.rng.NormFloat64()*6)
			v.hba1cPercent = g.d.Version == 2021 && g.rng.Float64() < 0.02
		}
	}
	if !v.annual || !v.measured {
		return
	}
	teen := age >= 12
	v.bp = teen && g.rng.Float64() < p.bpShare
	v.foot = teen && g.rng.Float64() < 0.7
	v.retinal = teen && g.rng.Float64() < 0.6
	v.acr = teen && g.rng.Float64() < p.acrShare
	v.chol = teen && g.rng.Float64() < 0.5
	v.thyroid = g.rng.Float64() < 0.8
	v.coeliac = g.rng.Float64() < 0.5
	v.psych = g.rng.Float64() < 0.6
	v.dietOffered = []string{"1", "2"}[g.pick(60, 40)]
	v.dietDate = v.dietOffered == "1" && g.rng.Float64() < 0.5
	v.flu = g.rng.Float64() < 0.7
	v.sickDay = g.rng.Float64() < 0.8
}

func date(t time.Time) string { return audit.FormatDate(t) }

func num(v float64, decimals int) string {
	return strconv.FormatFloat(audit.Round(v, decimals), 'f', decimals, 64)
}

// height in cm of a child of age years: a simple growth curve with some spread.
func height(age float64, sex int) float64 {
	h := 76 + 6.2*age
	if age > 11 {
		h = 76 + 6.2*11 + 5.5*(age-11)
	}
	max := 176.0
	if sex == 2 {
		max = 163
	}
	return math.Min(h, max)
}

func (g *gen) cell(c audit.Column, p *patient, v visit, st *Stats) string {
	out := g.value(c.Field, p, v)
	if out != "" && g.bad > 0 && g.rng.Float64() < g.bad {
		if bad := g.spoil(c, out); bad != out {
			st.InvalidCells++
			return bad
		}
	}
	return out
}

// spoil writes a plausible mistake in place of a good value.
func (g *gen) spoil(c audit.Column, good string) string {
	switch c.Field.Info().Kind {
	case audit.KindDate:
		return []string{"31/02/" + good[len(good)-4:], good[3:5] + "/" + good[:2] + "/" + good[6:], "unknown"}[g.rng.IntN(3)]
	case audit.KindCode:
		return []string{"7", "Y", "0"}[g.rng.IntN(3)]
	case audit.KindNumber:
		return []string{good + "kg", "n/a", "9999"}[g.rng.IntN(3)]
	case audit.KindPostcode:
		return good[:len(good)-4]
	case audit.KindGPPractice:
		return good + "1"
	case audit.KindIdentifier:
		if c.Field == audit.NHSNumber && g.rng.Float64() < 0.2 {
			return good[:len(good)-1] + strconv.Itoa((int(good[len(good)-1]-'0')+1)%10)
		}
	}
	return good
}

func (g *gen) value(f audit.Field, p *patient, v visit) string {
	age := v.date.Sub(p.dob).Hours() / 24 / 365.25
	annual := v.annual && v.measured
	on := date(v.date)
	switch f {
	case audit.NHSNumber, audit.UniqueReferenceNumber:
		return p.identifier
	case audit.DateOfBirth:
		return date(p.dob)
	case audit.Postcode:
		return p.postcode
	case audit.Sex:
		return strconv.Itoa(p.sex)
	case audit.Ethnicity:
		return p.ethnicity
	case audit.ADHDASD:
		return []string{"4", "1", "2", "3", "99"}[g.pick(80, 7, 6, 2, 5)]
	case audit.LearningDisability:
		return []string{"2", "1", "99"}[g.pick(90, 4, 6)]
	case audit.DiabetesType:
		return strconv.Itoa(p.diabetes)
	case audit.DiagnosisDate:
		return date(p.diagnosis)
	case audit.Immunotherapy:
		return []string{"2", "", "99"}[g.pick(60, 35, 5)]
	case audit.LeavingDate:
		if !p.leaving.IsZero() {
			return date(p.leaving)
		}
	case audit.LeavingReason:
		if !p.leaving.IsZero() {
			return strconv.Itoa(p.leaveReason)
		}
	case audit.DeathDate:
		if !p.death.IsZero() {
			return date(p.death)
		}
	case audit.GPPracticeCode:
		return p.gp
	case audit.PDUNumber:
		return g.pz
	case audit.VisitDate:
		return on
	case audit.Height:
		if v.measured {
			return num(v.heightCm, 1)
		}
	case audit.Weight:
		if v.measured {
			return num(v.weightKg, 1)
		}
	case audit.HeightWeightDate:
		if v.measured {
			return on
		}
	case audit.HbA1c:
		if v.hba1c > 0 {
			if v.hba1cPercent {
				return num(v.hba1c/10.929+2.15, 1) // the same result in DCCT %
			}
			return num(v.hba1c, 0)
		}
	case audit.HbA1cFormat:
		if v.hba1c > 0 {
			if v.hba1cPercent {
				return "2"
			}
			return "1"
		}
	case audit.HbA1cDate:
		if v.hba1c > 0 {
			return on
		}
	case audit.Treatment:
		if v.measured {
			return strconv.Itoa(p.treatment)
		}
	case audit.ClosedLoopSystem:
		if v.measured && p.pump {
			return []string{"2", "1", "3", "4"}[g.pick(70, 20, 5, 5)]
		}
	case audit.GlucoseMonitoring:
		if v.measured {
			return []string{"4", "2", "1", "5", "99"}[g.pick(70, 15, 10, 3, 2)]
		}
	case audit.InsulinRegimen:
		if v.measured {
			if p.diabetes != 1 {
				return "1"
			}
			if p.pump {
				return []string{"5", "4"}[g.pick(75, 25)]
			}
			return []string{"3", "2"}[g.pick(90, 10)]
		}
	case audit.NonInsulinMedication:
		if v.measured {
			if p.diabetes == 2 {
				return []string{"2", "3", "4", "5"}[g.pick(60, 25, 10, 5)]
			}
			return "1"
		}
	case audit.LifestyleModification:
		if v.measured && p.diabetes == 2 {
			return "1"
		}
	case audit.CGM:
		if v.measured {
			return []string{"1", "2"}[g.pick(90, 10)]
		}
	case audit.SystolicBP:
		if v.bp {
			return strconv.Itoa(100 + g.rng.IntN(30))
		}
	case audit.DiastolicBP:
		if v.bp {
			return strconv.Itoa(55 + g.rng.IntN(25))
		}
	case audit.BPDate:
		if v.bp {
			return on
		}
	case audit.FootExamDate:
		if v.foot {
			return on
		}
	case audit.RetinalScreeningDate:
		if v.retinal {
			return on
		}
	case audit.RetinalScreeningResult:
		if v.retinal {
			return []string{"1", "2", "99"}[g.pick(90, 8, 2)]
		}
	case audit.ACR:
		if v.acr {
			return num(0.5+g.rng.ExpFloat64()*1.5, 1)
		}
	case audit.ACRDate:
		if v.acr {
			return on
		}
	case audit.AlbuminuriaStage:
		if v.acr {
			return []string{"1", "2", "3"}[g.pick(92, 7, 1)]
		}
	case audit.TotalCholesterol:
		if v.chol {
			return num(3.5+g.rng.Float64()*2.5, 1)
		}
	case audit.TotalCholesterolDate:
		if v.chol {
			return on
		}
	case audit.ThyroidFunctionDate:
		if v.thyroid {
			return on
		}
	case audit.ThyroidTreatment:
		if v.thyroid {
			return []string{"1", "2"}[g.pick(95, 5)]
		}
	case audit.CoeliacScreenDate:
		if v.coeliac {
			return on
		}
	case audit.GlutenFreeDiet:
		if v.coeliac {
			return []string{"2", "1"}[g.pick(94, 6)]
		}
	case audit.PsychScreeningDate:
		if v.psych {
			return on
		}
	case audit.PsychAdditionalSupport:
		if v.psych {
			return []string{"2", "1"}[g.pick(80, 20)]
		}
	case audit.PsychSupportOutcome:
		if annual && g.rng.Float64() < 0.3 {
			return []string{"4", "1", "2", "3", "5"}[g.pick(50, 25, 10, 10, 5)]
		}
	case audit.SmokingStatus:
		if annual && age >= 12 {
			if p.smoker {
				return "2"
			}
			return "1"
		}
	case audit.SmokingVapingStatus:
		if annual && age >= 12 {
			if p.smoker {
				return []string{"2", "4"}[g.pick(60, 40)]
			}
			return []string{"1", "3"}[g.pick(93, 7)]
		}
	case audit.SmokingCessationDate:
		if annual && age >= 12 && p.smoker {
			return on
		}
	case audit.CarbCountingDate:
		if !p.diagnosis.Before(g.period.Start) && v.date.Sub(p.diagnosis) < 15*24*time.Hour {
			return date(p.diagnosis.AddDate(0, 0, 3))
		}
	case audit.DietitianOffered:
		return v.dietOffered
	case audit.DietitianDate:
		if v.dietDate {
			return on
		}
	case audit.KetoneTesting:
		if v.measured {
			return []string{"1", "2"}[g.pick(85, 15)]
		}
	case audit.FluImmunisationDate:
		if v.flu {
			return on
		}
	case audit.SickDayRulesDate:
		if v.sickDay {
			return on
		}
	case audit.AdmissionDate:
		if v.admission {
			return date(v.admitted)
		}
	case audit.DischargeDate:
		if v.admission {
			return date(v.admitted.AddDate(0, 0, 1+g.rng.IntN(4)))
		}
	case audit.AdmissionReason:
		if v.admission {
			return strconv.Itoa(v.reason)
		}
	case audit.DKATherapies:
		if v.admission && v.reason == 2 {
			return []string{"4", "3", "1", "2"}[g.pick(85, 7, 5, 3)]
		}
	case audit.AdmissionReasonOther:
		if v.admission && v.reason == 6 {
			return []string{"Gastroenteritis", "Insulin pump failure", "Intercurrent infection", "Tonsillitis"}[g.rng.IntN(4)]
		}
	case audit.BloodPH:
		if v.admission && v.reason == 2 {
			return num(6.95+g.rng.Float64()*0.3, 2)
		}
	case audit.BloodBicarbonate:
		if v.admission && v.reason == 2 {
			return num(4+g.rng.Float64()*12, 1)
		}
	}
	return ""
}
