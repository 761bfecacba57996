// Package queue provides bounded, generic FIFO, LIFO and priority queues
// with the semantics of Python's asyncio.Queue, LifoQueue and PriorityQueue,
// at a cost close to a buffered channel's.
//
// Compared with a channel, a [Queue] adds what asyncio users expect:
// context-aware blocking ([Queue.Put], [Queue.Get]) with no select,
// non-blocking twins ([Queue.TryPut], [Queue.TryGet]), batches
// ([Queue.GetBatch]), a graceful [Queue.Close] that lets getters drain and
// never panics a late putter, an immediate [Queue.CloseNow] that hands back
// what was left, task accounting ([Queue.TaskDone], [Queue.Join]), and
// overflow policies ([WithOverflow], [WithOnDrop]).
//
// The contract:
//   - Nothing vanishes: every item put is received exactly once, dropped by
//     the overflow policy (and reported), or returned by CloseNow.
//   - Cancel-safe: a Put that returned an error did not enqueue its item; a
//     Get whose ctx ended removed nothing. A blocked putter or getter whose
//     ctx has ended is skipped when its turn comes, so an earlier
//     cancellation always wins; only a ctx ending at the very instant of
//     the hand-off may lose.
//   - Blocked putters and getters are served in FIFO order.
//   - A Put+Get pair allocates nothing and takes one lock each, O(1) for
//     FIFO and LIFO and O(log n) for a priority queue; BENCHMARKS.md has
//     the figures against a buffered channel.
//
// A minimal producer and consumer:
//
//	q := queue.New[string](16)
//	go func() {
//		defer q.Close()
//		for _, job := range jobs {
//			if err := q.Put(ctx, job); err != nil {
//				return
//			}
//		}
//	}()
//	for job := range q.All(ctx) {
//		handle(job)
//	}
package queue
