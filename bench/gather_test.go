package bench

import (
	"context"
	"sync"
	"testing"

	"github.com/alitto/pond/v2"
	"github.com/sourcegraph/conc/pool"
	"golang.org/x/sync/errgroup"

	"github.com/async-patterns/async/gather"
)

// gatherFns is the number of functions one gather.All op runs.
const gatherFns = 100

// BenchmarkGather runs gatherFns functions that return at once and collects
// their values in a new slice, stopping at the first error; it reports
// ns/item, one item being one function. The floor is a go statement per
// function with a sync.WaitGroup writing each value to its slot; the peers
// are errgroup.WithContext writing slots, conc's result pool with a ctx and
// cancel-on-error (its results come back unordered), and a pond result group
// on an unbounded pond pool (ordered).
func BenchmarkGather(b *testing.B) {
	ctx := context.Background()
	b.Run("all", func(b *testing.B) {
		b.Run("goWaitGroup", func(b *testing.B) {
			fns := ctxValueTasks(gatherFns)
			b.ReportAllocs()
			for b.Loop() {
				out := make([]int, len(fns))
				var (
					wg       sync.WaitGroup
					mu       sync.Mutex
					firstErr error
				)
				for i, fn := range fns {
					wg.Add(1)
					go func() {
						defer wg.Done()
						v, err := fn(ctx)
						if err != nil {
							mu.Lock()
							if firstErr == nil {
								firstErr = err
							}
							mu.Unlock()
							return
						}
						out[i] = v
					}()
				}
				wg.Wait()
				if firstErr != nil {
					b.Fatal(firstErr)
				}
				sinkInt += out[len(out)-1]
			}
			perItem(b, gatherFns)
		})
		b.Run("errgroup", func(b *testing.B) {
			fns := ctxValueTasks(gatherFns)
			b.ReportAllocs()
			for b.Loop() {
				out := make([]int, len(fns))
				g, gctx := errgroup.WithContext(ctx)
				for i, fn := range fns {
					g.Go(func() error {
						v, err := fn(gctx)
						out[i] = v
						return err
					})
				}
				if err := g.Wait(); err != nil {
					b.Fatal(err)
				}
				sinkInt += out[len(out)-1]
			}
			perItem(b, gatherFns)
		})
		b.Run("concPool", func(b *testing.B) {
			fns := ctxValueTasks(gatherFns)
			b.ReportAllocs()
			for b.Loop() {
				p := pool.NewWithResults[int]().WithContext(ctx).WithCancelOnError()
				for _, fn := range fns {
					p.Go(fn)
				}
				out, err := p.Wait()
				if err != nil {
					b.Fatal(err)
				}
				sinkInt += out[len(out)-1]
			}
			perItem(b, gatherFns)
		})
		b.Run("pond", func(b *testing.B) {
			fns := valueTasks(gatherFns)
			p := pond.NewResultPool[int](0)
			defer p.StopAndWait()
			b.ReportAllocs()
			for b.Loop() {
				out, err := p.NewGroupContext(ctx).SubmitErr(fns...).Wait()
				if err != nil {
					b.Fatal(err)
				}
				sinkInt += out[len(out)-1]
			}
			perItem(b, gatherFns)
		})
		b.Run("ours", func(b *testing.B) {
			fns := ctxValueTasks(gatherFns)
			b.ReportAllocs()
			for b.Loop() {
				out, err := gather.All(ctx, fns...)
				if err != nil {
					b.Fatal(err)
				}
				sinkInt += out[len(out)-1]
			}
			perItem(b, gatherFns)
		})
	})
}
