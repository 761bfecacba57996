package redislimit_test

import (
	"context"
	"fmt"
	"io"
	"log/slog"

	"github.com/redis/go-redis/v9"

	"github.com/async-patterns/async/limit/redislimit"
)

// This example shows that a caller gets no error when Redis cannot be
// reached: the limiter decides with its local share (here the whole
// limit, since it has seen no other replica), and reports the outage once
// through slog.
func ExampleRate() {
	client := redis.NewClient(&redis.Options{Addr: "127.0.0.1:1"}) // nothing listens there
	defer client.Close()
	quiet := slog.New(slog.NewTextHandler(io.Discard, nil))
	rl := redislimit.NewRate(client, "payments", 1, 2, redislimit.WithLogger(quiet))
	defer rl.Close()
	ctx := context.Background()
	fmt.Println(rl.Allow(ctx), rl.Allow(ctx), rl.Allow(ctx), rl.Shared())
	// Output: true true false false
}

// This example shows a Semaphore holding its local share while Redis
// cannot be reached: Do runs the function under a permit all the same.
func ExampleSemaphore() {
	client := redis.NewClient(&redis.Options{Addr: "127.0.0.1:1"})
	defer client.Close()
	quiet := slog.New(slog.NewTextHandler(io.Discard, nil))
	sem := redislimit.NewSemaphore(client, "db", 2, redislimit.WithLogger(quiet))
	defer sem.Close()
	err := sem.Do(context.Background(), func(context.Context) error {
		fmt.Println("in flight:", sem.Stats().InFlight)
		return nil
	})
	fmt.Println(err, sem.Stats().InFlight)
	// Output:
	// in flight: 1
	// <nil> 0
}
