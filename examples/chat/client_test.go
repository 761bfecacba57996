package main

import (
	"bufio"
	"context"
	"io"
	"log"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"
)

// The terminal client (./client) is a program of its own: these tests build
// it once and run it against a live server, as a user would, with its stdin
// a pipe the test writes to.

var (
	clientOnce sync.Once
	clientBin  string // the built client; "" if the build failed
	clientErr  string // why it failed
	clientDir  string // where it was built; TestMain removes it
)

// buildClient builds ./client into a temporary directory, once per test
// binary, and returns its path. TestMain removes the directory at the end
// (removeClientDir).
func buildClient(t *testing.T) string {
	t.Helper()
	clientOnce.Do(func() {
		gobin, err := exec.LookPath("go")
		if err != nil {
			clientErr = "the go command is not on PATH: " + err.Error()
			return
		}
		dir, err := os.MkdirTemp("", "chat-client-")
		if err != nil {
			clientErr = err.Error()
			return
		}
		clientDir = dir
		bin := filepath.Join(dir, "client")
		out, err := exec.Command(gobin, "build", "-o", bin, "./client").CombinedOutput()
		if err != nil {
			clientErr = "go build ./client: " + err.Error() + "\n" + string(out)
			return
		}
		clientBin = bin
	})
	if clientBin == "" {
		t.Fatal(clientErr)
	}
	return clientBin
}

// removeClientDir removes what buildClient built.
func removeClientDir() {
	if clientDir != "" {
		os.RemoveAll(clientDir)
	}
}

// terminal is a running terminal client.
type terminal struct {
	cmd    *exec.Cmd
	stdin  io.WriteCloser
	lines  chan string // what it prints, line by line; closed at the end of its output
	stderr *lockedBuffer
}

// startTerminal runs the client with args, joining the server at base.
// The cleanup kills it if it is still running.
func startTerminal(t *testing.T, ctx context.Context, base string, args ...string) *terminal {
	t.Helper()
	cmd := exec.CommandContext(ctx, buildClient(t), append([]string{"-addr", base}, args...)...)
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	term := &terminal{cmd: cmd, stdin: stdin, lines: make(chan string, 100), stderr: new(lockedBuffer)}
	cmd.Stderr = term.stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		defer close(term.lines)
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			term.lines <- sc.Text()
		}
	}()
	t.Cleanup(func() {
		cmd.Process.Kill()
		<-done
		cmd.Wait()
	})
	return term
}

// expect waits for the client to print a line matching re and returns it;
// it fails on the lines printed before it that skip does not match.
func (term *terminal) expect(t *testing.T, ctx context.Context, re string) string {
	t.Helper()
	want := regexp.MustCompile(re)
	for {
		select {
		case l, ok := <-term.lines:
			if !ok {
				t.Fatalf("the client's output ended; want a line matching %q (stderr %q)", re, term.stderr.String())
			}
			if want.MatchString(l) {
				return l
			}
			t.Fatalf("the client printed %q; want a line matching %q", l, re)
		case <-ctx.Done():
			t.Fatalf("waiting for the client to print %q: %v", re, ctx.Err())
		}
	}
}

// wait waits for the client to exit, checks that it printed nothing more,
// and returns its exit code.
func (term *terminal) wait(t *testing.T) int {
	t.Helper()
	for l := range term.lines {
		t.Errorf("the client printed %q; want nothing more", l)
	}
	err := term.cmd.Wait()
	if ee, ok := err.(*exec.ExitError); ok {
		return ee.ExitCode()
	} else if err != nil {
		t.Fatal(err)
	}
	return 0
}

const clock = `\d\d:\d\d:\d\d `

func TestTerminalClient(t *testing.T) {
	t.Run("it joins, prints the room, sends the lines typed and leaves at the end of input", func(t *testing.T) {
		ctx := testContext(t)
		out := new(lockedBuffer)
		s := newServer(config{}, log.New(out, "", 0))
		ts := serveTest(t, s)
		hc := ts.Client()
		room := connectAs(t, ctx, hc, ts.URL, "sam", everything)
		post(t, ctx, hc, ts.URL, "sam", "before ada came")

		ada := startTerminal(t, ctx, ts.URL, "-name", "ada")
		ada.expect(t, ctx, `^joined ws://127\.0\.0\.1:\d+/ws\?name=ada; type a line`)
		ada.expect(t, ctx, `^`+clock+`sam: before ada came$`) // the history
		ada.expect(t, ctx, `^`+clock+`\* ada joined \(2 online\)$`)
		if m, err := room.nextKind(ctx, kindJoin); err != nil || m.Name != "sam" {
			t.Fatalf("room: %+v, %v; want sam's join", m, err)
		}
		if m, err := room.nextKind(ctx, kindJoin); err != nil || m.Name != "ada" {
			t.Fatalf("room: %+v, %v; want ada's join", m, err)
		}

		// What ada types reaches the room; what the room says reaches ada.
		io.WriteString(ada.stdin, "hello from a terminal\n")
		if m, err := room.next(ctx); err != nil || m.Kind != kindMessage || m.Name != "ada" || m.Text != "hello from a terminal" {
			t.Fatalf("room: next() = %+v, %v; want ada's message", m, err)
		}
		ada.expect(t, ctx, `^`+clock+`ada: hello from a terminal$`)
		post(t, ctx, hc, ts.URL, "sam", "hi ada")
		ada.expect(t, ctx, `^`+clock+`sam: hi ada$`)
		if m, err := room.next(ctx); err != nil || m.Text != "hi ada" {
			t.Fatalf("room: next() = %+v, %v; want sam's message", m, err)
		}

		// A blank line is not sent; a line too long is refused and said so;
		// the last line is sent before the client leaves at the end of input.
		io.WriteString(ada.stdin, "   \n"+strings.Repeat("z", maxText+1)+"\nlast words\n")
		ada.stdin.Close()
		ada.expect(t, ctx, `^`+clock+`! not sent: chat: text too long or not UTF-8$`)
		ada.expect(t, ctx, `^`+clock+`ada: last words$`)
		ada.expect(t, ctx, `^left$`)
		if code := ada.wait(t); code != 0 {
			t.Fatalf("the client exited with %d, stderr %q; want 0", code, ada.stderr.String())
		}
		if m, err := room.next(ctx); err != nil || m.Text != "last words" {
			t.Fatalf("room: next() = %+v, %v; want ada's last words", m, err)
		}
		if m, err := room.next(ctx); err != nil || m.Kind != kindLeave || m.Name != "ada" || m.Online != 1 {
			t.Fatalf("room: next() = %+v, %v; want ada's leave, 1 online", m, err)
		}
		if _, err := waitRoom(ctx, s, func(cs []*client) bool { return len(cs) == 1 }); err != nil {
			t.Fatal(err)
		}
		if got := logged(ctx, out); got != "client 2 left" {
			t.Errorf("the server logged %q; want %q: a clean leave", got, "client 2 left")
		}
	})

	t.Run("Ctrl-C leaves cleanly, and the room sees the leave", func(t *testing.T) {
		if runtime.GOOS == "windows" {
			t.Skip("os.Interrupt cannot be sent to a process on Windows")
		}
		ctx := testContext(t)
		out := new(lockedBuffer)
		s := newServer(config{}, log.New(out, "", 0))
		ts := serveTest(t, s)
		room := connectAs(t, ctx, ts.Client(), ts.URL, "sam", everything)
		bob := startTerminal(t, ctx, ts.URL, "-name", "bob") // stdin stays open
		bob.expect(t, ctx, `^joined `)
		bob.expect(t, ctx, `^`+clock+`\* bob joined \(2 online\)$`)
		if m, err := room.nextKind(ctx, kindJoin); err != nil || m.Name != "sam" {
			t.Fatalf("room: %+v, %v; want sam's join", m, err)
		}
		if m, err := room.nextKind(ctx, kindJoin); err != nil || m.Name != "bob" {
			t.Fatalf("room: %+v, %v; want bob's join", m, err)
		}
		if err := bob.cmd.Process.Signal(os.Interrupt); err != nil {
			t.Fatal(err)
		}
		bob.expect(t, ctx, `^left$`)
		if code := bob.wait(t); code != 0 {
			t.Fatalf("the client exited with %d, stderr %q; want 0", code, bob.stderr.String())
		}
		if m, err := room.next(ctx); err != nil || m.Kind != kindLeave || m.Name != "bob" || m.Online != 1 {
			t.Fatalf("room: next() = %+v, %v; want bob's leave, 1 online", m, err)
		}
		if _, err := waitRoom(ctx, s, func(cs []*client) bool { return len(cs) == 1 }); err != nil {
			t.Fatal(err)
		}
		// A close frame, not a dropped connection: the server logs no error.
		if got := logged(ctx, out); got != "client 2 left" {
			t.Errorf("the server logged %q; want %q: a clean leave", got, "client 2 left")
		}
	})

	t.Run("a server going away ends the client with its reason", func(t *testing.T) {
		ctx := testContext(t)
		s, ts := startServer(t, config{})
		cy := startTerminal(t, ctx, ts.URL, "-name", "cy")
		cy.expect(t, ctx, `^joined `)
		cy.expect(t, ctx, `joined \(1 online\)$`)
		s.Close()
		cy.expect(t, ctx, `^the server closed the connection \(StatusGoingAway\)$`)
		if code := cy.wait(t); code != 0 {
			t.Fatalf("the client exited with %d, stderr %q; want 0", code, cy.stderr.String())
		}
	})

	t.Run("no server: it says so and exits 1; a bad flag exits 2", func(t *testing.T) {
		ctx := testContext(t)
		_, ts := startServer(t, config{})
		addr := ts.Listener.Addr().String()
		ts.Close() // nothing listens there now
		term := startTerminal(t, ctx, "http://"+addr)
		if code := term.wait(t); code != 1 || !strings.Contains(term.stderr.String(), "client: cannot join ws://"+addr+"/ws") {
			t.Fatalf("the client exited with %d, stderr %q; want 1 and the reason", code, term.stderr.String())
		}
		term = startTerminal(t, ctx, "http://"+addr, "-nope")
		if code := term.wait(t); code != 2 {
			t.Fatalf("with a bad flag the client exited with %d, stderr %q; want 2", code, term.stderr.String())
		}
	})
}

// logged returns what the server logged once it logged something, or ""
// when ctx ends first. The server leaves the room before it logs the
// leave: a test that saw the room shrink must still wait for the line.
func logged(ctx context.Context, out *lockedBuffer) string {
	for out.String() == "" && ctx.Err() == nil {
		time.Sleep(time.Millisecond)
	}
	return out.String()
}
