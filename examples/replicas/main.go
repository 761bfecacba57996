// Command replicas is the scale-out story: three replicas of one service
// share a queue of jobs (queue/jsqueue on NATS JetStream) and what they
// learn about a failing dependency (a breaker kept in Redis through
// breaker/redisstore), each calling it through retry/retryhttp. Part-way
// through, one replica is killed with SIGKILL, and nothing is lost: the jobs
// it held are delivered again to the others.
//
// It needs nothing set up. NATS runs inside the program unless -nats names a
// server. The breakers are shared through the Redis at -redis, or else
// through a redis-server found on PATH, started on a free loopback port for
// the run; with neither, each replica keeps its own breaker and the output
// says so.
//
// The dependency is a local HTTP server that fails (503) for -fail-for from
// its first call, then answers, except that one call in 20 gets 429 with
// "Retry-After: 1", and it refuses one job in a hundred (422) for good: those
// are dead-lettered at once. The replicas are this program run again as
// child processes; each serves the queue with jsqueue.Serve.
//
// At the end, the accounting is checked against what the dependency itself
// saw: every job put was done or dead-lettered, none lost. With -compare the
// run is made twice, with shared and with local breakers, to show how many
// calls the shared breaker spared the dependency while it was down.
//
//	go run ./examples/replicas
//	go run ./examples/replicas -compare
//	go run ./examples/replicas -jobs 10000 -nats nats://127.0.0.1:4222 -redis 127.0.0.1:6379
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http/httptest"
	"os"
	"os/exec"
	"os/signal"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/async-patterns/async/queue/jsqueue"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

// options are the command line's settings.
type options struct {
	jobs, replicas, workers int
	failFor, latency        time.Duration
	ackWait                 time.Duration
	natsURL, redisAddr      string
	compare                 bool
}

// parseFlags reads the command line. A bad flag or value is reported on
// stderr with the usage, and returns an error (flag.ErrHelp for -h).
func parseFlags(args []string, stderr io.Writer) (options, error) {
	var o options
	fs := flag.NewFlagSet("replicas", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.IntVar(&o.jobs, "jobs", 3000, "how many jobs the producer puts")
	fs.IntVar(&o.replicas, "replicas", 3, "how many replica processes serve the queue (at least 2: one is killed)")
	fs.IntVar(&o.workers, "workers", 8, "jsqueue.Serve workers per replica")
	fs.DurationVar(&o.failFor, "fail-for", 2*time.Second, "how long the dependency fails (503) from its first call")
	fs.DurationVar(&o.latency, "latency", 5*time.Millisecond, "how long the dependency takes to answer a call")
	fs.DurationVar(&o.ackWait, "ack-wait", 3*time.Second, "how long a job may go unacknowledged before it is delivered again")
	fs.StringVar(&o.natsURL, "nats", "", "URL of a NATS server with JetStream (default: one embedded in this program)")
	fs.StringVar(&o.redisAddr, "redis", "", "address of a Redis to share the breakers through (default: a redis-server on PATH, started for the run)")
	fs.BoolVar(&o.compare, "compare", false, "run twice, with shared and with local breakers, and compare the calls that reached the failing dependency")
	fs.Usage = func() {
		fmt.Fprintln(stderr, "usage: replicas [flags]\n\nThree replicas share a JetStream queue and a Redis-held breaker; one is killed; nothing is lost.\n\nflags:")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		return o, err
	}
	bad := func(format string, args ...any) (options, error) {
		err := fmt.Errorf(format, args...)
		fmt.Fprintln(stderr, "replicas:", err)
		fs.Usage()
		return o, err
	}
	switch {
	case fs.NArg() > 0:
		return bad("unexpected argument %q: every setting is a flag", fs.Arg(0))
	case o.jobs < 1:
		return bad("-jobs must be at least 1; got %d", o.jobs)
	case o.replicas < 2:
		return bad("-replicas must be at least 2, since one is killed; got %d", o.replicas)
	case o.workers < 1:
		return bad("-workers must be at least 1; got %d", o.workers)
	case o.failFor < 0:
		return bad("-fail-for must not be negative; got %v", o.failFor)
	case o.latency < 0:
		return bad("-latency must not be negative; got %v", o.latency)
	case o.ackWait < 100*time.Millisecond:
		return bad("-ack-wait must be at least 100ms; got %v", o.ackWait)
	}
	return o, nil
}

// run is the whole program but for the replicas; it returns the exit code:
// 0 when every job was accounted for, 1 when something failed, 2 for a bad
// command line.
func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	o, err := parseFlags(args, stderr)
	if errors.Is(err, flag.ErrHelp) {
		return 0
	}
	if err != nil {
		return 2
	}
	fail := func(err error) int {
		fmt.Fprintln(stderr, "replicas:", err)
		return 1
	}

	natsURL := o.natsURL
	if natsURL == "" {
		dir, err := os.MkdirTemp("", "replicas-nats-")
		if err != nil {
			return fail(err)
		}
		defer os.RemoveAll(dir)
		srv, err := jsqueue.StartEmbedded(dir)
		if err != nil {
			return fail(err)
		}
		defer srv.Shutdown()
		natsURL = srv.URL
		fmt.Fprintf(stdout, "NATS:  embedded server at %s\n", natsURL)
	} else {
		fmt.Fprintf(stdout, "NATS:  %s\n", natsURL)
	}

	redisAddr := o.redisAddr
	switch {
	case redisAddr != "":
		if err := ping(redisAddr); err != nil {
			return fail(fmt.Errorf("-redis %s: %w", redisAddr, err))
		}
		fmt.Fprintf(stdout, "Redis: %s, shared by the replicas' breakers\n", redisAddr)
	default:
		addr, stop, err := startRedis()
		switch {
		case errors.Is(err, errNoRedisServer):
			fmt.Fprintln(stdout, "Redis: none (no -redis, no redis-server on PATH): each replica keeps a local breaker")
		case err != nil:
			return fail(err)
		default:
			defer stop()
			redisAddr = addr
			fmt.Fprintf(stdout, "Redis: redis-server started on %s for this run, shared by the replicas' breakers\n", addr)
		}
	}
	fmt.Fprintf(stdout, "dependency: fails (503) for %v from its first call, then answers in %v; 429 with Retry-After: 1 to one call in 20; refuses jobs numbered 42 mod 100 (422)\n",
		o.failFor, o.latency)

	modes := []bool{redisAddr != ""} // shared breakers?
	if o.compare {
		if redisAddr == "" {
			fmt.Fprintln(stdout, "-compare needs Redis for the shared run: running with local breakers only")
		} else {
			modes = []bool{true, false}
		}
	}
	var results []result
	for i, shared := range modes {
		addr := ""
		if shared {
			addr = redisAddr
		}
		res, err := scenario(ctx, o, natsURL, addr, i+1, stdout, stderr)
		if err != nil && ctx.Err() != nil {
			fmt.Fprintln(stderr, "replicas: interrupted; the replicas have stopped and the run's streams are removed")
			return 1
		}
		if err != nil {
			return fail(err)
		}
		res.print(stdout)
		results = append(results, res)
	}
	if len(results) == 2 {
		s, l := results[0].whileDown, results[1].whileDown
		fmt.Fprintf(stdout, "\nwhile the dependency was down, %d calls reached it with shared breakers and %d with local ones: the shared breaker spared it %d calls",
			s, l, l-s)
		if l > 0 {
			fmt.Fprintf(stdout, " (%d%%)", 100*(l-s)/l)
		}
		fmt.Fprintln(stdout)
	} else if len(results) == 1 && !o.compare {
		fmt.Fprintln(stdout, "\n(run with -compare to see how many calls local breakers would have let through)")
	}
	for _, r := range results {
		if r.lost != 0 || r.left != 0 {
			return 1
		}
	}
	return 0
}

// result is one run's accounting.
type result struct {
	shared                   bool
	replicas, workers        int
	put, done, twice         int // jobs put; done (answered 200); done more than once
	dead, refused, exhausted int // dead-lettered: in all, refused by the dependency, out of attempts
	lost, left               int // put - done - dead; items the queue still holds
	killed, killPid, killAt  int // the killed replica (0: none), its pid, and the jobs done when it was killed
	orphans, rescued         int // jobs it held when it died; of them, delivered again to another replica
	deliveries, redelivered  int
	calls, whileDown         int // calls that reached the dependency; of them, while it was down
	throttled                int // calls answered 429
	failFor                  time.Duration
	elapsed                  time.Duration
}

func (r result) print(w io.Writer) {
	mode := "local breakers (one per replica)"
	if r.shared {
		mode = "shared breakers (Redis)"
	}
	fmt.Fprintf(w, "\naccounting, %s, %d replicas x %d workers:\n", mode, r.replicas, r.workers)
	fmt.Fprintf(w, "  put            %6d\n", r.put)
	fmt.Fprintf(w, "  done           %6d", r.done)
	if r.twice > 0 {
		fmt.Fprintf(w, "  (%d of them more than once: at least once, not exactly once)", r.twice)
	}
	fmt.Fprintln(w)
	fmt.Fprintf(w, "  dead-lettered  %6d  (%d refused by the dependency, %d out of attempts)\n", r.dead, r.refused, r.exhausted)
	fmt.Fprintf(w, "  lost           %6d  (put - done - dead-lettered; the queue holds %d)\n", r.lost, r.left)
	if r.lost == 0 && r.left == 0 {
		fmt.Fprintf(w, "  check          put = done + dead-lettered: %d = %d + %d, nothing lost\n", r.put, r.done, r.dead)
	} else {
		fmt.Fprintf(w, "  check          FAILED: put %d != done %d + dead-lettered %d, or the queue is not empty\n", r.put, r.done, r.dead)
	}
	if r.killed != 0 {
		fmt.Fprintf(w, "  killed         replica r%d (pid %d) at %d done, holding %d jobs: %d of them delivered again to the others\n",
			r.killed, r.killPid, r.killAt, r.orphans, r.rescued)
	} else {
		fmt.Fprintln(w, "  killed         none: every job was done before the replica to kill held one")
	}
	fmt.Fprintf(w, "  redelivered    %6d  of %d deliveries (after a failure, or from the killed replica)\n", r.redelivered, r.deliveries)
	fmt.Fprintf(w, "  dependency     %6d calls, %d of them while it was down (%v), %d answered 429\n", r.calls, r.whileDown, r.failFor, r.throttled)
	fmt.Fprintf(w, "  time           %6.1fs\n", r.elapsed.Seconds())
}

// replica is a running child process.
type replica struct {
	id    int
	cmd   *exec.Cmd
	stdin io.WriteCloser // closing it asks the replica to stop
}

// scenario runs the story once: a fresh dependency and queue, the replicas,
// the producer, the kill, and the accounting.
func scenario(ctx context.Context, o options, natsURL, redisAddr string, n int, stdout, stderr io.Writer) (res result, err error) {
	began := time.Now()
	res = result{shared: redisAddr != "", replicas: o.replicas, workers: o.workers, failFor: o.failFor}
	dep := newDependency(o.failFor, o.latency, 20)
	hs := httptest.NewServer(dep)
	defer hs.Close()

	nc, err := nats.Connect(natsURL, nats.Name("replicas producer"))
	if err != nil {
		return res, err
	}
	defer nc.Close()
	js, err := jetstream.New(nc)
	if err != nil {
		return res, err
	}
	name := fmt.Sprintf("replicas-%d-%d", os.Getpid(), n)
	defer func() {
		// The streams are this run's alone: remove them, on a real server too.
		c, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = js.DeleteStream(c, name)
		_ = js.DeleteStream(c, name+"-dead")
	}()
	q, err := jsqueue.New[job](ctx, js, name,
		append(queueOptions(o.ackWait, maxDeliver), jsqueue.WithCapacity(min(o.jobs, 1000)))...)
	if err != nil {
		return res, err
	}

	tr := newTracker()
	events := "replicas." + name + ".events"
	sub, err := nc.Subscribe(events, func(m *nats.Msg) { tr.event(m.Data) })
	if err != nil {
		return res, err
	}
	if err := sub.SetPendingLimits(-1, -1); err != nil {
		return res, err
	}
	if err := nc.Flush(); err != nil {
		return res, err
	}

	exe, err := os.Executable()
	if err != nil {
		return res, err
	}
	cfg := replicaConfig{NATS: natsURL, Queue: name, Events: events, Dependency: hs.URL,
		Redis: redisAddr, Prefix: fmt.Sprintf("replicas:%d:%d:", os.Getpid(), n), Workers: o.workers,
		AckWait: o.ackWait, MaxDeliver: maxDeliver, OpenTimeout: openTimeout}
	// The replicas' output goes to stderr, one write at a time: os/exec
	// copies each child's output on a goroutine of its own unless stderr is
	// a file.
	childOut := &lockedWriter{w: stderr}
	exited := make(chan exit, o.replicas)
	var reps []*replica
	alive := make(map[int]*replica) // replicas whose exit has not been received
	defer func() {
		// Every replica still running is asked to stop, and awaited; one that
		// has not stopped within 15s (Serve's grace is 2s) is killed.
		for _, r := range alive {
			r.stdin.Close()
		}
		waitAll(alive, exited, 15*time.Second)
	}()
	for id := 1; id <= o.replicas; id++ {
		cfg.ID = id
		enc, _ := json.Marshal(cfg)
		cmd := exec.Command(exe)
		cmd.Env = append(os.Environ(), replicaEnv+"="+string(enc))
		cmd.Stdout, cmd.Stderr = childOut, childOut
		stdin, err := cmd.StdinPipe()
		if err != nil {
			return res, err
		}
		if err := cmd.Start(); err != nil {
			return res, err
		}
		r := &replica{id: id, cmd: cmd, stdin: stdin}
		reps = append(reps, r)
		alive[id] = r
		go func() { exited <- exit{r.id, r.cmd.Wait()} }()
	}
	fmt.Fprintf(stdout, "\nrun %d: %d replicas x %d workers (%s), %d jobs\n", n, o.replicas, o.workers, breakerMode(redisAddr), o.jobs)

	// The producer, then Join, on goroutines this function waits for.
	var put atomic.Int64
	pctx, cancelProducer := context.WithCancel(ctx)
	produced := make(chan error, 1)
	go func() {
		for i := range o.jobs {
			if err := q.Put(pctx, job{ID: i}); err != nil {
				produced <- err
				return
			}
			put.Add(1)
		}
		produced <- nil
	}()
	joined := make(chan error, 1)
	joinStarted := false
	defer func() {
		cancelProducer()
		if produced != nil {
			<-produced
		}
		if joined != nil && joinStarted {
			<-joined
		}
	}()

	term := isTerminal(stdout)
	p := progress{w: stdout, total: o.jobs}
	victim := 2
	tick := time.NewTicker(200 * time.Millisecond)
	defer tick.Stop()
	for done := false; !done; {
		select {
		case err := <-produced:
			produced = nil
			if err != nil {
				p.clear(term)
				return res, fmt.Errorf("putting jobs: %w", err)
			}
			joinStarted = true
			go func() { joined <- q.Join(pctx) }()
		case err := <-joined:
			joined = nil
			if err != nil {
				p.clear(term)
				return res, fmt.Errorf("waiting for the jobs: %w", err)
			}
			done = true
		case e := <-exited:
			delete(alive, e.id)
			if e.id == res.killed {
				continue
			}
			p.clear(term)
			return res, fmt.Errorf("replica r%d stopped before the end: %v", e.id, e.err)
		case <-tick.C:
			s := tr.snapshot(o.replicas)
			if res.killed == 0 && s.done >= o.jobs/3 && tr.holds(victim) > 0 {
				r := reps[victim-1]
				if err := r.cmd.Process.Signal(syscall.SIGKILL); err != nil {
					return res, fmt.Errorf("killing replica r%d: %w", victim, err)
				}
				tr.kill(victim)
				res.killed, res.killPid, res.killAt = victim, r.cmd.Process.Pid, s.done
				p.clear(term)
				fmt.Fprintf(stdout, "%5.1fs  killed replica r%d (pid %d) with SIGKILL at %d/%d done\n",
					time.Since(began).Seconds(), victim, r.cmd.Process.Pid, s.done, o.jobs)
				s = tr.snapshot(o.replicas)
			}
			if term {
				p.render(s, deadCount(ctx, js, name+"-dead"))
			}
		}
	}
	p.clear(term)

	// Every job is done or dead-lettered: close the queue, which ends Serve
	// in every replica (it returns nil once the closed queue is drained),
	// and wait for them.
	if err := q.Close(ctx); err != nil {
		return res, err
	}
	for len(alive) > 0 {
		select {
		case e := <-exited:
			delete(alive, e.id)
			if e.id == res.killed {
				continue
			}
			if e.err != nil {
				return res, fmt.Errorf("replica r%d: %v", e.id, e.err)
			}
		case <-time.After(30 * time.Second):
			return res, errors.New("the replicas did not stop within 30s of the queue's close")
		case <-ctx.Done():
			return res, context.Cause(ctx)
		}
	}

	// Let the last events in, then count.
	if err := sub.Drain(); err != nil {
		return res, err
	}
	for deadline := time.Now().Add(5 * time.Second); sub.IsValid() && time.Now().Before(deadline); {
		time.Sleep(10 * time.Millisecond)
	}
	dead, err := q.DeadLetters(ctx)
	if err != nil {
		return res, err
	}
	left, err := q.Len(ctx)
	if err != nil {
		return res, err
	}
	b := dep.books()
	s := tr.snapshot(o.replicas)
	deadJobs := make(map[int]bool)
	for _, d := range dead {
		var j job
		if err := json.Unmarshal(d.Data, &j); err != nil {
			return res, fmt.Errorf("dead letter %d: %w", d.Seq, err)
		}
		deadJobs[j.ID] = true
		if strings.Contains(d.Err, errRefused.Error()) {
			res.refused++
		} else {
			res.exhausted++
		}
	}
	for j, times := range b.ok {
		if deadJobs[j] {
			continue // done once, then dead-lettered after a crash: it counts as dead-lettered
		}
		res.done++
		if times > 1 {
			res.twice++
		}
	}
	res.put = int(put.Load())
	res.dead = len(deadJobs)
	res.lost = res.put - res.done - res.dead
	res.left = left
	res.orphans, res.rescued = s.orphans, s.rescued
	res.deliveries, res.redelivered = s.deliveries, s.redelivered
	res.calls, res.whileDown, res.throttled = b.calls, b.whileDown, b.throttled
	res.elapsed = time.Since(began)
	if s.bad > 0 {
		fmt.Fprintf(stderr, "replicas: %d events did not parse\n", s.bad)
	}
	return res, nil
}

const (
	maxDeliver  = 20                     // attempts per job: enough to ride out the outage
	openTimeout = 500 * time.Millisecond // the breakers' open period
)

func breakerMode(redisAddr string) string {
	if redisAddr == "" {
		return "local breakers"
	}
	return "breakers shared through Redis at " + redisAddr
}

// lockedWriter serializes writes to w.
type lockedWriter struct {
	mu sync.Mutex // held while writing to w
	w  io.Writer
}

func (l *lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
}

type exit struct {
	id  int
	err error
}

// waitAll waits for the replicas still running, killing those that have not
// exited within d.
func waitAll(alive map[int]*replica, exited <-chan exit, d time.Duration) {
	timeout := time.After(d)
	for len(alive) > 0 {
		select {
		case e := <-exited:
			delete(alive, e.id)
		case <-timeout:
			for _, r := range alive {
				_ = r.cmd.Process.Kill()
			}
			timeout = nil
		}
	}
}

// deadCount returns how many dead letters the stream holds, or -1 if it
// cannot tell.
func deadCount(ctx context.Context, js jetstream.JetStream, stream string) int {
	c, cancel := context.WithTimeout(ctx, time.Second)
	defer cancel()
	st, err := js.Stream(c, stream)
	if err != nil {
		return -1
	}
	return int(st.CachedInfo().State.Msgs)
}

// isTerminal reports whether w is a terminal, where a progress line that
// rewrites itself makes sense.
func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	fi, err := f.Stat()
	return err == nil && fi.Mode()&os.ModeCharDevice != 0
}

// progress draws the live line.
type progress struct {
	w       io.Writer
	total   int
	samples []sample // the last second or so, for jobs/s
	shown   bool
}

type sample struct {
	at   time.Time
	done int
}

func (p *progress) render(s snapshot, dead int) {
	now := time.Now()
	p.samples = append(p.samples, sample{now, s.done})
	for len(p.samples) > 2 && now.Sub(p.samples[1].at) >= time.Second {
		p.samples = p.samples[1:]
	}
	rate := 0.0
	if first := p.samples[0]; now.Sub(first.at) > 0 {
		rate = float64(s.done-first.done) / now.Sub(first.at).Seconds()
	}
	deadText := "?"
	if dead >= 0 {
		deadText = fmt.Sprint(dead)
	}
	var bs []string
	for i, b := range s.breakers {
		bs = append(bs, fmt.Sprintf("r%d %s", i+1, b))
	}
	fmt.Fprintf(p.w, "\r\033[K%d/%d done  %.0f jobs/s  in flight %d  redelivered %d  dead-lettered %s  breaker: %s",
		s.done, p.total, rate, s.inFlight, s.redelivered, deadText, strings.Join(bs, ", "))
	p.shown = true
}

// clear erases the progress line, if one is shown, so that a normal line
// can be printed.
func (p *progress) clear(term bool) {
	if term && p.shown {
		fmt.Fprint(p.w, "\r\033[K")
		p.shown = false
	}
}
