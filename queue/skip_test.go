package queue_test

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"testing"
	"testing/synctest"

	"github.com/async-patterns/async/queue"
)

// TestCancelledWaiterIsSkipped checks the rule that an earlier cancellation
// wins: a putter or getter whose ctx ended before its turn came is skipped,
// even when it has not woken up yet.
func TestCancelledWaiterIsSkipped(t *testing.T) {
	cause := errors.New("caller gave up")
	for _, k := range kinds {
		t.Run(k.name+": room made after a putter's ctx ended goes to nobody", func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				q := k.make(1)
				mustPut(t, q, 1)
				ctx, cancel := context.WithCancelCause(context.Background())
				errc := make(chan error, 1)
				go func() { errc <- q.Put(ctx, 2) }()
				synctest.Wait() // the putter is blocked
				cancel(cause)
				// Make room before the putter has had a chance to wake.
				if v, err := q.TryGet(); v != 1 || err != nil {
					t.Fatalf("TryGet() = %v, %v; want 1, nil", v, err)
				}
				if err := <-errc; !errors.Is(err, cause) {
					t.Errorf("Put() = %v; want the ctx cause", err)
				}
				if n := q.Len(); n != 0 {
					t.Errorf("Len() = %d; want 0: a cancelled Put enqueued", n)
				}
			})
		})
		t.Run(k.name+": an item put after a getter's ctx ended stays in the queue", func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				q := k.make(1)
				ctx, cancel := context.WithCancelCause(context.Background())
				errc := make(chan error, 1)
				go func() { _, err := q.Get(ctx); errc <- err }()
				synctest.Wait()
				cancel(cause)
				mustPut(t, q, 7)
				if err := <-errc; !errors.Is(err, cause) {
					t.Errorf("Get() = %v; want the ctx cause", err)
				}
				if got := drain(t, q); !slices.Equal(got, []int{7}) {
					t.Errorf("queue holds %v; want [7]: a cancelled Get removed it", got)
				}
			})
		})
	}
}

// TestWaitersModel runs random sequences of blocking and non-blocking calls,
// with cancellations that the waiters have not yet seen, against a model:
// a slice of items and two FIFO lists of waiters, where a waiter whose ctx
// ended is dropped from its list when its turn comes.
func TestWaitersModel(t *testing.T) {
	for _, k := range kinds {
		for seed := range uint64(40) {
			t.Run(fmt.Sprintf("%s seed %d", k.name, seed), func(t *testing.T) {
				synctest.Test(t, func(t *testing.T) { runWaitersModel(t, k.make, k.name, seed) })
			})
		}
	}
}

// modelWaiter is a blocked Put or Get: the model's view and what it did.
type modelWaiter struct {
	put       bool
	v         int // the item to put
	cancel    context.CancelFunc
	cancelled bool // in the model: its ctx ended while it waited
	done      chan struct{}
	got       int // what the Get returned
	err       error
}

func runWaitersModel(t *testing.T, mk func(int, ...queue.Option) *queue.Queue[int], kind string, seed uint64) {
	rng := rand.New(rand.NewPCG(seed, 13))
	capacity := 1 + rng.IntN(3)
	q := mk(capacity)
	var (
		items   []int // the model's queue, in insertion order
		putters []*modelWaiter
		getters []*modelWaiter
		all     []*modelWaiter
		next    = 1
	)
	// take removes the item the kind returns next from the model.
	take := func() int {
		i := 0
		switch kind {
		case "LIFO":
			i = len(items) - 1
		case "Priority":
			i = slices.Index(items, slices.Min(items))
		}
		v := items[i]
		items = slices.Delete(items, i, i+1)
		return v
	}
	// serve pops the first waiter of l whose ctx has not ended; the ones
	// before it are resolved as cancelled.
	serve := func(l *[]*modelWaiter) *modelWaiter {
		for len(*l) > 0 {
			w := (*l)[0]
			*l = (*l)[1:]
			if !w.cancelled {
				return w
			}
		}
		return nil
	}
	// expect is what each waiter must have returned once it has returned.
	expectGot := map[*modelWaiter]int{}
	for step := range 60 {
		switch op := rng.IntN(6); {
		case op == 0 && len(items) == capacity: // a Put that blocks
			w := &modelWaiter{put: true, v: next, done: make(chan struct{})}
			next++
			ctx, cancel := context.WithCancel(context.Background())
			w.cancel = cancel
			go func() { w.err = q.Put(ctx, w.v); close(w.done) }()
			synctest.Wait()
			putters = append(putters, w)
			all = append(all, w)
		case op == 0 && len(items) == 0: // a Get that blocks
			w := &modelWaiter{done: make(chan struct{})}
			ctx, cancel := context.WithCancel(context.Background())
			w.cancel = cancel
			go func() { w.got, w.err = q.Get(ctx); close(w.done) }()
			synctest.Wait()
			getters = append(getters, w)
			all = append(all, w)
		case op == 1: // cancel a waiter, and do not let it run yet
			var live []*modelWaiter
			for _, w := range slices.Concat(putters, getters) {
				if !w.cancelled {
					live = append(live, w)
				}
			}
			if len(live) == 0 {
				continue
			}
			w := live[rng.IntN(len(live))]
			w.cancelled = true
			w.cancel()
		case op <= 3: // TryPut
			v := next
			next++
			err := q.TryPut(v)
			var want error
			if g := serve(&getters); g != nil {
				expectGot[g] = v
			} else if len(items) < capacity {
				items = append(items, v)
			} else {
				want = queue.ErrFull
			}
			if err != want {
				t.Fatalf("step %d: TryPut(%d) = %v; want %v", step, v, err, want)
			}
		default: // TryGet
			v, err := q.TryGet()
			if len(items) == 0 {
				if err != queue.ErrEmpty {
					t.Fatalf("step %d: TryGet() = %v, %v; want ErrEmpty", step, v, err)
				}
				continue
			}
			want := take()
			if p := serve(&putters); p != nil {
				items = append(items, p.v)
				expectGot[p] = 0
			}
			if v != want || err != nil {
				t.Fatalf("step %d: TryGet() = %v, %v; want %v, nil", step, v, err, want)
			}
		}
	}
	// Settle: let the cancelled waiters see their ctx, then end the rest.
	synctest.Wait()
	rest := q.CloseNow()
	if !slices.Equal(rest, itemsInGetOrder(items, kind)) {
		t.Errorf("CloseNow() = %v; want %v", rest, itemsInGetOrder(items, kind))
	}
	for i, w := range all {
		<-w.done
		got, served := expectGot[w]
		switch {
		case served && (w.err != nil || (!w.put && w.got != got)):
			t.Errorf("waiter %d (put=%v): returned %v, %v; want it served with %v", i, w.put, w.got, w.err, got)
		case !served && w.cancelled && !errors.Is(w.err, context.Canceled):
			t.Errorf("waiter %d (put=%v): returned %v, %v; want Canceled: its ctx ended before its turn", i, w.put, w.got, w.err)
		case !served && !w.cancelled && w.err != queue.ErrClosed:
			t.Errorf("waiter %d (put=%v): returned %v, %v; want ErrClosed from CloseNow", i, w.put, w.got, w.err)
		}
		w.cancel()
	}
}

// itemsInGetOrder returns the model's items in the order Get returns them.
func itemsInGetOrder(items []int, kind string) []int {
	out := slices.Clone(items)
	switch kind {
	case "LIFO":
		slices.Reverse(out)
	case "Priority":
		slices.Sort(out)
	}
	return out
}
