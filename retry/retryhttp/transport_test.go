package retryhttp_test

import (
	"bytes"
	"context"
	"crypto/x509"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/async-patterns/async/breaker"
	"github.com/async-patterns/async/retry"
	"github.com/async-patterns/async/retry/retryhttp"
)

// fast retries at once, with no jitter, so that tests on real servers do not
// wait.
var fast = retryhttp.WithRetry(retry.WithBackoff(0, 0), retry.WithJitter(0))

func TestFlakyServer(t *testing.T) {
	t.Run("a server that fails twice is retried until it answers", func(t *testing.T) {
		var hits atomic.Int32
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if hits.Add(1) < 3 {
				http.Error(w, "try again", http.StatusServiceUnavailable)
				return
			}
			io.WriteString(w, "hello")
		}))
		defer srv.Close()
		client := retryhttp.NewClient(fast)
		defer client.CloseIdleConnections()

		resp, err := client.Get(srv.URL)
		if err != nil {
			t.Fatalf("Get() = %v; want nil", err)
		}
		if got := readAll(t, resp); resp.StatusCode != 200 || got != "hello" {
			t.Errorf("Get() = %d %q; want 200 \"hello\"", resp.StatusCode, got)
		}
		if got := retryhttp.AttemptsOf(resp); got != 3 {
			t.Errorf("AttemptsOf() = %d; want 3", got)
		}
		if got := hits.Load(); got != 3 {
			t.Errorf("the server got %d requests; want 3", got)
		}
	})

	t.Run("when the retries run out the last response comes back unread", func(t *testing.T) {
		var hits atomic.Int32
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			n := hits.Add(1)
			http.Error(w, "busy "+strconv.Itoa(int(n)), http.StatusServiceUnavailable)
		}))
		defer srv.Close()
		client := retryhttp.NewClient(retryhttp.WithRetry(retry.WithMaxAttempts(3), retry.WithBackoff(0, 0)))
		defer client.CloseIdleConnections()

		resp, err := client.Get(srv.URL)
		if err != nil {
			t.Fatalf("Get() = %v; want nil", err)
		}
		if got := readAll(t, resp); resp.StatusCode != 503 || got != "busy 3\n" {
			t.Errorf("Get() = %d %q; want 503 \"busy 3\\n\"", resp.StatusCode, got)
		}
		if got := retryhttp.AttemptsOf(resp); got != 3 {
			t.Errorf("AttemptsOf() = %d; want 3", got)
		}
	})
}

func TestWhatIsRetried(t *testing.T) {
	for _, tc := range []struct {
		code  int
		calls int
	}{
		{http.StatusTooManyRequests, 2},
		{http.StatusServiceUnavailable, 2},
		{http.StatusBadGateway, 2},
		{http.StatusGatewayTimeout, 2},
		{http.StatusRequestTimeout, 2},
		{http.StatusInternalServerError, 1},
		{http.StatusNotFound, 1},
		{http.StatusOK, 1},
	} {
		t.Run(strconv.Itoa(tc.code)+" is tried "+strconv.Itoa(tc.calls)+" times", func(t *testing.T) {
			calls := 0
			var bs bodies
			tr := retryhttp.New(fast, retryhttp.WithRetry(retry.WithMaxAttempts(2), retry.WithBackoff(0, 0)),
				retryhttp.WithBase(baseFunc(func(r *http.Request) (*http.Response, error) {
					calls++
					return bs.respond(r, tc.code, "x"), nil
				})))
			resp, err := tr.RoundTrip(mustRequest(t, "GET", "http://a.test/", nil))
			if err != nil {
				t.Fatalf("RoundTrip() = %v; want nil", err)
			}
			readAll(t, resp)
			if calls != tc.calls {
				t.Errorf("base called %d times; want %d", calls, tc.calls)
			}
			if n := bs.open(); n != 0 {
				t.Errorf("%d bodies left open; want 0", n)
			}
		})
	}

	t.Run("a transport error is retried, a certificate error is not", func(t *testing.T) {
		for _, tc := range []struct {
			err   error
			calls int
		}{
			{&net.OpError{Op: "dial", Err: errors.New("connection refused")}, 3},
			{x509.UnknownAuthorityError{}, 1},
		} {
			calls := 0
			tr := retryhttp.New(retryhttp.WithRetry(retry.WithMaxAttempts(3), retry.WithBackoff(0, 0)),
				retryhttp.WithBase(baseFunc(func(r *http.Request) (*http.Response, error) {
					calls++
					return nil, tc.err
				})))
			_, err := tr.RoundTrip(mustRequest(t, "GET", "http://a.test/", nil))
			var re *retry.Error
			if !errors.As(err, &re) || re.Attempts != tc.calls || !errors.Is(err, tc.err) {
				t.Errorf("RoundTrip() = %v; want a *retry.Error after %d attempts matching %v", err, tc.calls, tc.err)
			}
			if calls != tc.calls {
				t.Errorf("base called %d times; want %d", calls, tc.calls)
			}
		}
	})

	t.Run("a classifier decides instead of the default", func(t *testing.T) {
		calls := 0
		tr := retryhttp.New(fast,
			retryhttp.WithRetryIf(func(resp *http.Response, err error) bool {
				return err == nil && resp.StatusCode == http.StatusInternalServerError
			}),
			retryhttp.WithBase(baseFunc(func(r *http.Request) (*http.Response, error) {
				calls++
				if calls == 1 {
					return (*bodies)(nil).respond(r, 500, "oops"), nil
				}
				return (*bodies)(nil).respond(r, 503, "busy"), nil
			})))
		resp, err := tr.RoundTrip(mustRequest(t, "GET", "http://a.test/", nil))
		if err != nil {
			t.Fatalf("RoundTrip() = %v; want nil", err)
		}
		readAll(t, resp)
		if resp.StatusCode != 503 || calls != 2 {
			t.Errorf("RoundTrip() = %d after %d calls; want 503 after 2", resp.StatusCode, calls)
		}
	})

	t.Run("a response without a body gets http.NoBody", func(t *testing.T) {
		tr := retryhttp.New(fast, retryhttp.WithBase(baseFunc(func(r *http.Request) (*http.Response, error) {
			return &http.Response{StatusCode: 503, Header: http.Header{}}, nil
		})))
		resp, err := tr.RoundTrip(mustRequest(t, "GET", "http://a.test/", nil))
		if err != nil {
			t.Fatalf("RoundTrip() = %v; want nil", err)
		}
		if got := readAll(t, resp); resp.StatusCode != 503 || got != "" {
			t.Errorf("RoundTrip() = %d %q; want 503 and an empty body", resp.StatusCode, got)
		}
	})

	t.Run("a panic in the base is returned and not retried", func(t *testing.T) {
		calls := 0
		tr := retryhttp.New(fast, retryhttp.WithBase(baseFunc(func(r *http.Request) (*http.Response, error) {
			calls++
			panic("boom")
		})))
		_, err := tr.RoundTrip(mustRequest(t, "GET", "http://a.test/", nil))
		var pe *retryhttp.PanicError
		if !errors.As(err, &pe) || pe.Value != "boom" {
			t.Errorf("RoundTrip() = %v; want a *PanicError of \"boom\"", err)
		}
		if calls != 1 {
			t.Errorf("base called %d times; want 1", calls)
		}
	})
}

// echo is a server that records every request body and answers 503 until
// the given attempt.
type echo struct {
	mu     sync.Mutex
	bodies []string
	okFrom int
}

func (e *echo) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	b, _ := io.ReadAll(r.Body)
	e.mu.Lock()
	e.bodies = append(e.bodies, string(b))
	n := len(e.bodies)
	e.mu.Unlock()
	if n < e.okFrom {
		http.Error(w, "busy", http.StatusServiceUnavailable)
		return
	}
	io.WriteString(w, "done")
}

func TestMethods(t *testing.T) {
	post := func(t *testing.T, tr *retryhttp.Transport, url string, body io.Reader, key bool) *http.Response {
		t.Helper()
		req := mustRequest(t, "POST", url, body)
		if key {
			req.Header.Set("Idempotency-Key", "k1")
		}
		resp, err := tr.RoundTrip(req)
		if err != nil {
			t.Fatalf("RoundTrip() = %v; want nil", err)
		}
		readAll(t, resp)
		return resp
	}

	t.Run("a POST is sent once by default", func(t *testing.T) {
		e := &echo{okFrom: 3}
		srv := httptest.NewServer(e)
		defer srv.Close()
		tr := retryhttp.New(fast)
		defer tr.CloseIdleConnections()
		resp := post(t, tr, srv.URL, strings.NewReader("order 1"), false)
		if resp.StatusCode != 503 || len(e.bodies) != 1 {
			t.Errorf("POST = %d after %d requests; want 503 after 1", resp.StatusCode, len(e.bodies))
		}
	})

	t.Run("a POST with an Idempotency-Key is retried with the same body each time", func(t *testing.T) {
		e := &echo{okFrom: 3}
		srv := httptest.NewServer(e)
		defer srv.Close()
		tr := retryhttp.New(fast)
		defer tr.CloseIdleConnections()
		resp := post(t, tr, srv.URL, strings.NewReader("order 1"), true)
		if resp.StatusCode != 200 {
			t.Errorf("POST = %d; want 200", resp.StatusCode)
		}
		if want := []string{"order 1", "order 1", "order 1"}; strings.Join(e.bodies, "|") != strings.Join(want, "|") {
			t.Errorf("the server got bodies %q; want %q", e.bodies, want)
		}
	})

	t.Run("WithAllMethods retries a POST", func(t *testing.T) {
		e := &echo{okFrom: 2}
		srv := httptest.NewServer(e)
		defer srv.Close()
		tr := retryhttp.New(fast, retryhttp.WithAllMethods())
		defer tr.CloseIdleConnections()
		resp := post(t, tr, srv.URL, bytes.NewReader([]byte("order 2")), false)
		if resp.StatusCode != 200 || len(e.bodies) != 2 || e.bodies[1] != "order 2" {
			t.Errorf("POST = %d with bodies %q; want 200 with two \"order 2\"", resp.StatusCode, e.bodies)
		}
	})

	t.Run("a body that cannot be rewound is sent once", func(t *testing.T) {
		e := &echo{okFrom: 2}
		srv := httptest.NewServer(e)
		defer srv.Close()
		tr := retryhttp.New(fast)
		defer tr.CloseIdleConnections()
		req := mustRequest(t, "PUT", srv.URL, io.MultiReader(strings.NewReader("v")))
		resp, err := tr.RoundTrip(req)
		if err != nil {
			t.Fatalf("RoundTrip() = %v; want nil", err)
		}
		readAll(t, resp)
		if resp.StatusCode != 503 || len(e.bodies) != 1 {
			t.Errorf("PUT = %d after %d requests; want 503 after 1", resp.StatusCode, len(e.bodies))
		}
	})
}

func TestConnectionReuse(t *testing.T) {
	t.Run("retries reuse one connection", func(t *testing.T) {
		var conns atomic.Int32
		var hits atomic.Int32
		srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if hits.Add(1) < 4 {
				w.Header().Set("Retry-After", "0")
				http.Error(w, strings.Repeat("busy ", 1000), http.StatusServiceUnavailable)
				return
			}
			io.WriteString(w, "ok")
		}))
		srv.Config.ConnState = func(_ net.Conn, s http.ConnState) {
			if s == http.StateNew {
				conns.Add(1)
			}
		}
		srv.Start()
		defer srv.Close()
		base := &http.Transport{}
		defer base.CloseIdleConnections()
		// A wait between attempts lets the connection go back to the pool
		// (http.Transport returns it from its own goroutine): generous,
		// for a loaded machine.
		client := retryhttp.NewClient(retryhttp.WithBase(base),
			retryhttp.WithRetry(retry.WithBackoff(50*time.Millisecond, 50*time.Millisecond), retry.WithJitter(0)))
		resp, err := client.Get(srv.URL)
		if err != nil {
			t.Fatalf("Get() = %v; want nil", err)
		}
		if got := readAll(t, resp); got != "ok" {
			t.Errorf("Get() body = %q; want \"ok\"", got)
		}
		if got := conns.Load(); got != 1 {
			t.Errorf("the server saw %d connections for 4 attempts; want 1", got)
		}
	})
}

func TestRetryAfter(t *testing.T) {
	busyThenOK := func(retryAfter func() string, bs *bodies) http.RoundTripper {
		calls := 0
		return baseFunc(func(r *http.Request) (*http.Response, error) {
			calls++
			if calls == 1 {
				return bs.respond(r, http.StatusTooManyRequests, "slow down", "Retry-After", retryAfter()), nil
			}
			return bs.respond(r, http.StatusOK, "ok"), nil
		})
	}
	policy := retryhttp.WithRetry(retry.WithBackoff(time.Millisecond, time.Millisecond), retry.WithJitter(0))

	t.Run("a Retry-After in seconds sets the wait", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			var bs bodies
			tr := retryhttp.New(policy, retryhttp.WithBase(busyThenOK(func() string { return "3" }, &bs)))
			start := time.Now()
			resp, err := tr.RoundTrip(mustRequest(t, "GET", "http://a.test/", nil))
			if err != nil {
				t.Fatalf("RoundTrip() = %v; want nil", err)
			}
			readAll(t, resp)
			if got := time.Since(start); got != 3*time.Second {
				t.Errorf("RoundTrip took %v; want 3s", got)
			}
			if bs.open() != 0 {
				t.Errorf("%d bodies left open; want 0", bs.open())
			}
		})
	})

	t.Run("a Retry-After as an HTTP-date sets the wait", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			tr := retryhttp.New(policy, retryhttp.WithBase(busyThenOK(func() string {
				return time.Now().Add(5 * time.Second).UTC().Format(http.TimeFormat)
			}, nil)))
			start := time.Now()
			resp, err := tr.RoundTrip(mustRequest(t, "GET", "http://a.test/", nil))
			if err != nil {
				t.Fatalf("RoundTrip() = %v; want nil", err)
			}
			readAll(t, resp)
			if got := time.Since(start); got != 5*time.Second {
				t.Errorf("RoundTrip took %v; want 5s", got)
			}
		})
	})

	t.Run("a hint past the ctx deadline returns the last response at once", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			calls := 0
			tr := retryhttp.New(policy, retryhttp.WithBase(baseFunc(func(r *http.Request) (*http.Response, error) {
				calls++
				return (*bodies)(nil).respond(r, http.StatusServiceUnavailable, "maintenance", "Retry-After", "10"), nil
			})))
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			start := time.Now()
			resp, err := tr.RoundTrip(mustRequest(t, "GET", "http://a.test/", nil).WithContext(ctx))
			if err != nil {
				t.Fatalf("RoundTrip() = %v; want nil", err)
			}
			if got := readAll(t, resp); resp.StatusCode != 503 || got != "maintenance" {
				t.Errorf("RoundTrip() = %d %q; want 503 \"maintenance\"", resp.StatusCode, got)
			}
			if got := time.Since(start); got != 0 || calls != 1 {
				t.Errorf("RoundTrip took %v and %d calls; want 0s and 1", got, calls)
			}
		})
	})

	t.Run("a hint past WithMaxRetryAfter returns the last response at once", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			tr := retryhttp.New(policy, retryhttp.WithMaxRetryAfter(2*time.Second),
				retryhttp.WithBase(busyThenOK(func() string { return "3" }, nil)))
			start := time.Now()
			resp, err := tr.RoundTrip(mustRequest(t, "GET", "http://a.test/", nil))
			if err != nil {
				t.Fatalf("RoundTrip() = %v; want nil", err)
			}
			readAll(t, resp)
			if resp.StatusCode != 429 || time.Since(start) != 0 {
				t.Errorf("RoundTrip() = %d after %v; want 429 at once", resp.StatusCode, time.Since(start))
			}
		})
	})
}

func TestCancellation(t *testing.T) {
	t.Run("a ctx cancelled during a wait ends the call at once", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			var bs bodies
			calls := 0
			tr := retryhttp.New(retryhttp.WithRetry(retry.WithBackoff(time.Minute, time.Minute)),
				retryhttp.WithBase(baseFunc(func(r *http.Request) (*http.Response, error) {
					calls++
					return bs.respond(r, http.StatusServiceUnavailable, "busy"), nil
				})))
			ctx, cancel := context.WithCancel(context.Background())
			go func() {
				time.Sleep(10 * time.Second)
				cancel()
			}()
			start := time.Now()
			resp, err := tr.RoundTrip(mustRequest(t, "GET", "http://a.test/", nil).WithContext(ctx))
			if resp != nil || !errors.Is(err, context.Canceled) {
				t.Fatalf("RoundTrip() = %v, %v; want nil and an error matching context.Canceled", resp, err)
			}
			var se *retryhttp.StatusError
			if !errors.As(err, &se) || se.StatusCode != 503 {
				t.Errorf("RoundTrip() = %v; want it to match the last attempt's 503", err)
			}
			if got := time.Since(start); got != 10*time.Second || calls != 1 {
				t.Errorf("RoundTrip took %v and %d calls; want 10s and 1", got, calls)
			}
			if bs.open() != 0 {
				t.Errorf("%d bodies left open; want 0", bs.open())
			}
		})
	})

	t.Run("a ctx already done sends nothing and closes the request body", func(t *testing.T) {
		calls := 0
		tr := retryhttp.New(retryhttp.WithBase(baseFunc(func(r *http.Request) (*http.Response, error) {
			calls++
			return nil, errors.New("unreachable")
		})))
		ctx, cancel := context.WithCancel(context.Background())
		cancel()
		b := &body{Reader: strings.NewReader("x")}
		req := mustRequest(t, "PUT", "http://a.test/", b).WithContext(ctx)
		if _, err := tr.RoundTrip(req); !errors.Is(err, context.Canceled) {
			t.Errorf("RoundTrip() = %v; want context.Canceled", err)
		}
		if calls != 0 || !b.closed.Load() {
			t.Errorf("base called %d times, body closed %v; want 0 and true", calls, b.closed.Load())
		}
	})
}

// stall is a base that blocks the first request until its ctx ends, and
// answers the others at once with a body that fails once the request's ctx
// has ended.
func stall(calls *atomic.Int32) http.RoundTripper {
	return baseFunc(func(r *http.Request) (*http.Response, error) {
		if calls.Add(1) == 1 {
			<-r.Context().Done()
			return nil, r.Context().Err()
		}
		return &http.Response{StatusCode: 200, Header: http.Header{}, Request: r,
			Body: io.NopCloser(ctxReader{r.Context(), strings.NewReader("ok")})}, nil
	})
}

type ctxReader struct {
	ctx context.Context
	r   io.Reader
}

func (c ctxReader) Read(p []byte) (int, error) {
	if err := c.ctx.Err(); err != nil {
		return 0, err
	}
	return c.r.Read(p)
}

func TestAttemptTimeout(t *testing.T) {
	t.Run("an attempt past its timeout is retried, and the body outlives the call", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			var calls atomic.Int32
			tr := retryhttp.New(retryhttp.WithBase(stall(&calls)),
				retryhttp.WithRetry(retry.WithAttemptTimeout(time.Second), retry.WithBackoff(0, 0)))
			start := time.Now()
			resp, err := tr.RoundTrip(mustRequest(t, "GET", "http://a.test/", nil))
			if err != nil {
				t.Fatalf("RoundTrip() = %v; want nil", err)
			}
			if got := time.Since(start); got != time.Second || calls.Load() != 2 {
				t.Errorf("RoundTrip took %v and %d calls; want 1s and 2", got, calls.Load())
			}
			if got := retryhttp.AttemptsOf(resp); got != 2 {
				t.Errorf("AttemptsOf() = %d; want 2", got)
			}
			synctest.Wait()
			if got := readAll(t, resp); got != "ok" {
				t.Errorf("body = %q; want \"ok\"", got)
			}
			if err := resp.Request.Context().Err(); err != context.Canceled {
				t.Errorf("after Close, the attempt's ctx.Err() = %v; want context.Canceled", err)
			}
		})
	})
}

func TestBreakers(t *testing.T) {
	t.Run("an open breaker's rejection is waited for, then the host is probed", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			calls := map[string]int{}
			var changes []string
			g := breaker.NewGroup(breaker.WithConsecutiveFailures(2), breaker.WithOpenTimeout(5*time.Second),
				breaker.WithOnStateChange(func(name string, from, to breaker.State) {
					changes = append(changes, name+": "+from.String()+" -> "+to.String())
				}))
			var bs bodies
			tr := retryhttp.New(retryhttp.WithBreakers(g),
				retryhttp.WithRetry(retry.WithBackoff(time.Millisecond, time.Millisecond), retry.WithJitter(0)),
				retryhttp.WithBase(baseFunc(func(r *http.Request) (*http.Response, error) {
					calls[r.URL.Host]++
					if r.URL.Host == "down.test" && calls[r.URL.Host] <= 2 {
						return bs.respond(r, 502, "bad gateway"), nil
					}
					return bs.respond(r, 200, "ok"), nil
				})))
			start := time.Now()
			resp, err := tr.RoundTrip(mustRequest(t, "GET", "http://down.test/", nil))
			if err != nil {
				t.Fatalf("RoundTrip() = %v; want nil", err)
			}
			readAll(t, resp)
			if resp.StatusCode != 200 || calls["down.test"] != 3 {
				t.Errorf("RoundTrip() = %d after %d calls; want 200 after 3", resp.StatusCode, calls["down.test"])
			}
			// Two failures 1ms apart, then the open timeout (rounded up).
			if got := time.Since(start); got < 5*time.Second || got > 5*time.Second+10*time.Millisecond {
				t.Errorf("RoundTrip took %v; want a little over 5s", got)
			}
			if got, want := strings.Join(changes, "; "), "down.test: closed -> open; down.test: open -> half-open; down.test: half-open -> closed"; got != want {
				t.Errorf("breaker changes = %q; want %q", got, want)
			}
			if got := retryhttp.AttemptsOf(resp); got != 4 {
				t.Errorf("AttemptsOf() = %d; want 4 (two failures, a rejection, a probe)", got)
			}
			if bs.open() != 0 {
				t.Errorf("%d bodies left open; want 0", bs.open())
			}
		})
	})

	t.Run("a rejection longer than WithMaxRetryAfter is returned as breaker.ErrOpen", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			g := breaker.NewGroup(breaker.WithConsecutiveFailures(1))
			g.Get("down.test").Trip()
			calls := 0
			tr := retryhttp.New(retryhttp.WithBreakers(g),
				retryhttp.WithBase(baseFunc(func(r *http.Request) (*http.Response, error) {
					calls++
					return (*bodies)(nil).respond(r, 200, "ok"), nil
				})))
			b := &body{Reader: strings.NewReader("x")}
			resp, err := tr.RoundTrip(mustRequest(t, "PUT", "http://down.test/", b))
			if resp != nil || !errors.Is(err, breaker.ErrOpen) {
				t.Fatalf("RoundTrip() = %v, %v; want nil and an error matching breaker.ErrOpen", resp, err)
			}
			if calls != 0 || !b.closed.Load() {
				t.Errorf("base called %d times, request body closed %v; want 0 and true", calls, b.closed.Load())
			}
		})
	})

	t.Run("only 5xx and transport errors count as failures of the host", func(t *testing.T) {
		g := breaker.NewGroup(breaker.WithConsecutiveFailures(1))
		tr := retryhttp.New(retryhttp.WithBreakers(g), retryhttp.WithRetry(retry.WithMaxAttempts(1)),
			retryhttp.WithBase(baseFunc(func(r *http.Request) (*http.Response, error) {
				switch r.URL.Path {
				case "/missing":
					return (*bodies)(nil).respond(r, 404, "no"), nil
				case "/limited":
					return (*bodies)(nil).respond(r, 429, "no"), nil
				case "/broken":
					return (*bodies)(nil).respond(r, 500, "no"), nil
				}
				return nil, errors.New("connection reset")
			})))
		for _, tc := range []struct {
			path string
			want breaker.State
		}{
			{"/missing", breaker.Closed}, {"/limited", breaker.Closed}, {"/broken", breaker.Open}, {"/reset", breaker.Open},
		} {
			host := strings.TrimPrefix(tc.path, "/") + ".test"
			resp, err := tr.RoundTrip(mustRequest(t, "GET", "http://"+host+tc.path, nil))
			if err == nil {
				readAll(t, resp)
			}
			if got := g.Get(host).State(); got != tc.want {
				t.Errorf("after GET %s, the breaker is %v; want %v", tc.path, got, tc.want)
			}
		}
	})
}

func TestHedge(t *testing.T) {
	t.Run("a slow request is hedged and the loser cancelled", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			var calls atomic.Int32
			var loserErr atomic.Value
			tr := retryhttp.New(retryhttp.WithHedge(100*time.Millisecond),
				retryhttp.WithBase(baseFunc(func(r *http.Request) (*http.Response, error) {
					if calls.Add(1) == 1 {
						<-r.Context().Done()
						loserErr.Store(r.Context().Err())
						return nil, r.Context().Err()
					}
					time.Sleep(50 * time.Millisecond)
					return (*bodies)(nil).respond(r, 200, "hedge"), nil
				})))
			start := time.Now()
			resp, err := tr.RoundTrip(mustRequest(t, "GET", "http://a.test/", nil))
			if err != nil {
				t.Fatalf("RoundTrip() = %v; want nil", err)
			}
			if got := readAll(t, resp); got != "hedge" {
				t.Errorf("body = %q; want \"hedge\"", got)
			}
			if got := time.Since(start); got != 150*time.Millisecond {
				t.Errorf("RoundTrip took %v; want 150ms", got)
			}
			if got := loserErr.Load(); got != context.Canceled {
				t.Errorf("the first copy ended with %v; want context.Canceled", got)
			}
			if got := retryhttp.AttemptsOf(resp); got != 1 {
				t.Errorf("AttemptsOf() = %d; want 1", got)
			}
		})
	})

	t.Run("a cancelled loser does not count as a failure of its host", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			var calls atomic.Int32
			g := breaker.NewGroup(breaker.WithConsecutiveFailures(1))
			tr := retryhttp.New(retryhttp.WithHedge(100*time.Millisecond), retryhttp.WithBreakers(g),
				retryhttp.WithBase(baseFunc(func(r *http.Request) (*http.Response, error) {
					if calls.Add(1) == 1 {
						<-r.Context().Done()
						return nil, r.Context().Err()
					}
					return (*bodies)(nil).respond(r, 200, "hedge"), nil
				})))
			resp, err := tr.RoundTrip(mustRequest(t, "GET", "http://a.test/", nil))
			if err != nil {
				t.Fatalf("RoundTrip() = %v; want nil", err)
			}
			readAll(t, resp)
			if got := g.Get("a.test").Counts(); got.TotalFailures != 0 || got.TotalSuccesses != 1 {
				t.Errorf("breaker counts = %+v; want 1 success and no failure", got)
			}
		})
	})

	t.Run("a loser that answered anyway has its body closed", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			var calls atomic.Int32
			var bs bodies
			tr := retryhttp.New(retryhttp.WithHedge(100*time.Millisecond),
				retryhttp.WithBase(baseFunc(func(r *http.Request) (*http.Response, error) {
					if calls.Add(1) == 1 {
						time.Sleep(300 * time.Millisecond) // ignores its ctx
						return bs.respond(r, 200, "late"), nil
					}
					time.Sleep(50 * time.Millisecond)
					return bs.respond(r, 200, "hedge"), nil
				})))
			resp, err := tr.RoundTrip(mustRequest(t, "GET", "http://a.test/", nil))
			if err != nil {
				t.Fatalf("RoundTrip() = %v; want nil", err)
			}
			if got := readAll(t, resp); got != "hedge" {
				t.Errorf("body = %q; want \"hedge\"", got)
			}
			if bs.open() != 0 {
				t.Errorf("%d bodies left open; want 0", bs.open())
			}
		})
	})

	t.Run("a retryable failure of one copy waits for the other", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			var calls atomic.Int32
			var bs bodies
			tr := retryhttp.New(retryhttp.WithHedge(100*time.Millisecond), retryhttp.WithRetry(retry.WithMaxAttempts(1)),
				retryhttp.WithBase(baseFunc(func(r *http.Request) (*http.Response, error) {
					if calls.Add(1) == 1 {
						time.Sleep(200 * time.Millisecond)
						return bs.respond(r, 503, "busy"), nil
					}
					time.Sleep(200 * time.Millisecond)
					return bs.respond(r, 200, "hedge"), nil
				})))
			resp, err := tr.RoundTrip(mustRequest(t, "GET", "http://a.test/", nil))
			if err != nil {
				t.Fatalf("RoundTrip() = %v; want nil", err)
			}
			if got := readAll(t, resp); got != "hedge" {
				t.Errorf("body = %q; want \"hedge\"", got)
			}
			if bs.open() != 0 {
				t.Errorf("%d bodies left open; want 0", bs.open())
			}
		})
	})

	t.Run("a fast answer sends no second copy", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			var calls atomic.Int32
			tr := retryhttp.New(retryhttp.WithHedge(100*time.Millisecond),
				retryhttp.WithBase(baseFunc(func(r *http.Request) (*http.Response, error) {
					calls.Add(1)
					time.Sleep(10 * time.Millisecond)
					return (*bodies)(nil).respond(r, 200, "ok"), nil
				})))
			resp, err := tr.RoundTrip(mustRequest(t, "GET", "http://a.test/", nil))
			if err != nil {
				t.Fatalf("RoundTrip() = %v; want nil", err)
			}
			readAll(t, resp)
			time.Sleep(time.Second)
			if got := calls.Load(); got != 1 {
				t.Errorf("base called %d times; want 1", got)
			}
		})
	})

	t.Run("a POST cannot be hedged", func(t *testing.T) {
		calls := 0
		tr := retryhttp.New(retryhttp.WithHedge(time.Second), retryhttp.WithBase(baseFunc(func(r *http.Request) (*http.Response, error) {
			calls++
			return nil, errors.New("unreachable")
		})))
		b := &body{Reader: strings.NewReader("x")}
		_, err := tr.RoundTrip(mustRequest(t, "POST", "http://a.test/", b))
		if err == nil || !strings.Contains(err.Error(), "cannot hedge a POST request") {
			t.Errorf("RoundTrip() = %v; want an error saying a POST cannot be hedged", err)
		}
		if calls != 0 || !b.closed.Load() {
			t.Errorf("base called %d times, body closed %v; want 0 and true", calls, b.closed.Load())
		}
	})
}

func TestBadInput(t *testing.T) {
	for _, tc := range []struct {
		name string
		opt  retryhttp.Option
		want string
	}{
		{"a nil base", retryhttp.WithBase(nil), "retryhttp: WithBase(nil)"},
		{"a negative hedge delay", retryhttp.WithHedge(-time.Second), "retryhttp: WithHedge(-1s)"},
		{"a negative max Retry-After", retryhttp.WithMaxRetryAfter(-time.Second), "retryhttp: WithMaxRetryAfter(-1s)"},
		{"a bad retry option", retryhttp.WithRetry(retry.WithMaxAttempts(0)), "retryhttp: WithRetry: retry: bad option WithMaxAttempts(0)"},
		{"a nil classifier", retryhttp.WithRetryIf(nil), "retryhttp: WithRetryIf(nil)"},
		{"a nil breaker group", retryhttp.WithBreakers(nil), "retryhttp: WithBreakers(nil)"},
		{"a nil option", nil, "retryhttp: nil Option passed to New"},
	} {
		t.Run(tc.name+" makes New panic", func(t *testing.T) {
			defer func() {
				msg, _ := recover().(string)
				if !strings.HasPrefix(msg, tc.want) {
					t.Errorf("New panicked with %q; want a message starting with %q", msg, tc.want)
				}
			}()
			retryhttp.New(tc.opt)
		})
	}

	t.Run("a nil request or URL is an error", func(t *testing.T) {
		tr := retryhttp.New()
		if _, err := tr.RoundTrip(nil); err == nil || !strings.Contains(err.Error(), "nil *http.Request") {
			t.Errorf("RoundTrip(nil) = %v; want an error naming the nil request", err)
		}
		if _, err := tr.RoundTrip(&http.Request{Method: "GET"}); err == nil || !strings.Contains(err.Error(), "req.URL is nil") {
			t.Errorf("RoundTrip() of a request without a URL = %v; want an error naming req.URL", err)
		}
	})
}

func TestRetriedBodies(t *testing.T) {
	t.Run("a long error body comes back whole when the retries run out", func(t *testing.T) {
		long := strings.Repeat("0123456789", 10_000) // past the 64 KiB drained
		var bs bodies
		tr := retryhttp.New(retryhttp.WithRetry(retry.WithMaxAttempts(2), retry.WithBackoff(0, 0)),
			retryhttp.WithBase(baseFunc(func(r *http.Request) (*http.Response, error) {
				return bs.respond(r, 503, long), nil
			})))
		resp, err := tr.RoundTrip(mustRequest(t, "GET", "http://a.test/", nil))
		if err != nil {
			t.Fatalf("RoundTrip() = %v; want nil", err)
		}
		if got := readAll(t, resp); got != long {
			t.Errorf("body has %d bytes; want the %d sent", len(got), len(long))
		}
		if bs.open() != 0 {
			t.Errorf("%d bodies left open; want 0", bs.open())
		}
	})

	t.Run("AttemptsOf a response that did not come through a Transport is 1", func(t *testing.T) {
		if got := retryhttp.AttemptsOf(&http.Response{}); got != 1 {
			t.Errorf("AttemptsOf() = %d; want 1", got)
		}
		if got := retryhttp.AttemptsOf(nil); got != 0 {
			t.Errorf("AttemptsOf(nil) = %d; want 0", got)
		}
	})
}

func TestClassifierPanics(t *testing.T) {
	t.Run("a panicking classifier ends a hedged request with every copy ended and every body closed", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			var calls atomic.Int32
			var bs bodies
			tr := retryhttp.New(retryhttp.WithHedge(100*time.Millisecond),
				retryhttp.WithRetryIf(func(resp *http.Response, err error) bool { panic("classifier") }),
				retryhttp.WithBase(baseFunc(func(r *http.Request) (*http.Response, error) {
					if calls.Add(1) == 1 {
						time.Sleep(time.Second) // ignores its ctx
						return bs.respond(r, 200, "late"), nil
					}
					return bs.respond(r, 200, "hedge"), nil
				})))
			resp, err := tr.RoundTrip(mustRequest(t, "GET", "http://a.test/", nil))
			var pe *retryhttp.PanicError
			if resp != nil || !errors.As(err, &pe) || pe.Value != "classifier" {
				t.Fatalf("RoundTrip() = %v, %v; want nil and a *PanicError of \"classifier\"", resp, err)
			}
			if n := bs.open(); n != 0 || calls.Load() != 2 {
				t.Errorf("%d bodies left open after %d calls; want 0 after 2", n, calls.Load())
			}
		})
	})
}
