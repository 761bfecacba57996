package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"os"
	"os/signal"
	"strconv"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/redis/go-redis/v9"

	"github.com/async-patterns/async/breaker"
	"github.com/async-patterns/async/breaker/redisstore"
	"github.com/async-patterns/async/queue/jsqueue"
	"github.com/async-patterns/async/retry"
	"github.com/async-patterns/async/retry/retryhttp"
)

// replicaEnv carries a replica's configuration, as JSON, to the child
// process: the program re-runs itself with it set, and main then serves as
// a replica instead of starting the show.
const replicaEnv = "ASYNC_EXAMPLES_REPLICA"

// replicaConfig is what a replica needs to know. Every replica of a run gets
// the same one but for ID.
type replicaConfig struct {
	ID          int           // 1-based, for the events and the output
	NATS        string        // the NATS server's URL
	Queue       string        // the jsqueue's name
	Events      string        // core NATS subject of the replica's events
	Dependency  string        // the dependency's URL
	Redis       string        // the Redis address; empty: local breakers
	Prefix      string        // redisstore key prefix, one per run
	Workers     int           // jsqueue.Serve workers
	AckWait     time.Duration // the queue's ack wait
	MaxDeliver  int           // the queue's attempts per job
	OpenTimeout time.Duration // the breaker's open period
}

// job is the queue's item.
type job struct {
	ID int `json:"id"`
}

// errRefused marks a job the dependency refuses for good (422): retrying it
// would not help, so Serve dead-letters it at once.
var errRefused = errors.New("the dependency refuses this job (422)")

// queueOptions are the options every process opens the queue with.
func queueOptions(ackWait time.Duration, maxDeliver int) []jsqueue.Option {
	return []jsqueue.Option{jsqueue.WithAckWait(ackWait), jsqueue.WithMaxDeliver(maxDeliver)}
}

// replicaMain runs one replica until the queue is closed and drained, or
// until its standard input ends (the parent is gone or asks it to stop).
// It returns the process's exit code.
func replicaMain(encoded string, stdin io.Reader, stderr io.Writer) int {
	var cfg replicaConfig
	if err := json.Unmarshal([]byte(encoded), &cfg); err != nil {
		fmt.Fprintf(stderr, "replica: bad %s: %v\n", replicaEnv, err)
		return 2
	}
	// Ctrl-C on a terminal signals the whole process group, replicas
	// included; the parent decides what happens then, and tells the
	// replicas to stop by closing their standard input.
	signal.Ignore(os.Interrupt)
	ctx, cancel := context.WithCancelCause(context.Background())
	defer cancel(nil)
	go func() {
		_, _ = io.Copy(io.Discard, stdin)
		cancel(errors.New("the parent process has gone"))
	}()
	if err := serveReplica(ctx, cfg); err != nil && !errors.Is(err, context.Cause(ctx)) {
		fmt.Fprintf(stderr, "replica r%d: %v\n", cfg.ID, err)
		return 1
	}
	return 0
}

func serveReplica(ctx context.Context, cfg replicaConfig) error {
	nc, err := nats.Connect(cfg.NATS, nats.Name(fmt.Sprintf("replica r%d", cfg.ID)))
	if err != nil {
		return err
	}
	defer nc.Close()
	js, err := jetstream.New(nc)
	if err != nil {
		return err
	}
	q, err := jsqueue.New[job](ctx, js, cfg.Queue, queueOptions(cfg.AckWait, cfg.MaxDeliver)...)
	if err != nil {
		return err
	}
	// Events go out on the same connection as the queue's acks, in order: a
	// job's "finished" event always reaches the server before its ack, so a
	// job the parent sees unfinished at a kill was not acked.
	event := func(format string, args ...any) {
		_ = nc.Publish(cfg.Events, fmt.Appendf(nil, format, args...))
	}

	bopts := []breaker.Option{
		breaker.WithConsecutiveFailures(5),
		breaker.WithOpenTimeout(cfg.OpenTimeout),
		breaker.WithOnStateChange(func(_ string, _, to breaker.State) {
			event("b %d %s", cfg.ID, to)
		}),
	}
	if cfg.Redis != "" {
		rc := redis.NewClient(&redis.Options{Addr: cfg.Redis, ContextTimeoutEnabled: true})
		defer rc.Close()
		store := redisstore.New(rc, redisstore.WithPrefix(cfg.Prefix))
		defer store.Close()
		bopts = append(bopts, breaker.WithStore(store))
	}
	breakers := breaker.NewGroup(bopts...)
	dep, err := url.Parse(cfg.Dependency)
	if err != nil {
		return err
	}
	client := retryhttp.NewClient(
		retryhttp.WithRetry(
			retry.WithMaxAttempts(3),
			retry.WithBackoff(50*time.Millisecond, 500*time.Millisecond),
			retry.WithAttemptTimeout(5*time.Second),
		),
		retryhttp.WithBreakers(breakers),
		retryhttp.WithMaxRetryAfter(2*time.Second),
	)
	defer client.CloseIdleConnections()
	event("b %d %s", cfg.ID, breakers.Get(dep.Host).State())

	handle := func(ctx context.Context, j job) error {
		event("s %d %d %d", cfg.ID, j.ID, jsqueue.Attempt(ctx))
		err := call(ctx, client, cfg, j)
		outcome := "ok"
		if err != nil {
			outcome = "err"
		}
		event("f %d %d %s", cfg.ID, j.ID, outcome)
		return err
	}
	err = jsqueue.Serve(ctx, q, cfg.Workers, handle,
		jsqueue.WithRetryIf(func(err error) bool { return !errors.Is(err, errRefused) }),
		jsqueue.WithBackoff(100*time.Millisecond, time.Second),
		jsqueue.WithGrace(2*time.Second),
	)
	if ferr := nc.Flush(); err == nil && ferr != nil && ctx.Err() == nil {
		slog.Warn("replica: flushing events", "err", ferr)
	}
	return err
}

// call asks the dependency to do job j, through the retrying, breaker-guarded
// client. It returns nil on a 200, errRefused on a 422, and an error for
// anything else (the retries ran out), which Serve retries later.
func call(ctx context.Context, client *http.Client, cfg replicaConfig, j job) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, cfg.Dependency+"?job="+strconv.Itoa(j.ID), nil)
	if err != nil {
		return err
	}
	req.Header.Set("X-Replica", strconv.Itoa(cfg.ID))
	resp, err := client.Do(req)
	if err != nil {
		return err // a *retry.Error; a breaker rejection inside carries RetryAfter, which Serve waits for
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	switch resp.StatusCode {
	case http.StatusOK:
		return nil
	case http.StatusUnprocessableEntity:
		return fmt.Errorf("job %d: %w", j.ID, errRefused)
	default:
		return fmt.Errorf("job %d: the dependency answered %s after %d attempts", j.ID, resp.Status, retryhttp.AttemptsOf(resp))
	}
}

func init() {
	// A replica is this program run again with replicaEnv set: it serves
	// and exits before main's flags are even looked at.
	if cfg := os.Getenv(replicaEnv); cfg != "" {
		os.Exit(replicaMain(cfg, os.Stdin, os.Stderr))
	}
}
