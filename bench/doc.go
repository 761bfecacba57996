// Package bench measures every package of github.com/async-patterns/async
// side by side with what a user would pick instead: hand-written channel and
// WaitGroup code (the floors) and the peer libraries (ants, pond, conc,
// errgroup, backoff v4/v5, retry-go, failsafe-go, gobreaker), and for
// queue/jsqueue raw nats.go JetStream and Redis Streams through go-redis.
//
// It is a module of its own, so that importing the library never pulls a peer
// in. Every contender of a scenario does the same work, at the same sizes and
// the same GOMAXPROCS; the task functions are built before the timer starts,
// so that no contender pays for the caller's closures. Run the whole set and
// print the tables with
//
//	cd bench && go run ./cmd/report -count 5
//
// Benchmark names follow Benchmark<Package>/<scenario>/<contender>; the
// contender "ours" is the library. An op that covers many items also reports
// ns/item.
package bench
