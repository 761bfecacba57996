// Command fetch is the aiohttp example: fetch a list of URLs one at a time,
// then concurrently, and compare. It needs no internet: a local httptest
// server plays three hosts (api.test, cdn.test and down.test) with a few
// milliseconds to 50 ms of latency per page and some misbehaviour:
//
//   - api.test/flaky answers 500 the first time, then 200: retry fixes it;
//   - api.test/slow hangs the first time until the client hangs up: the
//     attempt is cut off by its timeout and retried;
//   - api.test/missing is a 404: not retried, and not the host's fault;
//   - down.test answers 503 to everything: its breaker opens after three
//     failures, and the requests after that are rejected at once, without
//     touching the network.
//
// The concurrent pass uses gather.Map with WithLimit(5), so at most five
// requests are in flight; each URL goes through retry.DoValue (three attempts,
// exponential backoff, a timeout per attempt) around breaker.DoValue with the
// URL's host's breaker from a breaker.Group. One URL's failure is part of its
// result, not an error of the whole Map, so it cancels nothing.
//
// The breakers belong to the client, which is used for both passes, as in a
// long-running program: down.test's breaker opens during the first pass and
// is still open in the second. The site forgets its own state between passes,
// so the flaky and slow pages misbehave in both.
//
//	go run ./examples/fetch -n 20 -limit 5
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"hash/fnv"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"os/signal"
	"strings"
	"sync"
	"time"

	"github.com/async-patterns/async/breaker"
	"github.com/async-patterns/async/gather"
	"github.com/async-patterns/async/retry"
)

func main() {
	n := flag.Int("n", 20, "how many URLs to fetch (at least 6: the misbehaving ones are always included)")
	limit := flag.Int("limit", 5, "how many requests the concurrent pass runs at once")
	timeout := flag.Duration("timeout", 150*time.Millisecond, "the timeout of each attempt")
	flag.Parse()

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	if err := run(ctx, os.Stdout, config{urls: *n, limit: *limit, attemptTimeout: *timeout}); err != nil {
		fmt.Fprintln(os.Stderr, "fetch:", err)
		os.Exit(1)
	}
}

type config struct {
	urls           int           // how many URLs to fetch
	limit          int           // requests in flight at once in the concurrent pass
	attemptTimeout time.Duration // retry.WithAttemptTimeout
}

// run starts the site, fetches every URL sequentially and then concurrently,
// and prints a line per URL, in input order, after each pass. Lines that
// depend on timing start with "time:".
func run(ctx context.Context, out io.Writer, cfg config) error {
	if cfg.urls < len(specials) || cfg.limit < 1 || cfg.attemptTimeout <= 0 {
		return fmt.Errorf("need at least %d URLs, a limit >= 1 and a positive attempt timeout; got %d, %d, %v",
			len(specials), cfg.urls, cfg.limit, cfg.attemptTimeout)
	}
	s := newSite()
	defer s.Close()
	c := newClient(s, cfg.attemptTimeout)
	defer c.Close()
	urls := makeURLs(cfg.urls)

	fmt.Fprintf(out, "sequential: %d URLs, one at a time\n", len(urls))
	start := time.Now()
	seq := make([]result, len(urls))
	for i, u := range urls {
		seq[i] = c.fetch(ctx, u)
	}
	seqTime := time.Since(start)
	if err := ctx.Err(); err != nil {
		return err
	}
	c.report(out, seq)
	fmt.Fprintf(out, "time: sequential %v\n", seqTime.Round(time.Millisecond))

	s.reset()
	fmt.Fprintf(out, "\nconcurrent: %d URLs, gather.Map with WithLimit(%d)\n", len(urls), cfg.limit)
	start = time.Now()
	// fetch never fails: a URL's failure is in its result, so that it does
	// not cancel the others (asyncio.gather with return_exceptions=True).
	// Map's error can only be ctx's.
	con, err := gather.Map(ctx, urls, func(ctx context.Context, u string) (result, error) {
		return c.fetch(ctx, u), nil
	}, gather.WithLimit(cfg.limit))
	conTime := time.Since(start)
	if err != nil {
		return err
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	c.report(out, con)
	fmt.Fprintf(out, "time: concurrent %v\n", conTime.Round(time.Millisecond))
	fmt.Fprintf(out, "time: speed-up %.1fx\n", seqTime.Seconds()/conTime.Seconds())
	return nil
}

// specials are the misbehaving URLs; makeURLs spreads them through the list.
var specials = []string{
	"http://api.test/flaky",
	"http://down.test/status",
	"http://api.test/slow",
	"http://down.test/feed",
	"http://api.test/missing",
	"http://down.test/search",
}

// makeURLs returns n URLs: the specials at evenly spaced places, and
// ordinary pages on api.test and cdn.test in between.
func makeURLs(n int) []string {
	urls := make([]string, 0, n)
	next, page := 0, 0
	for i := range n {
		if next < len(specials) && i == (next+1)*n/(len(specials)+1) {
			urls = append(urls, specials[next])
			next++
			continue
		}
		page++
		if page%2 == 1 {
			urls = append(urls, fmt.Sprintf("http://api.test/users/%d", page/2+1))
		} else {
			urls = append(urls, fmt.Sprintf("http://cdn.test/img/%d.png", page/2))
		}
	}
	return urls
}

// client fetches URLs through retry and a breaker per host. Its fields are
// set once; it is safe for concurrent use.
type client struct {
	http     *http.Client
	breakers *breaker.Group
	retry    []retry.Option

	mu      sync.Mutex // protects changes
	changes []string   // breaker state changes, reported and cleared by report
}

// newClient returns a client whose connections all go to s, whatever the
// URL's host, so that the .test hosts resolve without DNS.
func newClient(s *site, attemptTimeout time.Duration) *client {
	addr := s.Listener.Addr().String()
	var dialer net.Dialer
	transport := &http.Transport{ // no Proxy: never leave this machine
		DialContext: func(ctx context.Context, network, _ string) (net.Conn, error) {
			return dialer.DialContext(ctx, network, addr)
		},
		MaxIdleConnsPerHost: 8,
	}
	c := &client{http: &http.Client{Transport: transport}}
	c.breakers = breaker.NewGroup(
		breaker.WithConsecutiveFailures(3),
		breaker.WithOpenTimeout(time.Minute), // longer than the run: it stays open
		// A 4xx is the caller's mistake, not a sign that the host is down.
		breaker.WithIsFailure(func(err error) bool {
			var se *statusError
			return !errors.As(err, &se) || se.code >= 500
		}),
		breaker.WithOnStateChange(func(host string, from, to breaker.State) {
			c.mu.Lock()
			defer c.mu.Unlock()
			c.changes = append(c.changes, fmt.Sprintf("breaker %s: %v -> %v", host, from, to))
		}),
	)
	c.retry = []retry.Option{
		retry.WithMaxAttempts(3),
		retry.WithBackoff(20*time.Millisecond, 200*time.Millisecond),
		retry.WithAttemptTimeout(attemptTimeout),
		retry.WithRetryIf(retryable),
	}
	return c
}

// Close closes the client's idle connections.
func (c *client) Close() { c.http.CloseIdleConnections() }

// result is what happened to one URL.
type result struct {
	url      string
	err      error    // nil when the URL was fetched
	attempts []string // the outcome of each attempt: "200", "500", "timeout", "circuit open"
}

// fetch gets rawURL with retries, each attempt through the breaker of the
// URL's host. It records every attempt's outcome in the result.
func (c *client) fetch(ctx context.Context, rawURL string) result {
	r := result{url: rawURL}
	u, err := url.Parse(rawURL)
	if err != nil {
		r.err = err
		return r
	}
	b := c.breakers.Get(u.Host)
	_, r.err = retry.DoValue(ctx, func(ctx context.Context) (int, error) {
		code, err := breaker.DoValue(ctx, b, func(ctx context.Context) (int, error) {
			return c.get(ctx, rawURL)
		})
		r.attempts = append(r.attempts, outcome(code, err))
		return code, err
	}, c.retry...)
	return r
}

// get makes one request and reads the body. A status of 400 or more is
// returned as a *statusError.
func (c *client) get(ctx context.Context, rawURL string) (int, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, rawURL, nil)
	if err != nil {
		return 0, err
	}
	resp, err := c.http.Do(req)
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	if _, err := io.Copy(io.Discard, resp.Body); err != nil {
		return 0, err
	}
	if resp.StatusCode >= 400 {
		return resp.StatusCode, &statusError{resp.StatusCode}
	}
	return resp.StatusCode, nil
}

// report prints one line per URL in input order, a tally, and the breaker
// changes since the last report.
func (c *client) report(out io.Writer, results []result) {
	ok, attempts := 0, 0
	for _, r := range results {
		verdict := "ok"
		if r.err != nil {
			verdict = "failed"
		} else {
			ok++
		}
		attempts += len(r.attempts)
		fmt.Fprintf(out, "  %-20s %-7s %s\n", strings.TrimPrefix(r.url, "http://"), verdict, strings.Join(r.attempts, ", "))
	}
	fmt.Fprintf(out, "  %d ok, %d failed, %d attempts\n", ok, len(results)-ok, attempts)
	c.mu.Lock()
	changes := c.changes
	c.changes = nil
	c.mu.Unlock()
	if len(changes) == 0 {
		fmt.Fprintln(out, "  no breaker changed state")
	}
	for _, ch := range changes {
		fmt.Fprintln(out, "  "+ch)
	}
}

// statusError is an HTTP status of 400 or more.
type statusError struct{ code int }

func (e *statusError) Error() string {
	return fmt.Sprintf("%d %s", e.code, http.StatusText(e.code))
}

// retryable says which failures deserve another attempt: a 5xx, a timeout,
// a network error. Not a 4xx (asking again will not help) and not a breaker
// rejection (the breaker stays open for a minute; waiting is pointless here).
// An attempt cut off by its own timeout is retried by retry.Do whatever this
// says.
func retryable(err error) bool {
	var se *statusError
	if errors.As(err, &se) {
		return se.code >= 500
	}
	return !errors.Is(err, breaker.ErrOpen) && !errors.Is(err, breaker.ErrTooManyRequests)
}

// outcome names an attempt's result in a word.
func outcome(code int, err error) string {
	var se *statusError
	switch {
	case err == nil:
		return fmt.Sprint(code)
	case errors.As(err, &se):
		return fmt.Sprint(se.code)
	case errors.Is(err, breaker.ErrOpen):
		return "circuit open"
	case errors.Is(err, breaker.ErrTooManyRequests):
		return "half-open"
	case errors.Is(err, context.DeadlineExceeded):
		return "timeout"
	default:
		return "error: " + err.Error()
	}
}

// site is the local server behind every .test host. It routes on the Host
// header and remembers how often each page was asked for, to misbehave the
// first time.
type site struct {
	*httptest.Server

	mu   sync.Mutex     // protects hits
	hits map[string]int // requests so far, by host and path
}

func newSite() *site {
	s := &site{hits: make(map[string]int)}
	s.Server = httptest.NewServer(http.HandlerFunc(s.serve))
	return s
}

// reset forgets every page's hits, so that the next pass sees the same site.
func (s *site) reset() {
	s.mu.Lock()
	defer s.mu.Unlock()
	clear(s.hits)
}

func (s *site) serve(w http.ResponseWriter, r *http.Request) {
	page := r.Host + r.URL.Path
	s.mu.Lock()
	s.hits[page]++
	hit := s.hits[page]
	s.mu.Unlock()

	delay := latency(page)
	if page == "api.test/slow" && hit == 1 {
		delay = hang // in effect, until the client gives up
	}
	t := time.NewTimer(delay)
	defer t.Stop()
	select {
	case <-t.C:
	case <-r.Context().Done(): // the client gave up
		return
	}

	switch {
	case r.Host == "down.test":
		http.Error(w, "down for maintenance", http.StatusServiceUnavailable)
	case page == "api.test/flaky" && hit == 1:
		http.Error(w, "oops", http.StatusInternalServerError)
	case page == "api.test/missing":
		http.NotFound(w, r)
	case r.Host == "api.test" || r.Host == "cdn.test":
		fmt.Fprintf(w, "%s: %s\n", page, strings.Repeat("data ", 100))
	default:
		http.Error(w, "no such host", http.StatusBadGateway)
	}
}

// hang bounds how long api.test/slow waits for the client to give up.
const hang = 10 * time.Second

// latency is a page's response time: 5 to 50 ms, the same every time.
func latency(page string) time.Duration {
	h := fnv.New32a()
	h.Write([]byte(page))
	return time.Duration(5+h.Sum32()%46) * time.Millisecond
}
