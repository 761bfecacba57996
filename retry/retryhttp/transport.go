package retryhttp

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/async-patterns/async/breaker"
	"github.com/async-patterns/async/internal/safe"
	"github.com/async-patterns/async/retry"
)

// PanicError is the error of a request whose base transport panicked. It is
// the module's one panic type, shared with every other package. A panic is
// never retried.
type PanicError = safe.PanicError

// drainLimit bounds how much of a discarded response body is read so that
// its connection can be reused; a longer body is closed unread (the
// connection is then dropped).
const drainLimit = 64 << 10

// Transport is an http.RoundTripper that sends each request through a base
// transport and retries it with the retry package's policy; see the package
// doc for what it retries and how.
//
// A request is retryable when its method is idempotent (GET, HEAD, OPTIONS,
// TRACE, PUT, DELETE), or it carries an Idempotency-Key (or
// X-Idempotency-Key) header, or the Transport was built [WithAllMethods];
// and when its body can be rewound: no body, or a GetBody function, which
// http.NewRequest sets for the usual in-memory bodies. Any other request is
// sent once, still under the per-attempt timeout and the breaker.
//
// Create one with [New]; the zero value is not usable. A Transport is safe
// for concurrent use and keeps no state between requests but the breakers
// it was given. It starts no goroutine except for hedging (see [WithHedge]).
// A first-try success without a per-attempt timeout, breaker or hedge
// allocates nothing beyond what the base transport does.
type Transport struct {
	base          http.RoundTripper
	policy        []retry.Option // for a retryable request
	once          []retry.Option // policy with a single attempt, for any other
	retryIf       func(*http.Response, error) bool
	allMethods    bool
	breakers      *breaker.Group
	hedge         time.Duration
	maxRetryAfter time.Duration
}

// New returns a Transport configured by opts. It panics, with a message that
// starts with "retryhttp: " and names the option, if an option is bad.
func New(opts ...Option) *Transport {
	return newTransport(newConfig("New", opts))
}

// NewClient returns an *http.Client whose Transport is New(opts...). It
// panics as New does.
func NewClient(opts ...Option) *http.Client {
	return &http.Client{Transport: newTransport(newConfig("NewClient", opts))}
}

func newTransport(c config) *Transport {
	t := &Transport{
		base:          c.base,
		policy:        c.policy,
		retryIf:       c.retryIf,
		allMethods:    c.allMethods,
		breakers:      c.breakers,
		hedge:         c.hedge,
		maxRetryAfter: c.maxRetryAfter,
	}
	t.once = append(append(make([]retry.Option, 0, len(c.policy)+1), c.policy...), retry.WithMaxAttempts(1))
	return t
}

// RoundTrip sends req, retrying as the Transport's policy says, and returns
// the response of the first attempt that is not retried, or, when the
// retries run out on a response that would have been retried (a 503, say),
// that last response with a nil error and its body unread, so that the
// caller can read what the server said. [AttemptsOf] tells how many
// attempts a response took.
//
// It returns an error when the last attempt failed without a response (a
// transport error, a breaker rejection, a panic in the base transport), or
// when the request's ctx ended: the error is a *retry.Error, carrying the
// number of attempts, that matches the last attempt's error and, when ctx
// ended, context.Cause(ctx). A request that cannot be hedged
// ([WithHedge]) gets an error without being sent.
//
// The request's ctx bounds the whole, waits included. Between attempts,
// every response not returned is read (up to 64 KiB) and closed, so that
// its connection can be reused. RoundTrip does not modify req; it closes
// req.Body, as a RoundTripper must, even on error. When it returns, every
// goroutine and timer it started has ended, and the only context left alive
// is the one bounding the returned response's body, which Close ends.
func (t *Transport) RoundTrip(req *http.Request) (*http.Response, error) {
	if req == nil {
		return nil, errors.New("retryhttp: RoundTrip: nil *http.Request")
	}
	if req.URL == nil {
		closeBody(req)
		return nil, errors.New("retryhttp: RoundTrip: req.URL is nil")
	}
	c := call{t: t, req: req, ctx: req.Context()}
	opts := t.policy
	if !t.retryable(req) {
		if t.hedge > 0 {
			closeBody(req)
			return nil, t.hedgeError(req)
		}
		opts = t.once
	}
	err := retry.Do(c.ctx, c.attempt, opts...)
	return c.finish(err)
}

// CloseIdleConnections closes the idle connections of the base transport,
// if it has such a method; http.Client.CloseIdleConnections calls it.
func (t *Transport) CloseIdleConnections() {
	if ci, ok := t.base.(interface{ CloseIdleConnections() }); ok {
		ci.CloseIdleConnections()
	}
}

// AttemptsOf returns how many attempts of the retry policy it took to get
// resp from a [Transport]: 1 for the first. It is what a caller logs when
// the retries ran out on a status and RoundTrip returned the last response.
// A hedged attempt counts once. A response that did not come through a
// Transport reports 1; a nil response 0.
//
// The count rides on the context of resp.Request, which the Transport sets
// to the request of the attempt that got resp (as http.Transport does), so
// it survives http.Client, which returns the RoundTripper's response with
// its body wrapped but resp.Request untouched.
func AttemptsOf(resp *http.Response) int {
	if resp == nil {
		return 0
	}
	if resp.Request != nil {
		if n, ok := resp.Request.Context().Value(attemptsKey{}).(int); ok {
			return n
		}
	}
	return 1
}

// attemptsKey is the context key of the attempt count on resp.Request.
type attemptsKey struct{}

// Retryable is the default of [WithRetryIf]: it retries every transport
// error except a failed certificate verification (which repeating cannot
// fix), and the responses 408 Request Timeout, 429 Too Many Requests, 502
// Bad Gateway, 503 Service Unavailable and 504 Gateway Timeout. A breaker
// rejection is retried, after the wait it asks for.
func Retryable(resp *http.Response, err error) bool {
	if err != nil {
		var verify *tls.CertificateVerificationError
		var unknown x509.UnknownAuthorityError
		var invalid x509.CertificateInvalidError
		var hostname x509.HostnameError
		return !errors.As(err, &verify) && !errors.As(err, &unknown) &&
			!errors.As(err, &invalid) && !errors.As(err, &hostname)
	}
	switch resp.StatusCode {
	case http.StatusRequestTimeout, http.StatusTooManyRequests,
		http.StatusBadGateway, http.StatusServiceUnavailable, http.StatusGatewayTimeout:
		return true
	}
	return false
}

// StatusError is the error the retry policy sees for an attempt that got a
// response [WithRetryIf] retries, and the error a breaker sees for a 5xx
// response (see [WithBreakers]). RoundTrip itself never returns it unwrapped:
// when the retries run out on such a response, the response is returned.
type StatusError struct {
	StatusCode int    // the response's status code
	Status     string // the response's status line, such as "503 Service Unavailable"
}

// Error returns "retryhttp: " and the status.
func (e *StatusError) Error() string {
	if e.Status != "" {
		return "retryhttp: " + e.Status
	}
	return fmt.Sprintf("retryhttp: %d %s", e.StatusCode, http.StatusText(e.StatusCode))
}

func statusError(resp *http.Response) *StatusError {
	return &StatusError{StatusCode: resp.StatusCode, Status: resp.Status}
}

// retryable reports whether req may be sent more than once.
func (t *Transport) retryable(req *http.Request) bool {
	if req.Body != nil && req.Body != http.NoBody && req.GetBody == nil {
		return false
	}
	if t.allMethods {
		return true
	}
	switch req.Method {
	case "", http.MethodGet, http.MethodHead, http.MethodOptions, http.MethodTrace,
		http.MethodPut, http.MethodDelete:
		return true
	}
	// As http.Transport decides which requests it may replay.
	_, key := req.Header["Idempotency-Key"]
	_, xkey := req.Header["X-Idempotency-Key"]
	return key || xkey
}

// hedgeError says why req, not retryable, cannot be hedged.
func (t *Transport) hedgeError(req *http.Request) error {
	if req.Body != nil && req.Body != http.NoBody && req.GetBody == nil {
		return fmt.Errorf("retryhttp: RoundTrip: cannot hedge a %s request whose body cannot be rewound (req.GetBody is nil)", req.Method)
	}
	return fmt.Errorf("retryhttp: RoundTrip: cannot hedge a %s request: the method is not idempotent (set an Idempotency-Key header, or build the Transport WithAllMethods)", req.Method)
}

// call is the state of one RoundTrip. It lives on RoundTrip's stack and is
// used by RoundTrip's goroutine only.
type call struct {
	t        *Transport
	req      *http.Request
	ctx      context.Context // req's: bounds the whole
	n        int             // attempts started
	bodyUsed bool            // req.Body has been handed on (to the base, or to a breaker that may reject it)
	won      outcome         // the outcome to return, once an attempt is not retried
	last     outcome         // the last attempt's response, when it was retried (its body read into memory)
}

// outcome is what one request sent to the base transport came back with.
type outcome struct {
	resp   *http.Response
	err    error
	req    *http.Request      // the request as sent
	ctx    context.Context    // req's ctx
	cancel context.CancelFunc // ends ctx; nil when ctx is the caller's
}

// release cancels o's context and closes its body, if any.
func (o *outcome) release() {
	if o.resp != nil {
		o.resp.Body.Close()
		o.resp = nil
	}
	if o.cancel != nil {
		o.cancel()
		o.cancel = nil
	}
}

// attempt is the function retry.Do calls: one attempt, hedged or not. actx
// is the ctx retry gives it: the caller's, or a child with the attempt's
// deadline, which retry cancels when attempt returns.
func (c *call) attempt(actx context.Context) error {
	c.n++
	c.last.release()
	if c.t.hedge > 0 {
		return c.hedged(actx)
	}
	o, err := c.send(actx, false)
	if err != nil {
		return err
	}
	return c.judge(actx, o)
}

// send builds the request of one attempt and sends it. The request's ctx is
// the caller's, or, when the attempt has its own deadline or own is set, a
// child of it that send's caller must cancel. The attempt's deadline is
// copied rather than inherited from actx, which retry cancels when the
// attempt returns, because a response's body must stay readable after that.
func (c *call) send(actx context.Context, own bool) (outcome, error) {
	o, err := c.prepare(actx, own)
	if err != nil {
		return o, err
	}
	o.resp, o.err = c.t.roundTrip(o.ctx, o.req)
	return o, nil
}

// prepare builds the request of one attempt, with its ctx (see send).
func (c *call) prepare(actx context.Context, own bool) (outcome, error) {
	o := outcome{ctx: c.ctx}
	if dl, ok := actx.Deadline(); ok && actx != c.ctx {
		if pdl, pok := c.ctx.Deadline(); !pok || dl.Before(pdl) {
			o.ctx, o.cancel = context.WithDeadline(c.ctx, dl)
		}
	}
	if own && o.cancel == nil {
		o.ctx, o.cancel = context.WithCancel(c.ctx)
	}
	r := c.req
	if o.ctx != c.ctx {
		r = r.WithContext(o.ctx)
	}
	if c.bodyUsed && r.Body != nil && r.Body != http.NoBody {
		body, err := c.req.GetBody()
		if err != nil {
			o.release()
			return o, retry.Permanent(fmt.Errorf("retryhttp: rewinding the request body: req.GetBody: %w", err))
		}
		if r == c.req {
			r = r.WithContext(o.ctx)
		}
		r.Body = body
	}
	c.bodyUsed = true
	o.req = r
	return o, nil
}

// roundTrip sends r through the base transport, guarded by its host's
// breaker if there are breakers. A panic in the base becomes a *PanicError.
func (t *Transport) roundTrip(ctx context.Context, r *http.Request) (*http.Response, error) {
	if t.breakers == nil {
		return t.safeRoundTrip(r)
	}
	var resp *http.Response
	sent := false
	err := t.breakers.Get(r.URL.Host).Do(ctx, func(context.Context) error {
		sent = true
		var err error
		resp, err = t.safeRoundTrip(r)
		if err == nil && resp.StatusCode >= 500 {
			return statusError(resp)
		}
		return err
	})
	if !sent {
		closeBody(r) // rejected: the base never had it
	}
	if resp != nil {
		return resp, nil
	}
	return nil, err
}

// safeRoundTrip calls the base transport, turning a panic (or a Goexit)
// into a *PanicError.
func (t *Transport) safeRoundTrip(r *http.Request) (resp *http.Response, err error) {
	returned := false
	defer func() {
		if !returned {
			resp, err = nil, safe.Recovered(recover())
		}
	}()
	resp, err = t.base.RoundTrip(r)
	returned = true
	if err == nil && resp == nil {
		err = errors.New("retryhttp: the base transport returned neither a response nor an error")
	}
	if err != nil && resp != nil {
		if resp.Body != nil {
			resp.Body.Close()
		}
		resp = nil
	}
	if resp != nil && resp.Body == nil {
		resp.Body = http.NoBody // as http.Client does
	}
	return resp, err
}

// retries reports whether the retry policy would want another attempt
// after o. If the classifier panics, o is released (and retry.Do reports
// the panic).
func (c *call) retries(o *outcome) (again bool) {
	returned := false
	defer func() {
		if !returned {
			o.release()
		}
	}()
	if o.err != nil {
		var p *PanicError
		again = !errors.As(o.err, &p) && c.t.retryIf(nil, o.err)
	} else {
		again = c.t.retryIf(o.resp, nil)
	}
	returned = true
	return again
}

// judge turns the outcome of an attempt into what retry.Do sees: nil for a
// response not to be retried (kept in c.won), the error for a retryable
// failure (a response kept in c.last, its body read into memory), or a
// Permanent error.
func (c *call) judge(actx context.Context, o outcome) error {
	if o.err != nil {
		if o.cancel != nil {
			if o.ctx.Err() == context.DeadlineExceeded && c.ctx.Err() == nil {
				// The attempt's own deadline passed. retry.Do retries such
				// an attempt if it sees actx done, which it is at the same
				// instant; wait for its timer to have fired.
				<-actx.Done()
			}
			o.cancel()
		}
		if !c.retries(&o) {
			return retry.Permanent(o.err)
		}
		return c.limitHint(o.err, o.err)
	}
	if o.resp.Request == nil {
		o.resp.Request = o.req
	}
	if !c.retries(&o) {
		c.won = o
		return nil
	}
	c.hold(&o)
	c.last = o
	err := error(statusError(o.resp))
	if d, ok := parseRetryAfter(o.resp.Header.Get("Retry-After"), time.Now()); ok {
		err = retry.After(d, err)
	}
	return c.limitHint(err, err)
}

// limitHint returns err, made Permanent if hint carries a wait hint longer
// than the Transport allows.
func (c *call) limitHint(err, hint error) error {
	var h interface{ RetryAfter() time.Duration }
	if errors.As(hint, &h) && h.RetryAfter() > c.t.maxRetryAfter {
		return retry.Permanent(err)
	}
	return err
}

// hold reads o's body into memory, up to drainLimit, and closes it, so
// that its connection goes back to the pool during the wait; o.resp.Body
// then reads the same bytes (and the same error, if reading failed). A
// longer body is kept open and read on from where it stopped.
func (c *call) hold(o *outcome) {
	body := o.resp.Body
	data, err := io.ReadAll(io.LimitReader(body, drainLimit+1))
	if err == nil && len(data) > drainLimit {
		o.resp.Body = &heldBody{r: io.MultiReader(bytes.NewReader(data), body), body: body}
		return
	}
	body.Close()
	if o.cancel != nil {
		o.cancel()
		o.cancel = nil
	}
	var r io.Reader = bytes.NewReader(data)
	if err != nil {
		r = io.MultiReader(r, errReader{err})
	}
	o.resp.Body = &heldBody{r: r}
}

// hedged makes one hedged attempt (see WithHedge).
func (c *call) hedged(actx context.Context) error {
	type result struct {
		outcome
		i int // which copy
	}
	results := make(chan result, 2)
	var cancels [2]context.CancelFunc
	t := c.t // the copies' goroutines use t, not c, which stays on the stack
	running, started := 0, 0
	launch := func() error {
		o, err := c.prepare(actx, true)
		if err != nil {
			return err
		}
		i := started
		cancels[i] = o.cancel
		running++
		started++
		go func() {
			defer func() {
				if o.resp == nil && o.err == nil {
					// The base called runtime.Goexit through a breaker,
					// which let it go on: report it, then let it end
					// this goroutine.
					o.err = safe.Recovered(nil)
				}
				results <- result{o, i}
			}()
			o.resp, o.err = t.roundTrip(o.ctx, o.req)
		}()
		return nil
	}
	if err := launch(); err != nil {
		return err
	}
	timer := time.NewTimer(c.t.hedge)
	defer timer.Stop()
	var done [2]bool   // which copies have come back
	var failed outcome // a retryable failure of one copy while the other runs
	defer func() {
		// On every way out, a panicking classifier included: cancel the
		// copies still running and wait for them.
		for i := range started {
			if !done[i] {
				cancels[i]()
			}
		}
		for ; running > 0; running-- {
			loser := <-results
			loser.release()
		}
		failed.release()
	}()
	for {
		select {
		case <-timer.C:
			if started == 1 {
				// If GetBody fails, the first copy goes on alone.
				_ = launch()
			}
		case res := <-results:
			o := res.outcome
			running--
			done[res.i] = true
			if !c.retries(&o) || running == 0 {
				// The winner (the other copy, if any, is cancelled on the
				// way out), or, with no copy left, the attempt's failure:
				// the later one (the first may have failed before the
				// hedge was due).
				return c.judge(actx, o)
			}
			failed.release()
			failed = o
		}
	}
}

// finish turns the end of the retry loop into RoundTrip's result.
func (c *call) finish(err error) (*http.Response, error) {
	if !c.bodyUsed {
		closeBody(c.req)
	}
	o := c.won
	if err != nil {
		if c.last.resp == nil || c.ctx.Err() != nil {
			c.last.release()
			return nil, err
		}
		// The retries ran out on a response: it is the answer.
		o, c.last = c.last, outcome{}
	}
	resp := o.resp
	if c.n > 1 {
		r := resp.Request
		resp.Request = r.WithContext(context.WithValue(r.Context(), attemptsKey{}, c.n))
	}
	if o.cancel != nil {
		resp.Body = cancelOnClose(resp.Body, o.cancel)
	}
	return resp, nil
}

// parseRetryAfter reads a Retry-After header: a number of seconds, or an
// HTTP-date, as a wait from now (0 for a date in the past).
func parseRetryAfter(v string, now time.Time) (time.Duration, bool) {
	v = strings.TrimSpace(v)
	if v == "" {
		return 0, false
	}
	if secs, err := strconv.ParseUint(v, 10, 63); err == nil {
		if secs > uint64(1<<63-1)/uint64(time.Second) {
			return 1<<63 - 1, true
		}
		return time.Duration(secs) * time.Second, true
	}
	if t, err := http.ParseTime(v); err == nil {
		return max(t.Sub(now), 0), true
	}
	return 0, false
}

// closeBody closes r's body, if it has one.
func closeBody(r *http.Request) {
	if r.Body != nil {
		r.Body.Close()
	}
}

// heldBody is the body of a retried response: the bytes read from it, then
// what is left of the original body, if any.
type heldBody struct {
	r    io.Reader
	body io.Closer // the original body, when not all of it was read; else nil
}

func (b *heldBody) Read(p []byte) (int, error) { return b.r.Read(p) }

func (b *heldBody) Close() error {
	b.r = eofReader{}
	if b.body != nil {
		return b.body.Close()
	}
	return nil
}

type errReader struct{ err error }

func (r errReader) Read([]byte) (int, error) { return 0, r.err }

type eofReader struct{}

func (eofReader) Read([]byte) (int, error) { return 0, io.EOF }

// cancelOnClose wraps a response body so that closing it ends the context
// of the request that got it. A 101 response's body stays writable.
func cancelOnClose(body io.ReadCloser, cancel context.CancelFunc) io.ReadCloser {
	if rwc, ok := body.(io.ReadWriteCloser); ok {
		return &cancelRWBody{cancelBody{body, cancel}, rwc}
	}
	return &cancelBody{body, cancel}
}

type cancelBody struct {
	io.ReadCloser
	cancel context.CancelFunc
}

func (b *cancelBody) Close() error {
	err := b.ReadCloser.Close()
	b.cancel()
	return err
}

type cancelRWBody struct {
	cancelBody
	w io.Writer
}

func (b *cancelRWBody) Write(p []byte) (int, error) { return b.w.Write(p) }
