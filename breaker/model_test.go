package breaker

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"testing/synctest"
	"time"
)

// model is a plain sequential re-statement of the contract: consecutive
// failures trip, the open state lasts exactly timeout, half-open admits n
// probes and closes after n successes, the caller's cancellation is not
// counted, Trip and Reset act at once.
type model struct {
	threshold, probes int
	timeout           time.Duration

	state       State
	failures    int       // consecutive, in the closed state
	admitted    int       // probes let through (minus excluded ones), half-open
	successes   int       // half-open
	until       time.Time // open
	transitions []string
}

func (m *model) set(to State, now time.Time) {
	if m.state != to {
		m.transitions = append(m.transitions, fmt.Sprintf("%v->%v", m.state, to))
	}
	m.state = to
	m.failures, m.admitted, m.successes = 0, 0, 0
	if to == Open {
		m.until = now.Add(m.timeout)
	}
}

func (m *model) refresh(now time.Time) {
	if m.state == Open && now.After(m.until) {
		m.set(HalfOpen, now)
	}
}

// call returns the expected error of a call with the given outcome:
// "ok", "fail" or "cancel".
func (m *model) call(outcome string, now time.Time) (retryAfter time.Duration, want error) {
	m.refresh(now)
	switch {
	case m.state == Open:
		d := m.until.Sub(now)
		return d.Truncate(time.Millisecond) + time.Millisecond, ErrOpen
	case m.state == HalfOpen && m.admitted >= m.probes:
		return 0, ErrTooManyRequests
	}
	if m.state == HalfOpen {
		m.admitted++
	}
	switch outcome {
	case "ok":
		m.failures = 0
		if m.state == HalfOpen {
			m.successes++
			if m.successes >= m.probes {
				m.set(Closed, now)
			}
		}
		return 0, nil
	case "fail":
		if m.state == HalfOpen {
			m.set(Open, now)
		} else if m.failures++; m.failures >= m.threshold {
			m.set(Open, now)
		}
		return 0, errBoom
	default: // cancel: not counted, frees the probe slot
		if m.state == HalfOpen {
			m.admitted--
		}
		return 0, context.Canceled
	}
}

var sleeps = []time.Duration{0, time.Nanosecond, 100 * time.Millisecond, 500 * time.Millisecond, time.Second, time.Second + time.Nanosecond}

func FuzzModel(f *testing.F) {
	f.Add([]byte{1, 1, 1, 0, 4<<3 | 3, 0, 0})
	f.Add([]byte{1, 1, 1, 5<<3 | 3, 2, 0, 1, 5<<3 | 3, 0, 0, 0})
	f.Add([]byte{4, 4<<3 | 3, 1<<3 | 3, 2, 2, 0, 1, 5, 1, 1, 1, 1})
	f.Add([]byte{1, 1, 4, 3, 4<<3 | 3, 0, 4, 0, 3<<3 | 3, 3<<3 | 3, 2<<3 | 3, 0, 0, 5})
	f.Add([]byte{1, 1, 1, 4<<3 | 3, 1<<3 | 3, 1, 5<<3 | 3, 0, 2, 0, 2, 0, 0})
	f.Fuzz(func(t *testing.T, ops []byte) {
		synctest.Test(t, func(t *testing.T) {
			m := &model{threshold: 3, probes: 2, timeout: time.Second}
			var got []string
			b := New(WithConsecutiveFailures(m.threshold), WithHalfOpenRequests(m.probes),
				WithOpenTimeout(m.timeout), WithOnStateChange(func(_ string, from, to State) {
					got = append(got, fmt.Sprintf("%v->%v", from, to))
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
							return errBoom
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
					var re *RejectedError
					if errors.As(err, &re) && re.RetryAfter() != retryAfter {
						t.Fatalf("op %d: RetryAfter() = %v; want %v", i, re.RetryAfter(), retryAfter)
					}
				case 3:
					time.Sleep(sleeps[int(op>>3)%len(sleeps)])
				case 4:
					m.refresh(now)
					m.set(Open, now)
					b.Trip()
				case 5:
					m.refresh(now)
					m.set(Closed, now)
					b.Reset()
				}
				m.refresh(time.Now())
				if s := b.State(); s != m.state {
					t.Fatalf("after op %d: State() = %v; want %v", i, s, m.state)
				}
				if fmt.Sprint(got) != fmt.Sprint(m.transitions) {
					t.Fatalf("after op %d: hook saw %v; want %v", i, got, m.transitions)
				}
			}
		})
	})
}
