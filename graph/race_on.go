//go:build race

package graph

// raceSlowdown stretches batching windows under the race detector, which slows every
// goroutine several times over: a loader's wait must still outlast the queueing of a
// list's keys, or its batch splits and the statement count depends on timing.
const raceSlowdown = 10
