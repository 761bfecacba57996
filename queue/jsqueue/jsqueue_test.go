package jsqueue_test

import (
	"bufio"
	"context"
	"errors"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/async-patterns/async/queue"
	"github.com/async-patterns/async/queue/jsqueue"
	"github.com/nats-io/nats.go/jetstream"
)

func TestPutGetDone(t *testing.T) {
	s := startServer(t)
	_, js := connect(t, s)
	ctx := context.Background()
	q := newQueue[string](t, js, "basic")

	t.Run("an item put is got once with its value and attempt 1", func(t *testing.T) {
		if err := q.Put(ctx, "a"); err != nil {
			t.Fatalf("Put() = %v; want nil", err)
		}
		d, err := q.Get(ctx)
		if err != nil {
			t.Fatalf("Get() = %v; want nil", err)
		}
		if d.Value != "a" || d.Attempt != 1 {
			t.Fatalf("Get() = %q attempt %d; want \"a\" attempt 1", d.Value, d.Attempt)
		}
		if _, err := q.TryGet(); !errors.Is(err, jsqueue.ErrEmpty) {
			t.Fatalf("TryGet() while the item is held = %v; want ErrEmpty", err)
		}
		if err := d.Done(); err != nil {
			t.Fatalf("Done() = %v", err)
		}
		if err := q.Join(ctx); err != nil {
			t.Fatalf("Join() = %v; want nil", err)
		}
		if n := queueLen(t, q); n != 0 {
			t.Fatalf("Len() after Done = %d; want 0", n)
		}
	})

	t.Run("Retry delivers the item again with the next attempt number", func(t *testing.T) {
		if err := q.Put(ctx, "b"); err != nil {
			t.Fatalf("Put() = %v", err)
		}
		d, err := q.Get(ctx)
		if err != nil {
			t.Fatalf("Get() = %v", err)
		}
		if err := d.Retry(0); err != nil {
			t.Fatalf("Retry() = %v", err)
		}
		d, err = q.Get(ctx)
		if err != nil {
			t.Fatalf("Get() = %v", err)
		}
		if d.Value != "b" || d.Attempt != 2 {
			t.Fatalf("Get() after Retry = %q attempt %d; want \"b\" attempt 2", d.Value, d.Attempt)
		}
		_ = d.Done()
	})

	t.Run("GetBatch returns the items ready, up to max, in order", func(t *testing.T) {
		for i := range 5 {
			if err := q.Put(ctx, strconv.Itoa(i)); err != nil {
				t.Fatalf("Put() = %v", err)
			}
		}
		waitReady(t, js, "basic", 5)
		ds, err := q.GetBatch(ctx, 3)
		if err != nil {
			t.Fatalf("GetBatch() = %v", err)
		}
		var got []string
		for _, d := range ds {
			got = append(got, d.Value)
			_ = d.Done()
		}
		if strings.Join(got, ",") != "0,1,2" {
			t.Fatalf("GetBatch(3) = %v; want [0 1 2]", got)
		}
		// An item stored an instant ago may not be ready yet: GetBatch
		// returns at least one, and the rest come with the next call.
		got = got[:0]
		for len(got) < 2 {
			ds, err = q.GetBatch(ctx, 10)
			if err != nil {
				t.Fatalf("GetBatch(10) = %v", err)
			}
			for _, d := range ds {
				got = append(got, d.Value)
				_ = d.Done()
			}
		}
		if strings.Join(got, ",") != "3,4" {
			t.Fatalf("GetBatch(10) = %v; want [3 4]", got)
		}
	})

	t.Run("a Get whose ctx ends removes nothing", func(t *testing.T) {
		cctx, cancel := context.WithTimeout(ctx, 100*time.Millisecond)
		defer cancel()
		if _, err := q.Get(cctx); !errors.Is(err, context.DeadlineExceeded) {
			t.Fatalf("Get() on an empty queue = %v; want DeadlineExceeded", err)
		}
		if err := q.Put(ctx, "after"); err != nil {
			t.Fatalf("Put() = %v", err)
		}
		d, err := q.Get(ctx)
		if err != nil || d.Value != "after" || d.Attempt != 1 {
			t.Fatalf("Get() = %v, %v; want \"after\" attempt 1", d, err)
		}
		_ = d.Done()
	})
}

func TestBound(t *testing.T) {
	s := startServer(t)
	_, js := connect(t, s)
	ctx := context.Background()
	q := newQueue[int](t, js, "bound", jsqueue.WithCapacity(2))

	t.Run("TryPut on a full queue returns ErrFull and enqueues nothing", func(t *testing.T) {
		for i := range 2 {
			if err := q.TryPut(i); err != nil {
				t.Fatalf("TryPut(%d) = %v; want nil", i, err)
			}
		}
		if err := q.TryPut(2); !errors.Is(err, queue.ErrFull) {
			t.Fatalf("TryPut() on a full queue = %v; want ErrFull", err)
		}
		if n := queueLen(t, q); n != 2 {
			t.Fatalf("Len() = %d; want 2", n)
		}
	})

	t.Run("a blocked Put whose ctx ends enqueues nothing", func(t *testing.T) {
		cctx, cancel := context.WithTimeout(ctx, 200*time.Millisecond)
		defer cancel()
		if err := q.Put(cctx, 3); !errors.Is(err, context.DeadlineExceeded) {
			t.Fatalf("Put() on a full queue = %v; want DeadlineExceeded", err)
		}
		if n := queueLen(t, q); n != 2 {
			t.Fatalf("Len() after the cancelled Put = %d; want 2", n)
		}
	})

	t.Run("a blocked Put enqueues once an item is done", func(t *testing.T) {
		putErr := make(chan error, 1)
		go func() { putErr <- q.Put(ctx, 4) }()
		d, err := q.Get(ctx)
		if err != nil {
			t.Fatalf("Get() = %v", err)
		}
		select {
		case err := <-putErr:
			t.Fatalf("Put() returned %v while the queue was full", err)
		default:
		}
		_ = d.Done()
		if err := <-putErr; err != nil {
			t.Fatalf("Put() after Done = %v; want nil", err)
		}
		var got []int
		for range 2 {
			d, err := q.Get(ctx)
			if err != nil {
				t.Fatalf("Get() = %v", err)
			}
			got = append(got, d.Value)
			_ = d.Done()
		}
		if got[0] != 1 || got[1] != 4 {
			t.Fatalf("items left = %v; want [1 4]", got)
		}
	})
}

func TestClose(t *testing.T) {
	s := startServer(t)
	_, js1 := connect(t, s)
	_, js2 := connect(t, s)
	ctx := context.Background()
	q1 := newQueue[int](t, js1, "closing", jsqueue.WithCapacity(1))
	q2 := newQueue[int](t, js2, "closing")

	if err := q2.Put(ctx, 1); err != nil {
		t.Fatalf("Put() = %v", err)
	}
	blocked := make(chan error, 1)
	go func() { blocked <- q2.Put(ctx, 2) }()
	getErr := make(chan error, 1)
	closedNow := make(chan struct{})
	go func() {
		// Drains the one item, then waits on the closed, empty queue.
		d, err := q2.Get(ctx)
		if err != nil {
			getErr <- err
			return
		}
		// Hold it until Close, so that the blocked Put cannot get in.
		<-closedNow
		_ = d.Done()
		_, err = q2.Get(ctx)
		getErr <- err
	}()
	if err := q1.Close(ctx); err != nil {
		t.Fatalf("Close() = %v", err)
	}
	close(closedNow)

	t.Run("a Put blocked in another connection wakes with ErrClosed", func(t *testing.T) {
		if err := <-blocked; !errors.Is(err, queue.ErrClosed) {
			t.Fatalf("blocked Put() = %v; want ErrClosed", err)
		}
	})
	t.Run("another connection's Put returns ErrClosed", func(t *testing.T) {
		if err := q2.Put(ctx, 3); !errors.Is(err, queue.ErrClosed) {
			t.Fatalf("Put() after Close = %v; want ErrClosed", err)
		}
		if err := q2.TryPut(3); !errors.Is(err, queue.ErrClosed) {
			t.Fatalf("TryPut() after Close = %v; want ErrClosed", err)
		}
	})
	t.Run("JetStream itself refuses a put, even from a process that missed the notice", func(t *testing.T) {
		_, err := js2.Publish(ctx, "jsqueue.closing.items", []byte("5"), jetstream.WithRetryAttempts(0))
		if !errors.Is(err, jetstream.ErrNoStreamResponse) {
			t.Fatalf("raw Publish() after Close = %v; want ErrNoStreamResponse", err)
		}
	})
	t.Run("a getter drains the items left, then gets ErrClosed", func(t *testing.T) {
		if err := <-getErr; !errors.Is(err, queue.ErrClosed) {
			t.Fatalf("Get() on the drained, closed queue = %v; want ErrClosed", err)
		}
	})
	t.Run("a new handle sees the queue closed", func(t *testing.T) {
		q3 := newQueue[int](t, js2, "closing")
		if !q3.Closed() {
			t.Fatalf("Closed() = false; want true")
		}
		if err := q3.Put(ctx, 4); !errors.Is(err, queue.ErrClosed) {
			t.Fatalf("Put() = %v; want ErrClosed", err)
		}
	})
}

func TestMaxDeliver(t *testing.T) {
	s := startServer(t)
	_, js := connect(t, s)
	ctx := context.Background()
	q := newQueue[string](t, js, "maxdeliver", jsqueue.WithMaxDeliver(3), jsqueue.WithAckWait(300*time.Millisecond))
	if err := q.Put(ctx, "doomed"); err != nil {
		t.Fatalf("Put() = %v", err)
	}
	var calls atomic.Int32
	sctx, stop := context.WithCancel(ctx)
	served := make(chan error, 1)
	go func() {
		served <- jsqueue.Serve(sctx, q, 2, func(ctx context.Context, v string) error {
			return errors.New("boom " + strconv.Itoa(int(calls.Add(1))))
		}, jsqueue.WithBackoff(0, 0))
	}()
	if err := q.Join(ctx); err != nil {
		t.Fatalf("Join() = %v", err)
	}
	stop()
	if err := <-served; !errors.Is(err, context.Canceled) {
		t.Fatalf("Serve() = %v; want Canceled", err)
	}
	if n := calls.Load(); n != 3 {
		t.Fatalf("handler calls = %d; want 3 (MaxDeliver)", n)
	}
	dead, err := q.DeadLetters(ctx)
	if err != nil {
		t.Fatalf("DeadLetters() = %v", err)
	}
	if len(dead) != 1 {
		t.Fatalf("DeadLetters() = %d letters; want 1", len(dead))
	}
	if dl := dead[0]; string(dl.Data) != `"doomed"` || dl.Err != "boom 3" || dl.Attempts != 3 {
		t.Fatalf("dead letter = %s, %q, %d attempts; want \"doomed\", \"boom 3\", 3", dl.Data, dl.Err, dl.Attempts)
	}
	if err := q.RemoveDeadLetter(ctx, dead[0].Seq); err != nil {
		t.Fatalf("RemoveDeadLetter() = %v", err)
	}
	if dead, _ := q.DeadLetters(ctx); len(dead) != 0 {
		t.Fatalf("DeadLetters() after RemoveDeadLetter = %d; want 0", len(dead))
	}
}

func TestUnsettledPastMaxDeliver(t *testing.T) {
	s := startServer(t)
	_, js := connect(t, s)
	ctx := context.Background()
	q := newQueue[int](t, js, "unsettled", jsqueue.WithMaxDeliver(2), jsqueue.WithAckWait(200*time.Millisecond))
	if err := q.Put(ctx, 7); err != nil {
		t.Fatalf("Put() = %v", err)
	}
	for want := 1; want <= 2; want++ {
		d, err := q.Get(ctx) // never settled: as if its holder hung
		if err != nil || d.Attempt != want {
			t.Fatalf("Get() = %v, %v; want attempt %d", d, err, want)
		}
	}
	// The third delivery, an ack wait later, is past MaxDeliver: Get
	// dead-letters it and waits on.
	gctx, cancel := context.WithCancel(ctx)
	defer cancel()
	getErr := make(chan error, 1)
	go func() {
		_, err := q.Get(gctx)
		getErr <- err
	}()
	deadline := time.Now().Add(10 * time.Second)
	var dead []jsqueue.DeadLetter
	for len(dead) == 0 {
		var err error
		if dead, err = q.DeadLetters(ctx); err != nil {
			t.Fatalf("DeadLetters() = %v", err)
		}
		if len(dead) == 0 && time.Now().After(deadline) {
			cancel()
			t.Fatalf("DeadLetters() = none 10s after the second delivery (ack wait 200ms); want one; Get() = %v", <-getErr)
		}
	}
	select {
	case err := <-getErr:
		t.Fatalf("Get() = %v after the item was dead-lettered; want it still waiting", err)
	default:
	}
	cancel()
	if err := <-getErr; !errors.Is(err, context.Canceled) {
		t.Fatalf("Get() = %v; want Canceled", err)
	}
	if len(dead) != 1 {
		t.Fatalf("DeadLetters() = %v; want one", dead)
	}
	if !strings.Contains(dead[0].Err, "attempts exhausted") || dead[0].Attempts != 3 {
		t.Fatalf("dead letter = %q, %d attempts; want attempts exhausted, 3", dead[0].Err, dead[0].Attempts)
	}
	if err := q.Join(ctx); err != nil {
		t.Fatalf("Join() = %v", err)
	}
}

func TestPoison(t *testing.T) {
	s := startServer(t)
	_, js := connect(t, s)
	ctx := context.Background()
	q := newQueue[int](t, js, "poison")
	if _, err := js.Publish(ctx, "jsqueue.poison.items", []byte("{not json")); err != nil {
		t.Fatalf("Publish() = %v", err)
	}
	for i := range 3 {
		if err := q.Put(ctx, i); err != nil {
			t.Fatalf("Put() = %v", err)
		}
	}
	var mu sync.Mutex
	var got []int
	sctx, stop := context.WithCancel(ctx)
	served := make(chan error, 1)
	go func() {
		served <- jsqueue.Serve(sctx, q, 1, func(ctx context.Context, v int) error {
			mu.Lock()
			got = append(got, v)
			mu.Unlock()
			return nil
		})
	}()
	if err := q.Join(ctx); err != nil {
		t.Fatalf("Join() = %v", err)
	}
	stop()
	<-served
	t.Run("the worker keeps serving the items after it", func(t *testing.T) {
		if len(got) != 3 {
			t.Fatalf("handled %v; want [0 1 2]", got)
		}
	})
	t.Run("the poison message is dead-lettered with the decode error", func(t *testing.T) {
		dead, err := q.DeadLetters(ctx)
		if err != nil || len(dead) != 1 {
			t.Fatalf("DeadLetters() = %v, %v; want one", dead, err)
		}
		if string(dead[0].Data) != "{not json" || !strings.Contains(dead[0].Err, "decoding the value") {
			t.Fatalf("dead letter = %q, %q; want the bad body and a decode error", dead[0].Data, dead[0].Err)
		}
	})
}

func TestServePanic(t *testing.T) {
	s := startServer(t)
	_, js := connect(t, s)
	ctx := context.Background()
	q := newQueue[int](t, js, "panics", jsqueue.WithMaxDeliver(2))
	if err := q.Put(ctx, 1); err != nil {
		t.Fatalf("Put() = %v", err)
	}
	var calls atomic.Int32
	sctx, stop := context.WithCancel(ctx)
	served := make(chan error, 1)
	go func() {
		served <- jsqueue.Serve(sctx, q, 1, func(ctx context.Context, v int) error {
			calls.Add(1)
			panic("kaboom")
		}, jsqueue.WithBackoff(0, 0))
	}()
	if err := q.Join(ctx); err != nil {
		t.Fatalf("Join() = %v", err)
	}
	stop()
	<-served
	if n := calls.Load(); n != 2 {
		t.Fatalf("handler calls = %d; want 2 (a panic is retried)", n)
	}
	dead, err := q.DeadLetters(ctx)
	if err != nil || len(dead) != 1 || !strings.HasPrefix(dead[0].Err, "panic: kaboom") {
		t.Fatalf("DeadLetters() = %v, %v; want one with the panic", dead, err)
	}
}

func TestServeGrace(t *testing.T) {
	s := startServer(t)
	_, js := connect(t, s)
	ctx := context.Background()
	q := newQueue[int](t, js, "grace", jsqueue.WithAckWait(300*time.Millisecond))

	t.Run("a handler running when ctx ends finishes within the grace period", func(t *testing.T) {
		if err := q.Put(ctx, 1); err != nil {
			t.Fatalf("Put() = %v", err)
		}
		started, release := make(chan struct{}), make(chan struct{})
		sctx, stop := context.WithCancel(ctx)
		served := make(chan error, 1)
		var handlerErr error
		go func() {
			served <- jsqueue.Serve(sctx, q, 1, func(ctx context.Context, v int) error {
				close(started)
				<-release
				handlerErr = ctx.Err()
				return nil
			}, jsqueue.WithGrace(time.Minute))
		}()
		<-started
		stop()
		select {
		case err := <-served:
			t.Fatalf("Serve() = %v before its handler returned", err)
		default:
		}
		close(release)
		if err := <-served; !errors.Is(err, context.Canceled) {
			t.Fatalf("Serve() = %v; want Canceled", err)
		}
		if handlerErr != nil {
			t.Fatalf("handler ctx.Err() = %v; want nil within the grace period", handlerErr)
		}
		jctx, cancel := context.WithTimeout(ctx, 5*time.Second)
		defer cancel()
		if err := q.Join(jctx); err != nil {
			t.Fatalf("Join() = %v; want nil (the item done)", err)
		}
	})

	t.Run("a handler past the grace period is cancelled and its item delivered again", func(t *testing.T) {
		if err := q.Put(ctx, 2); err != nil {
			t.Fatalf("Put() = %v", err)
		}
		started := make(chan struct{})
		sctx, stop := context.WithCancel(ctx)
		served := make(chan error, 1)
		var cause error
		go func() {
			served <- jsqueue.Serve(sctx, q, 1, func(ctx context.Context, v int) error {
				close(started)
				<-ctx.Done()
				cause = context.Cause(ctx)
				return ctx.Err()
			}, jsqueue.WithGrace(50*time.Millisecond))
		}()
		<-started
		stop()
		<-served
		if !errors.Is(cause, jsqueue.ErrGraceExpired) {
			t.Fatalf("handler ctx cause = %v; want ErrGraceExpired", cause)
		}
		d, err := q.Get(ctx)
		if err != nil || d.Value != 2 || d.Attempt != 2 {
			t.Fatalf("Get() = %v, %v; want 2 at attempt 2", d, err)
		}
		_ = d.Done()
	})
}

// TestManyConsumers: 3 connections serve 10k items; one closes mid-run
// holding unsettled deliveries. Every item is done, the held ones after a
// redelivery.
func TestManyConsumers(t *testing.T) {
	const items = 10_000
	s := startServer(t)
	_, js := connect(t, s)
	ctx := context.Background()
	opts := []jsqueue.Option{jsqueue.WithCapacity(items), jsqueue.WithAckWait(time.Second), jsqueue.WithMemoryStorage()}
	producer := newQueue[int](t, js, "many", opts...)

	var done, lastAttempt [items]atomic.Int32
	var redelivered atomic.Int32
	handler := func(ctx context.Context, v int) error {
		done[v].Add(1)
		lastAttempt[v].Store(int32(jsqueue.Attempt(ctx)))
		if jsqueue.Attempt(ctx) > 1 {
			redelivered.Add(1)
		}
		return nil
	}
	sctx, stop := context.WithCancel(ctx)
	defer stop()
	var wg sync.WaitGroup
	errs := make(chan error, 2)
	for range 2 {
		_, js := connect(t, s)
		q := newQueue[int](t, js, "many", opts...)
		wg.Go(func() {
			errs <- jsqueue.Serve(sctx, q, 4, func(ctx context.Context, v int) error {
				return handler(ctx, v)
			})
		})
	}
	// The third connection takes deliveries and dies holding them.
	nc3, js3 := connect(t, s)
	q3 := newQueue[int](t, js3, "many", opts...)

	var putWG sync.WaitGroup
	for p := range 4 {
		putWG.Go(func() {
			for i := p; i < items; i += 4 {
				if err := producer.Put(ctx, i); err != nil {
					t.Errorf("Put(%d) = %v", i, err)
					return
				}
			}
		})
	}
	held := map[int]bool{}
	for len(held) < 50 {
		ds, err := q3.GetBatch(ctx, 50-len(held))
		if err != nil {
			t.Fatalf("GetBatch() = %v", err)
		}
		for _, d := range ds {
			held[d.Value] = true
		}
	}
	nc3.Close()
	putWG.Wait()

	if err := producer.Join(ctx); err != nil {
		t.Fatalf("Join() = %v", err)
	}
	stop()
	wg.Wait()
	for range 2 {
		if err := <-errs; !errors.Is(err, context.Canceled) {
			t.Errorf("Serve() = %v; want Canceled", err)
		}
	}
	twice := 0
	for i := range items {
		switch n := done[i].Load(); {
		case n == 0:
			t.Fatalf("item %d never done", i)
		case n > 1:
			twice++
		}
	}
	for v := range held {
		if a := lastAttempt[v].Load(); a < 2 {
			t.Fatalf("held item %d done at attempt %d; want >= 2 (a redelivery)", v, a)
		}
	}
	if n := redelivered.Load(); n < int32(len(held)) {
		t.Fatalf("redeliveries = %d; want >= %d (the items held)", n, len(held))
	}
	t.Logf("%d items done; %d held by the closed connection and redelivered; %d done more than once", items, redelivered.Load(), twice)
}

// TestKilledWorker: a worker process (this test binary, serving the queue
// with handlers that never return) killed with SIGKILL mid-task; its
// deliveries come back after the ack wait and are done here, once each.
func TestKilledWorker(t *testing.T) {
	s := startServer(t)
	_, js := connect(t, s)
	ctx := context.Background()
	q := newQueue[int](t, js, "killed", jsqueue.WithAckWait(killedAckWait))
	for i := range 10 {
		if err := q.Put(ctx, i); err != nil {
			t.Fatalf("Put() = %v", err)
		}
	}
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), childEnv+"="+s.URL)
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		t.Fatalf("starting the worker process: %v", err)
	}
	held := map[int]bool{}
	lines := bufio.NewScanner(out)
	for len(held) < 3 && lines.Scan() {
		line := lines.Text()
		v, ok := strings.CutPrefix(line, "held ")
		if !ok {
			_ = cmd.Process.Kill()
			_ = cmd.Wait()
			t.Fatalf("worker process said %q", line)
		}
		n, _ := strconv.Atoi(v)
		held[n] = true
	}
	// Let the child's Serve extend its deliveries past the ack wait once, so
	// that what brings them back below is its death, not a missed Extend.
	<-time.After(2 * killedAckWait)
	if err := cmd.Process.Kill(); err != nil { // SIGKILL
		t.Fatalf("Kill() = %v", err)
	}
	_ = cmd.Wait()
	if len(held) != 3 {
		t.Fatalf("the worker process held %d items; want 3", len(held))
	}

	var mu sync.Mutex
	attempts := map[int]int{}
	attemptNo := map[int]int{}
	sctx, stop := context.WithCancel(ctx)
	served := make(chan error, 1)
	go func() {
		served <- jsqueue.Serve(sctx, q, 2, func(ctx context.Context, v int) error {
			mu.Lock()
			defer mu.Unlock()
			attempts[v]++
			attemptNo[v] = jsqueue.Attempt(ctx)
			return nil
		})
	}()
	if err := q.Join(ctx); err != nil {
		t.Fatalf("Join() = %v", err)
	}
	stop()
	<-served
	if len(attempts) != 10 {
		t.Fatalf("items done = %d; want 10", len(attempts))
	}
	for v := range held {
		if attempts[v] != 1 || attemptNo[v] != 2 {
			t.Fatalf("item %d held by the killed worker done %d times, at attempt %d; want once, at attempt 2", v, attempts[v], attemptNo[v])
		}
	}
}

func TestCloseWakesEveryGetter(t *testing.T) {
	s := startServer(t)
	_, js1 := connect(t, s)
	_, js2 := connect(t, s)
	ctx := context.Background()
	q1 := newQueue[int](t, js1, "wakeall")
	q2 := newQueue[int](t, js2, "wakeall")
	gctx, cancel := context.WithCancel(ctx)
	defer cancel()
	errs := make(chan error, 3)
	for range 3 {
		go func() {
			_, err := q2.Get(gctx)
			errs <- err
		}()
	}
	if err := q1.Close(ctx); err != nil {
		t.Fatalf("Close() = %v", err)
	}
	// Well under the 5s a pull request lasts: only the close notice can
	// end these Gets in time.
	timeout := time.After(2 * time.Second)
	for i := range 3 {
		select {
		case err := <-errs:
			if !errors.Is(err, queue.ErrClosed) {
				t.Fatalf("a Get blocked on the handle = %v; want ErrClosed", err)
			}
		case <-timeout:
			cancel()
			for range 3 - i {
				<-errs
			}
			t.Fatalf("%d of 3 Gets blocked on the handle were not woken by Close", 3-i)
		}
	}
}

func TestCancelledGetHandsNothingOut(t *testing.T) {
	s := startServer(t)
	_, js := connect(t, s)
	q := newQueue[string](t, js, "cancelwins")
	if err := q.Put(context.Background(), "x"); err != nil {
		t.Fatalf("Put() = %v", err)
	}
	t.Run("an item that arrives as ctx ends goes back, and the cancellation wins", func(t *testing.T) {
		cause := errors.New("caller left")
		ctx, cancel := context.WithCancelCause(context.Background())
		restore := jsqueue.SetReceivedHook(func() { cancel(cause) })
		d, err := q.Get(ctx)
		restore()
		if d != nil || !errors.Is(err, cause) {
			t.Fatalf("Get() = %v, %v; want nil, the ctx's cause", d, err)
		}
		d, err = q.Get(context.Background())
		if err != nil || d.Value != "x" {
			t.Fatalf("Get() after = %v, %v; want the item handed back", d, err)
		}
		if err := d.Done(); err != nil {
			t.Fatalf("Done() = %v", err)
		}
	})
}
