// Chat is a real-time chat server, the Go twin of the FastAPI WebSocket chat
// that asyncio tutorials build: open http://localhost:8080 in a few browser
// tabs and talk, or join from a terminal with the client beside it.
//
//	go run ./examples/chat                       # listens on localhost:8080
//	go run ./examples/chat -addr :9000           # or anywhere else
//	go run ./examples/chat/client -name ada      # a terminal client (WebSocket)
//
// It is a module of its own (examples/chat/go.mod), so that the library's
// go.mod does not require a WebSocket package; go.work at the repository
// root lets the commands above run from there. It uses two packages of this
// library and github.com/coder/websocket:
//   - The page (index.html, embedded) talks over a WebSocket at /ws: it
//     sends messages and receives the room on one connection. When the
//     browser cannot open a WebSocket (or the page is opened with
//     ?transport=sse), it falls back to Server-Sent Events from /events,
//     sending each message with a POST to /send. Both kinds of client are
//     in the same room.
//   - Every connected client has its own bounded [queue.Queue] with the
//     [queue.DropOldest] policy. Broadcasting a message is a TryPut into each
//     queue, which never waits: a client too slow to keep up loses its
//     oldest messages, and the room never waits for it. A client that stops
//     reading altogether is disconnected when one write to it has taken
//     longer than the write timeout (30 s).
//   - Every connection is a [taskgroup.Group] of two tasks. For an SSE
//     stream: one streams the client's queue to the response, one watches
//     for the client leaving and unregisters it at once, even while the
//     streamer is stuck in a write. For a WebSocket: one writes the queue to
//     the socket, one reads what the client sends (and sees it leave).
//   - Every message carries the time the server received it. The room
//     announces who joins and leaves, and keeps the last 50 messages, which
//     a client that joins receives first. The server answers a post with
//     the message's ID, so the page can mark its own messages; a message
//     the server refused stays in the input box with the error.
//
// Ctrl-C shuts the server down gracefully: every stream sends what its queue
// still holds and ends (a WebSocket with a "going away" close), then the
// server waits for its connections to close, cutting off after 5 s the
// clients that stopped reading.
package main

import (
	"context"
	_ "embed"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"os"
	"os/signal"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/async-patterns/async/queue"
	"github.com/async-patterns/async/taskgroup"
)

//go:embed index.html
var indexHTML []byte

// Limits on what a client may post.
const (
	maxName = 32   // bytes; longer names are cut
	maxText = 2000 // bytes; a longer text is refused
)

// historySize is how many of the latest messages a client that joins gets.
const historySize = 50

func main() {
	addr := flag.String("addr", "localhost:8080", "address to listen on")
	flag.Parse()
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	if err := run(ctx, *addr, os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "chat:", err)
		os.Exit(1)
	}
}

// run serves the chat on addr until ctx ends, then shuts down gracefully and
// returns nil. It prints the address it listens on (useful with port 0), one
// line per client that leaves, and anything that went wrong to out.
func run(ctx context.Context, addr string, out io.Writer) error {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return err
	}
	s := newServer(config{}, log.New(out, "chat: ", 0))
	return serve(ctx, ln, s, shutdownGrace)
}

// serve serves s on ln until ctx ends or serving fails. Then it closes the
// room, so that every stream sends what its queue holds and ends, and waits
// up to grace for the connections to go idle and every stream's handler to
// return (http.Server.Shutdown does not wait for WebSockets: their
// connections are hijacked); it closes the ones still busy after that, the
// streams of clients that stopped reading, and returns once every handler
// has returned. An end of ctx is the normal way to stop: serve then returns
// nil.
func serve(ctx context.Context, ln net.Listener, s *server, grace time.Duration) error {
	srv := &http.Server{Handler: s, ReadHeaderTimeout: 10 * time.Second}
	s.log.Printf("listening on http://%s", ln.Addr())
	// Serve closes ln when it returns; this closes it when ctx had ended
	// before Serve could start.
	defer ln.Close()

	g := taskgroup.New(ctx)
	g.Go(func(context.Context) error {
		if err := srv.Serve(ln); !errors.Is(err, http.ErrServerClosed) {
			return err
		}
		return nil
	})
	// The shutdown runs here, not in a second task of g: a group whose ctx
	// has ended starts no more tasks, so a shutdown task whose Go came just
	// after a Ctrl-C would never run, and nothing would stop Serve.
	<-g.Context().Done() // Ctrl-C, or Serve failed
	// End every stream first: Shutdown waits for connections to go idle,
	// and a stream never would.
	s.Close()
	sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), grace)
	defer cancel()
	streamsDone := make(chan struct{})
	go func() {
		s.Wait()
		close(streamsDone)
	}()
	shutErr := srv.Shutdown(sctx)
	// Shutdown does not wait for WebSockets: their connections were
	// hijacked from the server. Wait for their handlers within the grace.
	if shutErr == nil {
		select {
		case <-streamsDone:
		case <-sctx.Done():
			shutErr = sctx.Err()
		}
	}
	if shutErr != nil {
		// A client that stopped reading keeps its stream stuck in a write;
		// closing the connections ends those writes.
		s.log.Printf("closing the connections still busy after %v", grace)
		s.abort()
		shutErr = srv.Close()
	}
	<-streamsDone
	err := g.Wait()
	if ctx.Err() != nil && errors.Is(err, context.Cause(ctx)) {
		err = nil
	}
	if err == nil {
		err = shutErr
	}
	s.log.Printf("stopped")
	return err
}

// shutdownGrace bounds how long run waits for streams to finish sending
// before it closes their connections.
const shutdownGrace = 5 * time.Second

// config tunes a server; the zero value gives the defaults.
type config struct {
	queueSize    int              // events buffered per client; default 64 (history, 50, included)
	writeTimeout time.Duration    // to send one batch to a client before disconnecting it; default 30s
	now          func() time.Time // the clock that stamps messages; default time.Now
}

// The kinds of event the room sends.
const (
	kindMessage = "message" // someone said something
	kindJoin    = "join"    // someone joined the room
	kindLeave   = "leave"   // someone left

	// Over a WebSocket only, to the client that sent a message:
	kindSent  = "sent"  // the message with the client's ref was broadcast with this ID
	kindError = "error" // the message with the client's ref was refused; text says why
)

// message is one event of the room, sent to clients as the JSON data of an
// SSE event or as one WebSocket text message: a chat message, or the
// announcement of a join or a leave; over a WebSocket also the answer to a
// message the client sent (kindSent, kindError).
type message struct {
	ID     uint64 `json:"id,omitempty"`  // messages and kindSent: 1, 2, 3... in the order the room broadcast them
	Ref    uint64 `json:"ref,omitempty"` // kindSent and kindError: the ref the client gave its message
	Kind   string `json:"kind"`          // kindMessage, kindJoin, kindLeave, kindSent or kindError
	Time   int64  `json:"time"`          // when the server received it, in Unix milliseconds
	Name   string `json:"name"`          // who said it, joined or left
	Text   string `json:"text,omitempty"`
	Online int    `json:"online,omitempty"` // joins and leaves: how many are in the room after it
}

// server is the chat: an http.Handler serving the page, /send and /events,
// and the room of connected clients. Close ends every stream; Wait waits for
// their handlers to return.
type server struct {
	cfg config
	log *log.Logger
	mux *http.ServeMux

	mu      sync.Mutex // protects the fields below
	clients map[*client]struct{}
	history []message     // the last historySize messages, oldest first
	nextID  uint64        // ID of the last message broadcast
	nextCID uint64        // ID of the last client that joined
	closed  bool          // set by Close; no client joins after it
	changed chan struct{} // closed and replaced when a client joins or leaves

	streams sync.WaitGroup // one per client that joined, done when its handler returns

	// aborted ends when abort is called: the WebSocket handlers then close
	// their connections at once (http.Server.Close does not reach them).
	aborted context.Context
	abort   context.CancelFunc
}

// client is one connected /events stream or /ws WebSocket.
type client struct {
	id   uint64
	name string // as given in /events?name= or /ws?name=, for the announcements
	q    *queue.Queue[message]
}

// newServer returns a chat server with the given configuration, logging to
// logger (nil: discard).
func newServer(cfg config, logger *log.Logger) *server {
	if cfg.queueSize == 0 {
		cfg.queueSize = 64
	}
	if cfg.writeTimeout == 0 {
		cfg.writeTimeout = 30 * time.Second
	}
	if cfg.now == nil {
		cfg.now = time.Now
	}
	if logger == nil {
		logger = log.New(io.Discard, "", 0)
	}
	s := &server{
		cfg:     cfg,
		log:     logger,
		mux:     http.NewServeMux(),
		clients: make(map[*client]struct{}),
		changed: make(chan struct{}),
	}
	s.aborted, s.abort = context.WithCancel(context.Background())
	s.mux.HandleFunc("GET /{$}", s.servePage)
	s.mux.HandleFunc("POST /send", s.serveSend)
	s.mux.HandleFunc("GET /events", s.serveEvents)
	s.mux.HandleFunc("GET /ws", s.serveWebSocket)
	return s
}

// ServeHTTP serves the page at /, takes messages posted to /send and streams
// them from /events, and talks to WebSocket clients at /ws.
func (s *server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	s.mux.ServeHTTP(w, r)
}

// Close stops the room: no client joins any more, and every stream sends
// what its queue holds, then ends. It does not wait; see Wait.
func (s *server) Close() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return
	}
	s.closed = true
	for c := range s.clients {
		c.q.Close() // graceful: the streamer drains it, then ends
	}
}

// Wait waits until the handler of every stream has returned. Call it after
// Close, and after closing the connections of clients that stopped reading
// (http.Server.Close for SSE streams, abort for WebSockets).
func (s *server) Wait() {
	s.streams.Wait()
}

func (s *server) servePage(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Write(indexHTML)
}

// serveSend takes a form with a name and a text and broadcasts them. It
// answers 204 No Content with the message's ID in the X-Message-Id header.
func (s *server) serveSend(w http.ResponseWriter, r *http.Request) {
	r.Body = http.MaxBytesReader(w, r.Body, 4*maxText)
	if err := r.ParseForm(); err != nil {
		code := http.StatusBadRequest
		if _, ok := errors.AsType[*http.MaxBytesError](err); ok {
			code = http.StatusRequestEntityTooLarge
		}
		http.Error(w, "chat: "+err.Error(), code)
		return
	}
	name := strings.TrimSpace(r.FormValue("name"))
	text := strings.TrimSpace(r.FormValue("text"))
	if err := checkText(name, text); err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	id := s.broadcast(cleanName(name), text, nil, 0)
	w.Header().Set("X-Message-Id", strconv.FormatUint(id, 10))
	w.WriteHeader(http.StatusNoContent)
}

// checkText says why a message cannot be broadcast, or returns nil.
func checkText(name, text string) error {
	switch {
	case text == "":
		return errors.New("chat: empty text")
	case len(text) > maxText || !utf8.ValidString(text) || !utf8.ValidString(name):
		return errors.New("chat: text too long or not UTF-8")
	}
	return nil
}

// cleanName gives a name a default and cuts it to maxName bytes.
func cleanName(name string) string {
	name = strings.ToValidUTF8(strings.TrimSpace(name), "")
	if name == "" {
		return "anonymous"
	}
	if len(name) > maxName {
		name = strings.ToValidUTF8(name[:maxName], "")
	}
	return name
}

// broadcast gives the message an ID and puts it in every client's queue.
// TryPut never waits under DropOldest, so the room's lock is held for a few
// microseconds however slow a client is; holding it while putting makes
// every client receive the messages in the same order. If from is not nil
// (a WebSocket client sent the message with ref), from's queue gets the
// answer (kindSent) right after the message.
// It returns the message's ID.
func (s *server) broadcast(name, text string, from *client, ref uint64) uint64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.nextID++
	m := message{ID: s.nextID, Kind: kindMessage, Time: s.cfg.now().UnixMilli(), Name: name, Text: text}
	if len(s.history) == historySize {
		s.history = slices.Delete(s.history, 0, 1)
	}
	s.history = append(s.history, m)
	s.sendLocked(m)
	if from != nil {
		from.q.TryPut(message{ID: m.ID, Ref: ref, Kind: kindSent, Time: m.Time})
	}
	return m.ID
}

// announceLocked tells the room that c joined or left.
func (s *server) announceLocked(kind string, c *client) {
	s.sendLocked(message{Kind: kind, Time: s.cfg.now().UnixMilli(), Name: c.name, Online: len(s.clients)})
}

// sendLocked puts m in every client's queue.
func (s *server) sendLocked(m message) {
	for c := range s.clients {
		c.q.TryPut(m) // nil, or ErrClosed for a client that is leaving
	}
}

// serveEvents streams the room's messages to one client as Server-Sent
// Events until the client leaves, a write fails, or the server closes.
func (s *server) serveEvents(w http.ResponseWriter, r *http.Request) {
	c, err := s.join(r.URL.Query().Get("name"))
	if err != nil {
		http.Error(w, err.Error(), http.StatusServiceUnavailable)
		return
	}
	defer s.streams.Done()

	// The client is in the room before it sees a response, so whatever is
	// posted after that reaches it.
	h := w.Header()
	h.Set("Content-Type", "text/event-stream")
	h.Set("Cache-Control", "no-cache")
	h.Set("X-Accel-Buffering", "no") // tell proxies not to buffer the stream
	rc := http.NewResponseController(w)
	io.WriteString(w, "retry: 2000\n\n") // browsers reconnect after 2 s
	if err := rc.Flush(); err != nil {
		s.leave(c)
		return
	}

	g := taskgroup.New(r.Context())
	g.Go(func(ctx context.Context) error {
		defer g.Cancel() // the stream is over: stop the watcher too
		return s.stream(ctx, w, rc, c)
	})
	g.Go(func(ctx context.Context) error {
		// The client went away, the stream ended, or a write failed.
		// Unregister now: a streamer stuck writing to a dead client may
		// take until its write deadline to notice.
		<-ctx.Done()
		s.leave(c)
		return nil
	})
	err = g.Wait()
	// The watcher may never have started: a group whose ctx has already
	// ended (the client left at once) starts no more tasks. Leaving twice
	// does nothing, so make sure here.
	s.leave(c)
	if ctx := r.Context(); ctx.Err() != nil && errors.Is(err, context.Cause(ctx)) {
		err = nil // the client left: the normal end
	}
	if err != nil {
		s.log.Printf("client %d: %v", c.id, err)
	}
	if d := c.q.Dropped(); d > 0 {
		s.log.Printf("client %d left; it was too slow to receive %d messages", c.id, d)
	} else {
		s.log.Printf("client %d left", c.id)
	}
}

// stream sends the client's messages until its queue is closed (and
// drained) or ctx ends. It sends whatever has piled up in one write with
// one deadline, so a client that fell behind catches up in one go.
func (s *server) stream(ctx context.Context, w io.Writer, rc *http.ResponseController, c *client) error {
	var buf []byte
	for {
		batch, err := c.q.GetBatch(ctx, c.q.Cap())
		if err != nil {
			if errors.Is(err, queue.ErrClosed) {
				return nil // Close (drained) or leave
			}
			return err // ctx: the client left; not a failure of the group
		}
		buf = buf[:0]
		for _, m := range batch {
			data, _ := json.Marshal(m) // cannot fail: strings and numbers
			if m.ID != 0 {
				buf = fmt.Appendf(buf, "id: %d\n", m.ID)
			}
			buf = fmt.Appendf(buf, "data: %s\n\n", data)
		}
		if err := rc.SetWriteDeadline(time.Now().Add(s.cfg.writeTimeout)); err != nil {
			return err
		}
		if _, err := w.Write(buf); err != nil {
			return fmt.Errorf("too slow or gone: %w", err)
		}
		if err := rc.Flush(); err != nil {
			return fmt.Errorf("too slow or gone: %w", err)
		}
	}
}

// join adds a client to the room, or fails if the server is closed. The
// client's queue starts with the room's history, then the announcement of
// its own join, which the room receives too.
func (s *server) join(name string) (*client, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return nil, errors.New("chat: server is shutting down")
	}
	s.nextCID++
	c := &client{
		id:   s.nextCID,
		name: cleanName(name),
		q:    queue.New[message](s.cfg.queueSize, queue.WithOverflow(queue.DropOldest)),
	}
	for _, m := range s.history {
		c.q.TryPut(m)
	}
	s.clients[c] = struct{}{}
	s.announceLocked(kindJoin, c)
	s.streams.Add(1)
	s.notifyLocked()
	return c, nil
}

// leave removes a client from the room and closes its queue, at once: what
// the queue still held is discarded. Leaving twice does nothing.
func (s *server) leave(c *client) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.clients[c]; !ok {
		return
	}
	delete(s.clients, c)
	c.q.CloseNow()
	if !s.closed {
		s.announceLocked(kindLeave, c)
	}
	s.notifyLocked()
}

func (s *server) notifyLocked() {
	close(s.changed)
	s.changed = make(chan struct{})
}

// room returns the clients in the room and a channel closed at the next
// join or leave: tests wait on it instead of polling.
func (s *server) room() (clients []*client, changed <-chan struct{}) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for c := range s.clients {
		clients = append(clients, c)
	}
	return clients, s.changed
}
