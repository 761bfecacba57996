package limit_test

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/async-patterns/async/limit"
)

// syncRecorder is recorder made safe for concurrent use.
type syncRecorder struct {
	mu sync.Mutex
	recorder
}

func (r *syncRecorder) Acquire(ctx context.Context) (limit.Permit, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.recorder.Acquire(ctx)
}

func (r *syncRecorder) Release(p limit.Permit, o limit.Outcome) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.recorder.Release(p, o)
}

func serve(h http.Handler, r *http.Request) *httptest.ResponseRecorder {
	w := httptest.NewRecorder()
	h.ServeHTTP(w, r)
	return w
}

func TestHandler(t *testing.T) {
	t.Run("nil arguments panic naming them", func(t *testing.T) {
		mustPanic(t, "nil Limiter", func() { limit.Handler(nil, http.NotFoundHandler()) })
		mustPanic(t, "nil next", func() { limit.Handler(limit.NewBulkhead(1), nil) })
	})
	t.Run("a full bulkhead sheds with 503 and Retry-After 1", func(t *testing.T) {
		bh := limit.NewBulkhead(1, limit.WithMaxWaiting(0))
		called := false
		h := limit.Handler(bh, http.HandlerFunc(func(http.ResponseWriter, *http.Request) { called = true }))
		p, _ := bh.Acquire(t.Context())
		w := serve(h, httptest.NewRequest("GET", "/", nil))
		if w.Code != 503 || w.Header().Get("Retry-After") != "1" || called {
			t.Errorf("response %d, Retry-After %q, next called %v; want 503, \"1\", not called", w.Code, w.Header().Get("Retry-After"), called)
		}
		if !strings.Contains(w.Body.String(), "too many waiting") {
			t.Errorf("body = %q; want the reason", w.Body.String())
		}
		bh.Release(p, limit.Success)
		if w := serve(h, httptest.NewRequest("GET", "/", nil)); w.Code != 200 || !called {
			t.Errorf("response with a free slot = %d, next called %v; want 200, called", w.Code, called)
		}
		if s := bh.Stats(); s.InFlight != 0 {
			t.Errorf("Stats() = %+v; want the permit released", s)
		}
	})
	t.Run("a rate limit's Retry-After is its wait rounded up to seconds", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			rl := limit.NewRate(0.4, 1, limit.WithMaxWait(0)) // a token every 2.5s
			h := limit.Handler(rl, http.HandlerFunc(func(http.ResponseWriter, *http.Request) {}))
			serve(h, httptest.NewRequest("GET", "/", nil))
			w := serve(h, httptest.NewRequest("GET", "/", nil))
			if w.Code != 503 || w.Header().Get("Retry-After") != "3" {
				t.Errorf("response %d, Retry-After %q; want 503, \"3\"", w.Code, w.Header().Get("Retry-After"))
			}
		})
	})
	t.Run("a client gone while waiting gets 503 without Retry-After", func(t *testing.T) {
		bh := limit.NewBulkhead(1)
		p, _ := bh.Acquire(t.Context())
		defer bh.Release(p, limit.Success)
		ctx, cancel := context.WithCancel(t.Context())
		cancel()
		w := serve(limit.Handler(bh, http.NotFoundHandler()), httptest.NewRequest("GET", "/", nil).WithContext(ctx))
		if w.Code != 503 || w.Header().Get("Retry-After") != "" {
			t.Errorf("response %d, Retry-After %q; want 503 and none", w.Code, w.Header().Get("Retry-After"))
		}
	})
	t.Run("each permit is released with the outcome the response shows", func(t *testing.T) {
		rec := &syncRecorder{}
		for _, tc := range []struct {
			write func(w http.ResponseWriter)
			want  limit.Outcome
		}{
			{func(w http.ResponseWriter) {}, limit.Success},
			{func(w http.ResponseWriter) { w.Write([]byte("hi")) }, limit.Success},
			{func(w http.ResponseWriter) { w.WriteHeader(404) }, limit.Success},
			{func(w http.ResponseWriter) { w.WriteHeader(103); w.WriteHeader(503) }, limit.Dropped},
			{func(w http.ResponseWriter) { w.WriteHeader(429) }, limit.Dropped},
			{func(w http.ResponseWriter) { w.WriteHeader(504) }, limit.Dropped},
			{func(w http.ResponseWriter) { w.WriteHeader(500) }, limit.Failure},
			{func(w http.ResponseWriter) { w.(http.Flusher).Flush(); w.WriteHeader(500) }, limit.Success},
		} {
			rec.outcomes = nil
			serve(limit.Handler(rec, http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { tc.write(w) })), httptest.NewRequest("GET", "/", nil))
			if len(rec.outcomes) != 1 || rec.outcomes[0] != tc.want {
				t.Errorf("outcomes = %v; want [%v]", rec.outcomes, tc.want)
			}
		}
		// The client leaving during next: Ignored.
		rec.outcomes = nil
		ctx, cancel := context.WithCancel(t.Context())
		serve(limit.Handler(rec, http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { cancel(); w.WriteHeader(500) })),
			httptest.NewRequest("GET", "/", nil).WithContext(ctx))
		if len(rec.outcomes) != 1 || rec.outcomes[0] != limit.Ignored {
			t.Errorf("outcomes after the client left = %v; want [ignored]", rec.outcomes)
		}
		// A panic: Failure, and the panic goes on up.
		rec.outcomes = nil
		func() {
			defer func() {
				if r := recover(); r != "boom" {
					t.Errorf("recover() = %v; want boom", r)
				}
			}()
			serve(limit.Handler(rec, http.HandlerFunc(func(http.ResponseWriter, *http.Request) { panic("boom") })), httptest.NewRequest("GET", "/", nil))
		}()
		if len(rec.outcomes) != 1 || rec.outcomes[0] != limit.Failure {
			t.Errorf("outcomes after a panic = %v; want [failure]", rec.outcomes)
		}
	})
	t.Run("the request's priority reaches the limiter", func(t *testing.T) {
		var got limit.Priority
		l := priorityProbe{&got}
		r := httptest.NewRequest("GET", "/", nil)
		serve(limit.Handler(l, http.NotFoundHandler()), r.WithContext(limit.WithPriority(r.Context(), limit.Low)))
		if got != limit.Low {
			t.Errorf("priority seen by the limiter = %v; want low", got)
		}
	})
	t.Run("http.ResponseController reaches the server's writer", func(t *testing.T) {
		srv := httptest.NewServer(limit.Handler(limit.NewBulkhead(1), http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			rc := http.NewResponseController(w)
			if err := rc.SetWriteDeadline(time.Now().Add(time.Minute)); err != nil {
				t.Errorf("SetWriteDeadline() = %v; want nil", err)
			}
			if err := rc.Flush(); err != nil {
				t.Errorf("Flush() = %v; want nil", err)
			}
		})))
		defer srv.Close()
		resp, err := srv.Client().Get(srv.URL)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
	})
}

type priorityProbe struct{ got *limit.Priority }

func (p priorityProbe) Acquire(ctx context.Context) (limit.Permit, error) {
	*p.got = limit.PriorityFrom(ctx)
	return limit.Permit{}, errors.New("no")
}
func (p priorityProbe) Release(limit.Permit, limit.Outcome) {}
