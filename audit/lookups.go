package audit

import (
	"context"
	"time"
)

// CheckStatus is the outcome of a check made with an outside service.
type CheckStatus string

// The outcomes. NotChecked means no service was configured or it did not answer; the
// upload goes on without the check.
const (
	CheckValid      CheckStatus = "valid"
	CheckInvalid    CheckStatus = "invalid"
	CheckNotChecked CheckStatus = "not_checked"
)

// Check is the outcome of a lookup, with what the service said when it found
// something wrong.
type Check struct {
	Status CheckStatus
	Detail string
}

// NotChecked is the check recorded when no service is consulted.
var NotChecked = Check{Status: CheckNotChecked}

// PostcodeChecker says whether a postcode exists (the old platform asked the
// postcodes.io service).
type PostcodeChecker interface {
	CheckPostcode(ctx context.Context, postcode string) (Check, error)
}

// GPPracticeChecker says whether an ODS code is a GP practice (the old platform asked
// the NHS ODS API).
type GPPracticeChecker interface {
	CheckGPPractice(ctx context.Context, odsCode string) (Check, error)
}

// DeprivationLookup gives the index of multiple deprivation quintile (1 most deprived
// to 5 least) of a postcode (the old platform asked the RCPCH Census Platform).
type DeprivationLookup interface {
	DeprivationQuintile(ctx context.Context, postcode string) (int, error)
}

// CentileRequest is a measurement to place on the UK-WHO growth references.
type CentileRequest struct {
	Sex         string // the sex code of the dataset
	DateOfBirth time.Time
	Observed    time.Time
	HeightCm    *float64
	WeightKg    *float64
	BMI         *float64
}

// Centiles are a measurement's centiles (0–100), nil where not computed.
type Centiles struct {
	Check  Check
	Height *float64
	Weight *float64
	BMI    *float64
}

// CentileCalculator computes growth centiles (the old platform asked the RCPCH Digital
// Growth Charts API).
type CentileCalculator interface {
	Centiles(ctx context.Context, req CentileRequest) (Centiles, error)
}

// Lookups are the outside services an upload may consult. A nil field, or a service
// that fails, records the check as not checked and never fails the upload: caregraph
// ships with none configured, so uploads work without a network.
type Lookups struct {
	Postcodes   PostcodeChecker
	GPPractices GPPracticeChecker
	Deprivation DeprivationLookup
	Centiles    CentileCalculator
}

func (l Lookups) postcode(ctx context.Context, pc string) Check {
	if l.Postcodes == nil {
		return NotChecked
	}
	c, err := l.Postcodes.CheckPostcode(ctx, pc)
	if err != nil || c.Status == "" {
		return NotChecked
	}
	return c
}

func (l Lookups) gpPractice(ctx context.Context, code string) Check {
	if l.GPPractices == nil {
		return NotChecked
	}
	c, err := l.GPPractices.CheckGPPractice(ctx, code)
	if err != nil || c.Status == "" {
		return NotChecked
	}
	return c
}

func (l Lookups) deprivation(ctx context.Context, pc string) (int, Check) {
	if l.Deprivation == nil {
		return 0, NotChecked
	}
	q, err := l.Deprivation.DeprivationQuintile(ctx, pc)
	if err != nil || q < 1 || q > 5 {
		return 0, NotChecked
	}
	return q, Check{Status: CheckValid}
}

func (l Lookups) centiles(ctx context.Context, req CentileRequest) Centiles {
	if l.Centiles == nil {
		return Centiles{Check: NotChecked}
	}
	c, err := l.Centiles.Centiles(ctx, req)
	if err != nil || c.Check.Status == "" {
		return Centiles{Check: NotChecked}
	}
	return c
}
