package executor_test

import (
	"context"
	"errors"
	"fmt"

	"github.com/async-patterns/async/executor"
	"github.com/async-patterns/async/gather"
)

// primesBelow counts the primes below n by trial division: CPU-bound work.
func primesBelow(n int) int {
	count := 0
	for i := 2; i < n; i++ {
		prime := true
		for d := 2; d*d <= i; d++ {
			if i%d == 0 {
				prime = false
				break
			}
		}
		if prime {
			count++
		}
	}
	return count
}

// This example shows a CPU-bound map: Map spreads the items over the
// workers in chunks and returns the results in input order.
func ExampleMap() {
	ex := executor.New(executor.WithWorkers(4))
	defer ex.Shutdown(context.Background())

	limits := []int{10, 100, 1000, 10000, 100000}
	counts, err := executor.Map(context.Background(), ex, limits, func(_ context.Context, n int) (int, error) {
		return primesBelow(n), nil
	})
	if err != nil {
		fmt.Println("error:", err)
		return
	}
	for i, n := range limits {
		fmt.Printf("primes below %d: %d\n", n, counts[i])
	}
	// Output:
	// primes below 10: 4
	// primes below 100: 25
	// primes below 1000: 168
	// primes below 10000: 1229
	// primes below 100000: 9592
}

// This example shows futures composed with gather.All: a Future's Wait
// method is a gather function, so the results come back in order and the
// first failure is reported.
func ExampleSubmit_gather() {
	ex := executor.New()
	defer ex.Shutdown(context.Background())
	ctx := context.Background()

	small := executor.Submit(ctx, ex, func(context.Context) (int, error) { return primesBelow(1000), nil })
	large := executor.Submit(ctx, ex, func(context.Context) (int, error) { return primesBelow(50000), nil })

	counts, err := gather.All(ctx, small.Wait, large.Wait)
	fmt.Println(counts, err)

	broken := executor.Submit(ctx, ex, func(context.Context) (int, error) {
		return 0, errors.New("out of range")
	})
	_, err = gather.All(ctx, small.Wait, broken.Wait)
	fmt.Println("error:", err)
	// Output:
	// [168 5133] <nil>
	// error: out of range
}

// This example shows a graceful shutdown: Shutdown refuses new work, lets
// the queued tasks finish, and waits for the workers to exit.
func ExampleExecutor_Shutdown() {
	ex := executor.New(executor.WithWorkers(2))
	ctx := context.Background()

	var futures []*executor.Future[int]
	for i := 1; i <= 5; i++ {
		futures = append(futures, executor.Submit(ctx, ex, func(context.Context) (int, error) {
			return i * i, nil
		}))
	}
	if err := ex.Shutdown(ctx); err != nil {
		fmt.Println("shutdown:", err)
	}
	for _, f := range futures {
		v, err := f.Wait(ctx)
		fmt.Print(v, " ", f.State(), " ", err, "\n")
	}

	late := executor.Submit(ctx, ex, func(context.Context) (int, error) { return 0, nil })
	_, err := late.Wait(ctx)
	fmt.Println("late submit:", err, errors.Is(err, executor.ErrClosed))

	s := ex.Stats()
	fmt.Printf("submitted %d = completed %d + rejected %d; workers left %d\n", s.Submitted, s.Completed, s.Rejected, s.Workers)
	// Output:
	// 1 succeeded <nil>
	// 4 succeeded <nil>
	// 9 succeeded <nil>
	// 16 succeeded <nil>
	// 25 succeeded <nil>
	// late submit: executor: executor is shut down true
	// submitted 6 = completed 5 + rejected 1; workers left 0
}

// This example shows fire-and-forget tasks: Go returns once the task is
// queued, and a failing task's error goes to the error handler.
func ExampleExecutor_Go() {
	failures := make(chan error, 10)
	ex := executor.New(executor.WithErrorHandler(func(err error) { failures <- err }))
	ctx := context.Background()

	for _, name := range []string{"a.txt", "b.txt", "missing.txt"} {
		err := ex.Go(ctx, func(context.Context) error {
			if name == "missing.txt" {
				return fmt.Errorf("index %s: not found", name)
			}
			return nil
		})
		if err != nil {
			fmt.Println("not accepted:", err)
		}
	}
	ex.Shutdown(ctx) // waits for the tasks, so every failure has been handled
	close(failures)
	for err := range failures {
		fmt.Println("failed:", err)
	}
	fmt.Println("completed:", ex.Stats().Completed)
	// Output:
	// failed: index missing.txt: not found
	// completed: 2
}
