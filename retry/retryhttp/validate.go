package retryhttp

import (
	"errors"
	"fmt"
	"net/http"
)

// ErrInvalidRequest is matched (errors.Is) by the error RoundTrip returns,
// without sending anything, for a request that net/http's own transport
// refuses before it dials (see [Transport] for the list). Such a request is
// the caller's bug: retrying it cannot help, and it says nothing about the
// host, so it is never sent and never counts against the host's breaker.
var ErrInvalidRequest = errors.New("retryhttp: invalid request")

// requestError is the error of a request that RoundTrip refuses.
type requestError struct{ reason string }

func (e *requestError) Error() string {
	return "retryhttp: RoundTrip: invalid request: " + e.reason
}

// Is reports whether target is ErrInvalidRequest.
func (e *requestError) Is(target error) bool { return target == ErrInvalidRequest }

// isHTTP reports whether scheme is one that retryhttp retries and guards:
// the two that http.Transport speaks itself.
func isHTTP(scheme string) bool { return scheme == "http" || scheme == "https" }

// validate returns a *requestError if req, an http or https request, is one
// that http.Transport refuses before dialing, with a reason that names the
// part at fault: a nil Header, a header or trailer field whose name is not
// an HTTP token or whose value holds a control character other than a tab,
// a method that is not a token, a URL without a host. These are the checks
// of net/http's Transport.roundTrip, in its order, so that a request it
// would send is never refused here. A value is not quoted in the reason:
// it may be a secret.
func validate(req *http.Request) error {
	if req.Header == nil {
		return &requestError{"req.Header is nil"}
	}
	if err := validateFields("header", req.Header); err != nil {
		return err
	}
	if err := validateFields("trailer", req.Trailer); err != nil {
		return err
	}
	if req.Method != "" && !isToken(req.Method) {
		return &requestError{fmt.Sprintf("the method %q is not a token", req.Method)}
	}
	if req.URL.Host == "" {
		return &requestError{"no host in the request URL"}
	}
	return nil
}

// validateFields checks the names and values of h, req's header or trailer.
func validateFields(kind string, h http.Header) error {
	for name, values := range h {
		if !isToken(name) {
			return &requestError{fmt.Sprintf("the %s field name %q is not a token", kind, name)}
		}
		for _, v := range values {
			if !validFieldValue(v) {
				return &requestError{fmt.Sprintf("the value of the %s field %q holds a control character", kind, name)}
			}
		}
	}
	return nil
}

// isToken reports whether s is an HTTP token (RFC 9110, section 5.6.2):
// one or more visible ASCII characters other than the delimiters.
func isToken(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		if !tokenByte[s[i]] {
			return false
		}
	}
	return true
}

// tokenByte tells which bytes may appear in a token.
var tokenByte = func() (t [256]bool) {
	for b := '0'; b <= '9'; b++ {
		t[b] = true
	}
	for b := 'a'; b <= 'z'; b++ {
		t[b], t[b-'a'+'A'] = true, true
	}
	for _, b := range []byte("!#$%&'*+-.^_`|~") {
		t[b] = true
	}
	return t
}()

// validFieldValue reports whether v may be sent as a field value: no
// control character but the horizontal tab (as net/http decides; obsolete
// line folding is not sent either).
func validFieldValue(v string) bool {
	for i := 0; i < len(v); i++ {
		if b := v[i]; b < ' ' && b != '\t' || b == 0x7f {
			return false
		}
	}
	return true
}
