package retry_test

import (
	"context"
	"errors"
	"slices"
	"strings"
	"testing"
	"testing/synctest"
	"time"

	"github.com/async-patterns/async/internal/observetest"
	"github.com/async-patterns/async/observe"
	"github.com/async-patterns/async/retry"
)

type attemptKey struct{}

// spanObserver records events and marks each attempt's ctx, as a tracer
// would with a span.
type spanObserver struct {
	observetest.Recorder
	ctxAttempts []any // what each end event's ctx carries
}

func (s *spanObserver) AttemptStart(ctx context.Context, e observe.Event) context.Context {
	return context.WithValue(ctx, attemptKey{}, e.Attempt)
}

func (s *spanObserver) Observe(ctx context.Context, e observe.Event) {
	if e.Kind == observe.RetryAttempt {
		s.ctxAttempts = append(s.ctxAttempts, ctx.Value(attemptKey{}))
	}
	s.Recorder.Observe(ctx, e)
}

func TestObserve(t *testing.T) {
	boom := errors.New("boom")
	policy := []retry.Option{retry.WithMaxAttempts(3), retry.WithBackoff(100*time.Millisecond, time.Second),
		retry.WithJitter(0), retry.WithMultiplier(2)}
	t.Run("an exhausted retry reports each attempt with its wait, then the give-up", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			obs := &spanObserver{}
			var seen []any
			err := retry.Do(context.Background(), func(ctx context.Context) error {
				seen = append(seen, ctx.Value(attemptKey{}))
				return boom
			}, append(policy, retry.WithObserver(obs), retry.WithName("fetch"))...)
			if !errors.Is(err, retry.ErrExhausted) {
				t.Fatalf("Do() = %v", err)
			}
			got := observetest.Briefs(obs.Events())
			want := []string{
				`retry.attempt outcome=failed source=retry name=fetch attempt=1 wait=100ms err="boom"`,
				`retry.attempt outcome=failed source=retry name=fetch attempt=2 wait=200ms err="boom"`,
				`retry.attempt outcome=failed source=retry name=fetch attempt=3 err="boom"`,
				`retry.give_up outcome=failed source=retry name=fetch attempt=3 wait=300ms err="retry: gave up after 3 attempts (attempt limit): boom"`,
			}
			if !slices.Equal(got, want) {
				t.Errorf("events:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
			}
			if g := obs.Events(observe.RetryGiveUp)[0]; g.Duration != 300*time.Millisecond {
				t.Errorf("give-up Duration = %v; want 300ms (synctest's clock)", g.Duration)
			}
			if !slices.Equal(seen, []any{1, 2, 3}) || !slices.Equal(obs.ctxAttempts, []any{1, 2, 3}) {
				t.Errorf("attempt ctxs: fn saw %v, end events got %v; want 1 2 3 both", seen, obs.ctxAttempts)
			}
		})
	})
	t.Run("a success after a failure, and a first-try success, report their attempts only", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			rec := &observetest.Recorder{}
			observe.SetDefault(rec)
			defer observe.SetDefault(observe.Discard)
			n := 0
			retry.Do(context.Background(), func(ctx context.Context) error {
				if n++; n == 1 {
					return boom
				}
				return nil
			}, policy...)
			retry.Do(context.Background(), func(ctx context.Context) error { return nil })
			got := observetest.Briefs(rec.Events())
			want := []string{
				`retry.attempt outcome=failed source=retry attempt=1 wait=100ms err="boom"`,
				`retry.attempt outcome=ok source=retry attempt=2`,
				`retry.attempt outcome=ok source=retry attempt=1`,
			}
			if !slices.Equal(got, want) {
				t.Errorf("events:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
			}
		})
	})
	t.Run("a panic is reported as panicked and a cancelled call's give-up as cancelled", func(t *testing.T) {
		rec := &observetest.Recorder{}
		retry.Do(context.Background(), func(ctx context.Context) error { panic("kaput") }, retry.WithObserver(rec))
		ctx, cancel := context.WithCancel(context.Background())
		retry.Do(ctx, func(ctx context.Context) error { cancel(); return ctx.Err() }, retry.WithObserver(rec))
		got := observetest.Briefs(rec.Events())
		want := []string{
			`retry.attempt outcome=panicked source=retry attempt=1 err="panic: kaput"`,
			`retry.give_up outcome=panicked source=retry attempt=1 err="retry: attempt 1: panic: kaput"`,
			`retry.attempt outcome=failed source=retry attempt=1 err="context canceled"`,
			`retry.give_up outcome=cancelled source=retry attempt=1 err="retry: stopped after 1 attempt: context canceled; last error: context canceled"`,
		}
		if !slices.Equal(got, want) {
			t.Errorf("events:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
		}
	})
	t.Run("a nil observer panics naming the option", func(t *testing.T) {
		defer func() {
			if r, _ := recover().(string); r != "retry: nil Observer passed to WithObserver" {
				t.Errorf("panic = %q", r)
			}
		}()
		retry.WithObserver(nil)
	})
}
