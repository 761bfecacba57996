package retryhttp_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"time"

	"github.com/async-patterns/async/breaker"
	"github.com/async-patterns/async/retry"
	"github.com/async-patterns/async/retry/retryhttp"
)

// This example shows a client that rides out a server's bad moment: two 503s,
// then the answer.
func Example() {
	var hits atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if hits.Add(1) <= 2 {
			http.Error(w, "busy", http.StatusServiceUnavailable)
			return
		}
		fmt.Fprint(w, "hello")
	}))
	defer srv.Close()

	client := retryhttp.NewClient(retryhttp.WithRetry(
		retry.WithMaxAttempts(4),
		retry.WithBackoff(10*time.Millisecond, time.Second),
		retry.WithAttemptTimeout(2*time.Second),
	))
	defer client.CloseIdleConnections()

	resp, err := client.Get(srv.URL)
	if err != nil {
		fmt.Println(err)
		return
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	fmt.Println(resp.StatusCode, string(body), "after", retryhttp.AttemptsOf(resp), "attempts")
	// Output: 200 hello after 3 attempts
}

// This example shows what comes back when the retries run out on a status:
// the last response, with its body for the caller to read.
func ExampleAttemptsOf() {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Retry-After", "0")
		http.Error(w, "down for maintenance", http.StatusServiceUnavailable)
	}))
	defer srv.Close()

	client := retryhttp.NewClient(retryhttp.WithRetry(retry.WithMaxAttempts(3), retry.WithBackoff(time.Millisecond, time.Millisecond)))
	defer client.CloseIdleConnections()

	resp, err := client.Get(srv.URL)
	if err != nil {
		fmt.Println(err)
		return
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	fmt.Printf("%s after %d attempts: %s", resp.Status, retryhttp.AttemptsOf(resp), body)
	// Output: 503 Service Unavailable after 3 attempts: down for maintenance
}

// This example shows a breaker per host: once a host's breaker is open, a
// request to it is not sent, and the error says so.
func ExampleWithBreakers() {
	hosts := breaker.NewGroup(breaker.WithConsecutiveFailures(2), breaker.WithOpenTimeout(time.Minute))
	client := retryhttp.NewClient(
		retryhttp.WithBreakers(hosts),
		retryhttp.WithRetry(retry.WithMaxAttempts(3), retry.WithBackoff(0, 0)),
		// An in-memory base: every request fails as a refused connection would.
		retryhttp.WithBase(baseFunc(func(r *http.Request) (*http.Response, error) {
			return nil, errors.New("connection refused")
		})),
	)

	_, err := client.Get("http://down.test/")
	fmt.Println("open:", errors.Is(err, breaker.ErrOpen))
	fmt.Println("breaker:", hosts.Get("down.test").State())
	// Output:
	// open: true
	// breaker: open
}

// This example shows a hedged request: the first copy hangs, a second one
// goes out after 20ms and wins, and the first is cancelled.
func ExampleWithHedge() {
	var hits atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if hits.Add(1) == 1 {
			<-r.Context().Done() // hangs until the client gives up on it
			return
		}
		fmt.Fprint(w, "from the second copy")
	}))
	defer srv.Close()

	client := retryhttp.NewClient(retryhttp.WithHedge(20 * time.Millisecond))
	defer client.CloseIdleConnections()

	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, srv.URL, nil)
	resp, err := client.Do(req)
	if err != nil {
		fmt.Println(err)
		return
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	fmt.Println(resp.StatusCode, string(body))
	// Output: 200 from the second copy
}

// This example shows how a caller finds out why the retries stopped on a
// response: the server asked for a wait longer than the client allows.
func ExampleStopOf() {
	client := retryhttp.NewClient(
		retryhttp.WithMaxRetryAfter(time.Minute),
		// An in-memory base: the server is down for an hour.
		retryhttp.WithBase(baseFunc(func(r *http.Request) (*http.Response, error) {
			return (*bodies)(nil).respond(r, http.StatusServiceUnavailable, "maintenance", "Retry-After", "3600"), nil
		})),
	)

	resp, err := client.Get("http://a.test/")
	if err != nil {
		fmt.Println(err)
		return
	}
	defer resp.Body.Close()
	var hint *retryhttp.HintError
	if errors.As(retryhttp.StopOf(resp), &hint) {
		fmt.Printf("%s after %d attempt: asked to wait %v, allowed %v\n",
			resp.Status, retryhttp.AttemptsOf(resp), hint.Wait, hint.Limit)
	}
	// Output: 503 Service Unavailable after 1 attempt: asked to wait 1h0m0s, allowed 1m0s
}

// This example shows a request that could never be sent: it is refused
// before the first attempt, and nothing reaches the host.
func ExampleErrInvalidRequest() {
	calls := 0
	client := retryhttp.NewClient(retryhttp.WithBase(baseFunc(func(r *http.Request) (*http.Response, error) {
		calls++
		return (*bodies)(nil).respond(r, http.StatusOK, "ok"), nil
	})))

	req, _ := http.NewRequest(http.MethodGet, "http://a.test/", nil)
	req.Header.Set("X-Trace", "line one\nline two")
	_, err := client.Do(req)
	fmt.Println(errors.Is(err, retryhttp.ErrInvalidRequest), "after", calls, "calls")
	fmt.Println(err)
	// Output:
	// true after 0 calls
	// Get "http://a.test/": retryhttp: RoundTrip: invalid request: the value of the header field "X-Trace" holds a control character
}
