package retryhttp_test

import (
	"context"
	"errors"
	"io"
	"net/http"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/async-patterns/async/internal/observetest"
	"github.com/async-patterns/async/observe"
	"github.com/async-patterns/async/retry"
	"github.com/async-patterns/async/retry/retryhttp"
)

type spanKey struct{}

// spans records events, and marks each HTTP attempt's ctx as a tracer would.
type spans struct {
	observetest.Recorder
	mu   sync.Mutex
	sent []any // what each request sent to the base carried
}

func (s *spans) AttemptStart(ctx context.Context, e observe.Event) context.Context {
	if e.Kind != observe.HTTPAttempt {
		return ctx
	}
	return context.WithValue(ctx, spanKey{}, e.Attempt)
}

func TestObserve(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		obs := &spans{}
		var bs bodies
		n := 0
		base := baseFunc(func(r *http.Request) (*http.Response, error) {
			obs.mu.Lock()
			obs.sent = append(obs.sent, r.Context().Value(spanKey{}))
			obs.mu.Unlock()
			if n++; n == 1 {
				return bs.respond(r, 503, "busy", "Retry-After", "1"), nil
			}
			return bs.respond(r, 200, "ok"), nil
		})
		client := retryhttp.NewClient(retryhttp.WithBase(base), retryhttp.WithObserver(obs),
			retryhttp.WithRetry(retry.WithBackoff(10*time.Millisecond, time.Second), retry.WithJitter(0)))
		resp, err := client.Get("http://api.example/prices")
		if err != nil {
			t.Fatal(err)
		}
		readAll(t, resp)
		got := observetest.Briefs(obs.Events())
		want := []string{
			"http.attempt outcome=failed source=retryhttp name=api.example attempt=1 method=GET host=api.example status=503",
			`retry.attempt outcome=failed source=retry name=GET api.example attempt=1 wait=1s err="retryhttp: 503 Service Unavailable"`,
			"http.attempt outcome=ok source=retryhttp name=api.example attempt=2 method=GET host=api.example status=200",
			"retry.attempt outcome=ok source=retry name=GET api.example attempt=2",
		}
		if !slices.Equal(got, want) {
			t.Errorf("events:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
		}
		if !slices.Equal(obs.sent, []any{1, 2}) {
			t.Errorf("the requests sent carried %v; want the ctx of attempts 1 and 2", obs.sent)
		}
	})
}

// WithRetry checks its options with a dry run of retry.Do: that run must
// report nothing, to the default observer or to one among the options.
func TestOptionCheckReportsNothing(t *testing.T) {
	rec := &observetest.Recorder{}
	observe.SetDefault(rec)
	defer observe.SetDefault(observe.Discard)
	own := &observetest.Recorder{}
	retryhttp.New(retryhttp.WithRetry(retry.WithMaxAttempts(3)))
	retryhttp.New(retryhttp.WithRetry(retry.WithObserver(own), retry.WithName("mine")))
	if got := observetest.Briefs(rec.Events()); len(got) != 0 {
		t.Errorf("building a transport reported %v to the default observer; want nothing", got)
	}
	if got := observetest.Briefs(own.Events()); len(got) != 0 {
		t.Errorf("building a transport reported %v to the observer among its options; want nothing", got)
	}
}

type retryKey struct{}

// retrySpans marks each retry attempt's ctx with its number, as a tracer
// puts the attempt's span there.
type retrySpans struct{ observetest.Recorder }

func (*retrySpans) AttemptStart(ctx context.Context, e observe.Event) context.Context {
	if e.Kind != observe.RetryAttempt {
		return ctx
	}
	return context.WithValue(ctx, retryKey{}, e.Attempt)
}

// seen is what a base saw of the ctx of each request sent to it.
type seen struct {
	mu       sync.Mutex
	attempts []any // the retry attempt each request's ctx belongs to
	errs     []error
	causes   []error
}

func (s *seen) sent(r *http.Request) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.attempts = append(s.attempts, r.Context().Value(retryKey{}))
}

func (s *seen) ended(r *http.Request) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.errs = append(s.errs, r.Context().Err())
	s.causes = append(s.causes, context.Cause(r.Context()))
}

// attemptTimeouts are the two shapes of an observed attempt's ctx: the
// caller's with the attempt's values, and, with a per-attempt timeout, a
// ctx that retry ends when the attempt returns.
var attemptTimeouts = []struct {
	name string
	opts []retry.Option
}{
	{"no attempt timeout", nil},
	{"attempt timeout", []retry.Option{retry.WithAttemptTimeout(time.Minute)}},
}

// A request sent in an observed retry attempt runs inside it: its ctx
// carries the values of the attempt's (a span), so that the request's own
// span, and what an instrumented base does, are children of the attempt's.
// The body of the response returned stays readable after the attempt has
// returned, until it is closed.
func TestRequestInsideAttempt(t *testing.T) {
	for _, tc := range attemptTimeouts {
		t.Run(tc.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				var s seen
				var bs bodies
				n := 0
				base := baseFunc(func(r *http.Request) (*http.Response, error) {
					s.sent(r)
					if n++; n == 1 {
						return bs.respond(r, 503, "busy"), nil
					}
					return &http.Response{StatusCode: 200, Header: http.Header{}, Request: r,
						Body: io.NopCloser(ctxReader{r.Context(), strings.NewReader("ok")})}, nil
				})
				tr := retryhttp.New(retryhttp.WithBase(base), retryhttp.WithObserver(&retrySpans{}),
					retryhttp.WithRetry(append(tc.opts, retry.WithBackoff(time.Millisecond, time.Millisecond), retry.WithJitter(0))...))
				start := time.Now()
				resp, err := tr.RoundTrip(mustRequest(t, "GET", "http://a.test/", nil))
				if err != nil {
					t.Fatalf("RoundTrip() = %v; want nil", err)
				}
				if !slices.Equal(s.attempts, []any{1, 2}) {
					t.Errorf("the requests sent carried retry attempts %v; want [1 2]", s.attempts)
				}
				rctx := resp.Request.Context()
				if got := rctx.Value(retryKey{}); got != 2 {
					t.Errorf("resp.Request's ctx belongs to retry attempt %v; want 2", got)
				}
				dl, ok := rctx.Deadline()
				if want := start.Add(time.Millisecond + time.Minute); tc.opts != nil && (!ok || !dl.Equal(want)) {
					t.Errorf("resp.Request's ctx deadline %v, %v; want the attempt's, %v", dl, ok, want)
				}
				// retry has ended the attempt's ctx (with a timeout, its own);
				// the body, read within the attempt's timeout, is still
				// readable.
				synctest.Wait()
				time.Sleep(time.Second)
				if got := readAll(t, resp); got != "ok" {
					t.Errorf("body = %q; want \"ok\"", got)
				}
				if bs.open() != 0 {
					t.Errorf("%d bodies left open", bs.open())
				}
			})
		})
	}
}

// The caller's cancellation ends a request in flight in an observed
// attempt, with the caller's cause; the caller's deadline ends it as
// DeadlineExceeded, as it would a request sent with the caller's ctx.
func TestRequestInsideAttemptEnds(t *testing.T) {
	for _, tc := range attemptTimeouts {
		t.Run(tc.name+", cancelled", func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				var s seen
				base := baseFunc(func(r *http.Request) (*http.Response, error) {
					s.sent(r)
					<-r.Context().Done()
					s.ended(r)
					return nil, r.Context().Err()
				})
				tr := retryhttp.New(retryhttp.WithBase(base), retryhttp.WithObserver(&retrySpans{}),
					retryhttp.WithRetry(tc.opts...))
				ctx, cancel := context.WithCancelCause(context.Background())
				stop := errors.New("caller gave up")
				time.AfterFunc(time.Second, func() { cancel(stop) })
				start := time.Now()
				_, err := tr.RoundTrip(mustRequest(t, "GET", "http://a.test/", nil).WithContext(ctx))
				if !errors.Is(err, stop) || time.Since(start) != time.Second {
					t.Errorf("RoundTrip() = %v after %v; want the caller's cause after 1s", err, time.Since(start))
				}
				if !slices.Equal(s.attempts, []any{1}) || !slices.Equal(s.errs, []error{context.Canceled}) || !slices.Equal(s.causes, []error{stop}) {
					t.Errorf("the base saw attempts %v ending with Err %v, cause %v; want [1], [context canceled], [%v]",
						s.attempts, s.errs, s.causes, stop)
				}
			})
		})
		t.Run(tc.name+", caller's deadline", func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				var s seen
				base := baseFunc(func(r *http.Request) (*http.Response, error) {
					s.sent(r)
					<-r.Context().Done()
					s.ended(r)
					return nil, r.Context().Err()
				})
				tr := retryhttp.New(retryhttp.WithBase(base), retryhttp.WithObserver(&retrySpans{}),
					retryhttp.WithRetry(tc.opts...))
				ctx, cancel := context.WithTimeout(context.Background(), time.Second)
				defer cancel()
				_, err := tr.RoundTrip(mustRequest(t, "GET", "http://a.test/", nil).WithContext(ctx))
				if !errors.Is(err, context.DeadlineExceeded) {
					t.Errorf("RoundTrip() = %v; want context.DeadlineExceeded", err)
				}
				want := []error{context.DeadlineExceeded}
				if !slices.Equal(s.attempts, []any{1}) || !slices.Equal(s.errs, want) || !slices.Equal(s.causes, want) {
					t.Errorf("the base saw attempts %v ending with Err %v, cause %v; want [1], and DeadlineExceeded for both",
						s.attempts, s.errs, s.causes)
				}
			})
		})
	}
	t.Run("the attempt's own timeout", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			var s seen
			var calls atomic.Int32
			stalled := stall(&calls)
			base := baseFunc(func(r *http.Request) (*http.Response, error) {
				s.sent(r)
				resp, err := stalled.RoundTrip(r)
				if err != nil {
					s.ended(r)
				}
				return resp, err
			})
			tr := retryhttp.New(retryhttp.WithBase(base), retryhttp.WithObserver(&retrySpans{}),
				retryhttp.WithRetry(retry.WithAttemptTimeout(time.Second), retry.WithBackoff(0, 0)))
			start := time.Now()
			resp, err := tr.RoundTrip(mustRequest(t, "GET", "http://a.test/", nil))
			if err != nil {
				t.Fatalf("RoundTrip() = %v; want nil", err)
			}
			if got := time.Since(start); got != time.Second {
				t.Errorf("RoundTrip took %v; want 1s", got)
			}
			if got := readAll(t, resp); got != "ok" {
				t.Errorf("body = %q; want \"ok\"", got)
			}
			want := []error{context.DeadlineExceeded}
			if !slices.Equal(s.attempts, []any{1, 2}) || !slices.Equal(s.errs, want) || !slices.Equal(s.causes, want) {
				t.Errorf("the base saw attempts %v, the first ending with Err %v, cause %v; want [1 2], DeadlineExceeded for both",
					s.attempts, s.errs, s.causes)
			}
		})
	})
}

// opaqueCtx is a ctx that package context cannot see into: a ctx derived
// from it, or a context.AfterFunc on it, is watched by a goroutine of its
// own until it is cancelled or stopped. It is never done.
type opaqueCtx struct{ done chan struct{} }

func (opaqueCtx) Deadline() (time.Time, bool) { return time.Time{}, false }
func (c opaqueCtx) Done() <-chan struct{}     { return c.done }
func (opaqueCtx) Err() error                  { return nil }
func (opaqueCtx) Value(any) any               { return nil }

// Every ctx made for a request sent in an observed attempt, and whatever
// watches the caller's ctx for it, ends with the request: a retried
// response's, a failed attempt's, a hedge's loser's, and the returned
// response's when its body is closed. synctest.Test fails if a goroutine
// watching the caller's ctx (which never ends here) is left.
func TestRequestInsideAttemptLeavesNothing(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var s seen
		var bs bodies
		var calls atomic.Int32
		base := baseFunc(func(r *http.Request) (*http.Response, error) {
			s.sent(r)
			switch calls.Add(1) {
			case 1:
				return nil, errors.New("connection reset")
			case 2:
				return bs.respond(r, 503, "busy"), nil
			case 3:
				<-r.Context().Done() // the hedge's loser
				return nil, r.Context().Err()
			}
			return bs.respond(r, 200, "ok"), nil
		})
		tr := retryhttp.New(retryhttp.WithBase(base), retryhttp.WithObserver(&retrySpans{}),
			retryhttp.WithHedge(time.Second),
			retryhttp.WithRetry(retry.WithAttemptTimeout(time.Minute), retry.WithBackoff(time.Millisecond, time.Millisecond)))
		ctx := opaqueCtx{make(chan struct{})}
		resp, err := tr.RoundTrip(mustRequest(t, "GET", "http://a.test/", nil).WithContext(ctx))
		if err != nil {
			t.Fatalf("RoundTrip() = %v; want nil", err)
		}
		if got := readAll(t, resp); got != "ok" {
			t.Errorf("body = %q; want \"ok\"", got)
		}
		if !slices.Equal(s.attempts, []any{1, 2, 3, 3}) {
			t.Errorf("the requests sent carried retry attempts %v; want [1 2 3 3]", s.attempts)
		}
		if bs.open() != 0 {
			t.Errorf("%d bodies left open", bs.open())
		}
	})
}

// A response whose body the caller never closes keeps the request's ctx
// only until the attempt's deadline, as without an observer: nothing is
// left watching the caller's ctx (which never ends here) after it.
// synctest.Test fails if a goroutine watching it is left.
func TestRequestInsideAttemptUnclosedBody(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		base := baseFunc(func(r *http.Request) (*http.Response, error) {
			return &http.Response{StatusCode: 200, Header: http.Header{}, Request: r, Body: http.NoBody}, nil
		})
		tr := retryhttp.New(retryhttp.WithBase(base), retryhttp.WithObserver(&retrySpans{}),
			retryhttp.WithRetry(retry.WithAttemptTimeout(time.Minute)))
		ctx := opaqueCtx{make(chan struct{})}
		resp, err := tr.RoundTrip(mustRequest(t, "GET", "http://a.test/", nil).WithContext(ctx))
		if err != nil {
			t.Fatalf("RoundTrip() = %v; want nil", err)
		}
		rctx := resp.Request.Context()
		time.Sleep(2 * time.Minute) // past the attempt's deadline; the body is never closed
		synctest.Wait()
		if err := rctx.Err(); err != context.DeadlineExceeded {
			t.Errorf("the request's ctx after the attempt's deadline: Err %v; want DeadlineExceeded", err)
		}
	})
}

// A caller's deadline with a cause of its own (context.WithDeadlineCause)
// ends a request in flight in an observed attempt as it ends one sent with
// the caller's ctx: Err DeadlineExceeded, and the caller's cause (which
// http.Transport returns), whether or not the attempt has a timeout (a
// later one here).
func TestRequestInsideAttemptDeadlineCause(t *testing.T) {
	for _, tc := range attemptTimeouts {
		t.Run(tc.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				var s seen
				base := baseFunc(func(r *http.Request) (*http.Response, error) {
					s.sent(r)
					<-r.Context().Done()
					s.ended(r)
					return nil, context.Cause(r.Context())
				})
				tr := retryhttp.New(retryhttp.WithBase(base), retryhttp.WithObserver(&retrySpans{}),
					retryhttp.WithRetry(tc.opts...))
				late := errors.New("caller's deadline")
				ctx, cancel := context.WithDeadlineCause(context.Background(), time.Now().Add(time.Second), late)
				defer cancel()
				_, err := tr.RoundTrip(mustRequest(t, "GET", "http://a.test/", nil).WithContext(ctx))
				if !errors.Is(err, late) {
					t.Errorf("RoundTrip() = %v; want the caller's cause", err)
				}
				if !slices.Equal(s.attempts, []any{1}) || !slices.Equal(s.errs, []error{context.DeadlineExceeded}) || !slices.Equal(s.causes, []error{late}) {
					t.Errorf("the base saw attempts %v ending with Err %v, cause %v; want [1], [%v], [%v]",
						s.attempts, s.errs, s.causes, context.DeadlineExceeded, late)
				}
			})
		})
	}
}
