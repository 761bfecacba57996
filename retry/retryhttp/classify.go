package retryhttp

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net/http"
)

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
