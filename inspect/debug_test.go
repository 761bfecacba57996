package inspect_test

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/async-patterns/async/executor"
	"github.com/async-patterns/async/inspect"
	"github.com/async-patterns/async/memo"
	"github.com/async-patterns/async/observe"
	"github.com/async-patterns/async/taskgroup"
)

// problems collects what debug mode reports, for one test.
type problems struct {
	mu  sync.Mutex
	got []*inspect.Problem
	c   chan struct{} // a token per report
}

func debugging(t *testing.T) *problems {
	t.Helper()
	p := &problems{c: make(chan struct{}, 64)}
	observe.SetDefault(observe.ObserverFunc(func(ctx context.Context, e observe.Event) {
		if e.Kind != observe.Debug {
			return
		}
		pr, ok := e.Err.(*inspect.Problem)
		if !ok || e.Source != "inspect" {
			t.Errorf("debug event %+v; want Source inspect and an *inspect.Problem", e)
			return
		}
		p.mu.Lock()
		p.got = append(p.got, pr)
		p.mu.Unlock()
		p.c <- struct{}{}
	}))
	inspect.SetDebug(true)
	t.Cleanup(func() {
		inspect.SetDebug(false)
		inspect.SetSlowAfter(0)
		inspect.SetStuckAfter(100 * time.Millisecond)
		observe.SetDefault(observe.Discard)
	})
	return p
}

// next waits for a report; collect makes the garbage collector run while
// it waits, for the reports made when something is collected.
func (p *problems) next(t *testing.T, collect bool) *inspect.Problem {
	t.Helper()
	deadline := time.After(10 * time.Second)
	for {
		if collect {
			runtime.GC()
		}
		select {
		case <-p.c:
			p.mu.Lock()
			defer p.mu.Unlock()
			return p.got[len(p.got)-1]
		case <-deadline:
			t.Fatal("no problem reported within 10s")
		case <-time.After(10 * time.Millisecond):
		}
	}
}

// none checks that nothing more is reported over d (with collections).
func (p *problems) none(t *testing.T, d time.Duration) {
	t.Helper()
	end := time.After(d)
	for {
		runtime.GC()
		select {
		case <-p.c:
			p.mu.Lock()
			defer p.mu.Unlock()
			t.Fatalf("reported again: %v", p.got[len(p.got)-1])
		case <-end:
			return
		case <-time.After(5 * time.Millisecond):
		}
	}
}

func TestDebugStuckAfterCancel(t *testing.T) {
	p := debugging(t)
	inspect.SetStuckAfter(20 * time.Millisecond)
	g := taskgroup.New(context.Background())
	release := make(chan struct{})
	g.GoNamed("stubborn", func(ctx context.Context) error {
		ignoresCancellation(release)
		return nil
	})
	g.GoNamed("polite", func(ctx context.Context) error { <-ctx.Done(); return ctx.Err() })
	g.Cancel()
	pr := p.next(t, false)
	if pr.What != inspect.ProblemStuck || pr.Kind != "task" || pr.Name != "stubborn" {
		t.Errorf("reported %+v; want %q for task stubborn", pr, inspect.ProblemStuck)
	}
	if !strings.Contains(pr.Created, "inspect_test.TestDebugStuckAfterCancel(") {
		t.Errorf("creation stack:\n%s\nwant the test's frame", pr.Created)
	}
	if !strings.Contains(pr.Stack, "inspect_test.ignoresCancellation(") || !strings.HasPrefix(pr.Stack, "goroutine ") {
		t.Errorf("goroutine stack:\n%s\nwant the stuck goroutine, in ignoresCancellation", pr.Stack)
	}
	p.none(t, 100*time.Millisecond)
	close(release)
	g.Wait()
	p.none(t, 50*time.Millisecond)
}

//go:noinline
func ignoresCancellation(release chan struct{}) { <-release }

func TestDebugSlow(t *testing.T) {
	p := debugging(t)
	inspect.SetSlowAfter(20 * time.Millisecond)
	ex := executor.New(executor.WithWorkers(1))
	defer ex.Shutdown(context.Background())
	release := make(chan struct{})
	fast := executor.Submit(observe.WithTaskName(context.Background(), "fast"), ex, func(ctx context.Context) (int, error) { return 1, nil })
	fast.Wait(context.Background())
	f := executor.Submit(observe.WithTaskName(context.Background(), "crunch"), ex, func(ctx context.Context) (int, error) {
		slowWork(release)
		return 0, nil
	})
	pr := p.next(t, false)
	if pr.What != inspect.ProblemSlow || pr.Name != "crunch" {
		t.Errorf("reported %+v; want %q for task crunch", pr, inspect.ProblemSlow)
	}
	if !strings.Contains(pr.Created, "inspect_test.TestDebugSlow(") || !strings.Contains(pr.Stack, "inspect_test.slowWork(") {
		t.Errorf("stacks:\ncreated:\n%s\ngoroutine:\n%s\nwant the test's frame and slowWork's", pr.Created, pr.Stack)
	}
	p.none(t, 80*time.Millisecond)
	close(release)
	f.Wait(context.Background())
}

//go:noinline
func slowWork(release chan struct{}) { <-release }

var errLost = errors.New("lost failure")

func TestDebugUnreadFailure(t *testing.T) {
	t.Run("a future whose failure nobody read", func(t *testing.T) {
		p := debugging(t)
		ex := executor.New(executor.WithWorkers(1))
		submitAndForget(ex)
		ex.Shutdown(context.Background())
		pr := p.next(t, true)
		if pr.What != inspect.ProblemUnread || !errors.Is(pr, errLost) {
			t.Errorf("reported %+v; want %q with the failure", pr, inspect.ProblemUnread)
		}
		if !strings.Contains(pr.Created, "inspect_test.submitAndForget(") {
			t.Errorf("creation stack:\n%s\nwant submitAndForget's frame", pr.Created)
		}
		p.none(t, 100*time.Millisecond)
	})
	t.Run("a started task whose failure nobody read", func(t *testing.T) {
		p := debugging(t)
		startAndForget()
		pr := p.next(t, true)
		if pr.What != inspect.ProblemUnread || !errors.Is(pr, errLost) || !strings.Contains(pr.Created, "inspect_test.startAndForget(") {
			t.Errorf("reported %+v; want %q, made in startAndForget", pr, inspect.ProblemUnread)
		}
		p.none(t, 100*time.Millisecond)
	})
	t.Run("failures that were read, and successes, are not reported", func(t *testing.T) {
		p := debugging(t)
		ex := executor.New(executor.WithWorkers(1))
		f := executor.Submit(context.Background(), ex, func(ctx context.Context) (int, error) { return 0, errLost })
		f.Wait(context.Background())
		executor.Submit(context.Background(), ex, func(ctx context.Context) (int, error) { return 1, nil })
		g := taskgroup.New(context.Background())
		taskgroup.Spawn(g, func(ctx context.Context) (int, error) { return 0, errLost }) // the group's Wait returns it
		g.Wait()
		ex.Shutdown(context.Background())
		p.none(t, 200*time.Millisecond)
	})
}

//go:noinline
func submitAndForget(ex *executor.Executor) {
	f := executor.Submit(context.Background(), ex, func(ctx context.Context) (int, error) { return 0, errLost })
	<-f.Done()
}

//go:noinline
func startAndForget() {
	t := taskgroup.Start(context.Background(), func(ctx context.Context) (int, error) { return 0, errLost })
	<-t.Done()
}

func TestDebugNotWaited(t *testing.T) {
	p := debugging(t)
	forgetGroup()
	pr := p.next(t, true)
	if pr.What != inspect.ProblemNotClosed || pr.Kind != "taskgroup" || pr.Name != "forgotten" {
		t.Errorf("reported %+v; want %q for taskgroup forgotten", pr, inspect.ProblemNotClosed)
	}
	if !strings.HasPrefix(pr.Created, "github.com/async-patterns/async/taskgroup.New(") || !strings.Contains(pr.Created, "inspect_test.forgetGroup(") {
		t.Errorf("creation stack:\n%s\nwant it to open with taskgroup.New, called from forgetGroup", pr.Created)
	}
	p.none(t, 100*time.Millisecond)

	waited := taskgroup.New(context.Background(), taskgroup.WithName("waited"))
	waited.Go(func(ctx context.Context) error { return nil })
	waited.Wait()
	p.none(t, 100*time.Millisecond)
}

//go:noinline
func forgetGroup() {
	g := taskgroup.New(context.Background(), taskgroup.WithName("forgotten"))
	done := make(chan struct{})
	g.Go(func(ctx context.Context) error { close(done); return nil })
	<-done
}

func TestDebugCacheNotClosed(t *testing.T) {
	p := debugging(t)
	forgetCache()
	pr := p.next(t, true)
	if pr.What != inspect.ProblemNotClosed || pr.Kind != "memo" || pr.Name != "forgotten-cache" || !strings.Contains(pr.Created, "inspect_test.forgetCache(") {
		t.Errorf("reported %+v; want %q for memo forgotten-cache, made in forgetCache", pr, inspect.ProblemNotClosed)
	}
	p.none(t, 100*time.Millisecond)
	c := memo.New(func(ctx context.Context, k int) (int, error) { return k, nil }, memo.WithName("closed-cache"))
	c.Get(context.Background(), 1)
	c.Close()
	p.none(t, 100*time.Millisecond)
}

//go:noinline
func forgetCache() {
	c := memo.New(func(ctx context.Context, k int) (int, error) { return k, nil }, memo.WithName("forgotten-cache"))
	c.Get(context.Background(), 1)
}

func TestDebugToSlogByDefault(t *testing.T) {
	buf := new(lockedBuffer)
	reported := make(chan struct{})
	var once sync.Once
	w := writerFunc(func(p []byte) (int, error) {
		n, err := buf.Write(p)
		if strings.Contains(string(p), "task ignores cancellation") {
			once.Do(func() { close(reported) })
		}
		return n, err
	})
	old := slog.Default()
	slog.SetDefault(slog.New(slog.NewTextHandler(w, nil)))
	defer slog.SetDefault(old)
	inspect.SetDebug(true)
	defer inspect.SetDebug(false)
	inspect.SetStuckAfter(10 * time.Millisecond)
	defer inspect.SetStuckAfter(100 * time.Millisecond)

	g := taskgroup.New(context.Background())
	release := make(chan struct{})
	g.GoNamed("unobserved", func(ctx context.Context) error { ignoresCancellation(release); return nil })
	g.Cancel()
	select {
	case <-reported:
	case <-time.After(10 * time.Second): // the assertions below say what is missing
	}
	close(release)
	g.Wait()
	out := buf.String()
	if !strings.Contains(out, "level=WARN") || !strings.Contains(out, `msg="inspect: debug mode found a problem"`) || !strings.Contains(out, "name=unobserved") || !strings.Contains(out, "inspect_test.ignoresCancellation") || !strings.Contains(out, "created=") {
		t.Errorf("slog's default logger got:\n%s\nwant a Warn record for task unobserved with both stacks", out)
	}
}

func TestDebugFromEnvironment(t *testing.T) {
	if os.Getenv("INSPECT_CHILD") == "1" {
		if !inspect.Debugging() {
			fmt.Println("debug mode off")
			os.Exit(1)
		}
		return
	}
	cmd := exec.Command(os.Args[0], "-test.run=^TestDebugFromEnvironment$")
	cmd.Env = append(os.Environ(), "INSPECT_CHILD=1", "ASYNCDEBUG=1")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Errorf("with ASYNCDEBUG=1, Debugging() is false at start: %v\n%s", err, out)
	}
}

// TestDebugShutdownNow runs debug mode over executors stopped with
// ShutdownNow while their fire-and-forget tasks run: the watch debug mode
// puts on a task's ctx must not race with the worker reusing that ctx for
// its next task (run with -race).
func TestDebugShutdownNow(t *testing.T) {
	debugging(t)
	for range 20 {
		ex := executor.New(executor.WithWorkers(2))
		started := make(chan struct{}, 4)
		for range 4 {
			ex.Go(context.Background(), func(ctx context.Context) error {
				started <- struct{}{}
				<-ctx.Done()
				return ctx.Err()
			})
		}
		<-started
		ex.ShutdownNow()
		if err := ex.Shutdown(context.Background()); err != nil {
			t.Fatalf("Shutdown() = %v; want nil", err)
		}
	}
}

// TestDebugExecutorNotShutDown drops an executor with a task running and
// one queued: it is reported once, with the stack that made it, and then
// closed as Shutdown closes it (the queued task still runs, the workers
// exit). Executors shut down, also through a deferred method value, are
// not reported.
func TestDebugExecutorNotShutDown(t *testing.T) {
	p := debugging(t)
	release, ranQueued := forgetExecutor()
	pr := p.next(t, true)
	if pr.What != inspect.ProblemNotClosed || pr.Kind != "executor" || pr.Name != "forgotten-executor" {
		t.Errorf("reported %+v; want %q for executor forgotten-executor", pr, inspect.ProblemNotClosed)
	}
	if !strings.HasPrefix(pr.Created, "github.com/async-patterns/async/executor.New(") || !strings.Contains(pr.Created, "inspect_test.forgetExecutor(") {
		t.Errorf("creation stack:\n%s\nwant it to open with executor.New, called from forgetExecutor", pr.Created)
	}
	close(release)
	select {
	case <-ranQueued: // closed as Shutdown closes it: what was queued still runs
	case <-time.After(10 * time.Second):
		t.Fatal("the queued task of the collected executor never ran")
	}
	p.none(t, 100*time.Millisecond)

	shut := executor.New(executor.WithWorkers(1), executor.WithName("shut-executor"))
	shut.Go(context.Background(), func(ctx context.Context) error { return nil })
	if err := shut.Shutdown(context.Background()); err != nil {
		t.Fatal(err)
	}
	deferShutdown()
	p.none(t, 100*time.Millisecond)
}

// forgetExecutor makes an executor with a task running (until release is
// closed) and one queued, and drops it without Shutdown. ranQueued is
// closed when the queued task runs.
//
//go:noinline
func forgetExecutor() (release, ranQueued chan struct{}) {
	ex := executor.New(executor.WithWorkers(1), executor.WithName("forgotten-executor"))
	started := make(chan struct{})
	release, ranQueued = make(chan struct{}), make(chan struct{})
	ex.Go(context.Background(), func(ctx context.Context) error {
		close(started)
		<-release
		return nil
	})
	ex.Go(context.Background(), func(ctx context.Context) error { close(ranQueued); return nil })
	<-started
	return release, ranQueued
}

// deferShutdown shuts its executor down with a deferred method value and
// collects garbage before that runs: the method value must keep the
// executor alive, or debug mode would report it as never shut down.
//
//go:noinline
func deferShutdown() {
	ex := executor.New(executor.WithWorkers(1), executor.WithName("deferred-shutdown"))
	defer ex.Shutdown(context.Background())
	ex.Go(context.Background(), func(ctx context.Context) error { return nil })
	for range 5 {
		runtime.GC()
		time.Sleep(time.Millisecond) // let cleanups run
	}
}

// writerFunc is an io.Writer made of a function.
type writerFunc func(p []byte) (int, error)

func (f writerFunc) Write(p []byte) (int, error) { return f(p) }
