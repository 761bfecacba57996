// Command fetch is the aiohttp example: fetch a list of URLs one at a time,
// then concurrently, and compare. It needs no internet: a local httptest
// server plays three hosts (api.test, cdn.test and down.test) with a few
// milliseconds to 50 ms of latency per page and some misbehaviour:
//
//   - api.test/flaky answers 503 the first time, then 200: retried;
//   - api.test/slow hangs the first time until the client hangs up: the
//     attempt is cut off by its timeout and retried;
//   - api.test/missing is a 404: not retried, and not the host's fault;
//   - down.test answers 503 with "Retry-After: 120" (down for maintenance)
//     to everything: a wait that long is not worth it, so each URL is tried
//     once, and after its third failure the host's breaker opens: a request
//     made after that is rejected at once, without touching the network.
//
// All of that is the client's transport: a retryhttp.Transport (three
// attempts, exponential backoff, a timeout per attempt, Retry-After honoured
// up to a second, a breaker per host) around an http.Transport. The program
// only builds requests and reads responses; retryhttp.AttemptsOf tells it
// how many attempts each response took.
//
// The concurrent pass uses gather.Map with WithLimit(5), so at most five
// requests are in flight. One URL's failure is part of its result, not an
// error of the whole Map, so it cancels nothing.
//
// Each pass starts with a new client, hence fresh breakers, and the site
// forgets its own state between passes, so the two passes do the same work
// (the same requests, the same breaker opening) and the speed-up compares
// like with like. After each pass, one more request to down.test shows its
// breaker rejecting it.
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
	"os"
	"os/signal"
	"strings"
	"sync"
	"time"

	"github.com/async-patterns/async/breaker"
	"github.com/async-patterns/async/gather"
	"github.com/async-patterns/async/retry"
	"github.com/async-patterns/async/retry/retryhttp"
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
// each pass with a new client, and prints a line per URL, in input order,
// after each pass. Lines that depend on timing start with "time:".
func run(ctx context.Context, out io.Writer, cfg config) error {
	if cfg.urls < len(specials) || cfg.limit < 1 || cfg.attemptTimeout <= 0 {
		return fmt.Errorf("need at least %d URLs, a limit >= 1 and a positive attempt timeout; got %d, %d, %v",
			len(specials), cfg.urls, cfg.limit, cfg.attemptTimeout)
	}
	s := newSite()
	defer s.Close()
	urls := makeURLs(cfg.urls)

	fmt.Fprintf(out, "sequential: %d URLs, one at a time, fresh breakers\n", len(urls))
	c := newClient(s, cfg.attemptTimeout)
	defer c.http.CloseIdleConnections()
	start := time.Now()
	seq := make([]result, len(urls))
	for i, u := range urls {
		seq[i] = c.fetch(ctx, u)
	}
	seqTime := time.Since(start)
	if err := ctx.Err(); err != nil {
		return err
	}
	c.report(ctx, out, seq)
	fmt.Fprintf(out, "time: sequential %v\n", seqTime.Round(time.Millisecond))

	s.reset()
	fmt.Fprintf(out, "\nconcurrent: %d URLs, gather.Map with WithLimit(%d), fresh breakers\n", len(urls), cfg.limit)
	c = newClient(s, cfg.attemptTimeout)
	defer c.http.CloseIdleConnections()
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
	c.report(ctx, out, con)
	fmt.Fprintf(out, "time: concurrent %v\n", conTime.Round(time.Millisecond))
	fmt.Fprintf(out, "time: speed-up %.1fx for the same work\n", seqTime.Seconds()/conTime.Seconds())
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

// client is an HTTP client whose transport retries and keeps a breaker per
// host, and which records the breakers' changes. It is safe for concurrent
// use.
type client struct {
	http *http.Client

	mu      sync.Mutex // protects changes
	changes []string   // breaker state changes, reported and cleared by report
}

// newClient returns a client whose connections all go to s, whatever the
// URL's host, so that the .test hosts resolve without DNS.
func newClient(s *site, attemptTimeout time.Duration) *client {
	addr := s.Listener.Addr().String()
	var dialer net.Dialer
	base := &http.Transport{ // no Proxy: never leave this machine
		DialContext: func(ctx context.Context, network, _ string) (net.Conn, error) {
			return dialer.DialContext(ctx, network, addr)
		},
		MaxIdleConnsPerHost: 8,
	}
	c := &client{}
	hosts := breaker.NewGroup(
		breaker.WithConsecutiveFailures(3),
		breaker.WithOpenTimeout(time.Minute), // longer than a pass: it stays open
		breaker.WithOnStateChange(func(host string, from, to breaker.State) {
			c.mu.Lock()
			defer c.mu.Unlock()
			c.changes = append(c.changes, fmt.Sprintf("breaker %s: %v -> %v", host, from, to))
		}),
	)
	c.http = retryhttp.NewClient(
		retryhttp.WithBase(base),
		retryhttp.WithRetry(
			retry.WithMaxAttempts(3),
			retry.WithBackoff(20*time.Millisecond, 200*time.Millisecond),
			retry.WithAttemptTimeout(attemptTimeout),
		),
		retryhttp.WithMaxRetryAfter(time.Second), // a server asking for longer is not waited for
		retryhttp.WithBreakers(hosts),            // 5xx and network errors count; a 404 does not
	)
	return c
}

// result is what happened to one URL.
type result struct {
	url      string
	status   int   // the response's status; 0 when there was none
	err      error // the error when there was no response
	attempts int   // attempts made: retryhttp.AttemptsOf, or the *retry.Error's count
}

// fetch gets url and reads the body.
func (c *client) fetch(ctx context.Context, url string) result {
	r := result{url: url}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		r.err = err
		return r
	}
	resp, err := c.http.Do(req)
	if err != nil {
		r.err = err
		var re *retry.Error
		if errors.As(err, &re) {
			r.attempts = re.Attempts
		}
		return r
	}
	defer resp.Body.Close()
	_, r.err = io.Copy(io.Discard, resp.Body)
	r.status, r.attempts = resp.StatusCode, retryhttp.AttemptsOf(resp)
	return r
}

// report prints one line per URL in input order, a tally, the breaker
// changes, and what down.test's breaker does with one more request.
func (c *client) report(ctx context.Context, out io.Writer, results []result) {
	ok, attempts := 0, 0
	for _, r := range results {
		verdict := "ok"
		if r.err != nil || r.status >= 400 {
			verdict = "failed"
		} else {
			ok++
		}
		attempts += r.attempts
		fmt.Fprintf(out, "  %-20s %-7s %s\n", strings.TrimPrefix(r.url, "http://"), verdict, r.describe())
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
	fmt.Fprintf(out, "  then down.test/status again: %s\n", c.fetch(ctx, "http://down.test/status").describe())
}

// describe says what a URL got, and after how many attempts.
func (r result) describe() string {
	switch {
	case errors.Is(r.err, breaker.ErrOpen):
		return "circuit open, not sent"
	case r.err != nil:
		return r.err.Error()
	case r.attempts == 1:
		return fmt.Sprintf("%d after 1 attempt", r.status)
	}
	return fmt.Sprintf("%d after %d attempts", r.status, r.attempts)
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
		w.Header().Set("Retry-After", "120")
		http.Error(w, "down for maintenance", http.StatusServiceUnavailable)
	case page == "api.test/flaky" && hit == 1:
		http.Error(w, "busy", http.StatusServiceUnavailable)
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
