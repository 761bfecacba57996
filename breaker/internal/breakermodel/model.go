// Package breakermodel checks a breaker against a plain sequential model of
// its contract. The breaker package runs it on the in-process breaker (in a
// synctest bubble) and breaker/redisstore on the shared one (against a real
// Redis, in real time), so both must make the same transitions, keep the
// same counts and admit the same probes.
package breakermodel

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/async-patterns/async/breaker"
)

// ErrBoom is the error of a failing call.
var ErrBoom = errors.New("boom")

// model is a plain sequential re-statement of the contract, with
// gobreaker's counting: consecutive failures trip, the open state lasts
// exactly timeout, half-open admits n probes and closes after n successes,
// the caller's cancellation is counted only as an exclusion (freeing its
// probe slot), Trip and Reset act at once, and every change of state
// clears the counts.
type model struct {
	threshold, probes int
	timeout           time.Duration

	state       breaker.State
	counts      breaker.Counts
	until       time.Time // open
	transitions []string
}

func (m *model) set(to breaker.State, now time.Time) {
	if m.state != to {
		m.transitions = append(m.transitions, fmt.Sprintf("%v->%v", m.state, to))
	}
	m.state = to
	m.counts = breaker.Counts{}
	if to == breaker.Open {
		m.until = now.Add(m.timeout)
	}
}

func (m *model) refresh(now time.Time) {
	if m.state == breaker.Open && now.After(m.until) {
		m.set(breaker.HalfOpen, now)
	}
}

// call returns the expected error of a call with the given outcome:
// "ok", "fail" or "cancel".
func (m *model) call(outcome string, now time.Time) (retryAfter time.Duration, want error) {
	m.refresh(now)
	c := &m.counts
	switch {
	case m.state == breaker.Open:
		d := m.until.Sub(now)
		return d.Truncate(time.Millisecond) + time.Millisecond, breaker.ErrOpen
	case m.state == breaker.HalfOpen && int(c.Requests-c.TotalExclusions) >= m.probes:
		return 0, breaker.ErrTooManyRequests
	}
	c.Requests++
	switch outcome {
	case "ok":
		c.TotalSuccesses++
		c.ConsecutiveSuccesses++
		c.ConsecutiveFailures = 0
		if m.state == breaker.HalfOpen && int(c.ConsecutiveSuccesses) >= m.probes {
			m.set(breaker.Closed, now)
		}
		return 0, nil
	case "fail":
		c.TotalFailures++
		c.ConsecutiveFailures++
		c.ConsecutiveSuccesses = 0
		if m.state == breaker.HalfOpen || int(c.ConsecutiveFailures) >= m.threshold {
			m.set(breaker.Open, now)
		}
		return 0, ErrBoom
	default: // cancel
		c.TotalExclusions++
		return 0, context.Canceled
	}
}

// Config says how to build the breaker under test and how time goes.
type Config struct {
	// New returns the breaker under test, configured by opts (and whatever
	// New adds, such as a store). Each Run calls it once.
	New func(opts ...breaker.Option) *breaker.Breaker
	// Sleeps are the waits a sleep op picks from, by its high bits.
	Sleeps []time.Duration
	// Sleep waits d (time.Sleep, in a synctest bubble or not).
	Sleep func(d time.Duration)
	// Timeout is the open timeout.
	Timeout time.Duration
	// ExactRetryAfter: RetryAfter must equal the model's to the nanosecond
	// (one clock); otherwise it must be in (0, Timeout+1ms].
	ExactRetryAfter bool
}

// Run plays ops against the model and the breaker, and fails t at the
// first difference in an error, a RetryAfter, the state, the counts or the
// transitions the hook saw. An op is a call that succeeds, fails or is
// cancelled by its caller (op%6 = 0, 1, 2), a sleep (3, picking from
// c.Sleeps by op/6), Trip (4) or Reset (5).
func Run(t *testing.T, c Config, ops []byte) {
	t.Helper()
	m := &model{threshold: 3, probes: 2, timeout: c.Timeout}
	var (
		mu  sync.Mutex
		got []string
	)
	b := c.New(breaker.WithConsecutiveFailures(m.threshold), breaker.WithHalfOpenRequests(m.probes),
		breaker.WithOpenTimeout(m.timeout), breaker.WithOnStateChange(func(_ string, from, to breaker.State) {
			mu.Lock()
			got = append(got, fmt.Sprintf("%v->%v", from, to))
			mu.Unlock()
		}))
	for i, op := range ops {
		now := time.Now()
		switch op % 6 {
		case 0, 1, 2:
			outcome := [...]string{"ok", "fail", "cancel"}[op%6]
			retryAfter, want := m.call(outcome, now)
			ctx, cancel := context.WithCancel(t.Context())
			err := b.Do(ctx, func(ctx context.Context) error {
				switch outcome {
				case "fail":
					return ErrBoom
				case "cancel":
					cancel()
					return ctx.Err()
				}
				return nil
			})
			cancel()
			if !errors.Is(err, want) && !(want == nil && err == nil) {
				t.Fatalf("op %d (%s): Do() = %v; want %v", i, outcome, err, want)
			}
			var re *breaker.RejectedError
			if errors.As(err, &re) {
				if c.ExactRetryAfter && re.RetryAfter() != retryAfter {
					t.Fatalf("op %d: RetryAfter() = %v; want %v", i, re.RetryAfter(), retryAfter)
				}
				if !c.ExactRetryAfter && re.State == breaker.Open && (re.RetryAfter() <= 0 || re.RetryAfter() > c.Timeout+time.Millisecond) {
					t.Fatalf("op %d: RetryAfter() = %v; want in (0, %v]", i, re.RetryAfter(), c.Timeout+time.Millisecond)
				}
			}
		case 3:
			c.Sleep(c.Sleeps[int(op/6)%len(c.Sleeps)])
		case 4:
			m.refresh(now)
			m.set(breaker.Open, now)
			b.Trip()
		case 5:
			m.refresh(now)
			m.set(breaker.Closed, now)
			b.Reset()
		}
		m.refresh(time.Now())
		if s := b.State(); s != m.state {
			t.Fatalf("after op %d: State() = %v; want %v", i, s, m.state)
		}
		if n := b.Counts(); n != m.counts {
			t.Fatalf("after op %d: Counts() = %+v; want %+v", i, n, m.counts)
		}
		mu.Lock()
		saw := fmt.Sprint(got)
		mu.Unlock()
		if saw != fmt.Sprint(m.transitions) {
			t.Fatalf("after op %d: hook saw %v; want %v", i, saw, m.transitions)
		}
	}
}

// The ops of a sequence, as Run decodes them.
const (
	OK     byte = 0 // a call that succeeds
	Fail   byte = 1 // a call that fails
	Cancel byte = 2 // a call its caller cancels
	Trip   byte = 4
	Reset  byte = 5
)

// Sleep is the op that sleeps Config.Sleeps[i].
func Sleep(i int) byte { return byte(6*i + 3) }

// Seeds are op sequences worth running on every breaker: trips, probes,
// cancelled probes, Trip and Reset in each state. Sleep(4) is the open
// timeout to the nanosecond (still open) for the in-process breaker and
// no wait for the shared one; Sleep(5) is past the open timeout for both.
var Seeds = [][]byte{
	{Fail, Fail, Fail, OK, Sleep(5), OK, OK, OK},
	{Fail, Fail, Fail, Sleep(5), Cancel, OK, Fail, Sleep(5), OK, OK, OK},
	{Trip, Sleep(4), Sleep(1), Cancel, Cancel, OK, Fail, Reset, Fail, Fail, Fail, Fail},
	{Fail, Fail, Trip, Sleep(3), Sleep(4), OK, Trip, OK, Sleep(3), Sleep(3), Sleep(2), OK, OK, Reset},
	{Fail, Fail, Fail, Sleep(4), Sleep(1), Fail, Sleep(5), OK, Cancel, OK, Cancel, OK, OK},
	{Fail, Fail, Fail, Sleep(5), OK, Trip, Sleep(5), Cancel, Cancel, OK, Fail, Sleep(5), Reset, OK, Fail, OK},
	{Trip, Sleep(5), Sleep(5), OK, OK, Sleep(5), Fail, Fail, Reset, Fail, Fail, Cancel, Fail},
}
