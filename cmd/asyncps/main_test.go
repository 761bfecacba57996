package main

import (
	"bytes"
	"context"
	"net/http/httptest"
	"regexp"
	"strings"
	"testing"

	"go.uber.org/goleak"

	"github.com/async-patterns/async/executor"
	"github.com/async-patterns/async/inspect"
	"github.com/async-patterns/async/observe"
	"github.com/async-patterns/async/taskgroup"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// live starts a handler over a process with a group of two tasks, one of
// which runs a nested executor with a queued task.
func live(t *testing.T) string {
	t.Helper()
	inspect.Track(true)
	t.Cleanup(func() { inspect.Track(false) })
	ctx := context.Background()
	g := taskgroup.New(ctx, taskgroup.WithName("crawler"))
	ex := executor.New(executor.WithWorkers(1), executor.WithName("pool"))
	release := make(chan struct{})
	running := make(chan struct{})
	fetching := make(chan struct{})
	g.GoNamed("fetch", func(ctx context.Context) error { close(fetching); <-release; return nil })
	f1 := executor.Submit(observe.WithTaskName(ctx, "parse"), ex, func(ctx context.Context) (int, error) { close(running); <-release; return 0, nil })
	f2 := executor.Submit(observe.WithTaskName(ctx, "index"), ex, func(ctx context.Context) (int, error) { return 0, nil })
	<-running
	<-fetching
	srv := httptest.NewServer(inspect.Handler())
	t.Cleanup(func() {
		close(release)
		g.Wait()
		f1.Wait(ctx)
		f2.Wait(ctx)
		ex.Shutdown(ctx)
		srv.Close()
	})
	return srv.URL + "/debug/async"
}

func asyncps(t *testing.T, args ...string) (string, string, int) {
	t.Helper()
	var out, errb bytes.Buffer
	code := run(context.Background(), args, &out, &errb)
	return out.String(), errb.String(), code
}

func TestTable(t *testing.T) {
	url := live(t)
	out, errs, code := asyncps(t, url)
	if code != 0 {
		t.Fatalf("asyncps %s exited %d: %s", url, code, errs)
	}
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if !regexp.MustCompile(`^ID\s+PARENT\s+KIND\s+NAME\s+STATE\s+AGE\s+RUNNING\s+DETAIL$`).MatchString(lines[0]) {
		t.Errorf("header = %q", lines[0])
	}
	for _, want := range []string{
		`^\d+\s+-\s+taskgroup\s+crawler\s+-\s+\S+\s+-\s+running=1$`,
		`^\d+\s+\d+\s+task\(taskgroup\)\s+fetch\s+running\s+\S+\s+\S+\s+\S*asyncps.live\S*$`,
		`^\d+\s+-\s+executor\s+pool\s+-\s+\S+\s+-\s+running=1 queued=1 capacity=\d+ limit=1$`,
		`^\d+\s+\d+\s+task\(executor\)\s+parse\s+running\s+`,
		`^\d+\s+\d+\s+task\(executor\)\s+index\s+queued\s+\S+\s+-\s`,
	} {
		re := regexp.MustCompile(want)
		found := false
		for _, l := range lines {
			found = found || re.MatchString(l)
		}
		if !found {
			t.Errorf("no line matches %s in:\n%s", want, out)
		}
	}
}

func TestTree(t *testing.T) {
	url := live(t)
	out, errs, code := asyncps(t, "-tree", url)
	if code != 0 {
		t.Fatalf("asyncps -tree exited %d: %s", code, errs)
	}
	for _, want := range []string{
		"process\n",
		"── taskgroup crawler [",
		"│   └── task(taskgroup) fetch [running, ",
		"── executor pool [",
		"    ├── task(executor) parse [running, ",
		"    └── task(executor) index [queued, ",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("tree has no %q:\n%s", want, out)
		}
	}
	out, _, _ = asyncps(t, "-tree", "-state", "queued", url)
	if strings.Contains(out, "crawler") || strings.Contains(out, "parse") || !strings.Contains(out, "index [queued") {
		t.Errorf("-state queued printed:\n%s\nwant only the queued task and its executor", out)
	}
}

func TestBadUse(t *testing.T) {
	if _, errs, code := asyncps(t); code != 2 || !strings.Contains(errs, "usage: asyncps") {
		t.Errorf("no URL: exit %d, %q; want 2 and the usage", code, errs)
	}
	if _, errs, code := asyncps(t, "-state", "sleeping", "http://x"); code != 2 || !strings.Contains(errs, `-state "sleeping"`) {
		t.Errorf("bad -state: exit %d, %q; want 2 naming it", code, errs)
	}
	if _, errs, code := asyncps(t, "localhost:6060"); code != 1 || !strings.Contains(errs, "want http://") {
		t.Errorf("URL without scheme: exit %d, %q; want 1 and what a URL looks like", code, errs)
	}
	srv := httptest.NewServer(nil) // 404 everywhere
	defer srv.Close()
	if _, errs, code := asyncps(t, srv.URL+"/nothing"); code != 1 || !strings.Contains(errs, "404") {
		t.Errorf("no handler there: exit %d, %q; want 1 with the status", code, errs)
	}
}
