//go:build unix

package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/coder/websocket"
)

// selfTest is added to the page for TestPageInBrowser, with FAILING
// replaced by a text the server refuses. It drives the page as a person
// would, through its form, and reports what the page shows, step by step,
// by posting JSON to /report, which the test reads. Nothing here waits for
// time to pass: each step starts when the page's DOM changes.
const selfTest = `<script>
"use strict";
(() => {
  const failing = FAILING;
  // One report at a time, in the order of the steps: two fetches in
  // flight at once may reach the server in either order.
  let reported = Promise.resolve();
  const report = (step, data) => {
    const body = JSON.stringify({step, ...data});
    reported = reported.then(() => fetch("report", {method: "POST", body})).catch(() => {});
  };
  const log = document.getElementById("log");
  const text = document.getElementById("text");
  const form = document.getElementById("form");
  const error = document.getElementById("error");
  const items = (kind) => [...log.children].filter((li) => li.classList.contains(kind));
  const describe = (li) => li && {
    kind: li.className, own: li.classList.contains("own"), text: li.textContent,
    dateTime: li.querySelector("time")?.dateTime ?? "", clock: li.querySelector("time")?.textContent ?? "",
  };
  const find = (kind, s) => items(kind).find((li) => li.textContent.includes(s));
  const send = (s) => { text.value = s; form.requestSubmit(); };
  let step = "history";
  const check = () => {
    if (step === "history" && find("join", "browser joined")) {
      // The history came first, then the page's own join.
      step = "own";
      report("history", {messages: items("message").map(describe), join: describe(find("join", "browser joined")), status: document.getElementById("status").textContent});
      send("hello from the browser");
    } else if (step === "own" && items("own").length > 0) {
      step = "others";
      report("own", {own: items("own").map(describe), last: describe(items("message").at(-1)), input: text.value});
    } else if (step === "others" && find("leave", "bob left")) {
      step = "fail";
      report("others", {joined: describe(find("join", "bob joined")), left: describe(find("leave", "bob left"))});
      send(failing);
    } else if (step === "done" && find("message", "hi")) {
      step = "over";
      report("html", {html: find("message", "hi").innerHTML});
    }
  };
  new MutationObserver(check).observe(log, {childList: true, subtree: true, attributes: true});
  new MutationObserver(() => {
    if (step !== "fail" || !error.textContent) return;
    step = "done";
    report("failed", {input: text.value, error: error.textContent, shown: items("message").some((li) => li.textContent.includes(failing))});
  }).observe(error, {childList: true, characterData: true, subtree: true});
  check();
})();
</script>
`

// shown is how the self-test describes one line of the page's log.
type shown struct {
	Kind     string `json:"kind"` // the li's class: message, join, leave, note; "own" added for ours
	Own      bool   `json:"own"`
	Text     string `json:"text"`     // the li's whole text: the time, the name, the text
	DateTime string `json:"dateTime"` // the <time> element's datetime
	Clock    string `json:"clock"`    // the <time> element's text
}

// report is one step the self-test reports.
type report struct {
	Step     string  `json:"step"`
	Status   string  `json:"status"`   // history: the status next to the title
	Messages []shown `json:"messages"` // history
	Join     *shown  `json:"join"`     // history
	Own      []shown `json:"own"`      // own
	Last     *shown  `json:"last"`     // own
	Joined   *shown  `json:"joined"`   // others
	Left     *shown  `json:"left"`     // others
	Input    string  `json:"input"`    // own, failed: the text box
	Error    string  `json:"error"`    // failed
	Shown    bool    `json:"shown"`    // failed: whether the failed text is in the log
	HTML     string  `json:"html"`     // html: the li of a message
}

// TestPageInBrowser loads the page in a real headless Chromium, over a
// WebSocket (the default), over SSE (?transport=sse), and where no
// WebSocket can be opened (the page falls back to SSE), and checks that it shows the room's history, with times, to a
// late joiner; sends through its form and marks its own message; announces
// joins and leaves; keeps a message the server refused in the input box
// with the error; and renders what it receives as text. Install Debian's
// chromium package to run it.
func TestPageInBrowser(t *testing.T) {
	chromium := os.Getenv("CHROMIUM")
	if chromium == "" {
		for _, name := range []string{"chromium", "chromium-browser"} {
			if p, err := exec.LookPath(name); err == nil {
				chromium = p
				break
			}
		}
	}
	if chromium == "" {
		t.Skip("no chromium on PATH (nor $CHROMIUM): install it (apt-get install -y chromium) to test the page in a real browser")
	}
	for _, tc := range []pageTest{
		{
			name: "over a WebSocket", query: "", status: "connected (WebSocket)",
			// The WebSocket's answer: the real server's refusal.
			failing: strings.Repeat("z", maxText+1), refusal: "chat: text too long or not UTF-8",
		},
		{
			name: "over SSE when asked", query: "&transport=sse", status: "connected (SSE)",
			failing: "this one fails", refusal: "chat: refused by the test", posts: 2,
		},
		{
			name: "over SSE when no WebSocket opens", query: "", noWebSocket: true, status: "connected (SSE)",
			failing: "this one fails", refusal: "chat: refused by the test", posts: 2,
		},
	} {
		t.Run(tc.name, func(t *testing.T) { testPage(t, chromium, tc) })
	}
}

// pageTest is one run of the page in the browser.
type pageTest struct {
	name    string
	query   string // added to /?name=browser
	status  string // what the page shows once connected
	failing string // a text the server refuses
	refusal string // the reason it gives
	posts   int32  // how many messages the page sends with POST /send

	noWebSocket bool // /ws answers 404, as behind a proxy that does not pass WebSockets
}

func testPage(t *testing.T, chromium string, tc pageTest) {
	ctx := testContext(t)
	s := newServer(config{}, nil)
	failing, _ := json.Marshal(tc.failing)
	page := bytes.Replace(indexHTML, []byte("</body>"), []byte(strings.Replace(selfTest, "FAILING", string(failing), 1)+"</body>"), 1)
	reports := make(chan report, 16)
	var pagePosts atomic.Int32 // POST /send from the page
	mux := http.NewServeMux()
	mux.HandleFunc("GET /{$}", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		w.Write(page)
	})
	mux.HandleFunc("POST /report", func(w http.ResponseWriter, r *http.Request) {
		var rep report
		if err := json.NewDecoder(r.Body).Decode(&rep); err != nil {
			rep = report{Step: "bad report", Error: err.Error()}
		}
		select {
		case reports <- rep:
		case <-r.Context().Done():
		}
		w.WriteHeader(http.StatusNoContent)
	})
	mux.HandleFunc("POST /send", func(w http.ResponseWriter, r *http.Request) {
		if r.FormValue("name") == "browser" {
			pagePosts.Add(1)
		}
		if r.FormValue("text") == "this one fails" {
			http.Error(w, "chat: refused by the test", http.StatusServiceUnavailable)
			return
		}
		s.ServeHTTP(w, r)
	})
	if tc.noWebSocket {
		mux.HandleFunc("GET /ws", http.NotFound)
	}
	mux.Handle("/", s)
	ts := httptest.NewServer(mux)
	t.Cleanup(func() {
		s.Close()
		ts.Close()
		s.abort()
		s.Wait()
	})
	hc := ts.Client()

	// The room's past: the page, joining late, must show the last 50.
	before := time.Now().Add(-time.Second)
	for i := 1; i <= 55; i++ {
		post(t, ctx, hc, ts.URL, "ann", fmt.Sprint("old ", i))
	}
	room := connect(t, ctx, hc, ts.URL)

	browser := startChromium(t, chromium, ts.URL+"/?name=browser"+tc.query)
	next := func(step string) report {
		t.Helper()
		select {
		case r := <-reports:
			if r.Step != step {
				t.Fatalf("the page reported %+v; want step %q", r, step)
			}
			return r
		case <-ctx.Done():
			t.Fatalf("waiting for the page's %q report: %v\nchromium's output:\n%s", step, ctx.Err(), browser.String())
		}
		return report{}
	}
	stamped := func(what string, li shown) {
		t.Helper()
		at, err := time.Parse(time.RFC3339Nano, li.DateTime)
		if err != nil || at.Before(before) || at.After(time.Now().Add(time.Second)) || len(li.Clock) < 4 || !strings.HasPrefix(li.Text, li.Clock) {
			t.Errorf("%s = %+v; want a <time> with the time it was sent (%v, %v), shown first", what, li, err, at)
		}
	}

	r := next("history")
	if r.Status != tc.status {
		t.Errorf("the page's status reads %q; want %q", r.Status, tc.status)
	}
	if len(r.Messages) != historySize {
		t.Fatalf("the page shows %d messages on joining; want the last %d", len(r.Messages), historySize)
	}
	for i, m := range r.Messages {
		if want := fmt.Sprint("ann", "old ", i+6); m.Kind != "message" || m.Own || !strings.HasSuffix(m.Text, want) {
			t.Errorf("history line %d = %+v; want a message, not own, ending %q", i+1, m, want)
		}
		stamped(fmt.Sprint("history line ", i+1), m)
	}
	if r.Join == nil || r.Join.Kind != "join" || !strings.HasSuffix(r.Join.Text, "browser joined (2 online)") {
		t.Errorf("the page's own join shows as %+v; want \"browser joined (2 online)\"", r.Join)
	}

	// The page sent a message through its form; the room receives it.
	if m, err := room.next(ctx); err != nil || m.Name != "browser" || m.Text != "hello from the browser" {
		t.Fatalf("room: next() = %+v, %v; want the page's message", m, err)
	}
	r = next("own")
	if len(r.Own) != 1 || r.Own[0].Kind != "message own" || !strings.HasSuffix(r.Own[0].Text, "browserhello from the browser") {
		t.Errorf("the page marks %+v as its own; want its one message", r.Own)
	} else {
		stamped("the page's own message", r.Own[0])
	}
	if r.Input != "" {
		t.Errorf("after sending, the text box holds %q; want it empty", r.Input)
	}

	// Someone else joins and leaves.
	if tc.posts == 0 {
		bob := dialWS(t, ctx, ts.URL, "bob", nil)
		if err := bob.conn.Close(websocket.StatusNormalClosure, ""); err != nil {
			t.Fatalf("bob: Close() = %v", err)
		}
	} else {
		connectAs(t, ctx, hc, ts.URL, "bob", everything).close()
	}
	r = next("others")
	if r.Joined == nil || r.Joined.Kind != "join" || !strings.HasSuffix(r.Joined.Text, "bob joined (3 online)") {
		t.Errorf("bob's join shows as %+v; want \"bob joined (3 online)\"", r.Joined)
	} else {
		stamped("bob's join", *r.Joined)
	}
	if r.Left == nil || r.Left.Kind != "leave" || !strings.HasSuffix(r.Left.Text, "bob left (2 online)") {
		t.Errorf("bob's leave shows as %+v; want \"bob left (2 online)\"", r.Left)
	}

	// A message the server refuses stays in the box, with the error.
	r = next("failed")
	if r.Input != tc.failing || !strings.Contains(r.Error, tc.refusal) || r.Shown {
		t.Errorf("after a refused send: text box %.40q, error %q, in the log %t; want the text kept, the error %q shown, not in the log", r.Input, r.Error, r.Shown, tc.refusal)
	}

	// What others write is shown as text, never parsed as HTML.
	post(t, ctx, hc, ts.URL, "go", `<i>hi</i> & "bye"`)
	r = next("html")
	if want := `<b>go</b>&lt;i&gt;hi&lt;/i&gt; &amp; "bye"`; !strings.HasSuffix(r.HTML, want) || !strings.HasPrefix(r.HTML, "<time ") {
		t.Errorf("the page rendered %q; want a <time>, then %q", r.HTML, want)
	}

	// Over a WebSocket the page sent nothing with POST; over SSE it did.
	if n := pagePosts.Load(); n != tc.posts {
		t.Errorf("the page made %d POSTs to /send; want %d", n, tc.posts)
	}
}

// startChromium runs a headless Chromium on url, in a process group of its
// own and with a throw-away profile. The cleanup kills the group. It returns
// what Chromium prints, for failure messages.
func startChromium(t *testing.T, chromium, url string) *lockedBuffer {
	t.Helper()
	profile, err := os.MkdirTemp("", "chat-chromium-")
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(chromium,
		"--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
		"--no-first-run", "--no-default-browser-check", "--no-proxy-server",
		"--disable-background-networking", "--disable-component-update", "--disable-sync",
		"--disable-extensions", "--disable-default-apps", "--mute-audio",
		"--user-data-dir="+profile, url)
	out := new(lockedBuffer)
	cmd.Stdout, cmd.Stderr = out, out
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		os.RemoveAll(profile)
		t.Fatalf("starting %s: %v", chromium, err)
	}
	t.Cleanup(func() {
		syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) // the browser and its helper processes
		cmd.Wait()
		os.RemoveAll(profile) // best effort: a dying helper may still write there
	})
	return out
}
