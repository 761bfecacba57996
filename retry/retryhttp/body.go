package retryhttp

import (
	"bytes"
	"context"
	"io"
	"net/http"
)

// drainLimit bounds how much of a discarded response body is read so that
// its connection can be reused; a longer body is closed unread (the
// connection is then dropped).
const drainLimit = 64 << 10

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
