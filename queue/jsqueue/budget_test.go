package jsqueue_test

import (
	"context"
	"errors"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/async-patterns/async/queue/jsqueue"
	"github.com/async-patterns/async/retry"
)

func TestServeBudget(t *testing.T) {
	s := startServer(t)
	_, js := connect(t, s)
	ctx := context.Background()
	q := newQueue[int](t, js, "budget", jsqueue.WithMaxDeliver(4), jsqueue.WithAckWait(300*time.Millisecond))
	for i := range 4 {
		if err := q.Put(ctx, i); err != nil {
			t.Fatalf("Put() = %v", err)
		}
	}
	// A floor of 2 retries in the window; the deposits add almost nothing.
	budget := retry.NewBudget(0.01, 0.2, 10*time.Second)
	var calls atomic.Int32
	sctx, stop := context.WithCancel(ctx)
	served := make(chan error, 1)
	go func() {
		served <- jsqueue.Serve(sctx, q, 2, func(ctx context.Context, v int) error {
			calls.Add(1)
			return errors.New("boom")
		}, jsqueue.WithBackoff(0, 0), jsqueue.WithBudget(budget))
	}()
	if err := q.Join(ctx); err != nil {
		t.Fatalf("Join() = %v", err)
	}
	stop()
	if err := <-served; !errors.Is(err, context.Canceled) {
		t.Fatalf("Serve() = %v; want Canceled", err)
	}
	// 4 first deliveries and the 2 redeliveries the budget allowed, not
	// the 16 that 4 attempts each would make.
	if n := calls.Load(); n != 6 {
		t.Errorf("handler calls = %d; want 6", n)
	}
	dead, err := q.DeadLetters(ctx)
	if err != nil || len(dead) != 4 {
		t.Fatalf("DeadLetters() = %d letters, %v; want 4", len(dead), err)
	}
	attempts := 0
	for _, dl := range dead {
		attempts += dl.Attempts
		if dl.Err != "retry: retry budget exhausted: boom" {
			t.Errorf("dead letter Err = %q; want the budget's refusal carrying the handler's error", dl.Err)
		}
	}
	if attempts != 6 {
		t.Errorf("dead letters' attempts add up to %d; want 6", attempts)
	}
	if st := budget.Stats(); st.Spent != 2 || st.Refused != 4 {
		t.Errorf("budget Stats() = %+v; want 2 spent, 4 refused", st)
	}
}

func TestServeBudgetNil(t *testing.T) {
	s := startServer(t)
	_, js := connect(t, s)
	q := newQueue[int](t, js, "budgetnil")
	err := jsqueue.Serve(context.Background(), q, 1, func(context.Context, int) error { return nil }, jsqueue.WithBudget(nil))
	if err == nil || !strings.Contains(err.Error(), "WithBudget(nil)") {
		t.Errorf("Serve() = %v; want an error naming WithBudget(nil)", err)
	}
}
