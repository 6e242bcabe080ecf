//go:build !race

package nbns

// raceEnabled: allocation counts are asserted only without the race
// detector, whose instrumentation allocates.
const raceEnabled = false
