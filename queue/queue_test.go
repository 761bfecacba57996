package queue_test

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/async-patterns/async/queue"
)

// kinds builds each kind of queue of ints, so that the common contract is
// checked on all three.
var kinds = []struct {
	name string
	make func(capacity int, opts ...queue.Option) *queue.Queue[int]
}{
	{"FIFO", queue.New[int]},
	{"LIFO", queue.NewLIFO[int]},
	{"Priority", func(c int, opts ...queue.Option) *queue.Queue[int] {
		return queue.NewPriority(c, intLess, opts...)
	}},
}

func mustPut(t *testing.T, q *queue.Queue[int], vs ...int) {
	t.Helper()
	for _, v := range vs {
		if err := q.TryPut(v); err != nil {
			t.Fatalf("TryPut(%d) = %v; want nil", v, err)
		}
	}
}

func drain(t *testing.T, q *queue.Queue[int]) []int {
	t.Helper()
	var got []int
	for {
		v, err := q.TryGet()
		if err != nil {
			return got
		}
		got = append(got, v)
	}
}

// wantPanic runs f and checks that it panics with a message that starts
// with "queue: " and contains every part.
func wantPanic(t *testing.T, f func(), parts ...string) {
	t.Helper()
	defer func() {
		t.Helper()
		r := recover()
		msg, _ := r.(string)
		if r == nil || !strings.HasPrefix(msg, "queue: ") {
			t.Fatalf("panic = %v; want a message starting with \"queue: \"", r)
		}
		for _, p := range parts {
			if !strings.Contains(msg, p) {
				t.Errorf("panic = %q; want it to mention %q", msg, p)
			}
		}
	}()
	f()
}

func TestBadInput(t *testing.T) {
	t.Run("a capacity below 1 panics naming capacity", func(t *testing.T) {
		for _, k := range kinds {
			for _, c := range []int{0, -1} {
				wantPanic(t, func() { k.make(c) }, "capacity", fmt.Sprint(c))
			}
		}
	})
	t.Run("a nil less panics naming less", func(t *testing.T) {
		wantPanic(t, func() { queue.NewPriority[int](1, nil) }, "less")
	})
	t.Run("an OnDrop of the wrong type panics at construction", func(t *testing.T) {
		wantPanic(t, func() { queue.New[int](1, queue.WithOnDrop(func(string) {})) },
			"WithOnDrop", "func(string)", "func(int)")
	})
	t.Run("a nil OnDrop panics", func(t *testing.T) {
		wantPanic(t, func() { queue.New[int](1, queue.WithOnDrop[int](nil)) }, "WithOnDrop")
	})
	t.Run("an unknown overflow policy panics", func(t *testing.T) {
		wantPanic(t, func() { queue.New[int](1, queue.WithOverflow(7)) }, "WithOverflow", "Overflow(7)")
	})
	t.Run("a nil option panics naming the constructor", func(t *testing.T) {
		wantPanic(t, func() { queue.New[int](1, nil) }, "queue: nil Option passed to New (opts[0])")
		wantPanic(t, func() { queue.NewLIFO[int](1, queue.WithOverflow(queue.Block), nil) }, "queue: nil Option passed to NewLIFO (opts[1])")
	})
	t.Run("a nil ctx panics naming the method, and changes nothing", func(t *testing.T) {
		q := queue.New[int](1)
		mustPut(t, q, 1)
		var nilCtx context.Context
		wantPanic(t, func() { q.Put(nilCtx, 2) }, "queue: nil ctx passed to Put")
		wantPanic(t, func() { q.Get(nilCtx) }, "queue: nil ctx passed to Get")
		wantPanic(t, func() { q.GetBatch(nilCtx, 1) }, "queue: nil ctx passed to GetBatch")
		wantPanic(t, func() { q.Join(nilCtx) }, "queue: nil ctx passed to Join")
		wantPanic(t, func() { q.All(nilCtx) }, "queue: nil ctx passed to All")
		if got := drain(t, q); !slices.Equal(got, []int{1}) {
			t.Errorf("queue holds %v; want [1]", got)
		}
	})
	t.Run("GetBatch with max below 1 returns an error naming max", func(t *testing.T) {
		q := queue.New[int](4)
		mustPut(t, q, 1)
		for _, m := range []int{0, -3} {
			vs, err := q.GetBatch(context.Background(), m)
			if err == nil || !strings.Contains(err.Error(), "max") || vs != nil {
				t.Errorf("GetBatch(ctx, %d) = %v, %v; want nil and an error naming max", m, vs, err)
			}
		}
		if n := q.Len(); n != 1 {
			t.Errorf("Len() = %d after bad GetBatch; want 1", n)
		}
	})
}

func TestOrder(t *testing.T) {
	t.Run("FIFO returns items in the order put", func(t *testing.T) {
		q := queue.New[int](100)
		mustPut(t, q, 3, 1, 4, 1, 5, 9, 2, 6)
		if got, want := drain(t, q), []int{3, 1, 4, 1, 5, 9, 2, 6}; !slices.Equal(got, want) {
			t.Errorf("Get order = %v; want %v", got, want)
		}
	})
	t.Run("LIFO returns the newest item first", func(t *testing.T) {
		q := queue.NewLIFO[int](100)
		mustPut(t, q, 3, 1, 4)
		v, _ := q.TryGet()
		mustPut(t, q, 5, 9)
		got := append([]int{v}, drain(t, q)...)
		if want := []int{4, 9, 5, 1, 3}; !slices.Equal(got, want) {
			t.Errorf("Get order = %v; want %v", got, want)
		}
	})
	t.Run("Priority returns the smallest first and equal priorities in FIFO order", func(t *testing.T) {
		type job struct {
			prio int
			name string
		}
		q := queue.NewPriority(100, func(a, b job) bool { return a.prio < b.prio })
		var want []job
		for i := range 40 {
			j := job{prio: (i * 7) % 5, name: fmt.Sprint("j", i)}
			if err := q.TryPut(j); err != nil {
				t.Fatal(err)
			}
			want = append(want, j)
		}
		slices.SortStableFunc(want, func(a, b job) int { return a.prio - b.prio })
		var got []job
		for range want {
			j, err := q.TryGet()
			if err != nil {
				t.Fatal(err)
			}
			got = append(got, j)
		}
		if !slices.Equal(got, want) {
			t.Errorf("Get order = %v; want %v", got, want)
		}
	})
	t.Run("a ring that grows keeps FIFO order", func(t *testing.T) {
		q := queue.New[int](1000)
		var want []int
		for i := range 500 {
			mustPut(t, q, i, i+1000)
			want = append(want, i, i+1000)
			if i%3 == 0 {
				v, _ := q.TryGet()
				if v != want[0] {
					t.Fatalf("TryGet() = %d; want %d", v, want[0])
				}
				want = want[1:]
			}
		}
		if got := drain(t, q); !slices.Equal(got, want) {
			t.Errorf("Get order = %v; want %v", got, want)
		}
	})
}

func TestTryPutTryGet(t *testing.T) {
	for _, k := range kinds {
		t.Run(k.name+" reports full, empty and closed", func(t *testing.T) {
			q := k.make(2)
			if _, err := q.TryGet(); !errors.Is(err, queue.ErrEmpty) {
				t.Errorf("TryGet() on empty = %v; want ErrEmpty", err)
			}
			mustPut(t, q, 1, 2)
			if err := q.TryPut(3); !errors.Is(err, queue.ErrFull) {
				t.Errorf("TryPut() on full = %v; want ErrFull", err)
			}
			if q.Len() != 2 || q.Cap() != 2 {
				t.Errorf("Len(), Cap() = %d, %d; want 2, 2", q.Len(), q.Cap())
			}
			q.Close()
			if err := q.TryPut(3); !errors.Is(err, queue.ErrClosed) {
				t.Errorf("TryPut() after Close = %v; want ErrClosed", err)
			}
			if got := drain(t, q); len(got) != 2 {
				t.Errorf("drained %v after Close; want 2 items", got)
			}
			if _, err := q.TryGet(); !errors.Is(err, queue.ErrClosed) {
				t.Errorf("TryGet() on closed and drained = %v; want ErrClosed", err)
			}
		})
	}
}

func TestClose(t *testing.T) {
	ctx := context.Background()
	t.Run("put after close returns ErrClosed and never panics", func(t *testing.T) {
		q := queue.New[int](1)
		q.Close()
		q.Close() // a second Close is harmless
		if err := q.Put(ctx, 1); !errors.Is(err, queue.ErrClosed) {
			t.Errorf("Put() after Close = %v; want ErrClosed", err)
		}
		if got := q.CloseNow(); got != nil {
			t.Errorf("CloseNow() = %v; want nil", got)
		}
	})
	t.Run("getters drain what is left, then get ErrClosed", func(t *testing.T) {
		q := queue.New[int](4)
		mustPut(t, q, 1, 2)
		q.Close()
		for _, want := range []int{1, 2} {
			if v, err := q.Get(ctx); v != want || err != nil {
				t.Errorf("Get() = %d, %v; want %d, nil", v, err, want)
			}
		}
		if _, err := q.Get(ctx); !errors.Is(err, queue.ErrClosed) {
			t.Errorf("Get() on drained = %v; want ErrClosed", err)
		}
		if _, err := q.GetBatch(ctx, 3); !errors.Is(err, queue.ErrClosed) {
			t.Errorf("GetBatch() on drained = %v; want ErrClosed", err)
		}
	})
	t.Run("Close wakes every blocked getter and putter", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			empty, full := queue.New[int](1), queue.New[int](1)
			mustPut(t, full, 0)
			errs := make(chan error, 6)
			for i := range 3 {
				go func() { _, err := empty.Get(ctx); errs <- err }()
				go func() { errs <- full.Put(ctx, i) }()
			}
			synctest.Wait()
			if len(errs) != 0 {
				t.Fatalf("%d calls returned before Close; want 0", len(errs))
			}
			empty.Close()
			full.Close()
			for range 6 {
				if err := <-errs; !errors.Is(err, queue.ErrClosed) {
					t.Errorf("blocked call returned %v; want ErrClosed", err)
				}
			}
			if got := drain(t, full); !slices.Equal(got, []int{0}) {
				t.Errorf("full queue holds %v after Close; want [0]: blocked puts must not enqueue", got)
			}
		})
	})
	t.Run("CloseNow returns the items left in Get order and wakes every waiter", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			for _, k := range kinds {
				full, empty := k.make(3), k.make(3)
				mustPut(t, full, 2, 3, 1)
				errs := make(chan error, 2)
				go func() { errs <- full.Put(ctx, 9) }()
				go func() { _, err := empty.Get(ctx); errs <- err }()
				synctest.Wait()
				rest := full.CloseNow()
				if got := empty.CloseNow(); got != nil {
					t.Errorf("%s: CloseNow() on empty = %v; want nil", k.name, got)
				}
				want := map[string][]int{"FIFO": {2, 3, 1}, "LIFO": {1, 3, 2}, "Priority": {1, 2, 3}}[k.name]
				if !slices.Equal(rest, want) {
					t.Errorf("%s: CloseNow() = %v; want %v", k.name, rest, want)
				}
				for range 2 {
					if err := <-errs; !errors.Is(err, queue.ErrClosed) {
						t.Errorf("%s: blocked call returned %v; want ErrClosed", k.name, err)
					}
				}
				if _, err := full.Get(ctx); !errors.Is(err, queue.ErrClosed) {
					t.Errorf("%s: Get() after CloseNow = %v; want ErrClosed", k.name, err)
				}
			}
		})
	})
	t.Run("CloseNow after Close discards what getters have not drained", func(t *testing.T) {
		q := queue.New[int](4)
		mustPut(t, q, 1, 2, 3)
		q.Close()
		if v, _ := q.TryGet(); v != 1 {
			t.Errorf("TryGet() = %d; want 1", v)
		}
		if got := q.CloseNow(); !slices.Equal(got, []int{2, 3}) {
			t.Errorf("CloseNow() = %v; want [2 3]", got)
		}
	})
}

func TestCancelSafety(t *testing.T) {
	cause := errors.New("caller gave up")
	t.Run("a Put whose ctx ends while waiting enqueues nothing", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			for _, k := range kinds {
				q := k.make(1)
				mustPut(t, q, 1)
				ctx, cancel := context.WithCancelCause(context.Background())
				errc := make(chan error)
				go func() { errc <- q.Put(ctx, 2) }()
				synctest.Wait()
				cancel(cause)
				if err := <-errc; !errors.Is(err, cause) {
					t.Errorf("%s: Put() = %v; want the ctx cause", k.name, err)
				}
				if got := drain(t, q); !slices.Equal(got, []int{1}) {
					t.Errorf("%s: queue holds %v; want [1]", k.name, got)
				}
			}
		})
	})
	t.Run("a Get whose ctx ends while waiting removes nothing", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			for _, k := range kinds {
				q := k.make(1)
				ctx, cancel := context.WithCancelCause(context.Background())
				errc := make(chan error)
				go func() { _, err := q.Get(ctx); errc <- err }()
				synctest.Wait()
				cancel(cause)
				if err := <-errc; !errors.Is(err, cause) {
					t.Errorf("%s: Get() = %v; want the ctx cause", k.name, err)
				}
				// The cancelled getter is gone: the next item stays in the queue.
				mustPut(t, q, 7)
				if got := drain(t, q); !slices.Equal(got, []int{7}) {
					t.Errorf("%s: queue holds %v; want [7]", k.name, got)
				}
			}
		})
	})
	t.Run("a cancelled getter in the middle keeps the others' order", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			q := queue.New[int](1)
			ctx, cancel := context.WithCancelCause(context.Background())
			got := make([]int, 3)
			var wg sync.WaitGroup
			for i := range 3 {
				gctx := context.Background()
				if i == 1 {
					gctx = ctx
				}
				wg.Go(func() { got[i], _ = q.Get(gctx) })
				synctest.Wait()
			}
			cancel(cause)
			synctest.Wait()
			mustPut(t, q, 10)
			synctest.Wait()
			mustPut(t, q, 20)
			wg.Wait()
			if want := []int{10, 0, 20}; !slices.Equal(got, want) {
				t.Errorf("getters got %v; want %v", got, want)
			}
		})
	})
	t.Run("a timeout is reported as DeadlineExceeded", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			q := queue.New[int](1)
			ctx, cancel := context.WithTimeout(context.Background(), time.Second)
			defer cancel()
			if _, err := q.Get(ctx); !errors.Is(err, context.DeadlineExceeded) {
				t.Errorf("Get() = %v; want DeadlineExceeded", err)
			}
			mustPut(t, q, 1)
			if err := q.Put(ctx, 2); !errors.Is(err, context.DeadlineExceeded) {
				t.Errorf("Put() = %v; want DeadlineExceeded", err)
			}
		})
	})
	t.Run("a done ctx does not stop a call that need not wait", func(t *testing.T) {
		ctx, cancel := context.WithCancel(context.Background())
		cancel()
		q := queue.New[int](1)
		if err := q.Put(ctx, 1); err != nil {
			t.Errorf("Put() with room = %v; want nil", err)
		}
		if err := q.Put(ctx, 2); !errors.Is(err, context.Canceled) {
			t.Errorf("Put() on full = %v; want Canceled", err)
		}
		if v, err := q.Get(ctx); v != 1 || err != nil {
			t.Errorf("Get() with an item = %d, %v; want 1, nil", v, err)
		}
		if _, err := q.Get(ctx); !errors.Is(err, context.Canceled) {
			t.Errorf("Get() on empty = %v; want Canceled", err)
		}
	})
}

func TestFIFOService(t *testing.T) {
	ctx := context.Background()
	for _, k := range kinds {
		t.Run(k.name+" serves blocked getters in the order they came", func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				q := k.make(1)
				const n = 5
				got := make([]int, n)
				var wg sync.WaitGroup
				for i := range n {
					wg.Go(func() { got[i], _ = q.Get(ctx) })
					synctest.Wait() // getter i is blocked before getter i+1 starts
				}
				for i := range n {
					if err := q.Put(ctx, 100+i); err != nil {
						t.Fatal(err)
					}
				}
				wg.Wait()
				if want := []int{100, 101, 102, 103, 104}; !slices.Equal(got, want) {
					t.Errorf("getters got %v; want %v", got, want)
				}
			})
		})
		t.Run(k.name+" serves blocked putters in the order they came", func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				q := k.make(1)
				mustPut(t, q, 0)
				const n = 5
				var wg sync.WaitGroup
				for i := range n {
					wg.Go(func() {
						if err := q.Put(ctx, 1+i); err != nil {
							t.Error(err)
						}
					})
					synctest.Wait()
				}
				var got []int
				for range n + 1 {
					v, err := q.Get(ctx)
					if err != nil {
						t.Fatal(err)
					}
					got = append(got, v)
				}
				wg.Wait()
				if want := []int{0, 1, 2, 3, 4, 5}; !slices.Equal(got, want) {
					t.Errorf("got %v; want %v", got, want)
				}
			})
		})
	}
	t.Run("a blocked putter keeps its turn against a TryPut", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			q := queue.New[int](1)
			mustPut(t, q, 1)
			go q.Put(ctx, 2)
			synctest.Wait()
			if v, _ := q.TryGet(); v != 1 {
				t.Errorf("TryGet() = %d; want 1", v)
			}
			if err := q.TryPut(3); !errors.Is(err, queue.ErrFull) {
				t.Errorf("TryPut() = %v; want ErrFull: the blocked putter took the slot", err)
			}
			if v, _ := q.TryGet(); v != 2 {
				t.Errorf("TryGet() = %d; want 2", v)
			}
		})
	})
}

func TestJoin(t *testing.T) {
	ctx := context.Background()
	t.Run("Join waits until every item is marked done", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			q := queue.New[int](4)
			if err := q.Join(ctx); err != nil {
				t.Errorf("Join() on a fresh queue = %v; want nil", err)
			}
			mustPut(t, q, 1, 2)
			joined := make(chan error, 2)
			go func() { joined <- q.Join(ctx) }()
			go func() { joined <- q.Join(ctx) }()
			drain(t, q)
			q.TaskDone()
			synctest.Wait()
			if len(joined) != 0 {
				t.Fatalf("Join returned with one item unfinished")
			}
			q.TaskDone()
			for range 2 {
				if err := <-joined; err != nil {
					t.Errorf("Join() = %v; want nil", err)
				}
			}
		})
	})
	t.Run("an extra TaskDone returns an error", func(t *testing.T) {
		q := queue.New[int](4)
		if err := q.TaskDone(); !errors.Is(err, queue.ErrTooManyTaskDone) {
			t.Errorf("TaskDone() on a fresh queue = %v; want ErrTooManyTaskDone", err)
		}
		mustPut(t, q, 1)
		drain(t, q)
		if err := q.TaskDone(); err != nil {
			t.Errorf("TaskDone() = %v; want nil", err)
		}
		if err := q.TaskDone(); !errors.Is(err, queue.ErrTooManyTaskDone) {
			t.Errorf("second TaskDone() = %v; want ErrTooManyTaskDone", err)
		}
		if err := q.Join(ctx); err != nil {
			t.Errorf("Join() = %v; want nil", err)
		}
	})
	t.Run("Join honours ctx", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			q := queue.New[int](4)
			mustPut(t, q, 1)
			ctx, cancel := context.WithTimeout(ctx, time.Minute)
			defer cancel()
			if err := q.Join(ctx); !errors.Is(err, context.DeadlineExceeded) {
				t.Errorf("Join() = %v; want DeadlineExceeded", err)
			}
		})
	})
	t.Run("dropped items count as done", func(t *testing.T) {
		for _, policy := range []queue.Overflow{queue.DropOldest, queue.DropNewest} {
			q := queue.New[int](2, queue.WithOverflow(policy))
			mustPut(t, q, 1, 2, 3, 4)
			for range drain(t, q) {
				if err := q.TaskDone(); err != nil {
					t.Fatalf("%v: TaskDone() = %v; want nil", policy, err)
				}
			}
			if err := q.TaskDone(); !errors.Is(err, queue.ErrTooManyTaskDone) {
				t.Errorf("%v: extra TaskDone() = %v; want ErrTooManyTaskDone", policy, err)
			}
			if err := q.Join(ctx); err != nil {
				t.Errorf("%v: Join() = %v; want nil", policy, err)
			}
		}
	})
	t.Run("CloseNow-discarded items count as done", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			q := queue.New[int](4)
			mustPut(t, q, 1, 2, 3)
			q.TryGet()
			joined := make(chan error)
			go func() { joined <- q.Join(ctx) }()
			synctest.Wait()
			q.CloseNow() // discards 2 and 3; item 1 is still being processed
			synctest.Wait()
			select {
			case err := <-joined:
				t.Fatalf("Join() = %v before the item got was done", err)
			default:
			}
			q.TaskDone()
			if err := <-joined; err != nil {
				t.Errorf("Join() = %v; want nil", err)
			}
		})
	})
}

func TestOverflow(t *testing.T) {
	ctx := context.Background()
	t.Run("DropOldest discards the item put earliest", func(t *testing.T) {
		want := map[string][]int{"FIFO": {4, 3}, "LIFO": {3, 4}, "Priority": {3, 4}}
		for _, k := range kinds {
			var dropped []int
			q := k.make(2, queue.WithOverflow(queue.DropOldest), queue.WithOnDrop(func(v int) { dropped = append(dropped, v) }))
			for _, v := range []int{2, 1, 4, 3} {
				if err := q.Put(ctx, v); err != nil {
					t.Fatalf("%s: Put(%d) = %v; want nil", k.name, v, err)
				}
			}
			if !slices.Equal(dropped, []int{2, 1}) || q.Dropped() != 2 {
				t.Errorf("%s: dropped %v, Dropped() = %d; want [2 1], 2", k.name, dropped, q.Dropped())
			}
			if got := drain(t, q); !slices.Equal(got, want[k.name]) {
				t.Errorf("%s: queue holds %v; want %v", k.name, got, want[k.name])
			}
		}
	})
	t.Run("DropNewest discards the incoming item", func(t *testing.T) {
		want := map[string][]int{"FIFO": {2, 1}, "LIFO": {1, 2}, "Priority": {1, 2}}
		for _, k := range kinds {
			var dropped []int
			q := k.make(2, queue.WithOverflow(queue.DropNewest), queue.WithOnDrop(func(v int) { dropped = append(dropped, v) }))
			for _, v := range []int{2, 1, 4, 3} {
				if err := q.TryPut(v); err != nil {
					t.Fatalf("%s: TryPut(%d) = %v; want nil", k.name, v, err)
				}
			}
			if !slices.Equal(dropped, []int{4, 3}) || q.Dropped() != 2 {
				t.Errorf("%s: dropped %v, Dropped() = %d; want [4 3], 2", k.name, dropped, q.Dropped())
			}
			if got := drain(t, q); !slices.Equal(got, want[k.name]) {
				t.Errorf("%s: queue holds %v; want %v", k.name, got, want[k.name])
			}
		}
	})
	t.Run("OnDrop may call back into the queue", func(t *testing.T) {
		var q *queue.Queue[int]
		var lens []int
		q = queue.New[int](1, queue.WithOverflow(queue.DropOldest), queue.WithOnDrop(func(int) {
			lens = append(lens, q.Len(), int(q.Dropped()))
		}))
		mustPut(t, q, 1, 2)
		if !slices.Equal(lens, []int{1, 1}) {
			t.Errorf("OnDrop saw Len, Dropped = %v; want [1 1]", lens)
		}
	})
	t.Run("a panic in OnDrop comes back as a PanicError", func(t *testing.T) {
		q := queue.New[int](1, queue.WithOverflow(queue.DropNewest), queue.WithOnDrop(func(int) { panic("boom") }))
		mustPut(t, q, 1)
		err := q.TryPut(2)
		var pe *queue.PanicError
		if !errors.As(err, &pe) || pe.Value != "boom" {
			t.Fatalf("TryPut() = %v; want a *PanicError with value boom", err)
		}
		if q.Dropped() != 1 || q.Len() != 1 {
			t.Errorf("Dropped(), Len() = %d, %d; want 1, 1", q.Dropped(), q.Len())
		}
	})
	t.Run("a drop policy hands items to waiting getters first", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			q := queue.New[int](1, queue.WithOverflow(queue.DropNewest))
			got := make(chan int)
			go func() { v, _ := q.Get(ctx); got <- v }()
			synctest.Wait()
			mustPut(t, q, 1, 2, 3)
			if v := <-got; v != 1 {
				t.Errorf("Get() = %d; want 1", v)
			}
			if q.Dropped() != 1 {
				t.Errorf("Dropped() = %d; want 1", q.Dropped())
			}
		})
	})
	t.Run("policies have names", func(t *testing.T) {
		for p, want := range map[queue.Overflow]string{queue.Block: "block", queue.DropOldest: "drop-oldest", queue.DropNewest: "drop-newest"} {
			if p.String() != want {
				t.Errorf("String() = %q; want %q", p.String(), want)
			}
		}
	})
}

func TestGetBatch(t *testing.T) {
	ctx := context.Background()
	t.Run("GetBatch returns up to max items in Get order", func(t *testing.T) {
		q := queue.New[int](8)
		mustPut(t, q, 1, 2, 3, 4, 5)
		if vs, err := q.GetBatch(ctx, 3); !slices.Equal(vs, []int{1, 2, 3}) || err != nil {
			t.Errorf("GetBatch(3) = %v, %v; want [1 2 3], nil", vs, err)
		}
		if vs, err := q.GetBatch(ctx, 10); !slices.Equal(vs, []int{4, 5}) || err != nil {
			t.Errorf("GetBatch(10) = %v, %v; want [4 5], nil", vs, err)
		}
	})
	t.Run("GetBatch waits for the first item and moves blocked putters in", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			q := queue.New[int](2)
			got := make(chan []int)
			go func() { vs, _ := q.GetBatch(ctx, 10); got <- vs }()
			synctest.Wait()
			mustPut(t, q, 1)
			if vs := <-got; !slices.Equal(vs, []int{1}) {
				t.Errorf("GetBatch() = %v; want [1]", vs)
			}
			mustPut(t, q, 2, 3)
			var wg sync.WaitGroup
			for i := range 3 {
				wg.Go(func() { q.Put(ctx, 4+i) })
				synctest.Wait()
			}
			vs, err := q.GetBatch(ctx, 4)
			wg.Wait()
			if !slices.Equal(vs, []int{2, 3, 4, 5}) || err != nil {
				t.Errorf("GetBatch(4) = %v, %v; want [2 3 4 5], nil", vs, err)
			}
			if got := drain(t, q); !slices.Equal(got, []int{6}) {
				t.Errorf("queue holds %v; want [6]", got)
			}
		})
	})
	t.Run("GetBatch whose ctx ends removes nothing", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			q := queue.New[int](2)
			ctx, cancel := context.WithTimeout(ctx, time.Second)
			defer cancel()
			if vs, err := q.GetBatch(ctx, 2); vs != nil || !errors.Is(err, context.DeadlineExceeded) {
				t.Errorf("GetBatch() = %v, %v; want nil, DeadlineExceeded", vs, err)
			}
		})
	})
}

func TestAll(t *testing.T) {
	t.Run("All yields until the queue is closed and drained", func(t *testing.T) {
		q := queue.New[int](4)
		mustPut(t, q, 1, 2, 3)
		q.Close()
		var got []int
		for v := range q.All(context.Background()) {
			got = append(got, v)
		}
		if !slices.Equal(got, []int{1, 2, 3}) {
			t.Errorf("All() yielded %v; want [1 2 3]", got)
		}
	})
	t.Run("breaking out of All removes nothing more", func(t *testing.T) {
		q := queue.New[int](4)
		mustPut(t, q, 1, 2, 3)
		for v := range q.All(context.Background()) {
			if v == 2 {
				break
			}
		}
		if got := drain(t, q); !slices.Equal(got, []int{3}) {
			t.Errorf("queue holds %v; want [3]", got)
		}
	})
	t.Run("All ends when ctx ends", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			q := queue.New[int](4)
			mustPut(t, q, 1)
			ctx, cancel := context.WithTimeout(context.Background(), time.Second)
			defer cancel()
			n := 0
			for range q.All(ctx) {
				n++
			}
			if n != 1 || ctx.Err() == nil {
				t.Errorf("All() yielded %d items, ctx.Err() = %v; want 1 and an error", n, ctx.Err())
			}
		})
	})
}

func TestPanickingLess(t *testing.T) {
	t.Run("a panic in less leaves the queue unlocked and loses nothing", func(t *testing.T) {
		boom := false
		q := queue.NewPriority(8, func(a, b int) bool {
			if boom {
				panic("less")
			}
			return a < b
		})
		mustPut(t, q, 3, 1, 2)
		boom = true
		func() {
			defer func() { recover() }()
			q.TryGet()
		}()
		boom = false
		if n := q.Len(); n != 3 {
			t.Errorf("Len() = %d; want 3", n)
		}
		got := drain(t, q)
		slices.Sort(got)
		if !slices.Equal(got, []int{1, 2, 3}) {
			t.Errorf("queue holds %v; want 1, 2 and 3 in some order", got)
		}
	})
}

func TestNoAllocations(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	for _, k := range kinds {
		q := k.make(16)
		n := testing.AllocsPerRun(1000, func() {
			q.Put(ctx, 1)
			q.Get(ctx)
		})
		if n != 0 {
			t.Errorf("%s: Put+Get allocates %v times; want 0", k.name, n)
		}
	}
}
