package model

import (
	"strconv"

	"caregraph/graph/scalar"
)

// Submission is a unit's upload; its relations resolve through loaders.
type Submission struct {
	DBID           int64
	UnitID         int64
	AuditYear      int
	DatasetVersion int
	State          SubmissionState
	UploadedByID   *int64
	UploadedVia    string
	UploadedAt     string
	ProcessedAt    *string
	ActivatedAt    *string
	SupersededAt   *string
	SupersededByID *int64
	Failure        *string
	FileName       string
	FileSize       int
	FileSha256     string
	Encoding       string
	Counts         *SubmissionCounts
	// Columns are the dataset fields of the visits' cells, in order.
	Columns []string
}

// IsNode marks Submission as a Node.
func (Submission) IsNode() {}

// GetID returns the global ID.
func (s Submission) GetID() string { return EncodeID("Submission", strconv.FormatInt(s.DBID, 10)) }

// ID returns the global ID.
func (s Submission) ID() string { return s.GetID() }

// Patient is a patient of a submission.
type Patient struct {
	DBID                  int64
	SubmissionID          int64
	UnitID                int64
	AuditYear             int
	Identifier            string
	NhsNumber             *string
	UniqueReferenceNumber *string
	DateOfBirth           *scalar.Date
	Sex                   *int
	Ethnicity             *string
	DiabetesType          *int
	DiagnosisDate         *scalar.Date
	DeathDate             *scalar.Date
	Postcode              *string
	GpPracticeCode        *string
	ImdQuintile           *int
	PostcodeCheck         CheckStatus
	GpPracticeCheck       CheckStatus
	DeprivationCheck      CheckStatus
	FirstRow              int
	VisitCount            int
	ErrorCount            int
	// Values are the patient-level typed columns by field key.
	Values map[string]any
}

// IsNode marks Patient as a Node.
func (Patient) IsNode() {}

// GetID returns the global ID.
func (p Patient) GetID() string { return EncodeID("Patient", strconv.FormatInt(p.DBID, 10)) }

// ID returns the global ID.
func (p Patient) ID() string { return p.GetID() }

// Visit is one row of a submission.
type Visit struct {
	DBID             int64
	SubmissionID     int64
	PatientID        int64
	UnitID           int64
	Row              int
	VisitDate        *scalar.Date
	HeightCm         *float64
	WeightKg         *float64
	Bmi              *float64
	HeightWeightDate *scalar.Date
	Hba1c            *float64
	Hba1cFormat      *int
	Hba1cDate        *scalar.Date
	SystolicBp       *int
	DiastolicBp      *int
	AdmissionDate    *scalar.Date
	DischargeDate    *scalar.Date
	AdmissionReason  *int
	CentileCheck     *CheckStatus
	ErrorCount       int
	// RawCells are the row's cells as the file had them; Values the typed columns.
	RawCells []string
	Values   map[string]any
}

// Transfer is a patient's leaving of a unit and the unit they came from.
type Transfer struct {
	UnitID             int64
	PreviousUnitID     *int64
	DateLeftService    *scalar.Date
	ReasonLeftService  *int
	ReasonLabel        *string
	PreviousUnitLeftOn *scalar.Date
}
