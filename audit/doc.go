// Package audit holds the rules of the National Paediatric Diabetes Audit (NPDA) as
// plain Go, with no database and no network: audit periods and their quarters, the 2021
// and 2026 CSV datasets, the reading of a unit's CSV upload (encodings, headings, the
// whole-file rejections), the validation of every cell, the merging of a patient's rows
// and the checks that need an outside service (postcodes, GP practices, deprivation,
// growth centiles), which sit behind interfaces and are recorded as "not checked" when
// no service is configured.
//
// Every rule is written down, with its error message, in docs/submissions.md.
package audit
