package retryhttp_test

import (
	"errors"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/async-patterns/async/retry"
	"github.com/async-patterns/async/retry/retryhttp"
)

func TestBudget(t *testing.T) {
	t.Run("in an outage the budget holds retries to its ratio, and the last response is returned", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			var sent atomic.Int32
			budget := retry.NewBudget(0.15, 1, 10*time.Second)
			tr := retryhttp.New(retryhttp.WithBudget(budget),
				retryhttp.WithRetry(retry.WithMaxAttempts(4), retry.WithBackoff(0, 0)),
				retryhttp.WithBase(baseFunc(func(r *http.Request) (*http.Response, error) {
					sent.Add(1)
					return (*bodies)(nil).respond(r, 503, "down"), nil
				})))
			const requests = 3000 // 100 a second for 30s
			for range requests {
				resp, err := tr.RoundTrip(mustRequest(t, "GET", "http://a.test/", nil))
				if err != nil || resp.StatusCode != 503 {
					t.Fatalf("RoundTrip = %v, %v; want the last 503", resp, err)
				}
				resp.Body.Close()
				time.Sleep(10 * time.Millisecond)
			}
			if per := float64(sent.Load()) / requests; per > 1.2 {
				t.Errorf("%.3f attempts per request; want <= 1.2", per)
			}
			if s := budget.Stats(); s.Refused == 0 {
				t.Errorf("budget Stats() = %+v; want refusals", s)
			}
		})
	})
	t.Run("a refused retry after a transport error returns an error matching the budget", func(t *testing.T) {
		errConn := errors.New("connection refused")
		budget := retry.NewBudget(0.5, 0, time.Minute) // half a retry per request
		tr := retryhttp.New(retryhttp.WithBudget(budget),
			retryhttp.WithRetry(retry.WithMaxAttempts(4), retry.WithBackoff(0, 0)),
			retryhttp.WithBase(baseFunc(func(*http.Request) (*http.Response, error) { return nil, errConn })))
		_, err := tr.RoundTrip(mustRequest(t, "GET", "http://a.test/", nil))
		if !errors.Is(err, retry.ErrBudgetExhausted) || !errors.Is(err, errConn) {
			t.Errorf("RoundTrip = %v; want it to match retry.ErrBudgetExhausted and the transport error", err)
		}
	})
	t.Run("a hedged copy spends from the budget, and a refused one is not sent", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			var sent atomic.Int32
			budget := retry.NewBudget(1, 0, time.Minute) // one copy per request
			tr := retryhttp.New(retryhttp.WithBudget(budget), retryhttp.WithHedge(10*time.Millisecond),
				retryhttp.WithBase(baseFunc(func(r *http.Request) (*http.Response, error) {
					sent.Add(1)
					time.Sleep(30 * time.Millisecond)
					return (*bodies)(nil).respond(r, 200, "ok"), nil
				})))
			for range 2 {
				resp, err := tr.RoundTrip(mustRequest(t, "GET", "http://a.test/", nil))
				if err != nil {
					t.Fatal(err)
				}
				resp.Body.Close()
			}
			// Two requests deposited 2; each hedged once.
			if s := budget.Stats(); s.Spent != 2 || sent.Load() != 4 {
				t.Errorf("budget %+v, %d sent; want 2 spent, 4 sent", s, sent.Load())
			}
			// With half a copy per request, the copy is refused and not sent.
			budget2 := retry.NewBudget(0.5, 0, time.Minute) // a fresh one: half a copy
			tr = retryhttp.New(retryhttp.WithBudget(budget2), retryhttp.WithHedge(10*time.Millisecond),
				retryhttp.WithBase(baseFunc(func(r *http.Request) (*http.Response, error) {
					sent.Add(1)
					time.Sleep(30 * time.Millisecond)
					return (*bodies)(nil).respond(r, 200, "ok"), nil
				})))
			sent.Store(0)
			resp, err := tr.RoundTrip(mustRequest(t, "GET", "http://a.test/", nil))
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if s := budget2.Stats(); s.Refused != 1 || sent.Load() != 1 {
				t.Errorf("budget %+v, %d sent; want 1 refused, 1 sent", s, sent.Load())
			}
		})
	})
	t.Run("a budget inside WithRetry is checked without a deposit; WithBudget(nil) panics", func(t *testing.T) {
		budget := retry.NewBudget(1, 0, time.Minute)
		retryhttp.New(retryhttp.WithRetry(retry.WithBudget(budget)))
		if budget.TrySpend() {
			t.Error("building the Transport deposited into the budget")
		}
		defer func() {
			if msg, _ := recover().(string); !strings.HasPrefix(msg, "retryhttp: WithBudget(nil)") {
				t.Errorf("panic = %q; want one naming WithBudget(nil)", msg)
			}
		}()
		retryhttp.New(retryhttp.WithBudget(nil))
	})
}
