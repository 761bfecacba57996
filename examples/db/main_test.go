package main

import (
	"bytes"
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgconn"
	"go.uber.org/goleak"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(stopAfter{m})
}

// stopAfter runs the tests, then stops the PostgreSQL they shared.
type stopAfter struct{ m *testing.M }

func (s stopAfter) Run() int {
	defer stopSharedPostgres()
	return s.m.Run()
}

// testTimeout bounds each test; nothing here waits for time to pass but
// the slow query's deadline.
const testTimeout = 2 * time.Minute

var (
	pgOnce sync.Once
	pgDSN  string
	pgStop func()
	pgErr  error
)

// postgresDSN returns the DSN of a throw-away PostgreSQL started once for
// the whole test binary (startPostgres, as -postgres does). Without initdb
// on PATH it skips the test with the install hint, or fails it when
// ASYNC_REQUIRE_POSTGRES=1 (as CI sets).
func postgresDSN(t *testing.T) string {
	t.Helper()
	if _, err := exec.LookPath("initdb"); err != nil {
		if os.Getenv("ASYNC_REQUIRE_POSTGRES") == "1" {
			t.Fatal("ASYNC_REQUIRE_POSTGRES=1 but initdb is not on PATH (apt-get install postgresql)")
		}
		t.Skip("initdb is not on PATH: install PostgreSQL (Debian: apt-get install postgresql) to run this against it; ASYNC_REQUIRE_POSTGRES=1 makes this a failure")
	}
	pgOnce.Do(func() {
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		pgDSN, pgStop, pgErr = startPostgres(ctx)
	})
	if pgErr != nil {
		t.Fatalf("starting PostgreSQL: %v", pgErr)
	}
	return pgDSN
}

func stopSharedPostgres() {
	if pgStop != nil {
		pgStop()
	}
}

// engine is one database every test runs against.
type engine struct {
	name string
	open func(t *testing.T) *database
}

// engines returns SQLite, always, and PostgreSQL (see postgresDSN).
func engines() []engine {
	return []engine{
		{name: "SQLite", open: func(t *testing.T) *database {
			d, err := openSQLite(4)
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(d.close)
			return d
		}},
		{name: "PostgreSQL", open: func(t *testing.T) *database {
			d, err := openPostgres(postgresDSN(t), 4)
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(d.close)
			return d
		}},
	}
}

// forEach runs test against every engine, on a freshly set-up database.
func forEach(t *testing.T, test func(t *testing.T, ctx context.Context, d *database)) {
	for _, e := range engines() {
		t.Run(e.name, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(t.Context(), testTimeout)
			defer cancel()
			d := e.open(t)
			if err := d.setup(ctx, 100); err != nil {
				t.Fatal(err)
			}
			test(t, ctx, d)
		})
	}
}

// number returns the integer matched by the group of re in out.
func number(t *testing.T, out, re string) int {
	t.Helper()
	m := regexp.MustCompile(re).FindStringSubmatch(out)
	if m == nil {
		t.Fatalf("the output has no line matching %q:\n%s", re, out)
	}
	n, _ := strconv.Atoi(m[1])
	return n
}

func TestRun(t *testing.T) {
	for _, e := range engines() {
		t.Run(e.name, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(t.Context(), testTimeout)
			defer cancel()
			args := []string{"-lines", "3000", "-lookups", "300"}
			if e.name == "PostgreSQL" {
				args = append(args, "-dsn", postgresDSN(t))
			}
			var stdout, stderr bytes.Buffer
			code := run(ctx, args, &stdout, &stderr)
			out := stdout.String()
			t.Logf("output:\n%s", out)
			if code != 0 || stderr.Len() > 0 {
				t.Fatalf("run(%q) = %d, stderr %q; want 0 and nothing", args, code, stderr.String())
			}
			if !strings.HasPrefix(out, e.name+" at ") || !strings.HasSuffix(out, "\nok: every check held\n") {
				t.Errorf("the output does not start with %q and end with the verdict", e.name+" at ")
			}
			// 1. The limit matches the pool: never more in flight, no waits.
			if n := number(t, out, `300 lookups in \S+ \(\d+/s\); at most (\d+) in flight`); n < 1 || n > 4 {
				t.Errorf("lookups in flight at most %d; want 1 to 4", n)
			}
			if n := number(t, out, `\n   waits for a connection: (\d+)\n`); n != 0 {
				t.Errorf("waits for a connection: %d; want 0", n)
			}
			// 2. The conflict was retried and won; the duplicate was not retried.
			wantCode := map[string]string{"SQLite": "SQLITE_BUSY_SNAPSHOT", "PostgreSQL": "SQLSTATE 40001"}[e.name]
			if !regexp.MustCompile(`\n   attempt 1: ` + wantCode + `, transient: retried after \S+: `).MatchString(out) {
				t.Errorf("the output shows no first attempt failing with %s and retried", wantCode)
			}
			if n := number(t, out, `attempt \d+: committed; the counter is (\d+) `); n != 2 {
				t.Errorf("the counter is %d; want 2", n)
			}
			if !regexp.MustCompile(`SKU already taken: 1 attempt, not retried \((SQLITE_CONSTRAINT_UNIQUE|SQLSTATE 23505)\)`).MatchString(out) {
				t.Error("the output does not show the duplicate SKU failing once, not retried")
			}
			// 3. Every line put was read back.
			if put := number(t, out, `(\d+) lines put, written in \d+ transactions`); put != 3000 {
				t.Errorf("%d lines put; want 3000", put)
			}
			if n := number(t, out, `rows read back (\d+), distinct 3000, `); n != 3000 {
				t.Errorf("rows read back %d; want 3000", n)
			}
			if n := number(t, out, `: lost (\d+)\n`); n != 0 {
				t.Errorf("lost %d; want 0", n)
			}
			// 4. One query per hot product.
			if n := number(t, out, `2000 lookups in \S+: (\d+) queries reached the database`); n != 5 {
				t.Errorf("%d queries reached the database; want 5", n)
			}
			// 5. The slow query ended by its deadline, its connection back.
			if !strings.Contains(out, "context deadline exceeded\n") {
				t.Error("the output does not show the slow query ended by its deadline")
			}
			if n := number(t, out, `connections in use after it: (\d+) .*the next query: ok`); n != 0 {
				t.Errorf("%d connections in use after the slow query; want 0", n)
			}
		})
	}
}

func TestRunStartsItsOwnPostgres(t *testing.T) {
	postgresDSN(t) // skips without initdb
	if testing.Short() {
		t.Skip("starts a PostgreSQL of its own")
	}
	ctx, cancel := context.WithTimeout(t.Context(), testTimeout)
	defer cancel()
	var stdout, stderr bytes.Buffer
	args := []string{"-postgres", "-lines", "500", "-lookups", "100"}
	if code := run(ctx, args, &stdout, &stderr); code != 0 {
		t.Fatalf("run(%q) = %d, stderr %q; output:\n%s", args, code, stderr.String(), stdout.String())
	}
	out := stdout.String()
	if !strings.HasPrefix(out, "starting a throw-away PostgreSQL (initdb, postgres) in a temporary directory...\n  ready in ") ||
		!strings.Contains(out, "\nPostgreSQL at 127.0.0.1:") || !strings.HasSuffix(out, "\nok: every check held\n") {
		t.Fatalf("the output:\n%s\nwant the server started, used, and every check held", out)
	}
	// The server is gone with its directory: nothing listens at its port.
	m := regexp.MustCompile(`PostgreSQL at (127\.0\.0\.1:\d+)/`).FindStringSubmatch(out)
	if _, err := openPostgres("postgres://postgres@"+m[1]+"/postgres?sslmode=disable&connect_timeout=2", 2); err == nil {
		t.Errorf("the PostgreSQL at %s still answers after run returned; want it stopped", m[1])
	}
}

func TestFlags(t *testing.T) {
	for _, args := range [][]string{
		{"-nope"},
		{"extra"},
		{"-pool", "1"},
		{"-dsn", "postgres://x", "-postgres"},
		{"-lines", "0"},
	} {
		var stdout, stderr bytes.Buffer
		if code := run(t.Context(), args, &stdout, &stderr); code != 2 || stderr.Len() == 0 {
			t.Errorf("run(%q) = %d, stderr %q; want 2 and the reason", args, code, stderr.String())
		}
	}
	var stdout, stderr bytes.Buffer
	args := []string{"-dsn", "postgres://nobody@127.0.0.1:1/none?sslmode=disable&connect_timeout=2"}
	if code := run(t.Context(), args, &stdout, &stderr); code != 1 || !strings.HasPrefix(stderr.String(), "db: PostgreSQL: ") {
		t.Errorf("run(%q) = %d, stderr %q; want 1 and the reason", args, code, stderr.String())
	}
}

func TestSerializationConflict(t *testing.T) {
	forEach(t, func(t *testing.T, ctx context.Context, d *database) {
		t.Run("the transaction that loses is retried and wins, nothing lost", func(t *testing.T) {
			var retried []error
			r, err := increment(ctx, d, true, func(attempt int, err error, wait time.Duration) {
				retried = append(retried, err)
			})
			if err != nil {
				t.Fatalf("increment() = %v; want the retry to win", err)
			}
			if r.attempts != 2 || len(retried) != 1 || !transient(retried[0]) {
				t.Fatalf("increment: %d attempts, retried after %v; want 2 attempts, one transient failure", r.attempts, retried)
			}
			if r.value != 2 {
				t.Fatalf("counter = %d; want 2: the concurrent +1 and ours", r.value)
			}
		})
		t.Run("without the conflict one attempt is enough", func(t *testing.T) {
			r, err := increment(ctx, d, false, nil)
			if err != nil || r.attempts != 1 || r.value != 3 {
				t.Fatalf("increment() = %+v, %v; want 1 attempt, counter 3", r, err)
			}
		})
		t.Run("without a retry the losing transaction fails with a transient error", func(t *testing.T) {
			err := conflictOnce(ctx, d)
			if !transient(err) || constraintViolation(err) {
				t.Fatalf("a read-modify-write that loses the conflict: %v (%s); want a transient error", err, code(err))
			}
		})
	})
}

// conflictOnce runs the losing transaction of increment once, without
// retry, and returns the engine's error.
func conflictOnce(ctx context.Context, d *database) error {
	tx, err := d.BeginTx(ctx, serializable)
	if err != nil {
		return err
	}
	defer tx.Rollback()
	var v int64
	if err := tx.QueryRowContext(ctx, `SELECT value FROM counters WHERE name = 'stock'`).Scan(&v); err != nil {
		return err
	}
	if err := concurrentIncrement(ctx, d); err != nil {
		return err
	}
	if _, err := tx.ExecContext(ctx, `UPDATE counters SET value = $1 WHERE name = 'stock'`, v+1); err != nil {
		return err
	}
	return tx.Commit()
}

func TestConstraintViolationIsNotRetried(t *testing.T) {
	forEach(t, func(t *testing.T, ctx context.Context, d *database) {
		attempts, err := insertDuplicate(ctx, d)
		if attempts != 1 || !constraintViolation(err) || transient(err) {
			t.Fatalf("insertDuplicate() = %d attempts, %v (%s); want 1 attempt, a constraint violation", attempts, err, code(err))
		}
	})
}

func TestBatchedWrites(t *testing.T) {
	forEach(t, func(t *testing.T, ctx context.Context, d *database) {
		// A small queue and small batches: the producers wait for the
		// writer most of the time.
		const n = 2000
		r, err := writeBatched(ctx, d, n, 100, 4, 16, 10)
		if err != nil {
			t.Fatal(err)
		}
		if r.put != n || r.rows != n || r.distinct != n || r.qtyRead != r.qtyPut {
			t.Fatalf("put %d, read back %d rows (%d distinct), quantity %d of %d; want %d of each", r.put, r.rows, r.distinct, r.qtyRead, r.qtyPut, n)
		}
		if r.largest > 10 || r.batches < n/10 {
			t.Fatalf("%d batches, the largest %d; want at least %d, none above 10", r.batches, r.largest, n/10)
		}
		// One transaction per batch: the rows of a batch share it. Every
		// seq 1..n is there exactly once (the primary key forbids twice).
		var lo, hi int64
		if err := d.QueryRowContext(ctx, `SELECT MIN(seq), MAX(seq) FROM order_lines`).Scan(&lo, &hi); err != nil || lo != 1 || hi != n {
			t.Fatalf("seq from %d to %d, %v; want 1 to %d", lo, hi, err, n)
		}
	})
}

func TestBatchedWritesStopWithCtx(t *testing.T) {
	forEach(t, func(t *testing.T, ctx context.Context, d *database) {
		// Cancelled at once: nothing starts or everything stops; either
		// way writeBatched returns the cause and leaves no goroutine.
		cctx, cancel := context.WithCancelCause(ctx)
		stop := errors.New("stopped by the test")
		cancel(stop)
		if _, err := writeBatched(cctx, d, 1000, 100, 4, 16, 10); !errors.Is(err, stop) {
			t.Fatalf("writeBatched with a cancelled ctx = %v; want the cause", err)
		}
	})
}

func TestHotQuery(t *testing.T) {
	forEach(t, func(t *testing.T, ctx context.Context, d *database) {
		if _, err := writeBatched(ctx, d, 500, 100, 2, 64, 50); err != nil {
			t.Fatal(err)
		}
		r, err := hotQuery(ctx, d, 20, 10, 5)
		if err != nil {
			t.Fatal(err)
		}
		if r.queries != 5 || r.wrong != 0 || r.stats.Loads != 5 || r.stats.Hits+r.stats.Misses != 200 {
			t.Fatalf("hotQuery: %d queries, %d wrong, stats %+v; want 5 queries (one per product), 200 gets, every answer right", r.queries, r.wrong, r.stats)
		}
	})
}

func TestSlowQuery(t *testing.T) {
	forEach(t, func(t *testing.T, ctx context.Context, d *database) {
		r := slowQuery(ctx, d, 50*time.Millisecond)
		if !errors.Is(r.err, context.DeadlineExceeded) {
			t.Fatalf("the slow query returned %v; want its deadline", r.err)
		}
		if r.inUse != 0 || r.next != nil {
			t.Fatalf("after the slow query: %d connections in use, next query %v; want 0 and ok", r.inUse, r.next)
		}
	})
}

func TestClassification(t *testing.T) {
	for _, tc := range []struct {
		err                   error
		transient, constraint bool
	}{
		{&pgconn.PgError{Code: "40001"}, true, false},
		{&pgconn.PgError{Code: "40P01"}, true, false},
		{&pgconn.PgError{Code: "23505"}, false, true},
		{&pgconn.PgError{Code: "23503"}, false, true},
		{&pgconn.PgError{Code: "42P01"}, false, false},
		{context.DeadlineExceeded, false, false},
		{errors.New("other"), false, false},
	} {
		if got := transient(tc.err); got != tc.transient {
			t.Errorf("transient(%v) = %t; want %t", tc.err, got, tc.transient)
		}
		if got := constraintViolation(tc.err); got != tc.constraint {
			t.Errorf("constraintViolation(%v) = %t; want %t", tc.err, got, tc.constraint)
		}
	}
}

func TestFindPostgres(t *testing.T) {
	initdb, err := exec.LookPath("initdb")
	if err != nil {
		t.Skip("initdb is not on PATH")
	}
	real, err := filepath.EvalSymlinks(initdb)
	if err != nil {
		t.Fatal(err)
	}
	want := filepath.Join(filepath.Dir(real), "postgres")
	// PATH holds only a link to initdb, as /usr/local/bin/initdb may be:
	// postgres is found beside the link's target.
	dir := t.TempDir()
	link := filepath.Join(dir, "initdb")
	if err := os.Symlink(real, link); err != nil {
		t.Fatal(err)
	}
	t.Setenv("PATH", dir)
	if got, err := findPostgres(link); err != nil || got != want {
		t.Fatalf("findPostgres(%s) = %q, %v; want %q", link, got, err, want)
	}
	// No link and no postgres anywhere: an error that says where it looked.
	plain := filepath.Join(dir, "initdb-copy")
	if err := os.WriteFile(plain, nil, 0o755); err != nil {
		t.Fatal(err)
	}
	if got, err := findPostgres(plain); err == nil || !strings.Contains(err.Error(), "no postgres program was found") {
		t.Fatalf("findPostgres(%s) = %q, %v; want an error", plain, got, err)
	}
}
