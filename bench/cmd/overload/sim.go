package main

import (
	"context"
	"errors"
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"time"
)

// errServerFull is the simulated server's answer when its queue is full: the
// request is refused without being served (an HTTP 503 from the server
// itself, not from a limiter in front of it).
var errServerFull = errors.New("server queue full")

// server is the simulated service: workers goroutines take jobs from one FIFO
// queue of queueDepth and sleep for the service time of the phase the job
// starts in. A job whose client gave up (deadline passed) is still served:
// the server cannot know, which is how an overloaded service wastes its
// capacity on answers nobody waits for.
type server struct {
	jobs    chan *job
	service func() time.Duration // the service time now
	wg      sync.WaitGroup       // the workers
	closing atomic.Bool          // set by close: the jobs left are not served
}

type job struct {
	done chan struct{} // closed when served
}

func newServer(workers, queueDepth int, service func() time.Duration) *server {
	s := &server{jobs: make(chan *job, queueDepth), service: service}
	for range workers {
		s.wg.Go(s.work)
	}
	return s
}

func (s *server) work() {
	for j := range s.jobs {
		if !s.closing.Load() {
			time.Sleep(s.service())
		}
		close(j.done)
	}
}

// call sends one request and waits for its answer or for ctx to end.
func (s *server) call(ctx context.Context) error {
	j := &job{done: make(chan struct{})}
	select {
	case s.jobs <- j:
	default:
		return errServerFull
	}
	select {
	case <-j.done:
		return nil
	case <-ctx.Done():
		return context.Cause(ctx)
	}
}

// close stops the server and waits for its workers; the jobs still queued
// (their clients are gone) are dropped unserved. Call it after every client
// returned.
func (s *server) close() {
	s.closing.Store(true)
	close(s.jobs)
	s.wg.Wait()
}

// outcome is how one request ended.
type outcome uint8

const (
	success  outcome = iota // answered within the deadline
	rejected                // refused by the limiter: never reached the server
	timedOut                // admitted, the deadline passed first
	refused                 // admitted, the server's queue was full
)

// record is one request as the client saw it.
type record struct {
	sent    time.Duration // since the run started
	latency time.Duration // from the client's send to the answer (or error)
	outcome outcome
}

// limitSample is the contender's limit at one moment of the run.
type limitSample struct {
	at    time.Duration
	limit int
}

// contender guards the calls to one simulated server.
type contender struct {
	name string
	// do runs call under the contender's policy; admitted reports whether
	// call ran at all.
	do func(ctx context.Context, call func(context.Context) error) (admitted bool, err error)
	// limit reports the current concurrency limit; nil for none.
	limit func() int
}

// scenario is one variant of the benchmark.
type scenario struct {
	name       string
	workers    int
	queueDepth int
	rate       float64       // requests per second, open loop (Poisson)
	deadline   time.Duration // per request
	phases     []phase
	window     time.Duration // the reporting window
	seed       uint64        // the arrival schedule, the same for every contender
}

type phase struct {
	name    string
	length  time.Duration
	service time.Duration
}

func (sc scenario) length() time.Duration {
	var d time.Duration
	for _, p := range sc.phases {
		d += p.length
	}
	return d
}

// phaseAt returns the index of the phase that holds t.
func (sc scenario) phaseAt(t time.Duration) int {
	for i, p := range sc.phases {
		if t < p.length {
			return i
		}
		t -= p.length
	}
	return len(sc.phases) - 1
}

// arrivals is the open-loop schedule: Poisson arrivals at sc.rate over the
// whole run, from a fixed seed so every contender sees the same requests.
func (sc scenario) arrivals() []time.Duration {
	r := rand.New(rand.NewPCG(sc.seed, 0x6f766572))
	var out []time.Duration
	end := sc.length()
	for t := time.Duration(0); ; {
		t += time.Duration(r.ExpFloat64() / sc.rate * float64(time.Second))
		if t >= end {
			return out
		}
		out = append(out, t)
	}
}

// result is what one contender's run produced.
type result struct {
	name    string
	records []record
	limits  []limitSample // empty without a limit
}

// runContender plays the schedule against a fresh server guarded by c, in
// real time, and returns every request's record.
func runContender(ctx context.Context, sc scenario, c contender, schedule []time.Duration) result {
	start := time.Now()
	since := func() time.Duration { return time.Since(start) }
	srv := newServer(sc.workers, sc.queueDepth, func() time.Duration {
		return sc.phases[sc.phaseAt(since())].service
	})

	res := result{name: c.name, records: make([]record, 0, len(schedule))}
	var mu sync.Mutex // protects res.records

	// The limit, sampled every 10 ms while the run lasts.
	var sampling sync.WaitGroup
	stopSampling := make(chan struct{})
	if c.limit != nil {
		sampling.Go(func() {
			tick := time.NewTicker(10 * time.Millisecond)
			defer tick.Stop()
			for {
				res.limits = append(res.limits, limitSample{at: since(), limit: c.limit()})
				select {
				case <-tick.C:
				case <-stopSampling:
					return
				}
			}
		})
	}

	var clients sync.WaitGroup
	var inFlight atomic.Int64
	for _, at := range schedule {
		if d := at - since(); d > 0 {
			select {
			case <-time.After(d):
			case <-ctx.Done():
			}
		}
		if ctx.Err() != nil {
			break
		}
		inFlight.Add(1)
		clients.Go(func() {
			defer inFlight.Add(-1)
			sent := time.Now()
			rctx, cancel := context.WithTimeout(ctx, sc.deadline)
			admitted, err := c.do(rctx, srv.call)
			cancel()
			lat := time.Since(sent)
			rec := record{sent: at, latency: lat}
			switch {
			case !admitted:
				rec.outcome = rejected
			case err == nil && lat <= sc.deadline:
				rec.outcome = success
			case errors.Is(err, errServerFull):
				rec.outcome = refused
			default:
				rec.outcome = timedOut
			}
			mu.Lock()
			res.records = append(res.records, rec)
			mu.Unlock()
		})
	}
	clients.Wait()
	close(stopSampling)
	sampling.Wait()
	srv.close()
	return res
}
