package taskgroup_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"testing/synctest"

	"go.uber.org/goleak"

	"github.com/async-patterns/async/internal/safe"
	"github.com/async-patterns/async/taskgroup"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

var (
	errA = errors.New("a failed")
	errB = errors.New("b failed")
)

// mustPanic runs f and returns the panic message, failing if f did not panic.
func mustPanic(t *testing.T, f func()) string {
	t.Helper()
	var msg string
	func() {
		defer func() {
			r := recover()
			if r == nil {
				t.Fatalf("call did not panic")
			}
			msg = fmt.Sprint(r)
		}()
		f()
	}()
	return msg
}

func TestFailureCancelsSiblings(t *testing.T) {
	t.Run("the first failure cancels the siblings with itself as the cause", func(t *testing.T) {
		g := taskgroup.New(context.Background())
		var causes [3]error
		started := make(chan struct{}, 3)
		for i := range 3 {
			g.Go(func(ctx context.Context) error {
				started <- struct{}{}
				<-ctx.Done()
				causes[i] = context.Cause(ctx)
				return ctx.Err()
			})
		}
		for range 3 {
			<-started
		}
		g.Go(func(ctx context.Context) error { return errA })
		err := g.Wait()
		if err != errA {
			t.Errorf("Wait() = %v; want %v (the siblings' context.Canceled left out)", err, errA)
		}
		for i, c := range causes {
			if c != errA {
				t.Errorf("sibling %d saw cause %v; want %v", i, c, errA)
			}
		}
	})

	t.Run("every real failure is joined, the first first", func(t *testing.T) {
		g := taskgroup.New(context.Background())
		bStarted := make(chan struct{})
		g.Go(func(ctx context.Context) error {
			close(bStarted)
			<-ctx.Done()
			return errB // a failure of its own, not the cancellation
		})
		<-bStarted
		g.Go(func(ctx context.Context) error { return errA })
		err := g.Wait()
		if !errors.Is(err, errA) || !errors.Is(err, errB) {
			t.Fatalf("Wait() = %v; want both %v and %v", err, errA, errB)
		}
		if got := err.Error(); got != "a failed\nb failed" {
			t.Errorf("Wait().Error() = %q; want %q", got, "a failed\nb failed")
		}
	})

	t.Run("a returned cause of the cancellation is not a second failure", func(t *testing.T) {
		g := taskgroup.New(context.Background())
		started := make(chan struct{})
		g.Go(func(ctx context.Context) error {
			close(started)
			<-ctx.Done()
			return fmt.Errorf("gave up: %w", context.Cause(ctx))
		})
		<-started
		g.Go(func(ctx context.Context) error { return errA })
		if err := g.Wait(); err != errA {
			t.Errorf("Wait() = %v; want %v alone", err, errA)
		}
	})

	t.Run("the parent's cancellation returns its cause", func(t *testing.T) {
		parentErr := errors.New("shutting down")
		parent, cancel := context.WithCancelCause(context.Background())
		g := taskgroup.New(parent)
		started := make(chan struct{})
		g.Go(func(ctx context.Context) error {
			close(started)
			<-ctx.Done()
			return ctx.Err()
		})
		<-started
		cancel(parentErr)
		if err := g.Wait(); err != parentErr {
			t.Errorf("Wait() = %v; want the parent's cause %v", err, parentErr)
		}
	})

	t.Run("failures win over the parent's cancellation", func(t *testing.T) {
		parent, cancel := context.WithCancel(context.Background())
		g := taskgroup.New(parent)
		g.Go(func(ctx context.Context) error {
			<-ctx.Done()
			return errA
		})
		cancel()
		if err := g.Wait(); err != errA {
			t.Errorf("Wait() = %v; want %v", err, errA)
		}
	})

	t.Run("Cancel makes Wait return nil when nothing failed", func(t *testing.T) {
		g := taskgroup.New(context.Background())
		started := make(chan struct{})
		var sawCause error
		g.Go(func(ctx context.Context) error {
			close(started)
			<-ctx.Done()
			sawCause = context.Cause(ctx)
			return ctx.Err()
		})
		<-started
		g.Cancel()
		if err := g.Wait(); err != nil {
			t.Errorf("Wait() = %v; want nil", err)
		}
		if sawCause != context.Canceled {
			t.Errorf("task saw cause %v; want context.Canceled", sawCause)
		}
	})

	t.Run("Cancel still reports a real failure", func(t *testing.T) {
		g := taskgroup.New(context.Background())
		g.Go(func(ctx context.Context) error {
			<-ctx.Done()
			return io.ErrUnexpectedEOF
		})
		g.Cancel()
		if err := g.Wait(); err != io.ErrUnexpectedEOF {
			t.Errorf("Wait() = %v; want %v", err, io.ErrUnexpectedEOF)
		}
	})

	t.Run("the group's ctx ends when Wait returns", func(t *testing.T) {
		g := taskgroup.New(context.Background())
		g.Go(func(ctx context.Context) error { return nil })
		if err := g.Wait(); err != nil {
			t.Fatalf("Wait() = %v; want nil", err)
		}
		if g.Context().Err() == nil {
			t.Errorf("Context().Err() = nil after Wait; want non-nil")
		}
	})
}

func TestPanics(t *testing.T) {
	t.Run("a panic becomes a PanicError and cancels the siblings", func(t *testing.T) {
		g := taskgroup.New(context.Background())
		started := make(chan struct{})
		g.Go(func(ctx context.Context) error {
			close(started)
			<-ctx.Done()
			return ctx.Err()
		})
		<-started
		g.Go(func(ctx context.Context) error { panic(io.EOF) })
		err := g.Wait()
		var pe *taskgroup.PanicError
		if !errors.As(err, &pe) {
			t.Fatalf("Wait() = %v; want a *PanicError", err)
		}
		if !errors.Is(err, io.EOF) {
			t.Errorf("errors.Is(err, io.EOF) = false; want true (Unwrap gives the panic's error)")
		}
		if !strings.Contains(string(pe.Stack), "taskgroup_test.go") {
			t.Errorf("PanicError.Stack does not show the panicking function:\n%s", pe.Stack)
		}
	})

	t.Run("runtime.Goexit in a task neither crashes nor hangs Wait", func(t *testing.T) {
		g := taskgroup.New(context.Background())
		g.Go(func(ctx context.Context) error {
			runtime.Goexit()
			return nil
		})
		err := g.Wait()
		var pe *taskgroup.PanicError
		if !errors.As(err, &pe) || pe.Value != safe.ErrGoexit {
			t.Fatalf("Wait() = %v; want a *PanicError for runtime.Goexit", err)
		}
	})

	t.Run("a panic after cancellation is still reported", func(t *testing.T) {
		g := taskgroup.New(context.Background())
		started := make(chan struct{})
		g.Go(func(ctx context.Context) error {
			close(started)
			<-ctx.Done()
			panic("late")
		})
		<-started
		g.Cancel()
		err := g.Wait()
		var pe *taskgroup.PanicError
		if !errors.As(err, &pe) || pe.Value != "late" {
			t.Errorf("Wait() = %v; want the *PanicError(late) despite Cancel", err)
		}
	})

	t.Run("a panic in a task of the zero Group is reported", func(t *testing.T) {
		var zero taskgroup.Group
		zero.Go(func(ctx context.Context) error { panic("zero") })
		if err := zero.Wait(); err == nil || !strings.Contains(err.Error(), "zero") {
			t.Errorf("Wait() = %v; want the panic", err)
		}
	})

	t.Run("a panic in a spawned task fails the task and the group", func(t *testing.T) {
		g := taskgroup.New(context.Background())
		task := taskgroup.Spawn(g, func(ctx context.Context) (int, error) { panic("spawned") })
		err := g.Wait()
		var pe *taskgroup.PanicError
		if !errors.As(err, &pe) || pe.Value != "spawned" {
			t.Fatalf("Wait() = %v; want *PanicError(spawned)", err)
		}
		if _, terr := task.Wait(context.Background()); terr != err {
			t.Errorf("Task.Wait() error = %v; want the same %v", terr, err)
		}
		if task.State() != taskgroup.Failed {
			t.Errorf("State() = %v; want failed", task.State())
		}
	})

	t.Run("runtime.Goexit in a spawned task resolves it", func(t *testing.T) {
		g := taskgroup.New(context.Background())
		task := taskgroup.Spawn(g, func(ctx context.Context) (int, error) {
			runtime.Goexit()
			return 1, nil
		})
		_ = g.Wait()
		_, err := task.Wait(context.Background())
		if !errors.Is(err, safe.ErrGoexit) {
			t.Errorf("Task.Wait() error = %v; want ErrGoexit inside a *PanicError", err)
		}
	})
}

func TestLimit(t *testing.T) {
	t.Run("no more than the limit run at once", func(t *testing.T) {
		const limit = 3
		g := taskgroup.New(context.Background(), taskgroup.WithLimit(limit))
		var active, peak atomic.Int32
		for range 50 {
			g.Go(func(ctx context.Context) error {
				n := active.Add(1)
				for {
					p := peak.Load()
					if n <= p || peak.CompareAndSwap(p, n) {
						break
					}
				}
				runtime.Gosched()
				active.Add(-1)
				return nil
			})
		}
		if err := g.Wait(); err != nil {
			t.Fatalf("Wait() = %v; want nil", err)
		}
		if p := peak.Load(); p > limit {
			t.Errorf("peak concurrency = %d; want <= %d", p, limit)
		}
	})

	t.Run("Go at the limit waits for a slot", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			g := taskgroup.New(context.Background(), taskgroup.WithLimit(1))
			release := make(chan struct{})
			g.Go(func(ctx context.Context) error { <-release; return nil })
			var secondRan atomic.Bool
			returned := make(chan struct{})
			go func() {
				g.Go(func(ctx context.Context) error { secondRan.Store(true); return nil })
				close(returned)
			}()
			synctest.Wait()
			select {
			case <-returned:
				t.Fatal("Go returned while the group was at its limit")
			default:
			}
			close(release)
			<-returned
			if err := g.Wait(); err != nil {
				t.Fatalf("Wait() = %v", err)
			}
			if !secondRan.Load() {
				t.Error("the second task never ran")
			}
		})
	})

	t.Run("Go at the limit gives up when the group is cancelled and starts nothing", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			g := taskgroup.New(context.Background(), taskgroup.WithLimit(1))
			g.Go(func(ctx context.Context) error { <-ctx.Done(); return ctx.Err() })
			var secondRan atomic.Bool
			returned := make(chan struct{})
			go func() {
				g.Go(func(ctx context.Context) error { secondRan.Store(true); return nil })
				close(returned)
			}()
			synctest.Wait()
			g.Cancel()
			<-returned
			if err := g.Wait(); err != nil {
				t.Fatalf("Wait() = %v; want nil", err)
			}
			if secondRan.Load() {
				t.Error("a task started after the group was cancelled")
			}
		})
	})

	t.Run("TryGo at the limit returns false", func(t *testing.T) {
		g := taskgroup.New(context.Background(), taskgroup.WithLimit(1))
		release := make(chan struct{})
		if !g.TryGo(func(ctx context.Context) error { <-release; return nil }) {
			t.Fatal("TryGo() = false below the limit; want true")
		}
		if g.TryGo(func(ctx context.Context) error { return nil }) {
			t.Error("TryGo() = true at the limit; want false")
		}
		close(release)
		if err := g.Wait(); err != nil {
			t.Fatalf("Wait() = %v", err)
		}
	})
}

func TestLifecycle(t *testing.T) {
	t.Run("after cancellation Go starts nothing and TryGo returns false", func(t *testing.T) {
		g := taskgroup.New(context.Background())
		g.Cancel()
		var ran atomic.Bool
		g.Go(func(ctx context.Context) error { ran.Store(true); return nil })
		if g.TryGo(func(ctx context.Context) error { ran.Store(true); return nil }) {
			t.Error("TryGo() = true after Cancel; want false")
		}
		if err := g.Wait(); err != nil {
			t.Errorf("Wait() = %v; want nil", err)
		}
		if ran.Load() {
			t.Error("a task ran after Cancel")
		}
	})

	t.Run("tasks can add tasks while Wait runs", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			g := taskgroup.New(context.Background())
			var count atomic.Int32
			var spawn func(depth int) func(context.Context) error
			spawn = func(depth int) func(context.Context) error {
				return func(ctx context.Context) error {
					count.Add(1)
					if depth < 5 {
						g.Go(spawn(depth + 1))
						g.Go(spawn(depth + 1))
					}
					return nil
				}
			}
			release := make(chan struct{})
			g.Go(func(ctx context.Context) error {
				<-release
				return spawn(0)(ctx)
			})
			waited := make(chan error)
			go func() { waited <- g.Wait() }()
			synctest.Wait() // Wait is blocked on the root task
			close(release)
			if err := <-waited; err != nil {
				t.Fatalf("Wait() = %v", err)
			}
			if got, want := count.Load(), int32(63); got != want {
				t.Errorf("tasks run = %d; want %d (all of them, before Wait returned)", got, want)
			}
		})
	})

	t.Run("Spawn waiting for a slot gives up when the group is cancelled", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			stop := errors.New("stop")
			parent, cancel := context.WithCancelCause(context.Background())
			g := taskgroup.New(parent, taskgroup.WithLimit(1))
			g.Go(func(ctx context.Context) error { <-ctx.Done(); return ctx.Err() })
			var ran atomic.Bool
			spawned := make(chan *taskgroup.Task[int])
			go func() {
				spawned <- taskgroup.Spawn(g, func(ctx context.Context) (int, error) { ran.Store(true); return 1, nil })
			}()
			synctest.Wait() // Spawn is blocked at the limit
			cancel(stop)
			task := <-spawned
			if _, err := task.Wait(context.Background()); err != stop || task.State() != taskgroup.Cancelled || ran.Load() {
				t.Errorf("Wait() error = %v in %v (ran %v); want %v, cancelled, not run", err, task.State(), ran.Load(), stop)
			}
			if err := g.Wait(); err != stop {
				t.Errorf("group Wait() = %v; want the parent's cause %v", err, stop)
			}
		})
	})

	t.Run("Go, TryGo and Spawn after Wait returned panic", func(t *testing.T) {
		g := taskgroup.New(context.Background())
		_ = g.Wait()
		fn := func(ctx context.Context) error { return nil }
		for name, call := range map[string]func(){
			"Go":    func() { g.Go(fn) },
			"TryGo": func() { g.TryGo(fn) },
			"Spawn": func() { taskgroup.Spawn(g, func(ctx context.Context) (int, error) { return 0, nil }) },
		} {
			msg := mustPanic(t, call)
			if !strings.Contains(msg, "taskgroup: "+name+" called after Wait returned") {
				t.Errorf("%s after Wait panicked with %q; want it to name the misuse", name, msg)
			}
		}
	})

	t.Run("the zero Group is valid", func(t *testing.T) {
		var g taskgroup.Group
		var n atomic.Int32
		for range 10 {
			g.Go(func(ctx context.Context) error { n.Add(1); return nil })
		}
		if err := g.Wait(); err != nil || n.Load() != 10 {
			t.Errorf("Wait() = %v with %d tasks run; want nil with 10", err, n.Load())
		}
	})

	t.Run("the zero Group cancels on failure", func(t *testing.T) {
		var g taskgroup.Group
		started := make(chan struct{})
		g.Go(func(ctx context.Context) error { close(started); <-ctx.Done(); return ctx.Err() })
		<-started
		g.Go(func(ctx context.Context) error { return errA })
		if err := g.Wait(); err != errA {
			t.Errorf("Wait() = %v; want %v", err, errA)
		}
	})
}

func TestBadInput(t *testing.T) {
	g := taskgroup.New(context.Background())
	defer g.Wait()
	cases := []struct {
		name string
		call func()
		want string
	}{
		{"Go with a nil fn", func() { g.Go(nil) }, "taskgroup: Go called with a nil fn"},
		{"TryGo with a nil fn", func() { g.TryGo(nil) }, "taskgroup: TryGo called with a nil fn"},
		{"Spawn with a nil fn", func() { taskgroup.Spawn[int](g, nil) }, "taskgroup: Spawn called with a nil fn"},
		{"Start with a nil fn", func() { taskgroup.Start[int](context.Background(), nil) }, "taskgroup: Start called with a nil fn"},
		{"Start with a nil ctx", func() {
			//lint:ignore SA1012 testing the nil check
			taskgroup.Start(nil, func(context.Context) (int, error) { return 0, nil })
		}, "taskgroup: nil ctx passed to Start"},
		{"New with a nil ctx", func() {
			//lint:ignore SA1012 testing the nil check
			taskgroup.New(nil)
		}, "taskgroup: nil ctx passed to New"},
		{"New with a nil Option", func() { taskgroup.New(context.Background(), nil) }, "taskgroup: nil Option passed to New"},
		{"Task.Wait with a nil ctx", func() {
			task := taskgroup.Start(context.Background(), func(context.Context) (int, error) { return 0, nil })
			var nilCtx context.Context
			defer task.Wait(context.Background())
			task.Wait(nilCtx)
		}, "taskgroup: nil ctx passed to Wait"},
		{"a second Group.Wait", func() {
			g := taskgroup.New(context.Background())
			g.Wait()
			g.Wait()
		}, "taskgroup: Wait called twice"},
		{"WithLimit(0)", func() { taskgroup.New(context.Background(), taskgroup.WithLimit(0)) }, "taskgroup: WithLimit(0): limit must be at least 1"},
		{"WithLimit(-1)", func() { taskgroup.New(context.Background(), taskgroup.WithLimit(-1)) }, "taskgroup: WithLimit(-1)"},
	}
	for _, c := range cases {
		t.Run(c.name+" panics naming the argument", func(t *testing.T) {
			if msg := mustPanic(t, c.call); !strings.Contains(msg, c.want) {
				t.Errorf("panic = %q; want it to contain %q", msg, c.want)
			}
		})
	}
}

func TestTask(t *testing.T) {
	t.Run("Spawn returns the value", func(t *testing.T) {
		g := taskgroup.New(context.Background())
		task := taskgroup.Spawn(g, func(ctx context.Context) (string, error) { return "hi", nil })
		v, err := task.Wait(context.Background())
		if v != "hi" || err != nil {
			t.Errorf("Wait() = %q, %v; want hi, nil", v, err)
		}
		if task.State() != taskgroup.Succeeded {
			t.Errorf("State() = %v; want succeeded", task.State())
		}
		if err := g.Wait(); err != nil {
			t.Errorf("group Wait() = %v", err)
		}
	})

	t.Run("a failing spawned task fails the group", func(t *testing.T) {
		g := taskgroup.New(context.Background())
		task := taskgroup.Spawn(g, func(ctx context.Context) (int, error) { return 0, errA })
		if err := g.Wait(); err != errA {
			t.Errorf("group Wait() = %v; want %v", err, errA)
		}
		if _, err := task.Wait(context.Background()); err != errA || task.State() != taskgroup.Failed {
			t.Errorf("Task.Wait() = %v in state %v; want %v, failed", err, task.State(), errA)
		}
	})

	t.Run("Cancel cancels one task, which ends Cancelled and is not a group failure", func(t *testing.T) {
		g := taskgroup.New(context.Background())
		started := make(chan struct{})
		victim := taskgroup.Spawn(g, func(ctx context.Context) (int, error) {
			close(started)
			<-ctx.Done()
			return 0, ctx.Err()
		})
		sibling := taskgroup.Spawn(g, func(ctx context.Context) (int, error) {
			<-victim.Done()
			return 7, ctx.Err() // the group's ctx is still live
		})
		<-started
		victim.Cancel()
		if err := g.Wait(); err != nil {
			t.Errorf("group Wait() = %v; want nil", err)
		}
		if victim.State() != taskgroup.Cancelled {
			t.Errorf("victim State() = %v; want cancelled", victim.State())
		}
		if _, err := victim.Wait(context.Background()); !errors.Is(err, context.Canceled) {
			t.Errorf("victim Wait() error = %v; want context.Canceled", err)
		}
		if v, err := sibling.Wait(context.Background()); v != 7 || err != nil {
			t.Errorf("sibling Wait() = %d, %v; want 7, nil (untouched by the victim's cancel)", v, err)
		}
	})

	t.Run("Wait gives up when its ctx ends without touching the task", func(t *testing.T) {
		g := taskgroup.New(context.Background())
		release, started := make(chan struct{}), make(chan struct{})
		task := taskgroup.Spawn(g, func(ctx context.Context) (int, error) {
			close(started)
			<-release
			return 42, ctx.Err()
		})
		<-started
		waitCtx, cancel := context.WithCancelCause(context.Background())
		stopErr := errors.New("stopped waiting")
		cancel(stopErr)
		if v, err := task.Wait(waitCtx); v != 0 || err != stopErr {
			t.Errorf("Wait(cancelled ctx) = %d, %v; want 0, %v", v, err, stopErr)
		}
		if task.State() != taskgroup.Running {
			t.Errorf("State() = %v; want running", task.State())
		}
		close(release)
		if v, err := task.Wait(context.Background()); v != 42 || err != nil {
			t.Errorf("Wait() = %d, %v; want 42, nil", v, err)
		}
		if err := g.Wait(); err != nil {
			t.Errorf("group Wait() = %v", err)
		}
	})

	t.Run("Wait with a live ctx returns the result", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			release := make(chan struct{})
			task := taskgroup.Start(ctx, func(ctx context.Context) (int, error) { <-release; return 5, nil })
			got := make(chan int)
			go func() {
				v, _ := task.Wait(ctx)
				got <- v
			}()
			synctest.Wait()
			close(release)
			if v := <-got; v != 5 {
				t.Errorf("Wait() = %d; want 5", v)
			}
		})
	})

	t.Run("Spawn on a cancelled group resolves Cancelled with the group's cause and never runs", func(t *testing.T) {
		g := taskgroup.New(context.Background())
		g.Go(func(ctx context.Context) error { return errA })
		<-g.Context().Done()
		var ran atomic.Bool
		task := taskgroup.Spawn(g, func(ctx context.Context) (int, error) { ran.Store(true); return 1, nil })
		<-task.Done()
		if _, err := task.Wait(context.Background()); err != errA {
			t.Errorf("Wait() error = %v; want the group's cause %v", err, errA)
		}
		if task.State() != taskgroup.Cancelled || ran.Load() {
			t.Errorf("State() = %v, ran = %v; want cancelled, false", task.State(), ran.Load())
		}
		if err := g.Wait(); err != errA {
			t.Errorf("group Wait() = %v; want %v", err, errA)
		}
	})

	t.Run("a spawned task sees the group's failure as its ctx cause", func(t *testing.T) {
		g := taskgroup.New(context.Background())
		started := make(chan struct{})
		task := taskgroup.Spawn(g, func(ctx context.Context) (error, error) {
			close(started)
			<-ctx.Done()
			return context.Cause(ctx), ctx.Err()
		})
		<-started
		g.Go(func(ctx context.Context) error { return errA })
		if err := g.Wait(); err != errA {
			t.Errorf("group Wait() = %v; want %v", err, errA)
		}
		cause, err := task.Wait(context.Background())
		if cause != errA || !errors.Is(err, context.Canceled) || task.State() != taskgroup.Cancelled {
			t.Errorf("task saw cause %v and returned %v in state %v; want %v, context.Canceled, cancelled", cause, err, task.State(), errA)
		}
	})

	t.Run("a ctx derived from a task ctx follows the task's cancellation", func(t *testing.T) {
		started := make(chan struct{})
		task := taskgroup.Start(context.Background(), func(ctx context.Context) (bool, error) {
			child, cancel := context.WithCancel(ctx)
			defer cancel()
			close(started)
			<-child.Done()
			return true, child.Err()
		})
		<-started
		task.Cancel()
		if ok, err := task.Wait(context.Background()); !ok || !errors.Is(err, context.Canceled) {
			t.Errorf("Wait() = %v, %v; want true, context.Canceled", ok, err)
		}
		if task.State() != taskgroup.Cancelled {
			t.Errorf("State() = %v; want cancelled", task.State())
		}
	})

	t.Run("a task ctx carries the parent's values and deadline", func(t *testing.T) {
		type key struct{}
		parent := context.WithValue(context.Background(), key{}, "v")
		parent, cancel := context.WithTimeout(parent, 3600e9)
		defer cancel()
		want, _ := parent.Deadline()
		task := taskgroup.Start(parent, func(ctx context.Context) (string, error) {
			d, ok := ctx.Deadline()
			if !ok || !d.Equal(want) {
				return "", fmt.Errorf("Deadline() = %v, %v; want %v, true", d, ok, want)
			}
			return ctx.Value(key{}).(string), nil
		})
		if v, err := task.Wait(context.Background()); v != "v" || err != nil {
			t.Errorf("Wait() = %q, %v; want v, nil", v, err)
		}
	})

	t.Run("Start is cancelled by its ctx", func(t *testing.T) {
		ctx, cancel := context.WithCancelCause(context.Background())
		stop := errors.New("stop")
		started := make(chan struct{})
		task := taskgroup.Start(ctx, func(ctx context.Context) (int, error) {
			close(started)
			<-ctx.Done()
			return 0, context.Cause(ctx)
		})
		<-started
		cancel(stop)
		if _, err := task.Wait(context.Background()); err != stop || task.State() != taskgroup.Cancelled {
			t.Errorf("Wait() error = %v in state %v; want %v, cancelled", err, task.State(), stop)
		}
	})

	t.Run("Done closes once the task finishes, for any number of watchers", func(t *testing.T) {
		release := make(chan struct{})
		task := taskgroup.Start(context.Background(), func(ctx context.Context) (int, error) { <-release; return 1, nil })
		var wg sync.WaitGroup
		for range 4 {
			wg.Go(func() { <-task.Done() })
		}
		close(release)
		wg.Wait()
		<-task.Done() // after resolution too
	})

	t.Run("State names", func(t *testing.T) {
		want := map[taskgroup.State]string{
			taskgroup.Pending: "pending", taskgroup.Running: "running", taskgroup.Succeeded: "succeeded",
			taskgroup.Failed: "failed", taskgroup.Cancelled: "cancelled", taskgroup.State(9): "State(9)",
		}
		for s, w := range want {
			if s.String() != w {
				t.Errorf("State(%d).String() = %q; want %q", int(s), s.String(), w)
			}
		}
	})
}

func TestAllocations(t *testing.T) {
	const n = 200
	noop := func(ctx context.Context) error { return nil }
	empty := testing.AllocsPerRun(20, func() {
		g := taskgroup.New(context.Background())
		_ = g.Wait()
	})
	t.Run("Go costs at most one allocation per task", func(t *testing.T) {
		a := testing.AllocsPerRun(20, func() {
			g := taskgroup.New(context.Background())
			for range n {
				g.Go(noop)
			}
			_ = g.Wait()
		})
		if per := (a - empty) / n; per > 1 {
			t.Errorf("Go allocates %.2f times per task; want at most 1", per)
		}
	})
	t.Run("Spawn costs at most two allocations per task", func(t *testing.T) {
		fn := func(ctx context.Context) (int, error) { return 1, nil }
		a := testing.AllocsPerRun(20, func() {
			g := taskgroup.New(context.Background())
			for range n {
				taskgroup.Spawn(g, fn)
			}
			_ = g.Wait()
		})
		if per := (a - empty) / n; per > 2 {
			t.Errorf("Spawn allocates %.2f times per task; want at most 2 (the handle and the goroutine)", per)
		}
	})
}
