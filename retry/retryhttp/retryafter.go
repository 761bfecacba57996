package retryhttp

import (
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/async-patterns/async/retry"
)

// HintError is the last attempt's error when a wait hint ended the retries:
// a Retry-After header, or a breaker rejection's RetryAfter, asked for a
// wait longer than [WithMaxRetryAfter] allows, or one that would end past
// the request ctx's deadline. It wraps the attempt's error (a
// [*StatusError] for a response, or the breaker's rejection), so errors.Is
// and errors.As see through it.
//
// A caller finds it with errors.As: in RoundTrip's error when no response
// came back (a breaker's rejection), or in [StopOf] of the response
// returned.
type HintError struct {
	Wait time.Duration // the wait the hint asked for; an out-of-range Retry-After reads as the largest Duration
	// Limit is what Wait exceeded: the Transport's WithMaxRetryAfter, or,
	// when PastDeadline, the time that was left before the ctx's deadline.
	Limit        time.Duration
	PastDeadline bool  // the wait would have ended past the request ctx's deadline
	Err          error // the attempt's error, which carries the hint
}

// Error says which limit the wait passed, then the attempt's error.
func (e *HintError) Error() string {
	if e.PastDeadline {
		return fmt.Sprintf("retryhttp: the wait asked for (%v) would pass the request's deadline (%v left): %v", e.Wait, e.Limit, e.Err)
	}
	return fmt.Sprintf("retryhttp: the wait asked for (%v) is longer than WithMaxRetryAfter (%v): %v", e.Wait, e.Limit, e.Err)
}

// Unwrap returns the attempt's error.
func (e *HintError) Unwrap() error { return e.Err }

// limitHint returns err as retry.Do should see it, given the wait hint it
// may carry. A hint longer than the Transport allows ends the retries at
// once: err becomes a Permanent *HintError. A hint that would end past the
// request ctx's deadline ends them too, but that is retry.Do's decision
// (it compares the wait, at least the hint, with the deadline, later and so
// with less time left): err is only wrapped in a *HintError that says why,
// and the call's *retry.Error still matches retry.ErrExhausted.
func (c *call) limitHint(err error) error {
	var h interface{ RetryAfter() time.Duration }
	if !errors.As(err, &h) {
		return err
	}
	wait := h.RetryAfter()
	if wait > c.t.maxRetryAfter {
		return retry.Permanent(&HintError{Wait: wait, Limit: c.t.maxRetryAfter, Err: err})
	}
	if dl, ok := c.ctx.Deadline(); ok {
		if left := time.Until(dl); wait >= left {
			return &HintError{Wait: wait, Limit: left, PastDeadline: true, Err: err}
		}
	}
	return err
}

// maxWait is the largest Duration, about 292 years: the wait of a
// Retry-After too large to represent.
const maxWait = time.Duration(1<<63 - 1)

// parseRetryAfter reads a Retry-After header: a number of seconds, or an
// HTTP-date, as a wait from now (0 for a date in the past). A number of
// seconds too large for a Duration, however many digits it has, is the
// largest Duration, not garbage: the server asked for a very long wait.
func parseRetryAfter(v string, now time.Time) (time.Duration, bool) {
	v = strings.TrimSpace(v)
	if v == "" {
		return 0, false
	}
	secs, err := strconv.ParseUint(v, 10, 63)
	if err == nil {
		if secs > uint64(maxWait/time.Second) {
			return maxWait, true
		}
		return time.Duration(secs) * time.Second, true
	}
	if errors.Is(err, strconv.ErrRange) { // all digits, more than 63 bits
		return maxWait, true
	}
	if t, err := http.ParseTime(v); err == nil {
		return max(t.Sub(now), 0), true
	}
	return 0, false
}
