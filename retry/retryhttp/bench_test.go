package retryhttp_test

import (
	"context"
	"net/http"
	"testing"
	"time"

	"github.com/async-patterns/async/observe"
	"github.com/async-patterns/async/retry"
	"github.com/async-patterns/async/retry/retryhttp"
)

// tracer stands for a tracing observer: each attempt's ctx carries a value
// (as a span would), and events are dropped.
type tracer struct{}

type tracerKey struct{}

func (tracer) Observe(context.Context, observe.Event) {}

func (tracer) AttemptStart(ctx context.Context, e observe.Event) context.Context {
	return context.WithValue(ctx, tracerKey{}, e.Attempt)
}

// BenchmarkRoundTrip measures a first-try success of a GET over an
// in-memory base that answers a 200 with no body, with and without a
// per-attempt timeout, and with nothing observed ("plain") or with an
// observe.AttemptObserver that puts a value in each attempt's ctx, as a
// tracer does ("traced"): what sending each attempt inside its retry
// attempt's ctx costs.
func BenchmarkRoundTrip(b *testing.B) {
	req, err := http.NewRequest(http.MethodGet, "http://api.test/users/1", nil)
	if err != nil {
		b.Fatal(err)
	}
	base := baseFunc(func(r *http.Request) (*http.Response, error) {
		return &http.Response{StatusCode: http.StatusOK, Header: http.Header{}, Body: http.NoBody, Request: r}, nil
	})
	for _, row := range []struct {
		name string
		opts []retryhttp.Option
	}{
		{"plain", nil},
		{"plain-attempt-timeout", []retryhttp.Option{retryhttp.WithRetry(retry.WithAttemptTimeout(time.Minute))}},
		{"traced", []retryhttp.Option{retryhttp.WithObserver(tracer{})}},
		{"traced-attempt-timeout", []retryhttp.Option{retryhttp.WithObserver(tracer{}),
			retryhttp.WithRetry(retry.WithAttemptTimeout(time.Minute))}},
	} {
		b.Run(row.name, func(b *testing.B) {
			tr := retryhttp.New(append([]retryhttp.Option{retryhttp.WithBase(base)}, row.opts...)...)
			b.ReportAllocs()
			for b.Loop() {
				resp, err := tr.RoundTrip(req)
				if err != nil {
					b.Fatal(err)
				}
				resp.Body.Close()
			}
		})
	}
}
