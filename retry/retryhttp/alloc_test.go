package retryhttp_test

import (
	"net/http"
	"testing"
	"time"

	"github.com/async-patterns/async/retry"
	"github.com/async-patterns/async/retry/retryhttp"
)

// A first-try success allocates nothing beyond what the base does, and a
// per-attempt timeout adds what the package doc says, whether or not an
// observed attempt would have sent the request inside the attempt's ctx:
// with no observer set, that costs nothing.
func TestFirstTryAllocs(t *testing.T) {
	req := mustRequest(t, "GET", "http://a.test/", nil)
	resp := &http.Response{StatusCode: 200, Header: http.Header{}, Body: http.NoBody}
	base := baseFunc(func(r *http.Request) (*http.Response, error) {
		resp.Request = r
		return resp, nil
	})
	for _, tc := range []struct {
		name string
		opts []retryhttp.Option
		want float64
	}{
		{"plain", nil, 0},
		// Two contexts with timers (retry's, and the request's), a copy
		// of the request and a body wrapper (package doc, Costs): 10.
		{"attempt timeout", []retryhttp.Option{retryhttp.WithRetry(retry.WithAttemptTimeout(time.Minute))}, 10},
	} {
		tr := retryhttp.New(append([]retryhttp.Option{retryhttp.WithBase(base)}, tc.opts...)...)
		got := testing.AllocsPerRun(100, func() {
			r, err := tr.RoundTrip(req)
			if err != nil {
				t.Fatal(err)
			}
			r.Body.Close()
		})
		if got != tc.want {
			t.Errorf("%s: %v allocations per RoundTrip; want %v", tc.name, got, tc.want)
		}
	}
}
