package bench

import (
	"net/http"
	"testing"
	"time"

	"github.com/failsafe-go/failsafe-go/failsafehttp"
	"github.com/hashicorp/go-retryablehttp"

	"github.com/async-patterns/async/breaker"
	"github.com/async-patterns/async/retry"
	"github.com/async-patterns/async/retry/retryhttp"
)

// memoryBase answers every request from memory with a 200 and no body, so
// that a benchmark over it measures what the transport wrapped around it
// costs. It allocates the response, as a real transport would, the same
// for every contender.
type memoryBase struct{}

func (memoryBase) RoundTrip(r *http.Request) (*http.Response, error) {
	return &http.Response{
		StatusCode: http.StatusOK,
		Status:     "200 OK",
		Proto:      "HTTP/1.1",
		ProtoMajor: 1,
		ProtoMinor: 1,
		Header:     http.Header{},
		Body:       http.NoBody,
		Request:    r,
	}, nil
}

var sinkResp *http.Response

// BenchmarkRetryHTTP measures a first-try success of a GET through a
// retrying http.RoundTripper over memoryBase: what retrying HTTP costs when
// nothing fails. The floor is the bare base (direct). Every contender is
// called as an http.RoundTripper with one request built before the timer
// starts, and runs with its defaults: go-retryablehttp's RoundTripper over a
// client whose HTTPClient uses the base (logging off, as it would be in a
// benchmark of anyone's code), failsafe-go's failsafehttp RoundTripper with
// its HTTP retry policy, and ours, a retryhttp.Transport (also with a
// per-attempt timeout, and with a breaker per host, to show what they add).
func BenchmarkRetryHTTP(b *testing.B) {
	req, err := http.NewRequest(http.MethodGet, "http://api.test/users/1", nil)
	if err != nil {
		b.Fatal(err)
	}
	run := func(rt http.RoundTripper) func(b *testing.B) {
		return func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				resp, err := rt.RoundTrip(req)
				if err != nil {
					b.Fatal(err)
				}
				resp.Body.Close()
				sinkResp = resp
			}
		}
	}
	b.Run("first-try", func(b *testing.B) {
		b.Run("direct", run(memoryBase{}))
		b.Run("retryablehttp", func(b *testing.B) {
			c := retryablehttp.NewClient()
			c.HTTPClient = &http.Client{Transport: memoryBase{}}
			c.Logger = nil
			run(&retryablehttp.RoundTripper{Client: c})(b)
		})
		b.Run("failsafehttp", run(failsafehttp.NewRoundTripper(memoryBase{}, failsafehttp.NewRetryPolicyBuilder().Build())))
		b.Run("ours", run(retryhttp.New(retryhttp.WithBase(memoryBase{}))))
		// What the options cost: a context, a copy of the request and a body
		// wrapper per attempt; a breaker's bookkeeping.
		b.Run("oursAttemptTimeout", run(retryhttp.New(retryhttp.WithBase(memoryBase{}),
			retryhttp.WithRetry(retry.WithAttemptTimeout(time.Second)))))
		b.Run("oursBreaker", run(retryhttp.New(retryhttp.WithBase(memoryBase{}),
			retryhttp.WithBreakers(breaker.NewGroup()))))
	})
}
