package audit

import (
	"context"
	"errors"
	"slices"
	"strings"
	"testing"
	"time"
)

func TestBaseRowsAreValid(t *testing.T) {
	res := mustRead(t, csvOf(Dataset2021, NHSNumber, baseRow()), Options{PZCode: "PZ041", AuditYear: 2024})
	if len(res.issues) > 0 {
		t.Errorf("2021 base row:%s", describeIssues(res.issues))
	}
	res = mustRead(t, csvOf(Dataset2026, NHSNumber, baseRow2026()), Options{PZCode: "PZ041", AuditYear: 2026, Today: Day(2026, 8, 1)})
	if len(res.issues) > 0 {
		t.Errorf("2026 base row:%s", describeIssues(res.issues))
	}
}

// TestCellRules changes one or two cells of a valid row and expects exactly the issues
// listed (field and code), on row 2.
func TestCellRules(t *testing.T) {
	admission := row{AdmissionDate: "10/06/2024", DischargeDate: "12/06/2024", AdmissionReason: "1"}
	tests := []struct {
		name   string
		change row
		want   []string // "field code"
	}{
		// Identifiers and patient cells.
		{"NHS number check digit", row{NHSNumber: "780 071 3696"}, []string{"nhs_number invalid"}},
		{"NHS number with dashes", row{NHSNumber: "780-071-3695"}, nil},
		{"NHS number too short", row{NHSNumber: "78007136"}, []string{"nhs_number invalid"}},
		{"date of birth not a date", row{DateOfBirth: "2014-13-01"}, []string{"date_of_birth invalid"}},
		{"date of birth in the future", row{DateOfBirth: "01/01/2026", DiagnosisDate: ""}, []string{"date_of_birth future_date", "diagnosis_date required"}},
		{"two-digit years", row{DateOfBirth: "01/04/14", DiagnosisDate: "26/9/15"}, nil},
		{"25 at the start of the period", row{DateOfBirth: "01/04/1999", DiagnosisDate: "01/01/2010"}, []string{"date_of_birth too_old"}},
		{"24 at the start of the period", row{DateOfBirth: "02/04/1999", DiagnosisDate: "01/01/2010"}, nil},
		{"diagnosis before birth", row{DiagnosisDate: "01/01/2014"}, []string{"diagnosis_date before_birth"}},
		{"diagnosis after the period", row{DiagnosisDate: "01/04/2025", VisitDate: "", HeightWeightDate: "", HbA1cDate: "", BPDate: "",
			Height: "", Weight: "", HbA1c: "", HbA1cFormat: "", SystolicBP: "", DiastolicBP: "", AdmissionDate: "03/04/2025", AdmissionReason: "2", DKATherapies: "4"},
			[]string{"diagnosis_date outside_audit_period", "admission_date outside_audit_period"}},
		{"diagnosis missing", row{DiagnosisDate: ""}, []string{"diagnosis_date required"}},
		{"postcode", row{Postcode: "GU21"}, []string{"postcode invalid"}},
		{"postcode lower case without a space", row{Postcode: "gu215jg"}, nil},
		{"no fixed abode", row{Postcode: "ZZ99 3VZ"}, nil},
		{"postcode missing", row{Postcode: ""}, []string{"postcode required"}},
		{"GP practice code", row{GPPracticeCode: "G7103993"}, []string{"gp_practice_code invalid"}},
		{"sex code", row{Sex: "4"}, []string{"sex invalid_code"}},
		{"sex as a letter", row{Sex: "F"}, nil},
		{"ethnicity code", row{Ethnicity: "O"}, []string{"ethnicity invalid_code"}},
		{"diabetes type", row{DiabetesType: "6"}, []string{"diabetes_type invalid_code"}},
		{"diabetes type as 1.0", row{DiabetesType: "1.0"}, nil},
		{"PDU number as a number", row{PDUNumber: "41"}, nil},
		{"PDU number missing", row{PDUNumber: ""}, []string{"pdu_number required"}},
		{"leaving date without reason", row{LeavingDate: "01/12/2024"}, []string{"reason_leaving_service required_together"}},
		{"leaving reason without date", row{LeavingReason: "2"}, []string{"date_leaving_service required_together"}},
		{"left in the period", row{LeavingDate: "01/12/2024", LeavingReason: "1"}, nil},
		{"left before the period", row{LeavingDate: "01/12/2023", LeavingReason: "1"}, []string{"date_leaving_service outside_audit_period"}},
		{"leaving reason code", row{LeavingDate: "01/12/2024", LeavingReason: "4"}, []string{"reason_leaving_service invalid_code"}},
		{"died in the period", row{DeathDate: "01/12/2024"}, nil},
		{"death before diagnosis", row{DeathDate: "01/01/2015"}, []string{"death_date before_diagnosis"}},
		{"death before the period", row{DeathDate: "01/01/2024"}, []string{"death_date outside_audit_period"}},
		{"visit after death", row{DeathDate: "01/05/2024"}, []string{"visit_date after_death", "height_weight_date after_death", "hba1c_date after_death", "bp_date after_death"}},

		// Visit dates and the audit period.
		{"visit date missing", row{VisitDate: ""}, []string{"visit_date required"}},
		{"visit date in the future", row{VisitDate: "02/06/2025"}, []string{"visit_date future_date"}},
		{"visit before the period", row{VisitDate: "31/03/2024"}, []string{"visit_date outside_audit_period"}},
		{"visit before the period with an admission inside it", row{VisitDate: "31/03/2024"}.with(admission), nil},
		{"admission row without a visit date", row{VisitDate: ""}.with(admission), nil},
		{"visit before diagnosis", row{DiagnosisDate: "01/06/2024"}, []string{"visit_date before_diagnosis", "height_weight_date before_diagnosis", "hba1c_date before_diagnosis", "bp_date before_diagnosis"}},
		{"observation after the period", row{HbA1cDate: "01/04/2025"}, []string{"hba1c_date outside_audit_period"}},
		{"retinal screening the year before", row{RetinalScreeningDate: "01/05/2023", RetinalScreeningResult: "1"}, nil},
		{"retinal screening two years before", row{RetinalScreeningDate: "31/03/2023", RetinalScreeningResult: "1"}, []string{"retinal_screening_date outside_audit_period"}},
		{"thyroid screen at diagnosis before the period", row{DiagnosisDate: "01/03/2024", ThyroidFunctionDate: "20/02/2024"}, nil},
		{"thyroid screen 91 days after diagnosis before the period", row{DiagnosisDate: "01/12/2023", ThyroidFunctionDate: "01/03/2024"}, []string{"thyroid_function_date outside_audit_period"}},
		{"coeliac screen 90 days before diagnosis", row{DiagnosisDate: "30/05/2024", VisitDate: "01/06/2024", HeightWeightDate: "01/06/2024", HbA1cDate: "01/06/2024", BPDate: "01/06/2024", CoeliacScreenDate: "01/03/2024"}, nil},
		{"coeliac screen 91 days before diagnosis", row{DiagnosisDate: "30/05/2024", VisitDate: "01/06/2024", HeightWeightDate: "01/06/2024", HbA1cDate: "01/06/2024", BPDate: "01/06/2024", CoeliacScreenDate: "29/02/2024"}, []string{"coeliac_screen_date before_diagnosis"}},
		{"carbohydrate counting 7 days before diagnosis", row{DiagnosisDate: "30/05/2024", VisitDate: "01/06/2024", HeightWeightDate: "01/06/2024", HbA1cDate: "01/06/2024", BPDate: "01/06/2024", CarbCountingDate: "23/05/2024"}, nil},
		{"carbohydrate counting 8 days before diagnosis", row{DiagnosisDate: "30/05/2024", VisitDate: "01/06/2024", HeightWeightDate: "01/06/2024", HbA1cDate: "01/06/2024", BPDate: "01/06/2024", CarbCountingDate: "22/05/2024"}, []string{"carb_counting_date before_diagnosis"}},
		{"carbohydrate counting 14 days after a diagnosis before the period", row{DiagnosisDate: "20/03/2024", CarbCountingDate: "03/04/2024"}, nil},
		{"carbohydrate counting before the period, long after diagnosis", row{CarbCountingDate: "01/03/2024"}, []string{"carb_counting_date outside_audit_period"}},
		{"admission 11 days before diagnosis", row{DiagnosisDate: "21/06/2024", VisitDate: "21/06/2024", HeightWeightDate: "21/06/2024", HbA1cDate: "21/06/2024", BPDate: "21/06/2024"}.with(admission), nil},
		{"admission 12 days before diagnosis", row{DiagnosisDate: "22/06/2024", VisitDate: "22/06/2024", HeightWeightDate: "22/06/2024", HbA1cDate: "22/06/2024", BPDate: "22/06/2024"}.with(admission),
			[]string{"admission_date before_diagnosis"}},
		{"admission across the start of the period", row{AdmissionDate: "30/03/2024", DischargeDate: "02/04/2024", AdmissionReason: "1"}, nil},
		{"discharge before admission", row{AdmissionDate: "12/06/2024", DischargeDate: "10/06/2024", AdmissionReason: "1"}, []string{"admission_date inconsistent_dates"}},

		// Numbers.
		{"height too small", row{Height: "39"}, []string{"height out_of_range"}},
		{"height in metres", row{Height: "1.55"}, []string{"height out_of_range"}},
		{"weight not a number", row{Weight: "57kg"}, []string{"weight invalid"}},
		{"weight too heavy", row{Weight: "201"}, []string{"weight out_of_range"}},
		{"implausible BMI", row{Weight: "13", Height: "160"}, []string{"weight implausible"}},
		{"HbA1c mmol/mol too low", row{HbA1c: "7.5"}, []string{"hba1c out_of_range"}},
		{"HbA1c mmol/mol too high", row{HbA1c: "196"}, []string{"hba1c out_of_range"}},
		{"HbA1c percent", row{HbA1c: "7.5", HbA1cFormat: "2"}, nil},
		{"HbA1c percent too high", row{HbA1c: "53", HbA1cFormat: "2"}, []string{"hba1c out_of_range"}},
		{"HbA1c format code", row{HbA1cFormat: "3"}, []string{"hba1c_format invalid_code"}},
		{"HbA1c without format", row{HbA1cFormat: ""}, []string{"hba1c_format required_together"}},
		{"HbA1c without date", row{HbA1cDate: ""}, []string{"hba1c_date required_together"}},
		{"HbA1c date alone", row{HbA1c: "", HbA1cFormat: ""}, []string{"hba1c required_together", "hba1c_format required_together"}},
		{"systolic too high", row{SystolicBP: "250"}, []string{"systolic_bp out_of_range"}},
		{"diastolic not whole", row{DiastolicBP: "57.5"}, []string{"diastolic_bp invalid"}},
		{"diastolic 57.0", row{DiastolicBP: "57.0"}, nil},
		{"blood pressure without date", row{BPDate: ""}, []string{"bp_date required_together"}},
		{"systolic without diastolic", row{DiastolicBP: ""}, []string{"diastolic_bp required_together"}},
		{"ACR range", row{ACR: "1000", ACRDate: "22/05/2024", AlbuminuriaStage: "1"}, []string{"acr out_of_range"}},
		{"ACR without stage", row{ACR: "2.5", ACRDate: "22/05/2024"}, []string{"albuminuria_stage required_together"}},
		{"cholesterol range", row{TotalCholesterol: "1.9", TotalCholesterolDate: "22/05/2024"}, []string{"total_cholesterol out_of_range"}},
		{"cholesterol without date", row{TotalCholesterol: "4.5"}, []string{"total_cholesterol_date required_together"}},
		{"height and weight without their date", row{HeightWeightDate: ""}, []string{"height_weight_date required_together"}},
		{"height and weight date alone", row{Height: "", Weight: ""}, []string{"height_weight_date required_together"}},
		{"height alone with its date", row{Weight: ""}, nil},

		// Fields together and apart.
		{"pump without closed loop answer", row{Treatment: "3"}, []string{"closed_loop_system required_together"}},
		{"pump with closed loop", row{Treatment: "6", ClosedLoopSystem: "2"}, nil},
		{"closed loop without pump", row{ClosedLoopSystem: "2"}, []string{"closed_loop_system forbidden_together"}},
		{"closed loop without treatment", row{Treatment: "", ClosedLoopSystem: "1"}, []string{"treatment required_together"}},
		{"retinal result without date", row{RetinalScreeningResult: "1"}, []string{"retinal_screening_date required_together"}},
		{"thyroxine without a thyroid date", row{ThyroidTreatment: "2"}, []string{"thyroid_function_date required_together"}},
		{"no thyroid therapy without a date", row{ThyroidTreatment: "1"}, nil},
		{"psychological support without screening date", row{PsychAdditionalSupport: "1"}, []string{"psych_screening_date required_together"}},
		{"psychological support unknown", row{PsychAdditionalSupport: "99"}, nil},
		{"smoking cessation for a non-smoker", row{SmokingStatus: "1", SmokingCessationDate: "22/05/2024"}, []string{"smoking_cessation_date forbidden_together"}},
		{"smoking cessation without status", row{SmokingCessationDate: "22/05/2024"}, []string{"smoking_cessation_date forbidden_together"}},
		{"smoking cessation for a smoker", row{SmokingStatus: "2", SmokingCessationDate: "22/05/2024"}, nil},
		{"dietitian date when not offered", row{DietitianOffered: "2", DietitianDate: "22/05/2024"}, []string{"dietitian_date forbidden_together"}},
		{"dietitian date when offered", row{DietitianOffered: "1", DietitianDate: "22/05/2024"}, nil},
		{"admission without reason", row{AdmissionDate: "10/06/2024"}, []string{"admission_reason required_together"}},
		{"reason without admission", row{AdmissionReason: "4"}, []string{"admission_date required_together"}},
		{"DKA without therapies", row{AdmissionDate: "10/06/2024", AdmissionReason: "2"}, []string{"dka_therapies required_together"}},
		{"DKA with therapies", row{AdmissionDate: "10/06/2024", AdmissionReason: "2", DKATherapies: "3"}, nil},
		{"therapies without DKA", row{AdmissionDate: "10/06/2024", AdmissionReason: "1", DKATherapies: "3"}, []string{"dka_therapies forbidden_together"}},
		{"other reason without text", row{AdmissionDate: "10/06/2024", AdmissionReason: "6"}, []string{"admission_reason_other required_together"}},
		{"text without other reason", row{AdmissionDate: "10/06/2024", AdmissionReason: "4", AdmissionReasonOther: "fell"}, []string{"admission_reason_other forbidden_together"}},
		{"free text too long", row{AdmissionDate: "10/06/2024", AdmissionReason: "6", AdmissionReasonOther: strings.Repeat("x", 501)}, []string{"admission_reason_other invalid"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res := mustRead(t, csvOf(Dataset2021, NHSNumber, baseRow().with(tt.change)), Options{PZCode: "PZ041", AuditYear: 2024})
			checkIssues(t, res.issues, tt.want)
		})
	}
}

func checkIssues(t *testing.T, got []Issue, want []string) {
	t.Helper()
	var keys []string
	for _, is := range got {
		keys = append(keys, is.Field.Key()+" "+is.Code)
		if is.Row != 2 {
			t.Errorf("issue on row %d, want 2", is.Row)
		}
		if is.Message == "" {
			t.Errorf("issue without a message: %+v", is)
		}
	}
	slices.Sort(keys)
	want = slices.Clone(want)
	slices.Sort(want)
	if !slices.Equal(keys, want) {
		t.Errorf("issues %q, want %q%s", keys, want, describeIssues(got))
	}
}

func TestCellRules2026(t *testing.T) {
	opts := Options{PZCode: "PZ041", AuditYear: 2026, Today: Day(2026, 8, 1)}
	tests := []struct {
		name   string
		change row
		want   []string
	}{
		{"HbA1c in percent", row{HbA1c: "7.5"}, []string{"hba1c out_of_range"}},
		{"HbA1c without date", row{HbA1cDate: ""}, []string{"hba1c_date required_together"}},
		{"sex code of the 2021 dataset", row{Sex: "9"}, []string{"sex invalid_code"}},
		{"insulin regime", row{InsulinRegimen: "6"}, []string{"insulin_regimen invalid_code"}},
		{"ADHD and ASD", row{ADHDASD: "3"}, nil},
		{"immunotherapy without date", row{Immunotherapy: "1"}, []string{"immunotherapy_date required_together"}},
		{"immunotherapy with date", row{Immunotherapy: "1", ImmunotherapyDate: "01/09/2015"}, nil},
		{"immunotherapy date without immunotherapy", row{Immunotherapy: "2", ImmunotherapyDate: "01/09/2015"}, []string{"immunotherapy_date forbidden_together"}},
		{"vaper offered cessation advice", row{SmokingVapingStatus: "3", SmokingCessationDate: "22/05/2026"}, []string{"smoking_cessation_date forbidden_together"}},
		{"smoker and vaper offered cessation advice", row{SmokingVapingStatus: "4", SmokingCessationDate: "22/05/2026"}, nil},
		{"pH of a DKA admission", row{AdmissionDate: "01/06/2026", AdmissionReason: "2", DKATherapies: "4", BloodPH: "7.05", BloodBicarbonate: "8.5"}, nil},
		{"pH out of range", row{AdmissionDate: "01/06/2026", AdmissionReason: "2", DKATherapies: "4", BloodPH: "8.1"}, []string{"blood_ph out_of_range"}},
		{"pH without DKA", row{AdmissionDate: "01/06/2026", AdmissionReason: "4", BloodPH: "7.3"}, []string{"blood_ph forbidden_together"}},
		{"bicarbonate without an admission", row{BloodBicarbonate: "20"}, []string{"admission_date required_together", "admission_reason required_together"}},
		{"psychological support outcome", row{PsychSupportOutcome: "5"}, nil},
		{"learning disability code", row{LearningDisability: "3"}, []string{"learning_disability invalid_code"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res := mustRead(t, csvOf(Dataset2026, NHSNumber, baseRow2026().with(tt.change)), opts)
			checkIssues(t, res.issues, tt.want)
		})
	}
}

func TestJersey(t *testing.T) {
	r := baseRow().with(row{NHSNumber: "JY-1234", PDUNumber: "PZ248", Postcode: "JE2 3QS"})
	res := mustRead(t, csvOf(Dataset2021, UniqueReferenceNumber, r, r.with(row{VisitDate: "01/07/2024", HeightWeightDate: "", Height: "", Weight: "", HbA1c: "", HbA1cFormat: "", HbA1cDate: "", SystolicBP: "", DiastolicBP: "", BPDate: ""})),
		Options{PZCode: "PZ248", AuditYear: 2024})
	if len(res.issues) > 0 {
		t.Fatalf("issues:%s", describeIssues(res.issues))
	}
	if len(res.file.Patients) != 1 || res.file.Patients[0].Values[UniqueReferenceNumber].Text != "JY-1234" || res.file.Identifier != UniqueReferenceNumber {
		t.Fatalf("patients %+v", res.file.Patients[0].Values[UniqueReferenceNumber])
	}
	bad := mustRead(t, csvOf(Dataset2021, UniqueReferenceNumber, r.with(row{NHSNumber: "a reference that is far too long"})), Options{PZCode: "PZ248", AuditYear: 2024})
	checkIssues(t, bad.issues, []string{"unique_reference_number invalid"})
}

func TestMergePatientRows(t *testing.T) {
	v := func(visit string, change row) row {
		return baseRow().with(row{VisitDate: visit, HeightWeightDate: visit, HbA1cDate: visit, BPDate: visit}).with(change)
	}
	tests := []struct {
		name  string
		rows  []row
		check func(t *testing.T, p *Patient)
		want  []string // "row field code"
	}{
		{"modal date of birth", []row{
			v("01/05/2024", row{DateOfBirth: "01/04/2014"}), v("01/06/2024", row{DateOfBirth: "04/01/2014"}), v("01/07/2024", row{DateOfBirth: "01/04/2014"}),
		}, func(t *testing.T, p *Patient) {
			wantDate(t, p, DateOfBirth, Day(2014, 4, 1), 4) // the most recent row with the value
		}, []string{"3 date_of_birth conflict"}},
		{"tied date of birth: most recent visit wins", []row{
			v("01/07/2024", row{DateOfBirth: "04/01/2014"}), v("01/05/2024", row{DateOfBirth: "01/04/2014"}),
		}, func(t *testing.T, p *Patient) {
			wantDate(t, p, DateOfBirth, Day(2014, 1, 4), 2)
		}, []string{"3 date_of_birth conflict"}},
		{"earliest diagnosis", []row{
			v("01/05/2024", row{DiagnosisDate: "26/09/2015"}), v("01/06/2024", row{DiagnosisDate: "20/09/2015"}),
		}, func(t *testing.T, p *Patient) {
			wantDate(t, p, DiagnosisDate, Day(2015, 9, 20), 3)
		}, []string{"2 diagnosis_date conflict"}},
		{"latest diabetes type, by visit date not file order", []row{
			v("01/07/2024", row{DiabetesType: "2"}), v("01/05/2024", row{DiabetesType: "1"}), v("01/06/2024", row{DiabetesType: "1"}),
		}, func(t *testing.T, p *Patient) {
			if p.Values[DiabetesType].Text != "2" || p.SourceRow[DiabetesType] != 2 {
				t.Errorf("diabetes type %q from row %d", p.Values[DiabetesType].Text, p.SourceRow[DiabetesType])
			}
		}, []string{"3 diabetes_type conflict", "4 diabetes_type conflict"}},
		{"unknown sex gives way to a known one", []row{
			v("01/05/2024", row{Sex: "0"}), v("01/06/2024", row{Sex: "2"}),
		}, func(t *testing.T, p *Patient) {
			if p.Values[Sex].Text != "2" {
				t.Errorf("sex %q", p.Values[Sex].Text)
			}
		}, nil},
		{"two known sexes conflict", []row{
			v("01/05/2024", row{Sex: "1"}), v("01/06/2024", row{Sex: "2"}), v("01/07/2024", row{Sex: "1"}),
		}, func(t *testing.T, p *Patient) {
			if p.Values[Sex].Text != "1" {
				t.Errorf("sex %q", p.Values[Sex].Text)
			}
		}, []string{"3 sex conflict"}},
		{"a move of house is no conflict", []row{
			v("01/05/2024", row{Postcode: "GU21 5JG"}), v("01/06/2024", row{Postcode: "B14 4EJ"}),
		}, func(t *testing.T, p *Patient) {
			if p.Values[Postcode].Text != "B14 4EJ" {
				t.Errorf("postcode %q", p.Values[Postcode].Text)
			}
		}, nil},
		{"an invalid cell does not vote", []row{
			v("01/05/2024", row{DateOfBirth: "31/02/2014"}), v("01/06/2024", row{DateOfBirth: "01/04/2014"}),
		}, func(t *testing.T, p *Patient) {
			wantDate(t, p, DateOfBirth, Day(2014, 4, 1), 3)
		}, []string{"2 date_of_birth invalid"}},
		{"blank patient cells on later rows", []row{
			v("01/05/2024", nil), v("01/06/2024", row{DateOfBirth: "", DiagnosisDate: "", Postcode: "", GPPracticeCode: "", DiabetesType: "", PDUNumber: ""}),
		}, func(t *testing.T, p *Patient) {
			wantDate(t, p, DateOfBirth, Day(2014, 4, 1), 2)
		}, nil},
		{"the leaving date is checked against the kept death date", []row{
			v("01/05/2024", row{DeathDate: "01/10/2024", LeavingDate: "01/11/2024", LeavingReason: "3"}),
		}, nil, []string{"2 date_leaving_service after_death"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res := mustRead(t, csvOf(Dataset2021, NHSNumber, tt.rows...), Options{PZCode: "PZ041", AuditYear: 2024})
			if len(res.file.Patients) != 1 || res.file.Patients[0].Visits() != len(tt.rows) {
				t.Fatalf("%d patients", len(res.file.Patients))
			}
			if tt.check != nil {
				tt.check(t, res.file.Patients[0])
			}
			got := issueKeys(res.issues)
			if !slices.Equal(got, tt.want) && !(len(got) == 0 && len(tt.want) == 0) {
				t.Errorf("issues %q, want %q%s", got, tt.want, describeIssues(res.issues))
			}
			for _, is := range res.issues {
				if is.Code == IssueConflict && !strings.Contains(is.Message, "was kept") {
					t.Errorf("conflict message %q", is.Message)
				}
			}
		})
	}
}

func wantDate(t *testing.T, p *Patient, f Field, want time.Time, row int) {
	t.Helper()
	if v := p.Values[f]; !v.Set || !v.Date.Equal(want) || p.SourceRow[f] != row {
		t.Errorf("%s = %v (set %v) from row %d, want %s from row %d", f, v.Date, v.Set, p.SourceRow[f], FormatDate(want), row)
	}
}

func TestPatientsGroupedAcrossTheFile(t *testing.T) {
	a := baseRow()
	b := baseRow().with(row{NHSNumber: "943 476 5919"})
	res := mustRead(t, csvOf(Dataset2021, NHSNumber, a, b, a.with(row{NHSNumber: "7800713695", VisitDate: "01/06/2024"}), b), Options{PZCode: "PZ041", AuditYear: 2024})
	if len(res.file.Patients) != 2 || res.file.Patients[0].Visits() != 2 || res.file.Patients[1].Visits() != 2 || res.file.Patients[1].FirstRow != 3 {
		t.Fatalf("patients: %d", len(res.file.Patients))
	}
	for i, want := range []int{0, 1, 0, 1} {
		if res.visits[i].Patient.Index != want || res.visits[i].Row != i+2 {
			t.Errorf("visit %d: patient %d row %d", i, res.visits[i].Patient.Index, res.visits[i].Row)
		}
	}
}

func TestBMIAndRounding(t *testing.T) {
	res := mustRead(t, csvOf(Dataset2021, NHSNumber, baseRow()), Options{PZCode: "PZ041", AuditYear: 2024})
	v := res.visits[0]
	if v.Values[Height].Num != 155.1 || v.Values[Weight].Num != 57 {
		t.Errorf("height %v weight %v", v.Values[Height].Num, v.Values[Weight].Num)
	}
	// 57 / 1.551² = 23.69...
	if !v.BMI.Set || v.BMI.Num != 23.7 {
		t.Errorf("BMI %+v", v.BMI)
	}
	if v.Centiles.Check.Status != CheckNotChecked {
		t.Errorf("centiles %+v", v.Centiles)
	}
	p := res.file.Patients[0]
	for _, c := range []Check{p.PostcodeCheck, p.GPPracticeCheck, p.DeprivationCheck} {
		if c.Status != CheckNotChecked {
			t.Errorf("check %+v without a service", c)
		}
	}
}

type fakeLookups struct{ fail bool }

func (f fakeLookups) CheckPostcode(_ context.Context, pc string) (Check, error) {
	if f.fail {
		return Check{}, errors.New("no network")
	}
	if pc == "GU21 5JG" {
		return Check{Status: CheckValid}, nil
	}
	return Check{Status: CheckInvalid, Detail: "postcode not found"}, nil
}

func (f fakeLookups) CheckGPPractice(_ context.Context, code string) (Check, error) {
	if f.fail {
		return Check{}, errors.New("no network")
	}
	if code == "G85023" {
		return Check{Status: CheckValid}, nil
	}
	return Check{Status: CheckInvalid}, nil
}

func (f fakeLookups) DeprivationQuintile(context.Context, string) (int, error) {
	if f.fail {
		return 0, errors.New("no network")
	}
	return 3, nil
}

func (f fakeLookups) Centiles(_ context.Context, req CentileRequest) (Centiles, error) {
	if f.fail {
		return Centiles{}, errors.New("no network")
	}
	if req.WeightKg != nil && *req.WeightKg > 150 {
		return Centiles{Check: Check{Status: CheckInvalid, Detail: "weight more than 6 SDS above the mean"}}, nil
	}
	c := 50.0
	return Centiles{Check: Check{Status: CheckValid}, Height: &c, Weight: &c, BMI: &c}, nil
}

func TestLookups(t *testing.T) {
	fake := fakeLookups{}
	l := Lookups{Postcodes: fake, GPPractices: fake, Deprivation: fake, Centiles: fake}
	res := mustRead(t, csvOf(Dataset2021, NHSNumber, baseRow()), Options{PZCode: "PZ041", AuditYear: 2024, Lookups: l})
	p, v := res.file.Patients[0], res.visits[0]
	if p.PostcodeCheck.Status != CheckValid || p.GPPracticeCheck.Status != CheckValid || p.IMDQuintile != 3 || v.Centiles.Check.Status != CheckValid || *v.Centiles.BMI != 50 {
		t.Errorf("checks %+v %+v %d %+v", p.PostcodeCheck, p.GPPracticeCheck, p.IMDQuintile, v.Centiles)
	}
	res = mustRead(t, csvOf(Dataset2021, NHSNumber, baseRow().with(row{Postcode: "B14 4EJ", GPPracticeCode: "A12345", Weight: "160", Height: "190"})), Options{PZCode: "PZ041", AuditYear: 2024, Lookups: l})
	checkIssues(t, res.issues, []string{"postcode lookup_failed", "gp_practice_code lookup_failed", "weight lookup_failed"})
	if p := res.file.Patients[0]; p.DeprivationCheck.Status != CheckNotChecked {
		t.Errorf("deprivation of an unknown postcode: %+v", p.DeprivationCheck)
	}
	down := fakeLookups{fail: true}
	res = mustRead(t, csvOf(Dataset2021, NHSNumber, baseRow()), Options{PZCode: "PZ041", AuditYear: 2024, Lookups: Lookups{Postcodes: down, GPPractices: down, Deprivation: down, Centiles: down}})
	if len(res.issues) > 0 || res.file.Patients[0].PostcodeCheck.Status != CheckNotChecked || res.visits[0].Centiles.Check.Status != CheckNotChecked {
		t.Errorf("a failing service must leave the checks not checked:%s", describeIssues(res.issues))
	}
}

func TestMessagesDoNotQuoteCells(t *testing.T) {
	secret := "Zanzibar"
	r := baseRow().with(row{NHSNumber: "780 071 " + secret, DateOfBirth: secret, Postcode: secret, Height: secret, Sex: secret,
		AdmissionDate: "10/06/2024", AdmissionReason: "4", AdmissionReasonOther: secret})
	res := mustRead(t, csvOf(Dataset2021, NHSNumber, r), Options{PZCode: "PZ041", AuditYear: 2024})
	if len(res.issues) < 5 {
		t.Fatalf("issues:%s", describeIssues(res.issues))
	}
	for _, is := range res.issues {
		if strings.Contains(is.Message, secret) {
			t.Errorf("message quotes the cell: %s", is.Message)
		}
	}
}
