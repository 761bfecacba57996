package taskgroup_test

import (
	"context"
	"errors"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/async-patterns/async/internal/observetest"
	"github.com/async-patterns/async/observe"
	"github.com/async-patterns/async/taskgroup"
)

func findObject(id observe.ID) (observe.Object, bool) {
	for o := range observe.Objects() {
		if o.ID == id {
			return o, true
		}
	}
	return observe.Object{}, false
}

func TestObserve(t *testing.T) {
	t.Run("each task's end is reported with its outcome, a panic with its stack", func(t *testing.T) {
		rec := &observetest.Recorder{}
		g := taskgroup.New(context.Background(), taskgroup.WithName("crawl"), taskgroup.WithObserver(rec))
		failed := make(chan struct{})
		g.Go(func(ctx context.Context) error { return nil })
		g.GoNamed("fetcher", func(ctx context.Context) error { <-failed; <-ctx.Done(); return ctx.Err() })
		g.Go(func(ctx context.Context) error { defer close(failed); return errors.New("bad page") })
		if err := g.Wait(); err == nil || err.Error() != "bad page" {
			t.Fatalf("Wait() = %v; want bad page", err)
		}
		got := observetest.Briefs(rec.Events())
		slices.Sort(got)
		want := []string{
			`task.end outcome=cancelled source=taskgroup name=crawl task=fetcher err="context canceled"`,
			`task.end outcome=failed source=taskgroup name=crawl err="bad page"`,
			`task.end outcome=ok source=taskgroup name=crawl`,
		}
		if !slices.Equal(got, want) {
			t.Errorf("events:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
		}
	})
	t.Run("a panic is reported as panicked and still reaches Wait as a PanicError", func(t *testing.T) {
		rec := &observetest.Recorder{}
		g := taskgroup.New(context.Background(), taskgroup.WithObserver(rec))
		taskgroup.SpawnNamed(g, "boom", func(ctx context.Context) (int, error) { panic("kaput") })
		err := g.Wait()
		var pe *taskgroup.PanicError
		if !errors.As(err, &pe) || pe.Value != "kaput" || !strings.Contains(string(pe.Stack), "TestObserve") {
			t.Fatalf("Wait() = %v; want a PanicError for kaput with the task's stack", err)
		}
		es := rec.Events()
		if len(es) != 1 || observetest.Brief(es[0]) != `task.end outcome=panicked source=taskgroup task=boom err="panic: kaput"` {
			t.Fatalf("events = %v", observetest.Briefs(es))
		}
		if es[0].Err != error(pe) {
			t.Errorf("the event's error is not the PanicError Wait returned")
		}
	})
	t.Run("a task started alone reports to the default observer", func(t *testing.T) {
		rec := &observetest.Recorder{}
		observe.SetDefault(rec)
		defer observe.SetDefault(observe.Discard)
		task := taskgroup.Start(context.Background(), func(ctx context.Context) (int, error) { return 1, nil })
		task.Wait(context.Background())
		if got := observetest.Briefs(rec.Events()); len(got) != 1 || got[0] != "task.end outcome=ok source=taskgroup" {
			t.Errorf("events = %v", got)
		}
	})
	t.Run("a task started alone takes its name from observe.WithTaskName", func(t *testing.T) {
		rec := &observetest.Recorder{}
		observe.SetDefault(rec)
		defer observe.SetDefault(observe.Discard)
		task := taskgroup.Start(observe.WithTaskName(context.Background(), "alone"), func(ctx context.Context) (int, error) { return 1, nil })
		task.Wait(context.Background())
		if got := observetest.Briefs(rec.Events()); len(got) != 1 || got[0] != "task.end outcome=ok source=taskgroup task=alone" {
			t.Errorf("events = %v", got)
		}
	})
	t.Run("with nothing set a group is not listed", func(t *testing.T) {
		g := taskgroup.New(context.Background(), taskgroup.WithName("unwatched"))
		defer g.Wait()
		if _, ok := findByName("unwatched"); ok {
			t.Error("a group made with nothing set is listed")
		}
	})
	t.Run("the group is listed while it runs, with its tasks running, and leaves at Wait", func(t *testing.T) {
		observe.SetDefault(observe.ObserverFunc(func(context.Context, observe.Event) {}))
		defer observe.SetDefault(observe.Discard)
		g := taskgroup.New(context.Background(), taskgroup.WithName("listed"), taskgroup.WithLimit(4))
		release := make(chan struct{})
		started := make(chan struct{}, 2)
		var inner observe.ID
		var once sync.Once
		for range 2 {
			g.Go(func(ctx context.Context) error {
				once.Do(func() {
					ig := taskgroup.New(ctx, taskgroup.WithName("inner"))
					defer ig.Wait()
					o, _ := findByName("inner")
					inner = o.Parent
				})
				started <- struct{}{}
				<-release
				return nil
			})
		}
		<-started
		<-started
		o, ok := findByName("listed")
		if !ok || o.Kind != "taskgroup" || o.Gauges.Running != 2 || o.Gauges.Limit != 4 {
			t.Errorf("Object = %+v, listed %v; want kind taskgroup, 2 running, limit 4", o, ok)
		}
		if inner != o.ID {
			t.Errorf("a group made in a task has parent %d; want the outer group %d", inner, o.ID)
		}
		close(release)
		g.Wait()
		if _, ok := findObject(o.ID); ok {
			t.Error("the group is still listed after Wait")
		}
	})
}

func findByName(name string) (observe.Object, bool) {
	for o := range observe.Objects() {
		if o.Name == name {
			return o, true
		}
	}
	return observe.Object{}, false
}

// tracker records a task hook's calls, as package inspect would.
type tracker struct {
	mu    sync.Mutex
	log   []string
	infos []observe.TaskInfo
}

func (tr *tracker) TaskQueued(_ context.Context, ti observe.TaskInfo) observe.TaskTracker {
	tr.mu.Lock()
	defer tr.mu.Unlock()
	tr.infos = append(tr.infos, ti)
	tr.log = append(tr.log, "queued "+ti.Name)
	return &taskLog{tr: tr, name: ti.Name, id: ti.ID}
}

type taskLog struct {
	tr   *tracker
	name string
	id   observe.ID
}

func (l *taskLog) TaskStarted(ctx context.Context) {
	l.tr.mu.Lock()
	defer l.tr.mu.Unlock()
	ok := observe.ObjectFrom(ctx) == l.id
	l.tr.log = append(l.tr.log, "started "+l.name+map[bool]string{true: "", false: " (ctx without its ID)"}[ok])
}

func (l *taskLog) TaskEnded(o observe.Outcome, err error) {
	l.tr.mu.Lock()
	defer l.tr.mu.Unlock()
	l.tr.log = append(l.tr.log, "ended "+l.name+" "+o.String())
}

func namedTask(ctx context.Context) error { return nil }

func TestTaskHook(t *testing.T) {
	tr := &tracker{}
	observe.SetTaskHook(tr)
	defer observe.SetTaskHook(nil)
	g := taskgroup.New(context.Background(), taskgroup.WithName("tracked"))
	g.GoNamed("first", namedTask)
	g.Wait()
	taskgroup.Start(context.Background(), func(ctx context.Context) (int, error) { return 0, errors.New("x") }).Wait(context.Background())
	taskgroup.Start(observe.WithTaskName(context.Background(), "alone"), func(ctx context.Context) (int, error) { return 0, nil }).Wait(context.Background())

	want := "queued first, started first, ended first ok, queued , started , ended  failed, queued alone, started alone, ended alone ok"
	if got := strings.Join(tr.log, ", "); got != want {
		t.Errorf("hook saw %q; want %q", got, want)
	}
	ti := tr.infos[0]
	if ti.Source != "taskgroup" || ti.ID == 0 || ti.Parent == 0 || !strings.HasSuffix(observe.FuncName(ti.Func), "taskgroup_test.namedTask") {
		t.Errorf("TaskInfo = %+v (func %s); want source taskgroup, an ID, the group as parent, namedTask", ti, observe.FuncName(ti.Func))
	}
}
