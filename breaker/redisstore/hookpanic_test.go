package redisstore_test

import (
	"context"
	"log/slog"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/async-patterns/async/breaker"
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

func (r *records) find(substr string) string {
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, l := range r.logs {
		if strings.Contains(l, substr) {
			return l
		}
	}
	return ""
}

// A hook run on the store's goroutine, for another replica's change, is
// user code on a goroutine the library owns: a panic or a Goexit in it
// must not end the process nor stop the changes that follow.
func TestHookPanicOnStoreGoroutine(t *testing.T) {
	logs := &records{}
	old := slog.Default()
	slog.SetDefault(slog.New(logs))
	t.Cleanup(func() { slog.SetDefault(old) })

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
	a := newReplica(t, s, "hookpanic", breaker.WithOpenTimeout(time.Minute), breaker.WithOnStateChange(hook))
	b := newReplica(t, s, "hookpanic", breaker.WithOpenTimeout(time.Minute))
	if err := a.b.Do(t.Context(), succeed); err != nil {
		t.Fatalf("Do() = %v; want nil", err)
	}

	b.b.Trip()  // a's hook panics on the store's goroutine
	b.b.Reset() // a's hook calls Goexit there
	b.b.Trip()  // a's hook sees it: the store still receives
	if got := waitFor(t, seen, "the change after a panic and a Goexit"); got != "closed->open" {
		t.Errorf("hook saw %s; want closed->open", got)
	}
	if l := logs.find("panicked"); !strings.Contains(l, "panic=hook boom") || !strings.Contains(l, "stack=") ||
		!strings.HasPrefix(l, "ERROR") {
		t.Errorf("log of the panic = %q; want an ERROR with the value and the stack", l)
	}
	if l := logs.find("Goexit"); !strings.HasPrefix(l, "ERROR") {
		t.Errorf("log of the Goexit = %q; want an ERROR", l)
	}
}
