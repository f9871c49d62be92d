//go:build race

package replication

// raceEnabled is true when the suite was built with -race (see TestMain).
const raceEnabled = true
