package main

import (
	"fmt"
	"io"
	"math"
	"slices"
	"strings"
)

// handWritten are the contenders written in the benchmarks themselves: the
// floors and plain-Go references. Every other contender not named ours* is a
// library peer.
var handWritten = map[string]bool{
	"chan": true, "chanSelectCtx": true, "direct": true,
	"chanPool": true, "goWaitGroup": true, "sequential": true,
	"mutexMap": true, "syncMap": true,
	"byHand": true, "byHandClosure": true,
}

// floors names the floor of each scenario: the row that "vs floor" divides
// by and that the DESIGN.md targets are stated against. A scenario not listed
// takes its first hand-written row, or else its first row.
var floors = map[string]string{
	"Queue/spsc":               "chan",
	"Queue/mpmc-4x4":           "chan",
	"Queue/mpmc-4x4-cap1024":   "chan",
	"Queue/mpmc-4x4-burst":     "chan",
	"Executor/fire-and-forget": "chanPool",
	"Executor/future":          "chanPool",
	"Executor/cpu-bound":       "sequential",
	"Taskgroup/go-wait":        "goWaitGroup",
	"Gather/all":               "goWaitGroup",
	"Retry/first-try":          "direct",
	"Breaker/success":          "gobreaker",
	"Breaker/success-parallel": "gobreaker",
	"Memo/hit":                 "mutexMap",
	"Memo/stampede":            "singleflight",
	"RetryHTTP/first-try":      "direct",
	"Jsqueue/consumers-1":      "jetstream",
	"Jsqueue/consumers-4":      "jetstream",
	"Jsqueue/near-empty":       "jetstream",
	"Breaker/shared-8x8":       "gobreaker",
	"Breaker/shared-open":      "gobreaker",

	"Limit/rate-allow":           "xrate",
	"Limit/rate-allow-parallel":  "xrate",
	"Limit/rate-do":              "xrate",
	"Limit/rate-do-parallel":     "xrate",
	"Limit/bulkhead-do":          "semaphore",
	"Limit/bulkhead-do-parallel": "semaphore",

	"Guard/first-try": "byHand",
}

// A Scenario is the rows of one table: every contender of one
// Benchmark<Package>/<scenario>.
type Scenario struct {
	Package, Name string
	Rows          []*Bench
	Floor         *Bench
}

// Key is "Package/scenario", as in floors and targets.
func (s *Scenario) Key() string { return s.Package + "/" + s.Name }

// Get returns the row of the named contender, or nil.
func (s *Scenario) Get(contender string) *Bench {
	for _, b := range s.Rows {
		if b.Contender == contender {
			return b
		}
	}
	return nil
}

// Peers returns the library peers: neither ours nor hand-written.
func (s *Scenario) Peers() []*Bench {
	var out []*Bench
	for _, b := range s.Rows {
		if !isOurs(b.Contender) && !handWritten[b.Contender] {
			out = append(out, b)
		}
	}
	return out
}

// BestPeer returns the fastest library peer, or nil if there is none.
func (s *Scenario) BestPeer() *Bench {
	var best *Bench
	for _, b := range s.Peers() {
		if best == nil || median(b) < median(best) {
			best = b
		}
	}
	return best
}

func isOurs(contender string) bool { return strings.HasPrefix(contender, "ours") }

func median(b *Bench) float64 {
	st, _ := b.Time()
	return st.Median
}

// Scenarios groups benchmarks into scenarios, in first-seen order.
func Scenarios(benches []*Bench) []*Scenario {
	var out []*Scenario
	byKey := map[string]*Scenario{}
	for _, b := range benches {
		key := b.Package + "/" + b.Scenario
		s := byKey[key]
		if s == nil {
			s = &Scenario{Package: b.Package, Name: b.Scenario}
			byKey[key] = s
			out = append(out, s)
		}
		s.Rows = append(s.Rows, b)
	}
	for _, s := range out {
		s.Floor = s.Get(floors[s.Key()])
		for _, b := range s.Rows {
			if s.Floor == nil && handWritten[b.Contender] {
				s.Floor = b
			}
		}
		if s.Floor == nil {
			s.Floor = s.Rows[0]
		}
	}
	return out
}

// A Target is one line of DESIGN.md's performance table, checked against
// one scenario.
type Target struct {
	Key   string // "Package/scenario"
	Text  string // the target, as DESIGN.md states it
	Check func(s *Scenario) Verdict
}

// A Verdict says whether a target is met and what was measured.
type Verdict struct {
	Met      bool
	Measured string // e.g. "1.08x chan, 0 allocs/item"
	Missing  string // non-empty when a row the check needs did not run
}

// targets are DESIGN.md's performance targets.
var targets = []Target{
	{"Queue/spsc", "ctx-aware Put+Get <= 1.2x a buffered channel, 0 allocs/item", all(ratio("ours", "chan", 1.2), allocs("ours", 0))},
	{"Queue/spsc", "turn 3: with a live cancellable ctx <= 1.0x a channel op (SPSC), 0 allocs/item", all(ratio("ours", "chan", 1.0), allocs("ours", 0))},
	{"Queue/mpmc-4x4", "ctx-aware Put+Get <= 1.2x a buffered channel, 0 allocs/item", all(ratio("ours", "chan", 1.2), allocs("ours", 0))},
	{"Queue/mpmc-4x4-cap1024", "4x4 <= 1.2x a buffered channel in both harness shapes (long-lived goroutines, capacity 1024), 0 allocs/item", all(ratio("ours", "chan", 1.2), allocs("ours", 0))},
	{"Queue/mpmc-4x4-burst", "4x4 <= 1.2x a buffered channel in both harness shapes (goroutines started per op), 0 allocs/item", all(ratio("ours", "chan", 1.2), allocs("ours", 0))},
	{"Executor/fire-and-forget", "fire-and-forget <= 1.2x a fixed channel pool", ratio("ours", "chanPool", 1.2)},
	{"Executor/future", "Submit+Wait future <= 1 alloc and faster than every peer's future", all(allocs("ours", 1), fasterThanPeers("ours"))},
	{"Executor/cpu-bound", "CPU speed-up >= 1.95x on 2 cores", speedup("ours", 1.95)},
	{"Taskgroup/go-wait", "Go+Wait <= 1.1x go+sync.WaitGroup, <= 1 alloc per task", all(ratio("ours", "goWaitGroup", 1.1), allocs("ours", 1))},
	{"Gather/all", "All over 100 funcs <= 1.1x go+WaitGroup+slice", ratio("ours", "goWaitGroup", 1.1)},
	{"Retry/first-try", "first-try success adds <= 20 ns and 0 allocs", all(added("ours", "direct", 20), allocs("ours", 0))},
	{"Breaker/success", "adds <= 15 ns over raw gobreaker Execute, 0 allocs on success", all(added("ours", "gobreaker", 15), allocs("ours", 0))},
	{"Breaker/success-parallel", "adds <= 15 ns over raw gobreaker Execute, 0 allocs on success", all(added("ours", "gobreaker", 15), allocs("ours", 0))},
	{"Memo/hit", "a hit (no TTL: no clock read) <= 1.5x a sync.Mutex+map lookup, 0 allocs", all(ratio("ours", "mutexMap", 1.5), allocs("ours", 0))},
	{"Memo/stampede", "a cold-key stampede <= 1.2x raw singleflight per waiter", ratio("ours", "singleflight", 1.2)},
	{"RetryHTTP/first-try", "first-try success: less overhead than go-retryablehttp and failsafehttp, no more allocs than go-retryablehttp", all(fasterThanPeers("ours"), allocsAtMost("ours", "retryablehttp"))},
	{"Jsqueue/consumers-1", "Put+Get+Done per item <= 1.1x raw nats.go JetStream", ratio("ours", "jetstream", 1.1)},
	{"Jsqueue/consumers-4", "Put+Get+Done per item <= 1.1x raw nats.go JetStream", ratio("ours", "jetstream", 1.1)},
	{"Jsqueue/near-empty", "Put+Get+Done, every Get waiting, <= 1.1x raw JetStream, no more messages per item", all(ratio("ours", "jetstream", 1.1), metricAtMost("ours", "msgs/item", 2))},
	{"Breaker/shared-8x8", "shared: >= 0.9x local gobreaker's throughput, >= 8x DistributedCircuitBreaker's, <= 2 Redis round trips per call", all(ratio("ours", "gobreaker", 1/0.9), ratio("ours", "gobreakerDistributed", 1.0/8), metricAtMost("ours", "rtt/call", 2))},
	{"Breaker/shared-open", "shared: 0 Redis round trips per rejection while the open period is known", metricAtMost("ours", "rtt/call", 0)},

	{"Limit/rate-allow", "Allow <= raw x/time/rate + 20 ns, 0 allocs", all(added("ours", "xrate", 20), allocs("ours", 0))},
	{"Limit/rate-allow-parallel", "Allow <= raw x/time/rate + 20 ns, 0 allocs", all(added("ours", "xrate", 20), allocs("ours", 0))},
	{"Limit/rate-do", "Do <= raw x/time/rate Wait + call + 20 ns, 0 allocs", all(added("ours", "xrate", 20), allocs("ours", 0))},
	{"Limit/rate-do-parallel", "Do <= raw x/time/rate Wait + call + 20 ns, 0 allocs", all(added("ours", "xrate", 20), allocs("ours", 0))},
	{"Limit/bulkhead-do", "bulkhead Do <= raw x/sync semaphore + call + 20 ns, 0 allocs", all(added("ours", "semaphore", 20), allocs("ours", 0))},
	{"Limit/bulkhead-do-parallel", "bulkhead Do <= raw x/sync semaphore + call + 20 ns, 0 allocs", all(added("ours", "semaphore", 20), allocs("ours", 0))},

	{"Guard/first-try", "retry + breaker through a guard: 0 allocs", allocs("ours", 0)},
	{"Guard/paired", "retry + breaker through a guard <= the two by hand + 30 ns (fastest of alternating blocks)", metricAtMost("ours", "overhead-ns/call", 30)},
	{"RedisLimit/allow", "shared Allow <= 1.1x redis_rate v10's on the same server, 1 Redis round trip per decision", all(ratio("ours", "redis_rate", 1.1), metricAtMost("ours", "rtt/op", 1))},
	{"RedisLimit/semaphore", "shared semaphore acquire+release: 2 Redis round trips", metricAtMost("ours", "rtt/op", 2)},
}

func rows(s *Scenario, names ...string) ([]*Bench, string) {
	out := make([]*Bench, len(names))
	for i, n := range names {
		if out[i] = s.Get(n); out[i] == nil {
			return nil, n
		}
	}
	return out, ""
}

// ratio: contender's time <= limit x ref's time.
func ratio(contender, ref string, limit float64) func(*Scenario) Verdict {
	return func(s *Scenario) Verdict {
		r, missing := rows(s, contender, ref)
		if missing != "" {
			return Verdict{Missing: missing}
		}
		x := median(r[0]) / median(r[1])
		return Verdict{Met: x <= limit, Measured: fmt.Sprintf("%.2fx %s", x, ref)}
	}
}

// added: contender's time - ref's time <= ns.
func added(contender, ref string, ns float64) func(*Scenario) Verdict {
	return func(s *Scenario) Verdict {
		r, missing := rows(s, contender, ref)
		if missing != "" {
			return Verdict{Missing: missing}
		}
		d := median(r[0]) - median(r[1])
		return Verdict{Met: d <= ns, Measured: fmt.Sprintf("%+.1f ns over %s (%.2fx)", d, ref, median(r[0])/median(r[1]))}
	}
}

// allocs: contender's allocations per item <= n, to two decimals, so that
// what an op allocates once (a group, a result slice) and shares among its
// items does not count as a per-item allocation.
func allocs(contender string, n float64) func(*Scenario) Verdict {
	return func(s *Scenario) Verdict {
		r, missing := rows(s, contender)
		if missing != "" {
			return Verdict{Missing: missing}
		}
		a := math.Round(r[0].Allocs()*100) / 100
		return Verdict{Met: a <= n, Measured: fmt.Sprintf("%s allocs/item", num(a))}
	}
}

// allocsAtMost: contender's allocations per op <= ref's.
func allocsAtMost(contender, ref string) func(*Scenario) Verdict {
	return func(s *Scenario) Verdict {
		r, missing := rows(s, contender, ref)
		if missing != "" {
			return Verdict{Missing: missing}
		}
		a, b := r[0].Allocs(), r[1].Allocs()
		return Verdict{Met: a <= b, Measured: fmt.Sprintf("%s allocs/op against %s's %s", num(a), ref, num(b))}
	}
}

// fasterThanPeers: contender's time < every library peer's.
func fasterThanPeers(contender string) func(*Scenario) Verdict {
	return func(s *Scenario) Verdict {
		r, missing := rows(s, contender)
		if missing != "" {
			return Verdict{Missing: missing}
		}
		best := s.BestPeer()
		if best == nil {
			return Verdict{Missing: "a library peer"}
		}
		x := median(r[0]) / median(best)
		return Verdict{Met: x < 1, Measured: fmt.Sprintf("%.2fx the best peer (%s)", x, best.Contender)}
	}
}

// speedup: contender's median "speedup" metric >= min.
func speedup(contender string, min float64) func(*Scenario) Verdict {
	return func(s *Scenario) Verdict {
		r, missing := rows(s, contender)
		if missing != "" {
			return Verdict{Missing: missing}
		}
		if !r[0].Has("speedup") {
			return Verdict{Missing: contender + "'s speedup metric"}
		}
		st := r[0].Stat("speedup")
		return Verdict{Met: st.Median >= min, Measured: fmt.Sprintf("%.2fx (runs %.2f-%.2f)", st.Median, st.Min, st.Max)}
	}
}

// metricAtMost: contender's median of the unit (a b.ReportMetric) <= max.
func metricAtMost(contender, unit string, max float64) func(*Scenario) Verdict {
	return func(s *Scenario) Verdict {
		r, missing := rows(s, contender)
		if missing != "" {
			return Verdict{Missing: missing}
		}
		if !r[0].Has(unit) {
			return Verdict{Missing: contender + "'s " + unit + " metric"}
		}
		m := r[0].Stat(unit).Median
		return Verdict{Met: m <= max, Measured: fmt.Sprintf("%s %s", num(m), unit)}
	}
}

// all is met when every check is.
func all(checks ...func(*Scenario) Verdict) func(*Scenario) Verdict {
	return func(s *Scenario) Verdict {
		v := Verdict{Met: true}
		var parts []string
		for _, c := range checks {
			w := c(s)
			if w.Missing != "" {
				return w
			}
			v.Met = v.Met && w.Met
			parts = append(parts, w.Measured)
		}
		v.Measured = strings.Join(parts, ", ")
		return v
	}
}

// Write prints the report: the targets, then one table per scenario, grouped
// by package.
func Write(w io.Writer, out *Output) {
	scs := Scenarios(Group(out.Runs))
	procs := map[int]bool{}
	runs := map[int]bool{}
	for _, s := range scs {
		for _, b := range s.Rows {
			runs[len(b.Runs)] = true
			for _, r := range b.Runs {
				procs[r.Procs] = true
			}
		}
	}
	fmt.Fprintf(w, "cpu: %s; %s/%s; GOMAXPROCS %s; runs per row: %s\n\n",
		orDash(out.Config["cpu"]), orDash(out.Config["goos"]), orDash(out.Config["goarch"]), keys(procs), keys(runs))

	fmt.Fprintln(w, "### Targets (DESIGN.md)")
	fmt.Fprintln(w)
	fmt.Fprintln(w, "| benchmark | target | measured (medians) | verdict |")
	fmt.Fprintln(w, "|---|---|---|---|")
	for _, t := range targets {
		var s *Scenario
		for _, c := range scs {
			if c.Key() == t.Key {
				s = c
			}
		}
		verdict, measured := "not run", "—"
		if s != nil {
			switch v := t.Check(s); {
			case v.Missing != "":
				measured = "no row " + v.Missing
			case v.Met:
				verdict, measured = "met", v.Measured
			default:
				verdict, measured = "**NOT met**", v.Measured
			}
		}
		fmt.Fprintf(w, "| %s | %s | %s | %s |\n", t.Key, t.Text, measured, verdict)
	}

	pkg := ""
	for _, s := range scs {
		if s.Package != pkg {
			pkg = s.Package
			fmt.Fprintf(w, "\n### %s\n", pkg)
		}
		writeTable(w, s)
	}
	fmt.Fprintln(w)
	fmt.Fprintln(w, "Time and allocations are medians over the runs; ± is the largest distance from the median to the fastest or slowest run.")
	fmt.Fprintln(w, "Per item where an op covers many items (allocs too). \"vs floor\" divides by the row marked (floor);")
	fmt.Fprintln(w, "\"vs best peer\" by the fastest library peer (hand-written rows and ours are not peers). Below 1.00x is faster.")
}

func writeTable(w io.Writer, s *Scenario) {
	_, unit := s.Rows[0].Time()
	var extra []string // metrics beyond the standard ones, e.g. speedup
	for _, b := range s.Rows {
		for _, r := range b.Runs {
			for u := range r.Metrics {
				switch u {
				case "ns/op", "ns/item", "B/op", "allocs/op", "MB/s":
				default:
					if !slices.Contains(extra, u) {
						extra = append(extra, u)
					}
				}
			}
		}
	}
	slices.Sort(extra)
	allocUnit := "allocs/op"
	if unit == "ns/item" {
		allocUnit = "allocs/item"
	}
	fmt.Fprintf(w, "\n%s:\n\n", orDash(s.Name))
	fmt.Fprintf(w, "| contender | %s | ± | %s | vs floor | vs best peer |", unit, allocUnit)
	for _, u := range extra {
		fmt.Fprintf(w, " %s |", u)
	}
	fmt.Fprint(w, "\n|---|---:|---:|---:|---:|---:|")
	for range extra {
		fmt.Fprint(w, "---:|")
	}
	fmt.Fprintln(w)
	best := s.BestPeer()
	for _, b := range s.Rows {
		st, _ := b.Time()
		name := b.Contender
		switch {
		case b == s.Floor:
			name += " (floor)"
		case isOurs(name):
			name = "**" + name + "**"
		}
		vsFloor := fmt.Sprintf("%.2fx", st.Median/median(s.Floor))
		vsPeer := "—"
		if best != nil {
			vsPeer = fmt.Sprintf("%.2fx", st.Median/median(best))
		}
		fmt.Fprintf(w, "| %s | %s | ±%.0f%% | %s | %s | %s |", name, num(st.Median), 100*st.Spread(), num(b.Allocs()), vsFloor, vsPeer)
		for _, u := range extra {
			if b.Has(u) {
				fmt.Fprintf(w, " %s |", num(b.Stat(u).Median))
			} else {
				fmt.Fprint(w, " |")
			}
		}
		fmt.Fprintln(w)
	}
}

// num formats a value with three significant digits or so.
func num(x float64) string {
	switch a := math.Abs(x); {
	case math.IsNaN(x):
		return "—"
	case x == math.Trunc(x) && a < 1e6:
		return fmt.Sprintf("%.0f", x)
	case a >= 100:
		return fmt.Sprintf("%.0f", x)
	case a >= 10:
		return fmt.Sprintf("%.1f", x)
	default:
		return fmt.Sprintf("%.2f", x)
	}
}

func keys(m map[int]bool) string {
	var ks []int
	for k := range m {
		ks = append(ks, k)
	}
	slices.Sort(ks)
	var s []string
	for _, k := range ks {
		s = append(s, fmt.Sprint(k))
	}
	return orDash(strings.Join(s, ", "))
}

func orDash(s string) string {
	if s == "" {
		return "—"
	}
	return s
}
