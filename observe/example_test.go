package observe_test

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"time"

	"github.com/async-patterns/async/breaker"
	"github.com/async-patterns/async/observe"
	"github.com/async-patterns/async/queue"
	"github.com/async-patterns/async/retry"
)

// This example shows the one call that makes every primitive report to a
// logger: failures at Warn or Error, the rest at Debug.
func ExampleSlog() {
	logger := slog.New(slog.NewTextHandler(os.Stdout, &slog.HandlerOptions{
		Level: slog.LevelWarn,
		ReplaceAttr: func(_ []string, a slog.Attr) slog.Attr {
			if a.Key == slog.TimeKey || a.Key == "duration" {
				return slog.Attr{} // stable output
			}
			return a
		},
	}))
	observe.SetDefault(observe.Slog(logger))
	defer observe.SetDefault(observe.Discard)

	err := retry.Do(context.Background(), func(context.Context) error {
		return errors.New("connection refused")
	}, retry.WithName("fetch prices"), retry.WithMaxAttempts(2), retry.WithBackoff(time.Millisecond, time.Millisecond), retry.WithJitter(0))
	fmt.Println(err != nil)
	// Output:
	// level=WARN msg="retry: gave up" source=retry name="fetch prices" outcome=failed attempt=2 wait=1ms err="retry: gave up after 2 attempts (attempt limit): connection refused"
	// true
}

// This example shows a breaker's state changes and rejections reported to
// an observer of its own.
func ExampleObserverFunc() {
	show := observe.ObserverFunc(func(_ context.Context, e observe.Event) {
		switch e.Kind {
		case observe.BreakerStateChange:
			fmt.Printf("%s: %s %s -> %s\n", e.Kind, e.Name, e.From, e.To)
		case observe.BreakerRejected:
			fmt.Printf("%s: %s\n", e.Kind, e.Name)
		}
	})
	b := breaker.New(breaker.WithName("payments"), breaker.WithConsecutiveFailures(1), breaker.WithObserver(show))
	fail := func(context.Context) error { return errors.New("timeout") }
	b.Do(context.Background(), fail) // trips it
	b.Do(context.Background(), fail) // rejected
	// Output:
	// breaker.state_change: payments closed -> open
	// breaker.rejected: payments
}

// This example shows the registry of live objects: what a metrics exporter
// or package inspect reads, each object's gauges read at that moment.
func ExampleObjects() {
	q := queue.New[string](8, queue.WithName("jobs"))
	q.TryPut("a")
	q.TryPut("b")
	for o := range observe.Objects() {
		if o.Name == "jobs" {
			fmt.Println(o.Kind, o.Name, "depth", o.Gauges.Depth, "of", o.Gauges.Capacity)
		}
	}
	q.Close() // leaves the registry
	for o := range observe.Objects() {
		if o.Name == "jobs" {
			fmt.Println("still listed")
		}
	}
	// Output:
	// queue jobs depth 2 of 8
}
