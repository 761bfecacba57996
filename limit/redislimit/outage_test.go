package redislimit_test

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/async-patterns/async/limit"
	"github.com/async-patterns/async/limit/redislimit"
)

// waitMsg returns the next message logged, failing after a generous bound.
func waitMsg(t *testing.T, rec *recorder, what string) string {
	t.Helper()
	select {
	case m := <-rec.ch:
		return m
	case <-time.After(10 * time.Second):
		t.Fatalf("no %s logged after 10s (logged: %q)", what, rec.all())
		panic("unreachable")
	}
}

func TestRestart(t *testing.T) {
	// A replica keeps deciding while redis-server is killed and started
	// again, three times: no call fails, each outage logs one "down" and
	// one "up", the re-join comes within 250ms of Redis answering, and the
	// decisions after it are EVALSHA alone, never the EVAL of a NOSCRIPT
	// fallback (the new connections loaded the script, which the restart
	// forgot).
	s := startRedis(t)
	rec := newRecorder()
	// The user's client has no ContextTimeoutEnabled and long timeouts:
	// the limiter bounds its commands itself. Its bound is 1s, not the
	// default 50ms: a killed Redis refuses at once, so the bound decides
	// nothing here, and on a busy machine (CI under -race) a command that
	// merely took 50ms would count as an outage of its own (an extra down
	// and up, or no shared limit before the kill).
	c := redis.NewClient(&redis.Options{Addr: s.addr(), ReadTimeout: 10 * time.Second, DialTimeout: 10 * time.Second})
	t.Cleanup(func() { c.Close() })
	r := redislimit.NewRate(c, "restart", 1e6, 1000, redislimit.WithLogger(rec.logger()), redislimit.WithTimeout(time.Second))
	t.Cleanup(func() { r.Close() })
	info := s.client(t)
	call := func() {
		if err := r.Wait(context.Background()); err != nil {
			t.Fatalf("Wait() = %v; want nil whatever Redis does", err)
		}
	}
	// Other callers decide all along, so that several commands fail (and
	// the probe succeeds) while others are under way: still one down and
	// one up per outage.
	stop := make(chan struct{})
	var wg sync.WaitGroup
	for range 4 {
		wg.Go(func() {
			for {
				select {
				case <-stop:
					return
				default:
				}
				if err := r.Wait(context.Background()); err != nil {
					t.Errorf("Wait() = %v; want nil whatever Redis does", err)
					return
				}
				time.Sleep(100 * time.Microsecond)
			}
		})
	}
	defer wg.Wait()
	defer close(stop)
	for i := range 3 {
		call()
		if !r.Shared() {
			t.Fatalf("restart %d: not on the shared limit before the outage", i)
		}
		s.stop()
		for r.Shared() {
			call()
		}
		if m := waitMsg(t, rec, "down"); !isDown(m) {
			t.Fatalf("restart %d: logged %q; want the down report first", i, m)
		}
		for end := time.Now().Add(300 * time.Millisecond); time.Now().Before(end); {
			call()
			time.Sleep(time.Millisecond)
		}
		s.start()
		ready := time.Now()
		_, evalReady := scriptCalls(t, info)
		for !r.Shared() {
			call()
			time.Sleep(time.Millisecond)
			if time.Since(ready) > 10*time.Second {
				t.Fatalf("restart %d: no re-join 10s after Redis came back", i)
			}
		}
		rejoin := time.Since(ready)
		if m := waitMsg(t, rec, "up"); !isUp(m) {
			t.Fatalf("restart %d: logged %q; want the up report", i, m)
		}
		sha0, eval0 := scriptCalls(t, info)
		for range 10 {
			call()
		}
		sha1, eval1 := scriptCalls(t, info)
		t.Logf("restart %d: re-joined %v after Redis was ready; the next 10 decisions (and the other callers'): %d EVALSHA, %d EVAL", i, rejoin.Round(time.Millisecond), sha1-sha0, eval1-eval0)
		if rejoin > 250*time.Millisecond {
			t.Errorf("restart %d: re-joined %v after Redis was ready; want within 250ms", i, rejoin)
		}
		if sha1-sha0 < 10 || eval1-evalReady != 0 {
			t.Errorf("restart %d: decisions after the re-join cost %d EVALSHA and %d EVAL; want EVALSHA only (the new connections loaded the script), and no EVAL since Redis was ready (the probe's included: %d)", i, sha1-sha0, eval1-eval0, eval1-evalReady)
		}
	}
	if got := rec.all(); len(got) != 6 {
		t.Errorf("logged %d messages %q; want one down and one up per restart", len(got), got)
	}
}

func TestClientPause(t *testing.T) {
	// CLIENT PAUSE makes Redis accept commands and not answer them: each
	// decision is bounded by the timeout, the limiter falls back, and it
	// re-joins within 250ms of the pause's end.
	s := startRedis(t)
	rec := newRecorder()
	c := redis.NewClient(&redis.Options{Addr: s.addr(), ReadTimeout: 10 * time.Second})
	t.Cleanup(func() { c.Close() })
	const timeout = 50 * time.Millisecond
	r := redislimit.NewRate(c, "pause", 1e6, 1000, redislimit.WithLogger(rec.logger()), redislimit.WithTimeout(timeout))
	t.Cleanup(func() { r.Close() })
	admin := s.client(t)
	if !r.Allow(t.Context()) {
		t.Fatal("Allow() = false on a new limit")
	}
	// On a busy machine (CI under -race) that first decision (a dial, the
	// script's load, EVALSHA) can take over the 50ms bound: an outage of
	// its own, not this test's. Wait for its re-join and its up report,
	// and forget them, so that the pause starts on the shared limit.
	for warm := time.Now(); !r.Shared() || len(rec.all())%2 == 1; {
		r.Allow(t.Context())
		time.Sleep(time.Millisecond)
		if time.Since(warm) > 10*time.Second {
			t.Fatalf("not on the shared limit 10s after the first decision (logged: %q)", rec.all())
		}
	}
	for range len(rec.all()) {
		<-rec.ch
	}
	const pause = 700 * time.Millisecond
	sent := time.Now() // the pause ends after sent+pause, before end
	if err := admin.Do(t.Context(), "CLIENT", "PAUSE", pause.Milliseconds(), "ALL").Err(); err != nil {
		t.Fatal(err)
	}
	end := time.Now().Add(pause)
	start := time.Now()
	if !r.Allow(t.Context()) {
		t.Error("Allow() = false while Redis is paused; want the local share's answer (true)")
	}
	if el := time.Since(start); el > 10*timeout {
		t.Errorf("a decision while Redis was paused took %v; want about the timeout, %v", el, timeout)
	}
	if m := waitMsg(t, rec, "down"); !isDown(m) {
		t.Fatalf("logged %q; want the down report", m)
	}
	for !r.Shared() {
		if !r.Allow(t.Context()) {
			t.Fatal("Allow() = false during the pause")
		}
		time.Sleep(time.Millisecond)
		if time.Since(end) > 10*time.Second {
			t.Fatal("no re-join 10s after the pause")
		}
	}
	// late is measured from the latest the pause can have ended (the
	// reply to CLIENT PAUSE, however late it was read, plus the pause);
	// early from the soonest (when it was sent).
	late, early := time.Since(end), time.Since(sent.Add(pause))
	t.Logf("re-joined %v after the pause ended", late.Round(time.Millisecond))
	if late > 250*time.Millisecond {
		t.Errorf("re-joined %v after the pause ended; want within 250ms", late)
	}
	if early < -timeout {
		t.Errorf("re-joined %v before the pause ended", -early)
	}
	if m := waitMsg(t, rec, "up"); !isUp(m) {
		t.Fatalf("logged %q; want the up report", m)
	}
}

func TestScriptFlush(t *testing.T) {
	// After SCRIPT FLUSH the first decision costs EVALSHA and EVAL (which
	// caches the script again), every later one a single EVALSHA.
	s := startRedis(t)
	r := newRate(t, s, "flush", 1e6, 1000)
	info := s.client(t)
	r.Allow(t.Context())
	if err := info.ScriptFlush(t.Context()).Err(); err != nil {
		t.Fatal(err)
	}
	for i, want := range [][2]int64{{1, 1}, {1, 0}, {1, 0}} {
		sha0, eval0 := scriptCalls(t, info)
		if !r.Allow(t.Context()) {
			t.Fatal("Allow() = false")
		}
		sha1, eval1 := scriptCalls(t, info)
		if got := [2]int64{sha1 - sha0, eval1 - eval0}; got != want {
			t.Errorf("decision %d after SCRIPT FLUSH: %d EVALSHA, %d EVAL; want %d, %d", i, got[0], got[1], want[0], want[1])
		}
	}
	if !r.Shared() {
		t.Error("Shared() = false after SCRIPT FLUSH; a NOSCRIPT reply is not an outage")
	}
}

func TestLocalShare(t *testing.T) {
	// While Redis is down each replica limits with the limit divided by
	// the replicas last seen. The limiters keep newRate's 1s bound: with a
	// 50ms one, a decision before the outage that was merely slow (a busy
	// machine) went local and left its replica uncounted.
	s := startRedis(t)
	const replicas = 4
	rates := make([]*redislimit.Rate, replicas)
	sems := make([]*redislimit.Semaphore, replicas)
	for i := range replicas {
		rates[i] = newRate(t, s, "share", 1, 8, redislimit.WithLogger(newRecorder().logger()))
		sems[i] = newSemaphore(t, s, "share", 8, redislimit.WithMaxWait(0), redislimit.WithLogger(newRecorder().logger()))
	}
	for i := range replicas { // each reports itself with its first decision
		rates[i].Allow(t.Context())
		p, err := sems[i].Acquire(t.Context())
		if err != nil {
			t.Fatal(err)
		}
		sems[i].Release(p, limit.Success)
	}
	r, sem := newRate(t, s, "share", 1, 8, redislimit.WithLogger(newRecorder().logger())),
		newSemaphore(t, s, "share", 8, redislimit.WithMaxWait(0), redislimit.WithLogger(newRecorder().logger()))
	r.Allow(t.Context()) // sees 5 replicas
	p, err := sem.Acquire(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	sem.Release(p, limit.Success)
	s.stop()
	admitted := 0
	for range 10 {
		if r.Allow(t.Context()) {
			admitted++
		}
	}
	if r.Shared() {
		t.Fatal("Shared() = true with Redis down")
	}
	// burst 8 over 5 replicas: 1 at once (the rate, 0.2/s, adds none in the test).
	if admitted < 1 || admitted > 2 {
		t.Errorf("admitted %d of 10 with Redis down; want the share of a burst of 8 over 5 replicas, 1 (2 if the outage's first call was decided before it was seen)", admitted)
	}
	held := 0
	for range 4 {
		if _, err := sem.Acquire(t.Context()); err == nil {
			held++
		}
	}
	if held != 8/5 {
		t.Errorf("held %d permits with Redis down; want the share of 8 over 5 replicas, %d", held, 8/5)
	}
}

func TestBoundOnAClientThatIgnoresDeadlines(t *testing.T) {
	// A client that is not a *redis.Client is used as given; this Ring does
	// not enforce context deadlines on its connections (no
	// ContextTimeoutEnabled) and would wait its ReadTimeout of 2s on a
	// paused Redis. The decision returns at the limiter's timeout all the
	// same, the limiter re-joins after the pause, and Close waits for the
	// command left running (goleak checks that nothing outlives it).
	s := startRedis(t)
	rec := newRecorder()
	ring := redis.NewRing(&redis.RingOptions{Addrs: map[string]string{"a": s.addr()}, ReadTimeout: 2 * time.Second})
	t.Cleanup(func() { ring.Close() })
	const timeout = 50 * time.Millisecond
	r := redislimit.NewRate(ring, "ring", 1e6, 1000, redislimit.WithLogger(rec.logger()), redislimit.WithTimeout(timeout))
	defer r.Close()
	if !r.Allow(t.Context()) || !r.Shared() {
		t.Fatal("Allow() = false or not shared on a new limit")
	}
	admin := s.client(t)
	const pause = 400 * time.Millisecond
	if err := admin.Do(t.Context(), "CLIENT", "PAUSE", pause.Milliseconds(), "ALL").Err(); err != nil {
		t.Fatal(err)
	}
	end := time.Now().Add(pause)
	start := time.Now()
	if !r.Allow(t.Context()) {
		t.Error("Allow() = false while Redis is paused; want the local share's answer")
	}
	if el := time.Since(start); el > pause/2 {
		t.Errorf("a decision on a paused Redis took %v; want about the timeout, %v", el, timeout)
	}
	for !r.Shared() {
		r.Allow(t.Context())
		time.Sleep(time.Millisecond)
		if time.Since(end) > 10*time.Second {
			t.Fatal("no re-join 10s after the pause")
		}
	}
	t.Logf("re-joined %v after the pause ended", time.Since(end).Round(time.Millisecond))
	if got := rec.all(); len(got) != 2 || !isDown(got[0]) || !isUp(got[1]) {
		t.Errorf("logged %q; want one down, then one up", got)
	}
}

func TestSemaphoreRestart(t *testing.T) {
	// A Semaphore goes on granting permits (its local share) while Redis
	// is down, with no error, and is back on the shared permits within
	// 250ms of Redis answering; a permit granted locally is released
	// locally after the re-join. The bound is newSemaphore's 1s (a killed
	// Redis refuses at once): with 50ms, a slow command on a busy machine
	// was an outage of its own, logged as an extra down and up.
	s := startRedis(t)
	rec := newRecorder()
	sem := newSemaphore(t, s, "restart", 4, redislimit.WithLogger(rec.logger()))
	run := func(ctx context.Context) error { return nil }
	if err := sem.Do(t.Context(), run); err != nil || !sem.Shared() {
		t.Fatalf("Do() = %v, Shared() = %v; want nil, true", err, sem.Shared())
	}
	held, err := sem.Acquire(t.Context()) // a shared permit, released during the outage
	if err != nil {
		t.Fatal(err)
	}
	s.stop()
	for sem.Shared() {
		if err := sem.Do(t.Context(), run); err != nil {
			t.Fatalf("Do() = %v with Redis down; want nil", err)
		}
	}
	local, err := sem.Acquire(t.Context())
	if err != nil {
		t.Fatalf("Acquire() with Redis down = %v; want a permit of the local share", err)
	}
	sem.Release(held, limit.Success) // not sent: its lease ends on its own
	s.start()
	ready := time.Now()
	for !sem.Shared() {
		if err := sem.Do(t.Context(), run); err != nil {
			t.Fatalf("Do() = %v while Redis comes back; want nil", err)
		}
		time.Sleep(time.Millisecond)
		if time.Since(ready) > 10*time.Second {
			t.Fatal("no re-join 10s after Redis came back")
		}
	}
	rejoin := time.Since(ready)
	t.Logf("re-joined %v after Redis was ready", rejoin.Round(time.Millisecond))
	if rejoin > 250*time.Millisecond {
		t.Errorf("re-joined %v after Redis was ready; want within 250ms", rejoin)
	}
	sem.Release(local, limit.Success)
	if st := sem.Stats(); st.InFlight != 0 {
		t.Errorf("Stats().InFlight = %d; want 0", st.InFlight)
	}
	if got := rec.all(); len(got) != 2 || !isDown(got[0]) || !isUp(got[1]) {
		t.Errorf("logged %q; want one down, then one up", got)
	}
}
