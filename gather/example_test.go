package gather_test

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/async-patterns/async/gather"
	"github.com/async-patterns/async/taskgroup"
)

// This example shows that All returns the values in input order, whatever
// order the functions finish in: here the second one finishes first.
func ExampleAll() {
	secondDone := make(chan struct{})
	user := func(context.Context) (string, error) {
		<-secondDone
		return "ada", nil
	}
	orders := func(context.Context) (string, error) {
		defer close(secondDone)
		return "3 orders", nil
	}

	vals, err := gather.All(context.Background(), user, orders)
	fmt.Println(vals, err)
	// Output: [ada 3 orders] <nil>
}

// This example shows how a failing function cancels its siblings: All
// returns the failure itself, not the siblings' context.Canceled, after
// every sibling has returned.
func ExampleAll_failure() {
	errDown := errors.New("inventory is down")
	var sawCause error
	slow := func(ctx context.Context) (int, error) {
		<-ctx.Done() // cancelled by the failure below
		sawCause = context.Cause(ctx)
		return 0, ctx.Err()
	}
	failing := func(context.Context) (int, error) { return 0, errDown }

	_, err := gather.All(context.Background(), slow, failing)
	fmt.Println("All:", err)
	fmt.Println("the sibling saw:", sawCause)
	// Output:
	// All: inventory is down
	// the sibling saw: inventory is down
}

// This example shows how a taskgroup.Task's Wait method plugs into All.
func ExampleAll_tasks() {
	ctx := context.Background()
	t1 := taskgroup.Start(ctx, func(context.Context) (int, error) { return 1, nil })
	t2 := taskgroup.Start(ctx, func(context.Context) (int, error) { return 2, nil })

	vals, err := gather.All(ctx, t1.Wait, t2.Wait)
	fmt.Println(vals, err)
	// Output: [1 2] <nil>
}

// This example shows that Settled reports every outcome, failures and
// panics included, and cancels nothing.
func ExampleSettled() {
	ok := func(context.Context) (string, error) { return "fine", nil }
	fails := func(context.Context) (string, error) { return "", errors.New("timeout") }
	panics := func(context.Context) (string, error) { panic("bug") }

	for i, r := range gather.Settled(context.Background(), ok, fails, panics, nil) {
		var pe *gather.PanicError
		switch {
		case errors.As(r.Err, &pe):
			fmt.Printf("%d: panicked with %v\n", i, pe.Value)
		case r.Err != nil:
			fmt.Printf("%d: failed: %v\n", i, r.Err)
		default:
			fmt.Printf("%d: %s\n", i, r.Value)
		}
	}
	// Output:
	// 0: fine
	// 1: failed: timeout
	// 2: panicked with bug
	// 3: failed: gather: fns[3] is nil
}

// This example shows Race returning the first outcome and cancelling the
// loser, which has returned by the time Race does.
func ExampleRace() {
	var loser string
	primary := func(ctx context.Context) (string, error) {
		<-ctx.Done()
		loser = "primary cancelled: " + context.Cause(ctx).Error()
		return "", ctx.Err()
	}
	cache := func(context.Context) (string, error) { return "from cache", nil }

	v, err := gather.Race(context.Background(), primary, cache)
	fmt.Println(v, err)
	fmt.Println(loser)
	// Output:
	// from cache <nil>
	// primary cancelled: context canceled
}

// This example shows Any skipping a failure to return the first success,
// and joining every failure when there is none.
func ExampleAny() {
	mirrorDown := func(context.Context) (string, error) { return "", errors.New("mirror 1 down") }
	mirrorUp := func(context.Context) (string, error) { return "mirror 2", nil }
	hangs := func(ctx context.Context) (string, error) {
		<-ctx.Done() // cancelled once mirror 2 wins
		return "", ctx.Err()
	}

	v, err := gather.Any(context.Background(), mirrorDown, mirrorUp, hangs)
	fmt.Println(v, err)

	_, err = gather.Any(context.Background(), mirrorDown, mirrorDown)
	fmt.Println(err)
	// Output:
	// mirror 2 <nil>
	// mirror 1 down
	// mirror 1 down
}

// This example shows Map with a limit: the outputs are in input order, and
// no more than two calls run at once.
func ExampleMap() {
	words := []string{"go", "ctx", "gather", "task"}
	out, err := gather.Map(context.Background(), words, func(_ context.Context, w string) (string, error) {
		return strings.ToUpper(w), nil
	}, gather.WithLimit(2))
	fmt.Println(out, err)

	_, err = gather.Map(context.Background(), words, func(_ context.Context, w string) (int, error) {
		return len(w), nil
	}, gather.WithLimit(0))
	fmt.Println(err)
	// Output:
	// [GO CTX GATHER TASK] <nil>
	// gather: WithLimit(0): limit must be at least 1 (omit the option for no limit)
}

// This example shows AsCompleted yielding results in the order the
// functions finish: the slow one can finish only after the loop has seen
// the fast one.
func ExampleAsCompleted() {
	seenFast := make(chan struct{})
	slow := func(context.Context) (string, error) {
		<-seenFast
		return "slow", nil
	}
	fast := func(context.Context) (string, error) { return "fast", nil }

	for i, r := range gather.AsCompleted(context.Background(), slow, fast) {
		fmt.Println(i, r.Value, r.Err)
		if r.Value == "fast" {
			close(seenFast)
		}
	}
	// Output:
	// 1 fast <nil>
	// 0 slow <nil>
}

// This example shows that breaking out of an AsCompleted loop cancels the
// functions still running and waits for them before the loop ends.
func ExampleAsCompleted_break() {
	var stopped string
	started := make(chan struct{})
	hangs := func(ctx context.Context) (string, error) {
		close(started)
		<-ctx.Done()
		stopped = "the other one was cancelled"
		return "", ctx.Err()
	}
	first := func(context.Context) (string, error) {
		<-started
		return "first", nil
	}

	for _, r := range gather.AsCompleted(context.Background(), hangs, first) {
		fmt.Println(r.Value)
		break
	}
	fmt.Println(stopped)
	// Output:
	// first
	// the other one was cancelled
}
