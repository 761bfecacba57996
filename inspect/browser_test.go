package inspect_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/async-patterns/async/inspect"
	"github.com/async-patterns/async/taskgroup"
)

// selfTest is added to the page for TestPageInBrowser: it watches the
// table as the page refreshes itself and reports what it saw to /report.
const selfTest = `<script>
(async () => {
  const sleep = ms => new Promise(r => setTimeout(r, ms));
  const row = () => [...document.querySelectorAll("tr.task")].find(tr => tr.querySelector("td.name").textContent.includes("stuck-task"));
  const ages = [];
  for (let i = 0; i < 200 && ages.length < 3; i++) {
    const tr = row();
    if (tr && (ages.length === 0 || Number(tr.dataset.age) !== ages[ages.length - 1])) ages.push(Number(tr.dataset.age));
    await sleep(50);
  }
  const tr = row();
  const rep = {ages, state: tr ? tr.dataset.state : "", group: ""};
  const g = [...document.querySelectorAll("tr.object")].find(tr => tr.querySelector("td.name").textContent.includes("stuck-group"));
  rep.group = g ? g.textContent : "";
  rep.groupBefore = !!(g && tr && (g.compareDocumentPosition(tr) & Node.DOCUMENT_POSITION_FOLLOWING));
  const sel = document.getElementById("state");
  sel.value = "done"; sel.dispatchEvent(new Event("change"));
  rep.shownWhenDone = !!row();
  sel.value = "running"; sel.dispatchEvent(new Event("change"));
  rep.shownWhenRunning = !!row();
  const sort = document.getElementById("sort");
  sort.value = "old"; sort.dispatchEvent(new Event("change"));
  const olds = [...document.querySelectorAll("tr.task")].filter(tr => tr.dataset.state === "running").map(tr => tr.querySelector("td.name").textContent.trim());
  rep.oldest = olds;
  await fetch("/report", {method: "POST", body: JSON.stringify(rep)});
})();
</script>`

type pageReport struct {
	Ages             []int    `json:"ages"`
	State            string   `json:"state"`
	Group            string   `json:"group"`
	GroupBefore      bool     `json:"groupBefore"`
	ShownWhenDone    bool     `json:"shownWhenDone"`
	ShownWhenRunning bool     `json:"shownWhenRunning"`
	Oldest           []string `json:"oldest"`
}

// TestPageInBrowser loads the page in a real headless Chromium against a
// process with a stuck task, and checks that the table shows it, running,
// under its group, with an age that grows as the page refreshes itself;
// that the state filter hides and shows it; and that sorting by age puts
// the oldest task first. Install Debian's chromium package to run it.
func TestPageInBrowser(t *testing.T) {
	chromium := os.Getenv("CHROMIUM")
	for _, name := range []string{"chromium", "chromium-browser"} {
		if chromium != "" {
			break
		}
		if p, err := exec.LookPath(name); err == nil {
			chromium = p
		}
	}
	if chromium == "" {
		t.Skip("no chromium on PATH (nor $CHROMIUM): install it (apt-get install -y chromium) to test the page in a real browser")
	}
	tracked(t)
	// Names of this run's own, since earlier runs' tasks may still be
	// listed among the recently ended.
	run := fmt.Sprint(time.Now().UnixNano())
	g := taskgroup.New(context.Background(), taskgroup.WithName("stuck-group-"+run))
	release := make(chan struct{})
	defer g.Wait()
	defer close(release)
	g.GoNamed("stuck-task-"+run, func(ctx context.Context) error { <-release; return nil })
	g.GoNamed("younger-task-"+run, func(ctx context.Context) error { <-release; return nil })

	h := inspect.Handler()
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest("GET", "/debug/async", nil))
	page := bytes.Replace(rec.Body.Bytes(), []byte("</body>"), []byte(strings.ReplaceAll(selfTest, "-task", "-task-"+run)+"</body>"), 1)
	reports := make(chan pageReport, 1)
	mux := http.NewServeMux()
	mux.HandleFunc("GET /debug/async", func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Query().Get("format") != "" {
			h.ServeHTTP(w, r)
			return
		}
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		w.Write(page)
	})
	mux.HandleFunc("POST /report", func(w http.ResponseWriter, r *http.Request) {
		var rep pageReport
		if err := json.NewDecoder(r.Body).Decode(&rep); err != nil {
			t.Errorf("the page's report: %v", err)
		}
		select {
		case reports <- rep:
		default:
		}
	})
	ts := httptest.NewServer(mux)
	defer ts.Close()

	out := startChromium(t, chromium, ts.URL+"/debug/async?refresh=150")
	var rep pageReport
	select {
	case rep = <-reports:
	case <-time.After(60 * time.Second):
		t.Fatalf("no report from the page in 60s; chromium's output:\n%s", out.String())
	}
	if len(rep.Ages) < 3 || rep.Ages[0] >= rep.Ages[1] || rep.Ages[1] >= rep.Ages[2] {
		t.Errorf("the stuck task's ages as the page refreshed: %v; want three, growing", rep.Ages)
	}
	if rep.State != "running" || !strings.Contains(rep.Group, "stuck-group") || !rep.GroupBefore {
		t.Errorf("page report %+v; want the task running, under the group stuck-group", rep)
	}
	if rep.ShownWhenDone || !rep.ShownWhenRunning {
		t.Errorf("filtered by state: shown when done %t, when running %t; want false, true", rep.ShownWhenDone, rep.ShownWhenRunning)
	}
	if len(rep.Oldest) != 2 || !strings.Contains(rep.Oldest[0], "stuck-task") || !strings.Contains(rep.Oldest[1], "younger-task") {
		t.Errorf("running tasks sorted oldest first: %q; want stuck-task, then younger-task", rep.Oldest)
	}
}

// startChromium runs a headless Chromium on url, in a process group of its
// own and with a throw-away profile; the cleanup kills the group. It
// returns what Chromium prints, for failure messages.
func startChromium(t *testing.T, chromium, url string) *lockedBuffer {
	t.Helper()
	profile, err := os.MkdirTemp("", "inspect-chromium-")
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
		t.Fatalf("starting %s: %v", chromium, err)
	}
	t.Cleanup(func() {
		syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
		cmd.Wait()
		os.RemoveAll(profile) // best effort: a dying helper may still write there
	})
	return out
}

type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}
