package redisstore_test

import (
	"context"
	"errors"
	"log/slog"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/async-patterns/async/breaker"
	"github.com/async-patterns/async/internal/observetest"
	"github.com/async-patterns/async/observe"
)

// records is a slog.Handler keeping the messages and attributes it gets.
type records struct {
	mu   sync.Mutex
	logs []string
}

func (r *records) Enabled(context.Context, slog.Level) bool { return true }
func (r *records) WithAttrs([]slog.Attr) slog.Handler       { return r }
func (r *records) WithGroup(string) slog.Handler            { return r }
func (r *records) Handle(_ context.Context, rec slog.Record) error {
	var b strings.Builder
	b.WriteString(rec.Level.String() + " " + rec.Message)
	rec.Attrs(func(a slog.Attr) bool {
		b.WriteString(" " + a.Key + "=" + a.Value.String())
		return true
	})
	r.mu.Lock()
	r.logs = append(r.logs, b.String())
	r.mu.Unlock()
	return nil
}

// panicAndGoexit starts two replicas of breaker name, a with a hook that
// panics on the first change from b and calls runtime.Goexit on the
// second; b makes those two changes and a third, and panicAndGoexit
// returns when a's hook has seen the third: the Store receives on.
func panicAndGoexit(t *testing.T, name string) {
	t.Helper()
	s := startRedis(t)
	seen := make(chan string, 16)
	var calls int
	hook := func(_ string, from, to breaker.State) {
		calls++ // hooks never run concurrently
		switch calls {
		case 1:
			panic("hook boom")
		case 2:
			runtime.Goexit()
		}
		seen <- from.String() + "->" + to.String()
	}
	a := newReplica(t, s, name, breaker.WithOpenTimeout(time.Minute), breaker.WithOnStateChange(hook))
	b := newReplica(t, s, name, breaker.WithOpenTimeout(time.Minute))
	if err := a.b.Do(t.Context(), succeed); err != nil {
		t.Fatalf("Do() = %v; want nil", err)
	}

	b.b.Trip()  // a's hook panics on the store's goroutine
	b.b.Reset() // a's hook calls Goexit there
	b.b.Trip()  // a's hook sees it: the store still receives
	if got := waitFor(t, seen, "the change after a panic and a Goexit"); got != "closed->open" {
		t.Errorf("hook saw %s; want closed->open", got)
	}
}

// A hook run on the store's goroutine, for another replica's change, is
// user code on a goroutine the library owns: a panic or a Goexit in it
// must not end the process nor stop the changes that follow, and each is
// reported once, through observe, as a TaskEnd event that panicked.
func TestHookPanicOnStoreGoroutine(t *testing.T) {
	rec := &observetest.Recorder{}
	observe.SetDefault(rec)
	t.Cleanup(func() { observe.SetDefault(observe.Discard) })
	logs := &records{}
	old := slog.Default()
	slog.SetDefault(slog.New(logs))
	t.Cleanup(func() { slog.SetDefault(old) })

	panicAndGoexit(t, "hookpanic")

	es := rec.Events(observe.TaskEnd)
	if len(es) != 2 {
		t.Fatalf("TaskEnd events %q; want two: the panic and the Goexit", observetest.Briefs(es))
	}
	const want = "task.end outcome=panicked source=redisstore name=hookpanic task=watcher"
	for i, e := range es {
		if b := observetest.Brief(e); !strings.HasPrefix(b, want) {
			t.Errorf("event %d = %q; want %q", i, b, want)
		}
		pe, ok := errors.AsType[*breaker.PanicError](e.Err)
		if !ok || !strings.Contains(string(pe.Stack), "hookpanic_test.go") {
			t.Errorf("event %d: Err = %v; want a *PanicError with the hook's stack", i, e.Err)
		}
	}
	if pe, _ := errors.AsType[*breaker.PanicError](es[0].Err); pe == nil || pe.Value != "hook boom" {
		t.Errorf("first event's Err = %v; want the panic's value, hook boom", es[0].Err)
	}
	if err := es[1].Err; err == nil || !strings.Contains(err.Error(), "Goexit") {
		t.Errorf("second event's Err = %v; want a Goexit", err)
	}
	if len(logs.logs) != 0 {
		t.Errorf("slog's default logger got %q; want nothing with an observer set", logs.logs)
	}
}

// With no observer set, the panic and the Goexit go to log/slog's default
// logger (observe.Fallback), at level Error, the panic with its value and
// stack.
func TestHookPanicOnStoreGoroutineFallback(t *testing.T) {
	logs := &records{}
	old := slog.Default()
	slog.SetDefault(slog.New(logs))
	t.Cleanup(func() { slog.SetDefault(old) })

	panicAndGoexit(t, "hookpanic-fallback")

	var panics []string
	logs.mu.Lock()
	for _, l := range logs.logs {
		if strings.Contains(l, "panicked") {
			panics = append(panics, l)
		}
	}
	logs.mu.Unlock()
	if len(panics) != 2 {
		t.Fatalf("logs of a panic: %q; want two, the panic and the Goexit", panics)
	}
	l := panics[0]
	if !strings.HasPrefix(l, "ERROR redisstore: task panicked") || !strings.Contains(l, "name=hookpanic-fallback") ||
		!strings.Contains(l, "task=watcher") || !strings.Contains(l, "err=panic: hook boom") || !strings.Contains(l, "stack=") {
		t.Errorf("log of the panic = %q; want an ERROR naming the breaker and the watcher, with the value and the stack", l)
	}
	if l := panics[1]; !strings.HasPrefix(l, "ERROR") || !strings.Contains(l, "Goexit") {
		t.Errorf("log of the Goexit = %q; want an ERROR saying Goexit", l)
	}
}
