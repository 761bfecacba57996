package observe_test

import (
	"context"
	"errors"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/async-patterns/async/observe"
)

// records is a slog.Handler that keeps every record, at every level.
type records struct {
	mu  sync.Mutex
	got []slog.Record
}

func (*records) Enabled(context.Context, slog.Level) bool { return true }
func (r *records) Handle(_ context.Context, rec slog.Record) error {
	r.mu.Lock()
	r.got = append(r.got, rec.Clone())
	r.mu.Unlock()
	return nil
}
func (r *records) WithAttrs([]slog.Attr) slog.Handler { return r }
func (r *records) WithGroup(string) slog.Handler      { return r }

func (r *records) last(t *testing.T) (slog.Level, string, map[string]string) {
	t.Helper()
	r.mu.Lock()
	defer r.mu.Unlock()
	if len(r.got) == 0 {
		t.Fatal("no record")
	}
	rec := r.got[len(r.got)-1]
	attrs := map[string]string{}
	rec.Attrs(func(a slog.Attr) bool {
		attrs[a.Key] = a.Value.String()
		return true
	})
	return rec.Level, rec.Message, attrs
}

func TestSlog(t *testing.T) {
	boom := errors.New("connection refused")
	cases := []struct {
		name  string
		e     observe.Event
		level slog.Level
		msg   string
		attrs map[string]string
	}{
		{"a retry that gave up: Warn, with attempts, last error and time waited",
			observe.Event{Kind: observe.RetryGiveUp, Outcome: observe.Failed, Source: "retry", Name: "GET api",
				Attempt: 4, Err: boom, Wait: 700 * time.Millisecond, Duration: time.Second},
			slog.LevelWarn, "retry: gave up",
			map[string]string{"source": "retry", "name": "GET api", "outcome": "failed", "attempt": "4", "err": "connection refused", "wait": "700ms", "duration": "1s"}},
		{"a retry cancelled by its caller: Debug",
			observe.Event{Kind: observe.RetryGiveUp, Outcome: observe.Cancelled, Source: "retry", Attempt: 1, Err: context.Canceled},
			slog.LevelDebug, "retry: gave up",
			map[string]string{"source": "retry", "outcome": "cancelled", "attempt": "1", "err": "context canceled"}},
		{"a breaker opening: Warn, naming the breaker",
			observe.Event{Kind: observe.BreakerStateChange, Source: "breaker", Name: "payments", From: "closed", To: "open"},
			slog.LevelWarn, "breaker: state changed",
			map[string]string{"source": "breaker", "name": "payments", "from": "closed", "to": "open"}},
		{"a breaker closing again: Info",
			observe.Event{Kind: observe.BreakerStateChange, Source: "breaker", Name: "payments", From: "half-open", To: "closed"},
			slog.LevelInfo, "breaker: state changed",
			map[string]string{"source": "breaker", "name": "payments", "from": "half-open", "to": "closed"}},
		{"a store outage: Warn with the store's error",
			observe.Event{Kind: observe.BreakerStoreDown, Outcome: observe.Failed, Source: "breaker", Name: "payments", Err: boom},
			slog.LevelWarn, "breaker: store unavailable; using in-process state",
			map[string]string{"source": "breaker", "name": "payments", "outcome": "failed", "err": "connection refused"}},
		{"a store re-join: Info",
			observe.Event{Kind: observe.BreakerStoreUp, Outcome: observe.OK, Source: "breaker", Name: "payments"},
			slog.LevelInfo, "breaker: store available again; using shared state",
			map[string]string{"source": "breaker", "name": "payments", "outcome": "ok"}},
		{"a rejection: Debug",
			observe.Event{Kind: observe.BreakerRejected, Outcome: observe.Rejected, Source: "breaker", Name: "payments", Wait: time.Second},
			slog.LevelDebug, "breaker: call rejected",
			map[string]string{"source": "breaker", "name": "payments", "outcome": "rejected", "wait": "1s"}},
		{"a task that failed: Warn",
			observe.Event{Kind: observe.TaskEnd, Outcome: observe.Failed, Source: "executor", Name: "pool", Task: "resize", Err: boom},
			slog.LevelWarn, "executor: task failed",
			map[string]string{"source": "executor", "name": "pool", "task": "resize", "outcome": "failed", "err": "connection refused"}},
		{"an HTTP attempt: Debug with method, host, status",
			observe.Event{Kind: observe.HTTPAttempt, Outcome: observe.Failed, Source: "retryhttp", Name: "api", Method: "GET", Host: "api", Status: 503, Attempt: 2},
			slog.LevelDebug, "retryhttp: attempt ended",
			map[string]string{"source": "retryhttp", "name": "api", "outcome": "failed", "method": "GET", "host": "api", "status": "503", "attempt": "2"}},
		{"a dead letter: Error",
			observe.Event{Kind: observe.JobDeadLetter, Source: "jsqueue", Name: "jobs", Attempt: 5, Err: boom},
			slog.LevelError, "jsqueue: dead-lettered",
			map[string]string{"source": "jsqueue", "name": "jobs", "attempt": "5", "err": "connection refused"}},
		{"a queue drop: Debug with the depth",
			observe.Event{Kind: observe.QueueDrop, Outcome: observe.Rejected, Source: "queue", Name: "in", Depth: 8},
			slog.LevelDebug, "queue: item dropped",
			map[string]string{"source": "queue", "name": "in", "outcome": "rejected", "depth": "8"}},
		{"a debug-mode problem: Warn, its stacks in created and stack",
			observe.Event{Kind: observe.Debug, Source: "inspect", Name: "fetch",
				Err: errors.New("inspect: task \"fetch\": task ignores cancellation\n\ncreated at:\nmain.start()\n\ngoroutine:\nmain.fetch()")},
			slog.LevelWarn, "inspect: debug mode found a problem",
			map[string]string{"source": "inspect", "name": "fetch", "err": `inspect: task "fetch": task ignores cancellation`, "created": "main.start()", "stack": "main.fetch()"}},
		{"a memo hit: Debug",
			observe.Event{Kind: observe.MemoHit, Source: "memo", Name: "prices"},
			slog.LevelDebug, "memo: hit",
			map[string]string{"source": "memo", "name": "prices"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			h := &records{}
			observe.Emit(context.Background(), observe.Slog(slog.New(h)), c.e)
			level, msg, attrs := h.last(t)
			if level != c.level || msg != c.msg {
				t.Errorf("record = %v %q; want %v %q", level, msg, c.level, c.msg)
			}
			if len(attrs) != len(c.attrs) {
				t.Errorf("attrs = %v; want %v", attrs, c.attrs)
			}
			for k, v := range c.attrs {
				if attrs[k] != v {
					t.Errorf("attr %s = %q; want %q (all: %v)", k, attrs[k], v, attrs)
				}
			}
		})
	}

	t.Run("a panic: Error, its value in err and its stack in stack", func(t *testing.T) {
		h := &records{}
		pe := panicError{"panic: index out of range\n\ngoroutine 7 [running]:\nmain.work()"}
		observe.Emit(context.Background(), observe.Slog(slog.New(h)),
			observe.Event{Kind: observe.TaskEnd, Outcome: observe.Panicked, Source: "taskgroup", Err: pe})
		level, msg, attrs := h.last(t)
		if level != slog.LevelError || msg != "taskgroup: task panicked" {
			t.Errorf("record = %v %q; want ERROR %q", level, msg, "taskgroup: task panicked")
		}
		if attrs["err"] != "panic: index out of range" || !strings.HasPrefix(attrs["stack"], "goroutine 7 [running]:") {
			t.Errorf("err = %q, stack = %q", attrs["err"], attrs["stack"])
		}
	})
	t.Run("a level the logger does not want builds nothing", func(t *testing.T) {
		var buf strings.Builder
		l := slog.New(slog.NewTextHandler(&buf, &slog.HandlerOptions{Level: slog.LevelWarn}))
		observe.Emit(context.Background(), observe.Slog(l), observe.Event{Kind: observe.MemoHit})
		if buf.Len() != 0 {
			t.Errorf("a Debug event was written at Warn: %q", buf.String())
		}
	})
	t.Run("Fallback logs through slog's default logger when nothing is set", func(t *testing.T) {
		h := &records{}
		old := slog.Default()
		slog.SetDefault(slog.New(h))
		defer slog.SetDefault(old)
		observe.Emit(context.Background(), observe.Fallback(nil),
			observe.Event{Kind: observe.BreakerStoreDown, Outcome: observe.Failed, Source: "breaker", Name: "b", Err: boom})
		if level, msg, _ := h.last(t); level != slog.LevelWarn || msg != "breaker: store unavailable; using in-process state" {
			t.Errorf("record = %v %q", level, msg)
		}
	})
}

type panicError struct{ s string }

func (e panicError) Error() string { return e.s }
