package observe

import (
	"context"
	"strconv"
	"time"
)

// Kind says what an [Event] reports. Its String is the event's name, under
// the package that reports it ("retry.attempt", "breaker.state_change"):
// what a metrics exporter uses as an attribute value and a log handler as
// its message.
type Kind uint8

// The kinds of events, grouped by the package that reports them. The
// fields of [Event] each kind fills are listed beside it; Kind, Source and
// Time are always set, Name whenever the object has one.
const (
	_ Kind = iota

	// RetryAttempt: an attempt of retry.Do (or of a retryhttp request's
	// retry loop) ended. Attempt (1-based), Outcome (OK or Failed; Panicked
	// for a panic, never retried), Err, Duration (the attempt), Wait (the
	// wait before the next attempt when one follows, else 0).
	RetryAttempt
	// RetryGiveUp: retry.Do returned a failure. Attempt (attempts made),
	// Err (the *retry.Error returned), Duration (the whole call), Wait
	// (the time spent waiting between attempts).
	RetryGiveUp

	// BreakerStateChange: a breaker moved From one state To another
	// ("closed", "open", "half-open"). Err: the failure that tripped it,
	// when known.
	BreakerStateChange
	// BreakerRejected: a breaker refused a call (open, or half-open with
	// its probes taken). Err: the rejection; Wait: its RetryAfter.
	BreakerRejected
	// BreakerStoreDown: the breaker's shared store failed; the breaker
	// runs on its in-process state. Err: the store's error.
	BreakerStoreDown
	// BreakerStoreUp: the store answers again; the breaker re-joined the
	// shared state.
	BreakerStoreUp

	// QueueDrop: the overflow policy discarded an item (Outcome Rejected
	// for DropNewest, Cancelled for DropOldest). Depth: items held.
	QueueDrop
	// QueueClose: Close (Outcome OK) or CloseNow (Outcome Cancelled) was
	// called. Depth: items left (Close) or discarded (CloseNow).
	QueueClose

	// TaskEnd: a task of a taskgroup, gather call or executor ended.
	// Outcome (OK, Failed, Panicked, Cancelled, or Rejected for a submit
	// the executor refused), Err (a *PanicError, with its stack, for
	// Panicked), Duration (its run; 0 if it never ran), Task (its name,
	// when it was given one). Also, with Outcome Panicked, a user
	// callback that panicked (or called runtime.Goexit) where no caller
	// can be given its panic, reported with [Fallback]: an executor's
	// error handler (Source "executor", Task "error handler") and a
	// breaker hook run on a breaker/redisstore Store's goroutine (Source
	// "redisstore", Name the breaker's, Task "watcher").
	TaskEnd

	// MemoHit: a cache Get was served from a fresh entry.
	MemoHit
	// MemoMiss: a cache Get found no entry and started a load.
	MemoMiss
	// MemoCoalesced: a cache Get joined a load already running.
	MemoCoalesced
	// MemoLoad: a load ended. Outcome (OK, Failed, Panicked, Cancelled),
	// Err, Duration.
	MemoLoad
	// MemoStale: a cache Get was served a stale entry while a refresh runs.
	MemoStale

	// HTTPAttempt: retryhttp sent one attempt of a request. Method, Host,
	// Status (0 when no response came back), Attempt (1-based; the resend
	// count is Attempt-1), Outcome (OK when the response is not retried,
	// Failed otherwise), Err (a transport error), Duration.
	HTTPAttempt

	// JobPut: jsqueue accepted a value (Outcome OK) or refused it
	// (Rejected, with Err). Depth: messages held, when known.
	JobPut
	// JobDelivered: jsqueue delivered a message. Attempt (1-based delivery
	// count).
	JobDelivered
	// JobDone: a delivery was acknowledged. Attempt, Duration (from
	// delivery to done).
	JobDone
	// JobRetry: a delivery was handed back for redelivery. Attempt, Err,
	// Wait (the delay before redelivery).
	JobRetry
	// JobDeadLetter: a message was moved to the dead-letter stream after
	// its last attempt. Attempt, Err (its last error).
	JobDeadLetter

	// LimitRejected: a limiter refused an acquisition. Err (the
	// *limit.RejectedError), Wait (its RetryAfter).
	LimitRejected
	// LimitSharedDown: a limiter shared through a store (redislimit) lost
	// it and limits with its local share (its decisions are local until
	// LimitSharedUp). Err (the store's failure).
	LimitSharedDown
	// LimitSharedUp: the store answers again; the limiter is back on the
	// shared limit.
	LimitSharedUp

	// Debug: package inspect's debug mode found a problem (a task that
	// ignores cancellation, a failure nobody read, an object collected
	// without its Wait or Close, a slow task). Source "inspect"; Name (the
	// task's or object's); Err (an *inspect.Problem, with the stack that
	// made the object and, where it applies, the stack of the goroutine at
	// fault).
	Debug

	numKinds
)

var kindNames = [numKinds]string{
	RetryAttempt:       "retry.attempt",
	RetryGiveUp:        "retry.give_up",
	BreakerStateChange: "breaker.state_change",
	BreakerRejected:    "breaker.rejected",
	BreakerStoreDown:   "breaker.store_down",
	BreakerStoreUp:     "breaker.store_up",
	QueueDrop:          "queue.drop",
	QueueClose:         "queue.close",
	TaskEnd:            "task.end",
	MemoHit:            "memo.hit",
	MemoMiss:           "memo.miss",
	MemoCoalesced:      "memo.coalesced",
	MemoLoad:           "memo.load",
	MemoStale:          "memo.stale",
	HTTPAttempt:        "http.attempt",
	JobPut:             "job.put",
	JobDelivered:       "job.delivered",
	JobDone:            "job.done",
	JobRetry:           "job.retry",
	JobDeadLetter:      "job.dead_letter",
	LimitRejected:      "limit.rejected",
	LimitSharedDown:    "limit.shared_down",
	LimitSharedUp:      "limit.shared_up",
	Debug:              "inspect.debug",
}

// String returns the event's name, such as "retry.give_up".
func (k Kind) String() string {
	if k > 0 && k < numKinds {
		return kindNames[k]
	}
	return "Kind(" + strconv.Itoa(int(k)) + ")"
}

// Outcome says how the thing an event reports ended.
type Outcome uint8

// The outcomes. [OutcomeNone] is for events that report no ending (a
// cache hit, a state change).
const (
	OutcomeNone Outcome = iota
	OK                  // it succeeded
	Failed              // it returned an error of its own
	Panicked            // it panicked (or called runtime.Goexit); Err is a *PanicError with the stack
	Cancelled           // its ctx ended, or it was cancelled before it ran
	Rejected            // it was refused before it ran (a full queue, a shut executor, a limiter)
)

var outcomeNames = [...]string{OutcomeNone: "", OK: "ok", Failed: "failed", Panicked: "panicked", Cancelled: "cancelled", Rejected: "rejected"}

// String returns "ok", "failed", "panicked", "cancelled", "rejected", or ""
// for OutcomeNone.
func (o Outcome) String() string {
	if int(o) < len(outcomeNames) {
		return outcomeNames[o]
	}
	return "Outcome(" + strconv.Itoa(int(o)) + ")"
}

// Event is one thing a primitive did, reported to an [Observer]. It is a
// plain value, passed by value; a field that does not apply to its Kind is
// the zero value (the list under each [Kind] says which apply).
type Event struct {
	Kind    Kind
	Outcome Outcome
	Source  string    // the package of the object that reported it: "retry", "breaker", "queue", "taskgroup", "gather", "executor", "memo", "retryhttp", "jsqueue", "limit", "redislimit", "redisstore", "inspect"
	Name    string    // the object's name (a breaker's, a queue's given by WithName), "" if it has none
	Object  ID        // the reporting object in the registry ([Objects]); 0 for calls that are no object (retry.Do, gather)
	Time    time.Time // when it happened
	Task    string    // TaskEnd: the task's name, "" if none was given

	Attempt  int           // 1-based attempt or delivery number
	Duration time.Duration // how long the thing reported took
	Wait     time.Duration // a wait: before the next attempt, a RetryAfter, a redelivery delay
	Err      error         // the failure, if any
	From, To string        // BreakerStateChange: the states
	Depth    int           // queue events: items held (or discarded)

	Method string // HTTPAttempt: the request's method
	Host   string // HTTPAttempt: the request's host
	Status int    // HTTPAttempt: the response's status code; 0 if none
}

// Observer receives events. Observe is called synchronously, on the
// goroutine that caused the event, never while the primitive holds a lock,
// so it may call back into the object that reported it. ctx is the ctx of
// the call that caused the event (context.Background() when there is none,
// as for a breaker's Trip), so that a trace or a log handler can find what
// it carries.
//
// Observe must be safe for concurrent use and should return quickly: it
// runs on the primitive's path. An Observer that panics loses that event
// (counted by [Dropped]) and nothing else; one that may block should be
// wrapped in [Buffered], which drops events rather than wait.
type Observer interface {
	Observe(ctx context.Context, e Event)
}

// ObserverFunc adapts a function to an [Observer].
type ObserverFunc func(ctx context.Context, e Event)

// Observe calls f(ctx, e).
func (f ObserverFunc) Observe(ctx context.Context, e Event) { f(ctx, e) }

// AttemptObserver is an [Observer] that also sees attempts begin, so that
// what an attempt does runs inside something the observer made for it (a
// trace span, say). Before each attempt of retry.Do and of a retryhttp
// request, the primitive calls AttemptStart with the ctx the attempt would
// run with and an event of Kind [RetryAttempt] or [HTTPAttempt] whose
// Attempt is set; the attempt runs with the ctx it returns, and the event
// that reports its end is given to Observe with that same ctx.
//
// A panic in AttemptStart is recovered like one in Observe; the attempt
// then runs with its own ctx.
type AttemptObserver interface {
	Observer
	AttemptStart(ctx context.Context, e Event) context.Context
}
