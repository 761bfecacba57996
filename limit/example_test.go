package limit_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"time"

	"github.com/async-patterns/async/limit"
)

// This example shows a rate limiter's burst: three calls go through at
// once, the fourth finds the bucket empty.
func ExampleRate_Allow() {
	rl := limit.NewRate(1, 3) // one a second, bursts of three
	for i := range 4 {
		fmt.Println(i, rl.Allow())
	}
	// Output:
	// 0 true
	// 1 true
	// 2 true
	// 3 false
}

// This example shows that a wait bound to pass the ctx's deadline is not
// started: the call is refused at once, and the error says how long it
// would have had to wait.
func ExampleRate_Wait() {
	rl := limit.NewRate(1, 1)
	rl.Allow() // the bucket is empty now; the next token is a second away

	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	start := time.Now()
	err := rl.Wait(ctx)

	var re *limit.RejectedError
	fmt.Println(errors.Is(err, limit.ErrRejected), errors.As(err, &re))
	fmt.Println("would have waited", re.RetryAfter().Round(time.Second))
	fmt.Println("returned at once:", time.Since(start) < 50*time.Millisecond)
	// Output:
	// true true
	// would have waited 1s
	// returned at once: true
}

// This example shows a bulkhead with no queue: while its one slot is held,
// a second call is rejected instead of waiting.
func ExampleBulkhead_Do() {
	bh := limit.NewBulkhead(1, limit.WithMaxWaiting(0), limit.WithName("reports"))
	holding := make(chan struct{})
	release := make(chan struct{})
	done := make(chan error)
	go func() {
		done <- bh.Do(context.Background(), func(context.Context) error {
			close(holding)
			<-release
			return nil
		})
	}()
	<-holding

	err := bh.Do(context.Background(), func(context.Context) error { return nil })
	fmt.Println(err)
	close(release)
	fmt.Println(<-done)
	// Output:
	// limit: reports: too many waiting
	// <nil>
}

// This example shows the Limiter interface used by hand: acquire, do the
// work, release with how it ended. A second release would panic.
func ExampleLimiter() {
	var l limit.Limiter = limit.NewBulkhead(4)
	ctx := context.Background()

	p, err := l.Acquire(ctx)
	if err != nil {
		fmt.Println("refused:", err)
		return
	}
	err = errors.New("row not found") // the work's result
	l.Release(p, limit.OutcomeOf(ctx, err))
	fmt.Println(limit.OutcomeOf(ctx, err))
	// Output:
	// failure
}

// This example shows a priority riding in a ctx across package boundaries:
// the adaptive limiter reads it to shed the lowest priority first.
func ExampleWithPriority() {
	ctx := limit.WithPriority(context.Background(), limit.Low)
	fmt.Println(limit.PriorityFrom(ctx), limit.PriorityFrom(context.Background()))
	// Output:
	// low normal
}

// This example shows limit.Handler shedding load: while the bulkhead's
// one slot is taken, a request gets 503 and a Retry-After that clients
// such as retryhttp wait for.
func ExampleHandler() {
	bh := limit.NewBulkhead(1, limit.WithMaxWaiting(0))
	h := limit.Handler(bh, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintln(w, "hello")
	}))

	p, _ := bh.Acquire(context.Background()) // someone else holds the slot
	w := httptest.NewRecorder()
	h.ServeHTTP(w, httptest.NewRequest("GET", "/", nil))
	fmt.Println(w.Code, w.Header().Get("Retry-After"))

	bh.Release(p, limit.Success)
	w = httptest.NewRecorder()
	h.ServeHTTP(w, httptest.NewRequest("GET", "/", nil))
	fmt.Print(w.Code, " ", w.Body.String())
	// Output:
	// 503 1
	// 200 hello
}
