package bench

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"os/exec"
	"strconv"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/async-patterns/async/queue/jsqueue"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/redis/go-redis/v9"
)

// jsProducers put concurrently (each put is one synchronous round trip, so
// several overlap them); jsBatch is how many items a consumer takes per call.
const (
	jsProducers = 4
	jsBatch     = 64
)

// BenchmarkJsqueue moves b.N items through a durable work queue: one op is
// one item's Put, Get and Done. Every contender runs on a fresh server in the
// same shape: jsProducers goroutines putting synchronously (stored before
// the call returns), and 1 or 4 consumers, each with its own connection,
// taking up to jsBatch items per call and acking each.
//
// "ours" is jsqueue (Put; GetBatch; Done). "jetstream" is the floor: raw
// nats.go on the same stream and consumer settings (Publish; FetchNoWait,
// falling back to a blocking Fetch of one when nothing is ready, exactly
// what GetBatch does; Ack), with values in JSON, as jsqueue's default codec. "redisStreams" is the peer a user would
// otherwise pick: XADD; XREADGROUP COUNT jsBatch BLOCK; one XACK per batch,
// through go-redis on a redis-server the benchmark starts (append-only file,
// fsync every second, close to JetStream's file store, which does not fsync
// each message either); it is skipped if redis-server is not installed.
//
// "near-empty" is the shape where every get waits: one item is in the queue
// at a time (runPingPong), so each take finds the queue empty and waits
// for the next put. "ours" is Get; Done. "jetstream" is one waiting pull
// per item (Fetch(1); Ack), the least a JetStream client can do.
func BenchmarkJsqueue(b *testing.B) {
	for _, consumers := range []int{1, 4} {
		b.Run(fmt.Sprintf("consumers-%d", consumers), func(b *testing.B) {
			b.Run("ours", func(b *testing.B) { benchOurs(b, consumers) })
			b.Run("jetstream", func(b *testing.B) { benchRawJetStream(b, consumers) })
			b.Run("redisStreams", func(b *testing.B) { benchRedisStreams(b, consumers) })
		})
	}
	b.Run("near-empty", func(b *testing.B) {
		b.Run("ours", benchOursNearEmpty)
		b.Run("jetstream", benchRawJetStreamNearEmpty)
	})
}

// runWorkQueue runs put on producers goroutines over b.N items and take
// on consumers goroutines until b.N items are taken, timing only that.
// take returns how many items it took; it is called again until the total
// reaches b.N; then the clock stops and take's ctx is cancelled.
func runWorkQueue(b *testing.B, producers, consumers int, put func(i int) error, take func(ctx context.Context, c int) (int, error)) {
	b.Helper()
	var taken atomic.Int64
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var wg sync.WaitGroup
	errs := make(chan error, producers+consumers)
	b.ReportAllocs()
	b.ResetTimer()
	for p := range producers {
		wg.Go(func() {
			for i := p; i < b.N; i += producers {
				if err := put(i); err != nil {
					errs <- fmt.Errorf("put: %w", err)
					cancel()
					return
				}
			}
		})
	}
	for c := range consumers {
		wg.Go(func() {
			for ctx.Err() == nil {
				n, err := take(ctx, c)
				if err != nil {
					if ctx.Err() == nil {
						errs <- fmt.Errorf("take: %w", err)
						cancel()
					}
					return
				}
				if n > 0 && taken.Add(int64(n)) == int64(b.N) {
					// The last item is taken: stop the clock here, so that
					// no contender is charged for how fast a consumer still
					// blocked in a read notices the cancellation. Main
					// waits on wg before it touches b again.
					b.StopTimer()
					cancel()
				}
			}
		})
	}
	wg.Wait()
	b.StopTimer() // no-op unless a put or take failed
	close(errs)
	for err := range errs {
		b.Fatal(err)
	}
	if got := taken.Load(); got != int64(b.N) {
		b.Fatalf("taken = %d; want %d", got, b.N)
	}
	if s := b.Elapsed().Seconds(); s > 0 {
		b.ReportMetric(float64(b.N)/s, "items/s")
	}
}

// runPingPong moves b.N items through the queue one at a time: the
// producer puts item i+1 once the consumer has taken item i, so that every
// take starts on an empty queue and waits for the put.
func runPingPong(b *testing.B, put func(i int) error, take func(ctx context.Context) error) {
	b.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	taken := make(chan struct{}, 1)
	errs := make(chan error, 2)
	var wg sync.WaitGroup
	b.ReportAllocs()
	b.ResetTimer()
	wg.Go(func() {
		for i := range b.N {
			if i > 0 {
				select {
				case <-taken:
				case <-ctx.Done():
					return
				}
			}
			if err := put(i); err != nil {
				errs <- fmt.Errorf("put: %w", err)
				cancel()
				return
			}
		}
	})
	wg.Go(func() {
		for range b.N {
			if err := take(ctx); err != nil {
				errs <- fmt.Errorf("take: %w", err)
				cancel()
				return
			}
			taken <- struct{}{}
		}
	})
	wg.Wait()
	b.StopTimer()
	close(errs)
	for err := range errs {
		b.Fatal(err)
	}
	if s := b.Elapsed().Seconds(); s > 0 {
		b.ReportMetric(float64(b.N)/s, "items/s")
	}
}

// natsFixture starts an embedded server and opens 1+consumers connections.
func natsFixture(b *testing.B, consumers int) (jss []jetstream.JetStream) {
	b.Helper()
	srv, err := jsqueue.StartEmbedded(b.TempDir())
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(srv.Shutdown)
	for range 1 + consumers {
		nc, err := nats.Connect(srv.URL)
		if err != nil {
			b.Fatal(err)
		}
		b.Cleanup(nc.Close)
		js, err := jetstream.New(nc)
		if err != nil {
			b.Fatal(err)
		}
		jss = append(jss, js)
	}
	return jss
}

// oursFixture makes the producer's handle and one per consumer, and
// returns the consumers' JetStream contexts.
func oursFixture(b *testing.B, consumers int) (prod *jsqueue.Queue[int], qs []*jsqueue.Queue[int], cjss []jetstream.JetStream) {
	jss := natsFixture(b, consumers)
	ctx := context.Background()
	opt := jsqueue.WithCapacity(max(b.N, 1))
	prod, err := jsqueue.New[int](ctx, jss[0], "bench", opt)
	if err != nil {
		b.Fatal(err)
	}
	qs = make([]*jsqueue.Queue[int], consumers)
	for c := range qs {
		if qs[c], err = jsqueue.New[int](ctx, jss[1+c], "bench", opt); err != nil {
			b.Fatal(err)
		}
	}
	return prod, qs, jss[1:]
}

func benchOurs(b *testing.B, consumers int) {
	ctx := context.Background()
	prod, qs, cjss := oursFixture(b, consumers)
	countMsgs(b, cjss, func() {
		runWorkQueue(b, jsProducers, consumers,
			func(i int) error { return prod.Put(ctx, i) },
			func(ctx context.Context, c int) (int, error) {
				ds, err := qs[c].GetBatch(ctx, jsBatch)
				for _, d := range ds {
					jsSink.Add(int64(d.Value))
					if err := d.Done(); err != nil {
						return 0, err
					}
				}
				return len(ds), err
			})
	})
}

// rawFixture makes by hand the stream and consumer jsqueue makes, and
// returns the producer's JetStream, one consumer handle per consumer, and
// the consumers' JetStream contexts.
func rawFixture(b *testing.B, consumers int) (jetstream.JetStream, []jetstream.Consumer, []jetstream.JetStream) {
	jss := natsFixture(b, consumers)
	ctx := context.Background()
	if _, err := jss[0].CreateStream(ctx, jetstream.StreamConfig{
		Name: "raw", Subjects: []string{"raw.items"}, Retention: jetstream.WorkQueuePolicy,
		MaxMsgs: int64(max(b.N, 1)), Discard: jetstream.DiscardNew, Storage: jetstream.FileStorage,
	}); err != nil {
		b.Fatal(err)
	}
	conss := make([]jetstream.Consumer, consumers)
	for c := range conss {
		var err error
		conss[c], err = jss[1+c].CreateOrUpdateConsumer(ctx, "raw", jetstream.ConsumerConfig{
			Durable: "workers", AckPolicy: jetstream.AckExplicitPolicy, AckWait: 30 * time.Second,
			MaxDeliver: -1, MaxAckPending: -1,
		})
		if err != nil {
			b.Fatal(err)
		}
	}
	return jss[0], conss, jss[1:]
}

// countMsgs runs run and reports how many messages the consumers'
// connections sent per item (pull requests and acks), and the process's
// CPU time per item (clients and the embedded server together): costs that,
// unlike the wall time, a machine loaded by other work does not blur.
func countMsgs(b *testing.B, cjss []jetstream.JetStream, run func()) {
	out := func() (n uint64) {
		for _, js := range cjss {
			n += js.Conn().Stats().OutMsgs
		}
		return n
	}
	cpu := func() time.Duration {
		var ru syscall.Rusage
		_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
		return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
	}
	msgs, used := out(), cpu()
	run()
	b.ReportMetric(float64(out()-msgs)/float64(b.N), "msgs/item")
	b.ReportMetric(float64(cpu()-used)/float64(b.N), "cpu-ns/item")
}

// rawPut publishes i as jsqueue's default codec would encode it.
func rawPut(js jetstream.JetStream, i int) error {
	data, err := json.Marshal(i)
	if err != nil {
		return err
	}
	_, err = js.Publish(context.Background(), "raw.items", data)
	return err
}

func benchRawJetStream(b *testing.B, consumers int) {
	js, conss, cjss := rawFixture(b, consumers)
	countMsgs(b, cjss, func() {
		runWorkQueue(b, jsProducers, consumers,
			func(i int) error { return rawPut(js, i) },
			func(ctx context.Context, c int) (int, error) {
				batch, err := conss[c].FetchNoWait(jsBatch)
				if err != nil {
					return 0, err
				}
				n, err := ackAll(batch)
				if n > 0 || err != nil {
					return n, err
				}
				batch, err = conss[c].Fetch(1, jetstream.FetchContext(ctx))
				if err != nil {
					return 0, err
				}
				return ackAll(batch)
			})
	})
}

func benchOursNearEmpty(b *testing.B) {
	ctx := context.Background()
	prod, qs, cjss := oursFixture(b, 1)
	countMsgs(b, cjss, func() {
		runPingPong(b,
			func(i int) error { return prod.Put(ctx, i) },
			func(ctx context.Context) error {
				d, err := qs[0].Get(ctx)
				if err != nil {
					return err
				}
				jsSink.Add(int64(d.Value))
				return d.Done()
			})
	})
}

func benchRawJetStreamNearEmpty(b *testing.B) {
	js, conss, cjss := rawFixture(b, 1)
	countMsgs(b, cjss, func() {
		runPingPong(b,
			func(i int) error { return rawPut(js, i) },
			func(ctx context.Context) error {
				batch, err := conss[0].Fetch(1, jetstream.FetchContext(ctx))
				if err != nil {
					return err
				}
				n, err := ackAll(batch)
				if err == nil && n != 1 {
					err = fmt.Errorf("Fetch(1) took %d items; want 1", n)
				}
				return err
			})
	})
}

func ackAll(batch jetstream.MessageBatch) (int, error) {
	n := 0
	for m := range batch.Messages() {
		var v int
		if err := json.Unmarshal(m.Data(), &v); err != nil {
			return n, err
		}
		jsSink.Add(int64(v))
		if err := m.Ack(); err != nil {
			return n, err
		}
		n++
	}
	return n, nil
}

func benchRedisStreams(b *testing.B, consumers int) {
	addr := startRedis(b)
	ctx := context.Background()
	clients := make([]*redis.Client, 1+consumers)
	for i := range clients {
		clients[i] = redis.NewClient(&redis.Options{Addr: addr, PoolSize: jsProducers + 1})
		b.Cleanup(func() { _ = clients[i].Close() })
	}
	if err := clients[0].XGroupCreateMkStream(ctx, "items", "workers", "0").Err(); err != nil {
		b.Fatal(err)
	}
	runWorkQueue(b, jsProducers, consumers,
		func(i int) error {
			return clients[0].XAdd(ctx, &redis.XAddArgs{Stream: "items", Values: []any{"v", i}}).Err()
		},
		func(ctx context.Context, c int) (int, error) {
			res, err := clients[1+c].XReadGroup(ctx, &redis.XReadGroupArgs{
				Group: "workers", Consumer: "c" + strconv.Itoa(c), Streams: []string{"items", ">"},
				Count: jsBatch, Block: 100 * time.Millisecond,
			}).Result()
			if errors.Is(err, redis.Nil) {
				return 0, nil
			}
			if err != nil {
				return 0, err
			}
			var ids []string
			for _, m := range res[0].Messages {
				v, err := strconv.Atoi(m.Values["v"].(string))
				if err != nil {
					return 0, err
				}
				jsSink.Add(int64(v))
				ids = append(ids, m.ID)
			}
			if err := clients[1+c].XAck(ctx, "items", "workers", ids...).Err(); err != nil {
				return 0, err
			}
			return len(ids), nil
		})
}

// startRedis runs redis-server on a free loopback port for one benchmark
// run, or skips if it is not installed.
func startRedis(b *testing.B) string {
	b.Helper()
	path, err := exec.LookPath("redis-server")
	if err != nil {
		b.Skip("redis-server not on PATH (apt-get install redis-server)")
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	port := l.Addr().(*net.TCPAddr).Port
	_ = l.Close()
	addr := "127.0.0.1:" + strconv.Itoa(port)
	cmd := exec.Command(path, "--port", strconv.Itoa(port), "--bind", "127.0.0.1",
		"--dir", b.TempDir(), "--save", "", "--appendonly", "yes", "--appendfsync", "everysec")
	if err := cmd.Start(); err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
	})
	c := redis.NewClient(&redis.Options{Addr: addr})
	defer c.Close()
	for i := 0; ; i++ {
		if c.Ping(context.Background()).Err() == nil {
			return addr
		}
		if i == 100 {
			b.Fatal("redis-server did not answer within 5s")
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// jsSink keeps the values taken alive; consumers add to it concurrently.
var jsSink atomic.Int64
