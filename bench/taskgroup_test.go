package bench

import (
	"context"
	"sync"
	"testing"

	"github.com/alitto/pond/v2"
	"github.com/sourcegraph/conc"
	"github.com/sourcegraph/conc/pool"
	"golang.org/x/sync/errgroup"

	"github.com/async-patterns/async/taskgroup"
)

// groupTasks is the number of tiny tasks one op starts and waits for.
const groupTasks = 1000

// BenchmarkTaskgroup starts groupTasks tiny tasks, with no limit, and waits
// for them all; it reports ns/item, one item being one task. The floor is a go
// statement per task with a sync.WaitGroup (wg.Go); the peers are errgroup
// (WithContext, since a taskgroup hands its tasks a ctx), conc's error pool
// and WaitGroup, and a pond task group on pond's default (unbounded) pool.
//
// The task functions are built before the timer starts, one per task, so the
// allocations counted are the library's own, not the caller's closures.
func BenchmarkTaskgroup(b *testing.B) {
	ctx := context.Background()
	b.Run("go-wait", func(b *testing.B) {
		b.Run("goWaitGroup", func(b *testing.B) {
			fns := plainTasks(groupTasks)
			b.ReportAllocs()
			for b.Loop() {
				var wg sync.WaitGroup
				for _, fn := range fns {
					wg.Go(fn)
				}
				wg.Wait()
			}
			perItem(b, groupTasks)
		})
		b.Run("errgroup", func(b *testing.B) {
			fns := errTasks(groupTasks)
			b.ReportAllocs()
			for b.Loop() {
				g, _ := errgroup.WithContext(ctx)
				for _, fn := range fns {
					g.Go(fn)
				}
				if err := g.Wait(); err != nil {
					b.Fatal(err)
				}
			}
			perItem(b, groupTasks)
		})
		b.Run("concPool", func(b *testing.B) {
			fns := errTasks(groupTasks)
			b.ReportAllocs()
			for b.Loop() {
				p := pool.New().WithErrors()
				for _, fn := range fns {
					p.Go(fn)
				}
				if err := p.Wait(); err != nil {
					b.Fatal(err)
				}
			}
			perItem(b, groupTasks)
		})
		b.Run("concWaitGroup", func(b *testing.B) {
			fns := plainTasks(groupTasks)
			b.ReportAllocs()
			for b.Loop() {
				var wg conc.WaitGroup
				for _, fn := range fns {
					wg.Go(fn)
				}
				wg.Wait()
			}
			perItem(b, groupTasks)
		})
		b.Run("pond", func(b *testing.B) {
			fns := errTasks(groupTasks)
			b.ReportAllocs()
			for b.Loop() {
				g := pond.NewGroup()
				for _, fn := range fns {
					g.SubmitErr(fn)
				}
				if err := g.Wait(); err != nil {
					b.Fatal(err)
				}
			}
			perItem(b, groupTasks)
		})
		b.Run("ours", func(b *testing.B) {
			fns := ctxTasks(groupTasks)
			b.ReportAllocs()
			for b.Loop() {
				g := taskgroup.New(ctx)
				for _, fn := range fns {
					g.Go(fn)
				}
				if err := g.Wait(); err != nil {
					b.Fatal(err)
				}
			}
			perItem(b, groupTasks)
		})
	})
}

// plainTasks, errTasks and ctxTasks build n tiny tasks in the shape each
// contender takes; task i computes tiny(i).
func plainTasks(n int) []func() {
	fns := make([]func(), n)
	for i := range fns {
		fns[i] = func() { tiny(i) }
	}
	return fns
}

func errTasks(n int) []func() error {
	fns := make([]func() error, n)
	for i := range fns {
		fns[i] = func() error { tiny(i); return nil }
	}
	return fns
}

func ctxTasks(n int) []func(context.Context) error {
	fns := make([]func(context.Context) error, n)
	for i := range fns {
		fns[i] = func(context.Context) error { tiny(i); return nil }
	}
	return fns
}

// valueTasks and ctxValueTasks build n tiny tasks that return a value.
func valueTasks(n int) []func() (int, error) {
	fns := make([]func() (int, error), n)
	for i := range fns {
		fns[i] = func() (int, error) { return tiny(i), nil }
	}
	return fns
}

func ctxValueTasks(n int) []func(context.Context) (int, error) {
	fns := make([]func(context.Context) (int, error), n)
	for i := range fns {
		fns[i] = func(context.Context) (int, error) { return tiny(i), nil }
	}
	return fns
}
