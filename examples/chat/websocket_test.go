package main

import (
	"context"
	"encoding/json"
	"fmt"
	"log"
	"net"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"
)

// wsClient is a WebSocket client of the room, as the page and the terminal
// client are.
type wsClient struct {
	conn *websocket.Conn
}

// dialWS joins the room at base (an http:// URL) over a WebSocket as name.
// hc, when not nil, is the HTTP client that dials. The cleanup closes the
// connection at once.
func dialWS(t *testing.T, ctx context.Context, base, name string, hc *http.Client) *wsClient {
	t.Helper()
	u := "ws" + strings.TrimPrefix(base, "http") + "/ws?name=" + url.QueryEscape(name)
	conn, resp, err := websocket.Dial(ctx, u, &websocket.DialOptions{HTTPClient: hc})
	if err != nil {
		t.Fatalf("dialing %s: %v", u, err)
	}
	if resp.StatusCode != http.StatusSwitchingProtocols {
		t.Fatalf("dialing %s: %s; want 101 Switching Protocols", u, resp.Status)
	}
	conn.SetReadLimit(1 << 20)
	t.Cleanup(func() { conn.CloseNow() })
	return &wsClient{conn: conn}
}

// next returns the next event the server sent.
func (c *wsClient) next(ctx context.Context) (message, error) {
	_, data, err := c.conn.Read(ctx)
	if err != nil {
		return message{}, err
	}
	var m message
	if err := json.Unmarshal(data, &m); err != nil {
		return message{}, fmt.Errorf("event %q: %v", data, err)
	}
	return m, nil
}

// nextKind returns the next event of the given kind, skipping the others.
func (c *wsClient) nextKind(ctx context.Context, kind string) (message, error) {
	for {
		m, err := c.next(ctx)
		if err != nil || m.Kind == kind {
			return m, err
		}
	}
}

// send sends one chat message as the page does.
func (c *wsClient) send(ctx context.Context, in incoming) error {
	data, _ := json.Marshal(in)
	return c.conn.Write(ctx, websocket.MessageText, data)
}

func TestWebSocket(t *testing.T) {
	t.Run("a WebSocket client joins, sends, and receives the broadcast", func(t *testing.T) {
		ctx := testContext(t)
		at := time.Date(2026, 12, 7, 9, 0, 0, 0, time.UTC)
		_, ts := startServer(t, config{now: func() time.Time { return at }})
		hc := ts.Client()
		sse := connectAs(t, ctx, hc, ts.URL, "sam", everything)
		ada := dialWS(t, ctx, ts.URL, "ada", nil)
		bob := dialWS(t, ctx, ts.URL, "bob", nil)
		ms := at.UnixMilli()

		want := []message{
			{Kind: kindJoin, Time: ms, Name: "ada", Online: 2},
			{Kind: kindJoin, Time: ms, Name: "bob", Online: 3},
		}
		for i, w := range want {
			if m, err := ada.next(ctx); err != nil || m != w {
				t.Fatalf("ada's event %d: next() = %+v, %v; want %+v", i+1, m, err, w)
			}
		}
		if err := ada.send(ctx, incoming{Ref: 7, Text: " hello over a WebSocket "}); err != nil {
			t.Fatal(err)
		}
		said := message{ID: 1, Kind: kindMessage, Time: ms, Name: "ada", Text: "hello over a WebSocket"}
		// The sender gets the message, then the answer to its ref.
		if m, err := ada.next(ctx); err != nil || m != said {
			t.Fatalf("ada: next() = %+v, %v; want %+v", m, err, said)
		}
		if m, err := ada.next(ctx); err != nil || m != (message{ID: 1, Ref: 7, Kind: kindSent, Time: ms}) {
			t.Fatalf("ada: next() = %+v, %v; want the answer to ref 7: sent as message 1", m, err)
		}
		// Every other client gets it, over either transport.
		if m, err := bob.nextKind(ctx, kindMessage); err != nil || m != said {
			t.Fatalf("bob: next message = %+v, %v; want %+v", m, err, said)
		}
		if m, err := sse.nextKind(ctx, kindMessage); err != nil || m != said {
			t.Fatalf("sam (SSE): next message = %+v, %v; want %+v", m, err, said)
		}
		// A message posted by an SSE client reaches the WebSocket clients,
		// and a WebSocket client may send under another name.
		post(t, ctx, hc, ts.URL, "sam", "hi from SSE")
		if err := bob.send(ctx, incoming{Ref: 1, Name: "robert", Text: "hi from bob"}); err != nil {
			t.Fatal(err)
		}
		for _, w := range []message{
			{ID: 2, Kind: kindMessage, Time: ms, Name: "sam", Text: "hi from SSE"},
			{ID: 3, Kind: kindMessage, Time: ms, Name: "robert", Text: "hi from bob"},
		} {
			if m, err := ada.next(ctx); err != nil || m != w {
				t.Fatalf("ada: next() = %+v, %v; want %+v", m, err, w)
			}
		}
	})

	t.Run("a refused message is answered with the reason, and the connection stays", func(t *testing.T) {
		ctx := testContext(t)
		_, ts := startServer(t, config{})
		ada := dialWS(t, ctx, ts.URL, "ada", nil)
		for _, tc := range []struct {
			typ  websocket.MessageType
			data string
			want string
		}{
			{websocket.MessageText, `{"ref": 1, "text": "   "}`, "chat: empty text"},
			{websocket.MessageText, fmt.Sprintf(`{"ref": 2, "text": %q}`, strings.Repeat("z", maxText+1)), "chat: text too long or not UTF-8"},
			{websocket.MessageText, `not json`, "chat: bad message: "},
			{websocket.MessageBinary, `{"ref": 5, "text": "hi"}`, "chat: send JSON text messages"},
		} {
			if err := ada.conn.Write(ctx, tc.typ, []byte(tc.data)); err != nil {
				t.Fatal(err)
			}
			m, err := ada.nextKind(ctx, kindError)
			if err != nil || !strings.HasPrefix(m.Text, tc.want) {
				t.Errorf("sending %.40q: answer %+v, %v; want an error starting %q", tc.data, m, err, tc.want)
			}
		}
		if err := ada.send(ctx, incoming{Ref: 6, Text: "still here"}); err != nil {
			t.Fatal(err)
		}
		if m, err := ada.nextKind(ctx, kindSent); err != nil || m.Ref != 6 || m.ID != 1 {
			t.Fatalf("after the refusals: answer %+v, %v; want ref 6 sent as message 1", m, err)
		}
	})

	t.Run("a client that closes leaves the room, and the room is told", func(t *testing.T) {
		ctx := testContext(t)
		s, ts := startServer(t, config{})
		ada := dialWS(t, ctx, ts.URL, "ada", nil)
		bob := dialWS(t, ctx, ts.URL, "bob", nil)
		if m, err := ada.nextKind(ctx, kindJoin); err != nil || m.Name != "ada" {
			t.Fatalf("ada: %+v, %v; want her own join", m, err)
		}
		if m, err := ada.nextKind(ctx, kindJoin); err != nil || m.Name != "bob" {
			t.Fatalf("ada: %+v, %v; want bob's join", m, err)
		}
		if err := bob.conn.Close(websocket.StatusNormalClosure, "bye"); err != nil {
			t.Fatalf("bob: Close() = %v; want the server to answer the close", err)
		}
		if m, err := ada.nextKind(ctx, kindLeave); err != nil || m.Name != "bob" || m.Online != 1 {
			t.Fatalf("ada: %+v, %v; want bob's leave, 1 online", m, err)
		}
		if _, err := waitRoom(ctx, s, func(cs []*client) bool { return len(cs) == 1 }); err != nil {
			t.Fatal(err)
		}
	})

	t.Run("Close sends what is queued, then says going away", func(t *testing.T) {
		ctx := testContext(t)
		s, ts := startServer(t, config{})
		ada := dialWS(t, ctx, ts.URL, "ada", nil)
		post(t, ctx, ts.Client(), ts.URL, "sam", "last words")
		s.Close()
		if m, err := ada.nextKind(ctx, kindMessage); err != nil || m.Text != "last words" {
			t.Fatalf("next message = %+v, %v; want the last words", m, err)
		}
		_, err := ada.next(ctx)
		if got := websocket.CloseStatus(err); got != websocket.StatusGoingAway {
			t.Fatalf("after Close: next() = %v (status %v); want a close with StatusGoingAway", err, got)
		}
		if _, err := waitRoom(ctx, s, func(cs []*client) bool { return len(cs) == 0 }); err != nil {
			t.Fatal(err)
		}
	})

	t.Run("no WebSocket joins once the server is closing", func(t *testing.T) {
		ctx := testContext(t)
		s, ts := startServer(t, config{})
		s.Close()
		_, resp, err := websocket.Dial(ctx, "ws"+strings.TrimPrefix(ts.URL, "http")+"/ws", nil)
		if err == nil || resp == nil || resp.StatusCode != http.StatusServiceUnavailable {
			t.Fatalf("dialing after Close: %v, %v; want 503", resp, err)
		}
	})
}

// stalledWS joins the room over a WebSocket with a small receive buffer and
// never reads: the server's writes to it block after a few kilobytes.
func stalledWS(t *testing.T, ctx context.Context, base string) *wsClient {
	t.Helper()
	dialer := &net.Dialer{}
	tr := &http.Transport{DialContext: func(ctx context.Context, network, addr string) (net.Conn, error) {
		c, err := dialer.DialContext(ctx, network, addr)
		if tc, ok := c.(*net.TCPConn); ok {
			tc.SetReadBuffer(4096)
		}
		return c, err
	}}
	t.Cleanup(tr.CloseIdleConnections)
	return dialWS(t, ctx, base, "slow", &http.Client{Transport: tr})
}

func TestSlowWebSocketClient(t *testing.T) {
	t.Run("a client that stops reading is dropped, and the others get every message meanwhile", func(t *testing.T) {
		ctx := testContext(t)
		const queueSize = 4
		// On a loaded machine a stream may lose the processor between its
		// deadline and its write: a second keeps the fast client safe.
		out := new(lockedBuffer)
		s := newServer(config{queueSize: queueSize, writeTimeout: time.Second}, log.New(out, "", 0))
		ts := serveTest(t, s)
		hc := ts.Client()
		fast := dialWS(t, ctx, ts.URL, "fast", nil)
		if m, err := fast.nextKind(ctx, kindJoin); err != nil || m.Name != "fast" {
			t.Fatalf("fast: %+v, %v; want its own join", m, err)
		}
		fastClients, _ := s.room()
		stalledWS(t, ctx, ts.URL)
		clients, err := waitRoom(ctx, s, func(cs []*client) bool { return len(cs) == 2 })
		if err != nil {
			t.Fatal(err)
		}
		slow := clients[0]
		if slow == fastClients[0] {
			slow = clients[1]
		}
		if m, err := fast.nextKind(ctx, kindJoin); err != nil || m.Name != "slow" {
			t.Fatalf("fast: %+v, %v; want slow's join", m, err)
		}

		// Post in lock step: the fast client must receive each message
		// before the next is posted. Count what it receives while the slow
		// client is stalled: from the first message the slow one's queue
		// dropped (its writer is stuck) to the server disconnecting it.
		text := strings.Repeat("x", 1000)
		var n, stalledFrom, during uint64
		var left *message // slow's leave, as the fast client received it
		for {
			if cs, _ := s.room(); len(cs) == 1 {
				if cs[0] != fastClients[0] {
					t.Fatal("the fast client left the room; want the slow one to")
				}
				break
			}
			if n == 100000 {
				t.Fatalf("after %d messages the slow client is still in the room (dropped %d)", n, slow.q.Dropped())
			}
			n++
			post(t, ctx, hc, ts.URL, "poster", text)
			m, err := fast.next(ctx)
			if err == nil && m.Kind == kindLeave {
				l := m // the leave may come before the message
				left = &l
				m, err = fast.next(ctx)
			}
			if err != nil || m.ID != n {
				t.Fatalf("fast client: next() = %+v, %v; want message %d", m, err, n)
			}
			if stalledFrom == 0 && slow.q.Dropped() > 0 {
				stalledFrom = n
			}
			if stalledFrom != 0 {
				during++
			}
		}
		if stalledFrom == 0 {
			t.Fatal("the slow client left before its queue dropped anything; want it stalled first")
		}
		if want := n - stalledFrom + 1; during != want {
			t.Errorf("while the slow client was stalled, the fast client received %d messages; want all %d posted", during, want)
		}
		if d := fastClients[0].q.Dropped(); d != 0 {
			t.Errorf("fast client: Dropped() = %d; want 0", d)
		}
		// The room is told, and the server says why.
		if left == nil {
			m, err := fast.nextKind(ctx, kindLeave)
			if err != nil {
				t.Fatalf("fast: %v; want slow's leave", err)
			}
			left = &m
		}
		if left.Name != "slow" || left.Online != 1 {
			t.Fatalf("fast received the leave %+v; want slow's, 1 online", *left)
		}
		t.Logf("%d messages posted; %d while the slow client was stalled, all received by the fast one; the slow one dropped %d", n, during, slow.q.Dropped())
		s.Close()
		if _, err := fast.nextKind(ctx, "none"); websocket.CloseStatus(err) != websocket.StatusGoingAway {
			t.Fatalf("fast: %v; want a close with StatusGoingAway", err)
		}
		s.Wait()
		if got := out.String(); !strings.Contains(got, fmt.Sprintf("client %d: too slow or gone", slow.id)) {
			t.Errorf("the server logged:\n%s\nwant the slow client's write timing out", got)
		}
	})

	t.Run("a WebSocket client that stopped reading does not hold up shutdown", func(t *testing.T) {
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
		live := dialWS(t, ctx, base, "live", nil)
		stalledWS(t, ctx, base)
		clients, err := waitRoom(ctx, s, func(cs []*client) bool { return len(cs) == 2 })
		if err != nil {
			t.Fatal(err)
		}
		text := strings.Repeat("z", maxText)
		for n := uint64(1); clients[0].q.Dropped()+clients[1].q.Dropped() == 0; n++ {
			if n == 10000 {
				t.Fatalf("after %d messages nothing was dropped; want the stalled client's writer stuck", n)
			}
			post(t, ctx, hc, base, "poster", text)
			if m, err := live.nextKind(ctx, kindMessage); err != nil || m.ID != n {
				t.Fatalf("live client: next message = %d, %v; want message %d", m.ID, err, n)
			}
		}

		stop() // Ctrl-C
		select {
		case err := <-serveErr:
			if err != nil {
				t.Fatalf("serve() = %v; want nil", err)
			}
		case <-ctx.Done():
			t.Fatal("serve did not return after ctx ended: the stalled WebSocket held it up")
		}
		if got := out.String(); !strings.Contains(got, "closing the connections still busy after 100ms") || !strings.HasSuffix(got, "stopped") {
			t.Fatalf("serve logged:\n%s\nwant the stuck connection closed, and stopped", got)
		}
		// The live client was told the server is going away.
		for {
			if _, err := live.next(ctx); err != nil {
				if got := websocket.CloseStatus(err); got != websocket.StatusGoingAway {
					t.Fatalf("live client: %v (status %v); want a close with StatusGoingAway", err, got)
				}
				break
			}
		}
	})
}
