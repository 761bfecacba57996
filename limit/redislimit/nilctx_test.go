package redislimit_test

import (
	"context"
	"io"
	"log/slog"
	"testing"

	"github.com/redis/go-redis/v9"

	"github.com/async-patterns/async/limit/redislimit"
)

// A nil ctx panics with a message naming the method, on every method that
// takes one (no server needed: the check comes first).
func TestNilCtxPanicsNamingTheMethod(t *testing.T) {
	client := redis.NewClient(&redis.Options{Addr: "127.0.0.1:1"})
	defer client.Close()
	quiet := redislimit.WithLogger(slog.New(slog.NewTextHandler(io.Discard, nil)))
	r := redislimit.NewRate(client, "nilctx", 1, 1, quiet)
	defer r.Close()
	s := redislimit.NewSemaphore(client, "nilctx", 1, quiet)
	defer s.Close()
	var nilCtx context.Context
	fn := func(context.Context) error { return nil }
	for name, call := range map[string]func(){
		"Allow":   func() { r.Allow(nilCtx) },
		"Wait":    func() { _ = r.Wait(nilCtx) },
		"Do":      func() { _ = r.Do(nilCtx, fn) },
		"Acquire": func() { _, _ = s.Acquire(nilCtx) },
	} {
		func() {
			defer func() {
				want := "redislimit: nil ctx passed to " + name
				if got, _ := recover().(string); got != want {
					t.Errorf("%s(nil) panicked with %q; want %q", name, got, want)
				}
			}()
			call()
		}()
	}
}
