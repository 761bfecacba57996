package redisstore_test

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/async-patterns/async/breaker"
	"github.com/async-patterns/async/breaker/internal/breakermodel"
	"github.com/async-patterns/async/breaker/redisstore"
)

var errBoom = errors.New("boom")

func fail(context.Context) error    { return errBoom }
func succeed(context.Context) error { return nil }

// waitFor receives from ch or fails the test after a generous bound.
func waitFor[T any](t *testing.T, ch <-chan T, what string) T {
	t.Helper()
	select {
	case v := <-ch:
		return v
	case <-time.After(10 * time.Second):
		t.Fatalf("no %s after 10s", what)
		panic("unreachable")
	}
}

func TestReplicas(t *testing.T) {
	const n, m = 4, 8 // replicas x goroutines each
	s := startRedis(t)

	t.Run("every failure of every replica is counted once", func(t *testing.T) {
		const perG = 25
		rs := make([]*replica, n)
		for i := range rs {
			rs[i] = newReplica(t, s, "count", breaker.WithConsecutiveFailures(1<<30))
		}
		var wg sync.WaitGroup
		var calls atomic.Int64
		for _, r := range rs {
			for range m {
				wg.Go(func() {
					for range perG {
						if err := r.b.Do(t.Context(), func(context.Context) error { calls.Add(1); return errBoom }); err != errBoom {
							t.Errorf("Do() = %v; want %v", err, errBoom)
						}
					}
				})
			}
		}
		wg.Wait()
		want := uint32(calls.Load())
		for i, r := range rs {
			c := r.b.Counts()
			if c.TotalFailures != want || c.Requests != want || c.ConsecutiveFailures != want {
				t.Errorf("replica %d: Counts() = %+v; want %d requests, failures, consecutive failures", i, c, want)
			}
		}
	})

	t.Run("the breaker trips within threshold plus calls in flight, then admits exactly K probes cluster-wide", func(t *testing.T) {
		const threshold, probes = 20, 3
		// The open period must outlast the trip phase (every goroutine's
		// call in flight and the State checks) and the lease of the probes
		// must outlast the decision of every goroutine: a second on a loaded
		// machine under -race, where both take tens of milliseconds.
		const timeout = time.Second
		rs := make([]*replica, n)
		for i := range rs {
			rs[i] = newReplica(t, s, "trip", breaker.WithConsecutiveFailures(threshold),
				breaker.WithHalfOpenRequests(probes), breaker.WithOpenTimeout(timeout))
		}
		var wg sync.WaitGroup
		var ran atomic.Int64
		for _, r := range rs {
			for range m {
				wg.Go(func() {
					for {
						err := r.b.Do(t.Context(), func(context.Context) error { ran.Add(1); return errBoom })
						if errors.Is(err, breaker.ErrOpen) {
							return
						}
						if err != errBoom {
							t.Errorf("Do() = %v; want %v or ErrOpen", err, errBoom)
							return
						}
					}
				})
			}
		}
		wg.Wait()
		if got, max := ran.Load(), int64(threshold+n*m-1); got < threshold || got > max {
			t.Fatalf("calls run before the trip = %d; want in [%d, %d]", got, threshold, max)
		}
		for i, r := range rs {
			if got := r.b.State(); got != breaker.Open {
				t.Fatalf("replica %d: State() = %v; want open", i, got)
			}
		}

		// After the open timeout every goroutine of every replica tries
		// once; the probes block until all have decided.
		var admitted, tooMany atomic.Int64
		release := make(chan struct{})
		var decided sync.WaitGroup
		for _, r := range rs {
			for range m {
				decided.Add(1)
				wg.Go(func() {
					once := sync.OnceFunc(decided.Done)
					defer once()
					for {
						err := r.b.Do(t.Context(), func(context.Context) error {
							admitted.Add(1)
							once()
							<-release
							return nil
						})
						var re *breaker.RejectedError
						switch {
						case err == nil:
							return
						case errors.As(err, &re) && re.State == breaker.Open:
							if d := re.RetryAfter(); d <= 0 || d > timeout+time.Millisecond {
								t.Errorf("RetryAfter() = %v; want in (0, %v]", d, timeout+time.Millisecond)
								return
							}
							time.Sleep(re.RetryAfter()) // real Redis clock: see the note at the top
						case errors.Is(err, breaker.ErrTooManyRequests):
							tooMany.Add(1)
							return
						default:
							t.Errorf("Do() = %v; want nil or a rejection", err)
							return
						}
					}
				})
			}
		}
		decided.Wait()
		close(release)
		wg.Wait()
		if got := admitted.Load(); got != probes {
			t.Errorf("probes admitted = %d; want %d", got, probes)
		}
		if got := tooMany.Load(); got != n*m-probes {
			t.Errorf("rejected with ErrTooManyRequests = %d; want %d", got, n*m-probes)
		}
		for i, r := range rs {
			if got := r.b.State(); got != breaker.Closed {
				t.Errorf("replica %d: State() = %v after %d successful probes; want closed", i, got, probes)
			}
		}
	})
}

func TestRoundTrips(t *testing.T) {
	s := startRedis(t)
	r := newReplica(t, s, "trips", breaker.WithConsecutiveFailures(1), breaker.WithOpenTimeout(time.Minute))
	r.b.Do(t.Context(), succeed) // loads the script (EVALSHA, then EVAL once)

	t.Run("a call while the breaker is known closed costs one round trip", func(t *testing.T) {
		before := r.trips.Load()
		if err := r.b.Do(t.Context(), succeed); err != nil {
			t.Fatalf("Do() = %v; want nil", err)
		}
		if got := r.trips.Load() - before; got != 1 {
			t.Errorf("round trips = %d; want 1", got)
		}
	})
	t.Run("a rejection while the open period is known costs none", func(t *testing.T) {
		if err := r.b.Do(t.Context(), fail); err != errBoom {
			t.Fatalf("Do() = %v; want %v", err, errBoom)
		}
		before := r.trips.Load()
		for range 100 {
			if err := r.b.Do(t.Context(), succeed); !errors.Is(err, breaker.ErrOpen) {
				t.Fatalf("Do() = %v; want ErrOpen", err)
			}
		}
		if got := r.trips.Load() - before; got != 0 {
			t.Errorf("round trips for 100 rejections = %d; want 0", got)
		}
	})
	t.Run("a half-open probe costs two round trips", func(t *testing.T) {
		p := newReplica(t, s, "probe", breaker.WithConsecutiveFailures(1), breaker.WithOpenTimeout(20*time.Millisecond))
		p.b.Do(t.Context(), fail)
		err := p.b.Do(t.Context(), succeed)
		var re *breaker.RejectedError
		if !errors.As(err, &re) || re.State != breaker.Open {
			t.Fatalf("Do() = %v; want ErrOpen", err)
		}
		time.Sleep(re.RetryAfter()) // real Redis clock: see the note in server_test.go
		before := p.trips.Load()
		if err := p.b.Do(t.Context(), succeed); err != nil {
			t.Fatalf("probe: Do() = %v; want nil", err)
		}
		if got := p.trips.Load() - before; got != 2 {
			t.Errorf("round trips = %d; want 2 (admit, record)", got)
		}
	})
}

func TestRoundTripsWhileProbing(t *testing.T) {
	s := startRedis(t)
	// The probe's lease (the open timeout) must outlast the calls below on
	// a loaded machine under -race.
	const timeout = 500 * time.Millisecond
	opts := []breaker.Option{breaker.WithConsecutiveFailures(1), breaker.WithOpenTimeout(timeout)}
	p := newReplica(t, s, "busy", opts...)
	q := newReplica(t, s, "busy", opts...)
	q.b.State() // q knows the breaker
	p.b.Do(t.Context(), fail)
	time.Sleep(timeout + 20*time.Millisecond) // real Redis clock: see the note in server_test.go

	started, release := make(chan struct{}), make(chan struct{})
	probeDone := make(chan error)
	go func() {
		probeDone <- p.b.Do(context.Background(), func(context.Context) error {
			close(started)
			<-release
			return nil
		})
	}()
	<-started
	reject := func(t *testing.T, r *replica, n int) int64 {
		t.Helper()
		before := r.trips.Load()
		for range n {
			if err := r.b.Do(t.Context(), succeed); !errors.Is(err, breaker.ErrTooManyRequests) {
				t.Fatalf("while the probe runs: Do() = %v; want ErrTooManyRequests", err)
			}
		}
		return r.trips.Load() - before
	}
	t.Run("on the probe's replica a rejection while it runs costs none", func(t *testing.T) {
		if got := reject(t, p, 100); got != 0 {
			t.Errorf("round trips for 100 rejections = %d; want 0", got)
		}
	})
	t.Run("on another replica only the first rejection costs one", func(t *testing.T) {
		if got := reject(t, q, 100); got != 1 {
			t.Errorf("round trips for 100 rejections = %d; want 1", got)
		}
	})
	close(release)
	if err := <-probeDone; err != nil {
		t.Fatalf("probe: Do() = %v; want nil", err)
	}
	t.Run("the probe's success ends it", func(t *testing.T) {
		if err := p.b.Do(t.Context(), succeed); err != nil {
			t.Errorf("after the probe: Do() = %v; want nil", err)
		}
	})
}

// hookChan returns a hook that sends "from->to" on a channel.
func hookChan() (func(string, breaker.State, breaker.State), chan string) {
	ch := make(chan string, 16)
	return func(_ string, from, to breaker.State) { ch <- fmt.Sprintf("%v->%v", from, to) }, ch
}

func TestTripAndReset(t *testing.T) {
	s := startRedis(t)
	hook, changes := hookChan()
	a := newReplica(t, s, "manual", breaker.WithOpenTimeout(time.Minute))
	b := newReplica(t, s, "manual", breaker.WithOpenTimeout(time.Minute), breaker.WithOnStateChange(hook))
	if err := b.b.Do(t.Context(), succeed); err != nil { // b knows the state: closed
		t.Fatalf("Do() = %v; want nil", err)
	}

	t.Run("Trip on one replica rejects on the others after one pub/sub delivery", func(t *testing.T) {
		a.b.Trip()
		if got := waitFor(t, changes, "state change on the other replica"); got != "closed->open" {
			t.Fatalf("hook saw %s; want closed->open", got)
		}
		before := b.trips.Load()
		err := b.b.Do(t.Context(), succeed)
		var re *breaker.RejectedError
		if !errors.As(err, &re) || re.State != breaker.Open || re.RetryAfter() <= 59*time.Second {
			t.Fatalf("Do() = %v; want ErrOpen with about a minute to wait", err)
		}
		if got := b.trips.Load() - before; got != 0 {
			t.Errorf("round trips for the rejection = %d; want 0", got)
		}
	})
	t.Run("Reset on one replica lets the others call again after one pub/sub delivery", func(t *testing.T) {
		a.b.Reset()
		if got := waitFor(t, changes, "state change on the other replica"); got != "open->closed" {
			t.Fatalf("hook saw %s; want open->closed", got)
		}
		if err := b.b.Do(t.Context(), succeed); err != nil {
			t.Fatalf("Do() = %v; want nil", err)
		}
	})
}

func TestHookCallsBack(t *testing.T) {
	s := startRedis(t)
	done := make(chan string, 4)
	var b *breaker.Breaker
	store := redisstore.New(s.client(t, nil), redisstore.WithTimeout(5*time.Second))
	t.Cleanup(func() { store.Close() })
	b = breaker.New(breaker.WithName("reentrant"), breaker.WithStore(store), breaker.WithConsecutiveFailures(1),
		breaker.WithOnStateChange(func(_ string, from, to breaker.State) {
			// Every method, from the hook, on the caller's goroutine or on
			// the store's.
			c := b.Counts()
			done <- fmt.Sprintf("%v->%v state=%v failures=%d", from, to, b.State(), c.TotalFailures)
		}))
	other := newReplica(t, s, "reentrant")

	t.Run("on the goroutine of the call that tripped it", func(t *testing.T) {
		b.Do(t.Context(), fail)
		if got := waitFor(t, done, "hook"); got != "closed->open state=open failures=0" {
			t.Errorf("hook saw %q; want %q", got, "closed->open state=open failures=0")
		}
	})
	t.Run("on the store's goroutine, for another replica's change", func(t *testing.T) {
		other.b.Reset()
		if got := waitFor(t, done, "hook"); got != "open->closed state=closed failures=0" {
			t.Errorf("hook saw %q; want %q", got, "open->closed state=closed failures=0")
		}
	})
}

func TestModel(t *testing.T) {
	s := startRedis(t)
	// Ops run back to back (Sleep 0) must not reach the end of an open
	// period, where the model's clock and Redis's may disagree by the
	// length of one op: a loaded machine under -race can stall for tens of
	// milliseconds.
	const timeout = 300 * time.Millisecond
	rng := rand.New(rand.NewPCG(1, 2))
	seqs := append([][]byte(nil), breakermodel.Seeds...)
	for range 6 {
		ops := make([]byte, 30)
		for i := range ops {
			ops[i] = byte(rng.IntN(256))
		}
		seqs = append(seqs, ops)
	}
	for i, ops := range seqs {
		t.Run(fmt.Sprintf("sequence %d makes the transitions, counts and admissions of the model", i), func(t *testing.T) {
			breakermodel.Run(t, breakermodel.Config{
				New: func(opts ...breaker.Option) *breaker.Breaker {
					store := redisstore.New(s.client(t, nil), redisstore.WithTimeout(5*time.Second))
					t.Cleanup(func() { store.Close() })
					return breaker.New(append(opts, breaker.WithName(fmt.Sprintf("model-%d", i)), breaker.WithStore(store))...)
				},
				// Real time on the Redis clock: a sleep is 0 or well past the
				// open timeout, never near its boundary.
				Sleeps:  []time.Duration{0, 0, 0, 0, 0, timeout + 50*time.Millisecond},
				Sleep:   time.Sleep,
				Timeout: timeout,
			}, ops)
		})
	}
}

func TestOutage(t *testing.T) {
	s := startRedis(t)
	const timeout = 500 * time.Millisecond
	type status struct {
		replica int
		err     error
	}
	statuses := make(chan status, 64)
	rs := make([]*replica, 2)
	hook1, changes1 := hookChan()
	for i := range rs {
		rs[i] = &replica{}
		rs[i].store = redisstore.New(s.client(t, &rs[i].trips), redisstore.WithTimeout(timeout))
		t.Cleanup(func() { rs[i].store.Close() })
		opts := []breaker.Option{breaker.WithName("outage"), breaker.WithStore(rs[i].store),
			breaker.WithOnStoreStatus(func(_ string, err error) { statuses <- status{i, err} })}
		if i == 1 {
			opts = append(opts, breaker.WithOnStateChange(hook1))
		}
		rs[i].b = breaker.New(opts...)
	}

	stop := make(chan struct{})
	var wg sync.WaitGroup
	stopWorkers := sync.OnceFunc(func() { close(stop); wg.Wait() })
	t.Cleanup(stopWorkers)
	var calls, failed atomic.Int64
	var worst atomic.Int64
	var firstErr atomic.Value
	for _, r := range rs {
		for range 4 {
			wg.Go(func() {
				for {
					select {
					case <-stop:
						return
					default:
					}
					start := time.Now()
					if err := r.b.Do(context.Background(), succeed); err != nil {
						failed.Add(1)
						firstErr.CompareAndSwap(nil, err)
					}
					d := int64(time.Since(start))
					for {
						w := worst.Load()
						if d <= w || worst.CompareAndSwap(w, d) {
							break
						}
					}
					calls.Add(1)
				}
			})
		}
	}
	s.stop()
	down := map[int]bool{}
	for len(down) < len(rs) {
		st := waitFor(t, statuses, "report of the outage")
		if st.err == nil || down[st.replica] {
			t.Fatalf("replica %d reported %v; want one error per replica", st.replica, st.err)
		}
		down[st.replica] = true
	}
	s.start()
	// Each replica re-joins, once: one outage is one "down" and one "up".
	up := map[int]bool{}
	for len(up) < len(rs) {
		st := waitFor(t, statuses, "re-join")
		if st.err != nil || up[st.replica] {
			t.Fatalf("replica %d reported %v after the restart; want one re-join per replica", st.replica, st.err)
		}
		up[st.replica] = true
	}
	stopWorkers()
	select {
	case st := <-statuses:
		t.Fatalf("replica %d reported %v after it re-joined; want one down, one up", st.replica, st.err)
	default:
	}
	if n := failed.Load(); n != 0 {
		t.Errorf("%d of %d calls failed, the first with %v; want none", n, calls.Load(), firstErr.Load())
	}
	// The bound is the contract (two store operations of one timeout each,
	// plus a dial), with room for a loaded machine.
	if w := time.Duration(worst.Load()); w > 2*timeout+time.Second {
		t.Errorf("worst call took %v; want at most %v", w, 2*timeout+time.Second)
	}

	t.Run("the replicas share the state again", func(t *testing.T) {
		hook, changes := hookChan()
		// A new replica learns of replica 0's Trip through the subscription.
		w := newReplica(t, s, "outage", breaker.WithOnStateChange(hook))
		w.b.State()
		rs[0].b.Trip()
		if got := waitFor(t, changes, "state change"); got != "closed->open" {
			t.Fatalf("new replica's hook saw %s; want closed->open", got)
		}
		// Replica 1 has made no call since: only its subscription, set up
		// again after the restart, can tell it. A change published before
		// the subscription is back is missed, by design, so trip again
		// until one arrives.
		deadline := time.After(10 * time.Second)
	wait:
		for {
			select {
			case got := <-changes1:
				if got == "closed->open" {
					break wait
				}
			case <-time.After(100 * time.Millisecond):
				rs[0].b.Reset()
				rs[0].b.Trip()
			case <-deadline:
				t.Fatal("replica 1 heard of no Trip in 10s: its subscription did not come back")
			}
		}
		if got := rs[1].b.State(); got != breaker.Open {
			t.Errorf("other replica: State() = %v; want open", got)
		}
	})
}

func TestRequired(t *testing.T) {
	s := startRedis(t)
	store := redisstore.New(s.client(t, nil), redisstore.WithTimeout(50*time.Millisecond))
	t.Cleanup(func() { store.Close() })
	b := breaker.New(breaker.WithName("required"), breaker.WithStore(store), breaker.WithStoreRequired())
	if err := b.Do(t.Context(), succeed); err != nil {
		t.Fatalf("Do() = %v; want nil", err)
	}
	s.stop()
	// The breaker knew it closed, so this call runs without asking; its
	// report fails, and from then on calls are rejected.
	if err := b.Do(t.Context(), succeed); err != nil {
		t.Fatalf("Do() = %v; want nil", err)
	}
	ran := false
	err := b.Do(t.Context(), func(context.Context) error { ran = true; return nil })
	if !errors.Is(err, breaker.ErrStoreUnavailable) || ran {
		t.Errorf("Do() = %v, ran = %v; want ErrStoreUnavailable and fn not run", err, ran)
	}
}

func TestBadInput(t *testing.T) {
	wantPanic := func(t *testing.T, prefix string, f func()) {
		t.Helper()
		defer func() {
			r := recover()
			if s, ok := r.(string); !ok || !strings.HasPrefix(s, prefix) {
				t.Errorf("panic = %v; want a message starting with %q", r, prefix)
			}
		}()
		f()
	}
	t.Run("a nil client panics", func(t *testing.T) {
		wantPanic(t, "redisstore: ", func() { redisstore.New(nil) })
	})
	t.Run("a prefix with a brace panics", func(t *testing.T) {
		s := startRedis(t)
		c := s.client(t, nil)
		wantPanic(t, "redisstore: WithPrefix", func() { redisstore.New(c, redisstore.WithPrefix("a{b")) })
		wantPanic(t, "redisstore: WithTimeout", func() { redisstore.New(c, redisstore.WithTimeout(0)) })
		store := redisstore.New(c)
		defer store.Close()
		t.Run("an empty name is an error", func(t *testing.T) {
			if _, err := store.Load(t.Context(), "", &breaker.Policy{}); !errors.Is(err, redisstore.ErrEmptyName) {
				t.Errorf("Load() = %v; want ErrEmptyName", err)
			}
		})
		t.Run("a breaker with a store and no name panics", func(t *testing.T) {
			wantPanic(t, "breaker: WithStore", func() { breaker.New(breaker.WithStore(store)) })
		})
	})
}

// TestDocExample runs the package doc's example against a real Redis.
func TestDocExample(t *testing.T) {
	s := startRedis(t)
	addr := s.addr()
	ctx := t.Context()
	var charged int
	charge := func(context.Context) error { charged++; return errBoom }

	client := redis.NewClient(&redis.Options{Addr: addr, ContextTimeoutEnabled: true})
	defer client.Close()
	store := redisstore.New(client)
	defer store.Close()
	b := breaker.New(breaker.WithName("payments"), breaker.WithStore(store),
		breaker.WithConsecutiveFailures(5), breaker.WithOpenTimeout(30*time.Second))
	var err error
	for range 6 {
		err = b.Do(ctx, func(ctx context.Context) error {
			return charge(ctx)
		})
	}
	if !errors.Is(err, breaker.ErrOpen) || charged != 5 {
		t.Fatalf("after 6 calls: Do() = %v, charged %d times; want ErrOpen after 5", err, charged)
	}
	var re *breaker.RejectedError
	if errors.As(err, &re); re.RetryAfter() <= 29*time.Second {
		t.Errorf("RetryAfter() = %v; want about 30s", re.RetryAfter())
	}
}

func TestPanicAndGoexit(t *testing.T) {
	s := startRedis(t)
	r := newReplica(t, s, "panics", breaker.WithConsecutiveFailures(1<<20))
	t.Run("a panic is a counted failure returned as a PanicError", func(t *testing.T) {
		err := r.b.Do(t.Context(), func(context.Context) error { panic("kaboom") })
		var pe *breaker.PanicError
		if !errors.As(err, &pe) || pe.Value != "kaboom" {
			t.Fatalf("Do() = %v; want a *PanicError with kaboom", err)
		}
		if c := r.b.Counts(); c.TotalFailures != 1 {
			t.Errorf("Counts().TotalFailures = %d; want 1", c.TotalFailures)
		}
	})
	t.Run("a Goexit is a counted failure", func(t *testing.T) {
		done := make(chan struct{})
		go func() {
			defer close(done)
			r.b.Do(context.Background(), func(context.Context) error { runtime.Goexit(); return nil })
		}()
		<-done
		if c := r.b.Counts(); c.TotalFailures != 2 || c.Requests != 2 {
			t.Errorf("Counts() = %+v; want 2 requests, 2 failures", c)
		}
	})
	t.Run("the caller's cancellation is not counted", func(t *testing.T) {
		ctx, cancel := context.WithCancel(t.Context())
		err := r.b.Do(ctx, func(ctx context.Context) error { cancel(); return ctx.Err() })
		if !errors.Is(err, context.Canceled) {
			t.Fatalf("Do() = %v; want context.Canceled", err)
		}
		if c := r.b.Counts(); c.TotalFailures != 2 || c.TotalExclusions != 1 {
			t.Errorf("Counts() = %+v; want 2 failures, 1 exclusion", c)
		}
	})
}

func TestWindow(t *testing.T) {
	s := startRedis(t)
	// The four calls of the second subtest must fall within one window
	// (at least two buckets of it, whatever the phase) on a loaded machine.
	const bucket = 200 * time.Millisecond
	r := newReplica(t, s, "window", breaker.WithFailureRatio(0.5, 4), breaker.WithWindow(3*bucket, bucket))
	t.Run("failures older than the window are forgotten", func(t *testing.T) {
		for range 3 {
			r.b.Do(t.Context(), fail)
		}
		if c := r.b.Counts(); c.TotalFailures != 3 || c.Requests != 3 {
			t.Fatalf("Counts() = %+v; want 3 requests, 3 failures", c)
		}
		time.Sleep(4 * bucket) // real Redis clock: see the note in server_test.go
		if c := r.b.Counts(); c != (breaker.Counts{}) {
			t.Fatalf("Counts() = %+v after the window passed; want zero", c)
		}
	})
	t.Run("the ratio trips once min requests are in the window", func(t *testing.T) {
		r.b.Do(t.Context(), succeed)
		r.b.Do(t.Context(), fail)
		r.b.Do(t.Context(), succeed)
		if got := r.b.State(); got != breaker.Closed {
			t.Fatalf("State() = %v after 3 calls; want closed", got)
		}
		r.b.Do(t.Context(), fail)
		if got := r.b.State(); got != breaker.Open {
			t.Fatalf("State() = %v at 2 of 4 failed; want open", got)
		}
	})
}

func TestProbeLease(t *testing.T) {
	s := startRedis(t)
	// The lease (the open timeout) must outlast the one call made while the
	// probe runs, on a loaded machine under -race.
	const timeout = 500 * time.Millisecond
	r := newReplica(t, s, "lease", breaker.WithConsecutiveFailures(1), breaker.WithOpenTimeout(timeout))
	r.b.Do(t.Context(), fail)
	time.Sleep(timeout + 20*time.Millisecond) // real Redis clock: see the note in server_test.go

	started, release := make(chan struct{}), make(chan struct{})
	probeDone := make(chan error)
	go func() {
		probeDone <- r.b.Do(context.Background(), func(context.Context) error {
			close(started)
			<-release
			return nil
		})
	}()
	<-started
	if err := r.b.Do(t.Context(), succeed); !errors.Is(err, breaker.ErrTooManyRequests) {
		t.Fatalf("while the probe runs: Do() = %v; want ErrTooManyRequests", err)
	}
	t.Run("a probe that has not reported after the open timeout gives its permit back", func(t *testing.T) {
		time.Sleep(timeout + 20*time.Millisecond)
		if err := r.b.Do(t.Context(), succeed); err != nil {
			t.Fatalf("after the lease: Do() = %v; want nil (a new probe)", err)
		}
		if got := r.b.State(); got != breaker.Closed {
			t.Errorf("State() = %v after the new probe succeeded; want closed", got)
		}
	})
	close(release)
	if err := <-probeDone; err != nil {
		t.Errorf("old probe: Do() = %v; want nil", err)
	}
	if c := r.b.Counts(); c.TotalSuccesses != 0 {
		t.Errorf("Counts() = %+v; want the old probe's outcome, from an older generation, dropped", c)
	}
}

func TestInFlightAcrossReset(t *testing.T) {
	s := startRedis(t)
	a := newReplica(t, s, "inflight")
	b := newReplica(t, s, "inflight")
	a.b.Do(t.Context(), succeed) // a knows the breaker closed
	started, release := make(chan struct{}), make(chan struct{})
	done := make(chan error)
	go func() {
		done <- a.b.Do(context.Background(), func(context.Context) error {
			close(started)
			<-release
			return errBoom
		})
	}()
	<-started
	b.b.Reset() // another replica starts a new generation
	close(release)
	if err := <-done; err != errBoom {
		t.Fatalf("Do() = %v; want %v", err, errBoom)
	}
	t.Run("a call running across a Reset on another replica is not counted", func(t *testing.T) {
		if c := b.b.Counts(); c != (breaker.Counts{}) {
			t.Errorf("Counts() = %+v; want zero", c)
		}
	})
}
