package main

import (
	"os"
	"runtime/debug"
)

// serverGCPercent is the garbage collector's target while serving: the heap may grow to
// three times the live data before a collection, instead of Go's default of twice.
// Long lists allocate many short-lived objects per request (gqlgen's field contexts and
// marshallers); at the default the collector took about a fifth of the CPU of the
// 339-site nested list. The live heap of the server is small (tens of MB), so the cost
// is a little memory. docs/performance.md has the measurement.
const serverGCPercent = 200

// tuneGC sets serverGCPercent unless the operator chose a value with GOGC, and returns
// a function that puts the previous target back.
func tuneGC() (restore func()) {
	if os.Getenv("GOGC") != "" {
		return func() {}
	}
	prev := debug.SetGCPercent(serverGCPercent)
	return func() { debug.SetGCPercent(prev) }
}
