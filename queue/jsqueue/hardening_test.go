package jsqueue_test

import (
	"context"
	"encoding/binary"
	"errors"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/async-patterns/async/queue/jsqueue"
	"github.com/nats-io/nats.go/jetstream"
)

// binaryCodec reads and writes a value as 8 big-endian bytes. Its Decode
// panics on a shorter body and its Encode on a negative value, as careless
// hand-written codecs do.
type binaryCodec struct{}

func (binaryCodec) Encode(v int) ([]byte, error) {
	if v < 0 {
		panic("binaryCodec: negative value")
	}
	return binary.BigEndian.AppendUint64(nil, uint64(v)), nil
}

func (binaryCodec) Decode(data []byte) (int, error) {
	_ = data[7] // panics on a short body
	return int(binary.BigEndian.Uint64(data)), nil
}

func TestCodecPanic(t *testing.T) {
	s := startServer(t)
	_, js := connect(t, s)
	ctx := context.Background()
	q := newQueue[int](t, js, "codecpanic", jsqueue.WithCodec[int](binaryCodec{}), jsqueue.WithMaxDeliver(3))

	t.Run("a Decode that panics dead-letters the item at once and the worker goes on", func(t *testing.T) {
		if _, err := js.Publish(ctx, "jsqueue.codecpanic.items", []byte{1, 2}); err != nil {
			t.Fatalf("Publish() = %v", err)
		}
		for i := range 3 {
			if err := q.Put(ctx, i); err != nil {
				t.Fatalf("Put() = %v", err)
			}
		}
		var handled atomic.Int32
		sctx, stop := context.WithCancel(ctx)
		served := make(chan error, 1)
		go func() {
			served <- jsqueue.Serve(sctx, q, 1, func(ctx context.Context, v int) error {
				handled.Add(1)
				return nil
			})
		}()
		if err := q.Join(ctx); err != nil {
			t.Fatalf("Join() = %v", err)
		}
		stop()
		if err := <-served; !errors.Is(err, context.Canceled) {
			t.Fatalf("Serve() = %v; want Canceled", err)
		}
		if n := handled.Load(); n != 3 {
			t.Fatalf("handled %d items; want 3", n)
		}
		dead, err := q.DeadLetters(ctx)
		if err != nil || len(dead) != 1 {
			t.Fatalf("DeadLetters() = %v, %v; want one", dead, err)
		}
		if dl := dead[0]; dl.Attempts != 1 || !strings.Contains(dl.Err, "decoding the value: panic:") || !strings.Contains(dl.Err, "index out of range") {
			t.Fatalf("dead letter = %q after %d attempts; want the decode panic after 1 attempt", dl.Err, dl.Attempts)
		}
	})

	t.Run("an Encode that panics makes Put and TryPut return it and enqueues nothing", func(t *testing.T) {
		var pe *jsqueue.PanicError
		if err := q.Put(ctx, -1); !errors.As(err, &pe) || !strings.Contains(err.Error(), "encoding the value") {
			t.Fatalf("Put(-1) = %v; want a *PanicError from encoding", err)
		}
		if err := q.TryPut(-1); !errors.As(err, &pe) {
			t.Fatalf("TryPut(-1) = %v; want a *PanicError", err)
		}
		if n := queueLen(t, q); n != 0 {
			t.Fatalf("Len() = %d; want 0", n)
		}
	})
}

// consumerAckWait reads the ack wait of the queue's shared consumer.
func consumerAckWait(t *testing.T, js jetstream.JetStream, name string) time.Duration {
	t.Helper()
	cons, err := js.Consumer(context.Background(), name, "workers")
	if err != nil {
		t.Fatalf("Consumer() = %v", err)
	}
	return cons.CachedInfo().Config.AckWait
}

// serveCounting serves q with two workers whose handler counts its calls
// and runs for work; it returns after Join, with the number of calls.
func serveCounting(t *testing.T, q *jsqueue.Queue[int], work time.Duration) int32 {
	t.Helper()
	ctx := context.Background()
	var calls atomic.Int32
	sctx, stop := context.WithCancel(ctx)
	served := make(chan error, 1)
	go func() {
		served <- jsqueue.Serve(sctx, q, 2, func(ctx context.Context, v int) error {
			calls.Add(1)
			<-time.After(work) // the ack wait runs on the server's clock
			return nil
		})
	}()
	if err := q.Join(ctx); err != nil {
		t.Errorf("Join() = %v", err)
	}
	stop()
	<-served
	return calls.Load()
}

func TestAckWaitIsTheConsumers(t *testing.T) {
	// DefaultAckWait is 30s; a test cannot wait that long, so the default
	// is 300ms here and the workers' ack wait 3s: a job of 1.5s outlives
	// the default and not the workers' wait.
	defer jsqueue.SetDefaultAckWait(300 * time.Millisecond)()
	const workers, work = 3 * time.Second, 1500 * time.Millisecond
	s := startServer(t)
	_, js := connect(t, s)
	ctx := context.Background()

	t.Run("a producer made with defaults does not shorten the workers' ack wait", func(t *testing.T) {
		wq := newQueue[int](t, js, "ackwait", jsqueue.WithAckWait(workers))
		_, pjs := connect(t, s)
		producer := newQueue[int](t, pjs, "ackwait")
		if got := consumerAckWait(t, js, "ackwait"); got != workers {
			t.Fatalf("consumer ack wait after the producer's New = %v; want %v", got, workers)
		}
		if err := producer.Put(ctx, 1); err != nil {
			t.Fatalf("Put() = %v", err)
		}
		if n := serveCounting(t, wq, work); n != 1 {
			t.Fatalf("handler calls = %d; want 1 (no redelivery while it ran)", n)
		}
	})

	t.Run("Serve extends on the consumer's ack wait, not its handle's default", func(t *testing.T) {
		defer jsqueue.SetDefaultAckWait(time.Minute)()
		_ = newQueue[int](t, js, "extend", jsqueue.WithAckWait(600*time.Millisecond))
		_, wjs := connect(t, s)
		wq := newQueue[int](t, wjs, "extend") // a default of 1m, which Serve must not use
		if err := wq.Put(ctx, 1); err != nil {
			t.Fatalf("Put() = %v", err)
		}
		if n := serveCounting(t, wq, work); n != 1 {
			t.Fatalf("handler calls = %d; want 1 (Serve extends every 200ms)", n)
		}
	})

	t.Run("New lengthens the ack wait when asked and refuses to shorten it", func(t *testing.T) {
		_ = newQueue[int](t, js, "lengthen", jsqueue.WithAckWait(time.Second))
		_ = newQueue[int](t, js, "lengthen", jsqueue.WithAckWait(2*time.Second))
		if got := consumerAckWait(t, js, "lengthen"); got != 2*time.Second {
			t.Fatalf("consumer ack wait = %v; want 2s", got)
		}
		_, err := jsqueue.New[int](ctx, js, "lengthen", jsqueue.WithAckWait(time.Second))
		if err == nil || !strings.Contains(err.Error(), "WithAckWait(1s)") || !strings.Contains(err.Error(), "2s") {
			t.Fatalf("New(WithAckWait(1s)) on a 2s consumer = %v; want an error naming both", err)
		}
		if got := consumerAckWait(t, js, "lengthen"); got != 2*time.Second {
			t.Fatalf("consumer ack wait after the refused New = %v; want 2s", got)
		}
	})
}

func TestOptionConflicts(t *testing.T) {
	s := startServer(t)
	_, js := connect(t, s)
	ctx := context.Background()
	fn := func(context.Context, int) error { return nil }

	t.Run("Serve refuses New's options that disagree with the queue, and accepts those that agree", func(t *testing.T) {
		q := newQueue[int](t, js, "serveopts", jsqueue.WithAckWait(time.Minute), jsqueue.WithMaxDeliver(4))
		for _, c := range []struct {
			opt  jsqueue.Option
			want string
		}{
			{jsqueue.WithAckWait(time.Second), "WithAckWait(1s)"},
			{jsqueue.WithMaxDeliver(2), "WithMaxDeliver(2)"},
			{jsqueue.WithCapacity(7), "WithCapacity(7)"},
			{jsqueue.WithMemoryStorage(), "WithMemoryStorage"},
		} {
			// Refused at once; a Serve that ran would end with the ctx.
			sctx, cancel := context.WithTimeout(ctx, time.Second)
			err := jsqueue.Serve(sctx, q, 1, fn, c.opt)
			cancel()
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Errorf("Serve(%s) = %v; want an error naming it", c.want, err)
			}
		}
		sctx, cancel := context.WithCancel(ctx)
		cancel()
		err := jsqueue.Serve(sctx, q, 1, fn, jsqueue.WithAckWait(time.Minute), jsqueue.WithMaxDeliver(4), jsqueue.WithCapacity(jsqueue.DefaultCapacity))
		if !errors.Is(err, context.Canceled) {
			t.Fatalf("Serve() with New's own options = %v; want Canceled (accepted)", err)
		}
	})

	t.Run("New on an existing queue with another bound returns an error naming both", func(t *testing.T) {
		_ = newQueue[int](t, js, "bounded", jsqueue.WithCapacity(10))
		_, err := jsqueue.New[int](ctx, js, "bounded", jsqueue.WithCapacity(5))
		if err == nil || !strings.Contains(err.Error(), "WithCapacity(5)") || !strings.Contains(err.Error(), "10") {
			t.Fatalf("New(WithCapacity(5)) on a queue of 10 = %v; want an error naming both", err)
		}
		q := newQueue[int](t, js, "bounded") // no option: the queue's bound
		if c, err := q.Cap(ctx); err != nil || c != 10 {
			t.Fatalf("Cap() = %d, %v; want 10", c, err)
		}
	})

	t.Run("every process uses the MaxDeliver the queue was made with", func(t *testing.T) {
		_ = newQueue[int](t, js, "maxdel", jsqueue.WithMaxDeliver(2))
		if _, err := jsqueue.New[int](ctx, js, "maxdel", jsqueue.WithMaxDeliver(5)); err == nil || !strings.Contains(err.Error(), "WithMaxDeliver(5)") {
			t.Fatalf("New(WithMaxDeliver(5)) on a queue made with 2 = %v; want an error naming it", err)
		}
		_, ojs := connect(t, s)
		q := newQueue[int](t, ojs, "maxdel") // defaults: must still dead-letter after 2
		if err := q.Put(ctx, 1); err != nil {
			t.Fatalf("Put() = %v", err)
		}
		failServe(t, q)
		dead, err := q.DeadLetters(ctx)
		if err != nil || len(dead) != 1 || dead[0].Attempts != 2 {
			t.Fatalf("DeadLetters() = %+v, %v; want one after 2 attempts", dead, err)
		}
	})

	t.Run("Serve's options given to New are that handle's Serve defaults", func(t *testing.T) {
		q := newQueue[int](t, js, "servedefaults", jsqueue.WithRetryIf(func(error) bool { return false }), jsqueue.WithBackoff(0, 0))
		if err := q.Put(ctx, 1); err != nil {
			t.Fatalf("Put() = %v", err)
		}
		failServe(t, q)
		dead, err := q.DeadLetters(ctx)
		if err != nil || len(dead) != 1 || dead[0].Attempts != 1 {
			t.Fatalf("DeadLetters() = %+v, %v; want one after 1 attempt (WithRetryIf from New)", dead, err)
		}
	})
}

// failServe serves q with a handler that always fails, without backoff,
// until Join returns.
func failServe(t *testing.T, q *jsqueue.Queue[int]) {
	t.Helper()
	ctx := context.Background()
	sctx, stop := context.WithCancel(ctx)
	var wg sync.WaitGroup
	wg.Go(func() {
		_ = jsqueue.Serve(sctx, q, 1, func(context.Context, int) error { return errors.New("failed") }, jsqueue.WithBackoff(0, 0))
	})
	jctx, cancel := context.WithTimeout(ctx, 20*time.Second)
	defer cancel()
	if err := q.Join(jctx); err != nil {
		t.Errorf("Join() = %v", err)
	}
	stop()
	wg.Wait()
}
