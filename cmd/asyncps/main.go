// Command asyncps prints the tasks and objects of a running Go process that
// serves package inspect's handler, as python -m asyncio ps and pstree do
// for a Python process.
//
//	go run github.com/async-patterns/async/cmd/asyncps [-tree] [-state running] URL
//
// URL is where the process mounts inspect.Handler (http://host:port/debug/async);
// asyncps asks it for ?format=json. Without -tree it prints a table, one
// row per object or task in tree order, with its parent's ID; with -tree,
// the tree drawn as pstree draws processes. -state keeps only the tasks
// in that state (with the objects above them). It exits 1 when the
// process cannot be read and 2 on bad usage.
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/async-patterns/async/inspect"
	"github.com/async-patterns/async/observe"
)

func main() {
	os.Exit(run(context.Background(), os.Args[1:], os.Stdout, os.Stderr))
}

func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("asyncps", flag.ContinueOnError)
	fs.SetOutput(stderr)
	tree := fs.Bool("tree", false, "print the tree, as pstree does, instead of the table")
	state := fs.String("state", "", "keep only the tasks in this state: queued, running, done, failed or cancelled")
	timeout := fs.Duration("timeout", 10*time.Second, "how long to wait for the process")
	fs.Usage = func() {
		fmt.Fprintln(stderr, "usage: asyncps [-tree] [-state STATE] URL\n\nURL is where the process serves inspect.Handler, such as http://localhost:6060/debug/async.")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		return 2
	}
	if fs.NArg() != 1 {
		fs.Usage()
		return 2
	}
	switch *state {
	case "", inspect.StateQueued, inspect.StateRunning, inspect.StateDone, inspect.StateFailed, inspect.StateCancelled:
	default:
		fmt.Fprintf(stderr, "asyncps: -state %q: want queued, running, done, failed or cancelled\n", *state)
		return 2
	}
	ctx, cancel := context.WithTimeout(ctx, *timeout)
	defer cancel()
	t, err := fetch(ctx, fs.Arg(0))
	if err != nil {
		fmt.Fprintln(stderr, "asyncps:", err)
		return 1
	}
	t.Roots = filter(t.Roots, *state)
	if *tree {
		printTree(stdout, t)
	} else {
		printTable(stdout, t)
	}
	if !t.Tracking {
		fmt.Fprintln(stdout, "(task tracking is off in that process: only objects are shown; it calls inspect.Track(true) to show tasks)")
	}
	return 0
}

// fetch reads the snapshot the handler at raw serves.
func fetch(ctx context.Context, raw string) (inspect.Tree, error) {
	var t inspect.Tree
	u, err := url.Parse(raw)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return t, fmt.Errorf("URL %q: want http://host:port/path", raw)
	}
	q := u.Query()
	q.Set("format", "json")
	u.RawQuery = q.Encode()
	req, err := http.NewRequestWithContext(ctx, "GET", u.String(), nil)
	if err != nil {
		return t, err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return t, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		b, _ := io.ReadAll(io.LimitReader(resp.Body, 512))
		return t, fmt.Errorf("GET %s: %s: %s", u, resp.Status, strings.TrimSpace(string(b)))
	}
	if err := json.NewDecoder(resp.Body).Decode(&t); err != nil {
		return t, fmt.Errorf("GET %s: not a snapshot of package inspect: %w", u, err)
	}
	if t.Taken.IsZero() {
		return t, errors.New("GET " + u.String() + ": not a snapshot of package inspect (no \"taken\")")
	}
	return t, nil
}

// filter keeps the tasks in state st (all when st is "") and every node
// with such a task below it; objects are kept too when st is "".
func filter(ns []*inspect.Node, st string) []*inspect.Node {
	if st == "" {
		return ns
	}
	var out []*inspect.Node
	for _, n := range ns {
		n.Children = filter(n.Children, st)
		if (n.Kind == "task" && n.State == st) || len(n.Children) > 0 {
			out = append(out, n)
		}
	}
	return out
}

func printTable(w io.Writer, t inspect.Tree) {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "ID\tPARENT\tKIND\tNAME\tSTATE\tAGE\tRUNNING\tDETAIL")
	for _, n := range t.All() {
		parent := "-"
		if n.Parent != 0 {
			parent = fmt.Sprint(n.Parent)
		}
		running := ""
		if n.Running > 0 {
			running = round(n.Running)
		}
		fmt.Fprintf(tw, "%d\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n", n.ID, parent, kind(n), n.Label(), dash(n.State), round(n.Age), dash(running), dash(detail(n)))
	}
	tw.Flush()
}

func printTree(w io.Writer, t inspect.Tree) {
	var walk func(ns []*inspect.Node, prefix string)
	walk = func(ns []*inspect.Node, prefix string) {
		for i, n := range ns {
			branch, next := "├── ", "│   "
			if i == len(ns)-1 {
				branch, next = "└── ", "    "
			}
			fmt.Fprintf(w, "%s%s%s\n", prefix, branch, line(n))
			walk(n.Children, prefix+next)
		}
	}
	fmt.Fprintln(w, "process")
	walk(t.Roots, "")
}

// line describes a node on one line of the tree.
func line(n *inspect.Node) string {
	s := kind(n) + " " + n.Label()
	var bits []string
	if n.State != "" {
		bits = append(bits, n.State)
	}
	bits = append(bits, round(n.Age))
	if d := detail(n); d != "" {
		bits = append(bits, d)
	}
	return s + " [" + strings.Join(bits, ", ") + "] #" + fmt.Sprint(n.ID)
}

func kind(n *inspect.Node) string {
	if n.Kind == "task" && n.Source != "" {
		return "task(" + n.Source + ")"
	}
	return n.Kind
}

// detail is a task's function, when it has a name besides, or an
// object's non-zero gauges.
func detail(n *inspect.Node) string {
	if n.Kind == "task" {
		if n.Name != "" && n.Func != "" {
			return n.Func
		}
		return ""
	}
	if n.Gauges == nil {
		return ""
	}
	return gauges(*n.Gauges)
}

func gauges(g observe.Gauges) string {
	var b []string
	add := func(k string, v int) {
		if v != 0 {
			b = append(b, fmt.Sprintf("%s=%d", k, v))
		}
	}
	add("running", g.Running)
	add("queued", g.Queued)
	add("depth", g.Depth)
	add("capacity", g.Capacity)
	add("limit", g.Limit)
	return strings.Join(b, " ")
}

func round(d time.Duration) string {
	switch {
	case d >= time.Minute:
		return d.Round(time.Second).String()
	case d >= time.Second:
		return d.Round(100 * time.Millisecond).String()
	case d >= time.Millisecond:
		return d.Round(time.Millisecond).String()
	}
	return d.Round(time.Microsecond).String()
}

func dash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}
