package queue_test

import (
	"slices"
	"strings"
	"testing"

	"github.com/async-patterns/async/internal/observetest"
	"github.com/async-patterns/async/observe"
	"github.com/async-patterns/async/queue"
)

func TestObserve(t *testing.T) {
	t.Run("drops and closes are reported", func(t *testing.T) {
		rec := &observetest.Recorder{}
		newest := queue.New[int](2, queue.WithName("in"), queue.WithObserver(rec), queue.WithOverflow(queue.DropNewest))
		oldest := queue.New[int](1, queue.WithName("out"), queue.WithObserver(rec), queue.WithOverflow(queue.DropOldest))
		for i := range 3 {
			newest.TryPut(i)
			oldest.TryPut(i)
		}
		newest.Close()
		newest.Close() // once
		if rest := oldest.CloseNow(); len(rest) != 1 {
			t.Fatalf("CloseNow() = %v; want one item", rest)
		}
		oldest.CloseNow() // nothing left, already closed: no event
		got := observetest.Briefs(rec.Events())
		want := []string{
			"queue.drop outcome=cancelled source=queue name=out depth=1", // put 1: out is full
			"queue.drop outcome=rejected source=queue name=in depth=2",   // put 2: in is full
			"queue.drop outcome=cancelled source=queue name=out depth=1",
			"queue.close outcome=ok source=queue name=in depth=2",
			"queue.close outcome=cancelled source=queue name=out depth=1",
		}
		if !slices.Equal(got, want) {
			t.Errorf("events:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
		}
	})
	t.Run("the queue is listed with its depth and capacity, and leaves at Close", func(t *testing.T) {
		q := queue.New[string](4, queue.WithName("listed-q"))
		q.TryPut("a")
		q.TryPut("b")
		var o observe.Object
		for x := range observe.Objects() {
			if x.Name == "listed-q" {
				o = x
			}
		}
		if o.Kind != "queue" || o.Gauges.Depth != 2 || o.Gauges.Capacity != 4 {
			t.Errorf("Object = %+v; want kind queue, depth 2, capacity 4", o)
		}
		q.Close()
		for x := range observe.Objects() {
			if x.ID == o.ID {
				t.Error("the queue is still listed after Close")
			}
		}
	})
	t.Run("a nil observer panics naming the option", func(t *testing.T) {
		defer func() {
			if r, _ := recover().(string); r != "queue: nil Observer passed to WithObserver" {
				t.Errorf("panic = %q", r)
			}
		}()
		queue.WithObserver(nil)
	})
}
