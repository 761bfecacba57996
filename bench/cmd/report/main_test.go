package main

import (
	"bytes"
	"math"
	"strings"
	"testing"
)

const sample = `goos: linux
goarch: amd64
pkg: github.com/async-patterns/async/bench
cpu: AMD EPYC
BenchmarkQueue/spsc/chan-2         	 1000000	        50.00 ns/op	       0 B/op	       0 allocs/op
BenchmarkQueue/spsc/chan-2         	 1000000	        70.00 ns/op	       0 B/op	       0 allocs/op
BenchmarkQueue/spsc/chan-2         	 1000000	        60.00 ns/op	       0 B/op	       0 allocs/op
BenchmarkQueue/spsc/ours-2         	 1000000	        66.00 ns/op	       0 B/op	       0 allocs/op
BenchmarkQueue/spsc/ours-2         	 1000000	        90.00 ns/op	       0 B/op	       0 allocs/op
BenchmarkQueue/spsc/ours-2         	 1000000	        60.00 ns/op	       0 B/op	       1 allocs/op
--- FAIL: BenchmarkSomething
some log line: with a colon
BenchmarkTaskgroup/go-wait/goWaitGroup-2  	 2000	 300000 ns/op	 300.0 ns/item	 24000 B/op	 1001 allocs/op
BenchmarkTaskgroup/go-wait/ours-2         	 2000	 340000 ns/op	 340.0 ns/item	 24000 B/op	 1004 allocs/op
BenchmarkTaskgroup/go-wait/errgroup-2     	 2000	 400000 ns/op	 400.0 ns/item	 24000 B/op	 1003 allocs/op
PASS
ok  	github.com/async-patterns/async/bench	1.0s
`

func TestParse(t *testing.T) {
	out, err := Parse(strings.NewReader(sample))
	if err != nil {
		t.Fatal(err)
	}
	t.Run("it keeps every result line and skips the rest", func(t *testing.T) {
		if got := len(out.Runs); got != 9 {
			t.Fatalf("len(Runs) = %d; want 9", got)
		}
	})
	t.Run("it splits the GOMAXPROCS suffix off the name", func(t *testing.T) {
		r := out.Runs[0]
		if r.Name != "BenchmarkQueue/spsc/chan" || r.Procs != 2 || r.Iters != 1000000 {
			t.Errorf("Runs[0] = %q procs %d iters %d; want BenchmarkQueue/spsc/chan procs 2 iters 1000000", r.Name, r.Procs, r.Iters)
		}
	})
	t.Run("it reads every metric by unit", func(t *testing.T) {
		m := out.Runs[6].Metrics
		if m["ns/op"] != 300000 || m["ns/item"] != 300 || m["allocs/op"] != 1001 || m["B/op"] != 24000 {
			t.Errorf("Runs[6].Metrics = %v; want ns/op 300000, ns/item 300, allocs/op 1001, B/op 24000", m)
		}
	})
	t.Run("it reads the configuration lines", func(t *testing.T) {
		if got := out.Config["cpu"]; got != "AMD EPYC" {
			t.Errorf(`Config["cpu"] = %q; want "AMD EPYC"`, got)
		}
	})
	t.Run("a name without a numeric suffix keeps its dashes", func(t *testing.T) {
		r, ok := parseRun("BenchmarkExecutor/fire-and-forget/ours 10 5 ns/op")
		if !ok || r.Name != "BenchmarkExecutor/fire-and-forget/ours" || r.Procs != 1 {
			t.Errorf("parseRun() = %q procs %d ok %v; want the whole name, procs 1, ok", r.Name, r.Procs, ok)
		}
	})
}

func TestSummarize(t *testing.T) {
	for _, tc := range []struct {
		name string
		xs   []float64
		want Stat
	}{
		{"an odd count takes the middle value", []float64{3, 1, 2}, Stat{N: 3, Median: 2, Min: 1, Max: 3}},
		{"an even count averages the two middle values", []float64{4, 1, 3, 2}, Stat{N: 4, Median: 2.5, Min: 1, Max: 4}},
		{"one value is its own median", []float64{7}, Stat{N: 1, Median: 7, Min: 7, Max: 7}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := Summarize(tc.xs); got != tc.want {
				t.Errorf("Summarize(%v) = %+v; want %+v", tc.xs, got, tc.want)
			}
		})
	}
	t.Run("no values give NaN", func(t *testing.T) {
		if got := Summarize(nil); got.N != 0 || !math.IsNaN(got.Median) {
			t.Errorf("Summarize(nil) = %+v; want N 0 and a NaN median", got)
		}
	})
	t.Run("the input is left unsorted", func(t *testing.T) {
		xs := []float64{3, 1, 2}
		Summarize(xs)
		if xs[0] != 3 {
			t.Errorf("Summarize sorted its input: %v", xs)
		}
	})
	t.Run("the spread is the larger distance from the median", func(t *testing.T) {
		s := Stat{N: 3, Median: 100, Min: 90, Max: 120}
		if got := s.Spread(); got != 0.2 {
			t.Errorf("Spread() = %v; want 0.2", got)
		}
	})
}

func TestReport(t *testing.T) {
	out, err := Parse(strings.NewReader(sample))
	if err != nil {
		t.Fatal(err)
	}
	scs := Scenarios(Group(out.Runs))
	t.Run("runs group into scenarios with their floors", func(t *testing.T) {
		if len(scs) != 2 {
			t.Fatalf("len(Scenarios()) = %d; want 2", len(scs))
		}
		if got := scs[0].Floor.Contender; got != "chan" {
			t.Errorf("queue floor = %q; want chan", got)
		}
		if got := scs[1].Floor.Contender; got != "goWaitGroup" {
			t.Errorf("taskgroup floor = %q; want goWaitGroup", got)
		}
	})
	t.Run("allocations are per item where ns/item is reported", func(t *testing.T) {
		if got := scs[1].Get("ours").Allocs(); got != 1.004 {
			t.Errorf("Allocs() = %v; want 1.004", got)
		}
		if got := scs[0].Get("ours").Allocs(); got != 0 {
			t.Errorf("Allocs() = %v; want the median, 0", got)
		}
	})
	t.Run("only library rows are peers", func(t *testing.T) {
		if got := scs[0].BestPeer(); got != nil {
			t.Errorf("BestPeer() = %q; want none", got.Contender)
		}
		if got := scs[1].BestPeer(); got == nil || got.Contender != "errgroup" {
			t.Errorf("BestPeer() = %v; want errgroup", got)
		}
	})
	t.Run("targets are judged on medians", func(t *testing.T) {
		// queue: ours 66 over chan 60 is 1.10x, 0 allocs: met.
		if v := ratio("ours", "chan", 1.2)(scs[0]); !v.Met || v.Measured != "1.10x chan" {
			t.Errorf("ratio() = %+v; want met at 1.10x chan", v)
		}
		// taskgroup: 1.004 allocs per task is 1.00 to two decimals: met;
		// 0.5 is not.
		if v := allocs("ours", 1)(scs[1]); !v.Met {
			t.Errorf("allocs(1) = %+v; want met", v)
		}
		if v := allocs("ours", 0.5)(scs[1]); v.Met {
			t.Errorf("allocs(0.5) = %+v; want not met", v)
		}
		if v := ratio("ours", "missing", 1)(scs[0]); v.Missing != "missing" {
			t.Errorf("ratio() with no such row = %+v; want Missing", v)
		}
	})
	t.Run("the report marks met and unmet targets", func(t *testing.T) {
		var buf bytes.Buffer
		Write(&buf, out)
		s := buf.String()
		for _, want := range []string{
			"| Queue/spsc | ctx-aware Put+Get <= 1.2x a buffered channel, 0 allocs/item | 1.10x chan, 0 allocs/item | met |",
			"| Taskgroup/go-wait | Go+Wait <= 1.1x go+sync.WaitGroup, <= 1 alloc per task | 1.13x goWaitGroup, 1 allocs/item | **NOT met** |",
			"| Retry/first-try |",
			"| chan (floor) | 60 | ±17% | 0 | 1.00x | — |",
		} {
			if !strings.Contains(s, want) {
				t.Errorf("Write() output lacks %q:\n%s", want, s)
			}
		}
	})
}
