package main

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"math/big"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"testing/synctest"
	"time"

	"go.uber.org/goleak"
)

var binDir string // holds the command built by buildCommand

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "pipeline-test-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	binDir = dir
	goleak.VerifyTestMain(m, goleak.Cleanup(func(code int) {
		os.RemoveAll(dir)
		os.Exit(code)
	}))
}

var (
	buildOnce sync.Once
	buildErr  error
)

// buildCommand builds the pipeline command once and returns its path.
func buildCommand(t *testing.T) string {
	t.Helper()
	if testing.Short() {
		t.Skip("builds and runs the command")
	}
	bin := filepath.Join(binDir, "pipeline")
	buildOnce.Do(func() {
		out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput()
		if err != nil {
			buildErr = fmt.Errorf("go build: %v\n%s", err, out)
		}
	})
	if buildErr != nil {
		t.Fatal(buildErr)
	}
	return bin
}

// sumOfSquares is the closed form n(n+1)(2n+1)/6, in big integers.
func sumOfSquares(n int64) string {
	v := big.NewInt(n)
	v.Mul(v, big.NewInt(n+1))
	v.Mul(v, big.NewInt(2*n+1))
	return v.Div(v, big.NewInt(6)).String()
}

func TestRunProcessesEveryItem(t *testing.T) {
	var out bytes.Buffer
	if err := run(context.Background(), &out, config{items: 5000, workers: 3, capacity: 8}); err != nil {
		t.Fatalf("run() = %v; want nil", err)
	}
	want := fmt.Sprintf("produced 5000, squared 5000, consumed 5000\nsum of squares: %s\nlost: 0\n", sumOfSquares(5000))
	if got := out.String(); got != want {
		t.Errorf("run printed:\n%s\nwant:\n%s", got, want)
	}
}

// The sum of the first 4,000,000 squares, 21333341333334000000, does not
// fit in an int64: the pipeline once printed 2886597259624448384.
func TestSumIsRightPastInt64(t *testing.T) {
	if testing.Short() {
		t.Skip("pushes 4,000,000 items through the pipeline")
	}
	var out bytes.Buffer
	if err := run(context.Background(), &out, config{items: 4_000_000, workers: 2, capacity: 1024}); err != nil {
		t.Fatalf("run() = %v; want nil", err)
	}
	want := "produced 4000000, squared 4000000, consumed 4000000\nsum of squares: 21333341333334000000\nlost: 0\n"
	if got := out.String(); got != want {
		t.Errorf("run printed:\n%s\nwant:\n%s", got, want)
	}
	if got := sumOfSquares(4_000_000); got != "21333341333334000000" {
		t.Errorf("sumOfSquares(4000000) = %s; want 21333341333334000000", got)
	}
}

func TestUint128(t *testing.T) {
	t.Run("a sum carries from the low word into the high one", func(t *testing.T) {
		got, overflow := uint128{0, 1<<64 - 1}.add(uint128{0, 2})
		if want := (uint128{1, 1}); got != want || overflow {
			t.Errorf("add() = %v, %t; want %v, false", got, overflow, want)
		}
		if got, want := got.String(), "18446744073709551617"; got != want {
			t.Errorf("String() = %s; want %s", got, want)
		}
	})
	t.Run("a sum past 128 bits reports an overflow", func(t *testing.T) {
		if _, overflow := (uint128{1<<64 - 1, 1<<64 - 1}).add(uint128{0, 1}); !overflow {
			t.Errorf("add() overflow = false; want true")
		}
	})
	t.Run("the largest square of a uint64 prints exactly", func(t *testing.T) {
		m := new(big.Int).SetUint64(1<<64 - 1)
		want := m.Mul(m, m).String()
		var sum uint128
		sum, _ = sum.add(uint128{1<<64 - 2, 1}) // (2⁶⁴-1)² = 2¹²⁸ - 2⁶⁵ + 1
		if got := sum.String(); got != want {
			t.Errorf("String() = %s; want %s", got, want)
		}
	})
}

func TestInterruptDrainsInFlightItems(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var out bytes.Buffer
	cfg := config{items: 1_000_000, workers: 2, capacity: 16, grace: time.Hour, produced: func(n int) {
		if n == 1000 {
			cancel() // Ctrl-C part-way through
		}
	}}
	if err := run(ctx, &out, cfg); err != nil {
		t.Fatalf("run() = %v; want nil", err)
	}
	got := out.String()
	if !strings.HasPrefix(got, "interrupted: stopped producing, drained what was in flight\n") {
		t.Errorf("run printed %q; want it to report the interruption", got)
	}
	want := fmt.Sprintf("produced 1000, squared 1000, consumed 1000\nsum of squares: %s\nlost: 0\n", sumOfSquares(1000))
	if !strings.HasSuffix(got, want) {
		t.Errorf("run printed:\n%s\nwant it to end with:\n%s", got, want)
	}
}

func TestInterruptEndsAStalledRun(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		ctx, cancel := context.WithCancel(context.Background())
		defer cancel()
		var out bytes.Buffer
		// The sink takes an hour an item: the producer soon waits in Put.
		cfg := config{items: 1000, workers: 2, capacity: 4, grace: 500 * time.Millisecond, slow: time.Hour}
		done := make(chan error, 1)
		go func() { done <- run(ctx, &out, cfg) }()
		synctest.Wait() // every stage is blocked
		start := time.Now()
		cancel()
		err := <-done
		if took := time.Since(start); took != cfg.grace {
			t.Errorf("run returned %v after the interrupt; want %v (the grace period)", took, cfg.grace)
		}
		if err == nil || !strings.Contains(err.Error(), "drain cut off after 500ms") {
			t.Errorf("run() = %v; want a drain-cut-off error", err)
		}
		// 4 numbers and 4 squares queued, 2 squares held by blocked
		// workers, 1 item in the sink: 11 produced, none consumed.
		want := "interrupted: stopped producing; the drain was cut off after 500ms\n" +
			"produced 11, squared 5, consumed 0\nsum of squares: 0\n" +
			"unfinished: 11 (in flight when the drain was cut off)\n"
		if got := out.String(); got != want {
			t.Errorf("run printed:\n%s\nwant:\n%s", got, want)
		}
	})
}

func TestParseFlags(t *testing.T) {
	t.Run("good flags give a config", func(t *testing.T) {
		cfg, err := parseFlags([]string{"-n", "10", "-workers", "3", "-capacity", "5", "-grace", "1s"}, new(bytes.Buffer))
		if err != nil {
			t.Fatalf("parseFlags() = %v; want nil", err)
		}
		if cfg.items != 10 || cfg.workers != 3 || cfg.capacity != 5 || cfg.grace != time.Second {
			t.Errorf("parseFlags() = %+v; want items 10, workers 3, capacity 5, grace 1s", cfg)
		}
	})
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"-workers", "0"}, "-workers must be 1 or more; got 0"},
		{[]string{"-workers", "-2"}, "-workers must be 1 or more; got -2"},
		{[]string{"-n", "-1"}, "-n must be 0 or more; got -1"},
		{[]string{"-capacity", "0"}, "-capacity must be 1 or more; got 0"},
		{[]string{"-grace", "-1s"}, "-grace must not be negative"},
		{[]string{"-slow", "-1s"}, "-slow must not be negative"},
		{[]string{"extra"}, `unexpected argument "extra"`},
		{[]string{"-workers", "many"}, `invalid value "many" for flag -workers`},
		{[]string{"-nope"}, "flag provided but not defined: -nope"},
	} {
		t.Run(fmt.Sprintf("%q is refused", tc.args), func(t *testing.T) {
			var errOut bytes.Buffer
			if _, err := parseFlags(tc.args, &errOut); err == nil {
				t.Fatalf("parseFlags(%q) = nil; want an error", tc.args)
			}
			if !strings.Contains(errOut.String(), tc.want) || !strings.Contains(errOut.String(), "Usage of pipeline") {
				t.Errorf("parseFlags(%q) printed:\n%s\nwant %q and the usage", tc.args, errOut.String(), tc.want)
			}
		})
	}
}

func TestCommandRuns(t *testing.T) {
	bin := buildCommand(t)
	out, err := exec.Command(bin, "-n", "2000", "-workers", "2").Output()
	if err != nil {
		t.Fatalf("pipeline: %v\n%s", err, out)
	}
	// Piped output is the final lines only: no progress line.
	want := fmt.Sprintf("produced 2000, squared 2000, consumed 2000\nsum of squares: %s\nlost: 0\n", sumOfSquares(2000))
	if string(out) != want {
		t.Errorf("pipeline printed:\n%q\nwant:\n%q", out, want)
	}
}

func TestCommandRejectsZeroWorkers(t *testing.T) {
	bin := buildCommand(t)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	var stderr bytes.Buffer
	cmd := exec.CommandContext(ctx, bin, "-workers", "0")
	cmd.Stderr = &stderr
	err := cmd.Run()
	if ctx.Err() != nil {
		t.Fatalf("pipeline -workers 0 was still running after 30s; want it refused at once")
	}
	if ee, ok := errors.AsType[*exec.ExitError](err); !ok || ee.ExitCode() != 2 {
		t.Errorf("pipeline -workers 0: %v; want exit status 2", err)
	}
	if want := "pipeline: -workers must be 1 or more; got 0"; !strings.Contains(stderr.String(), want) {
		t.Errorf("pipeline -workers 0 printed:\n%s\nwant %q", stderr.String(), want)
	}
}

// TestCommandInterruptWhileStalled sends SIGINT to the command while its
// sink is stalled and the producer waits in Put: it must exit within a
// second (issue 18: what a user pressing Ctrl-C sees) and print its
// accounting. It exits about 120ms after the signal (its grace is 100ms),
// so the second leaves room for a loaded machine.
func TestCommandInterruptWhileStalled(t *testing.T) {
	bin := buildCommand(t)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, "-n", "100000", "-capacity", "4", "-slow", "1h", "-grace", "100ms")
	var stdout bytes.Buffer
	cmd.Stdout = &stdout
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	// The hint comes once the interrupt handler is installed.
	lines := bufio.NewScanner(stderr)
	if !lines.Scan() || !strings.Contains(lines.Text(), "press Ctrl-C to stop") {
		cmd.Process.Kill()
		cmd.Wait()
		t.Fatalf("pipeline printed %q first on stderr; want the Ctrl-C hint", lines.Text())
	}
	var rest strings.Builder
	readRest := make(chan struct{})
	go func() {
		defer close(readRest)
		for lines.Scan() {
			rest.WriteString(lines.Text() + "\n")
		}
	}()

	if err := cmd.Process.Signal(syscall.SIGINT); err != nil {
		t.Fatal(err)
	}
	const bound = time.Second
	signalled := time.Now()
	var exited atomic.Bool
	timer := time.AfterFunc(bound, func() {
		if !exited.Load() {
			cmd.Process.Kill()
		}
	})
	defer timer.Stop()
	<-readRest
	err = cmd.Wait()
	exited.Store(true)
	took := time.Since(signalled)
	if took >= bound {
		t.Fatalf("pipeline exited %v after SIGINT; want within %v\nstdout:\n%s", took, bound, stdout.String())
	}
	if ee, ok := errors.AsType[*exec.ExitError](err); !ok || ee.ExitCode() != 1 {
		t.Errorf("pipeline: %v; want exit status 1 (items left unfinished)", err)
	}
	got := stdout.String()
	for _, want := range []string{
		"interrupted: stopped producing; the drain was cut off after 100ms\n",
		"\nproduced ",
		"\nsum of squares: ",
		"\nunfinished: ",
	} {
		if !strings.Contains(got, want) {
			t.Errorf("pipeline printed:\n%s\nwant it to contain %q", got, want)
		}
	}
	if !strings.Contains(rest.String(), "pipeline: drain cut off after 100ms with ") {
		t.Errorf("pipeline printed on stderr:\n%s\nwant the cut-off error", rest.String())
	}
}

// syncBuffer is a bytes.Buffer safe for one writer and one reader.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.String()
}

func TestProgress(t *testing.T) {
	t.Run("nothing is shown in the first second", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			var w syncBuffer
			stop := startProgress(&w, 100, func() int64 { return 5 })
			time.Sleep(progressAfter - time.Millisecond)
			stop()
			if got := w.String(); got != "" {
				t.Errorf("progress printed %q; want nothing", got)
			}
		})
	})
	t.Run("after a second a line shows done/total and the rate, and stop erases it", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			var w syncBuffer
			var done atomic.Int64
			done.Store(500)
			stop := startProgress(&w, 2000, done.Load)
			time.Sleep(progressAfter)
			synctest.Wait()
			if got, want := w.String(), "\r\033[K500/2000 items, 500 items/s"; got != want {
				t.Errorf("progress printed %q; want %q", got, want)
			}
			done.Store(1000)
			time.Sleep(progressEvery)
			synctest.Wait()
			if got, want := w.String(), "\r\033[K1000/2000 items, 833 items/s"; !strings.HasSuffix(got, want) {
				t.Errorf("progress printed %q; want it to end with %q", got, want)
			}
			stop()
			if got := w.String(); !strings.HasSuffix(got, "items/s\r\033[K") {
				t.Errorf("progress printed %q; want the line erased at the end", got)
			}
		})
	})
	t.Run("a nil writer shows nothing", func(t *testing.T) {
		startProgress(nil, 1, func() int64 { t.Error("done() called"); return 0 })()
	})
}

func TestIsTerminal(t *testing.T) {
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	defer w.Close()
	if isTerminal(w) {
		t.Errorf("isTerminal(a pipe) = true; want false")
	}
	f, err := os.CreateTemp(t.TempDir(), "out")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if isTerminal(f) {
		t.Errorf("isTerminal(a file) = true; want false")
	}
}
