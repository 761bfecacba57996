package main

import (
	"fmt"
	"io"
	"math"
	"slices"
	"strings"
	"time"
)

// Targets of issue 31, checked for every adaptive contender.
const (
	targetGoodput  = 0.95 // share of the phase's achievable goodput
	targetP99      = 1.5  // admitted p99 as a multiple of the phase's service time
	targetConverge = 5 * time.Second
)

// windowStats is one reporting window of one contender. Requests count in
// the window in which they were sent.
type windowStats struct {
	arrivals  int // requests sent in the window
	successes int
	rejected  int
	timedOut  int
	refused   int
	latencies []time.Duration // admitted requests
	minLimit  int             // -1: no limit
	maxLimit  int
}

// phaseStats sums the windows of one phase.
type phaseStats struct {
	phase      phase
	achievable float64 // min(arrivals, capacity) over the phase
	successes  int
	rejected   int
	timedOut   int
	refused    int
	p50, p99   time.Duration
	converge   time.Duration // -1: never; 0 for the first phase
	minLimit   int           // -1: no limit
	maxLimit   int
	below      time.Duration // time the limit spent below the workers
}

func (p phaseStats) goodput() float64 {
	if p.achievable == 0 {
		return math.NaN()
	}
	return float64(p.successes) / p.achievable
}

// summary is one contender in one scenario.
type summary struct {
	name    string
	windows []windowStats
	share   []float64 // goodput share per window
	phases  []phaseStats
}

// capacity returns what a phase's server can answer per second.
func (sc scenario) capacity(p phase) float64 {
	return float64(sc.workers) / p.service.Seconds()
}

// summarize cuts a contender's records into windows and phases.
func summarize(sc scenario, schedule []time.Duration, r result) summary {
	n := int((sc.length() + sc.window - 1) / sc.window)
	idx := func(t time.Duration) int { return min(max(int(t/sc.window), 0), n-1) }
	ws := make([]windowStats, n)
	for i := range ws {
		ws[i].minLimit, ws[i].maxLimit = -1, -1
	}
	for _, t := range schedule {
		ws[idx(t)].arrivals++
	}
	for _, rec := range r.records {
		w := &ws[idx(rec.sent)]
		switch rec.outcome {
		case success:
			w.successes++
		case rejected:
			w.rejected++
		case timedOut:
			w.timedOut++
		case refused:
			w.refused++
		}
		if rec.outcome != rejected {
			w.latencies = append(w.latencies, rec.latency)
		}
	}
	for _, s := range r.limits {
		w := &ws[idx(s.at)]
		if w.minLimit < 0 || s.limit < w.minLimit {
			w.minLimit = s.limit
		}
		w.maxLimit = max(w.maxLimit, s.limit)
	}

	sum := summary{name: r.name, windows: ws, share: make([]float64, n)}
	ok := make([]bool, n)
	for i := range ws {
		p := sc.phases[sc.phaseAt(time.Duration(i)*sc.window)]
		ach := math.Min(float64(ws[i].arrivals), sc.capacity(p)*sc.window.Seconds())
		if ach > 0 {
			sum.share[i] = float64(ws[i].successes) / ach
		} else {
			sum.share[i] = 1
		}
		ok[i] = len(ws[i].latencies) == 0 || quantile(ws[i].latencies, 0.99) <= time.Duration(targetP99*float64(p.service))
	}

	var at time.Duration
	for pi, p := range sc.phases {
		ps := phaseStats{phase: p, minLimit: -1, maxLimit: -1}
		first, last := idx(at), idx(at+p.length-1)
		var lats []time.Duration
		for i := first; i <= last; i++ {
			w := ws[i]
			ps.achievable += math.Min(float64(w.arrivals), sc.capacity(p)*sc.window.Seconds())
			ps.successes += w.successes
			ps.rejected += w.rejected
			ps.timedOut += w.timedOut
			ps.refused += w.refused
			lats = append(lats, w.latencies...)
			if w.minLimit >= 0 && (ps.minLimit < 0 || w.minLimit < ps.minLimit) {
				ps.minLimit = w.minLimit
			}
			ps.maxLimit = max(ps.maxLimit, w.maxLimit)
		}
		ps.p50, ps.p99 = quantile(lats, 0.5), quantile(lats, 0.99)
		if pi > 0 {
			// Converged: from the first window w such that every window
			// from w to the end of the phase meets the p99 target and
			// their goodput together meets the goodput target. (Goodput
			// is judged over the rest of the phase, not per window: with
			// Poisson arrivals one window's share swings by +-10%.)
			ps.converge = -1
			var succ, ach float64
			for i := last; i >= first && ok[i]; i-- {
				succ += float64(ws[i].successes)
				ach += math.Min(float64(ws[i].arrivals), sc.capacity(p)*sc.window.Seconds())
				if ach == 0 || succ/ach >= targetGoodput {
					ps.converge = time.Duration(i-first) * sc.window
				}
			}
		}
		for k, l := range r.limits {
			if l.at >= at && l.at < at+p.length && l.limit < sc.workers && k+1 < len(r.limits) {
				ps.below += r.limits[k+1].at - l.at
			}
		}
		sum.phases = append(sum.phases, ps)
		at += p.length
	}
	return sum
}

// quantile returns the q-quantile of ds (nearest rank), 0 for none.
func quantile(ds []time.Duration, q float64) time.Duration {
	if len(ds) == 0 {
		return 0
	}
	s := slices.Clone(ds)
	slices.Sort(s)
	i := int(math.Ceil(q*float64(len(s)))) - 1
	return s[min(max(i, 0), len(s)-1)]
}

// writeReport prints one scenario as markdown: the table, the targets of the
// adaptive contenders and the goodput chart.
func writeReport(w io.Writer, sc scenario, sums []summary) {
	fmt.Fprintf(w, "### %s\n\n", sc.title())
	fmt.Fprintln(w, "| contender | phase | goodput | rejected | timed out | server full | p50 | p99 | converged in | limit (min-max) |")
	fmt.Fprintln(w, "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|")
	for _, s := range sums {
		for pi, p := range s.phases {
			conv := "-"
			if pi > 0 {
				conv = fmtConverge(p.converge)
			}
			lim := "-"
			if p.minLimit >= 0 {
				lim = fmt.Sprintf("%d-%d", p.minLimit, p.maxLimit)
			}
			fmt.Fprintf(w, "| %s | %s (%v) | %.0f%% | %d | %d | %d | %v | %v | %s | %s |\n",
				s.name, p.phase.name, p.phase.service, 100*p.goodput(), p.rejected, p.timedOut, p.refused,
				p.p50.Round(time.Millisecond), p.p99.Round(time.Millisecond), conv, lim)
		}
	}
	fmt.Fprintln(w)
	writeTargets(w, sc, sums)
	writeChart(w, sc, sums)
	if perWindow {
		writeWindows(w, sc, sums)
	}
}

// perWindow is the -windows flag.
var perWindow bool

// writeWindows prints every window of every contender.
func writeWindows(w io.Writer, sc scenario, sums []summary) {
	fmt.Fprintln(w, "| contender | window | sent | goodput | rejected | timed out | p50 | p99 | limit |")
	fmt.Fprintln(w, "|---|---:|---:|---:|---:|---:|---:|---:|---:|")
	for _, s := range sums {
		for i, ws := range s.windows {
			fmt.Fprintf(w, "| %s | %v | %d | %.0f%% | %d | %d | %v | %v | %d-%d |\n", s.name, time.Duration(i)*sc.window,
				ws.arrivals, 100*s.share[i], ws.rejected, ws.timedOut,
				quantile(ws.latencies, 0.5).Round(time.Millisecond), quantile(ws.latencies, 0.99).Round(time.Millisecond),
				ws.minLimit, ws.maxLimit)
		}
	}
	fmt.Fprintln(w)
}

func (sc scenario) title() string {
	var parts []string
	for _, p := range sc.phases {
		parts = append(parts, fmt.Sprintf("%v at %v", p.length, p.service))
	}
	return fmt.Sprintf("%s: deadline %v; %s", sc.name, sc.deadline, strings.Join(parts, ", then "))
}

func fmtConverge(d time.Duration) string {
	if d < 0 {
		return "never"
	}
	return d.String()
}

// writeTargets lists, for each contender with a limit, whether it met each
// target of issue 31, and how it compares with failsafe-go.
func writeTargets(w io.Writer, sc scenario, sums []summary) {
	var anchor *summary
	for i := range sums {
		if sums[i].name == nameFailsafe {
			anchor = &sums[i]
		}
	}
	for _, s := range sums {
		if s.name != nameOurs {
			continue
		}
		var lines []string
		mark := func(ok bool) string {
			if ok {
				return "met"
			}
			return "MISSED"
		}
		for pi, p := range s.phases {
			g, lim := p.goodput(), time.Duration(targetP99*float64(p.phase.service))
			lines = append(lines, fmt.Sprintf("%s: goodput %.0f%% >= %.0f%% %s; p99 %v <= %v %s",
				p.phase.name, 100*g, 100*targetGoodput, mark(g >= targetGoodput),
				p.p99.Round(time.Millisecond), lim, mark(p.p99 <= lim)))
			if pi > 0 {
				lines[len(lines)-1] += fmt.Sprintf("; converged in %s <= %v %s",
					fmtConverge(p.converge), targetConverge, mark(p.converge >= 0 && p.converge <= targetConverge))
			}
		}
		spike := s.phases[1]
		if spike.minLimit >= 0 {
			lines = append(lines, fmt.Sprintf("lowest limit in the spike %d, the server sustains %d: %s (below it for %v of %v)",
				spike.minLimit, sc.workers, mark(spike.minLimit >= sc.workers), spike.below.Round(10*time.Millisecond), spike.phase.length))
		}
		if anchor != nil {
			a := anchor.phases[1]
			lines = append(lines, fmt.Sprintf("spike against failsafe-go: goodput %.0f%% vs %.0f%% %s; p99 %v vs %v %s",
				100*spike.goodput(), 100*a.goodput(), mark(spike.goodput() > a.goodput() || spike.goodput() >= 0.995 && a.goodput() >= 0.995),
				spike.p99.Round(time.Millisecond), a.p99.Round(time.Millisecond), mark(spike.p99 < a.p99)))
		}
		fmt.Fprintf(w, "Targets for %s:\n\n", s.name)
		for _, l := range lines {
			fmt.Fprintf(w, "- %s\n", l)
		}
		fmt.Fprintln(w)
	}
}

// writeChart draws the goodput share of each window, one row per contender,
// one character per window, with the phases marked underneath.
func writeChart(w io.Writer, sc scenario, sums []summary) {
	levels := []rune(" ▁▂▃▄▅▆▇█")
	width := 0
	for _, s := range sums {
		width = max(width, len(s.name))
	}
	fmt.Fprintf(w, "Goodput per %v window as a share of what the phase allows (█ = 100%%):\n\n```\n", sc.window)
	for _, s := range sums {
		var b strings.Builder
		for _, v := range s.share {
			i := int(math.Round(math.Min(math.Max(v, 0), 1) * float64(len(levels)-1)))
			b.WriteRune(levels[i])
		}
		fmt.Fprintf(w, "%-*s |%s|\n", width, s.name, b.String())
	}
	var b strings.Builder
	for i := range len(sums[0].share) {
		if sc.phaseAt(time.Duration(i)*sc.window) == 1 {
			b.WriteByte('^')
		} else {
			b.WriteByte('-')
		}
	}
	fmt.Fprintf(w, "%-*s |%s|\n```\n\n", width, "(^ = spike)", b.String())
}
