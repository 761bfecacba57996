package main

import (
	"bytes"
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"testing/synctest"
	"time"

	"go.uber.org/goleak"
)

// runMainEnv makes the test binary run the program's main, so that a test
// can check the exit code the command itself gives. (A replica needs no
// such hook: replicaEnv is read in init, in the test binary too.)
const runMainEnv = "ASYNC_EXAMPLES_REPLICAS_RUN_MAIN"

func TestMain(m *testing.M) {
	if os.Getenv(runMainEnv) == "1" {
		main() // exits
	}
	goleak.VerifyTestMain(m)
}

// number returns the integer after label at the start of a line of out.
func number(t *testing.T, out, label string) int {
	t.Helper()
	m := regexp.MustCompile(`(?m)^  ` + regexp.QuoteMeta(label) + ` +(\d+)`).FindStringSubmatch(out)
	if m == nil {
		t.Fatalf("the output has no %q line:\n%s", label, out)
	}
	n, _ := strconv.Atoi(m[1])
	return n
}

func TestAReplicaDiesAndNothingIsLost(t *testing.T) {
	if testing.Short() {
		t.Skip("starts NATS, maybe Redis, and three processes per run")
	}
	_, lookErr := exec.LookPath("redis-server")
	haveRedis := lookErr == nil
	if !haveRedis && os.Getenv("ASYNC_REQUIRE_REDIS") == "1" {
		t.Fatal("ASYNC_REQUIRE_REDIS=1 but redis-server is not on PATH (apt-get install redis-server)")
	}
	ctx, cancel := context.WithTimeout(t.Context(), 50*time.Second)
	defer cancel()
	var stdout, stderr bytes.Buffer
	const jobs = 300
	// With Redis, -compare runs the story twice: shared breakers, then local
	// ones. Without it, once, with local breakers.
	args := []string{"-compare", "-jobs", strconv.Itoa(jobs), "-fail-for", "1s", "-ack-wait", "1s", "-workers", "4"}
	code := run(ctx, args, &stdout, &stderr)
	out := stdout.String()
	t.Logf("output:\n%s", out)
	if stderr.Len() > 0 {
		t.Logf("stderr:\n%s", stderr.String())
	}
	if code != 0 {
		t.Fatalf("run(%q) = %d; want 0", args, code)
	}

	blocks := strings.Split(out, "\naccounting, ")[1:]
	var modes []string
	for _, b := range blocks {
		modes = append(modes, b[:strings.Index(b, ",")])
	}
	if haveRedis {
		if want := []string{"shared breakers (Redis)", "local breakers (one per replica)"}; !slices.Equal(modes, want) {
			t.Fatalf("accounting blocks for %q; want %q", modes, want)
		}
		if !strings.Contains(out, "the shared breaker spared it") {
			t.Errorf("with -compare the output should say how many calls the shared breaker spared the dependency")
		}
	} else {
		if want := []string{"local breakers (one per replica)"}; !slices.Equal(modes, want) {
			t.Fatalf("accounting blocks for %q; want %q", modes, want)
		}
		if !strings.Contains(out, "each replica keeps a local breaker") {
			t.Errorf("without Redis the output should say, in one line, that the breakers are local")
		}
	}

	for i, b := range blocks {
		t.Run(modes[i], func(t *testing.T) {
			put, done, dead := number(t, b, "put"), number(t, b, "done"), number(t, b, "dead-lettered")
			if put != jobs {
				t.Errorf("put = %d; want %d", put, jobs)
			}
			if lost := number(t, b, "lost"); lost != 0 || done+dead != put {
				t.Errorf("lost = %d, done + dead-lettered = %d + %d; want 0 lost and %d", lost, done, dead, put)
			}
			// Jobs 42, 142 and 242 are refused by the dependency for good.
			if dead != 3 {
				t.Errorf("dead-lettered = %d; want the 3 refused jobs", dead)
			}
			if !strings.Contains(b, "the queue holds 0)") {
				t.Errorf("the queue should hold no item at the end")
			}
			if want := "put = done + dead-lettered: 300 = 297 + 3, nothing lost"; !strings.Contains(b, want) {
				t.Errorf("the accounting should end with %q", want)
			}
			m := regexp.MustCompile(`killed +replica r2 \(pid \d+\) at \d+ done, holding (\d+) jobs: (\d+) of them delivered again`).FindStringSubmatch(b)
			if m == nil {
				t.Fatalf("the output does not say that replica r2 was killed holding jobs")
			}
			if held, again := m[1], m[2]; held == "0" || again != held {
				t.Errorf("the killed replica held %s jobs, %s of them delivered again; want more than 0, all of them", held, again)
			}
			if r := number(t, b, "redelivered"); r == 0 {
				t.Errorf("redelivered = 0; want more than 0")
			}
		})
	}
}

func TestBadFlags(t *testing.T) {
	for _, tc := range []struct {
		name string
		args []string
		want string
	}{
		{"an unknown flag is refused", []string{"-nope"}, "flag provided but not defined: -nope"},
		{"a number that is not one is refused", []string{"-jobs", "many"}, `invalid value "many" for flag -jobs`},
		{"zero jobs are refused", []string{"-jobs", "0"}, "-jobs must be at least 1; got 0"},
		{"one replica is refused, since one is killed", []string{"-replicas", "1"}, "-replicas must be at least 2, since one is killed; got 1"},
		{"a negative outage is refused", []string{"-fail-for", "-1s"}, "-fail-for must not be negative"},
		{"a stray argument is refused", []string{"extra"}, `unexpected argument "extra"`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var stdout, stderr bytes.Buffer
			if code := run(t.Context(), tc.args, &stdout, &stderr); code != 2 {
				t.Errorf("run(%q) = %d; want 2", tc.args, code)
			}
			if !strings.Contains(stderr.String(), tc.want) || !strings.Contains(stderr.String(), "usage: replicas") {
				t.Errorf("run(%q) wrote to stderr:\n%s\nwant %q and the usage", tc.args, stderr.String(), tc.want)
			}
			if stdout.Len() != 0 {
				t.Errorf("run(%q) wrote to stdout:\n%s\nwant nothing", tc.args, stdout.String())
			}
		})
	}
}

func TestTheCommandExitsWithCode2OnABadFlag(t *testing.T) {
	cmd := exec.Command(os.Args[0], "-jobs=x")
	cmd.Env = append(os.Environ(), runMainEnv+"=1")
	out, err := cmd.CombinedOutput()
	var exit *exec.ExitError
	if !errors.As(err, &exit) || exit.ExitCode() != 2 {
		t.Fatalf("replicas -jobs=x: err = %v; want exit status 2; output:\n%s", err, out)
	}
	if !strings.Contains(string(out), `invalid value "x" for flag -jobs`) {
		t.Errorf("replicas -jobs=x printed:\n%s\nwant it to name the bad flag", out)
	}
}

func TestDependency(t *testing.T) {
	call := func(d *dependency, job string) int {
		w := httptest.NewRecorder()
		d.ServeHTTP(w, httptest.NewRequest(http.MethodGet, "/?job="+job, nil))
		return w.Code
	}
	t.Run("it fails for a while from its first call, then recovers", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			d := newDependency(2*time.Second, 10*time.Millisecond, 0)
			if got := call(d, "1"); got != http.StatusServiceUnavailable {
				t.Errorf("first call = %d; want 503", got)
			}
			time.Sleep(1900 * time.Millisecond)
			if got := call(d, "1"); got != http.StatusServiceUnavailable {
				t.Errorf("call at 1.9s = %d; want 503", got)
			}
			time.Sleep(200 * time.Millisecond)
			if got := call(d, "1"); got != http.StatusOK {
				t.Errorf("call after the outage = %d; want 200", got)
			}
			b := d.books()
			if b.whileDown != 2 || b.calls != 3 || b.ok[1] != 1 {
				t.Errorf("books() = %+v; want 3 calls, 2 while down, job 1 done once", b)
			}
		})
	})
	t.Run("it throttles one call in n with a Retry-After", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			d := newDependency(0, 0, 3)
			var codes []int
			for range 6 {
				codes = append(codes, call(d, "7"))
			}
			want := []int{200, 200, 429, 200, 200, 429}
			if !slices.Equal(codes, want) {
				t.Errorf("codes = %v; want %v", codes, want)
			}
			if got := d.books().ok[7]; got != 4 {
				t.Errorf("job 7 done %d times; want 4", got)
			}
		})
	})
	t.Run("it refuses poison jobs for good", func(t *testing.T) {
		d := newDependency(0, 0, 0)
		if got := call(d, "142"); got != http.StatusUnprocessableEntity {
			t.Errorf("job 142 = %d; want 422", got)
		}
		if got := call(d, "143"); got != http.StatusOK {
			t.Errorf("job 143 = %d; want 200", got)
		}
		if got := call(d, "x"); got != http.StatusBadRequest {
			t.Errorf("job x = %d; want 400", got)
		}
	})
}

func TestTracker(t *testing.T) {
	t.Run("jobs a killed replica held are counted, and whether they came back", func(t *testing.T) {
		tr := newTracker()
		for _, e := range []string{
			"b 1 closed", "b 2 open",
			"s 2 10 1", "s 2 11 1", "s 2 12 1", "f 2 12 ok", // r2 holds 10 and 11
			"s 1 20 1", // r1 holds 20
		} {
			tr.event([]byte(e))
		}
		tr.kill(2)
		tr.event([]byte("f 2 11 ok")) // sent before the kill, arriving after it: 11 was acked
		tr.event([]byte("s 1 10 2"))  // 10 delivered again, to r1
		s := tr.snapshot(3)
		if s.orphans != 1 || s.rescued != 1 {
			t.Errorf("orphans, rescued = %d, %d; want 1, 1", s.orphans, s.rescued)
		}
		if s.done != 2 || s.deliveries != 5 || s.redelivered != 1 || s.inFlight != 2 {
			t.Errorf("snapshot() = %+v; want 2 done, 5 deliveries, 1 redelivered, 2 in flight", s)
		}
		if got := strings.Join(s.breakers, ","); got != "closed,killed,starting" {
			t.Errorf("breakers = %s; want closed,killed,starting", got)
		}
		tr.event([]byte("nonsense"))
		if s := tr.snapshot(3); s.bad != 1 {
			t.Errorf("bad = %d; want 1", s.bad)
		}
	})
}

func TestHelp(t *testing.T) {
	t.Run("-h prints the usage and exits 0", func(t *testing.T) {
		var stdout, stderr bytes.Buffer
		if code := run(t.Context(), []string{"-h"}, &stdout, &stderr); code != 0 {
			t.Errorf("run(-h) = %d; want 0", code)
		}
		if !strings.Contains(stderr.String(), "usage: replicas") || !strings.Contains(stderr.String(), "-compare") {
			t.Errorf("run(-h) wrote:\n%s\nwant the usage with every flag", stderr.String())
		}
	})
}
