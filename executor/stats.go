package executor

import (
	"sync/atomic"

	"github.com/async-patterns/async/internal/task"
)

// Stats is a snapshot of an executor's work.
//
// Once every submitted task has resolved (after Shutdown has returned, for
// instance), Submitted = Completed + Failed + Cancelled + Rejected. Tasks
// started by [Map] count one per chunk.
type Stats struct {
	Workers int // worker goroutines that have not exited
	Running int // tasks accepted and not yet queued, nor resolved: running (on workers or inline), or being handed to the queue
	Queued  int // tasks waiting in the queue (a cancelled future counts until a worker skips it)

	Submitted uint64 // calls to Submit, TrySubmit and Go
	Completed uint64 // tasks that returned a nil error
	Failed    uint64 // tasks that returned an error of their own, or panicked
	Cancelled uint64 // tasks cancelled before they ran (their ctx ended while queued, Future.Cancel, ShutdownNow), or that returned their own cancellation
	Rejected  uint64 // submits refused: shut down, queue full, ctx ended, or bad input
}

// stats is [Executor.Stats].
func (ex *pool) stats() Stats {
	var s Stats
	// Queued first and the submits taken from the queue after it, so that
	// a task moving from one to the other is counted twice rather than
	// missed: Running errs high rather than low.
	s.Queued = ex.q.len()
	var taken uint64
	add := func(c *counters) {
		s.Completed += c.ended[task.Succeeded-firstFinal].Load()
		s.Failed += c.ended[task.Failed-firstFinal].Load()
		s.Cancelled += c.ended[task.Cancelled-firstFinal].Load()
		s.Rejected += c.rejected.Load()
		taken += c.taken.Load() // after the outcomes (see worker.flush)
	}
	add(&ex.shared)
	for _, w := range ex.workers {
		add(&w.counters)
	}
	s.Workers = int(ex.live.Load())
	s.Submitted = ex.submitted.Load() + taken + uint64(s.Queued)
	// Workers do not count the tasks they finish one by one; running is
	// what was submitted and is neither refused, queued nor finished.
	running := int64(s.Submitted) - int64(s.Completed+s.Failed+s.Cancelled+s.Rejected) - int64(s.Queued)
	s.Running = int(max(0, min(running, int64(s.Workers)+ex.inline.Load())))
	return s
}

// firstFinal is the first final state: the counts of tasks by outcome are
// indexed by state - firstFinal.
const firstFinal = task.Succeeded

// finals is how many final states there are.
const finals = int(task.Cancelled-firstFinal) + 1

// counters count tasks by outcome. Each worker publishes its tally to its
// own; the executor's shared set counts the rest, atomically as it goes.
type counters struct {
	taken    atomic.Uint64 // tasks taken from the queue: their submits (see [Executor.Stats])
	rejected atomic.Uint64
	ended    [finals]atomic.Uint64 // by final state; Cancelled includes tasks cancelled before they started
	_        [64]byte              // keep the next worker's counters off this cache line
}

// count records the final state of a task.
func (c *counters) count(st task.State) { c.ended[st-firstFinal].Add(1) }

// tally is a worker's own count of outcomes: plain fields, touched only by
// the worker's goroutine, published to its counters by [worker.flush].
type tally struct {
	taken uint64
	ended [finals]uint64
	tasks uint32 // handled since the last flush
}

func (t *tally) count(st task.State) { t.ended[st-firstFinal]++ }

// flush publishes the worker's tally.
func (w *worker) flush() {
	c, t := &w.counters, &w.tally
	t.tasks = 0
	// taken first: Stats, which reads it after the outcomes, never sees
	// the outcome of a task whose submit it does not see.
	if c.taken.Load() != t.taken {
		c.taken.Store(t.taken)
	}
	for i := range t.ended {
		if c.ended[i].Load() != t.ended[i] {
			c.ended[i].Store(t.ended[i])
		}
	}
}

// Stats returns a snapshot of the executor's counters. The fields are read
// one after another while work goes on, so they agree with each other
// exactly only when the executor is idle, and after Shutdown has returned.
//
// So that a task costs neither its submitter nor a worker an atomic
// operation, a queued task's submit is counted by the worker that takes it
// from the queue (until then it counts in Queued), and a worker keeps its
// counts to itself and publishes them when it takes its first task after
// publishing, before it waits for work, after every 32 tasks, and when it
// exits. A task's outcome may therefore show some time after its future
// resolved (a Stats call right after [Future.Wait] may not show it yet);
// while a worker streams through the queue, the tasks it finished but has
// not published count as Running (never more than the number of workers
// plus the tasks running inline) and the one it took last may show in
// neither Queued nor Submitted yet; and a submit blocked on a full queue
// counts once it is accepted or refused.
func (ex *Executor) Stats() Stats { return ex.pool.stats() }
