package audit

import (
	"fmt"
	"strings"
)

// Field is one data item of the NPDA datasets. Its Key names it everywhere outside Go:
// database columns, API field names and error reports.
type Field int

// The data items of both datasets. Patient-level items describe the child and are
// merged across the child's rows; visit-level items describe one row.
const (
	NHSNumber Field = iota
	UniqueReferenceNumber
	DateOfBirth
	Postcode
	Sex
	Ethnicity
	ADHDASD
	LearningDisability
	DiabetesType
	DiagnosisDate
	Immunotherapy
	ImmunotherapyDate
	LeavingDate
	LeavingReason
	DeathDate
	GPPracticeCode
	PDUNumber

	VisitDate
	Height
	Weight
	HeightWeightDate
	HbA1c
	HbA1cFormat
	HbA1cDate
	Treatment
	ClosedLoopSystem
	GlucoseMonitoring
	InsulinRegimen
	NonInsulinMedication
	LifestyleModification
	CGM
	SystolicBP
	DiastolicBP
	BPDate
	FootExamDate
	RetinalScreeningDate
	RetinalScreeningResult
	ACR
	ACRDate
	AlbuminuriaStage
	TotalCholesterol
	TotalCholesterolDate
	ThyroidFunctionDate
	ThyroidTreatment
	CoeliacScreenDate
	GlutenFreeDiet
	PsychScreeningDate
	PsychAdditionalSupport
	PsychSupportOutcome
	SmokingStatus
	SmokingVapingStatus
	SmokingCessationDate
	CarbCountingDate
	DietitianOffered
	DietitianDate
	KetoneTesting
	FluImmunisationDate
	SickDayRulesDate
	AdmissionDate
	DischargeDate
	AdmissionReason
	DKATherapies
	AdmissionReasonOther
	BloodPH
	BloodBicarbonate

	// NumFields counts the fields; arrays indexed by Field have this length.
	NumFields
)

// Level says whether a field describes the patient or one visit.
type Level int

// The two levels.
const (
	PatientLevel Level = iota + 1
	VisitLevel
)

// Kind is how a cell is read.
type Kind int

// The kinds of cell.
const (
	KindIdentifier Kind = iota + 1
	KindDate
	KindCode
	KindNumber
	KindText
	KindPostcode
	KindGPPractice
	KindPDU
)

// Range bounds a measurement. Whole requires a whole number.
type Range struct {
	Min, Max float64
	Unit     string
	Whole    bool
	// Decimals is how many decimal places the value is rounded to when stored (-1 keeps it).
	Decimals int
}

// FieldInfo describes a field.
type FieldInfo struct {
	Key   string
	Label string
	Level Level
	Kind  Kind
	// Range bounds numbers (HbA1c has its own rule: see HbA1cRange).
	Range *Range
	// MaxLength bounds text.
	MaxLength int
}

var fieldInfo = [NumFields]FieldInfo{
	NHSNumber:             {"nhs_number", "NHS Number", PatientLevel, KindIdentifier, nil, 0},
	UniqueReferenceNumber: {"unique_reference_number", "Unique Reference Number", PatientLevel, KindIdentifier, nil, 20},
	DateOfBirth:           {"date_of_birth", "Date of Birth", PatientLevel, KindDate, nil, 0},
	Postcode:              {"postcode", "Postcode", PatientLevel, KindPostcode, nil, 0},
	Sex:                   {"sex", "Sex", PatientLevel, KindCode, nil, 0},
	Ethnicity:             {"ethnicity", "Ethnic Category", PatientLevel, KindCode, nil, 0},
	ADHDASD:               {"adhd_asd", "ADHD or ASD diagnosis", PatientLevel, KindCode, nil, 0},
	LearningDisability:    {"learning_disability", "Learning disability", PatientLevel, KindCode, nil, 0},
	DiabetesType:          {"diabetes_type", "Diabetes Type", PatientLevel, KindCode, nil, 0},
	DiagnosisDate:         {"diagnosis_date", "Date of Diabetes Diagnosis", PatientLevel, KindDate, nil, 0},
	Immunotherapy:         {"immunotherapy", "Immunotherapy received", PatientLevel, KindCode, nil, 0},
	ImmunotherapyDate:     {"immunotherapy_date", "Date immunotherapy started", PatientLevel, KindDate, nil, 0},
	LeavingDate:           {"date_leaving_service", "Date of leaving service", PatientLevel, KindDate, nil, 0},
	LeavingReason:         {"reason_leaving_service", "Reason for leaving service", PatientLevel, KindCode, nil, 0},
	DeathDate:             {"death_date", "Death Date", PatientLevel, KindDate, nil, 0},
	GPPracticeCode:        {"gp_practice_code", "GP Practice Code", PatientLevel, KindGPPractice, nil, 0},
	PDUNumber:             {"pdu_number", "PDU Number", PatientLevel, KindPDU, nil, 0},

	VisitDate:              {"visit_date", "Visit/Appointment Date", VisitLevel, KindDate, nil, 0},
	Height:                 {"height", "Patient Height (cm)", VisitLevel, KindNumber, &Range{Min: 40, Max: 240, Unit: "cm", Decimals: 1}, 0},
	Weight:                 {"weight", "Patient Weight (kg)", VisitLevel, KindNumber, &Range{Min: 1, Max: 200, Unit: "kg", Decimals: 1}, 0},
	HeightWeightDate:       {"height_weight_date", "Observation Date (Height and weight)", VisitLevel, KindDate, nil, 0},
	HbA1c:                  {"hba1c", "HbA1c Value", VisitLevel, KindNumber, nil, 0},
	HbA1cFormat:            {"hba1c_format", "HbA1c result format", VisitLevel, KindCode, nil, 0},
	HbA1cDate:              {"hba1c_date", "Observation Date: HbA1c Value", VisitLevel, KindDate, nil, 0},
	Treatment:              {"treatment", "Diabetes Treatment", VisitLevel, KindCode, nil, 0},
	ClosedLoopSystem:       {"closed_loop_system", "Closed loop system", VisitLevel, KindCode, nil, 0},
	GlucoseMonitoring:      {"glucose_monitoring", "Glucose monitoring", VisitLevel, KindCode, nil, 0},
	InsulinRegimen:         {"insulin_regimen", "Insulin regime", VisitLevel, KindCode, nil, 0},
	NonInsulinMedication:   {"non_insulin_medication", "Non-insulin glucose lowering medication", VisitLevel, KindCode, nil, 0},
	LifestyleModification:  {"lifestyle_modification", "Lifestyle and dietary modification", VisitLevel, KindCode, nil, 0},
	CGM:                    {"cgm", "Continuous glucose monitor", VisitLevel, KindCode, nil, 0},
	SystolicBP:             {"systolic_bp", "Systolic Blood Pressure", VisitLevel, KindNumber, &Range{Min: 80, Max: 240, Unit: "mmHg", Whole: true, Decimals: 0}, 0},
	DiastolicBP:            {"diastolic_bp", "Diastolic Blood Pressure", VisitLevel, KindNumber, &Range{Min: 20, Max: 120, Unit: "mmHg", Whole: true, Decimals: 0}, 0},
	BPDate:                 {"bp_date", "Observation Date (Blood Pressure)", VisitLevel, KindDate, nil, 0},
	FootExamDate:           {"foot_exam_date", "Foot Assessment / Examination Date", VisitLevel, KindDate, nil, 0},
	RetinalScreeningDate:   {"retinal_screening_date", "Retinal Screening date", VisitLevel, KindDate, nil, 0},
	RetinalScreeningResult: {"retinal_screening_result", "Retinal Screening Result", VisitLevel, KindCode, nil, 0},
	ACR:                    {"acr", "Urinary Albumin Level (ACR)", VisitLevel, KindNumber, &Range{Min: 0, Max: 999, Unit: "mg/mmol", Decimals: 1}, 0},
	ACRDate:                {"acr_date", "Observation Date: Urinary Albumin Level", VisitLevel, KindDate, nil, 0},
	AlbuminuriaStage:       {"albuminuria_stage", "Albuminuria Stage", VisitLevel, KindCode, nil, 0},
	TotalCholesterol:       {"total_cholesterol", "Total Cholesterol Level (mmol/l)", VisitLevel, KindNumber, &Range{Min: 2, Max: 12, Unit: "mmol/l", Decimals: 1}, 0},
	TotalCholesterolDate:   {"total_cholesterol_date", "Observation Date: Total Cholesterol Level", VisitLevel, KindDate, nil, 0},
	ThyroidFunctionDate:    {"thyroid_function_date", "Observation Date: Thyroid Function", VisitLevel, KindDate, nil, 0},
	ThyroidTreatment:       {"thyroid_treatment", "Thyroid treatment", VisitLevel, KindCode, nil, 0},
	CoeliacScreenDate:      {"coeliac_screen_date", "Observation Date: Coeliac Disease Screening", VisitLevel, KindDate, nil, 0},
	GlutenFreeDiet:         {"gluten_free_diet", "Gluten-free diet recommended", VisitLevel, KindCode, nil, 0},
	PsychScreeningDate:     {"psych_screening_date", "Psychological Screening Assessment date", VisitLevel, KindDate, nil, 0},
	PsychAdditionalSupport: {"psych_additional_support", "Additional psychological support required", VisitLevel, KindCode, nil, 0},
	PsychSupportOutcome:    {"psych_support_outcome", "Mental health appointment offered", VisitLevel, KindCode, nil, 0},
	SmokingStatus:          {"smoking_status", "Smoking status", VisitLevel, KindCode, nil, 0},
	SmokingVapingStatus:    {"smoking_vaping_status", "Smoking and vaping status", VisitLevel, KindCode, nil, 0},
	SmokingCessationDate:   {"smoking_cessation_date", "Date of offer of smoking cessation referral or advice", VisitLevel, KindDate, nil, 0},
	CarbCountingDate:       {"carb_counting_date", "Date of Level 3 carbohydrate counting education", VisitLevel, KindDate, nil, 0},
	DietitianOffered:       {"dietitian_offered", "Additional dietitian appointment offered", VisitLevel, KindCode, nil, 0},
	DietitianDate:          {"dietitian_date", "Date of additional appointment with dietitian", VisitLevel, KindDate, nil, 0},
	KetoneTesting:          {"ketone_testing", "Blood ketone testing", VisitLevel, KindCode, nil, 0},
	FluImmunisationDate:    {"flu_immunisation_date", "Date influenza immunisation recommended", VisitLevel, KindDate, nil, 0},
	SickDayRulesDate:       {"sick_day_rules_date", "Date of sick-day rules advice", VisitLevel, KindDate, nil, 0},
	AdmissionDate:          {"admission_date", "Start date (Hospital Provider Spell)", VisitLevel, KindDate, nil, 0},
	DischargeDate:          {"discharge_date", "Discharge date (Hospital provider spell)", VisitLevel, KindDate, nil, 0},
	AdmissionReason:        {"admission_reason", "Reason for admission", VisitLevel, KindCode, nil, 0},
	DKATherapies:           {"dka_therapies", "DKA additional therapies", VisitLevel, KindCode, nil, 0},
	AdmissionReasonOther:   {"admission_reason_other", "Reason for admission (free text)", VisitLevel, KindText, nil, 500},
	BloodPH:                {"blood_ph", "Initial pH at admission", VisitLevel, KindNumber, &Range{Min: 6.5, Max: 7.8, Unit: "", Decimals: 2}, 0},
	BloodBicarbonate:       {"blood_bicarbonate", "Initial standard bicarbonate at admission (mmol/l)", VisitLevel, KindNumber, &Range{Min: 0, Max: 50, Unit: "mmol/l", Decimals: 1}, 0},
}

// HbA1cRange is the accepted HbA1c by result format: IFCC mmol/mol (format 1) or
// DCCT % (format 2).
var HbA1cRange = map[int]Range{
	1: {Min: 20, Max: 195, Unit: "mmol/mol", Decimals: 1},
	2: {Min: 3, Max: 20, Unit: "%", Decimals: 1},
}

// BMIRange bounds the BMI computed from a visit's height and weight; outside it one of
// the two is almost certainly mistyped (a weight of 13 kg at 160 cm gives 5.1).
var BMIRange = Range{Min: 10, Max: 60, Unit: "kg/m²", Decimals: 1}

// Info describes f.
func (f Field) Info() FieldInfo {
	if f < 0 || f >= NumFields {
		return FieldInfo{Key: fmt.Sprintf("field_%d", int(f)), Label: fmt.Sprintf("field %d", int(f))}
	}
	return fieldInfo[f]
}

// Key is the stable snake_case name of f.
func (f Field) Key() string { return f.Info().Key }

// Label is the short human name of f.
func (f Field) Label() string { return f.Info().Label }

// Level says whether f describes the patient or a visit.
func (f Field) Level() Level { return f.Info().Level }

func (f Field) String() string { return f.Key() }

// FieldByKey finds a field by its key.
func FieldByKey(key string) (Field, bool) {
	for f := Field(0); f < NumFields; f++ {
		if fieldInfo[f].Key == key {
			return f, true
		}
	}
	return 0, false
}

// Code is one value of a code list.
type Code struct {
	Value string
	Label string
}

// CodeList is the permitted values of a coded field. Aliases map other spellings seen
// in real files (such as M and F for sex) to a value.
type CodeList struct {
	Name    string
	Codes   []Code
	Aliases map[string]string
}

// Lookup returns the code a cell means: the value itself, a numeric spelling of it
// ("01", "1.0") or an alias, compared without regard to case.
func (c *CodeList) Lookup(cell string) (Code, bool) {
	s := strings.TrimSpace(cell)
	if s == "" {
		return Code{}, false
	}
	if v, ok := c.Aliases[strings.ToLower(s)]; ok {
		s = v
	}
	if n, ok := wholeNumber(s); ok {
		s = n
	}
	for _, code := range c.Codes {
		if strings.EqualFold(code.Value, s) {
			return code, true
		}
	}
	return Code{}, false
}

// Describe lists the codes as "1 = Yes, 2 = No, 99 = Unknown" for error messages, or
// only the values ("1, 2, 3 or 99") when the labels would make the message unreadable.
func (c *CodeList) Describe() string {
	parts := make([]string, len(c.Codes))
	values := make([]string, len(c.Codes))
	for i, code := range c.Codes {
		parts[i] = code.Value + " = " + code.Label
		values[i] = code.Value
	}
	if full := strings.Join(parts, ", "); len(full) <= 120 {
		return full
	}
	return strings.Join(values[:len(values)-1], ", ") + " or " + values[len(values)-1]
}

// wholeNumber spells "1", "01", "1.0" and "1.00" as "1"; ok is false for anything
// that is not a whole number.
func wholeNumber(s string) (string, bool) {
	intPart, frac, hasFrac := strings.Cut(s, ".")
	if intPart == "" {
		return "", false
	}
	for _, r := range intPart {
		if r < '0' || r > '9' {
			return "", false
		}
	}
	if hasFrac {
		for _, r := range frac {
			if r != '0' {
				return "", false
			}
		}
	}
	intPart = strings.TrimLeft(intPart, "0")
	if intPart == "" {
		intPart = "0"
	}
	return intPart, true
}

func codes(name string, pairs ...string) *CodeList {
	c := &CodeList{Name: name}
	for i := 0; i+1 < len(pairs); i += 2 {
		c.Codes = append(c.Codes, Code{Value: pairs[i], Label: pairs[i+1]})
	}
	return c
}

// The code lists of the NPDA datasets.
var (
	Sex2021 = withAliases(codes("sex (stated gender)",
		"0", "Not known", "1", "Male", "2", "Female", "3", "Not specified (RCPCH platform code)",
		"9", "Not specified", "99", "Unknown (RCPCH platform code)"),
		map[string]string{"m": "1", "male": "1", "f": "2", "female": "2"})
	Sex2026 = withAliases(codes("sex assigned at birth",
		"1", "Male", "2", "Female", "3", "Not specified", "99", "Unknown"),
		map[string]string{"m": "1", "male": "1", "f": "2", "female": "2"})
	Ethnicities = codes("ethnic category",
		"A", "White - British", "B", "White - Irish", "C", "White - Any other White background",
		"D", "Mixed - White and Black Caribbean", "E", "Mixed - White and Black African",
		"F", "Mixed - White and Asian", "G", "Mixed - Any other mixed background",
		"H", "Asian - Indian or British Indian", "J", "Asian - Pakistani or British Pakistani",
		"K", "Asian - Bangladeshi or British Bangladeshi", "L", "Asian - Any other Asian background",
		"M", "Black - Caribbean", "N", "Black - African", "P", "Black - Any other Black background",
		"R", "Chinese", "S", "Other - Any other ethnic group", "Z", "Not stated", "99", "Not known")
	DiabetesTypes = codes("diabetes type",
		"1", "Type 1 Insulin-Dependent Diabetes Mellitus", "2", "Type 2 Non-Insulin Dependent Diabetes Mellitus",
		"3", "Cystic Fibrosis Related Diabetes", "4", "MODY (monogenic forms of diabetes)",
		"5", "Other specified Diabetes Mellitus", "99", "Unknown/unspecified")
	LeavingReasons = codes("reason for leaving service",
		"1", "Transitioned to adult diabetes service", "2", "Moved out of area", "3", "Other")
	YesNoUnknown = codes("yes/no/unknown", "1", "Yes", "2", "No", "99", "Unknown")
	HbA1cFormats = codes("HbA1c result format", "1", "mmol/mol", "2", "Percentage (%)")
	Treatments   = codes("diabetes treatment",
		"1", "One - three injections/day", "2", "Four or more injections/day", "3", "Insulin pump",
		"4", "One - three injections/day plus other blood glucose lowering medication",
		"5", "Four or more injections/day plus other blood glucose lowering medication",
		"6", "Insulin pump therapy plus other blood glucose lowering medication",
		"7", "Dietary management alone (no insulin or other diabetes related medication)",
		"8", "Dietary management plus other blood glucose lowering medication (non Type-1 diabetes)",
		"99", "Unknown")
	ClosedLoopTypes = codes("closed loop system",
		"1", "No", "2", "Closed loop system (licenced)", "3", "Closed loop system (DIY, unlicenced)",
		"4", "Closed loop system (licence status unknown)")
	GlucoseMonitoringTypes = codes("glucose monitoring",
		"1", "No", "2", "Flash glucose monitor", "3", "Modified flash glucose monitor (e.g. with MiaoMiao, Blucon etc.)",
		"4", "Real time continuous glucose monitor with alarms", "5", "Other", "99", "Unknown")
	InsulinRegimens = codes("insulin regime",
		"1", "No insulin", "2", "One - three injections/day", "3", "Four or more injections/day",
		"4", "Insulin pump (standalone)", "5", "Hybrid closed loop", "99", "Unknown")
	NonInsulinMedications = codes("non-insulin medication",
		"1", "No medication", "2", "Metformin only", "3", "GLP-1 agonists", "4", "SGLT2 inhibitors",
		"5", "Other", "99", "Unknown")
	RetinalScreeningResults = codes("retinal screening result", "1", "Normal", "2", "Abnormal", "99", "Unknown")
	AlbuminuriaStages       = codes("albuminuria stage",
		"1", "Normoalbuminuria", "2", "Microalbuminuria", "3", "Macroalbuminuria", "99", "Unknown")
	ThyroidTreatments = codes("thyroid treatment",
		"1", "No thyroid therapy", "2", "Thyroxine for hypothyroidism",
		"3", "Antithyroid medication for hyperthyroidism", "99", "Unknown")
	SmokingStatuses       = codes("smoking status", "1", "Non-smoker", "2", "Current smoker", "99", "Unknown")
	SmokingVapingStatuses = codes("smoking and vaping status",
		"1", "Non-smoker and non-vaper", "2", "Current smoker, non-vaper", "3", "Current vaper, non-smoker",
		"4", "Current smoker and vaper", "99", "Unknown")
	AdmissionReasons = codes("reason for admission",
		"1", "Stabilisation of diabetes", "2", "DKA", "3", "Ketosis without acidosis",
		"4", "Hypoglycaemia", "5", "Surgical procedures", "6", "Other causes")
	DKATherapyTypes = codes("DKA additional therapies",
		"1", "Hypertonic saline", "2", "Mannitol", "3", "Bicarbonate infusion", "4", "None of the above")
	ADHDASDStatuses = codes("ADHD or ASD diagnosis",
		"1", "Yes, ADHD", "2", "Yes, ASD", "3", "Yes, both ADHD and ASD", "4", "No, neither", "99", "Unknown")
	PsychSupportOutcomes = codes("mental health appointment",
		"1", "Offered and attended", "2", "Offered and did not attend", "3", "Offered and declined",
		"4", "Not offered", "5", "Mental health support accessed elsewhere", "99", "Unknown")
)

func withAliases(c *CodeList, aliases map[string]string) *CodeList {
	c.Aliases = aliases
	return c
}
