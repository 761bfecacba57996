// Package observetest holds what the tests of several packages share to
// check the events they report: a recording observer.
package observetest

import (
	"context"
	"fmt"
	"strings"
	"sync"

	"github.com/async-patterns/async/observe"
)

// Recorder is an observe.Observer that keeps every event it is given.
type Recorder struct {
	mu     sync.Mutex
	events []observe.Event
}

// Observe records e.
func (r *Recorder) Observe(_ context.Context, e observe.Event) {
	r.mu.Lock()
	r.events = append(r.events, e)
	r.mu.Unlock()
}

// Events returns the events recorded so far, in order, keeping only those
// of the given kinds (all of them when none is given).
func (r *Recorder) Events(kinds ...observe.Kind) []observe.Event {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []observe.Event
	for _, e := range r.events {
		if len(kinds) == 0 || contains(kinds, e.Kind) {
			out = append(out, e)
		}
	}
	return out
}

// Reset forgets the events recorded so far.
func (r *Recorder) Reset() {
	r.mu.Lock()
	r.events = nil
	r.mu.Unlock()
}

func contains(ks []observe.Kind, k observe.Kind) bool {
	for _, x := range ks {
		if x == k {
			return true
		}
	}
	return false
}

// Brief describes e in one line by its kind, outcome and the fields that
// are set, leaving out what varies from run to run (Time, Duration, Object,
// and errors, of which only the first line is kept): what tests compare.
func Brief(e observe.Event) string {
	var b strings.Builder
	b.WriteString(e.Kind.String())
	add := func(k, v string) {
		if v != "" {
			fmt.Fprintf(&b, " %s=%s", k, v)
		}
	}
	add("outcome", e.Outcome.String())
	add("source", e.Source)
	add("name", e.Name)
	add("task", e.Task)
	if e.Attempt != 0 {
		add("attempt", fmt.Sprint(e.Attempt))
	}
	if e.Wait != 0 {
		add("wait", e.Wait.String())
	}
	add("from", e.From)
	add("to", e.To)
	if e.Depth != 0 {
		add("depth", fmt.Sprint(e.Depth))
	}
	add("method", e.Method)
	add("host", e.Host)
	if e.Status != 0 {
		add("status", fmt.Sprint(e.Status))
	}
	if e.Err != nil {
		msg, _, _ := strings.Cut(e.Err.Error(), "\n")
		add("err", fmt.Sprintf("%q", msg))
	}
	return b.String()
}

// Briefs is Brief of each event.
func Briefs(es []observe.Event) []string {
	out := make([]string, len(es))
	for i, e := range es {
		out[i] = Brief(e)
	}
	return out
}
