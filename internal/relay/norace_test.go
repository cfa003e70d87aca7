//go:build !race

package relay_test

// raceEnabled widens wall-clock bounds: the race detector slows everything.
const raceEnabled = false
