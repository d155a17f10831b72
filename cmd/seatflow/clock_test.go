package main

import (
	"sync/atomic"
	"time"
)

// testClock is the clock a test that moves time gives its App: the wall
// clock shifted so that it read at when last set, moving on from there.
type testClock struct{ offset atomic.Int64 }

// newTestClock returns a clock that reads at now.
func newTestClock(at time.Time) *testClock {
	c := &testClock{}
	c.Set(at)
	return c
}

// Now reads the clock.
func (c *testClock) Now() time.Time { return time.Now().Add(time.Duration(c.offset.Load())) }

// Set moves the clock so that it reads at now.
func (c *testClock) Set(at time.Time) { c.offset.Store(int64(time.Until(at))) }

// tune runs an App on the clock, its granter looking for a new UTC day
// every 20ms so that a move across midnight serves the daily caps' queues
// at once.
func (c *testClock) tune(cfg *Config) {
	cfg.Clock = c.Now
	cfg.AutoClaim.RolloverEvery = 20 * time.Millisecond
}
