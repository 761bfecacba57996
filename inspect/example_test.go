package inspect_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/async-patterns/async/executor"
	"github.com/async-patterns/async/inspect"
	"github.com/async-patterns/async/observe"
	"github.com/async-patterns/async/taskgroup"
)

// This example shows a snapshot of a group with a running task and an
// executor with one task running and one queued.
func ExampleSnapshot() {
	inspect.Track(true)
	defer inspect.Track(false)
	ctx := context.Background()

	release := make(chan struct{})
	running := make(chan struct{}, 2)
	g := taskgroup.New(ctx, taskgroup.WithName("crawler"))
	g.GoNamed("fetch", func(ctx context.Context) error { running <- struct{}{}; <-release; return nil })
	ex := executor.New(executor.WithWorkers(1), executor.WithName("parsers"))
	parse := executor.Submit(observe.WithTaskName(ctx, "parse"), ex, func(ctx context.Context) (int, error) {
		running <- struct{}{}
		<-release
		return 1, nil
	})
	index := executor.Submit(observe.WithTaskName(ctx, "index"), ex, func(ctx context.Context) (int, error) { return 2, nil })
	<-running
	<-running

	for depth, n := range inspect.Snapshot().All() {
		if depth == 0 && n.Name != "crawler" && n.Name != "parsers" {
			continue // the rest of the process
		}
		if depth > 0 && n.Kind != "task" {
			continue
		}
		line := fmt.Sprintf("%s%s %s %s", strings.Repeat("  ", depth), n.Kind, n.Label(), n.State)
		fmt.Println(strings.TrimRight(line, " "))
	}

	close(release)
	g.Wait()
	parse.Wait(ctx)
	index.Wait(ctx)
	ex.Shutdown(ctx)
	// Output:
	// taskgroup crawler
	//   task fetch running
	// executor parsers
	//   task parse running
	//   task index queued
}

// This example shows debug mode reporting a task that goes on running
// after its ctx was cancelled: the group's Wait would hang on it.
func ExampleSetDebug() {
	reports := make(chan *inspect.Problem, 1)
	observe.SetDefault(observe.ObserverFunc(func(ctx context.Context, e observe.Event) {
		var p *inspect.Problem
		if e.Kind == observe.Debug && errors.As(e.Err, &p) {
			reports <- p
		}
	}))
	defer observe.SetDefault(observe.Discard)
	inspect.SetDebug(true)
	defer inspect.SetDebug(false)
	inspect.SetStuckAfter(10 * time.Millisecond)
	defer inspect.SetStuckAfter(100 * time.Millisecond)

	g := taskgroup.New(context.Background())
	release := make(chan struct{})
	g.GoNamed("stubborn", func(ctx context.Context) error {
		<-release // never looks at ctx.Done()
		return nil
	})
	g.Cancel()

	p := <-reports
	fmt.Println(p.What+":", p.Name)
	fmt.Println("created in the example:", strings.Contains(p.Created, "ExampleSetDebug"))
	fmt.Println("goroutine stack:", strings.HasPrefix(p.Stack, "goroutine "))
	close(release)
	g.Wait()
	// Output:
	// task ignores cancellation: stubborn
	// created in the example: true
	// goroutine stack: true
}
