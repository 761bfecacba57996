package main

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/async-patterns/async/inspect"
)

// TestDebugPage runs the pipeline with -debug-addr's server and checks
// that the printed URL serves its stages: the group "pipeline" with the
// tasks producer, squarers (holding the workers' group) and sink, and the
// two queues.
func TestDebugPage(t *testing.T) {
	var msg bytes.Buffer
	stop, err := serveDebug("127.0.0.1:0", &msg)
	if err != nil {
		t.Fatal(err)
	}
	defer stop()
	url := regexp.MustCompile(`http://\S+/debug/async`).FindString(msg.String())
	if url == "" {
		t.Fatalf("serveDebug printed %q; want the page's URL", msg.String())
	}

	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		done <- run(ctx, io.Discard, config{items: 1000, workers: 2, capacity: 4, slow: 5 * time.Millisecond, grace: 10 * time.Second}) // the drain after cancel: a few items, 5 ms each
	}()
	defer func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("run() = %v", err)
		}
	}()

	want := []string{"pipeline/producer", "pipeline/squarers/squarers/squarer", "pipeline/sink", "numbers", "squares"}
	var seen map[string]bool
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(10 * time.Millisecond) {
		resp, err := http.Get(url + "?format=json")
		if err != nil {
			t.Fatal(err)
		}
		var tr inspect.Tree
		err = json.NewDecoder(resp.Body).Decode(&tr)
		resp.Body.Close()
		if err != nil {
			t.Fatal(err)
		}
		seen = paths(tr)
		all := true
		for _, w := range want {
			all = all && seen[w]
		}
		if all {
			return
		}
	}
	t.Errorf("the page shows %v; want at least %v", seen, want)
}

// paths lists each live node of tr by the labels from its root
// ("pipeline/sink").
func paths(tr inspect.Tree) map[string]bool {
	out := make(map[string]bool)
	var walk func(ns []*inspect.Node, prefix string)
	walk = func(ns []*inspect.Node, prefix string) {
		for _, n := range ns {
			if n.Kind == "task" && n.State != inspect.StateRunning {
				continue
			}
			p := strings.TrimPrefix(prefix+"/"+n.Label(), "/")
			out[p] = true
			walk(n.Children, p)
		}
	}
	walk(tr.Roots, "")
	return out
}
