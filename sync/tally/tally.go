// Package tally counts what a sync of datasets did, dataset by dataset: the numbers
// its job record keeps, the line it ends with and the error it exits with.
package tally

import (
	"fmt"
	"sort"
	"strings"
)

// Failure is a dataset that could not be synced, and why.
type Failure struct {
	Key string
	Err error
}

// Tally is what a run did.
type Tally struct {
	Created, Updated, Unchanged, Skipped, Failed int
	Failures                                     []Failure
	// Of names what is synced, for the error: "NHS DD datasets", "RCPCH lists".
	Of string
}

// Counts returns the numbers by name, for the job record.
func (t *Tally) Counts() map[string]int {
	return map[string]int{"created": t.Created, "updated": t.Updated, "unchanged": t.Unchanged, "skipped": t.Skipped, "failed": t.Failed}
}

// Err summarises the failures, or is nil when there were none.
func (t *Tally) Err() error {
	if t.Failed == 0 {
		return nil
	}
	keys := make([]string, len(t.Failures))
	for i, f := range t.Failures {
		keys[i] = f.Key
	}
	sort.Strings(keys)
	if len(keys) > 10 {
		keys = append(keys[:10], fmt.Sprintf("and %d more (see the lines above)", len(keys)-10))
	}
	return fmt.Errorf("%d of the %s failed to sync: %s", t.Failed, t.Of, strings.Join(keys, ", "))
}

// Summary is the one-line account printed at the end of a run.
func (t *Tally) Summary() string {
	return fmt.Sprintf("%d created, %d updated, %d unchanged, %d skipped, %d failed", t.Created, t.Updated, t.Unchanged, t.Skipped, t.Failed)
}
