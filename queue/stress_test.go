package queue_test

import (
	"context"
	"errors"
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/async-patterns/async/queue"
)

// stressCtx returns, one time in four, a ctx that ends after a random few
// microseconds, so that waits are cancelled while items are handed over.
func stressCtx(r *rand.Rand) (context.Context, context.CancelFunc) {
	if r.IntN(4) != 0 {
		return context.Background(), func() {}
	}
	return context.WithTimeout(context.Background(), time.Duration(r.IntN(20))*time.Microsecond)
}

// TestStress moves tens of thousands of items through small queues with
// several producers and consumers whose calls time out at random, then
// checks that every item whose Put succeeded was received exactly once,
// dropped, or returned by CloseNow, and that no other item appeared.
func TestStress(t *testing.T) {
	const producers, consumers, perProducer = 4, 4, 5000
	type setup struct {
		name     string
		policy   queue.Overflow
		closeNow bool // end with CloseNow halfway instead of Close at the end
	}
	var setups []setup
	for _, p := range []queue.Overflow{queue.Block, queue.DropOldest, queue.DropNewest} {
		setups = append(setups, setup{"with " + p.String() + " and Close", p, false})
	}
	setups = append(setups, setup{"with Block and CloseNow halfway", queue.Block, true})

	for _, k := range kinds {
		for _, s := range setups {
			t.Run(k.name+" loses and duplicates nothing "+s.name, func(t *testing.T) {
				t.Parallel()
				const total = producers * perProducer
				var (
					putOK    [total]atomic.Bool
					seen     [total]atomic.Int32
					dropped  [total]atomic.Int32
					received atomic.Int64
				)
				q := k.make(8, queue.WithOverflow(s.policy), queue.WithOnDrop(func(v int) { dropped[v].Add(1) }))
				var rest []int
				var closeOnce sync.Once

				var prod sync.WaitGroup
				for p := range producers {
					prod.Go(func() {
						r := rand.New(rand.NewPCG(uint64(p), 1))
						for i := range perProducer {
							v := p*perProducer + i
							ctx, cancel := stressCtx(r)
							err := q.Put(ctx, v)
							cancel()
							switch {
							case err == nil:
								putOK[v].Store(true)
							case errors.Is(err, queue.ErrClosed), errors.Is(err, context.DeadlineExceeded):
							default:
								t.Errorf("Put(%d) = %v", v, err)
							}
							if s.closeNow && p == 0 && i == perProducer/2 {
								closeOnce.Do(func() { rest = q.CloseNow() })
							}
						}
					})
				}
				var cons sync.WaitGroup
				lastSeen := make([][producers]int, consumers) // FIFO: per producer, increasing
				for c := range consumers {
					cons.Go(func() {
						r := rand.New(rand.NewPCG(uint64(c), 2))
						for i := range lastSeen[c] {
							lastSeen[c][i] = -1
						}
						for {
							ctx, cancel := stressCtx(r)
							var vs []int
							var err error
							if r.IntN(8) == 0 {
								vs, err = q.GetBatch(ctx, 1+r.IntN(4))
							} else {
								var v int
								v, err = q.Get(ctx)
								vs = []int{v}
							}
							cancel()
							if errors.Is(err, queue.ErrClosed) {
								return
							}
							if err != nil {
								if !errors.Is(err, context.DeadlineExceeded) {
									t.Errorf("Get() = %v", err)
								}
								continue
							}
							for _, v := range vs {
								seen[v].Add(1)
								received.Add(1)
								if err := q.TaskDone(); err != nil {
									t.Errorf("TaskDone() = %v", err)
								}
								if k.name == "FIFO" && s.policy == queue.Block {
									p, i := v/perProducer, v%perProducer
									if i <= lastSeen[c][p] {
										t.Errorf("consumer %d got item %d of producer %d after item %d", c, i, p, lastSeen[c][p])
									}
									lastSeen[c][p] = i
								}
							}
						}
					})
				}
				prod.Wait()
				q.Close()
				cons.Wait()

				for _, v := range rest {
					seen[v].Add(1)
				}
				var nPut, nDropped int
				for v := range total {
					n := seen[v].Load() + dropped[v].Load()
					if putOK[v].Load() {
						nPut++
						if n != 1 {
							t.Errorf("item %d: received or discarded %d times; want exactly once", v, n)
						}
					} else if n != 0 {
						t.Errorf("item %d: Put failed, yet it was received or dropped %d times", v, n)
					}
					nDropped += int(dropped[v].Load())
				}
				if uint64(nDropped) != q.Dropped() {
					t.Errorf("Dropped() = %d; OnDrop saw %d", q.Dropped(), nDropped)
				}
				if err := q.Join(context.Background()); err != nil {
					t.Errorf("Join() = %v; want nil", err)
				}
				if err := q.TaskDone(); !errors.Is(err, queue.ErrTooManyTaskDone) {
					t.Errorf("extra TaskDone() = %v; want ErrTooManyTaskDone", err)
				}
				enough := total / 4
				if s.closeNow {
					enough = perProducer / 4 // producer 0 got halfway; the others may have lagged
				}
				if nPut < enough || received.Load() == 0 {
					t.Errorf("only %d of %d puts succeeded, %d received: the stress did too little", nPut, total, received.Load())
				}
			})
		}
	}
}
