package kpi

// Definitions lists every KPI in the order results are reported: "1" … "31", "32.1",
// "32.2", "32.3", "33" … "49". Evaluate returns one Result per entry, in this order.
//
// How each Kind's Results add up over the patients of a place and period (every patient
// of the population gets one Result per KPI; Ineligible results are counted as
// ineligible and otherwise ignored):
//
//   - Proportion: eligible = number of Passed + Failed; passed = number of Passed;
//     failed = number of Failed; percentage = passed / eligible.
//   - Count (KPIs 1–12): the figure is the number of Passed. For KPI 1 every counted
//     patient is Passed and nobody is Failed (eligible = passed). For KPIs 2–12 the
//     eligible set is KPI 1's set: Passed = in the KPI's subset, Failed = in KPI 1's set
//     but not in the subset, so eligible = KPI 1's count and passed / eligible is the
//     share of the population.
//   - Mean (KPI 44): over the Passed results (which always have HasValue), the mean of
//     Value. Failed = eligible (KPI 1) but no HbA1c to contribute. eligible, passed and
//     failed are counted as for a Proportion.
//   - Median (KPI 45): over the Passed results, the median of Value (an even count's
//     median is the mean of the middle two). Counts as for Mean.
//   - Sum (KPIs 46, 47): the figure is the sum of Value over eligible results (admissions);
//     passed = number of Passed (patients with at least one admission), failed = eligible
//     patients with none (Value 0, HasValue true).
//   - Ratio (KPI 32.1): the figure is sum(Value) / sum(Denominator) over eligible
//     results (health checks given over health checks expected); eligible/passed/failed
//     are counted as for a Proportion, Passed meaning all expected checks were given.
var Definitions = []Definition{
	{"1", "Total number of eligible patients", Count},
	{"2", "Number of new diagnoses within the audit period", Count},
	{"3", "Number of eligible patients with Type 1 diabetes", Count},
	{"4", "Number of patients aged 12+ with Type 1 diabetes", Count},
	{"5", "Number of patients with Type 1 diabetes with a complete year of care", Count},
	{"6", "Number of patients with Type 1 diabetes aged 12+ with a complete year of care", Count},
	{"7", "Number of patients with Type 1 diabetes diagnosed within the audit period", Count},
	{"8", "Number of patients who died within the audit period", Count},
	{"9", "Number of patients who transitioned or left the service within the audit period", Count},
	{"10", "Number of patients with coeliac disease", Count},
	{"11", "Number of patients with thyroid disease", Count},
	{"12", "Number of patients using (or trained to use) blood ketone testing equipment", Count},
	{"13", "One to three injections a day", Proportion},
	{"14", "Four or more injections a day", Proportion},
	{"15", "Insulin pump (including as part of a hybrid closed loop)", Proportion},
	{"16", "One to three injections a day plus other blood glucose lowering medication", Proportion},
	{"17", "Four or more injections a day plus other blood glucose lowering medication", Proportion},
	{"18", "Insulin pump plus other blood glucose lowering medication", Proportion},
	{"19", "Dietary management alone", Proportion},
	{"20", "Dietary management plus other blood glucose lowering medication", Proportion},
	{"21", "Flash glucose monitor", Proportion},
	{"22", "Real-time continuous glucose monitor with alarms", Proportion},
	{"23", "Type 1 diabetes with a real-time continuous glucose monitor with alarms", Proportion},
	{"24", "Hybrid closed loop system", Proportion},
	{"25", "HbA1c", Proportion},
	{"26", "BMI", Proportion},
	{"27", "Thyroid screen", Proportion},
	{"28", "Blood pressure", Proportion},
	{"29", "Urinary albumin", Proportion},
	{"30", "Retinal screening", Proportion},
	{"31", "Foot examination", Proportion},
	{"32.1", "Health check completion rate", Ratio},
	{"32.2", "All three health checks (under 12 years)", Proportion},
	{"32.3", "All six health checks (12 years and over)", Proportion},
	{"33", "HbA1c four or more times", Proportion},
	{"34", "Psychological assessment", Proportion},
	{"35", "Smoking status screened", Proportion},
	{"36", "Referral to smoking cessation service", Proportion},
	{"37", "Additional dietetic appointment offered", Proportion},
	{"38", "Attended additional dietetic appointment", Proportion},
	{"39", "Influenza immunisation recommended", Proportion},
	{"40", "Sick day rules advice", Proportion},
	{"41", "Coeliac disease screening at diagnosis", Proportion},
	{"42", "Thyroid disease screening at diagnosis", Proportion},
	{"43", "Carbohydrate counting education at diagnosis", Proportion},
	{"44", "Mean HbA1c", Mean},
	{"45", "Median HbA1c", Median},
	{"46", "Number of admissions", Sum},
	{"47", "Number of DKA admissions", Sum},
	{"48", "Required additional psychological support", Proportion},
	{"49", "Albuminuria present", Proportion},
}

// index maps a KPI's ID to its position in Definitions.
var index = func() map[string]int {
	m := make(map[string]int, len(Definitions))
	for i, d := range Definitions {
		m[d.ID] = i
	}
	return m
}()

// Index returns the position of the KPI with the given ID in Definitions (and in the
// slice Evaluate returns), and false for an unknown ID.
func Index(id string) (int, bool) {
	i, ok := index[id]
	return i, ok
}

// Positions of the KPIs in Definitions, for the rules.
const (
	k1 = iota
	k2
	k3
	k4
	k5
	k6
	k7
	k8
	k9
	k10
	k11
	k12
	k13
	k14
	k15
	k16
	k17
	k18
	k19
	k20
	k21
	k22
	k23
	k24
	k25
	k26
	k27
	k28
	k29
	k30
	k31
	k32_1
	k32_2
	k32_3
	k33
	k34
	k35
	k36
	k37
	k38
	k39
	k40
	k41
	k42
	k43
	k44
	k45
	k46
	k47
	k48
	k49
	numKPIs
)
