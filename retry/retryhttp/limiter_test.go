package retryhttp_test

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"sync"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/async-patterns/async/breaker"
	"github.com/async-patterns/async/limit"
	"github.com/async-patterns/async/retry"
	"github.com/async-patterns/async/retry/retryhttp"
)

// handlerBase is an in-memory base transport that serves each request with
// h, as a server would (the request's ctx included).
func handlerBase(h http.Handler) http.RoundTripper {
	return baseFunc(func(r *http.Request) (*http.Response, error) {
		w := httptest.NewRecorder()
		h.ServeHTTP(w, r)
		resp := w.Result()
		resp.Request = r
		return resp, nil
	})
}

// TestShedAndHonour runs limit.Handler on the server and retryhttp on the
// client: a request the server sheds with 503 and Retry-After is retried
// after exactly that wait, and then served.
func TestShedAndHonour(t *testing.T) {
	t.Run("in memory, on the fake clock", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			var served atomic.Int32
			server := limit.Handler(limit.NewRate(0.5, 1, limit.WithMaxWait(0)), // a token every 2s
				http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { served.Add(1) }))
			var waits []time.Duration
			client := retryhttp.NewClient(retryhttp.WithBase(handlerBase(server)),
				retryhttp.WithRetry(retry.WithBackoff(10*time.Millisecond, 100*time.Millisecond),
					retry.WithOnRetry(func(_ int, _ error, wait time.Duration) { waits = append(waits, wait) })))
			for i := range 2 {
				start := time.Now()
				resp, err := client.Get("http://api.test/")
				if err != nil {
					t.Fatalf("request %d: %v", i, err)
				}
				resp.Body.Close()
				if resp.StatusCode != 200 {
					t.Fatalf("request %d: status %d; want 200", i, resp.StatusCode)
				}
				wantAttempts, wantTook := 1, time.Duration(0)
				if i == 1 {
					wantAttempts, wantTook = 2, 2*time.Second
				}
				if n, took := retryhttp.AttemptsOf(resp), time.Since(start); n != wantAttempts || took != wantTook {
					t.Errorf("request %d: %d attempts in %v; want %d in %v", i, n, took, wantAttempts, wantTook)
				}
			}
			if len(waits) != 1 || waits[0] != 2*time.Second {
				t.Errorf("waits = %v; want [2s] (the server's Retry-After)", waits)
			}
			if served.Load() != 2 {
				t.Errorf("served %d; want 2", served.Load())
			}
		})
	})
	t.Run("over a real connection", func(t *testing.T) {
		var served atomic.Int32
		srv := httptest.NewServer(limit.Handler(limit.NewRate(1, 1, limit.WithMaxWait(0)),
			http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { served.Add(1) })))
		defer srv.Close()
		client := retryhttp.NewClient(retryhttp.WithBase(srv.Client().Transport))
		defer client.CloseIdleConnections()
		resp, err := client.Get(srv.URL)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		start := time.Now()
		resp, err = client.Get(srv.URL) // shed with Retry-After: 1, then served
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != 200 || retryhttp.AttemptsOf(resp) != 2 || served.Load() != 2 {
			t.Errorf("status %d after %d attempts, %d served; want 200 after 2, 2 served", resp.StatusCode, retryhttp.AttemptsOf(resp), served.Load())
		}
		if took := time.Since(start); took < time.Second {
			t.Errorf("the shed request was served after %v; want at least the 1s Retry-After", took)
		}
	})
}

// tally is a limiter that admits everything and counts outcomes.
type tally struct {
	mu  sync.Mutex
	got []limit.Outcome
}

func (l *tally) Acquire(ctx context.Context) (limit.Permit, error) { return limit.Permit{ID: 1}, nil }
func (l *tally) Release(_ limit.Permit, o limit.Outcome) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.got = append(l.got, o)
}

func TestWithLimiters(t *testing.T) {
	t.Run("nil panics naming the option", func(t *testing.T) {
		defer func() {
			if r, _ := recover().(string); r != "retryhttp: WithLimiters(nil): perHost must not be nil" {
				t.Errorf("panic = %q", r)
			}
		}()
		retryhttp.WithLimiters(nil)
	})

	t.Run("one limiter per host, made once", func(t *testing.T) {
		var made sync.Map
		var makes atomic.Int32
		base := baseFunc(func(r *http.Request) (*http.Response, error) { return (*bodies)(nil).respond(r, 200, "ok"), nil })
		client := retryhttp.NewClient(retryhttp.WithBase(base), retryhttp.WithLimiters(func(host string) limit.Limiter {
			makes.Add(1)
			l := limit.NewBulkhead(2)
			made.Store(host, l)
			return l
		}))
		var wg sync.WaitGroup
		for i := range 20 {
			wg.Go(func() {
				host := []string{"a.test", "b.test"}[i%2]
				resp, err := client.Get("http://" + host + "/")
				if err != nil {
					t.Error(err)
					return
				}
				resp.Body.Close()
			})
		}
		wg.Wait()
		if n := makes.Load(); n != 2 {
			t.Errorf("perHost called %d times; want 2", n)
		}
		made.Range(func(host, l any) bool {
			if s := l.(*limit.Bulkhead).Stats(); s.InFlight != 0 {
				t.Errorf("%s: Stats() = %+v; want every permit released", host, s)
			}
			return true
		})
	})

	t.Run("perHost runs outside every lock: it may send through the same client, and a panic in it is not kept", func(t *testing.T) {
		base := baseFunc(func(r *http.Request) (*http.Response, error) { return (*bodies)(nil).respond(r, 200, "ok"), nil })
		var client *http.Client
		var panicked atomic.Bool
		client = retryhttp.NewClient(retryhttp.WithBase(base), retryhttp.WithRetry(retry.WithMaxAttempts(1)),
			retryhttp.WithLimiters(func(host string) limit.Limiter {
				if host == "flaky.test" && !panicked.Swap(true) {
					panic("perHost failed once")
				}
				if host == "app.test" {
					// Learn the host's capacity from a config service,
					// through the same client (another host).
					resp, err := client.Get("http://config.test/capacity")
					if err != nil {
						t.Errorf("Get(config) inside perHost = %v", err)
					} else {
						resp.Body.Close()
					}
				}
				return limit.NewBulkhead(4)
			}))
		done := make(chan struct{})
		go func() {
			defer close(done)
			resp, err := client.Get("http://app.test/")
			if err != nil {
				t.Errorf("Get(app) = %v", err)
				return
			}
			resp.Body.Close()
		}()
		select {
		case <-done:
		case <-time.After(10 * time.Second): // only a deadlock takes this long
			t.Fatal("Get(app) whose perHost sends through the same client never returned: deadlock")
		}
		if _, err := client.Get("http://flaky.test/"); err == nil {
			t.Fatal("Get(flaky) whose perHost panicked = nil error; want the panic")
		}
		resp, err := client.Get("http://flaky.test/")
		if err != nil {
			t.Fatalf("Get(flaky) after perHost's panic = %v; want a new perHost call and a response", err)
		}
		resp.Body.Close()
	})

	t.Run("a refusal sends nothing, is retried after its RetryAfter, and never counts against the breaker", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			var sent atomic.Int32
			base := baseFunc(func(r *http.Request) (*http.Response, error) {
				sent.Add(1)
				return (*bodies)(nil).respond(r, 200, "ok"), nil
			})
			rl := limit.NewRate(1, 1, limit.WithMaxWait(0))
			breakers := breaker.NewGroup(breaker.WithConsecutiveFailures(1))
			client := retryhttp.NewClient(retryhttp.WithBase(base), retryhttp.WithBreakers(breakers),
				retryhttp.WithLimiters(func(string) limit.Limiter { return rl }),
				retryhttp.WithRetry(retry.WithBackoff(time.Millisecond, time.Millisecond)))
			for range 2 {
				resp, err := client.Get("http://api.test/")
				if err != nil {
					t.Fatal(err)
				}
				resp.Body.Close()
			}
			if sent.Load() != 2 {
				t.Errorf("sent %d; want 2 (the refused attempt was not sent)", sent.Load())
			}
			if st := breakers.Get("api.test").State(); st != breaker.Closed {
				t.Errorf("breaker state = %v; want closed", st)
			}
			if c := breakers.Get("api.test").Counts(); c.TotalFailures != 0 {
				t.Errorf("breaker counts = %+v; want no failure", c)
			}
		})
	})

	t.Run("a refusal with no retries left is the error", func(t *testing.T) {
		bh := limit.NewBulkhead(1, limit.WithMaxWaiting(0))
		p, _ := bh.Acquire(t.Context())
		defer bh.Release(p, limit.Success)
		client := retryhttp.NewClient(retryhttp.WithBase(baseFunc(func(r *http.Request) (*http.Response, error) {
			t.Error("a refused request was sent")
			return nil, errors.New("sent")
		})), retryhttp.WithLimiters(func(string) limit.Limiter { return bh }), retryhttp.WithRetry(retry.WithMaxAttempts(1)))
		_, err := client.Get("http://api.test/")
		if !errors.Is(err, limit.ErrRejected) {
			t.Errorf("Get() = %v; want ErrRejected", err)
		}
	})

	t.Run("each attempt is released with its outcome", func(t *testing.T) {
		l := &tally{}
		codes := []int{503, 500, 200}
		var i atomic.Int32
		base := baseFunc(func(r *http.Request) (*http.Response, error) {
			return (*bodies)(nil).respond(r, codes[i.Add(1)-1], "x"), nil
		})
		client := retryhttp.NewClient(retryhttp.WithBase(base), retryhttp.WithLimiters(func(string) limit.Limiter { return l }),
			retryhttp.WithRetry(retry.WithBackoff(time.Microsecond, time.Microsecond)),
			retryhttp.WithRetryIf(func(resp *http.Response, err error) bool { return err != nil || resp.StatusCode >= 500 }))
		resp, err := client.Get("http://api.test/")
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		want := []limit.Outcome{limit.Dropped, limit.Failure, limit.Success}
		if len(l.got) != 3 || l.got[0] != want[0] || l.got[1] != want[1] || l.got[2] != want[2] {
			t.Errorf("outcomes = %v; want %v", l.got, want)
		}

		// A breaker rejection: nothing sent, nothing learnt.
		l.got = nil
		breakers := breaker.NewGroup()
		breakers.Get("down.test").Trip()
		client = retryhttp.NewClient(retryhttp.WithBase(base), retryhttp.WithBreakers(breakers),
			retryhttp.WithLimiters(func(string) limit.Limiter { return l }), retryhttp.WithRetry(retry.WithMaxAttempts(1)))
		if _, err := client.Get("http://down.test/"); !errors.Is(err, breaker.ErrOpen) {
			t.Fatalf("Get() = %v; want ErrOpen", err)
		}
		if len(l.got) != 1 || l.got[0] != limit.Ignored {
			t.Errorf("outcomes = %v; want [ignored]", l.got)
		}
	})
}
