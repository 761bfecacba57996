package redislimit_test

import (
	"context"
	"errors"
	"log/slog"
	"sync"
	"testing"
	"time"

	"github.com/async-patterns/async/internal/observetest"
	"github.com/async-patterns/async/limit"
	"github.com/async-patterns/async/limit/redislimit"
	"github.com/async-patterns/async/observe"
)

// object returns the registry's live object of kind and name.
func object(kind, name string) (observe.Object, bool) {
	for o := range observe.Objects() {
		if o.Kind == kind && o.Name == name {
			return o, true
		}
	}
	return observe.Object{}, false
}

// waitEvents polls rec until it holds n events of kinds, failing after a
// generous bound.
func waitEvents(t *testing.T, rec *observetest.Recorder, n int, poke func(), kinds ...observe.Kind) []observe.Event {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		if es := rec.Events(kinds...); len(es) >= n {
			return es
		}
		if time.Now().After(deadline) {
			t.Fatalf("after 10s: events %q; want %d of %v", observetest.Briefs(rec.Events()), n, kinds)
		}
		poke()
		time.Sleep(time.Millisecond)
	}
}

func TestObserveRejections(t *testing.T) {
	// A refusal of Wait or Acquire is a LimitRejected event to the
	// limiter's observer, naming it and its registry entry, with the
	// RetryAfter as Wait; each limiter is listed in the registry with its
	// limit, the permits it holds and "shared", until Close.
	s := startRedis(t)
	ctx := context.Background()
	rec := &observetest.Recorder{}
	r := newRate(t, s, "obs-rate", 1, 1, redislimit.WithMaxWait(0), redislimit.WithObserver(rec))
	sem := newSemaphore(t, s, "obs-sem", 1, redislimit.WithMaxWait(0), redislimit.WithObserver(rec))

	p, err := r.Acquire(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if err := r.Wait(ctx); !errors.Is(err, limit.ErrRejected) {
		t.Fatalf("second Wait = %v; want a rejection (the next token is a second away)", err)
	}
	sp, err := sem.Acquire(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := sem.Acquire(ctx); !errors.Is(err, limit.ErrRejected) {
		t.Fatalf("second Acquire = %v; want a rejection (the one permit is held)", err)
	}

	ro, ok := object("redislimit.rate", "obs-rate")
	if !ok || ro.Gauges != (observe.Gauges{Limit: 1, Running: 1, State: "shared"}) {
		t.Errorf("rate in the registry: %+v (listed %v); want limit 1, 1 running, shared", ro, ok)
	}
	so, ok := object("redislimit.semaphore", "obs-sem")
	if !ok || so.Gauges != (observe.Gauges{Limit: 1, Running: 1, State: "shared"}) {
		t.Errorf("semaphore in the registry: %+v (listed %v); want limit 1, 1 running, shared", so, ok)
	}

	es := rec.Events()
	if len(es) != 2 {
		t.Fatalf("events %q; want two rejections", observetest.Briefs(es))
	}
	for i, want := range []struct {
		name string
		obj  observe.ID
	}{{"obs-rate", ro.ID}, {"obs-sem", so.ID}} {
		e := es[i]
		if e.Kind != observe.LimitRejected || e.Outcome != observe.Rejected || e.Source != "redislimit" ||
			e.Name != want.name || e.Object != want.obj || e.Wait <= 0 || !errors.Is(e.Err, limit.ErrRejected) {
			t.Errorf("event %d = %s (object %d, wait %v); want a redislimit rejection of %s (object %d) with its RetryAfter",
				i, observetest.Brief(e), e.Object, e.Wait, want.name, want.obj)
		}
	}

	r.Release(p, limit.Success)
	sem.Release(sp, limit.Success)
	r.Close()
	sem.Close()
	if _, ok := object("redislimit.rate", "obs-rate"); ok {
		t.Error("rate still in the registry after Close")
	}
	if _, ok := object("redislimit.semaphore", "obs-sem"); ok {
		t.Error("semaphore still in the registry after Close")
	}
}

func TestObserveOutage(t *testing.T) {
	// Redis killed and started again, twice: each outage is one
	// LimitSharedDown (with the failure) and then one LimitSharedUp, in
	// that order, to the observer, and the registry shows the limiter on
	// its local share in between.
	s := startRedis(t)
	ctx := context.Background()
	rec := &observetest.Recorder{}
	r := newRate(t, s, "obs-outage", 1e6, 1000, redislimit.WithObserver(rec), redislimit.WithTimeout(50*time.Millisecond))
	call := func() {
		if err := r.Wait(ctx); err != nil {
			t.Fatalf("Wait() = %v; want nil whatever Redis does", err)
		}
	}
	kinds := []observe.Kind{observe.LimitSharedDown, observe.LimitSharedUp}
	for i := range 2 {
		call()
		s.stop()
		waitEvents(t, rec, 2*i+1, call, kinds...)
		if o, _ := object("redislimit.rate", "obs-outage"); o.Gauges.State != "local" {
			t.Errorf("outage %d: registry state %q; want local", i, o.Gauges.State)
		}
		s.start()
		waitEvents(t, rec, 2*i+2, call, kinds...)
		if o, _ := object("redislimit.rate", "obs-outage"); o.Gauges.State != "shared" {
			t.Errorf("outage %d: registry state %q after the re-join; want shared", i, o.Gauges.State)
		}
	}
	o, _ := object("redislimit.rate", "obs-outage")
	es := rec.Events(kinds...)
	if len(es) != 4 {
		t.Fatalf("events %q; want down, up, down, up", observetest.Briefs(es))
	}
	for i, e := range es {
		want := kinds[i%2]
		if e.Kind != want || e.Source != "redislimit" || e.Name != "obs-outage" || e.Object != o.ID ||
			(want == observe.LimitSharedDown) != (e.Err != nil && e.Outcome == observe.Failed) {
			t.Errorf("event %d = %s (object %d); want %v of obs-outage (object %d), with the failure when down",
				i, observetest.Brief(e), e.Object, want, o.ID)
		}
	}
}

func TestObserveOutageFallback(t *testing.T) {
	// With no observer and no WithLogger, the outage is not silent: its
	// down and up go to log/slog's default logger (observe.Fallback), in
	// that order.
	if observe.Default() != nil {
		t.Skip("a default observer is set")
	}
	s := startRedis(t)
	rec := newRecorder()
	old := slog.Default()
	slog.SetDefault(rec.logger())
	t.Cleanup(func() { slog.SetDefault(old) })
	r := newRate(t, s, "obs-fallback", 1e6, 1000, redislimit.WithTimeout(50*time.Millisecond))
	call := func() {
		if err := r.Wait(context.Background()); err != nil {
			t.Fatalf("Wait() = %v; want nil whatever Redis does", err)
		}
	}
	call()
	s.stop()
	for r.Shared() {
		call()
	}
	if m := waitMsg(t, rec, "down"); !isDown(m) {
		t.Fatalf("first line %q; want the down line", m)
	}
	s.start()
	for !r.Shared() {
		call()
		time.Sleep(time.Millisecond)
	}
	if m := waitMsg(t, rec, "up"); !isUp(m) {
		t.Fatalf("second line %q; want the up line", m)
	}
	if got := rec.all(); len(got) != 2 {
		t.Errorf("logged %q; want one down and one up", got)
	}
}

func TestObserveLocalRejections(t *testing.T) {
	// On the local share, a refusal is counted and reported as the
	// limiter's own, as on the shared limit: a Rate's (whose local Wait
	// went uncounted and unreported before) and a Semaphore's.
	s := startRedis(t)
	ctx := context.Background()
	rec := &observetest.Recorder{}
	r := newRate(t, s, "obs-local-rate", 1, 1, redislimit.WithMaxWait(0), redislimit.WithObserver(rec), redislimit.WithTimeout(50*time.Millisecond))
	sem := newSemaphore(t, s, "obs-local-sem", 1, redislimit.WithMaxWait(0), redislimit.WithObserver(rec), redislimit.WithTimeout(50*time.Millisecond))
	s.stop()
	r.Allow(ctx) // fails on Redis: the Rate is on its local share
	if _, err := sem.Acquire(ctx); err != nil {
		t.Fatal(err) // on the local share too, holding its one permit
	}
	if r.Shared() || sem.Shared() {
		t.Fatal("still on the shared limit with Redis stopped")
	}
	rec.Reset()
	r.Wait(ctx) // may take the local token, or be refused if Allow took it
	if err := r.Wait(ctx); !errors.Is(err, limit.ErrRejected) {
		t.Fatalf("Wait on an empty local share = %v; want a rejection", err)
	}
	if _, err := sem.Acquire(ctx); !errors.Is(err, limit.ErrRejected) {
		t.Fatalf("Acquire on a full local share = %v; want a rejection", err)
	}
	rs := r.Stats().Rejected
	ss := sem.Stats().Rejected
	var rateEvents, semEvents uint64
	for _, e := range rec.Events(observe.LimitRejected) {
		if e.Source != "redislimit" {
			continue
		}
		switch e.Name {
		case "obs-local-rate":
			rateEvents++
		case "obs-local-sem":
			semEvents++
		}
	}
	if rs < 1 || rateEvents != rs {
		t.Errorf("Rate: %d rejections counted, %d reported; want at least 1, all reported", rs, rateEvents)
	}
	if ss != 1 || semEvents != 1 {
		t.Errorf("Semaphore: %d rejections counted, %d reported; want 1 and 1", ss, semEvents)
	}
}

// counter is an observer counting the LimitRejected events it gets, by
// source.
type counter struct {
	mu       sync.Mutex
	rejected map[string]int
}

func (c *counter) Observe(_ context.Context, e observe.Event) {
	if e.Kind != observe.LimitRejected {
		return
	}
	c.mu.Lock()
	if c.rejected == nil {
		c.rejected = map[string]int{}
	}
	c.rejected[e.Source+" "+e.Name]++
	c.mu.Unlock()
}

func (c *counter) count(key string) int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.rejected[key]
}

func (c *counter) total() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	n := 0
	for _, v := range c.rejected {
		n += v
	}
	return n
}

func TestLocalRejectionsReportedOnce(t *testing.T) {
	// With the process's observer set (and none of the limiter's own),
	// each refusal on the local share is one LimitRejected event from
	// redislimit: the local limit.Rate or limit.Bulkhead it decides with
	// reports nothing of its own and is not a live object of its own.
	c := &counter{}
	observe.SetDefault(c)
	t.Cleanup(func() { observe.SetDefault(observe.Discard) })
	s := startRedis(t)
	ctx := context.Background()
	r := newRate(t, s, "once-rate", 1, 1, redislimit.WithMaxWait(0), redislimit.WithTimeout(50*time.Millisecond))
	sem := newSemaphore(t, s, "once-sem", 1, redislimit.WithMaxWait(0), redislimit.WithTimeout(50*time.Millisecond))
	s.stop()
	r.Allow(ctx) // fails on Redis: the Rate is on its local share
	if _, err := sem.Acquire(ctx); err != nil {
		t.Fatal(err) // on the local share too, holding its one permit
	}
	if r.Shared() || sem.Shared() {
		t.Fatal("still on the shared limit with Redis stopped")
	}
	const n = 5
	refused := 0
	for range n + 1 { // the first may take the local token if Allow did not
		if err := r.Wait(ctx); errors.Is(err, limit.ErrRejected) {
			refused++
		}
	}
	for range n {
		if _, err := sem.Acquire(ctx); !errors.Is(err, limit.ErrRejected) {
			t.Fatalf("Acquire on a full local share = %v; want a rejection", err)
		}
	}
	if refused < n {
		t.Fatalf("Rate: %d of %d Waits refused on its local share (1 token a second); want at least %d", refused, n+1, n)
	}
	if got := c.count("redislimit once-rate"); got != refused {
		t.Errorf("Rate: %d refusals, %d LimitRejected events from redislimit; want one each", refused, got)
	}
	if got := c.count("redislimit once-sem"); got != n {
		t.Errorf("Semaphore: %d refusals, %d LimitRejected events from redislimit; want one each", n, got)
	}
	if got := c.total(); got != refused+n {
		t.Errorf("%d LimitRejected events in all (rate %d from limit, semaphore %d from limit); want %d, each refusal once",
			got, c.count("limit once-rate"), c.count("limit once-sem"), refused+n)
	}
	for o := range observe.Objects() {
		if (o.Kind == "limit.rate" || o.Kind == "limit.bulkhead") && (o.Name == "once-rate" || o.Name == "once-sem") {
			t.Errorf("registry lists %s %q: the local share is part of its redislimit limiter, not an object of its own", o.Kind, o.Name)
		}
	}
}
