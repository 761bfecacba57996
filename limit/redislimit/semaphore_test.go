package redislimit_test

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/async-patterns/async/limit"
	"github.com/async-patterns/async/limit/redislimit"
)

func newSemaphore(t testing.TB, s *server, name string, n int, opts ...redislimit.Option) *redislimit.Semaphore {
	opts = append([]redislimit.Option{redislimit.WithTimeout(time.Second)}, opts...)
	sem := redislimit.NewSemaphore(s.client(t), name, n, opts...)
	t.Cleanup(func() { sem.Close() })
	return sem
}

func TestSemaphore(t *testing.T) {
	s := startRedis(t)

	t.Run("at most n permits across replicas, and a release frees one", func(t *testing.T) {
		a := newSemaphore(t, s, "basic", 2, redislimit.WithMaxWait(0))
		b := newSemaphore(t, s, "basic", 2, redislimit.WithMaxWait(0))
		p1, err1 := a.Acquire(t.Context())
		p2, err2 := b.Acquire(t.Context())
		if err := errors.Join(err1, err2); err != nil {
			t.Fatalf("Acquire() = %v; want two permits", err)
		}
		if _, err := b.Acquire(t.Context()); !errors.Is(err, limit.ErrRejected) {
			t.Fatalf("third Acquire() = %v; want a rejection", err)
		}
		a.Release(p1, limit.Success)
		p3, err := b.Acquire(t.Context())
		if err != nil {
			t.Fatalf("Acquire() after a release = %v; want a permit", err)
		}
		b.Release(p2, limit.Success)
		b.Release(p3, limit.Success)
		if st := b.Stats(); st.InFlight != 0 || st.Limit != 2 || st.Rejected != 1 {
			t.Errorf("Stats() = %+v; want nothing in flight, limit 2, one rejection", st)
		}
	})

	t.Run("a waiter gets the permit released, and a deadline refuses it with the lease's time left", func(t *testing.T) {
		a := newSemaphore(t, s, "wait", 1, redislimit.WithLease(2*time.Second))
		b := newSemaphore(t, s, "wait", 1)
		p, err := a.Acquire(t.Context())
		if err != nil {
			t.Fatal(err)
		}
		// The rejection comes when the next try would come after the
		// deadline. The last pause ends before it by less than a poll, and
		// on a busy machine (CI under -race) the waiter can wake past it:
		// ctx has ended, and its cause is then Acquire's documented
		// answer. Such a try is tried again (at most 10 times, well within
		// the lease); any other answer fails at once.
		var re *limit.RejectedError
		for try := 1; ; try++ {
			ctx, cancel := context.WithTimeout(t.Context(), 50*time.Millisecond)
			_, err = b.Acquire(ctx)
			cancel()
			if !errors.As(err, &re) && errors.Is(err, context.DeadlineExceeded) && try < 10 {
				t.Logf("try %d: Acquire() = %v (woke past the deadline); trying again", try, err)
				continue
			}
			if !errors.As(err, &re) || re.RetryAfter() < time.Second || !strings.Contains(re.Reason, "deadline") {
				t.Fatalf("Acquire() = %v; want a rejection naming the deadline, RetryAfter about the lease", err)
			}
			break
		}
		got := make(chan error, 1)
		go func() {
			q, err := b.Acquire(t.Context())
			if err == nil {
				b.Release(q, limit.Success)
			}
			got <- err
		}()
		time.Sleep(20 * time.Millisecond) // let it wait a few polls
		a.Release(p, limit.Success)
		select {
		case err := <-got:
			if err != nil {
				t.Errorf("waiting Acquire() = %v; want a permit", err)
			}
		case <-time.After(5 * time.Second):
			t.Fatal("waiting Acquire() still waiting 5s after the release")
		}
	})

	t.Run("a lease not extended is lost; Do extends its own", func(t *testing.T) {
		a := newSemaphore(t, s, "lease", 1, redislimit.WithLease(100*time.Millisecond))
		b := newSemaphore(t, s, "lease", 1, redislimit.WithMaxWait(0))
		p, err := a.Acquire(t.Context())
		if err != nil {
			t.Fatal(err)
		}
		if err := a.Extend(t.Context(), p); err != nil {
			t.Fatalf("Extend() = %v; want nil", err)
		}
		time.Sleep(150 * time.Millisecond) // past the lease on the server's clock
		q, err := b.Acquire(t.Context())
		if err != nil {
			t.Fatalf("Acquire() after the lease ended = %v; want the permit back", err)
		}
		if err := a.Extend(t.Context(), p); err != redislimit.ErrLeaseLost {
			t.Errorf("Extend() after the lease ended = %v; want ErrLeaseLost", err)
		}
		a.Release(p, limit.Success) // the lost permit: must not free b's
		if _, err := b.Acquire(t.Context()); !errors.Is(err, limit.ErrRejected) {
			t.Errorf("Acquire() after the old holder released = %v; want a rejection (the new holder still holds it)", err)
		}
		b.Release(q, limit.Success)

		// Do keeps its lease (500ms) alive for a call of 1.25s, extending
		// it every third of the lease. A lease of 500ms, not a's 100ms: on
		// a busy machine (CI under -race) the extending goroutine can be
		// late by more than 100ms, and a lost lease is the next subtest's
		// point, not this one's.
		d := newSemaphore(t, s, "lease", 1, redislimit.WithLease(500*time.Millisecond))
		err = d.Do(t.Context(), func(ctx context.Context) error {
			for range 5 {
				time.Sleep(250 * time.Millisecond)
				if q, err := b.Acquire(t.Context()); !errors.Is(err, limit.ErrRejected) {
					if err == nil {
						b.Release(q, limit.Success)
					}
					return fmt.Errorf("Acquire() while Do runs = %v; want a rejection", err)
				}
			}
			return context.Cause(ctx)
		})
		if err != nil {
			t.Errorf("Do() = %v; want nil", err)
		}
		if q, err := b.Acquire(t.Context()); err != nil {
			t.Errorf("Acquire() after Do = %v; want a permit", err)
		} else {
			b.Release(q, limit.Success)
		}
	})

	t.Run("Do cancels its function's ctx with ErrLeaseLost when the lease is lost", func(t *testing.T) {
		a := newSemaphore(t, s, "lost", 1, redislimit.WithLease(60*time.Millisecond))
		admin := s.client(t)
		err := a.Do(t.Context(), func(ctx context.Context) error {
			// Another party wipes the permits (as a failover to an empty
			// replica would): the next extension finds the lease gone.
			if err := admin.Del(ctx, "limit:{lost}:sem").Err(); err != nil {
				return err
			}
			select {
			case <-ctx.Done():
				return context.Cause(ctx)
			case <-time.After(10 * time.Second):
				return errors.New("ctx not cancelled 10s after the lease was lost")
			}
		})
		if err != redislimit.ErrLeaseLost {
			t.Errorf("Do() = %v; want ErrLeaseLost", err)
		}
		if st := a.Stats(); st.InFlight != 0 {
			t.Errorf("Stats().InFlight = %d after Do; want 0", st.InFlight)
		}
	})

	t.Run("releasing twice panics", func(t *testing.T) {
		a := newSemaphore(t, s, "twice", 1)
		p, err := a.Acquire(t.Context())
		if err != nil {
			t.Fatal(err)
		}
		a.Release(p, limit.Success)
		defer func() {
			if v, _ := recover().(string); !strings.Contains(v, "released twice") {
				t.Errorf("second Release panicked with %q; want a message naming the misuse", v)
			}
		}()
		a.Release(p, limit.Success)
	})
}

// The model test: several OS processes (this test binary, run again as a
// child; see TestMain) share one semaphore, record when they enter and
// leave on the Redis server's clock, and some are killed with SIGKILL.

// child runs one process of the model test, as REDISLIMIT_CHILD says, and
// exits.
func child(mode string) {
	addr, name := os.Getenv("REDISLIMIT_ADDR"), os.Getenv("REDISLIMIT_NAME")
	n, _ := strconv.Atoi(os.Getenv("REDISLIMIT_N"))
	lease, _ := time.ParseDuration(os.Getenv("REDISLIMIT_LEASE"))
	id := os.Getenv("REDISLIMIT_ID")
	c := redis.NewClient(&redis.Options{Addr: addr})
	sem := redislimit.NewSemaphore(redis.NewClient(&redis.Options{Addr: addr}), name, n,
		redislimit.WithLease(lease), redislimit.WithTimeout(2*time.Second))
	ctx := context.Background()
	clock := func() int64 {
		tm, err := c.Time(ctx).Result()
		if err != nil {
			fmt.Fprintln(os.Stderr, "TIME:", err)
			os.Exit(2)
		}
		return tm.UnixMicro()
	}
	switch mode {
	case "hold": // take a permit, say when, and hold it until killed
		before := clock()
		if _, err := sem.Acquire(ctx); err != nil {
			fmt.Fprintln(os.Stderr, "Acquire:", err)
			os.Exit(2)
		}
		fmt.Printf("held %d %d\n", before, clock())
		select {}
	case "loop": // take and give back permits, recording each, for a while
		d, _ := time.ParseDuration(os.Getenv("REDISLIMIT_FOR"))
		fmt.Println("started")
		for end := time.Now().Add(d); time.Now().Before(end); {
			p, err := sem.Acquire(ctx)
			if err != nil {
				fmt.Fprintln(os.Stderr, "Acquire:", err)
				os.Exit(2)
			}
			c.RPush(ctx, name+":log", id+" enter "+strconv.FormatInt(clock(), 10))
			time.Sleep(time.Duration(1+rand.IntN(8)) * time.Millisecond)
			c.RPush(ctx, name+":log", id+" leave "+strconv.FormatInt(clock(), 10))
			sem.Release(p, limit.Success)
		}
		os.Exit(0)
	}
	os.Exit(3)
}

// startChild runs this test binary as a child process of the given mode,
// returning it and its stdout.
func startChild(t *testing.T, s *server, mode, name string, n int, lease time.Duration, id string, d time.Duration) (*exec.Cmd, *bufio.Scanner) {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), "REDISLIMIT_CHILD="+mode, "REDISLIMIT_ADDR="+s.addr(), "REDISLIMIT_NAME="+name,
		"REDISLIMIT_N="+strconv.Itoa(n), "REDISLIMIT_LEASE="+lease.String(), "REDISLIMIT_ID="+id, "REDISLIMIT_FOR="+d.String())
	cmd.Stderr = os.Stderr
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	return cmd, bufio.NewScanner(out)
}

func TestSemaphoreModel(t *testing.T) {
	s := startRedis(t)
	c := s.client(t)
	const procs, n, lease, run = 6, 3, time.Second, 3 * time.Second
	const name = "model"
	cmds := make([]*exec.Cmd, procs)
	for i := range cmds {
		var sc *bufio.Scanner
		cmds[i], sc = startChild(t, s, "loop", name, n, lease, strconv.Itoa(i), run)
		if !sc.Scan() {
			t.Fatalf("child %d said nothing", i)
		}
	}
	// Kill two children at random moments, holding a permit or not.
	killedAt := map[string]int64{}
	for _, i := range []int{1, 4} {
		time.Sleep(time.Duration(300+rand.IntN(700)) * time.Millisecond)
		cmds[i].Process.Signal(syscall.SIGKILL)
		cmds[i].Wait()
		killedAt[strconv.Itoa(i)] = now(t, c)
	}
	for i, cmd := range cmds {
		if _, killed := killedAt[strconv.Itoa(i)]; killed {
			continue
		}
		if err := cmd.Wait(); err != nil {
			t.Fatalf("child %d: %v", i, err)
		}
	}
	lines, err := c.LRange(t.Context(), name+":log", 0, -1).Result()
	if err != nil {
		t.Fatal(err)
	}
	// Each holding is [enter, leave], read on the server's clock after the
	// permit was granted and before it was given back: inside the time the
	// permit was held, so more than n overlapping is a violation. A killed
	// child's last enter without a leave held until at least its kill.
	type event struct {
		at    int64
		delta int
	}
	var events []event
	open := map[string]int64{}
	entries := map[string]int{}
	for _, l := range lines {
		f := strings.Fields(l)
		at, _ := strconv.ParseInt(f[2], 10, 64)
		switch f[1] {
		case "enter":
			open[f[0]] = at
			entries[f[0]]++
		case "leave":
			events = append(events, event{open[f[0]], +1}, event{at, -1})
			delete(open, f[0])
		}
	}
	for id, at := range open {
		k, killed := killedAt[id]
		if !killed {
			t.Fatalf("child %s entered at %d and never left, but was not killed", id, at)
		}
		events = append(events, event{at, +1}, event{k, -1})
	}
	slices.SortFunc(events, func(a, b event) int {
		if a.at != b.at {
			return int(a.at - b.at)
		}
		return a.delta - b.delta // a leave before an enter at the same microsecond
	})
	most, cur := 0, 0
	for _, e := range events {
		cur += e.delta
		most = max(most, cur)
	}
	t.Logf("%d holdings by %d processes (%d killed, %d of them holding): at most %d held at once (n=%d); per child: %v",
		len(events)/2, procs, len(killedAt), len(open), most, n, entries)
	if most > n {
		t.Errorf("%d holders at once; want at most %d", most, n)
	}
	if most < n {
		t.Errorf("at most %d holders at once: the test did not fill the semaphore (n=%d)", most, n)
	}
}

func TestSemaphoreReclaim(t *testing.T) {
	// A holder killed with SIGKILL loses its permit when its lease ends:
	// not before, and within the lease + 1s.
	s := startRedis(t)
	c := s.client(t)
	const lease = time.Second
	cmd, sc := startChild(t, s, "hold", "reclaim", 1, lease, "0", 0)
	if !sc.Scan() {
		t.Fatal("the child said nothing")
	}
	var before, held int64
	if _, err := fmt.Sscanf(sc.Text(), "held %d %d", &before, &held); err != nil {
		t.Fatalf("child said %q: %v", sc.Text(), err)
	}
	cmd.Process.Signal(syscall.SIGKILL)
	cmd.Wait()
	killed := now(t, c)
	sem := newSemaphore(t, s, "reclaim", 1)
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	p, err := sem.Acquire(ctx)
	if err != nil {
		t.Fatalf("Acquire() after the holder was killed = %v; want its permit", err)
	}
	got := now(t, c)
	sem.Release(p, limit.Success)
	after := time.Duration(got-killed) * time.Microsecond
	sinceGrant := time.Duration(got-before) * time.Microsecond
	t.Logf("permit reclaimed %v after the kill, %v after the holder asked for it (lease %v)", after, sinceGrant, lease)
	if got < before+lease.Microseconds() {
		t.Errorf("permit given again %v after the holder asked for it; want at least the lease, %v", sinceGrant, lease)
	}
	if after > lease+time.Second {
		t.Errorf("permit reclaimed %v after the kill; want within the lease + 1s", after)
	}
}
