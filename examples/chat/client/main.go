// Client is a terminal client for the chat example, the counterpart of the
// second client of the FastAPI WebSocket chat: it joins the room over a
// WebSocket, prints what the room says, and sends every line you type.
//
//	go run ./examples/chat                     # the server, in one terminal
//	go run ./examples/chat/client -name ada    # in another (from the repository root)
//	go run ./examples/chat/client -name bob -addr chat.example:9000
//
// Ctrl-C (or the end of input, Ctrl-D) leaves cleanly: the client waits for
// the server to answer what it sent, closes the WebSocket with a close
// frame, and the room announces the leave. It prints "left" and exits 0;
// a connection lost or refused prints the reason and exits 1, a bad flag
// exits 2.
package main

import (
	"bufio"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"net/url"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/coder/websocket"

	"github.com/async-patterns/async/taskgroup"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	os.Exit(run(ctx, os.Args[1:], os.Stdin, os.Stdout, os.Stderr))
}

// message is one event of the room, as the server sends it (see the
// server's message type).
type message struct {
	ID     uint64 `json:"id"`
	Ref    uint64 `json:"ref"`
	Kind   string `json:"kind"` // message, join, leave, sent or error
	Time   int64  `json:"time"` // Unix milliseconds
	Name   string `json:"name"`
	Text   string `json:"text"`
	Online int    `json:"online"`
}

// outgoing is what the client sends for each line typed.
type outgoing struct {
	Ref  uint64 `json:"ref"`
	Text string `json:"text"`
}

// writeTimeout bounds sending one line to the server.
const writeTimeout = 10 * time.Second

// run joins the room named by args, prints it to stdout and sends the lines
// of stdin, until ctx ends or stdin does; then it leaves cleanly. It returns
// the exit code.
func run(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("client", flag.ContinueOnError)
	fs.SetOutput(stderr)
	addr := fs.String("addr", "localhost:8080", "the chat server's address (host:port, or its http:// URL)")
	name := fs.String("name", "", "your name in the room (default: anonymous)")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "client: unexpected argument %q\n", fs.Arg(0))
		return 2
	}
	u := webSocketURL(*addr, *name)

	dctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	conn, _, err := websocket.Dial(dctx, u, nil)
	cancel()
	if err != nil {
		fmt.Fprintf(stderr, "client: cannot join %s: %v\n", u, err)
		return 1
	}
	defer conn.CloseNow()
	conn.SetReadLimit(1 << 20)
	fmt.Fprintf(stdout, "joined %s; type a line to send it, Ctrl-C or Ctrl-D to leave\n", u)

	// The lines of stdin. The reading goroutine ends at the end of input,
	// or at its next line once run has returned; a terminal read cannot be
	// interrupted, so after Ctrl-C it is left blocked until the process
	// exits, the one goroutine run does not wait for.
	lines := make(chan string)
	done := make(chan struct{})
	defer close(done)
	go func() {
		defer close(lines)
		sc := bufio.NewScanner(stdin)
		for sc.Scan() {
			select {
			case lines <- sc.Text():
			case <-done:
				return
			}
		}
	}()

	// The reader prints the room and passes the answers to what we sent
	// (their refs) to the loop below. It reads with a ctx that Ctrl-C does
	// not cancel: cancelling a read would drop the connection without a
	// close frame. It ends when the connection closes.
	answers := make(chan uint64)
	looping := make(chan struct{}) // closed when the loop below no longer takes answers
	g := taskgroup.New(context.WithoutCancel(ctx))
	g.Go(func(gctx context.Context) error {
		for {
			_, data, err := conn.Read(gctx)
			if err != nil {
				return err
			}
			var m message
			if err := json.Unmarshal(data, &m); err != nil {
				return fmt.Errorf("bad message from the server: %v", err)
			}
			if line := format(m); line != "" {
				fmt.Fprintln(stdout, line)
			}
			if m.Kind == "sent" || m.Kind == "error" {
				select {
				case answers <- m.Ref:
				case <-looping:
				}
			}
		}
	})
	readerDone := make(chan struct{})
	var readErr error
	go func() {
		readErr = g.Wait()
		close(readerDone)
	}()

	code := 0
	var ref uint64
	pending := make(map[uint64]bool) // refs sent and not answered yet
	leaving := false                 // stdin ended: leave once pending is empty
loop:
	for !leaving || len(pending) > 0 {
		select {
		case line, ok := <-lines:
			if !ok {
				leaving, lines = true, nil
				continue
			}
			text := strings.TrimSpace(line)
			if text == "" {
				continue
			}
			ref++
			data, _ := json.Marshal(outgoing{Ref: ref, Text: text})
			wctx, cancel := context.WithTimeout(ctx, writeTimeout)
			err := conn.Write(wctx, websocket.MessageText, data)
			cancel()
			if err != nil {
				if ctx.Err() != nil {
					break loop // Ctrl-C while sending: leave
				}
				fmt.Fprintf(stderr, "client: sending: %v\n", err)
				code = 1
				break loop
			}
			pending[ref] = true
		case r := <-answers:
			delete(pending, r)
		case <-ctx.Done():
			break loop
		case <-readerDone:
			// The server closed the connection, or it was lost.
			close(looping)
			if s := websocket.CloseStatus(readErr); s == websocket.StatusGoingAway || s == websocket.StatusNormalClosure {
				fmt.Fprintf(stdout, "the server closed the connection (%v)\n", s)
				return 0
			}
			fmt.Fprintf(stderr, "client: connection lost: %v\n", readErr)
			return 1
		}
	}
	close(looping)
	// Leave: a close frame, answered by the server, which then announces
	// the leave to the room. Close unblocks the reader.
	select {
	case <-readerDone: // the server closed it meanwhile
	default:
		if err := conn.Close(websocket.StatusNormalClosure, "bye"); err != nil && code == 0 {
			fmt.Fprintf(stderr, "client: leaving: %v\n", err)
			code = 1
		}
	}
	<-readerDone
	fmt.Fprintln(stdout, "left")
	return code
}

// webSocketURL turns the server's address into the URL of its WebSocket
// endpoint, for a client called name.
func webSocketURL(addr, name string) string {
	scheme := "ws"
	if rest, ok := strings.CutPrefix(addr, "https://"); ok {
		scheme, addr = "wss", rest
	} else {
		addr = strings.TrimPrefix(addr, "http://")
	}
	u := url.URL{Scheme: scheme, Host: strings.TrimSuffix(addr, "/"), Path: "/ws"}
	if name != "" {
		u.RawQuery = url.Values{"name": {name}}.Encode()
	}
	return u.String()
}

// format renders one event of the room as a line of the terminal, or ""
// for an answer that needs no line (a message that was sent).
func format(m message) string {
	at := time.UnixMilli(m.Time).Format("15:04:05")
	switch m.Kind {
	case "message":
		return fmt.Sprintf("%s %s: %s", at, m.Name, m.Text)
	case "join":
		return fmt.Sprintf("%s * %s joined (%d online)", at, m.Name, m.Online)
	case "leave":
		return fmt.Sprintf("%s * %s left (%d online)", at, m.Name, m.Online)
	case "error":
		return fmt.Sprintf("%s ! not sent: %s", at, m.Text)
	case "sent":
		return ""
	}
	return fmt.Sprintf("%s ? an event of unknown kind %q", at, m.Kind)
}
