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

// tag marks the ctx of a call, so that a ctlStore can tell whose operation
// it is running.
type tag struct{}

// ctlStore is a Store whose operations ask fn, with the op's name and the
// tag of the call's ctx (nil for State, Counts, Trip and Reset), what to
// do: fn may block, and returns the error to fail with or nil to answer
// "closed, generation 1".
type ctlStore struct {
	fn func(op string, tag any) error
	// answer, if set, gives the snapshot of a successful op (admitting a
	// call to Admit unless it is open).
	answer func(op string) Snapshot
}

func (s *ctlStore) do(ctx context.Context, op string) (Snapshot, error) {
	if err := s.fn(op, ctx.Value(tag{})); err != nil {
		return Snapshot{}, err
	}
	if s.answer != nil {
		return s.answer(op), nil
	}
	return Snapshot{State: Closed, Generation: 1}, nil
}

func (s *ctlStore) Admit(ctx context.Context, _ string, _ *Policy) (Ticket, Snapshot, error) {
	snap, err := s.do(ctx, "admit")
	return Ticket{Admitted: err == nil && snap.State != Open, Generation: snap.Generation}, snap, err
}
func (s *ctlStore) Record(ctx context.Context, _ string, _ *Policy, _ Ticket, _ Outcome) (Snapshot, error) {
	return s.do(ctx, "record")
}
func (s *ctlStore) Load(ctx context.Context, _ string, _ *Policy) (Snapshot, error) {
	return s.do(ctx, "load")
}
func (s *ctlStore) Force(ctx context.Context, _ string, _ *Policy, _ State) (Snapshot, error) {
	return s.do(ctx, "force")
}
func (s *ctlStore) Watch(string, func(Snapshot)) {}

// statusLog is a slog handler that keeps the messages, and a status hook
// that keeps what it saw, in one sequence; hold, when set, is called with
// each message before it is kept.
type statusLog struct {
	mu   sync.Mutex
	seen []string
	hold func(msg string)
}

func (l *statusLog) Enabled(context.Context, slog.Level) bool { return true }
func (l *statusLog) Handle(_ context.Context, r slog.Record) error {
	if l.hold != nil {
		l.hold(r.Message)
	}
	l.add("log:" + strings.TrimPrefix(r.Message, "breaker: "))
	return nil
}
func (l *statusLog) WithAttrs([]slog.Attr) slog.Handler { return l }
func (l *statusLog) WithGroup(string) slog.Handler      { return l }
func (l *statusLog) hook(_ string, err error)           { l.add("hook:" + errString(err)) }
func (l *statusLog) add(s string) {
	l.mu.Lock()
	l.seen = append(l.seen, s)
	l.mu.Unlock()
}
func (l *statusLog) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return strings.Join(l.seen, " | ")
}

// useLog makes l the default slog handler until the test ends.
func useLog(t *testing.T, l *statusLog) {
	old := slog.Default()
	slog.SetDefault(slog.New(l))
	t.Cleanup(func() { slog.SetDefault(old) })
}

func TestStoreStatus(t *testing.T) {
	const down = "store unavailable; using in-process state"
	const up = "store available again; using shared state"
	t.Run("an operation begun before a re-join that fails after it does not report the store down again", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			var log statusLog
			useLog(t, &log)
			stuck, release := make(chan struct{}), make(chan struct{})
			storeUp := true
			s := &ctlStore{fn: func(op string, who any) error {
				switch {
				case who == "slow":
					close(stuck)
					<-release // the connection it used died with the server
					return errDown
				case storeUp:
					return nil
				}
				return errDown
			}}
			b := New(WithName("db"), WithStore(s), WithOnStoreStatus(log.hook))
			b.Do(t.Context(), succeed) // the breaker learns it is closed
			storeUp = false
			done := make(chan error)
			slow := context.WithValue(t.Context(), tag{}, "slow")
			go func() { done <- b.Do(slow, succeed) }() // runs at once; its Record hangs
			<-stuck
			b.Do(t.Context(), succeed) // its Record fails: down
			time.Sleep(StoreRetryInterval)
			storeUp = true
			b.Do(t.Context(), succeed) // the store answers: up
			close(release)
			if err := <-done; err != nil {
				t.Fatalf("Do() = %v; want nil", err)
			}
			want := "log:" + down + " | hook:store down | log:" + up + " | hook:<nil>"
			if got := log.String(); got != want {
				t.Errorf("saw %q; want %q (one down, one up)", got, want)
			}
		})
	})
	t.Run("the log lines come out in the order of the changes, with the hook", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			var log statusLog
			logging, logged := make(chan struct{}), make(chan struct{})
			log.hold = func(msg string) {
				if strings.HasSuffix(msg, down) {
					close(logging)
					<-logged // slow log output
				}
			}
			useLog(t, &log)
			storeUp := true
			s := &ctlStore{fn: func(string, any) error {
				if storeUp {
					return nil
				}
				return errDown
			}}
			b := New(WithName("db"), WithStore(s), WithOnStoreStatus(log.hook))
			b.Do(t.Context(), succeed)
			storeUp = false
			done := make(chan error)
			go func() { done <- b.Do(t.Context(), succeed) }() // its Record fails: down
			<-logging
			time.Sleep(StoreRetryInterval)
			storeUp = true
			b.Do(t.Context(), succeed) // up, while the down is still being logged
			close(logged)
			<-done
			want := "log:" + down + " | hook:store down | log:" + up + " | hook:<nil>"
			if got := log.String(); got != want {
				t.Errorf("saw %q; want %q", got, want)
			}
		})
	})
}

func TestProbeAsk(t *testing.T) {
	t.Run("while a call asks the store for a probe permit, the replica's other calls are rejected without asking", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			asking, release := make(chan struct{}), make(chan struct{})
			var mu sync.Mutex
			ops := 0
			s := &ctlStore{
				fn: func(op string, who any) error {
					mu.Lock()
					ops++
					mu.Unlock()
					if who == "probe" && op == "admit" {
						close(asking)
						<-release
					}
					return nil
				},
				answer: func(op string) Snapshot {
					switch op {
					case "force":
						return Snapshot{State: Open, Generation: 2, OpenFor: time.Second}
					case "admit":
						return Snapshot{State: HalfOpen, Generation: 3, OpenFor: time.Second, Counts: Counts{Requests: 1}}
					}
					return Snapshot{State: Closed, Generation: 4}
				},
			}
			b := New(WithName("db"), WithStore(s))
			b.Trip()
			time.Sleep(time.Second + time.Millisecond)
			done := make(chan error)
			go func() { done <- b.Do(context.WithValue(t.Context(), tag{}, "probe"), succeed) }()
			<-asking
			mu.Lock()
			before := ops
			mu.Unlock()
			for range 10 {
				if err := b.Do(t.Context(), succeed); !errors.Is(err, ErrTooManyRequests) {
					t.Fatalf("Do() = %v while another call asks; want ErrTooManyRequests", err)
				}
			}
			mu.Lock()
			if got := ops - before; got != 0 {
				t.Errorf("store operations for 10 calls while another call asks = %d; want 0", got)
			}
			mu.Unlock()
			close(release)
			if err := <-done; err != nil {
				t.Fatalf("probe: Do() = %v; want nil", err)
			}
			wantState(t, b, Closed)
		})
	})
}
