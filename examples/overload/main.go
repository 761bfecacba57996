// Command overload shows load shedding in an HTTP server: a local server
// whose handler has a few workers (calls past them queue) gets a steady
// stream of requests, each with a deadline; for a while the service becomes
// four times slower, so the same stream is twice what the server can answer.
//
// It runs the same stream against two copies of the server at once: one
// bare, one behind limit.Handler with an adaptive limit (limit.NewAdaptive).
// The bare server queues everything: waits grow past the deadline, the
// workers spend their time on requests whose client has left, and goodput
// (answers within the deadline) collapses until well after the spike. The
// limited one answers what it can in time and turns the rest away at once
// with 503 and Retry-After; its limit follows the service time, so when the
// service slows down it keeps the workers busy instead of cutting them off.
//
// It prints goodput (as a share of what the phase allows: the lesser of the
// requests sent and the server's capacity) and the p99 latency of the
// admitted requests, per phase, and a bar chart of goodput.
//
//	go run ./examples/overload                   # 1 s, a 3 s spike, 1 s (about 5 s)
//	go run ./examples/overload -spike 20s -rate 400 -workers 16
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"math"
	"net"
	"net/http"
	"os"
	"os/signal"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/async-patterns/async/limit"
)

func main() {
	var cfg config
	flag.IntVar(&cfg.workers, "workers", 8, "the server's workers")
	flag.Float64Var(&cfg.rate, "rate", 200, "requests per second (open loop)")
	flag.DurationVar(&cfg.service, "service", 20*time.Millisecond, "service time outside the spike")
	flag.DurationVar(&cfg.deadline, "deadline", 250*time.Millisecond, "each request's deadline")
	flag.DurationVar(&cfg.phases[0], "before", time.Second, "time before the spike")
	flag.DurationVar(&cfg.phases[1], "spike", 3*time.Second, "the spike: the service is 4x slower")
	flag.DurationVar(&cfg.phases[2], "after", time.Second, "time after the spike")
	flag.Parse()

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	if err := run(ctx, os.Stdout, cfg); err != nil {
		fmt.Fprintln(os.Stderr, "overload:", err)
		os.Exit(1)
	}
}

type config struct {
	workers  int
	rate     float64
	service  time.Duration    // outside the spike; 4x in it
	deadline time.Duration    // per request
	phases   [3]time.Duration // before, spike, after
}

var phaseNames = [3]string{"before", "spike", "after"}

// serviceAt is the service time at t since the start.
func (c config) serviceAt(t time.Duration) time.Duration {
	if t >= c.phases[0] && t < c.phases[0]+c.phases[1] {
		return 4 * c.service
	}
	return c.service
}

func (c config) phaseAt(t time.Duration) int {
	switch {
	case t < c.phases[0]:
		return 0
	case t < c.phases[0]+c.phases[1]:
		return 1
	}
	return 2
}

// tally is what the client saw in one phase, for one server.
type tally struct {
	sent, ok, shed, timedOut, failed int
	admitted                         []time.Duration // latencies of requests not shed
}

// run sends the stream to both servers at once and prints the comparison.
// Lines with measured figures start with "time:".
func run(ctx context.Context, out io.Writer, cfg config) error {
	if cfg.workers < 1 || cfg.rate <= 0 || cfg.service <= 0 || cfg.deadline <= 0 ||
		cfg.phases[0] < 0 || cfg.phases[1] <= 0 || cfg.phases[2] < 0 {
		return fmt.Errorf("need workers >= 1, rate, service, deadline and spike > 0; got %+v", cfg)
	}
	fmt.Fprintf(out, "%d workers, service %v (%v in the spike), %.0f requests/s, deadline %v\n",
		cfg.workers, cfg.service, 4*cfg.service, cfg.rate, cfg.deadline)
	fmt.Fprintf(out, "phases: before %v, spike %v, after %v\n", cfg.phases[0], cfg.phases[1], cfg.phases[2])

	names := []string{"no limit", "adaptive limit"}
	results := make([][3]tally, len(names))
	errs := make([]error, len(names))
	var wg sync.WaitGroup
	start := time.Now()
	for i := range names {
		wg.Go(func() {
			results[i], errs[i] = drive(ctx, cfg, start, i == 1)
		})
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		return err
	}

	for i, name := range names {
		fmt.Fprintf(out, "%s:\n", name)
		for p, t := range results[i] {
			fmt.Fprintf(out, "time:   %-6s goodput %3.0f%%  p99 %-8v sent %d: %d ok, %d shed (503), %d timed out, %d failed\n",
				phaseNames[p], 100*goodput(cfg, p, t), p99(t.admitted).Round(time.Millisecond),
				t.sent, t.ok, t.shed, t.timedOut, t.failed)
		}
	}
	fmt.Fprintln(out, "goodput by phase (█ adaptive limit, ░ no limit; a full bar is all the phase allows):")
	for p := range phaseNames {
		for i, glyph := range []rune{'░', '█'} { // results[0] no limit, results[1] adaptive
			label := phaseNames[p]
			if i > 0 {
				label = ""
			}
			g := goodput(cfg, p, results[i][p])
			fmt.Fprintf(out, "time: %-6s %-*s %3.0f%%\n", label, chartWidth, bar(math.Min(g, 1)*chartWidth, glyph), 100*g)
		}
	}
	return nil
}

const chartWidth = 40

// goodput is t's answers within the deadline as a share of what phase p
// allows: the lesser of the requests sent and the server's capacity.
func goodput(cfg config, p int, t tally) float64 {
	service := cfg.service
	if p == 1 {
		service *= 4
	}
	capacity := float64(cfg.workers) / service.Seconds() * cfg.phases[p].Seconds()
	allowed := math.Min(float64(t.sent), capacity)
	if allowed == 0 {
		return 1
	}
	return float64(t.ok) / allowed
}

func p99(ds []time.Duration) time.Duration {
	if len(ds) == 0 {
		return 0
	}
	s := slices.Clone(ds)
	slices.Sort(s)
	return s[int(math.Ceil(0.99*float64(len(s))))-1]
}

// bar returns a bar n characters long, in eighths of a character for the
// solid glyph and whole characters for any other.
func bar(n float64, glyph rune) string {
	if glyph != '█' {
		return strings.Repeat(string(glyph), int(math.Round(n)))
	}
	eighths := int(math.Round(n * 8))
	partial := []string{"", "▏", "▎", "▍", "▌", "▋", "▊", "▉"}
	return strings.Repeat("█", eighths/8) + partial[eighths%8]
}

// drive starts a server (behind limit.Handler when limited), sends it the
// stream, and returns the tallies per phase.
func drive(ctx context.Context, cfg config, start time.Time, limited bool) ([3]tally, error) {
	var handler http.Handler = newService(cfg, start)
	if limited {
		handler = limit.Handler(limit.NewAdaptive(), handler)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return [3]tally{}, err
	}
	srv := &http.Server{Handler: handler}
	go srv.Serve(ln)
	defer srv.Close()
	url := "http://" + ln.Addr().String() + "/"
	transport := &http.Transport{MaxIdleConnsPerHost: 4096}
	defer transport.CloseIdleConnections()
	client := &http.Client{Transport: transport}

	var (
		mu      sync.Mutex // protects tallies
		tallies [3]tally
		clients sync.WaitGroup
	)
	total := cfg.phases[0] + cfg.phases[1] + cfg.phases[2]
	interval := time.Duration(float64(time.Second) / cfg.rate)
	for i := 0; ; i++ {
		at := time.Duration(i) * interval
		if at >= total || ctx.Err() != nil {
			break
		}
		if d := time.Until(start.Add(at)); d > 0 {
			time.Sleep(d)
		}
		clients.Go(func() {
			outcome, latency := send(ctx, client, url, cfg.deadline)
			mu.Lock()
			defer mu.Unlock()
			t := &tallies[cfg.phaseAt(at)]
			t.sent++
			switch outcome {
			case "ok":
				t.ok++
			case "shed":
				t.shed++
			case "timeout":
				t.timedOut++
			default:
				t.failed++
			}
			if outcome != "shed" {
				t.admitted = append(t.admitted, latency)
			}
		})
	}
	clients.Wait()
	return tallies, ctx.Err()
}

// send makes one request with the deadline and says how it ended.
func send(ctx context.Context, client *http.Client, url string, deadline time.Duration) (string, time.Duration) {
	ctx, cancel := context.WithTimeout(ctx, deadline)
	defer cancel()
	sent := time.Now()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return "failed", 0
	}
	resp, err := client.Do(req)
	latency := time.Since(sent)
	if err != nil {
		if errors.Is(err, context.DeadlineExceeded) {
			return "timeout", latency
		}
		return "failed", latency
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	switch {
	case resp.StatusCode == http.StatusServiceUnavailable:
		return "shed", latency
	case resp.StatusCode == http.StatusOK && latency <= deadline:
		return "ok", latency
	case resp.StatusCode == http.StatusOK:
		return "timeout", latency
	}
	return "failed", latency
}

// service is the simulated work: a request waits for one of the workers
// (leaving the line if its client goes away) and then holds it for the
// service time of the moment, whether or not anyone still waits for the
// answer, as a handler that has started a query usually does.
type service struct {
	cfg     config
	start   time.Time
	workers chan struct{}
}

func newService(cfg config, start time.Time) *service {
	return &service{cfg: cfg, start: start, workers: make(chan struct{}, cfg.workers)}
}

func (s *service) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	select {
	case s.workers <- struct{}{}:
	case <-r.Context().Done():
		http.Error(w, "client gone", http.StatusGatewayTimeout)
		return
	}
	time.Sleep(s.cfg.serviceAt(time.Since(s.start)))
	<-s.workers
	fmt.Fprintln(w, "ok")
}
