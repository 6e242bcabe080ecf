//go:build race

package nbns

const raceEnabled = true
