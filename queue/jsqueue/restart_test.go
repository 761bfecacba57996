package jsqueue_test

import (
	"bytes"
	"context"
	"io"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/async-patterns/async/queue/jsqueue"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// proxy forwards TCP connections from a port of its own to a NATS server,
// so that a client keeps one URL while the server behind it is restarted on
// another port. Armed with hold, it keeps (never forwards) the first bytes a
// client sends that contain a pattern, and everything after them on that
// connection: a request lost with a server that died before answering it.
type proxy struct {
	ln net.Listener
	wg sync.WaitGroup

	mu      sync.Mutex // protects the fields below
	target  string     // the server's host:port
	pattern []byte     // held when seen, then cleared
	held    chan struct{}
	conns   map[net.Conn]bool
}

func startProxy(t *testing.T, target string) *proxy {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &proxy{ln: ln, target: target, conns: map[net.Conn]bool{}}
	p.wg.Go(p.serve)
	t.Cleanup(p.close)
	return p
}

func (p *proxy) url() string { return "nats://" + p.ln.Addr().String() }

func (p *proxy) setTarget(target string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.target = target
}

// hold arms the proxy; the channel is closed once it holds a request.
func (p *proxy) hold(pattern string) <-chan struct{} {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.pattern, p.held = []byte(pattern), make(chan struct{})
	return p.held
}

func (p *proxy) close() {
	_ = p.ln.Close()
	p.mu.Lock()
	for c := range p.conns {
		_ = c.Close()
	}
	p.mu.Unlock()
	p.wg.Wait()
}

func (p *proxy) serve() {
	for {
		c, err := p.ln.Accept()
		if err != nil {
			return
		}
		p.mu.Lock()
		target := p.target
		p.mu.Unlock()
		s, err := net.Dial("tcp", target)
		if err != nil {
			_ = c.Close() // the server is down: the client tries again
			continue
		}
		p.mu.Lock()
		p.conns[c], p.conns[s] = true, true
		p.mu.Unlock()
		p.wg.Go(func() {
			_, _ = io.Copy(c, s)
			_ = c.Close()
		})
		p.wg.Go(func() {
			p.forward(s, c)
			_ = s.Close()
		})
	}
}

// forward copies the client's bytes to the server until it sees the armed
// pattern; from then on it reads and drops them.
func (p *proxy) forward(s, c net.Conn) {
	buf := make([]byte, 64<<10)
	for {
		n, err := c.Read(buf)
		if err != nil {
			return
		}
		p.mu.Lock()
		hit := p.pattern != nil && bytes.Contains(buf[:n], p.pattern)
		if hit {
			p.pattern = nil
			close(p.held)
		}
		p.mu.Unlock()
		if hit {
			_, _ = io.Copy(io.Discard, c)
			return
		}
		if _, err := s.Write(buf[:n]); err != nil {
			return
		}
	}
}

func TestJoinAcrossServerRestart(t *testing.T) {
	dir := t.TempDir()
	s1, err := jsqueue.StartEmbedded(dir)
	if err != nil {
		t.Fatalf("StartEmbedded() = %v", err)
	}
	p := startProxy(t, strings.TrimPrefix(s1.URL, "nats://"))
	nc, err := nats.Connect(p.url(), nats.ReconnectWait(20*time.Millisecond), nats.MaxReconnects(-1))
	if err != nil {
		t.Fatalf("nats.Connect() = %v", err)
	}
	defer nc.Close()
	js, err := jetstream.New(nc)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	q := newQueue[int](t, js, "restart", jsqueue.WithAckWait(time.Second))
	if err := q.Put(ctx, 1); err != nil {
		t.Fatalf("Put() = %v", err)
	}
	d, err := q.Get(ctx)
	if err != nil {
		t.Fatalf("Get() = %v", err)
	}

	// Join's first check (a stream info request) is kept by the proxy and
	// the server is restarted under it: that request is never answered.
	held := p.hold("STREAM.INFO.restart")
	joined := make(chan error, 1)
	go func() { joined <- q.Join(ctx) }() // a ctx without a deadline
	select {
	case <-held:
	case <-time.After(10 * time.Second):
		t.Fatal("Join made no check within 10s")
	}
	s1.Shutdown()
	s2, err := jsqueue.StartEmbedded(dir)
	if err != nil {
		t.Fatalf("StartEmbedded() again = %v", err)
	}
	defer s2.Shutdown()
	p.setTarget(strings.TrimPrefix(s2.URL, "nats://"))

	select {
	case err := <-joined:
		t.Fatalf("Join() = %v while the item was still held; want it waiting", err)
	default:
	}
	// Settle the item; if the ack is lost with the restart, the item comes
	// back after the ack wait and the worker does it again.
	_ = d.Done()
	sctx, stop := context.WithCancel(ctx)
	served := make(chan error, 1)
	go func() {
		served <- jsqueue.Serve(sctx, q, 1, func(context.Context, int) error { return nil })
	}()
	defer func() {
		stop()
		<-served
	}()
	select {
	case err := <-joined:
		if err != nil {
			t.Fatalf("Join() across the restart = %v; want nil", err)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("Join() did not return within 30s of the restart")
	}
}
