package executor_test

import (
	"context"
	"errors"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/async-patterns/async/executor"
	"github.com/async-patterns/async/internal/observetest"
	"github.com/async-patterns/async/observe"
)

func TestObserve(t *testing.T) {
	t.Run("each task's end is reported, and a refused submit as rejected", func(t *testing.T) {
		rec := &observetest.Recorder{}
		ex := executor.New(executor.WithWorkers(1), executor.WithName("pool"), executor.WithObserver(rec),
			executor.WithErrorHandler(func(error) {}))
		ctx := context.Background()
		ex.Go(ctx, func(ctx context.Context) error { return nil })
		ex.Go(ctx, func(ctx context.Context) error { return errors.New("bad input") })
		ex.Go(ctx, func(ctx context.Context) error { panic("kaput") })
		f := executor.Submit(observe.WithTaskName(ctx, "resize"), ex, func(ctx context.Context) (int, error) { return 7, nil })
		if v, err := f.Wait(ctx); v != 7 || err != nil {
			t.Fatalf("Wait() = %v, %v", v, err)
		}
		ex.Shutdown(ctx)
		if _, err := executor.TrySubmit(ex, func(ctx context.Context) (int, error) { return 0, nil }); !errors.Is(err, executor.ErrClosed) {
			t.Fatalf("TrySubmit after Shutdown = %v", err)
		}
		got := observetest.Briefs(rec.Events())
		want := []string{
			`task.end outcome=ok source=executor name=pool`,
			`task.end outcome=failed source=executor name=pool err="bad input"`,
			`task.end outcome=panicked source=executor name=pool err="panic: kaput"`,
			`task.end outcome=ok source=executor name=pool task=resize`,
			`task.end outcome=rejected source=executor name=pool err="executor: executor is shut down"`,
		}
		if !slices.Equal(got, want) {
			t.Errorf("events:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
		}
	})
	t.Run("with no observer and no handler a failure is logged through slog's default logger", func(t *testing.T) {
		var buf syncBuffer
		old := slog.Default()
		slog.SetDefault(slog.New(slog.NewTextHandler(&buf, nil)))
		defer slog.SetDefault(old)
		ex := executor.New(executor.WithWorkers(1))
		ex.Go(context.Background(), func(ctx context.Context) error { panic("lost?") })
		ex.Shutdown(context.Background())
		out := buf.String()
		if !strings.Contains(out, "level=ERROR") || !strings.Contains(out, `msg="executor: task panicked"`) ||
			!strings.Contains(out, `err="panic: lost?"`) || !strings.Contains(out, "stack=") {
			t.Errorf("log = %q; want an ERROR record of the panic with its stack", out)
		}
	})
	t.Run("the executor is listed with its workers and queue, and leaves at Shutdown", func(t *testing.T) {
		ex := executor.New(executor.WithWorkers(2), executor.WithQueueSize(8), executor.WithName("listed-ex"))
		release := make(chan struct{})
		started := make(chan struct{})
		ex.Go(context.Background(), func(ctx context.Context) error { close(started); <-release; return nil })
		<-started
		var o observe.Object
		var ok bool
		for x := range observe.Objects() {
			if x.Name == "listed-ex" {
				o, ok = x, true
			}
		}
		if !ok || o.Kind != "executor" || o.Gauges.Limit != 2 || o.Gauges.Capacity != 8 || o.Gauges.Running != 1 {
			t.Errorf("Object = %+v, listed %v; want kind executor, limit 2, capacity 8, 1 running", o, ok)
		}
		close(release)
		ex.Shutdown(context.Background())
		for x := range observe.Objects() {
			if x.ID == o.ID {
				t.Error("the executor is still listed after Shutdown")
			}
		}
	})
}

type syncBuffer struct {
	mu sync.Mutex
	b  strings.Builder
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}
