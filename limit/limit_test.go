package limit_test

import (
	"context"
	"errors"
	"fmt"
	"runtime"
	"testing"
	"time"

	"github.com/async-patterns/async/limit"
)

// Both limiters are Limiters.
var (
	_ limit.Limiter = (*limit.Rate)(nil)
	_ limit.Limiter = (*limit.Bulkhead)(nil)
)

func TestOutcomeOf(t *testing.T) {
	live := context.Background()
	cancelled, cancel := context.WithCancel(context.Background())
	cancel()
	cause := errors.New("shutting down")
	withCause, cancelCause := context.WithCancelCause(context.Background())
	cancelCause(cause)
	expired, cancel2 := context.WithDeadline(context.Background(), time.Now().Add(-time.Second))
	defer cancel2()
	slow := errors.New("backend too slow")
	expiredCause, cancel3 := context.WithDeadlineCause(context.Background(), time.Now().Add(-time.Second), slow)
	defer cancel3()
	errX := errors.New("x")
	for _, tc := range []struct {
		name string
		ctx  context.Context
		err  error
		want limit.Outcome
	}{
		{"nil", live, nil, limit.Success},
		{"an error of its own", live, errX, limit.Failure},
		{"the caller's cancellation", cancelled, context.Canceled, limit.Ignored},
		{"the caller's cancellation, wrapped", cancelled, fmt.Errorf("get: %w", context.Canceled), limit.Ignored},
		{"the caller's cancellation cause", withCause, cause, limit.Ignored},
		{"a Canceled the caller did not cause", live, context.Canceled, limit.Failure},
		{"an error of its own after the caller cancelled", cancelled, errX, limit.Failure},
		{"the caller's deadline", expired, context.DeadlineExceeded, limit.Dropped},
		{"the caller's deadline with a cause", expiredCause, slow, limit.Dropped},
		{"the caller's deadline cause, wrapped", expiredCause, fmt.Errorf("get: %w", slow), limit.Dropped},
		{"an error of its own after the caller's deadline", expiredCause, errX, limit.Failure},
		{"the deadline's cause while ctx is live", live, slow, limit.Failure},
		{"a deadline downstream", live, fmt.Errorf("rpc: %w", context.DeadlineExceeded), limit.Dropped},
		{"a rejection downstream", live, limit.NewRejectedError("rate", "full", 0), limit.Dropped},
		{"a panic", live, &limit.PanicError{Value: "boom"}, limit.Failure},
	} {
		if got := limit.OutcomeOf(tc.ctx, tc.err); got != tc.want {
			t.Errorf("OutcomeOf(%s) = %v; want %v", tc.name, got, tc.want)
		}
	}
	for o, want := range map[limit.Outcome]string{limit.Success: "success", limit.Failure: "failure", limit.Dropped: "dropped", limit.Ignored: "ignored", 9: "Outcome(9)"} {
		if o.String() != want {
			t.Errorf("Outcome(%d).String() = %q; want %q", o, o.String(), want)
		}
	}
}

func TestPriority(t *testing.T) {
	ctx := context.Background()
	if got := limit.PriorityFrom(ctx); got != limit.Normal {
		t.Errorf("PriorityFrom(no priority) = %v; want normal", got)
	}
	for _, tc := range []struct{ in, want limit.Priority }{
		{limit.Low, limit.Low}, {limit.Highest, limit.Highest}, {limit.Lowest, limit.Lowest},
		{-100, limit.Lowest}, {100, limit.Highest},
	} {
		if got := limit.PriorityFrom(limit.WithPriority(ctx, tc.in)); got != tc.want {
			t.Errorf("PriorityFrom(WithPriority(%d)) = %v; want %v", tc.in, got, tc.want)
		}
	}
	if s := limit.High.String(); s != "high" {
		t.Errorf("High.String() = %q", s)
	}
	// The priority survives derivation, as any ctx value does.
	child, cancel := context.WithCancel(limit.WithPriority(ctx, limit.Low))
	defer cancel()
	if got := limit.PriorityFrom(child); got != limit.Low {
		t.Errorf("PriorityFrom(derived ctx) = %v; want low", got)
	}
}

func TestRejectedError(t *testing.T) {
	err := limit.NewRejectedError("search", "too many waiting", -time.Second)
	if err.RetryAfter() != 0 || !errors.Is(err, limit.ErrRejected) {
		t.Errorf("NewRejectedError(..., -1s) = %v, RetryAfter %v; want ErrRejected, 0", err, err.RetryAfter())
	}
	if got, want := limit.NewRejectedError("rate", "no token before the deadline", 250*time.Millisecond).Error(),
		"limit: rate: no token before the deadline; retry after 250ms"; got != want {
		t.Errorf("Error() = %q; want %q", got, want)
	}
}

// recorder is a Limiter of the test's own (as one from another module
// would be): it records the outcomes it is given.
type recorder struct {
	refuse   error
	outcomes []limit.Outcome
	next     uint64
}

func (r *recorder) Acquire(ctx context.Context) (limit.Permit, error) {
	if r.refuse != nil {
		return limit.Permit{}, r.refuse
	}
	r.next++
	return limit.Permit{ID: r.next}, nil
}

func (r *recorder) Release(p limit.Permit, o limit.Outcome) { r.outcomes = append(r.outcomes, o) }

func TestDo(t *testing.T) {
	t.Run("releases with the outcome of the function", func(t *testing.T) {
		r := &recorder{}
		ctx := t.Context()
		_ = limit.Do(ctx, r, func(context.Context) error { return nil })
		_ = limit.Do(ctx, r, func(context.Context) error { return errors.New("x") })
		_ = limit.Do(ctx, r, func(context.Context) error { return context.DeadlineExceeded })
		err := limit.Do(ctx, r, func(context.Context) error { panic("boom") })
		var pe *limit.PanicError
		if !errors.As(err, &pe) {
			t.Errorf("Do(panicking fn) = %v; want *PanicError", err)
		}
		want := []limit.Outcome{limit.Success, limit.Failure, limit.Dropped, limit.Failure}
		if fmt.Sprint(r.outcomes) != fmt.Sprint(want) {
			t.Errorf("outcomes = %v; want %v", r.outcomes, want)
		}
	})
	t.Run("a refusal runs nothing and releases nothing", func(t *testing.T) {
		refusal := limit.NewRejectedError("x", "no", 0)
		r := &recorder{refuse: refusal}
		called := false
		if err := limit.Do(t.Context(), r, func(context.Context) error { called = true; return nil }); err != refusal || called || len(r.outcomes) != 0 {
			t.Errorf("Do() = %v, called %v, outcomes %v; want the refusal, nothing run or released", err, called, r.outcomes)
		}
	})
	t.Run("a nil fn acquires nothing", func(t *testing.T) {
		r := &recorder{}
		if err := limit.Do(t.Context(), r, nil); err != limit.ErrNilFunc || r.next != 0 {
			t.Errorf("Do(nil) = %v; want ErrNilFunc and no Acquire", err)
		}
	})
	t.Run("a nil Limiter panics naming it", func(t *testing.T) {
		for name, call := range map[string]func(){
			"Do":      func() { _ = limit.Do(t.Context(), nil, func(context.Context) error { return nil }) },
			"DoValue": func() { _, _ = limit.DoValue(t.Context(), nil, func(context.Context) (int, error) { return 0, nil }) },
		} {
			func() {
				defer func() {
					if r, _ := recover().(string); r != "limit: "+name+": nil Limiter" {
						t.Errorf("%s(ctx, nil, fn) panicked with %v; want %q", name, r, "limit: "+name+": nil Limiter")
					}
				}()
				call()
			}()
		}
	})
	t.Run("a Goexit still releases", func(t *testing.T) {
		r := &recorder{}
		done := make(chan struct{})
		go func() {
			defer close(done)
			_ = limit.Do(context.Background(), r, func(context.Context) error { runtime.Goexit(); return nil })
		}()
		<-done
		if len(r.outcomes) != 1 || r.outcomes[0] != limit.Failure {
			t.Errorf("outcomes = %v; want one failure", r.outcomes)
		}
	})
}

func TestDoValue(t *testing.T) {
	r := &recorder{}
	v, err := limit.DoValue(t.Context(), r, func(context.Context) (int, error) { return 7, nil })
	if v != 7 || err != nil {
		t.Errorf("DoValue() = %d, %v; want 7, nil", v, err)
	}
	v, err = limit.DoValue(t.Context(), r, func(context.Context) (int, error) { panic("boom") })
	var pe *limit.PanicError
	if v != 0 || !errors.As(err, &pe) {
		t.Errorf("DoValue(panicking fn) = %d, %v; want 0, *PanicError", v, err)
	}
	if _, err := limit.DoValue[int](t.Context(), r, nil); err != limit.ErrNilFunc {
		t.Errorf("DoValue(nil) = %v; want ErrNilFunc", err)
	}
	if fmt.Sprint(r.outcomes) != fmt.Sprint([]limit.Outcome{limit.Success, limit.Failure}) || r.next != 2 {
		t.Errorf("acquired %d, outcomes %v; want 2, [success failure]", r.next, r.outcomes)
	}
}
