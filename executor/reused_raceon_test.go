//go:build race

package executor_test

// raceOn reports whether the race detector is on: allocation counts differ under it.
const raceOn = true
