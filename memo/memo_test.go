package memo_test

import (
	"context"
	"errors"
	"fmt"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"go.uber.org/goleak"

	"github.com/async-patterns/async/memo"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

var errDown = errors.New("backend down")

// gated is a load that records its ctx, counts its calls, and waits for
// release (or its ctx) before returning "v<n>" for its n-th call.
type gated struct {
	release chan struct{}
	calls   atomic.Int64
	mu      sync.Mutex
	ctxs    []context.Context
}

func newGated() *gated { return &gated{release: make(chan struct{})} }

func (g *gated) load(ctx context.Context, key string) (string, error) {
	n := g.calls.Add(1)
	g.mu.Lock()
	g.ctxs = append(g.ctxs, ctx)
	g.mu.Unlock()
	select {
	case <-g.release:
		return fmt.Sprintf("%s-v%d", key, n), nil
	case <-ctx.Done():
		return "", context.Cause(ctx)
	}
}

func (g *gated) ctx(i int) context.Context {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.ctxs[i]
}

type result struct {
	v   string
	err error
}

// getAsync runs Get on a goroutine and returns where its result will arrive.
func getAsync(ctx context.Context, c *memo.Cache[string, string], key string) <-chan result {
	ch := make(chan result, 1)
	go func() {
		v, err := c.Get(ctx, key)
		ch <- result{v, err}
	}()
	return ch
}

func TestCoalescing(t *testing.T) {
	t.Run("1000 concurrent Gets of a cold key make exactly one load", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			g := newGated()
			c := memo.New(g.load)
			defer c.Close()
			const n = 1000
			results := make([]<-chan result, n)
			for i := range results {
				results[i] = getAsync(context.Background(), c, "k")
			}
			synctest.Wait() // every Get is waiting for the load
			close(g.release)
			for i, ch := range results {
				if r := <-ch; r.v != "k-v1" || r.err != nil {
					t.Fatalf("Get() #%d = %q, %v; want %q, nil", i, r.v, r.err, "k-v1")
				}
			}
			if got := g.calls.Load(); got != 1 {
				t.Errorf("load ran %d times; want 1", got)
			}
			want := memo.Stats{Misses: n, Loads: 1, Coalesced: n - 1, Entries: 1}
			if got := c.Stats(); got != want {
				t.Errorf("Stats() = %+v; want %+v", got, want)
			}
			if v, err := c.Get(context.Background(), "k"); v != "k-v1" || err != nil {
				t.Errorf("Get() after the load = %q, %v; want %q, nil", v, err, "k-v1")
			}
			if got := c.Stats().Hits; got != 1 {
				t.Errorf("Stats().Hits = %d; want 1", got)
			}
		})
	})

	t.Run("a caller that gives up returns at once while the others get the value", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			g := newGated()
			c := memo.New(g.load)
			defer c.Close()
			errGaveUp := errors.New("user navigated away")
			ctx, cancel := context.WithCancelCause(context.Background())
			quitter := getAsync(ctx, c, "k") // starts the load
			synctest.Wait()
			stayer := getAsync(context.Background(), c, "k")
			synctest.Wait()
			if got := c.Stats(); got.Loads != 1 || got.Coalesced != 1 {
				t.Fatalf("Stats() = %+v; want 1 load with 1 coalesced waiter", got)
			}
			cancel(errGaveUp)
			synctest.Wait()
			select {
			case r := <-quitter:
				if !errors.Is(r.err, errGaveUp) {
					t.Errorf("Get() of the quitter = %q, %v; want the cause %v", r.v, r.err, errGaveUp)
				}
			default:
				t.Fatal("the quitter's Get did not return when its ctx ended")
			}
			if err := g.ctx(0).Err(); err != nil {
				t.Errorf("the load's ctx.Err() = %v after the caller that started it left; want nil", err)
			}
			close(g.release)
			if r := <-stayer; r.v != "k-v1" || r.err != nil {
				t.Errorf("Get() of the stayer = %q, %v; want %q, nil", r.v, r.err, "k-v1")
			}
			if v, err := c.Get(context.Background(), "k"); v != "k-v1" || err != nil {
				t.Errorf("Get() after = %q, %v; want the stored %q", v, err, "k-v1")
			}
		})
	})

	t.Run("when every waiter gives up the load is cancelled with the last cause", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			g := newGated()
			c := memo.New(g.load)
			defer c.Close()
			ctx1, cancel1 := context.WithCancelCause(context.Background())
			ctx2, cancel2 := context.WithCancelCause(context.Background())
			r1 := getAsync(ctx1, c, "k")
			r2 := getAsync(ctx2, c, "k")
			synctest.Wait()
			first, last := errors.New("first"), errors.New("last")
			cancel1(first)
			<-r1
			if err := g.ctx(0).Err(); err != nil {
				t.Fatalf("the load's ctx.Err() = %v with one waiter left; want nil", err)
			}
			cancel2(last)
			<-r2
			synctest.Wait()
			if got := context.Cause(g.ctx(0)); got != last {
				t.Errorf("the load's context.Cause = %v; want %v", got, last)
			}
			// The abandoned load is not joined: the next Get loads afresh.
			next := getAsync(context.Background(), c, "k")
			synctest.Wait()
			close(g.release)
			if r := <-next; r.v != "k-v2" || r.err != nil {
				t.Errorf("Get() after all gave up = %q, %v; want %q, nil", r.v, r.err, "k-v2")
			}
			if got := c.Stats().Loads; got != 2 {
				t.Errorf("Stats().Loads = %d; want 2", got)
			}
		})
	})

	t.Run("a hit is returned even though ctx has ended", func(t *testing.T) {
		c := memo.New(func(ctx context.Context, k string) (string, error) { return k, nil })
		defer c.Close()
		mustGet(t, c, "k", "k")
		ctx, cancel := context.WithCancel(context.Background())
		cancel()
		if v, err := c.Get(ctx, "k"); v != "k" || err != nil {
			t.Errorf("Get() = %q, %v; want the cached %q, nil", v, err, "k")
		}
	})

	t.Run("a Get whose ctx has already ended starts no load", func(t *testing.T) {
		calls := 0
		c := memo.New(func(ctx context.Context, k string) (string, error) { calls++; return k, nil })
		defer c.Close()
		ctx, cancel := context.WithCancelCause(context.Background())
		cancel(errDown)
		if _, err := c.Get(ctx, "k"); !errors.Is(err, errDown) {
			t.Errorf("Get() = %v; want the cause %v", err, errDown)
		}
		if got := c.Stats().Loads; got != 0 || calls != 0 {
			t.Errorf("Stats().Loads = %d; want 0", got)
		}
	})
}

type ctxKey struct{}

func TestLoadContext(t *testing.T) {
	t.Run("the load's ctx keeps the caller's values", func(t *testing.T) {
		var got any
		c := memo.New(func(ctx context.Context, k string) (string, error) {
			got = ctx.Value(ctxKey{})
			return k, nil
		})
		defer c.Close()
		ctx := context.WithValue(context.Background(), ctxKey{}, "trace-42")
		if _, err := c.Get(ctx, "k"); err != nil {
			t.Fatalf("Get() = %v; want nil", err)
		}
		if got != "trace-42" {
			t.Errorf("ctx.Value in load = %v; want trace-42", got)
		}
	})

	t.Run("WithLoadTimeout bounds the load", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			c := memo.New(func(ctx context.Context, k string) (string, error) {
				<-ctx.Done()
				return "", ctx.Err()
			}, memo.WithLoadTimeout(5*time.Second))
			defer c.Close()
			start := time.Now()
			_, err := c.Get(context.Background(), "k")
			if !errors.Is(err, context.DeadlineExceeded) {
				t.Errorf("Get() = %v; want context.DeadlineExceeded", err)
			}
			if d := time.Since(start); d != 5*time.Second {
				t.Errorf("Get() took %v; want 5s", d)
			}
		})
	})

	t.Run("the load's ctx is cancelled after it returns", func(t *testing.T) {
		var loadCtx context.Context
		c := memo.New(func(ctx context.Context, k string) (string, error) { loadCtx = ctx; return k, nil },
			memo.WithLoadTimeout(time.Hour))
		defer c.Close()
		if _, err := c.Get(context.Background(), "k"); err != nil {
			t.Fatalf("Get() = %v; want nil", err)
		}
		if loadCtx.Err() == nil {
			t.Error("the load's ctx.Err() = nil after the load; want it released")
		}
	})
}

func TestPanics(t *testing.T) {
	t.Run("a panic reaches every waiter as *PanicError and the next Get reloads", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			release := make(chan struct{})
			var calls atomic.Int64
			c := memo.New(func(ctx context.Context, k string) (string, error) {
				if calls.Add(1) == 1 {
					<-release
					panic("boom")
				}
				return "fine", nil
			})
			defer c.Close()
			results := make([]<-chan result, 10)
			for i := range results {
				results[i] = getAsync(context.Background(), c, "k")
			}
			synctest.Wait()
			close(release)
			for i, ch := range results {
				r := <-ch
				var pe *memo.PanicError
				if !errors.As(r.err, &pe) || pe.Value != "boom" {
					t.Fatalf("Get() #%d = %q, %v; want a *PanicError with Value boom", i, r.v, r.err)
				}
				if !strings.Contains(string(pe.Stack), "memo_test.go") {
					t.Errorf("the PanicError's stack does not name the panicking file:\n%s", pe.Stack)
				}
			}
			if v, err := c.Get(context.Background(), "k"); v != "fine" || err != nil {
				t.Errorf("Get() after the panic = %q, %v; want %q, nil", v, err, "fine")
			}
			if got := calls.Load(); got != 2 {
				t.Errorf("load ran %d times; want 2", got)
			}
		})
	})

	t.Run("a panic is not cached even with WithErrorTTL", func(t *testing.T) {
		calls := 0
		c := memo.New(func(ctx context.Context, k string) (string, error) {
			calls++
			if calls == 1 {
				panic(errDown)
			}
			return "fine", nil
		}, memo.WithErrorTTL(time.Hour))
		defer c.Close()
		if _, err := c.Get(context.Background(), "k"); !errors.Is(err, errDown) {
			t.Fatalf("Get() = %v; want a PanicError wrapping %v", err, errDown)
		}
		if v, err := c.Get(context.Background(), "k"); v != "fine" || err != nil {
			t.Errorf("Get() after the panic = %q, %v; want %q, nil", v, err, "fine")
		}
	})

	t.Run("a runtime.Goexit in load reaches every waiter as *PanicError", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			release := make(chan struct{})
			c := memo.New(func(ctx context.Context, k string) (string, error) {
				<-release
				runtime.Goexit()
				return "", nil
			})
			defer c.Close()
			r1 := getAsync(context.Background(), c, "k")
			r2 := getAsync(context.Background(), c, "k")
			synctest.Wait()
			close(release)
			for _, ch := range []<-chan result{r1, r2} {
				r := <-ch
				var pe *memo.PanicError
				if !errors.As(r.err, &pe) || !strings.Contains(pe.Error(), "Goexit") {
					t.Errorf("Get() = %v; want a *PanicError for the Goexit", r.err)
				}
			}
		})
	})
}

func TestErrors(t *testing.T) {
	t.Run("errors are not cached without WithErrorTTL", func(t *testing.T) {
		calls := 0
		c := memo.New(func(ctx context.Context, k string) (string, error) { calls++; return "", errDown })
		defer c.Close()
		for range 3 {
			if _, err := c.Get(context.Background(), "k"); !errors.Is(err, errDown) {
				t.Fatalf("Get() = %v; want %v", err, errDown)
			}
		}
		if calls != 3 {
			t.Errorf("load ran %d times; want 3", calls)
		}
		if got := c.Stats().Entries; got != 0 {
			t.Errorf("Stats().Entries = %d; want 0", got)
		}
	})

	t.Run("WithErrorTTL caches an error for its duration", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			calls := 0
			c := memo.New(func(ctx context.Context, k string) (string, error) {
				calls++
				if calls == 1 {
					return "", errDown
				}
				return "up", nil
			}, memo.WithErrorTTL(10*time.Second), memo.WithTTL(time.Hour))
			defer c.Close()
			for range 2 {
				if _, err := c.Get(context.Background(), "k"); !errors.Is(err, errDown) {
					t.Fatalf("Get() = %v; want the cached %v", err, errDown)
				}
			}
			time.Sleep(9 * time.Second)
			if _, err := c.Get(context.Background(), "k"); !errors.Is(err, errDown) {
				t.Fatalf("Get() at 9s = %v; want the cached %v", err, errDown)
			}
			time.Sleep(time.Second)
			if v, err := c.Get(context.Background(), "k"); v != "up" || err != nil {
				t.Errorf("Get() at 10s = %q, %v; want %q, nil", v, err, "up")
			}
			if calls != 2 {
				t.Errorf("load ran %d times; want 2", calls)
			}
		})
	})
}

// counting is a load returning "<key>-v<n>" for its n-th call of that key.
type counting struct {
	mu    sync.Mutex
	calls map[string]int
}

func (l *counting) load(ctx context.Context, key string) (string, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.calls == nil {
		l.calls = map[string]int{}
	}
	l.calls[key]++
	return fmt.Sprintf("%s-v%d", key, l.calls[key]), nil
}

func mustGet(t *testing.T, c *memo.Cache[string, string], key, want string) {
	t.Helper()
	if v, err := c.Get(context.Background(), key); v != want || err != nil {
		t.Errorf("Get(%q) = %q, %v; want %q, nil", key, v, err, want)
	}
}

func TestExpiry(t *testing.T) {
	t.Run("an entry is fresh for its TTL and reloaded after it", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			var l counting
			c := memo.New(l.load, memo.WithTTL(time.Minute))
			defer c.Close()
			mustGet(t, c, "k", "k-v1")
			time.Sleep(time.Minute - time.Nanosecond)
			mustGet(t, c, "k", "k-v1")
			time.Sleep(time.Nanosecond)
			mustGet(t, c, "k", "k-v2")
			want := memo.Stats{Hits: 1, Misses: 2, Loads: 2, Entries: 1}
			if got := c.Stats(); got != want {
				t.Errorf("Stats() = %+v; want %+v", got, want)
			}
		})
	})

	t.Run("without a TTL an entry never expires", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			var l counting
			c := memo.New(l.load)
			defer c.Close()
			mustGet(t, c, "k", "k-v1")
			time.Sleep(1000 * time.Hour)
			mustGet(t, c, "k", "k-v1")
		})
	})
}

func TestLRU(t *testing.T) {
	t.Run("the least recently used entry is evicted", func(t *testing.T) {
		var l counting
		c := memo.New(l.load, memo.WithMaxEntries(2))
		defer c.Close()
		mustGet(t, c, "a", "a-v1")
		mustGet(t, c, "b", "b-v1")
		mustGet(t, c, "a", "a-v1") // a is now the most recently used
		mustGet(t, c, "c", "c-v1") // evicts b
		mustGet(t, c, "a", "a-v1")
		mustGet(t, c, "c", "c-v1")
		mustGet(t, c, "b", "b-v2") // reloaded; evicts a
		mustGet(t, c, "c", "c-v1")
		mustGet(t, c, "a", "a-v2")
		s := c.Stats()
		if s.Evictions != 3 || s.Entries != 2 {
			t.Errorf("Stats() = %+v; want 3 evictions, 2 entries", s)
		}
	})

	t.Run("a max of one keeps the last key only", func(t *testing.T) {
		var l counting
		c := memo.New(l.load, memo.WithMaxEntries(1))
		defer c.Close()
		mustGet(t, c, "a", "a-v1")
		mustGet(t, c, "a", "a-v1")
		mustGet(t, c, "b", "b-v1")
		mustGet(t, c, "a", "a-v2")
	})
}

func TestStale(t *testing.T) {
	t.Run("a stale entry is served while exactly one refresh runs", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			g := newGated()
			c := memo.New(g.load, memo.WithTTL(time.Minute), memo.WithStale(30*time.Second))
			defer c.Close()
			first := getAsync(context.Background(), c, "k")
			synctest.Wait()
			g.release <- struct{}{}
			if r := <-first; r.v != "k-v1" {
				t.Fatalf("Get() = %q, %v; want k-v1", r.v, r.err)
			}
			time.Sleep(time.Minute + time.Second)
			for i := range 5 {
				// Each returns at once with the stale value: no goroutine needed.
				if v, err := c.Get(context.Background(), "k"); v != "k-v1" || err != nil {
					t.Fatalf("stale Get() #%d = %q, %v; want %q, nil", i, v, err, "k-v1")
				}
			}
			synctest.Wait()
			if got := g.calls.Load(); got != 2 {
				t.Fatalf("load ran %d times; want 2 (the first load and one refresh)", got)
			}
			g.release <- struct{}{}
			synctest.Wait()
			mustGet(t, c, "k", "k-v2")
			want := memo.Stats{Hits: 6, Misses: 1, Loads: 2, Stale: 5, Entries: 1}
			if got := c.Stats(); got != want {
				t.Errorf("Stats() = %+v; want %+v", got, want)
			}
		})
	})

	t.Run("past the stale window a Get waits, joining the running refresh", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			g := newGated()
			c := memo.New(g.load, memo.WithTTL(time.Minute), memo.WithStale(30*time.Second))
			defer c.Close()
			close(g.release)
			mustGet(t, c, "k", "k-v1")
			g.release = make(chan struct{})
			time.Sleep(time.Minute)
			mustGet(t, c, "k", "k-v1") // stale: starts the refresh
			time.Sleep(30 * time.Second)
			late := getAsync(context.Background(), c, "k")
			synctest.Wait()
			select {
			case r := <-late:
				t.Fatalf("Get() past the stale window = %q, %v before the refresh ended; want it to wait", r.v, r.err)
			default:
			}
			close(g.release)
			if r := <-late; r.v != "k-v2" || r.err != nil {
				t.Errorf("Get() = %q, %v; want %q, nil", r.v, r.err, "k-v2")
			}
			if got := g.calls.Load(); got != 2 {
				t.Errorf("load ran %d times; want 2", got)
			}
		})
	})

	t.Run("a failed or panicking refresh keeps serving the stale value", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			calls := 0
			c := memo.New(func(ctx context.Context, k string) (string, error) {
				calls++
				switch calls {
				case 2:
					return "", errDown
				case 3:
					panic("refresh bug")
				}
				return fmt.Sprint("v", calls), nil
			}, memo.WithTTL(time.Minute), memo.WithStale(time.Minute), memo.WithErrorTTL(time.Hour))
			defer c.Close()
			mustGet(t, c, "k", "v1")
			time.Sleep(time.Minute)
			mustGet(t, c, "k", "v1") // starts refresh 2, which fails
			synctest.Wait()
			mustGet(t, c, "k", "v1") // still stale-served; starts refresh 3, which panics
			synctest.Wait()
			mustGet(t, c, "k", "v1") // starts refresh 4
			synctest.Wait()
			mustGet(t, c, "k", "v4")
		})
	})

	t.Run("Close waits for a running refresh and starts no more", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			g := newGated()
			c := memo.New(g.load, memo.WithTTL(time.Minute), memo.WithStale(time.Minute))
			close(g.release)
			mustGet(t, c, "k", "k-v1")
			mustGet(t, c, "j", "j-v2")
			g.release = make(chan struct{})
			time.Sleep(time.Minute)
			mustGet(t, c, "k", "k-v1") // refresh 3 starts and blocks
			closed := make(chan struct{})
			go func() {
				c.Close()
				close(closed)
			}()
			synctest.Wait()
			select {
			case <-closed:
				t.Fatal("Close returned while a refresh was running")
			default:
			}
			mustGet(t, c, "j", "j-v2") // stale, but no refresh after Close
			synctest.Wait()
			if got := g.calls.Load(); got != 3 {
				t.Errorf("load ran %d times; want 3 (no refresh after Close)", got)
			}
			close(g.release)
			<-closed
			mustGet(t, c, "k", "k-v3") // the refresh that Close waited for was stored
			if _, err := c.Get(context.Background(), "new"); !errors.Is(err, memo.ErrClosed) {
				t.Errorf("Get() of a new key after Close = %v; want ErrClosed", err)
			}
		})
	})
}

func TestClose(t *testing.T) {
	t.Run("Close waits for a load every waiter gave up on", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			release := make(chan struct{})
			returned := false
			c := memo.New(func(ctx context.Context, k string) (string, error) {
				<-release // ignores its ctx
				returned = true
				return k, nil
			})
			ctx, cancel := context.WithCancel(context.Background())
			r := getAsync(ctx, c, "k")
			synctest.Wait()
			cancel()
			if got := <-r; !errors.Is(got.err, context.Canceled) {
				t.Fatalf("Get() = %v; want context.Canceled", got.err)
			}
			closed := make(chan struct{})
			go func() {
				c.Close()
				close(closed)
			}()
			synctest.Wait()
			select {
			case <-closed:
				t.Fatal("Close returned while the load was running")
			default:
			}
			close(release)
			<-closed
			if !returned {
				t.Error("Close returned before the load did")
			}
			c.Close() // a second Close returns at once
		})
	})
}

func TestForget(t *testing.T) {
	t.Run("Forget drops an entry", func(t *testing.T) {
		var l counting
		c := memo.New(l.load)
		defer c.Close()
		mustGet(t, c, "k", "k-v1")
		c.Forget("k")
		c.Forget("never-seen")
		mustGet(t, c, "k", "k-v2")
	})

	t.Run("a load running at Forget is not stored and not joined", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			g := newGated()
			c := memo.New(g.load)
			defer c.Close()
			old := getAsync(context.Background(), c, "k")
			synctest.Wait()
			c.Forget("k")
			fresh := getAsync(context.Background(), c, "k")
			synctest.Wait()
			if got := g.calls.Load(); got != 2 {
				t.Fatalf("load ran %d times; want 2 (a Get after Forget starts its own)", got)
			}
			close(g.release)
			r1, r2 := <-old, <-fresh
			if r1.err != nil || r2.err != nil || r1.v == r2.v {
				t.Fatalf("Get()s = %v, %v; want two different values", r1, r2)
			}
			synctest.Wait()
			mustGet(t, c, "k", r2.v)
		})
	})
}

func TestBadInput(t *testing.T) {
	load := func(ctx context.Context, k string) (string, error) { return k, nil }
	for _, tc := range []struct {
		name, want string
		f          func()
	}{
		{"a nil load", "memo: nil load passed to New", func() { memo.New[string, string](nil) }},
		{"a nil option", "memo: nil Option passed to New", func() { memo.New(load, nil) }},
		{"a negative TTL", "memo: WithTTL(-1s)", func() { memo.WithTTL(-time.Second) }},
		{"a negative error TTL", "memo: WithErrorTTL(-1s)", func() { memo.WithErrorTTL(-time.Second) }},
		{"a negative load timeout", "memo: WithLoadTimeout(-1s)", func() { memo.WithLoadTimeout(-time.Second) }},
		{"a zero stale window", "memo: WithStale(0s)", func() { memo.WithStale(0) }},
		{"zero max entries", "memo: WithMaxEntries(0)", func() { memo.WithMaxEntries(0) }},
		{"WithStale without a TTL", "memo: WithStale needs", func() { memo.New(load, memo.WithStale(time.Second)) }},
		{"a nil ctx", "memo: nil ctx passed to Get", func() {
			c := memo.New(load)
			defer c.Close()
			//lint:ignore SA1012 the nil ctx is the point
			c.Get(nil, "k") //nolint:staticcheck
		}},
	} {
		t.Run(tc.name+" panics", func(t *testing.T) {
			defer func() {
				msg := fmt.Sprint(recover())
				if !strings.HasPrefix(msg, tc.want) {
					t.Errorf("panic = %q; want prefix %q", msg, tc.want)
				}
			}()
			tc.f()
		})
	}
}

func TestHitAllocatesNothing(t *testing.T) {
	c := memo.New(func(ctx context.Context, k string) (string, error) { return k, nil },
		memo.WithTTL(time.Hour), memo.WithMaxEntries(10))
	defer c.Close()
	ctx := context.Background()
	for _, k := range []string{"a", "b"} {
		if _, err := c.Get(ctx, k); err != nil {
			t.Fatalf("Get() = %v; want nil", err)
		}
	}
	keys := []string{"a", "b"}
	i := 0
	if n := testing.AllocsPerRun(100, func() {
		_, _ = c.Get(ctx, keys[i%2]) // alternating keys: the LRU list moves each time
		i++
	}); n != 0 {
		t.Errorf("a hit allocated %v times; want 0", n)
	}
}
