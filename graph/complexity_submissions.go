package graph

import (
	"caregraph/graph/generated"
	"caregraph/graph/model"

	"github.com/99designs/gqlgen/graphql"
)

// Costs of the audit fields: lists without `first` cost their children times a generous
// guess at their length.
const (
	submissionsGuess = 20  // submissions of a unit
	visitsGuess      = 12  // visits of a patient
	patientErrors    = 5   // errors on a patient's rows
	costUpload       = 500 // reading, checking and storing a file
)

// submissionsComplexity sets the costs of the fields of submissions.graphqls.
func submissionsComplexity(c *generated.ComplexityRoot) {
	c.Query.Submissions = func(child int, _ string, _ *int) int { return 1 + child*submissionsGuess }
	c.Query.Patients = func(child int, _ string, _ int, _ *model.PatientFilter, first *int, _ *string) int {
		return pageCost(child, first)
	}
	c.PaediatricDiabetesUnit.Submissions = func(child int, _ *int) int { return 1 + child*submissionsGuess }
	c.PaediatricDiabetesUnit.Patients = func(child int, _ int, _ *model.PatientFilter, first *int, _ *string) int {
		return pageCost(child, first)
	}
	c.Submission.Patients = func(child int, _ *model.PatientFilter, first *int, _ *string) int { return pageCost(child, first) }
	c.Submission.Errors = func(child int, _ *int, _, _ *string, first *int, _ *string) int { return pageCost(child, first) }
	c.Patient.Visits = func(child int) int { return 1 + child*visitsGuess }
	c.Patient.Errors = func(child int) int { return 1 + child*patientErrors }
	// A visit's cells are already in memory with the visit: they cost their child once.
	c.Visit.Cells = func(child int) int { return 1 + child }
	c.Mutation.SubmitAuditCSV = func(child int, _ string, _ int, _ graphql.Upload) int { return costUpload + child }
}
