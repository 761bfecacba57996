package main

import (
	"net/http"
	"strconv"
	"sync"
	"time"
)

// dependency is the service every job calls: a local HTTP server that
// fails (503) for failFor from its first call, then recovers, except that
// it answers 429 with "Retry-After: 1" to one call in throttleEvery, and
// refuses poison jobs (422) for good. It answers each call after latency.
//
// It also keeps the books the final accounting is checked against: which
// jobs it answered 200, and how many calls reached it while it was down.
type dependency struct {
	failFor       time.Duration
	latency       time.Duration
	throttleEvery int

	mu        sync.Mutex  // protects the fields below
	start     time.Time   // the first call; the outage runs from here
	calls     int         // every call that reached it
	whileDown int         // calls answered 503 during the outage
	throttled int         // calls answered 429
	refused   int         // calls answered 422 (poison jobs)
	answered  int         // calls after the outage, for the 429 rhythm
	ok        map[int]int // job -> how many times it was answered 200
}

func newDependency(failFor, latency time.Duration, throttleEvery int) *dependency {
	return &dependency{
		failFor:       failFor,
		latency:       latency,
		throttleEvery: throttleEvery,
		ok:            make(map[int]int),
	}
}

// poison reports whether a job is one the dependency always refuses: one in
// a hundred, at fixed numbers, so that every run dead-letters the same jobs.
func poison(job int) bool { return job%100 == 42 }

func (d *dependency) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	job, err := strconv.Atoi(r.URL.Query().Get("job"))
	if err != nil {
		http.Error(w, "want ?job=<number>", http.StatusBadRequest)
		return
	}
	// The work takes latency, and stops if the caller hangs up.
	t := time.NewTimer(d.latency)
	select {
	case <-t.C:
	case <-r.Context().Done():
		t.Stop()
		return
	}

	d.mu.Lock()
	now := time.Now()
	if d.start.IsZero() {
		d.start = now
	}
	d.calls++
	status := http.StatusOK
	switch {
	case now.Sub(d.start) < d.failFor:
		status = http.StatusServiceUnavailable
		d.whileDown++
	case poison(job):
		status = http.StatusUnprocessableEntity
		d.refused++
	default:
		d.answered++
		if d.throttleEvery > 0 && d.answered%d.throttleEvery == 0 {
			status = http.StatusTooManyRequests
			d.throttled++
		} else {
			d.ok[job]++
		}
	}
	d.mu.Unlock()

	if status == http.StatusTooManyRequests {
		w.Header().Set("Retry-After", "1")
	}
	w.WriteHeader(status)
}

// books is a copy of the dependency's counts.
type books struct {
	calls, whileDown, throttled, refused int
	ok                                   map[int]int
}

func (d *dependency) books() books {
	d.mu.Lock()
	defer d.mu.Unlock()
	b := books{calls: d.calls, whileDown: d.whileDown, throttled: d.throttled, refused: d.refused,
		ok: make(map[int]int, len(d.ok))}
	for k, v := range d.ok {
		b.ok[k] = v
	}
	return b
}
