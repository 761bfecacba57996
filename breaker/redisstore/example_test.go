package redisstore_test

import (
	"context"
	"fmt"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/async-patterns/async/breaker"
	"github.com/async-patterns/async/breaker/redisstore"
)

// This example shows a breaker whose shared store cannot be reached: the
// call goes through all the same, on the breaker's in-process state, and
// the WithOnStoreStatus hook says so once. (With a Redis at the address,
// every replica's breaker named "payments" would share one state.)
func ExampleNew() {
	client := redis.NewClient(&redis.Options{Addr: "127.0.0.1:1"}) // nothing listens there
	defer client.Close()
	store := redisstore.New(client, redisstore.WithTimeout(100*time.Millisecond))
	defer store.Close()
	b := breaker.New(breaker.WithName("payments"), breaker.WithStore(store),
		breaker.WithOnStoreStatus(func(name string, err error) {
			fmt.Println(name, "store reachable:", err == nil)
		}))
	err := b.Do(context.Background(), func(context.Context) error { return nil })
	fmt.Println("call:", err, "state:", b.State())
	// Output:
	// payments store reachable: false
	// call: <nil> state: closed
}
