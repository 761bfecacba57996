package observe

import (
	"context"
	"log/slog"
	"strings"
	"time"
)

// Slog returns an [Observer] that writes events to logger: failures at
// Warn or Error with what is needed to act on them, the rest at Debug.
//
//   - Error: a task or a cache load that panicked (with the panic's stack
//     in the "stack" attribute); a message moved to the dead-letter stream.
//   - Warn: a retry that gave up (attempts, last error, time waited); a
//     breaker that opened (which breaker, the failure that tripped it); a
//     breaker's shared store that failed (the breaker runs on its own
//     state); a redislimit limiter whose Redis does not answer (it limits
//     with its local share); a task or cache load that failed; a problem
//     found by package inspect's debug mode (with the stack that made the
//     task or object in "created" and the goroutine at fault in "stack").
//   - Info: a breaker closed again; a store that answers again (the
//     breaker re-joined the shared state, a redislimit limiter the shared
//     limit).
//   - Debug: everything else (attempts, rejections, drops, cache hits and
//     misses, HTTP attempts, job deliveries, cancelled tasks).
//
// Each record's message names the package and what happened ("retry: gave
// up"); its attributes are the event's non-zero fields: source, name,
// task, outcome, attempt, duration, wait, from, to, depth, method, host,
// status, err, created, stack. Slog panics if logger is nil.
func Slog(logger *slog.Logger) Observer {
	if logger == nil {
		panic("observe: nil *slog.Logger passed to Slog")
	}
	return slogObserver{logger}
}

// fallback is the observer of last resort: events that must never be lost
// silently (an executor task's failure with no handler, a breaker's store
// outage, a panic in a callback with no caller to return it to) go to
// log/slog's default logger when no observer is set.
type fallbackObserver struct{}

func (fallbackObserver) Observe(ctx context.Context, e Event) {
	slogObserver{slog.Default()}.Observe(ctx, e)
}

// Fallback returns own or the default observer ([Pick]), and when both are
// nil an observer that logs through log/slog's default logger as [Slog]
// does (reading slog.Default() at each event). Primitives use it for the
// events that must never be lost silently: the failure of an executor task
// that has no error handler, a panic in an executor's error handler or in
// a breaker hook run on a breaker/redisstore Store's goroutine, a
// breaker's store outage and re-join, a redislimit limiter's loss of Redis
// and re-join.
func Fallback(own Observer) Observer {
	if o := Pick(own); o != nil {
		return o
	}
	return fallbackObserver{}
}

type slogObserver struct{ l *slog.Logger }

func (s slogObserver) Observe(ctx context.Context, e Event) {
	level := levelOf(e)
	if !s.l.Enabled(ctx, level) {
		return
	}
	attrs := make([]slog.Attr, 0, 8)
	str := func(k, v string) {
		if v != "" {
			attrs = append(attrs, slog.String(k, v))
		}
	}
	num := func(k string, v int) {
		if v != 0 {
			attrs = append(attrs, slog.Int(k, v))
		}
	}
	dur := func(k string, v time.Duration) {
		if v != 0 {
			attrs = append(attrs, slog.Duration(k, v))
		}
	}
	str("source", e.Source)
	str("name", e.Name)
	str("task", e.Task)
	str("outcome", e.Outcome.String())
	num("attempt", e.Attempt)
	dur("duration", e.Duration)
	dur("wait", e.Wait)
	str("from", e.From)
	str("to", e.To)
	if e.Kind == QueueDrop || e.Kind == QueueClose {
		attrs = append(attrs, slog.Int("depth", e.Depth))
	}
	str("method", e.Method)
	str("host", e.Host)
	num("status", e.Status)
	if e.Err != nil {
		msg := e.Err.Error()
		if e.Outcome == Panicked {
			// A *PanicError reads "panic: <value>\n\n<stack>": the stack
			// gets an attribute of its own.
			if i := strings.Index(msg, "\n\n"); i >= 0 {
				attrs = append(attrs, slog.String("err", msg[:i]), slog.String("stack", msg[i+2:]))
				msg = ""
			}
		}
		if e.Kind == Debug {
			// An *inspect.Problem reads "<problem>\n\ncreated at:\n<stack>"
			// and then "\n\ngoroutine:\n<stack>": each stack gets an
			// attribute of its own.
			attrs = appendDebug(attrs, msg)
			msg = ""
		}
		if msg != "" {
			attrs = append(attrs, slog.String("err", msg))
		}
	}
	s.l.LogAttrs(ctx, level, messageOf(e), attrs...)
}

// appendDebug appends an *inspect.Problem's message to attrs: the
// problem in "err", the stack that made the task or object in "created",
// the goroutine at fault in "stack".
func appendDebug(attrs []slog.Attr, msg string) []slog.Attr {
	const created, goroutine = "\n\ncreated at:\n", "\n\ngoroutine:\n"
	var made, stack string
	if i := strings.Index(msg, goroutine); i >= 0 {
		msg, stack = msg[:i], msg[i+len(goroutine):]
	}
	if i := strings.Index(msg, created); i >= 0 {
		msg, made = msg[:i], msg[i+len(created):]
	}
	attrs = append(attrs, slog.String("err", msg))
	if made != "" {
		attrs = append(attrs, slog.String("created", made))
	}
	if stack != "" {
		attrs = append(attrs, slog.String("stack", stack))
	}
	return attrs
}

func levelOf(e Event) slog.Level {
	switch e.Kind {
	case RetryGiveUp:
		if e.Outcome == Cancelled {
			return slog.LevelDebug
		}
		return slog.LevelWarn
	case BreakerStateChange:
		switch e.To {
		case "open":
			return slog.LevelWarn
		case "closed":
			return slog.LevelInfo
		}
	case BreakerStoreDown, LimitSharedDown:
		return slog.LevelWarn
	case BreakerStoreUp, LimitSharedUp:
		return slog.LevelInfo
	case TaskEnd, MemoLoad:
		switch e.Outcome {
		case Panicked:
			return slog.LevelError
		case Failed:
			return slog.LevelWarn
		}
	case JobDeadLetter:
		return slog.LevelError
	case Debug:
		return slog.LevelWarn
	}
	return slog.LevelDebug
}

var messages = [numKinds]string{
	RetryAttempt:       "retry: attempt ended",
	RetryGiveUp:        "retry: gave up",
	BreakerStateChange: "breaker: state changed",
	BreakerRejected:    "breaker: call rejected",
	BreakerStoreDown:   "breaker: store unavailable; using in-process state",
	BreakerStoreUp:     "breaker: store available again; using shared state",
	QueueDrop:          "queue: item dropped",
	QueueClose:         "queue: closed",
	TaskEnd:            "task ended",
	MemoHit:            "memo: hit",
	MemoMiss:           "memo: miss",
	MemoCoalesced:      "memo: joined a load",
	MemoLoad:           "memo: load ended",
	MemoStale:          "memo: served stale",
	HTTPAttempt:        "retryhttp: attempt ended",
	JobPut:             "jsqueue: put",
	JobDelivered:       "jsqueue: delivered",
	JobDone:            "jsqueue: done",
	JobRetry:           "jsqueue: handed back for redelivery",
	JobDeadLetter:      "jsqueue: dead-lettered",
	LimitRejected:      "limit: rejected",
	LimitSharedDown:    "redislimit: Redis does not answer; limiting with the local share",
	LimitSharedUp:      "redislimit: Redis answers again; back on the shared limit",
	Debug:              "inspect: debug mode found a problem",
}

// messageOf returns the record's message: for TaskEnd, the package and
// the outcome ("executor: task panicked").
func messageOf(e Event) string {
	if e.Kind == TaskEnd {
		src := e.Source
		if src == "" {
			src = "task"
		}
		switch e.Outcome {
		case Panicked:
			return src + ": task panicked"
		case Failed:
			return src + ": task failed"
		case Cancelled:
			return src + ": task cancelled"
		case Rejected:
			return src + ": task rejected"
		}
		return src + ": task ended"
	}
	if e.Kind > 0 && e.Kind < numKinds {
		return messages[e.Kind]
	}
	return e.Kind.String()
}
