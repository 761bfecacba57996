package executor

import (
	"fmt"
	"runtime"

	"github.com/async-patterns/async/limit"
	"github.com/async-patterns/async/observe"
)

// Option configures an Executor built by [New].
type Option func(*config)

// config is what the options set; New reads it once.
type config struct {
	workers int
	queue   int
	onError func(error)
	limiter limit.Limiter    // limiter.go
	name    string           // observe.go
	obs     observe.Observer // observe.go
}

// newConfig applies opts over the defaults. It panics on a nil option, and
// the options panic on a bad value, so that New fails at once.
func newConfig(opts []Option) config {
	c := config{workers: runtime.GOMAXPROCS(0)}
	for i, o := range opts {
		if o == nil {
			panic(fmt.Sprintf("executor: nil Option passed to New (opts[%d])", i))
		}
		o(&c)
	}
	if c.queue == 0 {
		c.queue = max(1024, 4*c.workers)
	}
	return c
}

// WithWorkers sets the number of worker goroutines, and so how many tasks
// run at once. The default is runtime.GOMAXPROCS(0), right for CPU-bound
// work. n must be at least 1: New panics otherwise.
func WithWorkers(n int) Option {
	return func(c *config) { c.workers = atLeast1("WithWorkers", "workers", n) }
}

// WithQueueSize sets how many submitted tasks may wait for a worker before
// [Submit] and [Executor.Go] block and [TrySubmit] fails with [ErrFull]. The
// default is max(1024, 4*workers): deep enough that producers of tiny tasks
// rarely wait, small enough to push back on a runaway producer. The queue
// is allocated whole by New, 32 bytes per place. m must be at least 1: New
// panics otherwise.
func WithQueueSize(m int) Option {
	return func(c *config) { c.queue = atLeast1("WithQueueSize", "queue size", m) }
}

// atLeast1 returns n, and panics naming the option and what n counts if n
// is below 1.
func atLeast1(option, what string, n int) int {
	if n < 1 {
		panic(fmt.Sprintf("executor: %s(%d): %s must be at least 1", option, n, what))
	}
	return n
}

// WithErrorHandler sets the function that receives the failures of tasks
// started with [Executor.Go]: the errors they return (other than their own
// cancellation) and their panics as [*PanicError]. It runs on the worker
// that ran the task, outside any lock; it may submit work. A panic in it is
// reported (as below) and does not stop the worker. Without a handler the
// failures are reported to the executor's observer ([WithObserver]) or the
// process's (observe.SetDefault), as TaskEnd events, or, when neither is
// set, logged through log/slog's default logger (observe.Fallback); either
// way they count in [Stats].Failed. h must not be nil: New panics
// otherwise.
func WithErrorHandler(h func(error)) Option {
	return func(c *config) {
		if h == nil {
			panic("executor: WithErrorHandler(nil): handler must not be nil")
		}
		c.onError = h
	}
}
