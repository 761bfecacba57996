// Command pipeline is a multi-stage producer/consumer pipeline: a producer
// feeds numbers into a bounded queue, a pool of workers squares them into a
// second bounded queue, and a sink adds them up. One taskgroup owns every
// stage.
//
// Ctrl-C is a graceful shutdown with a deadline: the producer stops at once,
// even while it waits to put, and what is already in flight drains through
// the later stages. If the drain has not finished within the grace period
// (a stalled stage), every stage is stopped, and the counts printed at the
// end say how many items were left unfinished; otherwise they prove that
// nothing was lost. A second Ctrl-C quits at once.
//
//	go run ./examples/pipeline -n 100000 -workers 4
//	go run ./examples/pipeline -slow 1s   # a stalled sink: watch Ctrl-C cut the drain off
//	go run ./examples/pipeline -slow 10ms -debug-addr localhost:6060   # watch it at the printed URL
//
// On a terminal, a run that lasts more than a second shows a progress line;
// with the output piped, only the final lines are printed.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"math/big"
	"math/bits"
	"os"
	"os/signal"
	"sync"
	"sync/atomic"
	"time"

	"github.com/async-patterns/async/queue"
	"github.com/async-patterns/async/taskgroup"
)

func main() {
	cfg, err := parseFlags(os.Args[1:], os.Stderr)
	if errors.Is(err, flag.ErrHelp) {
		os.Exit(0)
	}
	if err != nil {
		os.Exit(2) // parseFlags has said what is wrong
	}

	// The first Ctrl-C cancels ctx, which stops the producer and starts the
	// grace period. Once ctx is cancelled the handler is removed, so a
	// second Ctrl-C ends the program the default way, at once.
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	context.AfterFunc(ctx, stop)

	if isTerminal(os.Stdout) {
		cfg.progress = os.Stdout
	}
	cfg.hints = os.Stderr
	if cfg.debugAddr != "" {
		stopDebug, err := serveDebug(cfg.debugAddr, os.Stderr)
		if err != nil {
			fmt.Fprintln(os.Stderr, "pipeline:", err)
			os.Exit(1)
		}
		defer stopDebug()
	}
	if err := run(ctx, os.Stdout, cfg); err != nil {
		fmt.Fprintln(os.Stderr, "pipeline:", err)
		os.Exit(1)
	}
}

// parseFlags reads the command line into a config. On a bad flag or value
// it writes what is wrong and the usage to errOut and returns an error.
func parseFlags(args []string, errOut io.Writer) (config, error) {
	fs := flag.NewFlagSet("pipeline", flag.ContinueOnError)
	fs.SetOutput(errOut)
	var cfg config
	fs.IntVar(&cfg.items, "n", 100_000, "how many items to produce (0 or more)")
	fs.IntVar(&cfg.workers, "workers", 4, "how many workers square items (1 or more)")
	fs.IntVar(&cfg.capacity, "capacity", 64, "capacity of each queue (1 or more)")
	fs.DurationVar(&cfg.grace, "grace", 500*time.Millisecond, "after Ctrl-C, how long in-flight items may take to drain")
	fs.DurationVar(&cfg.slow, "slow", 0, "make the sink take this long per item (to watch a stalled drain)")
	fs.StringVar(&cfg.debugAddr, "debug-addr", "", "serve package inspect's page (and pprof) on this address, such as localhost:6060, and print its URL")
	if err := fs.Parse(args); err != nil {
		return config{}, err // the flag package has printed the error and the usage
	}
	var problem string
	switch {
	case fs.NArg() > 0:
		problem = fmt.Sprintf("unexpected argument %q", fs.Arg(0))
	case cfg.items < 0:
		problem = fmt.Sprintf("-n must be 0 or more; got %d", cfg.items)
	case cfg.workers < 1:
		problem = fmt.Sprintf("-workers must be 1 or more; got %d (with no worker nothing would ever be consumed)", cfg.workers)
	case cfg.capacity < 1:
		problem = fmt.Sprintf("-capacity must be 1 or more; got %d", cfg.capacity)
	case cfg.grace < 0:
		problem = fmt.Sprintf("-grace must not be negative; got %v", cfg.grace)
	case cfg.slow < 0:
		problem = fmt.Sprintf("-slow must not be negative; got %v", cfg.slow)
	}
	if problem != "" {
		fmt.Fprintln(errOut, "pipeline:", problem)
		fs.Usage()
		return config{}, errors.New(problem)
	}
	return cfg, nil
}

type config struct {
	items, workers, capacity int
	// grace bounds the drain after ctx ends; 0 cuts it off at once.
	grace time.Duration
	// slow, when positive, is how long the sink takes per item.
	slow time.Duration
	// hints, when set, is told once the sink starts being slow.
	hints io.Writer
	// progress, when set, receives a live progress line (a terminal).
	progress io.Writer
	// debugAddr, when set, is where main serves the inspect page (debug.go).
	debugAddr string
	// produced, when set, is called after each item the producer has put
	// (the test uses it to interrupt the run part-way).
	produced func(n int)
}

type counts struct {
	produced, squared, consumed atomic.Int64
}

// errCutOff is the cause given to the stages' ctx when the grace period ends.
var errCutOff = errors.New("drain cut off")

// run wires the stages together and reports what each one handled.
// Cancelling ctx is a graceful shutdown: the producer stops, the queues
// close behind it, and every item already put is still processed, unless
// that takes longer than cfg.grace; then every stage is stopped.
func run(ctx context.Context, out io.Writer, cfg config) error {
	numbers := queue.New[uint64](cfg.capacity, queue.WithName("numbers"))
	squares := queue.New[uint128](cfg.capacity, queue.WithName("squares"))
	var c counts
	var sum uint128 // written by the sink only; read after Wait

	// drain is the stages' ctx: it ends cfg.grace after ctx does.
	drain, cutOff := context.WithCancelCause(context.Background())
	defer cutOff(nil)
	var graceMu sync.Mutex
	var graceTimer *time.Timer // protected by graceMu
	stopGrace := context.AfterFunc(ctx, func() {
		graceMu.Lock()
		defer graceMu.Unlock()
		graceTimer = time.AfterFunc(cfg.grace, func() { cutOff(errCutOff) })
	})
	defer func() {
		stopGrace()
		graceMu.Lock()
		defer graceMu.Unlock()
		if graceTimer != nil {
			graceTimer.Stop()
		}
	}()

	stopProgress := startProgress(cfg.progress, int64(cfg.items), c.consumed.Load)

	// The group's ctx ends if a stage fails or the drain is cut off; then
	// every stage stops.
	g := taskgroup.New(drain, taskgroup.WithName("pipeline"))

	// Stage 1: the producer. It stops when ctx ends, even in the middle of
	// a Put that waits for room, and closes the first queue either way.
	g.GoNamed("producer", func(gctx context.Context) error {
		defer numbers.Close()
		pctx, cancel := context.WithCancel(gctx)
		defer cancel()
		stop := context.AfterFunc(ctx, cancel) // Ctrl-C ends a waiting Put
		defer stop()
		for i := 1; i <= cfg.items; i++ {
			if ctx.Err() != nil {
				return nil // graceful; checked first, as a Put with room may succeed on an ended ctx
			}
			if err := numbers.Put(pctx, uint64(i)); err != nil {
				if ctx.Err() != nil && gctx.Err() == nil {
					return nil // graceful: stop producing, let the rest drain
				}
				return err
			}
			c.produced.Add(1)
			if cfg.produced != nil {
				cfg.produced(i)
			}
		}
		return nil
	})

	// Stage 2: the workers, in a group of their own so that the second
	// queue closes exactly when the last of them has finished.
	g.GoNamed("squarers", func(gctx context.Context) error {
		defer squares.Close()
		workers := taskgroup.New(gctx, taskgroup.WithName("squarers"))
		for range cfg.workers {
			workers.GoNamed("squarer", func(wctx context.Context) error {
				for v := range numbers.All(wctx) { // ends when closed and drained
					hi, lo := bits.Mul64(v, v) // a square needs up to 128 bits
					if err := squares.Put(wctx, uint128{hi, lo}); err != nil {
						return err
					}
					c.squared.Add(1)
				}
				return wctx.Err()
			})
		}
		return workers.Wait()
	})

	// Stage 3: the sink.
	g.GoNamed("sink", func(gctx context.Context) error {
		for v := range squares.All(gctx) {
			if cfg.slow > 0 {
				if c.consumed.Load() == 0 && cfg.hints != nil {
					fmt.Fprintf(cfg.hints, "pipeline: the sink takes %v an item; press Ctrl-C to stop\n", cfg.slow)
				}
				t := time.NewTimer(cfg.slow)
				select {
				case <-t.C:
				case <-gctx.Done():
					t.Stop()
					return gctx.Err()
				}
			}
			var overflow bool
			if sum, overflow = sum.add(v); overflow {
				return errors.New("the sum of squares does not fit in 128 bits")
			}
			c.consumed.Add(1)
		}
		return gctx.Err()
	})

	err := g.Wait()
	stopProgress()
	cut := errors.Is(context.Cause(drain), errCutOff)
	switch {
	case cut:
		fmt.Fprintf(out, "interrupted: stopped producing; the drain was cut off after %v\n", cfg.grace)
		err = nil // the stages' ctx errors say only that they were stopped
	case ctx.Err() != nil:
		fmt.Fprintln(out, "interrupted: stopped producing, drained what was in flight")
	}
	p, s, k := c.produced.Load(), c.squared.Load(), c.consumed.Load()
	fmt.Fprintf(out, "produced %d, squared %d, consumed %d\n", p, s, k)
	fmt.Fprintf(out, "sum of squares: %s\n", sum)
	switch {
	case p == k:
		fmt.Fprintln(out, "lost: 0")
	case cut:
		fmt.Fprintf(out, "unfinished: %d (in flight when the drain was cut off)\n", p-k)
		err = errors.Join(err, fmt.Errorf("drain cut off after %v with %d items unfinished", cfg.grace, p-k))
	default:
		fmt.Fprintf(out, "lost: %d\n", p-k)
		err = errors.Join(err, fmt.Errorf("%d items lost", p-k))
	}
	return err
}

// uint128 is an unsigned 128-bit integer: a square of a uint64, or a sum of
// squares of up to about 10¹² items.
type uint128 struct{ hi, lo uint64 }

// add returns x+y and whether the sum overflowed 128 bits.
func (x uint128) add(y uint128) (uint128, bool) {
	lo, carry := bits.Add64(x.lo, y.lo, 0)
	hi, carry := bits.Add64(x.hi, y.hi, carry)
	return uint128{hi, lo}, carry != 0
}

// String formats x in decimal.
func (x uint128) String() string {
	v := new(big.Int).SetUint64(x.hi)
	v.Lsh(v, 64)
	v.Or(v, new(big.Int).SetUint64(x.lo))
	return v.String()
}

// isTerminal reports whether f is a terminal (a character device), the only
// place a progress line that rewrites itself belongs.
func isTerminal(f *os.File) bool {
	fi, err := f.Stat()
	return err == nil && fi.Mode()&os.ModeCharDevice != 0
}

// Progress line timing: shown once a run has lasted progressAfter, then
// refreshed every progressEvery.
const (
	progressAfter = time.Second
	progressEvery = 200 * time.Millisecond
)

// startProgress shows "done/total items, rate items/s" on w, rewriting one
// line, once the run has lasted progressAfter. The returned stop erases the
// line and returns when the goroutine that draws it has ended. A nil w
// shows nothing.
func startProgress(w io.Writer, total int64, done func() int64) (stop func()) {
	if w == nil {
		return func() {}
	}
	start := time.Now()
	quit := make(chan struct{})
	exited := make(chan struct{})
	go func() {
		defer close(exited)
		wait := time.NewTimer(progressAfter)
		defer wait.Stop()
		select {
		case <-quit:
			return
		case <-wait.C:
		}
		tick := time.NewTicker(progressEvery)
		defer tick.Stop()
		for {
			d := done()
			rate := float64(d) / time.Since(start).Seconds()
			fmt.Fprintf(w, "\r\033[K%d/%d items, %.0f items/s", d, total, rate)
			select {
			case <-quit:
				fmt.Fprint(w, "\r\033[K") // erase: the final lines follow
				return
			case <-tick.C:
			}
		}
	}()
	return func() {
		close(quit)
		<-exited
	}
}
