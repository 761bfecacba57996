// Command pipeline is a multi-stage producer/consumer pipeline: a producer
// feeds numbers into a bounded queue, a pool of workers squares them into a
// second bounded queue, and a sink adds them up. One taskgroup owns every
// stage. Ctrl-C stops the producer only; what is already in flight drains
// through the later stages, and the counts printed at the end prove that
// nothing was lost.
//
//	go run ./examples/pipeline -n 100000 -workers 4
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"sync/atomic"

	"github.com/async-patterns/async/queue"
	"github.com/async-patterns/async/taskgroup"
)

func main() {
	n := flag.Int("n", 100_000, "how many items to produce")
	workers := flag.Int("workers", 4, "how many workers square items")
	flag.Parse()

	// Ctrl-C cancels ctx; only the producer watches it.
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	if err := run(ctx, os.Stdout, config{items: *n, workers: *workers, capacity: 64}); err != nil {
		fmt.Fprintln(os.Stderr, "pipeline:", err)
		os.Exit(1)
	}
}

type config struct {
	items, workers, capacity int
	// produced, when set, is called after each item the producer has put
	// (the test uses it to interrupt the run part-way).
	produced func(n int)
}

type counts struct {
	produced, squared, consumed atomic.Int64
	sum                         atomic.Int64
}

// run wires the stages together and reports what each one handled.
// Cancelling ctx is a graceful shutdown: the producer stops, the queues
// close behind it, and every item already put is still processed.
func run(ctx context.Context, out io.Writer, cfg config) error {
	numbers := queue.New[int64](cfg.capacity)
	squares := queue.New[int64](cfg.capacity)
	var c counts

	// The stages must not stop on ctx: they drain. The group's own ctx only
	// ends if a stage fails, and then every stage should stop.
	g := taskgroup.New(context.Background())

	// Stage 1: the producer. It watches the shutdown ctx, and closes the
	// first queue when it is done either way.
	g.Go(func(gctx context.Context) error {
		defer numbers.Close()
		for i := 1; i <= cfg.items; i++ {
			if ctx.Err() != nil {
				return nil // graceful: stop producing, let the rest drain
			}
			if err := numbers.Put(gctx, int64(i)); err != nil {
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
	g.Go(func(gctx context.Context) error {
		defer squares.Close()
		workers := taskgroup.New(gctx)
		for range cfg.workers {
			workers.Go(func(wctx context.Context) error {
				for v := range numbers.All(wctx) { // ends when closed and drained
					if err := squares.Put(wctx, v*v); err != nil {
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
	g.Go(func(gctx context.Context) error {
		for v := range squares.All(gctx) {
			c.sum.Add(v)
			c.consumed.Add(1)
		}
		return gctx.Err()
	})

	err := g.Wait()
	if ctx.Err() != nil {
		fmt.Fprintln(out, "interrupted: stopped producing, drained what was in flight")
	}
	p, s, k := c.produced.Load(), c.squared.Load(), c.consumed.Load()
	fmt.Fprintf(out, "produced %d, squared %d, consumed %d\n", p, s, k)
	fmt.Fprintf(out, "sum of squares: %d\n", c.sum.Load())
	if p == s && s == k {
		fmt.Fprintln(out, "lost: 0")
	} else {
		fmt.Fprintf(out, "lost: %d\n", p-k)
		err = errors.Join(err, fmt.Errorf("%d items lost", p-k))
	}
	return err
}
