// Package docs compiles the documentation files that the program itself reads into the
// binary, so that the file an operator edits and the list the sync uses are one file.
package docs

import _ "embed"

// NHSDDDatasets is docs/nhs-data-dictionary-datasets.md: the table of NHS Data
// Dictionary data elements offered as datasets (parsed by sync/nhsdd).
//
//go:embed nhs-data-dictionary-datasets.md
var NHSDDDatasets string
