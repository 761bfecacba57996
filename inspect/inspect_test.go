package inspect_test

import (
	"context"
	"errors"
	"slices"
	"strings"
	"testing"

	"go.uber.org/goleak"

	"github.com/async-patterns/async/executor"
	"github.com/async-patterns/async/gather"
	"github.com/async-patterns/async/inspect"
	"github.com/async-patterns/async/observe"
	"github.com/async-patterns/async/taskgroup"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// tracked turns tracking on for the test.
func tracked(t *testing.T) {
	t.Helper()
	inspect.Track(true)
	t.Cleanup(func() { inspect.Track(false) })
}

// find returns the last node of tr, in depth-first order, that matches:
// the newest, where earlier runs of a test left ended tasks of the same
// name.
func find(tr inspect.Tree, match func(*inspect.Node) bool) (*inspect.Node, int) {
	var found *inspect.Node
	depth := -1
	for d, n := range tr.All() {
		if match(n) {
			found, depth = n, d
		}
	}
	return found, depth
}

func findID(tr inspect.Tree, id observe.ID) *inspect.Node {
	n, _ := find(tr, func(n *inspect.Node) bool { return n.ID == id })
	return n
}

// child returns the child of n labelled l, or nil.
func child(n *inspect.Node, l string) *inspect.Node {
	if n == nil {
		return nil
	}
	for _, c := range n.Children {
		if c.Label() == l {
			return c
		}
	}
	return nil
}

func byLabel(l string) func(*inspect.Node) bool {
	return func(n *inspect.Node) bool { return n.Label() == l }
}

func TestSnapshot(t *testing.T) {
	t.Run("shows groups and their tasks with names, states and parents", func(t *testing.T) {
		tracked(t)
		ctx := context.Background()
		g := taskgroup.New(ctx, taskgroup.WithName("crawler"), taskgroup.WithLimit(2))
		release := make(chan struct{})
		started := make(chan struct{})
		g.GoNamed("fetch", func(ctx context.Context) error {
			close(started)
			<-release
			return nil
		})
		<-started
		tr := inspect.Snapshot()
		grp, _ := find(tr, byLabel("crawler"))
		if grp == nil || grp.Kind != "taskgroup" || grp.Gauges == nil || grp.Gauges.Running != 1 || grp.Gauges.Limit != 2 {
			t.Fatalf("group node = %+v; want a taskgroup \"crawler\" with running=1 limit=2", grp)
		}
		fetch := child(grp, "fetch")
		if fetch == nil || fetch.Kind != "task" || fetch.State != inspect.StateRunning || fetch.Parent != grp.ID || fetch.Source != "taskgroup" {
			t.Fatalf("fetch = %+v; want a running taskgroup task, child of the group", fetch)
		}
		if fetch.Func == "" || fetch.Age <= 0 || fetch.Running <= 0 {
			t.Errorf("fetch = %+v; want its function's symbol, an age and a running time", fetch)
		}
		close(release)
		if err := g.Wait(); err != nil {
			t.Fatal(err)
		}
		tr = inspect.Snapshot()
		if n, _ := find(tr, byLabel("crawler")); n != nil {
			t.Errorf("the group is still shown after Wait: %+v", n)
		}
		if n := findID(tr, fetch.ID); n == nil || n.State != inspect.StateDone {
			t.Errorf("ended task fetch = %+v; want it among the recently ended, done", n)
		}
	})

	t.Run("an unnamed task shows its function's symbol", func(t *testing.T) {
		tracked(t)
		ex := executor.New(executor.WithWorkers(1), executor.WithName("pool"))
		defer ex.Shutdown(context.Background())
		block := make(chan struct{})
		f := executor.Submit(context.Background(), ex, blockOn(block))
		named := executor.Submit(observe.WithTaskName(context.Background(), "second"), ex, blockOn(block))
		tr := inspect.Snapshot()
		pool, _ := find(tr, byLabel("pool"))
		if pool == nil || len(pool.Children) != 2 {
			t.Fatalf("executor node = %+v; want it with its two tasks", pool)
		}
		n := pool.Children[0]
		if n == nil || !strings.HasPrefix(n.Func, "github.com/async-patterns/async/inspect_test.") || !strings.Contains(n.Func, "blockOn") {
			t.Errorf("unnamed task = %+v; want the symbol of blockOn's closure", n)
		}
		if q := pool.Children[1]; q.Name != "second" || q.State != inspect.StateQueued {
			t.Errorf("task \"second\" = %+v; want it queued behind the first", q)
		}
		close(block)
		f.Wait(context.Background())
		named.Wait(context.Background())
	})

	t.Run("failed and cancelled tasks show their state", func(t *testing.T) {
		tracked(t)
		g := taskgroup.New(context.Background())
		g.GoNamed("broken", func(ctx context.Context) error { return errors.New("boom") })
		g.GoNamed("follower", func(ctx context.Context) error { <-ctx.Done(); return ctx.Err() })
		g.Wait()
		tr := inspect.Snapshot()
		if n, _ := find(tr, byLabel("broken")); n == nil || n.State != inspect.StateFailed {
			t.Errorf("broken = %+v; want failed", n)
		}
		if n, _ := find(tr, byLabel("follower")); n == nil || n.State != inspect.StateCancelled {
			t.Errorf("follower = %+v; want cancelled", n)
		}
	})

	t.Run("with tracking off, tasks are not shown", func(t *testing.T) {
		// With tracking off, a group registers only while an observer
		// watches (an unwatched group costs nothing): set one.
		observe.SetDefault(observe.ObserverFunc(func(context.Context, observe.Event) {}))
		defer observe.SetDefault(observe.Discard)
		g := taskgroup.New(context.Background(), taskgroup.WithName("quiet"))
		block := make(chan struct{})
		g.GoNamed("hidden", func(ctx context.Context) error { <-block; return nil })
		tr := inspect.Snapshot()
		if tr.Tracking {
			t.Error("Tracking = true; want false")
		}
		grp, _ := find(tr, byLabel("quiet"))
		if grp == nil || len(grp.Children) != 0 {
			t.Errorf("group = %+v; want it shown, with no tasks", grp)
		}
		close(block)
		g.Wait()
	})
}

func blockOn(c chan struct{}) func(context.Context) (int, error) {
	return func(ctx context.Context) (int, error) { <-c; return 0, nil }
}

func TestSnapshotGather(t *testing.T) {
	tracked(t)
	g := taskgroup.New(context.Background(), taskgroup.WithName("caller"))
	release := make(chan struct{})
	in := make(chan inspect.Tree)
	g.GoNamed("gathering", func(ctx context.Context) error {
		started := make(chan struct{}, 2)
		fn := func(ctx context.Context) (int, error) { started <- struct{}{}; <-release; return 1, nil }
		go func() {
			<-started
			<-started
			in <- inspect.Snapshot()
		}()
		_, err := gather.All(observe.WithTaskName(ctx, "fetch"), fn, fn)
		return err
	})
	tr := <-in
	close(release)
	if err := g.Wait(); err != nil {
		t.Fatal(err)
	}
	caller, _ := find(tr, byLabel("caller"))
	gathering := child(caller, "gathering")
	if gathering == nil {
		t.Fatalf("no task gathering under group caller in %+v", tr)
	}
	var names []string
	for _, n := range tr.All() {
		if n.Kind == "task" && n.Source == "gather" && strings.HasPrefix(n.Name, "fetch[") && n.State == inspect.StateRunning {
			names = append(names, n.Name)
			if !isBelow(tr, n, gathering.ID) {
				t.Errorf("gather task %+v is not below the task that called gather.All", n)
			}
		}
	}
	if len(names) != 2 || !slices.Contains(names, "fetch[0]") || !slices.Contains(names, "fetch[1]") {
		t.Errorf("running gather tasks %q; want fetch[0] and fetch[1]", names)
	}
}

// isBelow reports whether n has ancestor id in tr.
func isBelow(tr inspect.Tree, n *inspect.Node, id observe.ID) bool {
	for p := n.Parent; p != 0; {
		if p == id {
			return true
		}
		pn := findID(tr, p)
		if pn == nil {
			return false
		}
		p = pn.Parent
	}
	return false
}
