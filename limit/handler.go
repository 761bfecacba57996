package limit

import (
	"errors"
	"net/http"
	"strconv"
	"time"
)

// Handler sheds load in an HTTP server: it admits each request through l
// before calling next, and answers a request l refuses with 503 Service
// Unavailable and a Retry-After header, so that well-behaved clients
// (retryhttp among them) come back later instead of piling on.
//
//   - Admission: l.Acquire with the request's ctx, so a priority set on it
//     ([WithPriority], by a middleware in front) reaches the limiter.
//   - Refusal ([ErrRejected]): 503, "Retry-After" the rejection's
//     RetryAfter in whole seconds rounded up, at least 1 (HTTP has no
//     finer unit, and 0 would invite an immediate retry), and a short
//     plain-text body. next is not called.
//   - The request's ctx ending while it waits (the client went away): 503
//     without Retry-After (nobody is likely to read it); next is not called.
//   - Release, when next returns, with the outcome its response shows:
//     [Ignored] if the client went away (the request's ctx was cancelled);
//     [Dropped] for 503, 429 and 504 (next or what it called shed the
//     request or ran out of time: overload); [Success] for anything else
//     below 500, [Failure] for the other 5xx. A panic in next releases with
//     [Failure] and goes on up to net/http as usual.
//
// Cost per request: l's Acquire and Release and one small allocation (the
// response writer that records the status). The writer wraps the server's
// own and unwraps to it (http.ResponseController finds Flush, Hijack and
// deadlines through Unwrap).
func Handler(l Limiter, next http.Handler) http.Handler {
	if l == nil {
		panic("limit: Handler: nil Limiter")
	}
	if next == nil {
		panic("limit: Handler: nil next handler")
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ctx := r.Context()
		p, err := l.Acquire(ctx)
		if err != nil {
			refuse(w, err)
			return
		}
		sw := &statusWriter{ResponseWriter: w}
		o := Failure // unless next returns: a panic
		defer func() { l.Release(p, o) }()
		next.ServeHTTP(sw, r)
		o = outcomeOfStatus(ctx.Err() == nil, sw.status())
	})
}

// refuse answers a request that was not admitted.
func refuse(w http.ResponseWriter, err error) {
	var re interface{ RetryAfter() time.Duration }
	if errors.Is(err, ErrRejected) && errors.As(err, &re) {
		w.Header().Set("Retry-After", strconv.FormatInt(retryAfterSeconds(re.RetryAfter()), 10))
	}
	http.Error(w, "503 service unavailable: "+err.Error(), http.StatusServiceUnavailable)
}

// retryAfterSeconds rounds d up to whole seconds, at least 1.
func retryAfterSeconds(d time.Duration) int64 {
	s := int64(d / time.Second)
	if d%time.Second != 0 {
		s++
	}
	return max(s, 1)
}

// outcomeOfStatus is the Outcome of a request whose response had status
// code, live telling whether the client was still there when next returned.
func outcomeOfStatus(live bool, code int) Outcome {
	switch {
	case !live:
		return Ignored
	case code == http.StatusServiceUnavailable || code == http.StatusTooManyRequests || code == http.StatusGatewayTimeout:
		return Dropped
	case code >= 500:
		return Failure
	}
	return Success
}

// statusWriter records the status code of the response written through it.
type statusWriter struct {
	http.ResponseWriter
	code int // 0 until WriteHeader or Write
}

func (w *statusWriter) WriteHeader(code int) {
	if w.code == 0 && code >= 200 { // 1xx are informational: the real status comes later
		w.code = code
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *statusWriter) Write(b []byte) (int, error) {
	if w.code == 0 {
		w.code = http.StatusOK
	}
	return w.ResponseWriter.Write(b)
}

// Unwrap returns the server's writer, for http.ResponseController.
func (w *statusWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// status is the code sent, 200 when next wrote nothing (as net/http sends).
func (w *statusWriter) status() int {
	if w.code == 0 {
		return http.StatusOK
	}
	return w.code
}

// Flush sends what is buffered to the client, as the server's writer
// would; it lets next use w.(http.Flusher).
func (w *statusWriter) Flush() {
	if w.code == 0 {
		w.code = http.StatusOK
	}
	_ = http.NewResponseController(w.ResponseWriter).Flush()
}
