//go:build !race

package graph

// raceSlowdown is 1 outside the race detector (see race_on.go).
const raceSlowdown = 1
