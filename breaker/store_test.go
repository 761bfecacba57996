package breaker

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"
)

// stubStore is a Store whose operations fail while down is set and
// otherwise answer "closed, generation 1". The shared behaviour itself is
// tested against a real Redis in breaker/redisstore.
type stubStore struct {
	mu       sync.Mutex
	down     bool
	attempts int // operations tried
	watched  []string
}

var errDown = errors.New("store down")

func (s *stubStore) op() (Snapshot, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.attempts++
	if s.down {
		return Snapshot{}, errDown
	}
	return Snapshot{State: Closed, Generation: 1}, nil
}

func (s *stubStore) Admit(context.Context, string, *Policy) (Ticket, Snapshot, error) {
	snap, err := s.op()
	return Ticket{Admitted: err == nil, Generation: 1}, snap, err
}
func (s *stubStore) Record(context.Context, string, *Policy, Ticket, Outcome) (Snapshot, error) {
	return s.op()
}
func (s *stubStore) Load(context.Context, string, *Policy) (Snapshot, error) { return s.op() }
func (s *stubStore) Force(context.Context, string, *Policy, State) (Snapshot, error) {
	return s.op()
}
func (s *stubStore) Watch(name string, _ func(Snapshot)) {
	s.mu.Lock()
	s.watched = append(s.watched, name)
	s.mu.Unlock()
}

func (s *stubStore) setDown(down bool) {
	s.mu.Lock()
	s.down = down
	s.mu.Unlock()
}

func (s *stubStore) tries() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.attempts
}

func TestStore(t *testing.T) {
	slog.SetDefault(slog.New(slog.NewTextHandler(io.Discard, nil)))
	t.Run("a breaker with a store needs a name", func(t *testing.T) {
		defer func() {
			if r, _ := recover().(string); !strings.HasPrefix(r, "breaker: WithStore needs a name") {
				t.Errorf("New() panicked with %q; want the missing name", r)
			}
		}()
		New(WithStore(&stubStore{}))
	})
	t.Run("nil store and nil status hook panic", func(t *testing.T) {
		for name, opt := range map[string]func() Option{
			"breaker: WithStore(nil)":         func() Option { return WithStore(nil) },
			"breaker: WithOnStoreStatus(nil)": func() Option { return WithOnStoreStatus(nil) },
		} {
			func() {
				defer func() {
					if r, _ := recover().(string); !strings.HasPrefix(r, name) {
						t.Errorf("panic = %q; want a message starting with %q", r, name)
					}
				}()
				New(opt())
			}()
		}
	})
	t.Run("every breaker of a group watches its own name", func(t *testing.T) {
		s := &stubStore{}
		g := NewGroup(WithStore(s))
		g.Get("a")
		g.Get("b")
		g.Get("a")
		if got := strings.Join(s.watched, ","); got != "a,b" {
			t.Errorf("watched %q; want %q", got, "a,b")
		}
	})
	t.Run("a store that fails degrades to the in-process breaker, once, and re-joins", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			s := &stubStore{down: true}
			var status []string
			var hook hookLog
			b := New(WithName("db"), WithStore(s), WithConsecutiveFailures(2), WithOnStateChange(hook.hook),
				WithOnStoreStatus(func(name string, err error) {
					status = append(status, name+":"+errString(err))
				}))
			if err := b.Do(t.Context(), succeed); err != nil {
				t.Fatalf("Do() = %v with the store down; want nil", err)
			}
			failN(t, b, 2) // the in-process breaker trips
			wantState(t, b, Open)
			if got := hook.String(); got != "db:closed->open" {
				t.Errorf("hook saw %q; want %q", got, "db:closed->open")
			}
			tries := s.tries()
			for range 10 {
				b.Do(t.Context(), succeed)
			}
			if got := s.tries(); got != tries {
				t.Errorf("store operations within the retry interval = %d; want 0", got-tries)
			}
			time.Sleep(StoreRetryInterval)
			s.setDown(false)
			if err := b.Do(t.Context(), succeed); err != nil {
				t.Fatalf("Do() = %v after the store came back; want nil", err)
			}
			wantState(t, b, Closed) // the shared state
			if got := strings.Join(status, " "); got != "db:store down db:<nil>" {
				t.Errorf("status hook saw %q; want one failure, then one re-join", got)
			}
			if got := hook.String(); got != "db:closed->open db:open->closed" {
				t.Errorf("hook saw %q; want the re-join's open->closed", got)
			}
		})
	})
	t.Run("WithStoreRequired rejects while the store is down", func(t *testing.T) {
		b := New(WithName("db"), WithStore(&stubStore{down: true}), WithStoreRequired())
		ran := false
		err := b.Do(t.Context(), func(context.Context) error { ran = true; return nil })
		if !errors.Is(err, ErrStoreUnavailable) || !errors.Is(err, errDown) || ran {
			t.Errorf("Do() = %v, ran = %v; want ErrStoreUnavailable wrapping the store's error, fn not run", err, ran)
		}
	})
}

func errString(err error) string {
	if err == nil {
		return "<nil>"
	}
	return err.Error()
}
