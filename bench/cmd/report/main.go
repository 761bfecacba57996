// Command report runs the benchmarks of the bench module and prints, as
// markdown, one table per scenario with medians, spreads, allocations and
// ratios to the floor and to the best library peer, and whether each
// performance target of DESIGN.md is met.
//
// Run it from the bench directory (or below it; it runs go test at the root of
// the module it is in):
//
//	go run ./cmd/report [-count 5] [-benchtime 1s] [-bench .] [-raw out.txt]
//	go run ./cmd/report -in out.txt   # report on saved `go test -bench` output
//
// It runs `go test -run ^$ -bench <bench> -benchmem -count <count> ./...`,
// echoing the raw output to stderr (unless -q) and saving it with -raw.
// A target that is not met does not change the exit status; a failing
// `go test` does.
package main

import (
	"bytes"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"time"
)

func main() {
	count := flag.Int("count", 5, "runs of each benchmark (go test -count)")
	benchtime := flag.String("benchtime", "", "go test -benchtime (default: go test's)")
	bench := flag.String("bench", ".", "go test -bench regexp")
	in := flag.String("in", "", "parse this saved `go test -bench` output instead of running the benchmarks")
	raw := flag.String("raw", "", "save the raw `go test` output to this file")
	quiet := flag.Bool("q", false, "do not echo the raw output to stderr")
	flag.Parse()

	if err := run(*in, *raw, *bench, *benchtime, *count, *quiet); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
}

func run(in, raw, bench, benchtime string, count int, quiet bool) error {
	var (
		data    []byte
		runErr  error
		cmdArgs []string
	)
	if in != "" {
		var err error
		if data, err = os.ReadFile(in); err != nil {
			return fmt.Errorf("report: %w", err)
		}
	} else {
		if count < 1 {
			return fmt.Errorf("report: -count must be at least 1, got %d", count)
		}
		cmdArgs = []string{"test", "-run", "^$", "-bench", bench, "-benchmem", "-count", strconv.Itoa(count)}
		if benchtime != "" {
			cmdArgs = append(cmdArgs, "-benchtime", benchtime)
		}
		cmdArgs = append(cmdArgs, "./...")
		var (
			buf bytes.Buffer
			err error
		)
		cmd := exec.Command("go", cmdArgs...)
		cmd.Dir, err = moduleDir()
		if err != nil {
			return err
		}
		cmd.Stdout = &buf
		if !quiet {
			cmd.Stdout = io.MultiWriter(&buf, os.Stderr)
		}
		cmd.Stderr = os.Stderr
		if err := cmd.Run(); err != nil {
			runErr = fmt.Errorf("report: go %v: %w", cmdArgs, err)
		}
		data = buf.Bytes()
	}
	if raw != "" {
		if err := os.WriteFile(raw, data, 0o644); err != nil {
			return fmt.Errorf("report: %w", err)
		}
	}
	out, err := Parse(bytes.NewReader(data))
	if err != nil {
		return err
	}
	if len(out.Runs) == 0 {
		if runErr != nil {
			return runErr
		}
		return fmt.Errorf("report: no benchmark results in the output")
	}
	if in == "" {
		fmt.Printf("Ran `go %s` on %s, %d cores, %s.\n\n",
			strings.Join(quoteArgs(cmdArgs), " "), runtime.Version(), runtime.NumCPU(), time.Now().UTC().Format("2006-01-02 15:04 MST"))
	}
	Write(os.Stdout, out)
	return runErr
}

// quoteArgs quotes the arguments a shell would split or expand.
func quoteArgs(args []string) []string {
	out := make([]string, len(args))
	for i, a := range args {
		out[i] = a
		if strings.ContainsAny(a, "^$*?[] ") {
			out[i] = "'" + a + "'"
		}
	}
	return out
}

// moduleDir is the root of the module the current directory is in: the bench
// module when run as documented, so that ./... means every benchmark.
func moduleDir() (string, error) {
	out, err := exec.Command("go", "env", "GOMOD").Output()
	if err != nil {
		return "", fmt.Errorf("report: go env GOMOD: %w", err)
	}
	gomod := strings.TrimSpace(string(out))
	if gomod == "" || gomod == os.DevNull {
		return "", fmt.Errorf("report: not inside a module; run from the bench directory")
	}
	return filepath.Dir(gomod), nil
}
