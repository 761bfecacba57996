package inspect_test

import (
	"bytes"
	"compress/gzip"
	"context"
	"io"
	"runtime/pprof"
	"runtime/trace"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/async-patterns/async/inspect"
	"github.com/async-patterns/async/taskgroup"
)

// spin burns CPU until stop is set.
//
//go:noinline
func spin(stop *atomic.Bool) int {
	n := 0
	for !stop.Load() {
		n++
	}
	return n
}

func TestLabels(t *testing.T) {
	t.Run("a goroutine profile shows the task's labels", func(t *testing.T) {
		tracked(t)
		g := taskgroup.New(context.Background(), taskgroup.WithName("labelled"))
		release := make(chan struct{})
		started := make(chan struct{})
		g.GoNamed("waiter-42", func(ctx context.Context) error { close(started); <-release; return nil })
		<-started
		var b strings.Builder
		pprof.Lookup("goroutine").WriteTo(&b, 1)
		close(release)
		g.Wait()
		if want := `"async.group":"labelled"`; !strings.Contains(b.String(), want) || !strings.Contains(b.String(), `"async.task":"waiter-42"`) {
			t.Errorf("goroutine profile has no labels %s and async.task waiter-42:\n%s", want, b.String())
		}
	})

	t.Run("without tracking a task runs unlabelled", func(t *testing.T) {
		g := taskgroup.New(context.Background())
		release := make(chan struct{})
		started := make(chan struct{})
		g.GoNamed("waiter-43", func(ctx context.Context) error { close(started); <-release; return nil })
		<-started
		var b strings.Builder
		pprof.Lookup("goroutine").WriteTo(&b, 1)
		close(release)
		g.Wait()
		if strings.Contains(b.String(), "waiter-43") {
			t.Errorf("goroutine profile labels an untracked task:\n%s", b.String())
		}
	})

	t.Run("a CPU profile attributes a busy task's samples to its name", func(t *testing.T) {
		tracked(t)
		var prof bytes.Buffer
		if err := pprof.StartCPUProfile(&prof); err != nil {
			t.Skip("CPU profiling unavailable:", err)
		}
		var stop atomic.Bool
		g := taskgroup.New(context.Background())
		g.GoNamed("busy-task-7", func(ctx context.Context) error { spin(&stop); return nil })
		time.Sleep(300 * time.Millisecond) // how much CPU the task gets to burn, not an ordering
		stop.Store(true)
		g.Wait()
		pprof.StopCPUProfile()
		raw := gunzip(t, prof.Bytes())
		// A label's key and value are in the profile's string table only
		// when a sample carries them.
		if !bytes.Contains(raw, []byte("busy-task-7")) || !bytes.Contains(raw, []byte(inspect.LabelTask)) {
			t.Errorf("the CPU profile (%d bytes) has no sample labelled %s=busy-task-7", len(raw), inspect.LabelTask)
		}
	})

	t.Run("under runtime/trace a task is a trace task with a region", func(t *testing.T) {
		tracked(t)
		var out bytes.Buffer
		if err := trace.Start(&out); err != nil {
			t.Skip("tracing unavailable:", err)
		}
		g := taskgroup.New(context.Background())
		g.GoNamed("traced-task-9", func(ctx context.Context) error { return nil })
		g.Wait()
		trace.Stop()
		if !bytes.Contains(out.Bytes(), []byte("traced-task-9")) || !bytes.Contains(out.Bytes(), []byte("async.taskgroup")) {
			t.Errorf("the trace (%d bytes) names no region traced-task-9 in a task async.taskgroup", out.Len())
		}
	})
}

func gunzip(t *testing.T, b []byte) []byte {
	t.Helper()
	r, err := gzip.NewReader(bytes.NewReader(b))
	if err != nil {
		t.Fatal(err)
	}
	raw, err := io.ReadAll(r)
	if err != nil {
		t.Fatal(err)
	}
	return raw
}
