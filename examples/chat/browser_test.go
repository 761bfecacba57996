//go:build unix

package main

import (
	"bytes"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"syscall"
	"testing"
)

// selfTest is added to the page for TestPageInBrowser. It drives the page as
// a person would, through its form, and reports what the page shows by
// posting it back to the room as the user "report": the test, a client of
// the room, reads the reports. Nothing here waits for time to pass.
const selfTest = `<script>
"use strict";
(() => {
  const report = (text) => fetch("send", {method: "POST", body: new URLSearchParams({name: "report", text: text})});
  // Report every message the page shows, as the HTML it rendered.
  new MutationObserver((records) => {
    for (const r of records) for (const li of r.addedNodes) {
      if (li.firstChild.textContent !== "report") report(li.innerHTML);
    }
  }).observe(document.getElementById("log"), {childList: true});
  // Once connected, say hello through the form.
  const status = document.getElementById("status");
  const hello = () => {
    if (status.textContent !== "connected" || hello.done) return;
    hello.done = true;
    document.getElementById("name").value = "browser";
    document.getElementById("text").value = "hello from the browser";
    document.getElementById("form").requestSubmit();
  };
  new MutationObserver(hello).observe(status, {childList: true, characterData: true, subtree: true});
  hello();
})();
</script>
`

// TestPageInBrowser loads the page in a real headless Chromium and checks
// that it sends through its form, receives over EventSource, and renders
// what it receives as text. Install Debian's chromium package to run it.
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
	ctx := testContext(t)
	s := newServer(config{}, nil)
	page := bytes.Replace(indexHTML, []byte("</body>"), []byte(selfTest+"</body>"), 1)
	mux := http.NewServeMux()
	mux.HandleFunc("GET /{$}", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		w.Write(page)
	})
	mux.Handle("/", s)
	ts := httptest.NewServer(mux)
	t.Cleanup(func() {
		s.Close()
		ts.Close()
		s.Wait()
	})
	hc := ts.Client()
	room := connect(t, ctx, hc, ts.URL)

	browser := startChromium(t, chromium, ts.URL+"/")

	// waitFor skips the room's messages until one matches.
	waitFor := func(what string, name, text string) {
		t.Helper()
		for {
			m, err := room.next(ctx)
			if err != nil {
				t.Fatalf("waiting for %s (%s: %q): %v\nchromium's output:\n%s", what, name, text, err, browser.String())
			}
			if m.Name == name && m.Text == text {
				return
			}
		}
	}
	waitFor("the page to send through its form", "browser", "hello from the browser")
	waitFor("the page to show its own message", "report", "<b>browser</b>hello from the browser")
	post(t, ctx, hc, ts.URL, "go", `<i>hi</i> & "bye"`)
	waitFor("the page to show a message as text, not HTML", "report", `<b>go</b>&lt;i&gt;hi&lt;/i&gt; &amp; "bye"`)
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
