package executor

// Tests of the ring queue on its own, and of the executor's handling of a
// job that reaches the queue after the workers have exited (which no
// public API can arrange on purpose).

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"
)

// item makes a job that carries n: its ctx is a ctx holding n.
func item(n int) job {
	return job{fn: func(context.Context) error { return nil }, arg: numCtx{context.Background(), n}}
}

// bare returns an executor with a queue of the given size and no workers:
// the queue with both halves of the parking protocol, for the tests to
// play the workers and the submitters.
func bare(size int) *Executor {
	return &Executor{pool: &pool{q: newRing(size)}}
}

type numCtx struct {
	context.Context
	n int
}

func numOf(j job) int { return j.arg.(numCtx).n }

// checkRingModel runs ops against a ring of the given size and a slice: an
// op below 128 puts, the rest get. It returns an error at the first
// disagreement.
func checkRingModel(size int, ops []byte) error {
	r := newRing(size)
	var model []int
	next := 0
	for i, op := range ops {
		if op < 128 {
			ok := r.tryPut(item(next))
			if want := len(model) < size; ok != want {
				return fmt.Errorf("op %d: tryPut with %d of %d queued = %v; want %v", i, len(model), size, ok, want)
			}
			if ok {
				model = append(model, next)
				next++
			}
		} else {
			j, ok := r.tryGet()
			if want := len(model) > 0; ok != want {
				return fmt.Errorf("op %d: tryGet with %d queued = %v; want %v", i, len(model), ok, want)
			}
			if ok {
				if got := numOf(j); got != model[0] {
					return fmt.Errorf("op %d: tryGet = item %d; want %d (FIFO)", i, got, model[0])
				}
				model = model[1:]
			}
		}
		if r.len() != len(model) || r.empty() != (len(model) == 0) {
			return fmt.Errorf("op %d: len() = %d, empty() = %v; want %d", i, r.len(), r.empty(), len(model))
		}
	}
	return nil
}

func TestRingModel(t *testing.T) {
	// Sizes 1 and 2 are the edge cases of the sequence numbers; 3, 5 and 6
	// take the modulo path, 4 and 8 the mask.
	for _, size := range []int{1, 2, 3, 4, 5, 6, 8} {
		// Fill, empty, and go round the ring several times.
		var ops []byte
		for range 4 {
			for range size + 1 {
				ops = append(ops, 0)
			}
			for range size + 1 {
				ops = append(ops, 255)
			}
		}
		// Then alternate around a half-full ring.
		for i := range 10 * size {
			ops = append(ops, byte(i%3)*100)
		}
		if err := checkRingModel(size, ops); err != nil {
			t.Errorf("size %d: %v", size, err)
		}
	}
}

func FuzzRingModel(f *testing.F) {
	f.Add(uint8(1), []byte{0, 0, 255, 0, 255, 255})
	f.Add(uint8(3), []byte{0, 0, 0, 0, 255, 0, 255, 255, 255, 255, 0})
	f.Add(uint8(4), []byte{0, 200, 0, 0, 0, 0, 0, 200, 200})
	f.Fuzz(func(t *testing.T, size uint8, ops []byte) {
		if err := checkRingModel(int(size%9)+1, ops); err != nil {
			t.Fatal(err)
		}
	})
}

// consume takes jobs from ex's queue as a worker does, parking when it is
// empty, and hands each to handle, until handle reports false or stop is
// set and the queue is empty.
func consume(ex *Executor, stop *atomic.Bool, handle func(job) bool) {
	me := newParker()
	for {
		j, ok := ex.take()
		if !ok {
			if stop.Load() && ex.q.empty() {
				return
			}
			ex.idle.park(me, func() bool {
				j, ok = ex.take()
				return ok || stop.Load()
			})
			if !ok {
				continue
			}
		}
		if !handle(j) {
			return
		}
	}
}

// TestRingConcurrent puts numbered items from several producers (blocking
// puts, which wait for room) and takes them with several consumers (which
// park on empty, as workers do), over tiny rings so that both waits happen
// all the time. Every item must arrive exactly once, and each consumer
// must see each producer's items in the order they were put.
func TestRingConcurrent(t *testing.T) {
	const producers, consumers, perProducer = 3, 3, 3000
	for _, size := range []int{1, 2, 3, 16} {
		t.Run(fmt.Sprint("size ", size), func(t *testing.T) {
			ex := bare(size)
			var stop atomic.Bool
			seen := make([]atomic.Int32, producers*perProducer)
			var cwg sync.WaitGroup
			errs := make(chan error, consumers)
			for range consumers {
				cwg.Add(1)
				go func() {
					defer cwg.Done()
					last := make([]int, producers)
					for p := range last {
						last[p] = -1
					}
					consume(ex, &stop, func(j job) bool {
						n := numOf(j)
						seen[n].Add(1)
						p, k := n/perProducer, n%perProducer
						if k <= last[p] {
							errs <- fmt.Errorf("a consumer got item %d of producer %d after item %d", k, p, last[p])
							return false
						}
						last[p] = k
						return true
					})
				}()
			}
			var pwg sync.WaitGroup
			for p := range producers {
				pwg.Add(1)
				go func() {
					defer pwg.Done()
					for k := range perProducer {
						if err := ex.put(context.Background(), item(p*perProducer+k)); err != nil {
							errs <- err
							return
						}
					}
				}()
			}
			pwg.Wait()
			stop.Store(true)
			ex.idle.wakeAll()
			cwg.Wait()
			close(errs)
			for err := range errs {
				t.Fatal(err)
			}
			for n := range seen {
				if c := seen[n].Load(); c != 1 {
					t.Fatalf("item %d arrived %d times; want once", n, c)
				}
			}
			if ex.room.n.Load() != 0 || ex.idle.n.Load() != 0 || len(ex.room.waiters) != 0 || len(ex.idle.parked) != 0 {
				t.Errorf("after the run: %d putters, %d idle, %d waiters, %d parked; want none", ex.room.n.Load(), ex.idle.n.Load(), len(ex.room.waiters), len(ex.idle.parked))
			}
		})
	}
}

func TestRingWaitForRoom(t *testing.T) {
	t.Run("waiting putters get room in the order they began to wait", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			ex := bare(1)
			ex.send(item(0))
			done := make(chan int, 3)
			for n := 1; n <= 3; n++ {
				go func() {
					if err := ex.put(context.Background(), item(n)); err != nil {
						t.Error(err)
					}
					done <- n
				}()
				synctest.Wait() // n is waiting before n+1 starts
			}
			for want := 0; want <= 3; want++ {
				j, ok := ex.take()
				if !ok || numOf(j) != want {
					t.Fatalf("tryGet() = %v, %v; want item %d", j, ok, want)
				}
				synctest.Wait()
			}
			for want := 1; want <= 3; want++ {
				if got := <-done; got != want {
					t.Errorf("put of item %d returned before item %d's", got, want)
				}
			}
		})
	})

	t.Run("a put gives up when its ctx ends or the executor closes", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			ex := bare(1)
			ex.closing = make(chan struct{})
			ex.send(item(0))
			ctx, cancel := context.WithTimeoutCause(context.Background(), time.Second, errors.New("gave up"))
			defer cancel()
			if err := ex.put(ctx, item(1)); err == nil || err.Error() != "gave up" {
				t.Errorf("put with a ctx that ends = %v; want its cause", err)
			}
			time.AfterFunc(time.Second, func() { close(ex.closing) })
			if err := ex.put(context.Background(), item(2)); err != ErrClosed {
				t.Errorf("put when closing closes = %v; want ErrClosed", err)
			}
			if ex.q.len() != 1 || ex.room.n.Load() != 0 {
				t.Errorf("len() = %d, putters = %d; want 1, 0: nothing added, nobody left waiting", ex.q.len(), ex.room.n.Load())
			}
		})
	})

	t.Run("a waiter woken for room that gives up passes the wake-up on", func(t *testing.T) {
		ex := bare(1)
		ex.send(item(0))
		a, b := ex.room.wait(), ex.room.wait()
		ex.take() // frees the slot: wakes a, the first waiter
		select {
		case <-a.ready:
		default:
			t.Fatal("the first waiter was not woken by the get")
		}
		ex.room.stop(a) // a gives up without using the room
		select {
		case <-b.ready:
		default:
			t.Fatal("the second waiter was not woken when the first gave up its turn")
		}
		ex.room.stop(b)
		if ex.room.n.Load() != 0 || len(ex.room.waiters) != 0 {
			t.Errorf("putters = %d, waiters = %d; want 0", ex.room.n.Load(), len(ex.room.waiters))
		}
	})
}

// TestLateJob puts jobs on the queue of an executor whose workers have
// exited, as a submit that passed the closed check just before Shutdown
// and put its job just after the workers had exited would: the job must be
// cancelled (never run), its future resolved, and the Stats identity kept.
func TestLateJob(t *testing.T) {
	ex := New(WithWorkers(2))
	if err := ex.Shutdown(context.Background()); err != nil {
		t.Fatal(err)
	}
	ran := false
	f := new(Future[int])
	f.h.Init(context.Background(), ex, func(context.Context) (int, error) { ran = true; return 1, nil })
	if !ex.send(job{arg: runner(f)}) {
		t.Fatal("send failed on an empty queue")
	}
	if !ex.send(job{fn: func(context.Context) error { ran = true; return nil }, arg: context.Background()}) {
		t.Fatal("send failed on an empty queue")
	}

	if ran {
		t.Error("a job queued after the workers exited ran")
	}
	_, err := f.Wait(context.Background())
	if f.State() != Cancelled || !errors.Is(err, ErrClosed) || !errors.Is(err, context.Canceled) {
		t.Errorf("the late future: State() = %v, err = %v; want Cancelled with an error matching ErrClosed and context.Canceled", f.State(), err)
	}
	s := ex.Stats()
	if s.Submitted != 2 || s.Cancelled != 2 || s.Queued != 0 || s.Running != 0 {
		t.Errorf("Stats() = %+v; want 2 submitted, both cancelled", s)
	}
}

// TestRingParkWake drives the parking of workers hard: one producer puts
// batches of one to three jobs and waits for each batch to be done, so the
// two consumers park and are woken over and over. A lost or misdirected
// wake-up shows as a hang (the test's timeout).
func TestRingParkWake(t *testing.T) {
	const consumers = 2
	rounds := 200_000
	if testing.Short() {
		rounds = 20_000
	}
	ex := bare(4)
	var stop atomic.Bool
	var pending sync.WaitGroup
	var cwg sync.WaitGroup
	for range consumers {
		cwg.Add(1)
		go func() {
			defer cwg.Done()
			consume(ex, &stop, func(j job) bool { j.fn(j.arg.(context.Context)); return true })
		}()
	}
	done := func(context.Context) error { pending.Done(); return nil }
	for i := range rounds {
		n := 1 + i%3
		pending.Add(n)
		for range n {
			if !ex.send(job{fn: done, arg: context.Background()}) {
				t.Fatal("send failed on a queue with room")
			}
		}
		pending.Wait()
	}
	stop.Store(true)
	ex.idle.wakeAll()
	cwg.Wait()
}
