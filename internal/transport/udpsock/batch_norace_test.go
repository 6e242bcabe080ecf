//go:build !race

package udpsock

// raceEnabled: allocation counts are asserted only without the race
// detector, whose instrumentation allocates.
const raceEnabled = false
