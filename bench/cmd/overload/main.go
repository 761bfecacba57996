// Command overload is the overload benchmark of issue 31, in real time: a
// simulated server of 12 workers behind a 1000-deep queue, service time 50
// ms; an open-loop client sends 100 requests a second (Poisson arrivals, the
// same schedule for every contender), each with a deadline; after 10 s the
// service time becomes 200 ms (capacity 60 requests a second, 1.7x
// overload) for 20 s, then 50 ms again for 10 s.
//
// Four contenders guard their own copy of the server in one run, all at
// once (the load is sleep-bound, so they do not compete for the CPU): no
// limit, a static bulkhead of 12 (no waiting), failsafe-go v0.9.8's
// adaptivelimiter with its defaults, and ours (limit.NewAdaptive with its
// defaults). Real time, because failsafe-go's limiter has absolute time
// constants (a 1 s sampling window): a sped-up run would not be fair to it.
//
// Per window (1 s) it measures goodput (answers within the deadline) as a
// share of what the phase allows (the lesser of the requests sent and the
// server's capacity), rejections, timeouts, the admitted requests' p50 and
// p99 latency (from the client's send, so a limiter's own queue counts),
// the limit, and the time to converge after each change of phase (from the
// change to the first window after which every window of the phase has
// goodput >= 95% and p99 <= 1.5x the service time). It prints a markdown
// table per variant, the targets of issue 31 for ours, and a text chart of
// goodput over time.
//
//	go run ./cmd/overload                     # the three variants, at once (80 s)
//	go run ./cmd/overload -variant 500ms      # one of: 1s, 500ms, long-spike
//	go run ./cmd/overload -scale 0.1          # every phase 10x shorter (a smoke test)
//	go run ./cmd/overload -windows            # and every window's figures
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/failsafe-go/failsafe-go"
	"github.com/failsafe-go/failsafe-go/adaptivelimiter"
	"golang.org/x/sync/semaphore"

	"github.com/async-patterns/async/limit"
)

const (
	nameNone     = "no limit"
	nameBulkhead = "bulkhead(12)"
	nameFailsafe = "failsafe-go"
	nameOurs     = "ours"
)

func main() {
	variant := flag.String("variant", "all", "which variant: 1s, 500ms, long-spike or all (run at once)")
	scale := flag.Float64("scale", 1, "multiply every phase and the window by this (0.1 for a quick look)")
	flag.BoolVar(&perWindow, "windows", false, "also print every window of every contender")
	flag.Parse()

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	if err := run(ctx, os.Stdout, *variant, *scale); err != nil {
		fmt.Fprintln(os.Stderr, "overload:", err)
		os.Exit(1)
	}
}

// variants are the scenarios of issue 31, at full length.
func variants() []scenario {
	base := func(name string, deadline, spike time.Duration) scenario {
		return scenario{
			name: name, workers: 12, queueDepth: 1000, rate: 100, deadline: deadline,
			window: time.Second, seed: 31,
			phases: []phase{
				{name: "before", length: 10 * time.Second, service: 50 * time.Millisecond},
				{name: "spike", length: spike, service: 200 * time.Millisecond},
				{name: "after", length: 10 * time.Second, service: 50 * time.Millisecond},
			},
		}
	}
	return []scenario{
		base("1s", time.Second, 20*time.Second),
		base("500ms", 500*time.Millisecond, 20*time.Second),
		base("long-spike", time.Second, 60*time.Second),
	}
}

// run plays the chosen variants at once and writes their reports in order.
func run(ctx context.Context, out io.Writer, variant string, scale float64) error {
	if scale <= 0 || scale > 10 {
		return fmt.Errorf("-scale must be in (0, 10], got %v", scale)
	}
	var chosen []scenario
	var names []string
	for _, sc := range variants() {
		names = append(names, sc.name)
		if variant == "all" || variant == sc.name {
			chosen = append(chosen, sc.scaled(scale))
		}
	}
	if len(chosen) == 0 {
		return fmt.Errorf("unknown -variant %q: want one of %s or all", variant, strings.Join(names, ", "))
	}

	reports := make([][]summary, len(chosen))
	var wg sync.WaitGroup
	for i, sc := range chosen {
		schedule := sc.arrivals()
		cs := contenders(sc)
		reports[i] = make([]summary, len(cs))
		for j, c := range cs {
			wg.Go(func() {
				reports[i][j] = summarize(sc, schedule, runContender(ctx, sc, c, schedule))
			})
		}
	}
	wg.Wait()
	if err := ctx.Err(); err != nil {
		return err
	}
	fmt.Fprintf(out, "Overload benchmark: %d workers, a %d-deep queue, %.0f requests/s open loop (Poisson), real time.\n\n",
		chosen[0].workers, chosen[0].queueDepth, chosen[0].rate)
	for i, sc := range chosen {
		writeReport(out, sc, reports[i])
	}
	return nil
}

// scaled returns sc with every phase and the window multiplied by f; the
// service times and the deadline stay.
func (sc scenario) scaled(f float64) scenario {
	sc.phases = slices.Clone(sc.phases)
	for i := range sc.phases {
		sc.phases[i].length = time.Duration(float64(sc.phases[i].length) * f)
	}
	sc.window = time.Duration(float64(sc.window) * f)
	return sc
}

// contenders returns a fresh set of the four contenders.
func contenders(sc scenario) []contender {
	plain := func(ctx context.Context, call func(context.Context) error) (bool, error) {
		return true, call(ctx)
	}

	sem := semaphore.NewWeighted(int64(sc.workers))
	bulkhead := func(ctx context.Context, call func(context.Context) error) (bool, error) {
		if !sem.TryAcquire(1) {
			return false, nil
		}
		defer sem.Release(1)
		return true, call(ctx)
	}

	fl := adaptivelimiter.NewWithDefaults[any]()
	fe := failsafe.With[any](fl)
	fsDo := func(ctx context.Context, call func(context.Context) error) (bool, error) {
		err := fe.WithContext(ctx).Run(func() error { return call(ctx) })
		if errors.Is(err, adaptivelimiter.ErrExceeded) {
			return false, err
		}
		return true, err
	}

	ours := limit.NewAdaptive()
	oursDo := func(ctx context.Context, call func(context.Context) error) (bool, error) {
		err := ours.Do(ctx, call)
		if errors.Is(err, limit.ErrRejected) {
			return false, err
		}
		return true, err
	}

	return []contender{
		{name: nameNone, do: plain},
		{name: nameBulkhead, do: bulkhead, limit: func() int { return sc.workers }},
		{name: nameFailsafe, do: fsDo, limit: fl.Limit},
		{name: nameOurs, do: oursDo, limit: func() int { return ours.Stats().Limit }},
	}
}
