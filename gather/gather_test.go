package gather_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"go.uber.org/goleak"

	"github.com/async-patterns/async/gather"
	"github.com/async-patterns/async/internal/safe"
	"github.com/async-patterns/async/taskgroup"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

var (
	errA = errors.New("a failed")
	errB = errors.New("b failed")
	errC = errors.New("c failed")
)

type fn = func(context.Context) (int, error)

// reverseChain returns n functions that finish in reverse input order:
// function i returns i*10 only after function i+1 has returned its value.
// order receives the indices in the order the functions finish.
func reverseChain(n int, order *[]int, mu *sync.Mutex) []fn {
	finished := make([]chan struct{}, n)
	for i := range finished {
		finished[i] = make(chan struct{})
	}
	fns := make([]fn, n)
	for i := range fns {
		fns[i] = func(ctx context.Context) (int, error) {
			if i+1 < n {
				<-finished[i+1]
			}
			mu.Lock()
			*order = append(*order, i)
			mu.Unlock()
			close(finished[i])
			return i * 10, nil
		}
	}
	return fns
}

// blocker returns a function that counts itself in running, signals
// started, waits for its ctx to end, records the cause and returns
// ctx.Err(). It yields the processor a few times before it stops counting,
// so a caller that did not wait for it would see running > 0.
func blocker(running *atomic.Int32, started chan<- struct{}, cause *error) fn {
	return func(ctx context.Context) (int, error) {
		running.Add(1)
		defer running.Add(-1)
		if started != nil {
			started <- struct{}{}
		}
		<-ctx.Done()
		*cause = context.Cause(ctx)
		for range 10 {
			runtime.Gosched()
		}
		return 0, ctx.Err()
	}
}

func value(v int) fn { return func(context.Context) (int, error) { return v, nil } }

func failing(err error) fn { return func(context.Context) (int, error) { return 0, err } }

// counting wraps f so that calls counts every call.
func counting(calls *atomic.Int32, f fn) fn {
	return func(ctx context.Context) (int, error) {
		calls.Add(1)
		return f(ctx)
	}
}

func TestAll(t *testing.T) {
	t.Run("values come back in input order whatever order the functions finish in", func(t *testing.T) {
		var (
			order []int
			mu    sync.Mutex
		)
		vals, err := gather.All(context.Background(), reverseChain(5, &order, &mu)...)
		if err != nil {
			t.Fatalf("All() error = %v; want nil", err)
		}
		if want := []int{0, 10, 20, 30, 40}; fmt.Sprint(vals) != fmt.Sprint(want) {
			t.Errorf("All() = %v; want %v", vals, want)
		}
		if want := []int{4, 3, 2, 1, 0}; fmt.Sprint(order) != fmt.Sprint(want) {
			t.Errorf("finish order = %v; want %v", order, want)
		}
	})

	t.Run("the first failure cancels the rest with itself as the cause and they are awaited", func(t *testing.T) {
		var (
			running atomic.Int32
			started = make(chan struct{}, 3)
			causes  [3]error
		)
		fns := []fn{
			blocker(&running, started, &causes[0]),
			blocker(&running, started, &causes[1]),
			func(ctx context.Context) (int, error) {
				for range 3 { // every sibling is running: a function not yet called when one fails is never called
					<-started
				}
				return 0, errA
			},
			blocker(&running, started, &causes[2]),
		}
		vals, err := gather.All(context.Background(), fns...)
		if n := running.Load(); n != 0 {
			t.Errorf("%d functions still running after All returned; want 0", n)
		}
		if err != errA {
			t.Errorf("All() error = %v; want %v (the siblings' context.Canceled left out)", err, errA)
		}
		if !errors.Is(err, errA) {
			t.Errorf("errors.Is(%v, errA) = false; want true", err)
		}
		if vals != nil {
			t.Errorf("All() values = %v; want nil on failure", vals)
		}
		for i, c := range causes {
			if c != errA {
				t.Errorf("sibling %d saw cause %v; want %v", i, c, errA)
			}
		}
	})

	t.Run("every real failure is joined, the first first", func(t *testing.T) {
		fns := []fn{
			func(ctx context.Context) (int, error) {
				<-ctx.Done()
				return 0, errB // a failure of its own, not the cancellation
			},
			func(ctx context.Context) (int, error) { return 0, errA },
		}
		_, err := gather.All(context.Background(), fns...)
		if !errors.Is(err, errA) || !errors.Is(err, errB) {
			t.Fatalf("All() error = %v; want both %v and %v", err, errA, errB)
		}
		if want := "a failed\nb failed"; err.Error() != want {
			t.Errorf("All() error = %q; want %q", err.Error(), want)
		}
	})

	t.Run("a panic becomes a PanicError that both packages' types match", func(t *testing.T) {
		_, err := gather.All(context.Background(), value(1), func(context.Context) (int, error) {
			panic(errC)
		})
		var pe *gather.PanicError
		if !errors.As(err, &pe) {
			t.Fatalf("All() error = %v; want a *gather.PanicError", err)
		}
		var tpe *taskgroup.PanicError
		if !errors.As(err, &tpe) || tpe != pe {
			t.Errorf("errors.As(err, *taskgroup.PanicError) = %v; want the same value %p", tpe, pe)
		}
		if pe.Value != errC || !errors.Is(err, errC) {
			t.Errorf("PanicError.Value = %v; want %v, matched by errors.Is", pe.Value, errC)
		}
		if !bytes.Contains(pe.Stack, []byte("gather_test")) {
			t.Errorf("PanicError.Stack does not show the panicking function:\n%s", pe.Stack)
		}
	})

	t.Run("a runtime.Goexit becomes a PanicError", func(t *testing.T) {
		_, err := gather.All(context.Background(), func(context.Context) (int, error) {
			runtime.Goexit()
			return 0, nil
		})
		var pe *gather.PanicError
		if !errors.As(err, &pe) || pe.Value != safe.ErrGoexit {
			t.Errorf("All() error = %v; want a *PanicError for the Goexit", err)
		}
	})

	t.Run("a function not yet called when another fails is never called", func(t *testing.T) {
		// With one P the goroutines run one at a time, after All has
		// started them all: the first to run fails, and no later one may
		// call its function.
		defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(1))
		var calls atomic.Int32
		fns := make([]fn, 16)
		for i := range fns {
			fns[i] = counting(&calls, failing(errA))
		}
		if _, err := gather.All(context.Background(), fns...); err != errA {
			t.Errorf("All() error = %v; want %v", err, errA)
		}
		if n := calls.Load(); n != 1 {
			t.Errorf("%d functions were called; want 1 (the rest see the failure first)", n)
		}
	})

	t.Run("empty input returns an empty slice and nil", func(t *testing.T) {
		vals, err := gather.All[int](context.Background())
		if err != nil || vals == nil || len(vals) != 0 {
			t.Errorf("All() = %#v, %v; want []int{}, nil", vals, err)
		}
	})

	t.Run("a nil function is an error naming its index and nothing starts", func(t *testing.T) {
		var calls atomic.Int32
		_, err := gather.All(context.Background(), counting(&calls, value(1)), counting(&calls, value(2)), nil)
		if err == nil || err.Error() != "gather: fns[2] is nil" {
			t.Errorf("All() error = %v; want %q", err, "gather: fns[2] is nil")
		}
		if !errors.Is(err, gather.ErrNilFunc) {
			t.Errorf("errors.Is(%v, ErrNilFunc) = false; want true", err)
		}
		if n := calls.Load(); n != 0 {
			t.Errorf("%d functions ran; want 0", n)
		}
	})

	t.Run("a ctx already ended starts nothing and returns its cause", func(t *testing.T) {
		ctx, cancel := context.WithCancelCause(context.Background())
		cancel(errC)
		var calls atomic.Int32
		_, err := gather.All(ctx, counting(&calls, value(1)))
		if err != errC {
			t.Errorf("All() error = %v; want %v", err, errC)
		}
		if n := calls.Load(); n != 0 {
			t.Errorf("%d functions ran; want 0", n)
		}
	})

	t.Run("the parent ctx ending returns its cause", func(t *testing.T) {
		ctx, cancel := context.WithCancelCause(context.Background())
		var (
			running atomic.Int32
			started = make(chan struct{}, 2)
			causes  [2]error
		)
		go func() {
			<-started
			<-started
			cancel(errC)
		}()
		_, err := gather.All(ctx, blocker(&running, started, &causes[0]), blocker(&running, started, &causes[1]))
		if err != errC {
			t.Errorf("All() error = %v; want %v", err, errC)
		}
		if n := running.Load(); n != 0 {
			t.Errorf("%d functions still running; want 0", n)
		}
	})

	t.Run("a task's Wait plugs straight in", func(t *testing.T) {
		ctx := context.Background()
		t1 := taskgroup.Start(ctx, value(1))
		t2 := taskgroup.Start(ctx, value(2))
		vals, err := gather.All(ctx, t1.Wait, t2.Wait)
		if err != nil || fmt.Sprint(vals) != "[1 2]" {
			t.Errorf("All(t1.Wait, t2.Wait) = %v, %v; want [1 2], nil", vals, err)
		}
	})
}

func TestSettled(t *testing.T) {
	t.Run("one result per function, failures and panics included, and nothing is cancelled", func(t *testing.T) {
		failed, panicked := make(chan struct{}), make(chan struct{})
		var lastCtxErr error
		res := gather.Settled(context.Background(),
			func(context.Context) (int, error) {
				defer close(failed)
				return 7, errA
			},
			func(context.Context) (int, error) {
				defer close(panicked)
				panic("boom")
			},
			func(ctx context.Context) (int, error) {
				<-failed
				<-panicked
				lastCtxErr = ctx.Err()
				return 3, nil
			},
		)
		if len(res) != 3 {
			t.Fatalf("Settled() returned %d results; want 3", len(res))
		}
		if res[0].Value != 7 || res[0].Err != errA {
			t.Errorf("Settled()[0] = %+v; want {7 %v}", res[0], errA)
		}
		var pe *gather.PanicError
		if !errors.As(res[1].Err, &pe) || pe.Value != "boom" {
			t.Errorf("Settled()[1].Err = %v; want a *PanicError with value boom", res[1].Err)
		}
		if res[2].Value != 3 || res[2].Err != nil {
			t.Errorf("Settled()[2] = %+v; want {3 <nil>}", res[2])
		}
		if lastCtxErr != nil {
			t.Errorf("the last function's ctx.Err() = %v; want nil (nothing cancelled)", lastCtxErr)
		}
	})

	t.Run("a runtime.Goexit lands in its result and cancels nothing", func(t *testing.T) {
		exited := make(chan struct{})
		var ctxErr error
		res := gather.Settled(context.Background(),
			func(context.Context) (int, error) {
				defer close(exited)
				runtime.Goexit()
				return 0, nil
			},
			func(ctx context.Context) (int, error) {
				<-exited
				runtime.Gosched()
				ctxErr = ctx.Err()
				return 1, nil
			},
		)
		var pe *gather.PanicError
		if !errors.As(res[0].Err, &pe) || pe.Value != safe.ErrGoexit {
			t.Errorf("Settled()[0].Err = %v; want a *PanicError for the Goexit", res[0].Err)
		}
		if res[1].Value != 1 || res[1].Err != nil || ctxErr != nil {
			t.Errorf("Settled()[1] = %+v with ctx.Err() %v; want {1 <nil>} with a live ctx", res[1], ctxErr)
		}
	})

	t.Run("values come back in input order whatever order the functions finish in", func(t *testing.T) {
		var (
			order []int
			mu    sync.Mutex
		)
		res := gather.Settled(context.Background(), reverseChain(4, &order, &mu)...)
		for i, r := range res {
			if r.Value != i*10 || r.Err != nil {
				t.Errorf("Settled()[%d] = %+v; want {%d <nil>}", i, r, i*10)
			}
		}
	})

	t.Run("a nil function's result carries an error naming its index and the others run", func(t *testing.T) {
		res := gather.Settled(context.Background(), value(1), nil, value(3))
		if res[0].Value != 1 || res[2].Value != 3 || res[0].Err != nil || res[2].Err != nil {
			t.Errorf("Settled() = %+v; want the others' values", res)
		}
		if res[1].Err == nil || res[1].Err.Error() != "gather: fns[1] is nil" || !errors.Is(res[1].Err, gather.ErrNilFunc) {
			t.Errorf("Settled()[1].Err = %v; want %q matching ErrNilFunc", res[1].Err, "gather: fns[1] is nil")
		}
	})

	t.Run("empty input returns an empty slice", func(t *testing.T) {
		res := gather.Settled[int](context.Background())
		if res == nil || len(res) != 0 {
			t.Errorf("Settled() = %#v; want an empty slice", res)
		}
	})

	t.Run("a ctx already ended starts nothing and every result carries its cause", func(t *testing.T) {
		ctx, cancel := context.WithCancelCause(context.Background())
		cancel(errC)
		var calls atomic.Int32
		res := gather.Settled(ctx, counting(&calls, value(1)), nil)
		if res[0].Err != errC || !errors.Is(res[1].Err, gather.ErrNilFunc) {
			t.Errorf("Settled() = %+v; want [{0 %v} {0 fns[1] is nil}]", res, errC)
		}
		if n := calls.Load(); n != 0 {
			t.Errorf("%d functions ran; want 0", n)
		}
	})
}

func TestRace(t *testing.T) {
	t.Run("the first to finish wins and the losers are cancelled and awaited", func(t *testing.T) {
		var (
			running atomic.Int32
			started = make(chan struct{}, 2)
			causes  [2]error
		)
		v, err := gather.Race(context.Background(),
			blocker(&running, started, &causes[0]),
			func(context.Context) (int, error) {
				<-started
				<-started
				return 42, nil
			},
			blocker(&running, started, &causes[1]),
		)
		if n := running.Load(); n != 0 {
			t.Errorf("%d losers still running after Race returned; want 0", n)
		}
		if v != 42 || err != nil {
			t.Errorf("Race() = %v, %v; want 42, nil", v, err)
		}
		for i, c := range causes {
			if c != context.Canceled {
				t.Errorf("loser %d saw cause %v; want context.Canceled", i, c)
			}
		}
	})

	t.Run("a first finisher that fails wins with its error and cancels the rest", func(t *testing.T) {
		var (
			running atomic.Int32
			started = make(chan struct{}, 1)
			cause   error
		)
		v, err := gather.Race(context.Background(),
			func(context.Context) (int, error) {
				<-started
				return 5, errA
			},
			blocker(&running, started, &cause),
		)
		if v != 5 || err != errA {
			t.Errorf("Race() = %v, %v; want 5, %v", v, err, errA)
		}
		if n := running.Load(); n != 0 || cause != context.Canceled {
			t.Errorf("loser running = %d, cause %v; want 0, context.Canceled", n, cause)
		}
	})

	t.Run("a panic that finishes first wins as a PanicError", func(t *testing.T) {
		var (
			running atomic.Int32
			cause   error
		)
		_, err := gather.Race(context.Background(),
			blocker(&running, nil, &cause),
			func(context.Context) (int, error) { panic("boom") },
		)
		var pe *gather.PanicError
		if !errors.As(err, &pe) || pe.Value != "boom" {
			t.Errorf("Race() error = %v; want a *PanicError with value boom", err)
		}
	})

	t.Run("a runtime.Goexit that finishes first wins as a PanicError", func(t *testing.T) {
		var (
			running atomic.Int32
			cause   error
		)
		_, err := gather.Race(context.Background(),
			blocker(&running, nil, &cause),
			func(context.Context) (int, error) { runtime.Goexit(); return 0, nil },
		)
		var pe *gather.PanicError
		if !errors.As(err, &pe) || pe.Value != safe.ErrGoexit {
			t.Errorf("Race() error = %v; want a *PanicError for the Goexit", err)
		}
	})

	t.Run("no functions is ErrEmpty at once", func(t *testing.T) {
		if _, err := gather.Race[int](context.Background()); err != gather.ErrEmpty {
			t.Errorf("Race() error = %v; want ErrEmpty", err)
		}
	})

	t.Run("a nil function is an error naming its index and nothing starts", func(t *testing.T) {
		var calls atomic.Int32
		_, err := gather.Race(context.Background(), nil, counting(&calls, value(1)))
		if err == nil || err.Error() != "gather: fns[0] is nil" || !errors.Is(err, gather.ErrNilFunc) {
			t.Errorf("Race() error = %v; want %q", err, "gather: fns[0] is nil")
		}
		if n := calls.Load(); n != 0 {
			t.Errorf("%d functions ran; want 0", n)
		}
	})

	t.Run("a ctx already ended starts nothing and returns its cause", func(t *testing.T) {
		ctx, cancel := context.WithCancelCause(context.Background())
		cancel(errC)
		var calls atomic.Int32
		if _, err := gather.Race(ctx, counting(&calls, value(1))); err != errC {
			t.Errorf("Race() error = %v; want %v", err, errC)
		}
		if n := calls.Load(); n != 0 {
			t.Errorf("%d functions ran; want 0", n)
		}
	})
}

func TestAny(t *testing.T) {
	t.Run("the first success wins, failures cancel nothing, and the losers are cancelled and awaited", func(t *testing.T) {
		var (
			running   atomic.Int32
			started   = make(chan struct{}, 1)
			cause     error
			failed    = make(chan struct{})
			ctxErrWas error
		)
		v, err := gather.Any(context.Background(),
			func(context.Context) (int, error) {
				defer close(failed)
				return 0, errA
			},
			func(ctx context.Context) (int, error) {
				<-failed
				<-started
				ctxErrWas = ctx.Err()
				return 2, nil
			},
			blocker(&running, started, &cause),
		)
		if n := running.Load(); n != 0 {
			t.Errorf("%d losers still running after Any returned; want 0", n)
		}
		if v != 2 || err != nil {
			t.Errorf("Any() = %v, %v; want 2, nil", v, err)
		}
		if ctxErrWas != nil {
			t.Errorf("the winner's ctx.Err() after a failure = %v; want nil", ctxErrWas)
		}
		if cause != context.Canceled {
			t.Errorf("loser saw cause %v; want context.Canceled", cause)
		}
	})

	t.Run("when all fail the error joins every failure in input order", func(t *testing.T) {
		var (
			order []int
			mu    sync.Mutex
		)
		chain := reverseChain(3, &order, &mu)
		errs := []error{errA, errB, errC}
		fns := make([]fn, 3)
		for i := range fns {
			fns[i] = func(ctx context.Context) (int, error) {
				chain[i](ctx)
				return 0, errs[i]
			}
		}
		_, err := gather.Any(context.Background(), fns...)
		for _, e := range errs {
			if !errors.Is(err, e) {
				t.Errorf("errors.Is(Any() error, %v) = false; want true", e)
			}
		}
		if want := "a failed\nb failed\nc failed"; err == nil || err.Error() != want {
			t.Errorf("Any() error = %v; want %q", err, want)
		}
		if want := []int{2, 1, 0}; fmt.Sprint(order) != fmt.Sprint(want) {
			t.Errorf("finish order = %v; want %v", order, want)
		}
	})

	t.Run("a panic counts as a failure", func(t *testing.T) {
		_, err := gather.Any(context.Background(), failing(errA), func(context.Context) (int, error) { panic("boom") })
		var pe *gather.PanicError
		if !errors.Is(err, errA) || !errors.As(err, &pe) {
			t.Errorf("Any() error = %v; want errA joined with a *PanicError", err)
		}
		v, err := gather.Any(context.Background(), value(9), func(context.Context) (int, error) { panic("boom") })
		if v != 9 || err != nil {
			t.Errorf("Any() = %v, %v; want 9, nil", v, err)
		}
	})

	t.Run("no functions is ErrEmpty at once", func(t *testing.T) {
		if _, err := gather.Any[int](context.Background()); err != gather.ErrEmpty {
			t.Errorf("Any() error = %v; want ErrEmpty", err)
		}
	})

	t.Run("a nil function is an error naming its index and nothing starts", func(t *testing.T) {
		var calls atomic.Int32
		_, err := gather.Any(context.Background(), counting(&calls, value(1)), nil)
		if err == nil || err.Error() != "gather: fns[1] is nil" || !errors.Is(err, gather.ErrNilFunc) {
			t.Errorf("Any() error = %v; want %q", err, "gather: fns[1] is nil")
		}
		if n := calls.Load(); n != 0 {
			t.Errorf("%d functions ran; want 0", n)
		}
	})

	t.Run("a ctx already ended starts nothing and returns its cause", func(t *testing.T) {
		ctx, cancel := context.WithCancelCause(context.Background())
		cancel(errC)
		var calls atomic.Int32
		if _, err := gather.Any(ctx, counting(&calls, value(1))); err != errC {
			t.Errorf("Any() error = %v; want %v", err, errC)
		}
		if n := calls.Load(); n != 0 {
			t.Errorf("%d functions ran; want 0", n)
		}
	})
}

func TestMap(t *testing.T) {
	t.Run("outputs come back in input order whatever order the calls finish in", func(t *testing.T) {
		var (
			order []int
			mu    sync.Mutex
		)
		chain := reverseChain(5, &order, &mu)
		out, err := gather.Map(context.Background(), []int{0, 1, 2, 3, 4}, func(ctx context.Context, i int) (string, error) {
			v, _ := chain[i](ctx)
			return strconv.Itoa(v), nil
		})
		if err != nil || strings.Join(out, ",") != "0,10,20,30,40" {
			t.Errorf("Map() = %v, %v; want [0 10 20 30 40], nil", out, err)
		}
	})

	t.Run("with a limit no more than n calls ever run at once", func(t *testing.T) {
		const limit, items = 3, 40
		var (
			active, peak, calls atomic.Int32
			full                sync.WaitGroup // the first limit calls meet here: the limit is reached
		)
		full.Add(limit)
		_, err := gather.Map(context.Background(), make([]int, items), func(ctx context.Context, _ int) (int, error) {
			n := active.Add(1)
			defer active.Add(-1)
			for {
				p := peak.Load()
				if n <= p || peak.CompareAndSwap(p, n) {
					break
				}
			}
			if calls.Add(1) <= limit {
				full.Done()
				full.Wait()
			}
			runtime.Gosched()
			return 0, nil
		}, gather.WithLimit(limit))
		if err != nil {
			t.Fatalf("Map() error = %v; want nil", err)
		}
		if p := peak.Load(); p != limit {
			t.Errorf("peak running = %d; want %d", p, limit)
		}
	})

	t.Run("after a failure no new call starts and the running ones are awaited", func(t *testing.T) {
		var (
			calls, running atomic.Int32
			started        = make(chan struct{}, 1)
			cause          error
		)
		block := blocker(&running, started, &cause)
		out, err := gather.Map(context.Background(), make([]int, 10), func(ctx context.Context, _ int) (int, error) {
			switch calls.Add(1) {
			case 1:
				return block(ctx)
			case 2:
				<-started
				return 0, errA
			}
			return 0, nil
		}, gather.WithLimit(2))
		if err != errA || out != nil {
			t.Errorf("Map() = %v, %v; want nil, %v", out, err, errA)
		}
		if n := calls.Load(); n != 2 {
			t.Errorf("%d calls started; want 2 (none after the failure)", n)
		}
		if n := running.Load(); n != 0 || cause != errA {
			t.Errorf("sibling running = %d, cause %v; want 0, %v", n, cause, errA)
		}
	})

	t.Run("no call starts once a call has failed, even one whose goroutine was already started", func(t *testing.T) {
		// With one P the goroutines run one at a time, after Map has
		// started them all (up to the limit): the first to run fails, and
		// every later one must see the failure and not call fn.
		defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(1))
		for _, opts := range [][]gather.Option{nil, {gather.WithLimit(4)}} {
			var calls, late atomic.Int32
			_, err := gather.Map(context.Background(), make([]int, 16), func(ctx context.Context, _ int) (int, error) {
				calls.Add(1)
				if ctx.Err() != nil {
					late.Add(1)
				}
				return 0, errA
			}, opts...)
			if err != errA {
				t.Errorf("Map(%d options) error = %v; want %v", len(opts), err, errA)
			}
			if n := late.Load(); n != 0 {
				t.Errorf("Map(%d options): %d of %d calls started with their ctx already cancelled; want 0", len(opts), n, calls.Load())
			}
		}
	})

	t.Run("a limit below 1 is an error naming the option and nothing starts", func(t *testing.T) {
		for _, n := range []int{0, -1} {
			var calls atomic.Int32
			_, err := gather.Map(context.Background(), []int{1}, func(context.Context, int) (int, error) {
				calls.Add(1)
				return 0, nil
			}, gather.WithLimit(n))
			want := fmt.Sprintf("WithLimit(%d)", n)
			if err == nil || !strings.Contains(err.Error(), want) || !strings.HasPrefix(err.Error(), "gather: ") {
				t.Errorf("Map(WithLimit(%d)) error = %v; want a gather error naming %s", n, err, want)
			}
			if c := calls.Load(); c != 0 {
				t.Errorf("Map(WithLimit(%d)) ran %d calls; want 0", n, c)
			}
		}
	})

	t.Run("a nil fn is an error matching ErrNilFunc, a nil option panics", func(t *testing.T) {
		_, err := gather.Map[int, int](context.Background(), []int{1}, nil)
		if err == nil || err.Error() != "gather: fn is nil" || !errors.Is(err, gather.ErrNilFunc) {
			t.Errorf("Map(nil fn) error = %v; want %q", err, "gather: fn is nil")
		}
		defer func() {
			if r := recover(); r != "gather: nil Option passed to Map (opts[0])" {
				t.Errorf("Map(nil option) panicked with %v; want %q", r, "gather: nil Option passed to Map (opts[0])")
			}
		}()
		gather.Map(context.Background(), []int{1}, func(context.Context, int) (int, error) { return 0, nil }, nil)
	})

	t.Run("empty input returns an empty slice and nil", func(t *testing.T) {
		out, err := gather.Map(context.Background(), nil, func(context.Context, int) (int, error) { return 0, nil }, gather.WithLimit(2))
		if err != nil || out == nil || len(out) != 0 {
			t.Errorf("Map() = %#v, %v; want []int{}, nil", out, err)
		}
	})

	t.Run("a panic becomes a PanicError", func(t *testing.T) {
		_, err := gather.Map(context.Background(), []int{1, 2}, func(_ context.Context, i int) (int, error) {
			if i == 2 {
				panic("boom")
			}
			return i, nil
		})
		var pe *gather.PanicError
		if !errors.As(err, &pe) || pe.Value != "boom" {
			t.Errorf("Map() error = %v; want a *PanicError with value boom", err)
		}
	})

	t.Run("a ctx already ended starts nothing and returns its cause", func(t *testing.T) {
		ctx, cancel := context.WithCancelCause(context.Background())
		cancel(errC)
		var calls atomic.Int32
		_, err := gather.Map(ctx, []int{1, 2}, func(context.Context, int) (int, error) {
			calls.Add(1)
			return 0, nil
		}, gather.WithLimit(1))
		if err != errC || calls.Load() != 0 {
			t.Errorf("Map() error = %v after %d calls; want %v after 0", err, calls.Load(), errC)
		}
	})
}

// goid returns the current goroutine's id, parsed from its stack header.
func goid() string {
	buf := make([]byte, 64)
	buf = buf[:runtime.Stack(buf, false)]
	f := strings.Fields(string(buf))
	return f[1]
}

func TestAsCompleted(t *testing.T) {
	t.Run("results come in completion order, yielded from the loop's goroutine", func(t *testing.T) {
		const n = 5
		// Function i may finish only once the loop has seen function i+1:
		// the loop body releases gates, so the completion order is fixed.
		gates := make([]chan struct{}, n)
		fns := make([]fn, n)
		for i := range fns {
			gates[i] = make(chan struct{})
			fns[i] = func(context.Context) (int, error) {
				if i+1 < n {
					<-gates[i]
				}
				return i * 10, nil
			}
		}
		me := goid()
		var got []int
		for i, r := range gather.AsCompleted(context.Background(), fns...) {
			if g := goid(); g != me {
				t.Errorf("yield called on goroutine %s; want the loop's %s", g, me)
			}
			if r.Value != i*10 || r.Err != nil {
				t.Errorf("result %d = %+v; want {%d <nil>}", i, r, i*10)
			}
			got = append(got, i)
			if i > 0 {
				close(gates[i-1])
			}
		}
		if want := []int{4, 3, 2, 1, 0}; fmt.Sprint(got) != fmt.Sprint(want) {
			t.Errorf("yielded indices = %v; want %v", got, want)
		}
	})

	t.Run("a failure or a panic is a result and cancels nothing", func(t *testing.T) {
		seen := make(chan struct{})
		var ctxErr error
		fns := []fn{
			failing(errA),
			func(context.Context) (int, error) { panic("boom") },
			func(ctx context.Context) (int, error) {
				<-seen
				ctxErr = ctx.Err()
				return 1, nil
			},
		}
		results := map[int]gather.Result[int]{}
		for i, r := range gather.AsCompleted(context.Background(), fns...) {
			results[i] = r
			if len(results) == 2 {
				close(seen)
			}
		}
		var pe *gather.PanicError
		if results[0].Err != errA || !errors.As(results[1].Err, &pe) || results[2].Value != 1 || results[2].Err != nil {
			t.Errorf("results = %+v; want errA, a PanicError and 1", results)
		}
		if ctxErr != nil {
			t.Errorf("the last function's ctx.Err() = %v; want nil", ctxErr)
		}
	})

	t.Run("breaking out cancels the rest and waits for them before the loop ends", func(t *testing.T) {
		var (
			running atomic.Int32
			started = make(chan struct{}, 3)
			causes  [3]error
		)
		fns := []fn{
			blocker(&running, started, &causes[0]),
			func(context.Context) (int, error) {
				for range 3 {
					<-started
				}
				return 7, nil
			},
			blocker(&running, started, &causes[1]),
			blocker(&running, started, &causes[2]),
		}
		for i, r := range gather.AsCompleted(context.Background(), fns...) {
			if i != 1 || r.Value != 7 {
				t.Errorf("first result = %d, %+v; want 1, {7 <nil>}", i, r)
			}
			break
		}
		if n := running.Load(); n != 0 {
			t.Errorf("%d functions still running after the loop; want 0", n)
		}
		for i, c := range causes {
			if c != context.Canceled {
				t.Errorf("function %d saw cause %v; want context.Canceled", i, c)
			}
		}
	})

	t.Run("a panic in the loop body cancels the rest and waits for them", func(t *testing.T) {
		var (
			running atomic.Int32
			cause   error
		)
		func() {
			defer func() {
				if r := recover(); r != "body" {
					t.Errorf("recover() = %v; want body", r)
				}
			}()
			started := make(chan struct{}, 1)
			first := func(context.Context) (int, error) {
				<-started
				return 1, nil
			}
			for range gather.AsCompleted(context.Background(), first, blocker(&running, started, &cause)) {
				panic("body")
			}
		}()
		if n := running.Load(); n != 0 || cause != context.Canceled {
			t.Errorf("running = %d, cause %v; want 0, context.Canceled", n, cause)
		}
	})

	t.Run("a nil function's error naming its index comes first and the others run", func(t *testing.T) {
		var got []string
		for i, r := range gather.AsCompleted(context.Background(), value(1), nil) {
			got = append(got, fmt.Sprint(i, " ", r.Value, " ", r.Err))
		}
		if want := "[1 0 gather: fns[1] is nil 0 1 <nil>]"; fmt.Sprint(got) != want {
			t.Errorf("yielded %v; want %v", got, want)
		}
	})

	t.Run("empty input yields nothing", func(t *testing.T) {
		for i := range gather.AsCompleted[int](context.Background()) {
			t.Errorf("yielded %d; want nothing", i)
		}
	})

	t.Run("a ctx already ended starts nothing and yields its cause for each index", func(t *testing.T) {
		ctx, cancel := context.WithCancelCause(context.Background())
		cancel(errC)
		var calls atomic.Int32
		var got []int
		for i, r := range gather.AsCompleted(ctx, counting(&calls, value(1)), counting(&calls, value(2))) {
			if r.Err != errC {
				t.Errorf("result %d error = %v; want %v", i, r.Err, errC)
			}
			got = append(got, i)
		}
		if fmt.Sprint(got) != "[0 1]" || calls.Load() != 0 {
			t.Errorf("yielded %v after %d calls; want [0 1] after 0", got, calls.Load())
		}
	})

	t.Run("ranging again runs the functions again", func(t *testing.T) {
		var calls atomic.Int32
		seq := gather.AsCompleted(context.Background(), counting(&calls, value(1)))
		for range 2 {
			for range seq {
			}
		}
		if n := calls.Load(); n != 2 {
			t.Errorf("%d calls after ranging twice; want 2", n)
		}
	})
}

func TestCallerCancellationMatchesTheCause(t *testing.T) {
	shutdown := errors.New("shutting down")
	waitThenEcho := func(started chan<- struct{}) func(context.Context) (int, error) {
		return func(ctx context.Context) (int, error) {
			started <- struct{}{}
			<-ctx.Done()
			return 0, ctx.Err() // context.Canceled: says nothing of the cause
		}
	}
	for name, call := range map[string]func(context.Context, ...func(context.Context) (int, error)) (int, error){
		"Race": gather.Race[int],
		"Any":  gather.Any[int],
	} {
		t.Run(name+" returns an error matching the caller's cause when ctx ends midway", func(t *testing.T) {
			ctx, cancel := context.WithCancelCause(context.Background())
			started := make(chan struct{}, 2)
			go func() {
				<-started
				<-started
				cancel(shutdown)
			}()
			_, err := call(ctx, waitThenEcho(started), waitThenEcho(started))
			if !errors.Is(err, shutdown) || !errors.Is(err, context.Canceled) {
				t.Errorf("%s() = %v; want an error matching both %v and context.Canceled", name, err, shutdown)
			}
		})
	}
}

func TestNoGoroutineOutlivesTheCall(t *testing.T) {
	t.Run("Any's losers that never started have no goroutine left when it returns", func(t *testing.T) {
		// A goroutine that has just marked itself done may still be on its
		// way out when Any returns, so a single count proves little; a loser
		// left unawaited (cancelled before its goroutine ran) shows up as
		// many goroutines in most rounds. Count the rounds with more than a
		// couple left over.
		const rounds, fns = 50, 20
		bad := 0
		for range rounds {
			base := runtime.NumGoroutine()
			fs := make([]func(context.Context) (int, error), fns)
			for i := range fs {
				fs[i] = func(ctx context.Context) (int, error) { return i, nil }
			}
			if _, err := gather.Any(context.Background(), fs...); err != nil {
				t.Fatalf("Any() error = %v", err)
			}
			if runtime.NumGoroutine() > base+2 {
				bad++
			}
		}
		if bad > rounds/10 {
			t.Errorf("in %d of %d rounds more than 2 goroutines were left when Any returned; want its goroutines awaited", bad, rounds)
		}
	})
}

func TestNilCtx(t *testing.T) {
	var nilCtx context.Context
	fn := func(context.Context) (int, error) { return 1, nil }
	calls := map[string]func(){
		"All":     func() { gather.All(nilCtx, fn) },
		"Settled": func() { gather.Settled(nilCtx, fn) },
		"Race":    func() { gather.Race(nilCtx, fn) },
		"Any":     func() { gather.Any(nilCtx, fn) },
		"Map": func() {
			gather.Map(nilCtx, []int{1}, func(context.Context, int) (int, error) { return 1, nil })
		},
		"AsCompleted": func() { gather.AsCompleted(nilCtx, fn) },
	}
	for name, call := range calls {
		t.Run(name+" panics naming itself, not the package underneath", func(t *testing.T) {
			want := "gather: nil ctx passed to " + name
			defer func() {
				if r := recover(); r != want {
					t.Errorf("%s(nil ctx) panicked with %v; want %q", name, r, want)
				}
			}()
			call()
		})
	}
}
