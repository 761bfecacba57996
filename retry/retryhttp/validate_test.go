package retryhttp_test

import (
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/async-patterns/async/breaker"
	"github.com/async-patterns/async/retry/retryhttp"
)

func TestRefusedBeforeSending(t *testing.T) {
	var served atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		served.Add(1)
		io.WriteString(w, r.Header.Get("X-Note"))
	}))
	defer srv.Close()
	host := strings.TrimPrefix(srv.URL, "http://")

	// Each case is a request that a real http.Transport refuses without
	// sending anything. invalid: RoundTrip refuses it itself, never calling
	// the base; otherwise (another scheme) the base is called once.
	for _, tc := range []struct {
		name    string
		edit    func(r *http.Request)
		invalid bool
	}{
		{"a header name that is not a token", func(r *http.Request) { r.Header["Bad Name"] = []string{"x"} }, true},
		{"a header value with a line break", func(r *http.Request) { r.Header.Set("X-Note", "a\r\nX-Injected: 1") }, true},
		{"a trailer name that is not a token", func(r *http.Request) { r.Trailer = http.Header{"Bad:Trailer": nil} }, true},
		{"a method that is not a token", func(r *http.Request) { r.Method = "PU T" }, true},
		{"a nil Header", func(r *http.Request) { r.Header = nil }, true},
		{"a URL without a host", func(r *http.Request) { r.URL.Host = "" }, true},
		{"an ftp URL", func(r *http.Request) { r.URL.Scheme = "ftp" }, false},
	} {
		t.Run(tc.name+" is not retried and leaves the host's breaker closed", func(t *testing.T) {
			real := &http.Transport{}
			defer real.CloseIdleConnections()
			var calls atomic.Int32
			g := breaker.NewGroup(breaker.WithConsecutiveFailures(1))
			// WithMaxRetryAfter(0): a rejection by an open breaker ends the
			// call at once rather than after the breaker's open timeout.
			tr := retryhttp.New(fast, retryhttp.WithBreakers(g), retryhttp.WithMaxRetryAfter(0),
				retryhttp.WithBase(baseFunc(func(r *http.Request) (*http.Response, error) {
					calls.Add(1)
					return real.RoundTrip(r)
				})))
			b := &body{Reader: strings.NewReader("payload")}
			req := mustRequest(t, "PUT", srv.URL+"/", b)
			req.GetBody = func() (io.ReadCloser, error) { return io.NopCloser(strings.NewReader("payload")), nil }
			tc.edit(req)
			resp, err := tr.RoundTrip(req)
			if err == nil {
				resp.Body.Close()
				t.Fatalf("RoundTrip() = %d, nil; want an error", resp.StatusCode)
			}
			wantCalls := int32(1)
			if tc.invalid {
				wantCalls = 0
			}
			if got := calls.Load(); got != wantCalls {
				t.Errorf("the base was called %d times; want %d (err: %v)", got, wantCalls, err)
			}
			if got := errors.Is(err, retryhttp.ErrInvalidRequest); got != tc.invalid {
				t.Errorf("errors.Is(%v, ErrInvalidRequest) = %v; want %v", err, got, tc.invalid)
			}
			if !b.closed.Load() {
				t.Errorf("the request body was left open")
			}
			if got := g.Get(host).State(); got != breaker.Closed {
				t.Errorf("the host's breaker is %v; want closed", got)
			}
			resp, err = tr.RoundTrip(mustRequest(t, "GET", srv.URL+"/", nil))
			if err != nil {
				t.Fatalf("a valid request after it: RoundTrip() = %v; want nil", err)
			}
			readAll(t, resp)
			if resp.StatusCode != 200 {
				t.Errorf("a valid request after it: status %d; want 200", resp.StatusCode)
			}
		})
	}

	t.Run("a value with a tab and UTF-8 is valid and sent", func(t *testing.T) {
		tr := retryhttp.New(fast)
		req := mustRequest(t, "GET", srv.URL+"/", nil)
		req.Header.Set("X-Note", "a\tb é")
		resp, err := tr.RoundTrip(req)
		if err != nil {
			t.Fatalf("RoundTrip() = %v; want nil", err)
		}
		if got := readAll(t, resp); got != "a\tb é" {
			t.Errorf("the server saw X-Note %q; want %q", got, "a\tb é")
		}
	})

	t.Run("the error names the fault without the value", func(t *testing.T) {
		tr := retryhttp.New(fast)
		req := mustRequest(t, "GET", srv.URL+"/", nil)
		req.Header.Set("Authorization", "secret\n")
		_, err := tr.RoundTrip(req)
		if err == nil || !strings.Contains(err.Error(), `"Authorization"`) || strings.Contains(err.Error(), "secret") {
			t.Errorf("RoundTrip() = %v; want an error naming the Authorization field, not its value", err)
		}
	})

	t.Run("a request of another scheme is sent once, not hedged", func(t *testing.T) {
		calls := 0
		tr := retryhttp.New(fast, retryhttp.WithHedge(time.Hour),
			retryhttp.WithBase(baseFunc(func(r *http.Request) (*http.Response, error) {
				calls++
				return nil, errors.New("no such scheme")
			})))
		_, err := tr.RoundTrip(mustRequest(t, "POST", "gopher://a.test/", strings.NewReader("x")))
		if err == nil || !strings.Contains(err.Error(), "no such scheme") || calls != 1 {
			t.Errorf("RoundTrip() = %v after %d calls; want the base's error after 1", err, calls)
		}
	})

	if got := served.Load(); got != 8 {
		t.Errorf("the server served %d requests; want 8 (the valid ones only)", got)
	}
}
