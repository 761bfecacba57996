package breaker

import (
	"context"
	"errors"
	"sync"
	"testing"
	"testing/synctest"
	"time"
)

func TestExclude(t *testing.T) {
	errRefused := errors.New("refused by a local limiter")
	t.Run("an excluded error is returned unmarked and counts as neither success nor failure", func(t *testing.T) {
		b := New(WithConsecutiveFailures(2))
		for range 5 {
			err := b.Do(t.Context(), func(context.Context) error { return Exclude(errRefused) })
			if err != errRefused {
				t.Fatalf("Do() = %v (%T); want errRefused itself", err, err)
			}
		}
		if c := b.Counts(); c.TotalExclusions != 5 || c.TotalFailures != 0 || c.TotalSuccesses != 0 {
			t.Errorf("Counts() = %+v; want 5 exclusions, no success or failure", c)
		}
		wantState(t, b, Closed)
	})
	t.Run("an excluded half-open probe frees its slot", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			b := New(WithConsecutiveFailures(1), WithOpenTimeout(time.Second), WithHalfOpenRequests(1))
			failN(t, b, 1)
			time.Sleep(2 * time.Second)
			if err := b.Do(t.Context(), func(context.Context) error { return Exclude(errRefused) }); err != errRefused {
				t.Fatalf("probe Do() = %v; want errRefused", err)
			}
			wantState(t, b, HalfOpen)
			if err := b.Do(t.Context(), succeed); err != nil {
				t.Fatalf("the next probe: Do() = %v; want it admitted", err)
			}
			wantState(t, b, Closed)
		})
	})
	t.Run("Exclude(nil) is nil", func(t *testing.T) {
		if Exclude(nil) != nil {
			t.Error("Exclude(nil) != nil")
		}
	})
	t.Run("with a store, the outcome recorded is Excluded", func(t *testing.T) {
		s := &recordingStore{}
		b := New(WithName("x"), WithStore(s))
		if err := b.Do(t.Context(), func(context.Context) error { return Exclude(errRefused) }); err != errRefused {
			t.Fatalf("Do() = %v; want errRefused", err)
		}
		if got := s.recorded(); len(got) != 1 || got[0] != Excluded {
			t.Errorf("recorded outcomes = %v; want [Excluded]", got)
		}
	})
}

// recordingStore is a stubStore that keeps the outcomes recorded.
type recordingStore struct {
	stubStore
	mu       sync.Mutex
	outcomes []Outcome
}

func (s *recordingStore) Record(ctx context.Context, name string, p *Policy, t Ticket, o Outcome) (Snapshot, error) {
	s.mu.Lock()
	s.outcomes = append(s.outcomes, o)
	s.mu.Unlock()
	return s.stubStore.Record(ctx, name, p, t, o)
}

func (s *recordingStore) recorded() []Outcome {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Outcome(nil), s.outcomes...)
}
