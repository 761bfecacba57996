package main

import (
	"bufio"
	"fmt"
	"io"
	"math"
	"slices"
	"strconv"
	"strings"
)

// Run is the output of one benchmark run: one line of `go test -bench`.
type Run struct {
	Name    string             // full name without the -GOMAXPROCS suffix
	Procs   int                // the -GOMAXPROCS suffix, 1 when absent
	Iters   int                // b.N
	Metrics map[string]float64 // unit -> value: "ns/op", "allocs/op", "ns/item", ...
}

// Output is a parsed `go test -bench` output.
type Output struct {
	Config map[string]string // goos, goarch, cpu, pkg, ... (the last value seen)
	Runs   []Run             // in the order they were printed
}

// Parse reads `go test -bench` output. Lines that are neither a benchmark
// result nor a "key: value" configuration line are skipped, as benchstat
// does, so the output of a failing or verbose run still parses.
func Parse(r io.Reader) (*Output, error) {
	out := &Output{Config: map[string]string{}}
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 0, 64*1024), 1024*1024)
	for sc.Scan() {
		line := sc.Text()
		if run, ok := parseRun(line); ok {
			out.Runs = append(out.Runs, run)
			continue
		}
		if k, v, ok := strings.Cut(line, ": "); ok && !strings.ContainsAny(k, " \t") && k != "" && k == strings.ToLower(k) {
			out.Config[k] = strings.TrimSpace(v)
		}
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("report: reading benchmark output: %w", err)
	}
	return out, nil
}

// parseRun parses one result line:
//
//	BenchmarkX/y/z-2   1000   123.4 ns/op   5.0 ns/item   0 B/op   0 allocs/op
func parseRun(line string) (Run, bool) {
	f := strings.Fields(line)
	if len(f) < 4 || !strings.HasPrefix(f[0], "Benchmark") || len(f)%2 != 0 {
		return Run{}, false
	}
	iters, err := strconv.Atoi(f[1])
	if err != nil {
		return Run{}, false
	}
	run := Run{Name: f[0], Procs: 1, Iters: iters, Metrics: map[string]float64{}}
	if i := strings.LastIndexByte(run.Name, '-'); i > 0 {
		if p, err := strconv.Atoi(run.Name[i+1:]); err == nil {
			run.Name, run.Procs = run.Name[:i], p
		}
	}
	for i := 2; i+1 < len(f); i += 2 {
		v, err := strconv.ParseFloat(f[i], 64)
		if err != nil {
			return Run{}, false
		}
		run.Metrics[f[i+1]] = v
	}
	return run, true
}

// Stat summarises the values of one metric over repeated runs.
type Stat struct {
	N                int
	Median, Min, Max float64
}

// Summarize returns the median, minimum and maximum of xs; with no values
// every field is NaN and N is 0.
func Summarize(xs []float64) Stat {
	if len(xs) == 0 {
		return Stat{Median: math.NaN(), Min: math.NaN(), Max: math.NaN()}
	}
	s := slices.Clone(xs)
	slices.Sort(s)
	m := s[len(s)/2]
	if len(s)%2 == 0 {
		m = (s[len(s)/2-1] + s[len(s)/2]) / 2
	}
	return Stat{N: len(s), Median: m, Min: s[0], Max: s[len(s)-1]}
}

// Spread is the largest distance from the median to the minimum or the
// maximum, as a fraction of the median: 0.05 prints as ±5%.
func (s Stat) Spread() float64 {
	if s.N == 0 || s.Median == 0 {
		return math.NaN()
	}
	return math.Max(s.Median-s.Min, s.Max-s.Median) / math.Abs(s.Median)
}

// Bench gathers the runs of one benchmark name: a contender in a scenario.
type Bench struct {
	Package   string // "Queue" for BenchmarkQueue/spsc/chan
	Scenario  string // "spsc"; the middle of the name, "" if there is none
	Contender string // "chan"; the last element of the name
	Runs      []Run
}

// Stat summarises one metric over the runs; runs without it are left out.
func (b *Bench) Stat(unit string) Stat {
	var xs []float64
	for _, r := range b.Runs {
		if v, ok := r.Metrics[unit]; ok {
			xs = append(xs, v)
		}
	}
	return Summarize(xs)
}

// Has reports whether any run has the metric.
func (b *Bench) Has(unit string) bool {
	for _, r := range b.Runs {
		if _, ok := r.Metrics[unit]; ok {
			return true
		}
	}
	return false
}

// Items is how many items one op covers: ns/op divided by ns/item, or 1 when
// the benchmark does not report ns/item.
func (b *Bench) Items() float64 {
	if !b.Has("ns/item") {
		return 1
	}
	op, item := b.Stat("ns/op").Median, b.Stat("ns/item").Median
	if item <= 0 || math.IsNaN(op) || math.IsNaN(item) {
		return 1
	}
	return math.Max(1, math.Round(op/item))
}

// Time is the per-item time when the benchmark reports one, else ns/op, and
// its unit.
func (b *Bench) Time() (Stat, string) {
	if b.Has("ns/item") {
		return b.Stat("ns/item"), "ns/item"
	}
	return b.Stat("ns/op"), "ns/op"
}

// Allocs is the median allocations per item (per op when an op is one item).
func (b *Bench) Allocs() float64 {
	return b.Stat("allocs/op").Median / b.Items()
}

// Group splits runs into benchmarks by name, keeping first-seen order.
// "BenchmarkQueue/spsc/chan" becomes package Queue, scenario spsc,
// contender chan; "BenchmarkQueue/a/b/c" has scenario "a/b".
func Group(runs []Run) []*Bench {
	var out []*Bench
	byName := map[string]*Bench{}
	for _, r := range runs {
		b := byName[r.Name]
		if b == nil {
			parts := strings.Split(strings.TrimPrefix(r.Name, "Benchmark"), "/")
			b = &Bench{Package: parts[0]}
			switch len(parts) {
			case 1:
			case 2:
				b.Contender = parts[1]
			default:
				b.Scenario = strings.Join(parts[1:len(parts)-1], "/")
				b.Contender = parts[len(parts)-1]
			}
			byName[r.Name] = b
			out = append(out, b)
		}
		b.Runs = append(b.Runs, r)
	}
	return out
}
