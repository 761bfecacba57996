// DB shows asynchronous database work with this library's patterns, the Go
// counterpart of the aiosqlite and asyncpg examples of asyncio articles:
// many queries at once with a limit, retries of transient failures,
// writes batched through a bounded queue, a hot query cached, and a slow
// query cancelled.
//
//	go run ./examples/db                   # SQLite in a temporary file: nothing to set up
//	go run ./examples/db -postgres         # a throw-away PostgreSQL from initdb and postgres on PATH
//	go run ./examples/db -dsn postgres://user:pass@host:5432/db   # an existing PostgreSQL
//
// It is a module of its own (examples/db/go.mod), so that the library's
// go.mod requires no database driver; go.work at the repository root lets
// the commands above run from there. SQLite is reached through
// modernc.org/sqlite (pure Go, no cgo), PostgreSQL through
// github.com/jackc/pgx/v5's database/sql driver, so the steps are written
// once, against database/sql:
//
//  1. gather.Map runs many lookups at once, its limit equal to the pool's
//     size: no query waits inside database/sql for a connection.
//  2. retry.Do retries a transaction that lost a conflict (SQLITE_BUSY,
//     PostgreSQL's 40001 and 40P01) with backoff, and never a constraint
//     violation. The program injects the conflict: a second transaction
//     commits between the first one's read and its write.
//  3. Producers put order lines into a bounded queue.Queue; one writer
//     takes them with GetBatch and writes each batch in one transaction. The
//     rows read back equal the lines put.
//  4. A memo.Cache in front of a hot aggregate query: concurrent lookups of
//     a few keys make one query per key.
//  5. A query that would run for minutes is cancelled by its ctx's
//     deadline, and its connection goes back to the pool.
//
// With -postgres, the program runs initdb and postgres in a temporary
// directory on a free loopback port and stops the server at the end.
// PostgreSQL refuses to run as root: as root, both run as the user named
// postgres (exec.Cmd's process credentials). The exit code is 0 when every
// check held, 1 otherwise, 2 for a bad flag.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"sync/atomic"
	"time"

	"github.com/async-patterns/async/gather"
	"github.com/async-patterns/async/memo"
	"github.com/async-patterns/async/queue"
	"github.com/async-patterns/async/retry"
	"github.com/async-patterns/async/taskgroup"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	os.Exit(run(ctx, os.Args[1:], os.Stdout, os.Stderr))
}

// options are the program's flags.
type options struct {
	dsn      string
	postgres bool
	pool     int
	products int
	lookups  int
	lines    int
}

// run parses args, runs every step against the database they name, prints
// what each measured to stdout, and returns the exit code.
func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("db", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var o options
	fs.StringVar(&o.dsn, "dsn", "", "a PostgreSQL to use (postgres://user:pass@host:port/db); default: SQLite in a temporary file")
	fs.BoolVar(&o.postgres, "postgres", false, "start a throw-away PostgreSQL with initdb and postgres from PATH, and use it")
	fs.IntVar(&o.pool, "pool", 4, "connections in the pool (at least 2)")
	fs.IntVar(&o.products, "products", 1000, "products in the table the lookups read")
	fs.IntVar(&o.lookups, "lookups", 500, "lookups run at once through gather.Map")
	fs.IntVar(&o.lines, "lines", 5000, "order lines written through the batching queue")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	switch {
	case fs.NArg() > 0:
		fmt.Fprintf(stderr, "db: unexpected argument %q\n", fs.Arg(0))
		return 2
	case o.dsn != "" && o.postgres:
		fmt.Fprintln(stderr, "db: -dsn and -postgres: give one")
		return 2
	case o.pool < 2:
		fmt.Fprintln(stderr, "db: -pool must be at least 2 (the conflict of step 2 needs two connections)")
		return 2
	case o.products < 5 || o.lookups < 1 || o.lines < 1:
		fmt.Fprintln(stderr, "db: -products must be at least 5, -lookups and -lines at least 1")
		return 2
	}

	d, stopServer, err := open(ctx, o, stdout)
	if err != nil {
		fmt.Fprintln(stderr, "db:", err)
		return 1
	}
	defer stopServer()
	defer d.close()
	if err := demo(ctx, d, o, stdout); err != nil {
		fmt.Fprintln(stderr, "db:", err)
		return 1
	}
	fmt.Fprintln(stdout, "ok: every check held")
	return 0
}

// open opens the database that o names, starting a PostgreSQL first with
// -postgres. stop stops that server (a no-op otherwise).
func open(ctx context.Context, o options, stdout io.Writer) (d *database, stop func(), err error) {
	stop = func() {}
	switch {
	case o.postgres:
		fmt.Fprintln(stdout, "starting a throw-away PostgreSQL (initdb, postgres) in a temporary directory...")
		start := time.Now()
		dsn, stopPG, err := startPostgres(ctx)
		if err != nil {
			return nil, nil, err
		}
		fmt.Fprintf(stdout, "  ready in %v\n", round(time.Since(start)))
		d, err := openPostgres(dsn, o.pool)
		if err != nil {
			stopPG()
			return nil, nil, err
		}
		return d, stopPG, nil
	case o.dsn != "":
		d, err := openPostgres(o.dsn, o.pool)
		return d, stop, err
	}
	d, err = openSQLite(o.pool)
	return d, stop, err
}

// demo runs the five steps and prints what each measured. It returns an
// error when a step failed or one of its checks did not hold.
func demo(ctx context.Context, d *database, o options, w io.Writer) error {
	fmt.Fprintf(w, "%s at %s; a pool of %d connections\n", d.engine, d.where, d.pool)
	if err := d.setup(ctx, o.products); err != nil {
		return fmt.Errorf("setup: %v", err)
	}
	fmt.Fprintf(w, "tables: products (%d rows), counters, order_lines\n", o.products)

	fmt.Fprintf(w, "\n1. %d lookups at once through gather.Map, limit %d = the pool's size\n", o.lookups, d.pool)
	fmt.Fprintln(w, "   measures: how long they take, the most in flight at once, and how often a query waited inside database/sql for a connection")
	lr, err := lookups(ctx, d, o.lookups, o.products, d.pool)
	if err != nil {
		return fmt.Errorf("lookups: %v", err)
	}
	fmt.Fprintf(w, "   %d lookups in %v (%.0f/s); at most %d in flight\n", lr.n, round(lr.elapsed), float64(lr.n)/lr.elapsed.Seconds(), lr.maxInFlight)
	fmt.Fprintf(w, "   waits for a connection: %d\n", lr.waits)
	over, err := lookups(ctx, d, o.lookups, o.products, 4*d.pool)
	if err != nil {
		return fmt.Errorf("lookups: %v", err)
	}
	fmt.Fprintf(w, "   the same with limit %d (4x the pool), for comparison: %v, %d waits for a connection (%v waiting in all)\n",
		4*d.pool, round(over.elapsed), over.waits, round(over.waitDuration))
	if lr.maxInFlight > int64(d.pool) || lr.waits != 0 {
		return fmt.Errorf("lookups: %d in flight and %d waits; want at most %d and none", lr.maxInFlight, lr.waits, d.pool)
	}

	fmt.Fprintln(w, "\n2. retries with backoff (retry.Do) on transient errors only")
	fmt.Fprintln(w, "   measures: the attempts a transaction that lost a conflict needed, and that a constraint violation is not retried")
	fmt.Fprintln(w, "   a read-modify-write transaction; a second transaction commits a change to the same row between its read and its write:")
	ir, err := increment(ctx, d, true, func(attempt int, err error, wait time.Duration) {
		fmt.Fprintf(w, "   attempt %d: %s, transient: retried after %v: %v\n", attempt, code(err), round(wait), err)
	})
	if err != nil {
		return fmt.Errorf("increment: %v", err)
	}
	fmt.Fprintf(w, "   attempt %d: committed; the counter is %d (the other transaction's +1 and ours: none lost)\n", ir.attempts, ir.value)
	if ir.attempts < 2 || ir.value != 2 {
		return fmt.Errorf("increment: %d attempts, counter %d; want a retry and 2", ir.attempts, ir.value)
	}
	attempts, dupErr := insertDuplicate(ctx, d)
	fmt.Fprintf(w, "   a product with a SKU already taken: %d attempt, not retried (%s): %v\n", attempts, code(dupErr), dupErr)
	if attempts != 1 || !constraintViolation(dupErr) {
		return fmt.Errorf("duplicate: %d attempts, %v; want 1 and a constraint violation", attempts, dupErr)
	}

	const producers, capacity, batchSize = 4, 256, 100
	fmt.Fprintf(w, "\n3. %d order lines from %d producers through a bounded queue (capacity %d) to one writer: up to %d lines per transaction\n",
		o.lines, producers, capacity, batchSize)
	fmt.Fprintln(w, "   measures: lines per second, transactions, and the rows read back against the lines put")
	br, err := writeBatched(ctx, d, o.lines, o.products, producers, capacity, batchSize)
	if err != nil {
		return fmt.Errorf("batched writes: %v", err)
	}
	fmt.Fprintf(w, "   %d lines put, written in %d transactions (%.1f lines each, at most %d) in %v (%.0f lines/s); %d transactions retried\n",
		br.put, br.batches, float64(br.put)/float64(br.batches), br.largest, round(br.elapsed), float64(br.put)/br.elapsed.Seconds(), br.retried)
	fmt.Fprintf(w, "   rows read back %d, distinct %d, quantity %d of %d put: lost %d\n", br.rows, br.distinct, br.qtyRead, br.qtyPut, br.put-br.distinct)
	if br.rows != br.put || br.distinct != br.put || br.qtyRead != br.qtyPut {
		return fmt.Errorf("batched writes: %d rows (%d distinct) for %d lines put", br.rows, br.distinct, br.put)
	}

	const goroutines, perGoroutine, hot = 50, 40, 5
	fmt.Fprintf(w, "\n4. a hot query cached in memo: the sales of %d products, looked up %d times from %d goroutines\n", hot, goroutines*perGoroutine, goroutines)
	fmt.Fprintln(w, "   measures: how many of the lookups reached the database")
	mr, err := hotQuery(ctx, d, goroutines, perGoroutine, hot)
	if err != nil {
		return fmt.Errorf("hot query: %v", err)
	}
	fmt.Fprintf(w, "   %d lookups in %v: %d queries reached the database (hits %d, misses %d of which %d joined a query already running)\n",
		mr.gets, round(mr.elapsed), mr.queries, mr.stats.Hits, mr.stats.Misses, mr.stats.Coalesced)
	if mr.queries != hot || mr.wrong != 0 {
		return fmt.Errorf("hot query: %d queries, %d wrong answers; want %d and none", mr.queries, mr.wrong, hot)
	}

	const deadline = 200 * time.Millisecond
	fmt.Fprintf(w, "\n5. a slow query with a deadline of %v\n", deadline)
	fmt.Fprintln(w, "   measures: how soon it returns after the deadline, and that its connection went back to the pool")
	sr := slowQuery(ctx, d, deadline)
	fmt.Fprintf(w, "   returned after %v: %v\n", round(sr.elapsed), sr.err)
	fmt.Fprintf(w, "   connections in use after it: %d (open %d, idle %d); the next query: %s\n", sr.inUse, sr.open, sr.idle, okOr(sr.next))
	if !errors.Is(sr.err, context.DeadlineExceeded) || sr.inUse != 0 || sr.next != nil {
		return fmt.Errorf("slow query: %v, %d in use, next query %v; want the deadline, 0, ok", sr.err, sr.inUse, sr.next)
	}
	return nil
}

// lookupResult is what lookups measured.
type lookupResult struct {
	n            int
	elapsed      time.Duration
	maxInFlight  int64         // the most lookups running at once
	waits        int64         // database/sql's WaitCount during the run
	waitDuration time.Duration // database/sql's WaitDuration during the run
}

// lookups reads n products by id through gather.Map with the given limit.
func lookups(ctx context.Context, d *database, n, products, limit int) (lookupResult, error) {
	ids := make([]int, n)
	for i := range ids {
		ids[i] = i*7919%products + 1 // spread over the table
	}
	var inFlight, most atomic.Int64
	before := d.Stats()
	start := time.Now()
	skus, err := gather.Map(ctx, ids, func(ctx context.Context, id int) (string, error) {
		now := inFlight.Add(1)
		defer inFlight.Add(-1)
		for m := most.Load(); now > m && !most.CompareAndSwap(m, now); m = most.Load() {
		}
		var sku string
		var price int
		err := d.QueryRowContext(ctx, `SELECT sku, price_cents FROM products WHERE id = $1`, id).Scan(&sku, &price)
		return sku, err
	}, gather.WithLimit(limit))
	r := lookupResult{n: n, elapsed: time.Since(start), maxInFlight: most.Load()}
	after := d.Stats()
	r.waits = after.WaitCount - before.WaitCount
	r.waitDuration = after.WaitDuration - before.WaitDuration
	if err != nil {
		return r, err
	}
	for i, id := range ids {
		if want := fmt.Sprintf("SKU-%05d", id); skus[i] != want {
			return r, fmt.Errorf("lookup %d of product %d = %q; want %q", i, id, skus[i], want)
		}
	}
	return r, nil
}

// retryOptions is the policy of every retried transaction here: transient
// errors only, at most 5 attempts, waits from 5ms doubling to 200ms.
func retryOptions(onRetry func(attempt int, err error, wait time.Duration)) []retry.Option {
	opts := []retry.Option{
		retry.WithRetryIf(transient),
		retry.WithMaxAttempts(5),
		retry.WithBackoff(5*time.Millisecond, 200*time.Millisecond),
	}
	if onRetry != nil {
		opts = append(opts, retry.WithOnRetry(onRetry))
	}
	return opts
}

// incrementResult is what increment did.
type incrementResult struct {
	attempts int
	value    int64 // the counter read back after it
}

// increment adds one to the counter in a read-modify-write transaction,
// retried on transient errors. With conflict, its first attempt loses on
// purpose: between its read and its write another transaction adds one to
// the same counter and commits, so the engine refuses the write (SQLite:
// SQLITE_BUSY_SNAPSHOT, the snapshot is stale; PostgreSQL: 40001, could not
// serialize access due to concurrent update) and the retry, reading the new
// value, wins. The counter starts at 0; it ends at 2 with conflict.
func increment(ctx context.Context, d *database, conflict bool, onRetry func(attempt int, err error, wait time.Duration)) (incrementResult, error) {
	var r incrementResult
	err := retry.Do(ctx, func(ctx context.Context) error {
		r.attempts++
		tx, err := d.BeginTx(ctx, serializable)
		if err != nil {
			return err
		}
		defer tx.Rollback()
		var v int64
		if err := tx.QueryRowContext(ctx, `SELECT value FROM counters WHERE name = 'stock'`).Scan(&v); err != nil {
			return err
		}
		if conflict && r.attempts == 1 {
			if err := concurrentIncrement(ctx, d); err != nil {
				return retry.Permanent(fmt.Errorf("the concurrent transaction: %w", err))
			}
		}
		if _, err := tx.ExecContext(ctx, `UPDATE counters SET value = $1 WHERE name = 'stock'`, v+1); err != nil {
			return err
		}
		return tx.Commit()
	}, retryOptions(onRetry)...)
	if err != nil {
		return r, err
	}
	err = d.QueryRowContext(ctx, `SELECT value FROM counters WHERE name = 'stock'`).Scan(&r.value)
	return r, err
}

// concurrentIncrement adds one to the counter in a transaction of its own,
// on another connection of the pool, and commits.
func concurrentIncrement(ctx context.Context, d *database) error {
	tx, err := d.BeginTx(ctx, serializable)
	if err != nil {
		return err
	}
	defer tx.Rollback()
	if _, err := tx.ExecContext(ctx, `UPDATE counters SET value = value + 1 WHERE name = 'stock'`); err != nil {
		return err
	}
	return tx.Commit()
}

// insertDuplicate tries, under the retry policy, to insert a product whose
// SKU is taken, and returns the attempts made and the error.
func insertDuplicate(ctx context.Context, d *database) (attempts int, err error) {
	err = retry.Do(ctx, func(ctx context.Context) error {
		attempts++
		_, err := d.ExecContext(ctx, `INSERT INTO products (id, sku, price_cents) VALUES ($1, $2, $3)`, 1<<30, "SKU-00001", 1)
		return err
	}, retryOptions(nil)...)
	return attempts, err
}

// orderLine is one row of order_lines.
type orderLine struct {
	seq, productID, qty int
}

// batchResult is what writeBatched did and read back.
type batchResult struct {
	put, batches, retried, largest int64
	elapsed                        time.Duration
	rows, distinct                 int64 // read back
	qtyPut, qtyRead                int64
}

// writeBatched has producers put n order lines into a bounded queue while
// one writer takes up to batchSize at a time (GetBatch) and writes each
// batch in one transaction, retried on transient errors. A full queue makes
// the producers wait: the writer's pace bounds the memory used. When every
// producer is done the queue is closed; the writer drains it and ends.
// Then the rows are counted.
func writeBatched(ctx context.Context, d *database, n, products, producers, capacity, batchSize int) (batchResult, error) {
	var r batchResult
	var put, qtyPut atomic.Int64
	q := queue.New[orderLine](capacity)
	start := time.Now()
	g := taskgroup.New(ctx)
	g.Go(func(ctx context.Context) error {
		p := taskgroup.New(ctx)
		for w := range producers {
			p.Go(func(ctx context.Context) error {
				for seq := w + 1; seq <= n; seq += producers {
					line := orderLine{seq: seq, productID: seq%products + 1, qty: 1 + seq%3}
					if err := q.Put(ctx, line); err != nil {
						return err
					}
					put.Add(1)
					qtyPut.Add(int64(line.qty))
				}
				return nil
			})
		}
		err := p.Wait()
		q.Close() // the writer drains what is left, then sees ErrClosed
		return err
	})
	g.Go(func(ctx context.Context) error {
		for {
			batch, err := q.GetBatch(ctx, batchSize)
			if errors.Is(err, queue.ErrClosed) {
				return nil
			} else if err != nil {
				return err
			}
			err = retry.Do(ctx, func(ctx context.Context) error {
				return insertLines(ctx, d, batch)
			}, retryOptions(func(int, error, time.Duration) { r.retried++ })...)
			if err != nil {
				return err
			}
			r.batches++
			r.largest = max(r.largest, int64(len(batch)))
		}
	})
	if err := g.Wait(); err != nil {
		return r, err
	}
	r.elapsed = time.Since(start)
	r.put, r.qtyPut = put.Load(), qtyPut.Load()
	err := d.QueryRowContext(ctx, `SELECT COUNT(*), COUNT(DISTINCT seq), COALESCE(SUM(qty), 0) FROM order_lines`).Scan(&r.rows, &r.distinct, &r.qtyRead)
	return r, err
}

// insertLines writes lines in one transaction: all or none.
func insertLines(ctx context.Context, d *database, lines []orderLine) error {
	tx, err := d.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer tx.Rollback()
	stmt, err := tx.PrepareContext(ctx, `INSERT INTO order_lines (seq, product_id, qty) VALUES ($1, $2, $3)`)
	if err != nil {
		return err
	}
	defer stmt.Close()
	for _, l := range lines {
		if _, err := stmt.ExecContext(ctx, l.seq, l.productID, l.qty); err != nil {
			return err
		}
	}
	return tx.Commit()
}

// sales is the hot query's answer: a product's order lines and units.
type sales struct {
	lines, units int64
}

// memoResult is what hotQuery measured.
type memoResult struct {
	gets, queries, wrong int64
	elapsed              time.Duration
	stats                memo.Stats
}

// hotQuery looks up the sales of the first hot products goroutines *
// perGoroutine times, at once, through a memo.Cache, and counts the
// queries that reached the database. Every answer is checked against the
// query run directly.
func hotQuery(ctx context.Context, d *database, goroutines, perGoroutine, hot int) (memoResult, error) {
	var r memoResult
	var queries, wrong atomic.Int64
	query := func(ctx context.Context, productID int) (sales, error) {
		var s sales
		err := d.QueryRowContext(ctx, `SELECT COUNT(*), COALESCE(SUM(qty), 0) FROM order_lines WHERE product_id = $1`, productID).Scan(&s.lines, &s.units)
		return s, err
	}
	want := make([]sales, hot+1)
	for id := 1; id <= hot; id++ {
		s, err := query(ctx, id)
		if err != nil {
			return r, err
		}
		want[id] = s
	}
	cache := memo.New(func(ctx context.Context, productID int) (sales, error) {
		queries.Add(1)
		return query(ctx, productID)
	}, memo.WithTTL(time.Minute))
	defer cache.Close()

	start := time.Now()
	g := taskgroup.New(ctx)
	for i := range goroutines {
		g.Go(func(ctx context.Context) error {
			for k := range perGoroutine {
				id := (i+k)%hot + 1
				s, err := cache.Get(ctx, id)
				if err != nil {
					return err
				}
				if s != want[id] {
					wrong.Add(1)
				}
			}
			return nil
		})
	}
	err := g.Wait()
	r.elapsed = time.Since(start)
	r.gets, r.queries, r.wrong, r.stats = int64(goroutines*perGoroutine), queries.Load(), wrong.Load(), cache.Stats()
	return r, err
}

// slowResult is what slowQuery measured.
type slowResult struct {
	elapsed           time.Duration
	err               error // the slow query's
	inUse, open, idle int   // the pool, after it returned
	next              error // a query run on the pool after it
}

// slowQuery runs the engine's endless query with a deadline, then checks
// the pool and runs one more query on it.
func slowQuery(ctx context.Context, d *database, deadline time.Duration) slowResult {
	var r slowResult
	qctx, cancel := context.WithTimeout(ctx, deadline)
	defer cancel()
	start := time.Now()
	var n int64
	r.err = d.QueryRowContext(qctx, d.slowQuery).Scan(&n)
	r.elapsed = time.Since(start)
	st := d.Stats()
	r.inUse, r.open, r.idle = st.InUse, st.OpenConnections, st.Idle
	var one int
	r.next = d.QueryRowContext(ctx, `SELECT 1`).Scan(&one)
	return r
}

// round rounds d for printing.
func round(d time.Duration) time.Duration {
	switch {
	case d >= time.Second:
		return d.Round(10 * time.Millisecond)
	case d >= time.Millisecond:
		return d.Round(100 * time.Microsecond)
	}
	return d.Round(time.Microsecond)
}

// okOr is "ok" for nil, else the error's text.
func okOr(err error) string {
	if err == nil {
		return "ok"
	}
	return err.Error()
}
