package inspect

import (
	"context"
	"os"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/async-patterns/async/internal/task"
	"github.com/async-patterns/async/observe"
)

// SetDebug turns debug mode on or off for the whole process, as the
// environment variable ASYNCDEBUG=1 does when the program starts (it is
// read when package inspect is initialised). In debug mode the package
// reports, through the process's observer (observe.SetDefault) or, with
// none set, to log/slog's default logger at Warn, each with the stack
// that made the object and, where it applies, the stack of the goroutine
// at fault:
//
//   - a task still running [SetStuckAfter] (100 ms by default) after its
//     ctx was cancelled: it ignores cancellation, so the Wait or Shutdown
//     that owns it will hang ([ProblemStuck]);
//   - a taskgroup.Task or executor.Future that failed, collected while
//     nobody had read its error ([ProblemUnread]);
//   - a taskgroup.Group collected without Wait, an executor.Executor
//     without Shutdown or ShutdownNow (debug mode or not, it is then
//     closed as Shutdown closes it: its workers run what is queued and
//     exit), a memo.Cache without Close ([ProblemNotClosed]);
//   - a task running longer than [SetSlowAfter] (off by default)
//     ([ProblemSlow]).
//
// Each is reported once per task or object. Debug mode tracks tasks as
// [Track] does (it installs the same hook), and records a stack at every
// spawn and for every object and handle: it is for development, not
// production (see the package doc for its cost). It takes effect for
// tasks and objects made after it returns.
func SetDebug(on bool) {
	state.mu.Lock()
	defer state.mu.Unlock()
	state.debug.Store(on)
	installLocked()
	if on {
		task.SetDebug(&task.Debug{Unread: reportUnread})
	} else {
		task.SetDebug(nil)
	}
}

// Debugging reports whether debug mode is on.
func Debugging() bool { return state.debug.Load() }

func init() {
	if v := os.Getenv("ASYNCDEBUG"); v != "" && v != "0" {
		SetDebug(true)
	}
}

var (
	stuckAfter atomic.Int64 // nanoseconds
	slowAfter  atomic.Int64 // nanoseconds; 0: off
)

func init() { stuckAfter.Store(int64(100 * time.Millisecond)) }

// SetStuckAfter sets how long a task may go on running after its ctx was
// cancelled before debug mode reports it (100 ms by default). It panics if
// d is not positive.
func SetStuckAfter(d time.Duration) {
	if d <= 0 {
		panic("inspect: SetStuckAfter(" + d.String() + "): the delay must be positive")
	}
	stuckAfter.Store(int64(d))
}

// SetSlowAfter makes debug mode report a task still running d after it
// started; 0 (the default) turns the check off. It panics if d is
// negative.
func SetSlowAfter(d time.Duration) {
	if d < 0 {
		panic("inspect: SetSlowAfter(" + d.String() + "): the threshold must not be negative")
	}
	slowAfter.Store(int64(d))
}

// The problems debug mode reports, in [Problem].What.
const (
	ProblemStuck     = "task ignores cancellation"
	ProblemSlow      = "task is slow"
	ProblemUnread    = "task failure never read"
	ProblemNotClosed = "object collected without its Wait, Shutdown or Close"
)

// Problem is what debug mode reports: the Err of an event of Kind
// [observe.Debug] (Source "inspect"), given to the process's observer.
type Problem struct {
	What    string // one of the Problem constants
	Kind    string // "task", or the object's kind ("taskgroup", "executor", "memo")
	Name    string // the task's or object's name (a task's function symbol when it has none)
	Err     error  // ProblemUnread: the failure nobody read
	Created string // the stack of the call that made the task or object
	Stack   string // ProblemStuck, ProblemSlow: the goroutine running the task, as the problem was seen
}

// Error describes the problem, with both stacks.
func (p *Problem) Error() string {
	var b strings.Builder
	b.WriteString("inspect: ")
	b.WriteString(p.Kind)
	if p.Name != "" {
		b.WriteString(" " + strconv.Quote(p.Name))
	}
	b.WriteString(": " + p.What)
	if p.Err != nil {
		b.WriteString(": " + p.Err.Error())
	}
	if p.Created != "" {
		b.WriteString("\n\ncreated at:\n" + p.Created)
	}
	if p.Stack != "" {
		b.WriteString("\n\ngoroutine:\n" + p.Stack)
	}
	return b.String()
}

// Unwrap returns the failure nobody read, if any.
func (p *Problem) Unwrap() error { return p.Err }

// report gives p to the process's observer or, with none set, to
// log/slog's default logger at Warn ([observe.Fallback]).
func report(p *Problem) {
	observe.Emit(context.Background(), observe.Fallback(nil), observe.Event{Kind: observe.Debug, Source: "inspect", Name: p.Name, Err: p})
}

// Bits of rec.reported.
const (
	repStuck uint32 = 1 << iota
	repSlow
)

// debugStarted runs on the task's goroutine as it starts: it notes the
// goroutine and arms the checks.
func debugStarted(r *rec, ctx context.Context) {
	r.gid = goid()
	// The AfterFunc below may read ctx after the task has returned; an
	// executor's fire-and-forget ctx is reused by its worker for the next
	// task unless told otherwise, so retire it (debug mode pays one
	// allocation per such task for it).
	task.Retain(ctx)
	r.stopCtx = context.AfterFunc(ctx, func() {
		t := time.AfterFunc(time.Duration(stuckAfter.Load()), func() { check(r, repStuck) })
		// The task may end before this store; check looks at its state,
		// and debugEnded stops the timer if it sees it.
		r.setTimer(0, t)
	})
	if d := slowAfter.Load(); d > 0 {
		r.setTimer(1, time.AfterFunc(time.Duration(d), func() { check(r, repSlow) }))
	}
}

// setTimer records a debug timer, stopping it at once if the task ended.
func (r *rec) setTimer(i int, t *time.Timer) {
	r.timerSlots[i].Store(t)
	if r.state.Load() != stRunning {
		t.Stop()
	}
}

// debugEnded runs on the task's goroutine as it ends: it disarms the
// checks.
func debugEnded(r *rec) {
	if r.stopCtx != nil {
		r.stopCtx()
		r.stopCtx = nil // it holds the task's ctx, which must not outlive the task here
	}
	for i := range r.timerSlots {
		if t := r.timerSlots[i].Load(); t != nil {
			t.Stop()
		}
	}
}

// check reports problem bit of r if the task is still running and the
// problem was not reported yet.
func check(r *rec, bit uint32) {
	if r.state.Load() != stRunning {
		return
	}
	for {
		old := r.reported.Load()
		if old&bit != 0 {
			return
		}
		if r.reported.CompareAndSwap(old, old|bit) {
			break
		}
	}
	what := ProblemStuck
	if bit == repSlow {
		what = ProblemSlow
	}
	stack := goroutineStack(r.gid)
	if r.state.Load() != stRunning {
		return // it ended while we looked
	}
	report(&Problem{What: what, Kind: "task", Name: taskLabel(r), Created: formatStack(r.created), Stack: stack})
}

// reportUnread is task.Debug's Unread.
func reportUnread(created []uintptr, err error) {
	report(&Problem{What: ProblemUnread, Kind: "task", Err: err, Created: formatStack(created)})
}

// mustClose lists the kinds whose owner must call Wait, Shutdown or
// Close.
var mustClose = map[string]bool{"taskgroup": true, "executor": true, "memo": true}

func debugCollected(id observe.ID, o objInfo) {
	if !mustClose[o.kind] {
		return
	}
	report(&Problem{What: ProblemNotClosed, Kind: o.kind, Name: o.name, Created: formatStack(o.created)})
}
