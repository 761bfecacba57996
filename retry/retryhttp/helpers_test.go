package retryhttp_test

import (
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"go.uber.org/goleak"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

// baseFunc is an in-memory base transport: a function.
type baseFunc func(r *http.Request) (*http.Response, error)

func (f baseFunc) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }

// body is a response body that records whether it was closed.
type body struct {
	io.Reader
	closed atomic.Bool
}

func (b *body) Close() error {
	b.closed.Store(true)
	return nil
}

// bodies collects the bodies a base handed out.
type bodies struct {
	mu  sync.Mutex
	all []*body
}

// respond returns a response to r with code and text, and headers given as
// name, value pairs; its body is recorded in bs (if not nil).
func (bs *bodies) respond(r *http.Request, code int, text string, header ...string) *http.Response {
	b := &body{Reader: strings.NewReader(text)}
	if bs != nil {
		bs.mu.Lock()
		bs.all = append(bs.all, b)
		bs.mu.Unlock()
	}
	h := http.Header{}
	for i := 0; i+1 < len(header); i += 2 {
		h.Set(header[i], header[i+1])
	}
	return &http.Response{
		StatusCode: code,
		Status:     fmt.Sprintf("%d %s", code, http.StatusText(code)),
		Header:     h,
		Body:       b,
		Request:    r,
	}
}

// open returns how many bodies were not closed.
func (bs *bodies) open() int {
	bs.mu.Lock()
	defer bs.mu.Unlock()
	n := 0
	for _, b := range bs.all {
		if !b.closed.Load() {
			n++
		}
	}
	return n
}

// readAll reads and closes resp's body.
func readAll(t *testing.T, resp *http.Response) string {
	t.Helper()
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("reading the body: %v", err)
	}
	return string(b)
}

// mustGet builds a GET request of url.
func mustRequest(t *testing.T, method, url string, body io.Reader) *http.Request {
	t.Helper()
	req, err := http.NewRequest(method, url, body)
	if err != nil {
		t.Fatal(err)
	}
	return req
}
