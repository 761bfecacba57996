package gather_test

import (
	"context"
	"errors"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/async-patterns/async/gather"
	"github.com/async-patterns/async/internal/observetest"
	"github.com/async-patterns/async/observe"
)

func TestObserve(t *testing.T) {
	rec := &observetest.Recorder{}
	observe.SetDefault(rec)
	defer observe.SetDefault(observe.Discard)
	ctx := observe.WithTaskName(context.Background(), "fetch")
	boom := errors.New("boom")

	check := func(t *testing.T, want ...string) {
		t.Helper()
		got := observetest.Briefs(rec.Events())
		slices.Sort(got)
		slices.Sort(want)
		if !slices.Equal(got, want) {
			t.Errorf("events:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
		}
		rec.Reset()
	}
	t.Run("All reports each function once, as gather's, named name[i]", func(t *testing.T) {
		gather.All(ctx,
			func(ctx context.Context) (int, error) { return 1, nil },
			func(ctx context.Context) (int, error) { return 0, boom })
		check(t,
			`task.end outcome=ok source=gather task=fetch[0]`,
			`task.end outcome=failed source=gather task=fetch[1] err="boom"`)
	})
	t.Run("Settled, Any, Race and Map too", func(t *testing.T) {
		gather.Settled(context.Background(), func(ctx context.Context) (int, error) { panic("kaput") })
		check(t, `task.end outcome=panicked source=gather err="panic: kaput"`)
		gather.Any(ctx, func(ctx context.Context) (int, error) { return 1, nil })
		check(t, `task.end outcome=ok source=gather task=fetch[0]`)
		gather.Race(ctx, func(ctx context.Context) (int, error) { return 1, nil })
		check(t, `task.end outcome=ok source=gather task=fetch[0]`)
		gather.Map(ctx, []int{1, 2}, func(ctx context.Context, i int) (int, error) { return i, nil })
		check(t, `task.end outcome=ok source=gather task=fetch[0]`, `task.end outcome=ok source=gather task=fetch[1]`)
	})
	t.Run("with a hook, a call's functions are tracked under the call's object", func(t *testing.T) {
		observe.SetDefault(observe.Discard)
		defer observe.SetDefault(rec)
		h := &hook{}
		observe.SetTaskHook(h)
		defer observe.SetTaskHook(nil)
		var inCall observe.ID
		gather.All(context.Background(), func(ctx context.Context) (int, error) {
			for o := range observe.Objects() {
				if o.Kind == "gather" && o.Name == "All" {
					inCall = o.ID
				}
			}
			return 0, nil
		})
		if len(h.infos) != 1 || h.infos[0].Source != "gather" || h.infos[0].Parent != inCall || inCall == 0 {
			t.Errorf("tracked %+v; want one gather task whose parent is the All call's object %d", h.infos, inCall)
		}
	})
}

type hook struct {
	mu    sync.Mutex
	infos []observe.TaskInfo
}

func (h *hook) TaskQueued(_ context.Context, ti observe.TaskInfo) observe.TaskTracker {
	h.mu.Lock()
	h.infos = append(h.infos, ti)
	h.mu.Unlock()
	return nil
}
