package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"os/exec"
	"runtime"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"go.uber.org/goleak"
)

func TestMain(m *testing.M) {
	if os.Getenv("CHAT_TEST_RUN_MAIN") == "1" {
		// TestMainStopsOnInterrupt runs this binary as the chat program.
		os.Args = []string{"chat", "-addr", "127.0.0.1:0"}
		main()
		os.Exit(0)
	}
	goleak.VerifyTestMain(cleanupAfter{m})
}

// cleanupAfter runs the tests, then removes what they left for the whole
// run (the terminal client they built).
type cleanupAfter struct{ m *testing.M }

func (c cleanupAfter) Run() int {
	defer removeClientDir()
	return c.m.Run()
}

// testTimeout bounds every wait in these tests. Nothing waits for time to
// pass: a test waits for an event (a message, a client joining or leaving)
// and only fails if that event has not come after this long.
const testTimeout = 60 * time.Second

func testContext(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(t.Context(), testTimeout)
	t.Cleanup(cancel)
	return ctx
}

// startServer serves a chat server from an httptest server (serveTest).
func startServer(t *testing.T, cfg config) (*server, *httptest.Server) {
	t.Helper()
	s := newServer(cfg, nil)
	return s, serveTest(t, s)
}

// serveTest serves s from an httptest server. The cleanup closes the room,
// so that every stream ends, then the HTTP server, then the WebSockets
// still open (the HTTP server's Close does not reach them). Connections
// accepted get a small send buffer, so that a client that stops reading
// makes the server's writes block after a few kilobytes.
func serveTest(t *testing.T, s *server) *httptest.Server {
	t.Helper()
	ts := httptest.NewUnstartedServer(s)
	ts.Listener = smallSendBuffers{ts.Listener}
	ts.Start()
	t.Cleanup(func() {
		s.Close()
		ts.Close()
		s.abort()
		s.Wait()
	})
	return ts
}

type smallSendBuffers struct{ net.Listener }

func (l smallSendBuffers) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if tc, ok := c.(*net.TCPConn); ok {
		tc.SetWriteBuffer(4096)
	}
	return c, err
}

// sseClient is one browser-like client reading /events.
type sseClient struct {
	msgs  chan message
	err   error         // why the stream ended; read after done is closed
	done  chan struct{} // closed when the stream has ended
	close func()        // disconnects, and waits for the reader to end
}

// connect opens /events on base and returns once the server has answered,
// that is, once the client is in the room. The client receives the chat
// messages posted after it joined: it skips the history and the joins and
// leaves. The cleanup disconnects it.
func connect(t *testing.T, ctx context.Context, hc *http.Client, base string) *sseClient {
	t.Helper()
	joined := false
	return connectAs(t, ctx, hc, base, "", func(m message) bool {
		if !joined {
			joined = m.Kind == kindJoin // the first join is the client's own
			return false
		}
		return m.Kind == kindMessage
	})
}

// connectAs is connect for a client named name that receives every event
// keep returns true for.
func connectAs(t *testing.T, ctx context.Context, hc *http.Client, base, name string, keep func(message) bool) *sseClient {
	t.Helper()
	req, err := http.NewRequestWithContext(ctx, "GET", base+"/events?name="+url.QueryEscape(name), nil)
	if err != nil {
		t.Fatal(err)
	}
	resp, err := hc.Do(req)
	if err != nil {
		t.Fatalf("GET /events: %v", err)
	}
	if resp.StatusCode != http.StatusOK || resp.Header.Get("Content-Type") != "text/event-stream" {
		resp.Body.Close()
		t.Fatalf("GET /events = %s, %q; want 200 OK, text/event-stream", resp.Status, resp.Header.Get("Content-Type"))
	}
	c := &sseClient{msgs: make(chan message), done: make(chan struct{})}
	stop := make(chan struct{})
	go func() {
		defer close(c.done)
		c.err = readEvents(resp.Body, func(m message) bool {
			if !keep(m) {
				return true
			}
			select {
			case c.msgs <- m:
				return true
			case <-stop:
				return false
			}
		})
	}()
	var once sync.Once
	c.close = func() {
		once.Do(func() {
			close(stop)
			resp.Body.Close()
			<-c.done
		})
	}
	t.Cleanup(c.close)
	return c
}

// everything keeps every event.
func everything(message) bool { return true }

// readEvents parses a Server-Sent Events stream, calling got with every
// message until got returns false or the stream ends (nil at EOF).
func readEvents(r io.Reader, got func(message) bool) error {
	sc := bufio.NewScanner(r)
	var data strings.Builder
	for sc.Scan() {
		line := sc.Text()
		switch {
		case strings.HasPrefix(line, "data:"):
			data.WriteString(strings.TrimPrefix(strings.TrimPrefix(line, "data:"), " "))
		case line == "" && data.Len() > 0:
			var m message
			if err := json.Unmarshal([]byte(data.String()), &m); err != nil {
				return fmt.Errorf("event data %q: %v", data.String(), err)
			}
			data.Reset()
			if !got(m) {
				return nil
			}
		}
	}
	return sc.Err()
}

// next returns the client's next message.
func (c *sseClient) next(ctx context.Context) (message, error) {
	select {
	case m := <-c.msgs:
		return m, nil
	case <-c.done:
		return message{}, fmt.Errorf("stream ended: %v", c.err)
	case <-ctx.Done():
		return message{}, fmt.Errorf("no message: %w", ctx.Err())
	}
}

// nextKind returns the client's next event of the given kind, skipping the
// others.
func (c *sseClient) nextKind(ctx context.Context, kind string) (message, error) {
	for {
		m, err := c.next(ctx)
		if err != nil || m.Kind == kind {
			return m, err
		}
	}
}

// post sends a message as the page's form does and checks the answer.
func post(t *testing.T, ctx context.Context, hc *http.Client, base, name, text string) {
	t.Helper()
	if code, body := postForm(ctx, hc, base, url.Values{"name": {name}, "text": {text}}); code != http.StatusNoContent {
		t.Fatalf("POST /send = %d %q; want 204", code, body)
	}
}

func postForm(ctx context.Context, hc *http.Client, base string, form url.Values) (int, string) {
	req, err := http.NewRequestWithContext(ctx, "POST", base+"/send", strings.NewReader(form.Encode()))
	if err != nil {
		return 0, err.Error()
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	resp, err := hc.Do(req)
	if err != nil {
		return 0, err.Error()
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(body)
}

// waitRoom waits until the room's clients satisfy cond, woken by every join
// and leave, and returns them.
func waitRoom(ctx context.Context, s *server, cond func([]*client) bool) ([]*client, error) {
	for {
		clients, changed := s.room()
		if cond(clients) {
			return clients, nil
		}
		select {
		case <-changed:
		case <-ctx.Done():
			return clients, fmt.Errorf("room has %d clients: %w", len(clients), ctx.Err())
		}
	}
}

func TestBroadcast(t *testing.T) {
	t.Run("every message reaches every client, in the same order", func(t *testing.T) {
		ctx := testContext(t)
		_, ts := startServer(t, config{})
		hc := ts.Client()
		const nClients, nPosters, perPoster = 20, 3, 20
		clients := make([]*sseClient, nClients)
		for i := range clients {
			clients[i] = connect(t, ctx, hc, ts.URL)
		}

		// Posters post at the same time, each waiting for its previous
		// message to be accepted before the next.
		var wg sync.WaitGroup
		errs := make(chan string, nPosters)
		for p := range nPosters {
			wg.Go(func() {
				for k := range perPoster {
					form := url.Values{"name": {fmt.Sprint("poster", p)}, "text": {fmt.Sprint(k)}}
					if code, body := postForm(ctx, hc, ts.URL, form); code != http.StatusNoContent {
						errs <- fmt.Sprintf("POST /send = %d %q; want 204", code, body)
						return
					}
				}
			})
		}
		wg.Wait()
		close(errs)
		for e := range errs {
			t.Fatal(e)
		}

		var first []message
		for i, c := range clients {
			var got []message
			next := make(map[string]int) // poster -> next k expected
			for len(got) < nPosters*perPoster {
				m, err := c.next(ctx)
				if err != nil {
					t.Fatalf("client %d after %d messages: %v", i, len(got), err)
				}
				if m.ID != uint64(len(got)+1) {
					t.Fatalf("client %d: message %d has ID %d; want %d", i, len(got)+1, m.ID, len(got)+1)
				}
				if m.Text != fmt.Sprint(next[m.Name]) {
					t.Fatalf("client %d: got %s's message %q; want %d (its messages in the order posted)", i, m.Name, m.Text, next[m.Name])
				}
				next[m.Name]++
				got = append(got, m)
			}
			if i == 0 {
				first = got
			} else if !slices.Equal(got, first) {
				t.Fatalf("client %d received %v;\nclient 0 received %v", i, got, first)
			}
		}
	})

	t.Run("a message keeps what the sender wrote, with the time the server received it", func(t *testing.T) {
		ctx := testContext(t)
		at := time.Date(2026, 12, 2, 9, 30, 15, 0, time.UTC)
		_, ts := startServer(t, config{now: func() time.Time { return at }})
		c := connect(t, ctx, ts.Client(), ts.URL)
		text := "<b>bold</b> \"quotes\" & a\nsecond line: ok ✓"
		post(t, ctx, ts.Client(), ts.URL, "  ann  ", text)
		m, err := c.next(ctx)
		want := message{ID: 1, Kind: kindMessage, Time: at.UnixMilli(), Name: "ann", Text: text}
		if err != nil || m != want {
			t.Fatalf("next() = %+v, %v; want %+v", m, err, want)
		}
	})
}

func TestRoom(t *testing.T) {
	t.Run("a post is answered with the message's ID", func(t *testing.T) {
		ctx := testContext(t)
		_, ts := startServer(t, config{})
		for want := 1; want <= 3; want++ {
			req, _ := http.NewRequestWithContext(ctx, "POST", ts.URL+"/send", strings.NewReader("text=hi"))
			req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
			resp, err := ts.Client().Do(req)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if got := resp.Header.Get("X-Message-Id"); got != fmt.Sprint(want) {
				t.Errorf("POST /send: X-Message-Id = %q; want %q", got, fmt.Sprint(want))
			}
		}
	})

	t.Run("joins and leaves are announced, with the time and how many are online", func(t *testing.T) {
		ctx := testContext(t)
		at := time.Date(2026, 12, 2, 9, 30, 0, 0, time.UTC)
		_, ts := startServer(t, config{now: func() time.Time { return at }})
		hc := ts.Client()
		ann := connectAs(t, ctx, hc, ts.URL, "ann", everything)
		bob := connectAs(t, ctx, hc, ts.URL, " bob ", everything)
		bob.close()
		want := []message{
			{Kind: kindJoin, Time: at.UnixMilli(), Name: "ann", Online: 1},
			{Kind: kindJoin, Time: at.UnixMilli(), Name: "bob", Online: 2},
			{Kind: kindLeave, Time: at.UnixMilli(), Name: "bob", Online: 1},
		}
		for i, w := range want {
			if m, err := ann.next(ctx); err != nil || m != w {
				t.Fatalf("ann's event %d: next() = %+v, %v; want %+v", i+1, m, err, w)
			}
		}
	})

	t.Run("a client with no name is announced as anonymous", func(t *testing.T) {
		ctx := testContext(t)
		_, ts := startServer(t, config{})
		c := connectAs(t, ctx, ts.Client(), ts.URL, "", everything)
		if m, err := c.next(ctx); err != nil || m.Kind != kindJoin || m.Name != "anonymous" {
			t.Fatalf("next() = %+v, %v; want anonymous joining", m, err)
		}
	})

	t.Run("a late joiner receives the last 50 messages, then its own join", func(t *testing.T) {
		ctx := testContext(t)
		_, ts := startServer(t, config{})
		hc := ts.Client()
		for i := 1; i <= 55; i++ {
			post(t, ctx, hc, ts.URL, "ann", fmt.Sprint("message ", i))
		}
		late := connectAs(t, ctx, hc, ts.URL, "cy", everything)
		for id := uint64(6); id <= 55; id++ {
			m, err := late.next(ctx)
			if err != nil || m.Kind != kindMessage || m.ID != id || m.Text != fmt.Sprint("message ", id) || m.Time == 0 {
				t.Fatalf("next() = %+v, %v; want message %d from the history, with its time", m, err, id)
			}
		}
		if m, err := late.next(ctx); err != nil || m.Kind != kindJoin || m.Name != "cy" {
			t.Fatalf("after the history: next() = %+v, %v; want cy's join", m, err)
		}
		post(t, ctx, hc, ts.URL, "ann", "welcome")
		if m, err := late.next(ctx); err != nil || m.ID != 56 || m.Text != "welcome" {
			t.Fatalf("next() = %+v, %v; want message 56, welcome", m, err)
		}
	})
}

func TestStalledClient(t *testing.T) {
	t.Run("a stalled client drops its oldest messages, the room goes on", func(t *testing.T) {
		ctx := testContext(t)
		const queueSize = 4
		s, ts := startServer(t, config{queueSize: queueSize, writeTimeout: 10 * testTimeout})
		hc := ts.Client()
		live := make([]*sseClient, 5)
		for i := range live {
			live[i] = connect(t, ctx, hc, ts.URL)
		}
		liveClients, _ := s.room()

		stalled := dialStalled(t, ts.Listener.Addr().String())
		clients, err := waitRoom(ctx, s, func(cs []*client) bool { return len(cs) == len(live)+1 })
		if err != nil {
			t.Fatal(err)
		}
		var slow *client
		for _, c := range clients {
			if !slices.Contains(liveClients, c) {
				slow = c
			}
		}

		// Post in lock step: every live client must receive each message
		// before the next is posted, while the stalled client's stream
		// fills the socket buffers and then its queue, which drops.
		text := strings.Repeat("x", 1000)
		var n uint64
		// With queues this small, the burst of join announcements may have
		// dropped some of them; count the drops from the first message on.
		baseline := make(map[*client]uint64)
		for n < 2*queueSize || slow.q.Dropped() < 2*queueSize {
			if n == 10000 {
				t.Fatalf("after %d messages the stalled client has dropped %d; want the server to drop its oldest ones", n, slow.q.Dropped())
			}
			n++
			post(t, ctx, hc, ts.URL, "poster", text)
			for i, c := range live {
				m, err := c.next(ctx)
				if err != nil || m.ID != n {
					t.Fatalf("live client %d: next() = message %d, %v; want message %d", i, m.ID, err, n)
				}
			}
			if n == 1 {
				for _, c := range liveClients {
					baseline[c] = c.q.Dropped()
				}
			}
		}
		for _, c := range liveClients {
			if d := c.q.Dropped() - baseline[c]; d != 0 {
				t.Errorf("live client %d: Dropped() went up by %d; want 0", c.id, d)
			}
		}
		if got, _ := s.room(); len(got) != len(live)+1 {
			t.Errorf("room has %d clients; want %d (the stalled one stays until its write deadline)", len(got), len(live)+1)
		}
		t.Logf("%d messages posted; the stalled client dropped %d", n, slow.q.Dropped())
		stalled.Close()
	})

	t.Run("a client stalled past the write timeout is disconnected", func(t *testing.T) {
		ctx := testContext(t)
		// The live client's writes never block, but on a loaded machine its
		// stream may lose the processor between setting a write deadline
		// and writing: at 50ms that once disconnected it. A second is
		// still short enough for the posting loop below.
		s, ts := startServer(t, config{queueSize: 4, writeTimeout: time.Second})
		hc := ts.Client()
		live := connect(t, ctx, hc, ts.URL)
		liveClients, _ := s.room()
		stalled := dialStalled(t, ts.Listener.Addr().String())
		if _, err := waitRoom(ctx, s, func(cs []*client) bool { return len(cs) == 2 }); err != nil {
			t.Fatal(err)
		}

		// Post until the stalled client's write times out and it leaves.
		text := strings.Repeat("y", 1000)
		var n uint64
		for {
			if cs, _ := s.room(); len(cs) == 1 {
				if cs[0] != liveClients[0] {
					t.Fatalf("the live client left the room; want the stalled one to")
				}
				break
			}
			if n == 100000 {
				t.Fatalf("after %d messages the stalled client is still in the room", n)
			}
			n++
			post(t, ctx, hc, ts.URL, "poster", text)
			if m, err := live.next(ctx); err != nil || m.ID != n {
				t.Fatalf("live client: next() = message %d, %v; want message %d", m.ID, err, n)
			}
		}
		stalled.Close()
	})
}

// dialStalled connects a client that asks for /events, reads the response
// header, and then never reads again. Its receive buffer is small, so the
// server's writes to it block soon. The cleanup closes it.
func dialStalled(t *testing.T, addr string) net.Conn {
	t.Helper()
	conn, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	conn.(*net.TCPConn).SetReadBuffer(4096)
	conn.SetDeadline(time.Now().Add(testTimeout))
	if _, err := io.WriteString(conn, "GET /events HTTP/1.1\r\nHost: chat\r\n\r\n"); err != nil {
		t.Fatal(err)
	}
	resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
	if err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("stalled client: GET /events = %v, %v; want 200 OK", resp, err)
	}
	return conn
}

func TestLeaving(t *testing.T) {
	t.Run("a client that disconnects leaves the room", func(t *testing.T) {
		ctx := testContext(t)
		s, ts := startServer(t, config{})
		hc := ts.Client()
		req, _ := http.NewRequestWithContext(ctx, "GET", ts.URL+"/events", nil)
		resp, err := hc.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		other := connect(t, ctx, hc, ts.URL)
		if cs, _ := s.room(); len(cs) != 2 {
			t.Fatalf("room has %d clients; want 2", len(cs))
		}
		resp.Body.Close()
		if _, err := waitRoom(ctx, s, func(cs []*client) bool { return len(cs) == 1 }); err != nil {
			t.Fatal(err)
		}
		post(t, ctx, hc, ts.URL, "ann", "still here?")
		if m, err := other.next(ctx); err != nil || m.Text != "still here?" {
			t.Fatalf("next() = %+v, %v; want the message", m, err)
		}
	})

	t.Run("Close ends every stream and turns new clients away", func(t *testing.T) {
		ctx := testContext(t)
		s, ts := startServer(t, config{})
		hc := ts.Client()
		clients := []*sseClient{connect(t, ctx, hc, ts.URL), connect(t, ctx, hc, ts.URL)}
		post(t, ctx, hc, ts.URL, "ann", "last words")
		s.Close()
		for i, c := range clients {
			// What was queued is still delivered, then the stream ends.
			if m, err := c.next(ctx); err != nil || m.Text != "last words" {
				t.Fatalf("client %d: next() = %+v, %v; want the last message", i, m, err)
			}
			if m, err := c.next(ctx); err == nil || c.err != nil {
				t.Fatalf("client %d: next() = %+v, %v (stream error %v); want the stream to end cleanly", i, m, err, c.err)
			}
		}
		req, _ := http.NewRequestWithContext(ctx, "GET", ts.URL+"/events", nil)
		resp, err := hc.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusServiceUnavailable {
			t.Fatalf("GET /events after Close = %s; want 503", resp.Status)
		}
		if _, err := waitRoom(ctx, s, func(cs []*client) bool { return len(cs) == 0 }); err != nil {
			t.Fatal(err)
		}
	})
}

func TestRequests(t *testing.T) {
	ctx := testContext(t)
	_, ts := startServer(t, config{})
	hc := ts.Client()

	t.Run("the page is served at the root", func(t *testing.T) {
		resp, err := hc.Get(ts.URL + "/")
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK || !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/html") ||
			!strings.Contains(string(body), `new EventSource("events?name=`) {
			t.Fatalf("GET / = %s, %q, %d bytes; want 200 and the page", resp.Status, resp.Header.Get("Content-Type"), len(body))
		}
	})

	t.Run("bad posts are refused", func(t *testing.T) {
		for _, tc := range []struct {
			form url.Values
			want int
		}{
			{url.Values{"name": {"ann"}}, http.StatusBadRequest},
			{url.Values{"name": {"ann"}, "text": {"   "}}, http.StatusBadRequest},
			{url.Values{"text": {strings.Repeat("z", maxText+1)}}, http.StatusBadRequest},
			{url.Values{"text": {"\xff"}}, http.StatusBadRequest},
			{url.Values{"text": {strings.Repeat("z", 10*maxText)}}, http.StatusRequestEntityTooLarge},
			{url.Values{"text": {strings.Repeat("z", maxText)}}, http.StatusNoContent},
		} {
			if code, body := postForm(ctx, hc, ts.URL, tc.form); code != tc.want {
				t.Errorf("POST /send with %.40q = %d %q; want %d", tc.form.Encode(), code, body, tc.want)
			}
		}
	})

	t.Run("names get a default and a length limit", func(t *testing.T) {
		c := connect(t, ctx, hc, ts.URL)
		long := strings.Repeat("é", maxName) // 2 bytes each: the cut falls inside one
		for _, tc := range []struct{ name, want string }{
			{"", "anonymous"},
			{long, strings.Repeat("é", maxName/2)},
		} {
			post(t, ctx, hc, ts.URL, tc.name, "hi")
			if m, err := c.next(ctx); err != nil || m.Name != tc.want {
				t.Errorf("name %q: next() = %+v, %v; want name %q", tc.name, m, err, tc.want)
			}
		}
	})

	t.Run("other methods and paths are refused", func(t *testing.T) {
		for _, tc := range []struct {
			method, path string
			want         int
		}{
			{"GET", "/send", http.StatusMethodNotAllowed},
			{"POST", "/events", http.StatusMethodNotAllowed},
			{"GET", "/nothing", http.StatusNotFound},
		} {
			req, _ := http.NewRequestWithContext(ctx, tc.method, ts.URL+tc.path, nil)
			resp, err := hc.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if resp.StatusCode != tc.want {
				t.Errorf("%s %s = %s; want %d", tc.method, tc.path, resp.Status, tc.want)
			}
		}
	})
}

// lines collects what run prints, line by line.
func lines(t *testing.T) (io.Writer, <-chan string) {
	pr, pw := io.Pipe()
	ch := make(chan string, 100)
	done := make(chan struct{})
	go func() {
		defer close(done)
		defer close(ch)
		sc := bufio.NewScanner(pr)
		for sc.Scan() {
			ch <- sc.Text()
		}
	}()
	t.Cleanup(func() {
		pw.Close()
		pr.Close()
		<-done
	})
	return pw, ch
}

// nextLine returns the next line printed, or fails.
func nextLine(t *testing.T, ctx context.Context, ch <-chan string) string {
	t.Helper()
	select {
	case l, ok := <-ch:
		if !ok {
			t.Fatal("output ended")
		}
		return l
	case <-ctx.Done():
		t.Fatal("nothing printed:", ctx.Err())
	}
	return ""
}

func TestRun(t *testing.T) {
	t.Run("it serves until ctx ends, then ends every stream and returns nil", func(t *testing.T) {
		ctx := testContext(t)
		out, printed := lines(t)
		runCtx, stop := context.WithCancel(ctx)
		defer stop()
		runErr := make(chan error, 1)
		go func() { runErr <- run(runCtx, "127.0.0.1:0", out) }()

		first := nextLine(t, ctx, printed)
		base, ok := strings.CutPrefix(first, "chat: listening on ")
		if !ok {
			t.Fatalf("run printed %q; want the address it listens on", first)
		}
		tr := &http.Transport{}
		defer tr.CloseIdleConnections()
		hc := &http.Client{Transport: tr}
		c := connect(t, ctx, hc, base)
		post(t, ctx, hc, base, "ann", "hello")
		if m, err := c.next(ctx); err != nil || m.Text != "hello" {
			t.Fatalf("next() = %+v, %v; want hello", m, err)
		}

		stop() // Ctrl-C
		select {
		case err := <-runErr:
			if err != nil {
				t.Fatalf("run() = %v; want nil", err)
			}
		case <-ctx.Done():
			t.Fatal("run did not return after ctx ended")
		}
		if m, err := c.next(ctx); err == nil || c.err != nil {
			t.Fatalf("after shutdown: next() = %+v, %v (stream error %v); want the stream to have ended cleanly", m, err, c.err)
		}
		var rest []string
		for range 2 {
			rest = append(rest, nextLine(t, ctx, printed))
		}
		want := []string{"chat: client 1 left", "chat: stopped"}
		if !slices.Equal(rest, want) {
			t.Fatalf("run printed %q; want %q", rest, want)
		}
		if _, err := hc.Get(base + "/"); err == nil {
			t.Fatalf("GET / after run returned: nil error; want the connection refused")
		}
	})

	t.Run("a client that stopped reading does not hold up shutdown", func(t *testing.T) {
		ctx := testContext(t)
		out := new(lockedBuffer)
		s := newServer(config{queueSize: 256, writeTimeout: 10 * testTimeout}, log.New(out, "", 0))
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		serveCtx, stop := context.WithCancel(ctx)
		defer stop()
		serveErr := make(chan error, 1)
		go func() { serveErr <- serve(serveCtx, smallSendBuffers{ln}, s, 100*time.Millisecond) }()

		base := "http://" + ln.Addr().String()
		tr := &http.Transport{}
		defer tr.CloseIdleConnections()
		hc := &http.Client{Transport: tr}
		live := connect(t, ctx, hc, base)
		dialStalled(t, ln.Addr().String())
		clients, err := waitRoom(ctx, s, func(cs []*client) bool { return len(cs) == 2 })
		if err != nil {
			t.Fatal(err)
		}
		// Post until the stalled client's stream is stuck in a write and
		// its queue full: far more than its socket buffers could take in
		// by the time shutdown's grace ends.
		text := strings.Repeat("z", maxText)
		for n := uint64(1); clients[0].q.Dropped()+clients[1].q.Dropped() == 0; n++ {
			if n == 10000 {
				t.Fatalf("after %d messages nothing was dropped; want the stalled client's stream stuck", n)
			}
			post(t, ctx, hc, base, "poster", text)
			if m, err := live.next(ctx); err != nil || m.ID != n {
				t.Fatalf("live client: next() = message %d, %v; want message %d", m.ID, err, n)
			}
		}

		stop() // Ctrl-C
		select {
		case err := <-serveErr:
			if err != nil {
				t.Fatalf("serve() = %v; want nil", err)
			}
		case <-ctx.Done():
			t.Fatal("serve did not return after ctx ended")
		}
		if got := out.String(); !strings.Contains(got, "closing the connections still busy after 100ms") ||
			!strings.Contains(got, "too slow or gone") || !strings.HasSuffix(got, "stopped") {
			t.Fatalf("serve logged:\n%s\nwant the stuck connection closed, its stream's error, and stopped", got)
		}
	})

	t.Run("a ctx that has already ended stops it at once and closes the listener", func(t *testing.T) {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		defer ln.Close()
		ctx, stop := context.WithCancel(testContext(t))
		stop()
		if err := serve(ctx, ln, newServer(config{}, nil), time.Second); err != nil {
			t.Fatalf("serve() = %v; want nil", err)
		}
		if conn, err := net.Dial("tcp", ln.Addr().String()); err == nil {
			conn.Close()
			t.Fatal("dialing the listener after serve returned: nil error; want the connection refused")
		}
	})

	t.Run("it returns however soon after starting ctx ends", func(t *testing.T) {
		// ctx ends at a different moment of serve's start each time, from
		// a goroutine woken by the first line serve prints: before, while
		// and after it starts serving. The old serve, whose shutdown was a
		// second task of its group, never stopped when ctx ended between
		// its two Go calls: the group started no shutdown task, and Serve
		// ran on.
		testCtx := testContext(t)
		var sink atomic.Uint64
		for i := range 400 {
			ln, err := net.Listen("tcp", "127.0.0.1:0")
			if err != nil {
				t.Fatal(err)
			}
			ctx, stop := context.WithCancel(testCtx)
			spins := i % 100 * 4
			logged := writerFunc(func(p []byte) (int, error) {
				if bytes.HasPrefix(p, []byte("listening on ")) {
					go func() {
						for range spins {
							sink.Add(1)
						}
						stop()
					}()
				}
				return len(p), nil
			})
			served := make(chan error, 1)
			go func() { served <- serve(ctx, ln, newServer(config{}, log.New(logged, "", 0)), time.Second) }()
			select {
			case err := <-served:
				if err != nil {
					t.Fatalf("serve() = %v; want nil", err)
				}
			case <-testCtx.Done():
				t.Fatalf("serve did not return after ctx ended (try %d, ctx ended after %d spins)", i, spins)
			}
			stop()
			ln.Close()
		}
	})

	t.Run("a bad address is an error", func(t *testing.T) {
		if err := run(t.Context(), "127.0.0.1:-1", io.Discard); err == nil {
			t.Fatal("run(127.0.0.1:-1) = nil; want an error")
		}
	})
}

func TestMainStopsOnInterrupt(t *testing.T) {
	if runtime.GOOS == "windows" {
		t.Skip("os.Interrupt cannot be sent to a process on Windows")
	}
	ctx := testContext(t)
	cmd := exec.CommandContext(ctx, os.Args[0], "-test.run=^$")
	// Under -race, a process sleeps 1 s at exit unless told not to.
	cmd.Env = append(os.Environ(), "CHAT_TEST_RUN_MAIN=1", "GORACE="+os.Getenv("GORACE")+" atexit_sleep_ms=0")
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	var stderr strings.Builder
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	sc := bufio.NewScanner(stdout)
	var got []string
	for sc.Scan() {
		got = append(got, sc.Text())
		if len(got) == 1 {
			base, ok := strings.CutPrefix(got[0], "chat: listening on ")
			if !ok {
				break
			}
			// The program serves, then stops on Ctrl-C.
			tr := &http.Transport{}
			resp, err := (&http.Client{Transport: tr}).Get(base + "/")
			if err != nil {
				t.Errorf("GET /: %v", err)
			} else {
				resp.Body.Close()
			}
			tr.CloseIdleConnections()
			cmd.Process.Signal(os.Interrupt)
		}
	}
	err = cmd.Wait()
	want := []string{"chat: stopped"}
	if len(got) > 0 {
		want = append([]string{got[0]}, want...)
	}
	if err != nil || !slices.Equal(got, want) || !strings.HasPrefix(got[0], "chat: listening on http://127.0.0.1:") {
		t.Fatalf("chat printed %q, stderr %q, exit %v; want %q and exit 0", got, stderr.String(), err, want)
	}
}

// writerFunc is an io.Writer made of a function.
type writerFunc func(p []byte) (int, error)

func (f writerFunc) Write(p []byte) (int, error) { return f(p) }

// lockedBuffer is a bytes.Buffer safe for concurrent use, for output read
// while it is being written.
type lockedBuffer struct {
	mu  sync.Mutex // protects buf
	buf bytes.Buffer
}

func (b *lockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *lockedBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return strings.TrimSpace(b.buf.String())
}
