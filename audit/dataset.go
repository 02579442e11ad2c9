package audit

import (
	"strings"
	"unicode"
)

// JerseyPZCode is the unit of Jersey, whose patients have a Unique Reference Number
// in place of an NHS number.
const JerseyPZCode = "PZ248"

// Column is one column of a dataset's CSV template.
type Column struct {
	Field Field
	// Heading is the template's heading, without the trailing spaces and dagger marks
	// of the published files.
	Heading string
	// Alternatives are other headings seen in real files for the same column (older
	// templates, hand edits, exports of clinical systems).
	Alternatives []string
	// Codes are the permitted values of a coded column.
	Codes *CodeList
}

// Dataset is one version of the NPDA CSV: its columns in template order, NHS Number
// first.
type Dataset struct {
	// Version is the year the dataset came into use: 2021 or 2026.
	Version int
	// Columns are the columns of a file identified by NHS number.
	Columns []Column
	// urn replaces the first column in Jersey's files.
	urn Column
	// byKey maps normalised headings (canonical and alternative) to column indexes.
	byKey map[string]int
	// index maps a field to its column index, -1 when the dataset lacks it.
	index [NumFields]int
}

// DatasetFor returns the dataset in use for an audit year: 2021 up to the 2025/26
// period, 2026 from the 2026/27 period.
func DatasetFor(auditYear int) *Dataset {
	if auditYear >= 2026 {
		return Dataset2026
	}
	return Dataset2021
}

// IdentifierFor returns the identifier a unit's files must carry: a Unique Reference
// Number for Jersey, an NHS number for everyone else.
func IdentifierFor(pzCode string) Field {
	if NormalisePZ(pzCode) == JerseyPZCode {
		return UniqueReferenceNumber
	}
	return NHSNumber
}

// ColumnsFor returns the columns of a file identified by id (NHSNumber or
// UniqueReferenceNumber).
func (d *Dataset) ColumnsFor(id Field) []Column {
	if id != UniqueReferenceNumber {
		return d.Columns
	}
	cols := append([]Column(nil), d.Columns...)
	cols[0] = d.urn
	return cols
}

// Headings returns the template headings of a file identified by id.
func (d *Dataset) Headings(id Field) []string {
	cols := d.ColumnsFor(id)
	out := make([]string, len(cols))
	for i, c := range cols {
		out[i] = c.Heading
	}
	return out
}

// Has reports whether the dataset has a column for f.
func (d *Dataset) Has(f Field) bool { return d.index[f] >= 0 || (f == UniqueReferenceNumber) }

// Column returns the column of f (the identifier column for either identifier).
func (d *Dataset) Column(f Field) (Column, bool) {
	if f == UniqueReferenceNumber {
		return d.urn, true
	}
	i := d.index[f]
	if i < 0 {
		return Column{}, false
	}
	return d.Columns[i], true
}

// Match finds the column a file heading names, case- and space-insensitively and
// ignoring dagger marks, quotes around the heading and non-breaking spaces.
func (d *Dataset) Match(heading string) (Column, bool) {
	key := HeadingKey(heading)
	if key == HeadingKey(d.urn.Heading) {
		return d.urn, true
	}
	i, ok := d.byKey[key]
	if !ok {
		return Column{}, false
	}
	return d.Columns[i], true
}

// HeadingKey folds a heading for matching: lower case, without any white space
// (including non-breaking and zero-width spaces), without dagger marks, replacement
// characters and byte order marks, and without quotes around it.
func HeadingKey(h string) string {
	h = strings.TrimSpace(h)
	h = strings.Trim(h, "\"'\u00a0\ufeff")
	var b strings.Builder
	b.Grow(len(h))
	for _, r := range h {
		switch {
		case unicode.IsSpace(r), r == '\u200b', r == '\u200c', r == '\u200d', r == '\ufeff':
		case r == '†', r == '‡', r == '\ufffd':
		default:
			b.WriteRune(unicode.ToLower(r))
		}
	}
	return strings.Trim(b.String(), "\"'")
}

func newDataset(version int, urn Column, cols []Column) *Dataset {
	d := &Dataset{Version: version, Columns: cols, urn: urn, byKey: map[string]int{}}
	for f := range d.index {
		d.index[f] = -1
	}
	for i, c := range cols {
		d.index[c.Field] = i
		for _, h := range append([]string{c.Heading}, c.Alternatives...) {
			k := HeadingKey(h)
			if prev, dup := d.byKey[k]; dup && prev != i {
				panic("audit: heading " + h + " names two columns of the " + c.Heading + " dataset")
			}
			d.byKey[k] = i
		}
	}
	return d
}

// Headings and alternatives shared by both datasets.
const (
	hNHSNumber    = "NHS Number"
	hURN          = "Unique Reference Number"
	hDOB          = "Date of Birth"
	hPostcode     = "Postcode of usual address"
	hEthnicity    = "Ethnic Category"
	hDiabetesType = "Diabetes Type"
	hDiagnosis    = "Date of Diabetes Diagnosis"
	hLeavingDate  = "Date of leaving service"
	hLeavingWhy   = "Reason for leaving service"
	hDeath        = "Death Date"
	hGP           = "GP Practice Code"
	hPDU          = "PDU Number"
	hVisit        = "Visit/Appointment Date"
	hHeight       = "Patient Height (cm)"
	hWeight       = "Patient Weight (kg)"
	hHWDate       = "Observation Date (Height and weight)"
	hHbA1c        = "Hba1c Value"
	hSystolic     = "Systolic Blood Pressure"
	hDiastolic    = "Diastolic Blood pressure"
	hBPDate       = "Observation Date (Blood Pressure)"
	hFoot         = "Foot Assessment / Examination Date"
	hRetinalDate  = "Retinal Screening date"
	hRetinalRes   = "Retinal Screening Result"
	hACR          = "Urinary Albumin Level (ACR)"
	hACRDate      = "Observation Date: Urinary Albumin Level"
	hAlbuminuria  = "Albuminuria Stage"
	hChol         = "Total Cholesterol Level (mmol/l)"
	hCholDate     = "Observation Date: Total Cholesterol Level"
	hThyroidDate  = "Observation Date: Thyroid Function"
	hThyroidTx    = "At time of, or following measurement of thyroid function, was the patient prescribed any thyroid treatment?"
	hCoeliac      = "Observation Date: Coeliac Disease Screening"
	hGluten       = "Has the patient been recommended a Gluten-free diet?"
	hCarbs        = "Date of Level 3 carbohydrate counting education received"
	hDietDate     = "Date of additional appointment with dietitian"
	hKetone       = "Was the patient using (or trained to use) blood ketone testing equipment at time of visit?"
	hFlu          = "Date that influenza immunisation was recommended"
	hSickDay      = "Date of provision of advice ('sick-day rules') about managing diabetes during intercurrent illness or episodes of hyperglycaemia"
	hAdmission    = "Start date (Hospital Provider Spell)"
	hDischarge    = "Discharge date (Hospital provider spell)"
	hAdmitReason  = "Reason for admission"
	hDKA          = "Only complete if DKA selected in previous question: During this DKA admission did the patient receive any of the following therapies?"
	hAdmitOther   = "Only complete if OTHER selected: Reason for admission (free text)"
)

var (
	colNHS          = Column{Field: NHSNumber, Heading: hNHSNumber, Alternatives: []string{"NHSNumber", "NHS No", "NHS No."}}
	colURN          = Column{Field: UniqueReferenceNumber, Heading: hURN, Alternatives: []string{"URN"}}
	colDOB          = Column{Field: DateOfBirth, Heading: hDOB, Alternatives: []string{"DOB"}}
	colPostcode     = Column{Field: Postcode, Heading: hPostcode}
	colEthnicity    = Column{Field: Ethnicity, Heading: hEthnicity, Alternatives: []string{"Ethnic cateogry"}, Codes: Ethnicities}
	colDiabetesType = Column{Field: DiabetesType, Heading: hDiabetesType, Codes: DiabetesTypes}
	colDiagnosis    = Column{Field: DiagnosisDate, Heading: hDiagnosis, Alternatives: []string{"Date of Diagnosis"}}
	colLeavingDate  = Column{Field: LeavingDate, Heading: hLeavingDate}
	colLeavingWhy   = Column{Field: LeavingReason, Heading: hLeavingWhy, Codes: LeavingReasons}
	colDeath        = Column{Field: DeathDate, Heading: hDeath, Alternatives: []string{"Effective Death Date"}}
	colGP           = Column{Field: GPPracticeCode, Heading: hGP}
	colPDU          = Column{Field: PDUNumber, Heading: hPDU}
	colVisit        = Column{Field: VisitDate, Heading: hVisit, Alternatives: []string{"Visit Date"}}
	colHeight       = Column{Field: Height, Heading: hHeight}
	colWeight       = Column{Field: Weight, Heading: hWeight}
	colHWDate       = Column{Field: HeightWeightDate, Heading: hHWDate}
	colHbA1c        = Column{Field: HbA1c, Heading: hHbA1c}
	colSystolic     = Column{Field: SystolicBP, Heading: hSystolic}
	colDiastolic    = Column{Field: DiastolicBP, Heading: hDiastolic}
	colBPDate       = Column{Field: BPDate, Heading: hBPDate}
	colFoot         = Column{Field: FootExamDate, Heading: hFoot}
	colRetinalDate  = Column{Field: RetinalScreeningDate, Heading: hRetinalDate}
	colRetinalRes   = Column{Field: RetinalScreeningResult, Heading: hRetinalRes, Codes: RetinalScreeningResults}
	colACR          = Column{Field: ACR, Heading: hACR}
	colACRDate      = Column{Field: ACRDate, Heading: hACRDate}
	colAlbuminuria  = Column{Field: AlbuminuriaStage, Heading: hAlbuminuria, Codes: AlbuminuriaStages}
	colChol         = Column{Field: TotalCholesterol, Heading: hChol}
	colCholDate     = Column{Field: TotalCholesterolDate, Heading: hCholDate}
	colThyroidDate  = Column{Field: ThyroidFunctionDate, Heading: hThyroidDate}
	colThyroidTx    = Column{Field: ThyroidTreatment, Heading: hThyroidTx, Codes: ThyroidTreatments, Alternatives: []string{
		"At time of or following measurement of thyroid function, was the patient prescribed any thyroid treatment?",
		"At the time of, or following measurement of thyroid function, was the patient prescribed any thyroid treatment?",
	}}
	colCoeliac  = Column{Field: CoeliacScreenDate, Heading: hCoeliac}
	colGluten   = Column{Field: GlutenFreeDiet, Heading: hGluten, Codes: YesNoUnknown}
	colCarbs    = Column{Field: CarbCountingDate, Heading: hCarbs, Alternatives: []string{"Date Level 3 carbohydrate counting education received"}}
	colDietDate = Column{Field: DietitianDate, Heading: hDietDate}
	colKetone   = Column{Field: KetoneTesting, Heading: hKetone, Codes: YesNoUnknown}
	colFlu      = Column{Field: FluImmunisationDate, Heading: hFlu}
	colSickDay  = Column{Field: SickDayRulesDate, Heading: hSickDay}
	colAdmit    = Column{Field: AdmissionDate, Heading: hAdmission}
	colDischarg = Column{Field: DischargeDate, Heading: hDischarge}
	colReason   = Column{Field: AdmissionReason, Heading: hAdmitReason, Codes: AdmissionReasons}
	colDKA      = Column{Field: DKATherapies, Heading: hDKA, Codes: DKATherapyTypes, Alternatives: []string{
		"During this DKA admission did the patient receive any of the following therapies?",
	}}
	colOther = Column{Field: AdmissionReasonOther, Heading: hAdmitOther}
)

// Dataset2021 is the dataset for audit periods from April 2021 to March 2026: 52
// columns.
var Dataset2021 = newDataset(2021, colURN, []Column{
	colNHS, colDOB, colPostcode,
	{Field: Sex, Heading: "Stated gender", Codes: Sex2021, Alternatives: []string{"Gender"}},
	colEthnicity, colDiabetesType, colDiagnosis, colLeavingDate, colLeavingWhy, colDeath, colGP, colPDU,
	colVisit, colHeight, colWeight, colHWDate, colHbA1c,
	{Field: HbA1cFormat, Heading: "HbA1c result format", Codes: HbA1cFormats, Alternatives: []string{"HB1AC Result Format"}},
	{Field: HbA1cDate, Heading: "Observation Date: Hba1c Value"},
	{Field: Treatment, Heading: "Diabetes Treatment at time of Hba1c measurement", Codes: Treatments,
		Alternatives: []string{"Diabetes Treatment at the time of HbA1c measurement"}},
	{Field: ClosedLoopSystem, Heading: "If treatment included insulin pump therapy (i.e. option 3 or 6 selected), was this part of a closed loop system?", Codes: ClosedLoopTypes,
		Alternatives: []string{"If treatment included insulin pump therapy (i.e. option 3 or 6 selected), was this as part of a closed loop system?)"}},
	{Field: GlucoseMonitoring, Heading: "At the time of HbA1c measurement, in addition to standard blood glucose monitoring (SBGM), was the patient using any other method of glucose monitoring?", Codes: GlucoseMonitoringTypes,
		Alternatives: []string{"At the time of HbA1c measurement, was the patient using any other method of glucose monitoring?"}},
	colSystolic, colDiastolic, colBPDate, colFoot, colRetinalDate, colRetinalRes,
	colACR, colACRDate, colAlbuminuria, colChol, colCholDate, colThyroidDate, colThyroidTx, colCoeliac, colGluten,
	{Field: PsychScreeningDate, Heading: "Observation Date - Psychological Screening Assessment",
		Alternatives: []string{"Observation Date -Psychological Assessment Screening"}},
	{Field: PsychAdditionalSupport, Heading: "Was the patient assessed as requiring additional psychological/CAMHS support outside of MDT clinics?", Codes: YesNoUnknown},
	{Field: SmokingStatus, Heading: "Does the patient smoke?", Codes: SmokingStatuses},
	{Field: SmokingCessationDate, Heading: "Date of offer of referral to smoking cessation service (if patient is a current smoker)"},
	colCarbs,
	{Field: DietitianOffered, Heading: "Was the patient offered an additional appointment with a paediatric dietitian?", Codes: YesNoUnknown},
	colDietDate, colKetone, colFlu, colSickDay, colAdmit, colDischarg, colReason, colDKA, colOther,
})

// Dataset2026 is the dataset for audit periods from April 2026: 59 columns.
var Dataset2026 = newDataset(2026, colURN, []Column{
	colNHS, colDOB, colPostcode,
	{Field: Sex, Heading: "Sex assigned at birth", Codes: Sex2026, Alternatives: []string{"Stated gender"}},
	colEthnicity,
	{Field: ADHDASD, Heading: "Has the patient had a diagnosis of Attention Deficit Hyperactivity Disorder (ADHD) or Autism Spectrum Disorder (ASD)?", Codes: ADHDASDStatuses},
	{Field: LearningDisability, Heading: "Does the patient have a diagnosis of a learning disability?", Codes: YesNoUnknown},
	colDiabetesType, colDiagnosis, colLeavingDate, colLeavingWhy, colDeath, colGP, colPDU,
	colVisit, colHeight, colWeight, colHWDate, colHbA1c,
	{Field: HbA1cDate, Heading: "Observation Date: HbA1c Value"},
	{Field: InsulinRegimen, Heading: "Insulin regime at time of visit", Codes: InsulinRegimens},
	{Field: NonInsulinMedication, Heading: "Other (non-insulin) blood glucose lowering medication at time of visit", Codes: NonInsulinMedications},
	{Field: LifestyleModification, Heading: "Has lifestyle and dietary modification been recommended to reduce blood glucose levels?", Codes: YesNoUnknown},
	{Field: CGM, Heading: "Was the patient using a continuous glucose monitor (CGM) at time of visit?", Codes: YesNoUnknown},
	colKetone,
	{Field: Immunotherapy, Heading: "Did the patient receive immunotherapy prior to or after the diagnosis of stage 3 Type 1 diabetes?", Codes: YesNoUnknown},
	{Field: ImmunotherapyDate, Heading: "Date immunotherapy started"},
	colSystolic, colDiastolic, colBPDate, colFoot, colRetinalDate, colRetinalRes,
	colACR, colACRDate, colAlbuminuria, colChol, colCholDate, colThyroidDate, colThyroidTx, colCoeliac, colGluten,
	{Field: SmokingVapingStatus, Heading: "Does the patient smoke and/or vape", Codes: SmokingVapingStatuses,
		Alternatives: []string{"Does the patient smoke and/or vape?"}},
	{Field: SmokingCessationDate, Heading: "Date of offer of smoking cessation advice (if patient is a current smoker)"},
	colFlu, colSickDay,
	{Field: PsychScreeningDate, Heading: "Date of Annual Psychological Screening Assessment"},
	{Field: PsychAdditionalSupport, Heading: "Following annual psychological screening, was the patient assessed as requiring additional psychological support outside of routine care?", Codes: YesNoUnknown},
	{Field: PsychSupportOutcome, Heading: "Was the patient offered an additional appointment with a mental health professional as part of the diabetes MDT?", Codes: PsychSupportOutcomes},
	colCarbs,
	{Field: DietitianOffered, Heading: "Was the patient offered an additional appointment with a paediatric dietitian during the audit year?", Codes: YesNoUnknown},
	colDietDate, colAdmit, colDischarg, colReason, colOther, colDKA,
	{Field: BloodPH, Heading: "Initial pH at admission"},
	{Field: BloodBicarbonate, Heading: "Initial Standard bicarbonate at admission (mmol/l)"},
})
