package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"sync/atomic"
	"time"

	"github.com/coder/websocket"

	"github.com/async-patterns/async/queue"
	"github.com/async-patterns/async/taskgroup"
)

// maxFrame bounds a message a WebSocket client sends: the JSON of a text of
// maxText bytes, escaped. A larger one closes the connection
// (websocket.StatusMessageTooBig).
const maxFrame = 8 * maxText

// incoming is what a WebSocket client sends: one JSON text message per chat
// message. Ref is the client's own number for it, returned in the answer
// (kindSent with the message's ID, or kindError with the reason); Name,
// when empty, is the name the client joined with.
type incoming struct {
	Ref  uint64 `json:"ref"`
	Name string `json:"name"`
	Text string `json:"text"`
}

// serveWebSocket talks to one client over a WebSocket until the client
// leaves, a write fails or times out, or the server closes. The room's
// events go out as one JSON text message each, from the same DropOldest
// queue an SSE stream reads; what the client sends comes in as incoming
// values and is broadcast.
func (s *server) serveWebSocket(w http.ResponseWriter, r *http.Request) {
	c, err := s.join(r.URL.Query().Get("name"))
	if err != nil {
		http.Error(w, err.Error(), http.StatusServiceUnavailable)
		return
	}
	defer s.streams.Done()
	// The client is in the room before the handshake ends, so whatever is
	// posted after that reaches it.
	conn, err := websocket.Accept(w, r, nil)
	if err != nil {
		s.leave(c) // Accept has answered the request with the reason
		s.log.Printf("client %d: %v", c.id, err)
		return
	}
	defer conn.CloseNow()
	conn.SetReadLimit(maxFrame)

	// The connection was hijacked: http.Server.Close no longer reaches it,
	// so the server's abort cancels it too.
	ctx, cancel := context.WithCancel(r.Context())
	defer cancel()
	defer context.AfterFunc(s.aborted, cancel)()

	// Set (before the connection is closed) when a write took longer than
	// writeTimeout: the reader then leaves the reason to the writer.
	var tooSlow atomic.Bool
	g := taskgroup.New(ctx)
	g.Go(func(ctx context.Context) error {
		if err := s.writeWebSocket(ctx, conn, c, &tooSlow); err != nil {
			return err // the group's ctx ends: the reader stops too
		}
		// The queue was closed: the server is shutting down (and the queue
		// drained), or the client left. Say goodbye; the reader sees the
		// client's answer and ends.
		code, reason := websocket.StatusNormalClosure, ""
		if s.isClosed() {
			code, reason = websocket.StatusGoingAway, "server shutting down"
		}
		conn.Close(code, reason)
		return nil
	})
	g.Go(func(ctx context.Context) error {
		// The client closed, went away, or the writer gave up: leave now,
		// so the room stops queueing for it and the writer ends.
		defer s.leave(c)
		return s.readWebSocket(ctx, conn, c, &tooSlow)
	})
	err = g.Wait()
	// As in serveEvents: the reader may never have started.
	s.leave(c)
	if ctx.Err() != nil && errors.Is(err, context.Cause(ctx)) {
		err = nil // the client left, or the server aborted: the normal end
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

// writeWebSocket sends the client's messages until its queue is closed (and
// drained: nil) or ctx ends. What has piled up goes out under one deadline,
// writeTimeout: a client that stopped reading fills the socket's buffers,
// the write blocks, and when the deadline passes the connection is closed
// (and tooSlow set first).
func (s *server) writeWebSocket(ctx context.Context, conn *websocket.Conn, c *client, tooSlow *atomic.Bool) error {
	for {
		batch, err := c.q.GetBatch(ctx, c.q.Cap())
		if err != nil {
			if errors.Is(err, queue.ErrClosed) {
				return nil
			}
			return err
		}
		deadline := time.AfterFunc(s.cfg.writeTimeout, func() {
			tooSlow.Store(true)
			conn.CloseNow()
		})
		for _, m := range batch {
			data, _ := json.Marshal(m) // cannot fail: strings and numbers
			if err = conn.Write(ctx, websocket.MessageText, data); err != nil {
				break
			}
		}
		deadline.Stop()
		switch {
		case err == nil:
		case tooSlow.Load():
			return fmt.Errorf("too slow or gone: a write took more than %v", s.cfg.writeTimeout)
		case ctx.Err() != nil:
			return context.Cause(ctx)
		default:
			return fmt.Errorf("too slow or gone: %w", err)
		}
	}
}

// readWebSocket reads the client's messages and broadcasts them, answering
// each with kindSent or kindError through the client's queue, until the
// client closes the connection or the writer gave up on it (nil), the
// connection fails, or ctx ends.
func (s *server) readWebSocket(ctx context.Context, conn *websocket.Conn, c *client, tooSlow *atomic.Bool) error {
	for {
		typ, data, err := conn.Read(ctx)
		if err != nil {
			switch {
			case ctx.Err() != nil:
				return context.Cause(ctx)
			case tooSlow.Load():
				return nil // the writer closed the connection and says why
			case websocket.CloseStatus(err) != -1:
				return nil // the client closed the connection: it left
			}
			return fmt.Errorf("reading: %w", err)
		}
		var in incoming
		if typ != websocket.MessageText {
			err = errors.New("chat: send JSON text messages")
		} else if jerr := json.Unmarshal(data, &in); jerr != nil {
			err = fmt.Errorf("chat: bad message: %v", jerr)
		} else {
			name := strings.TrimSpace(in.Name)
			if name == "" {
				name = c.name
			}
			text := strings.TrimSpace(in.Text)
			if err = checkText(name, text); err == nil {
				s.broadcast(cleanName(name), text, c, in.Ref)
				continue
			}
		}
		c.q.TryPut(message{Ref: in.Ref, Kind: kindError, Time: s.cfg.now().UnixMilli(), Text: err.Error()})
	}
}

// isClosed reports whether Close has been called.
func (s *server) isClosed() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.closed
}
