package retryhttp_test

import (
	"context"
	"net/http"
	"slices"
	"strings"
	"sync"
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
