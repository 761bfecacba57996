package main

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/jackc/pgx/v5/pgconn"
	_ "github.com/jackc/pgx/v5/stdlib" // the "pgx" database/sql driver
	"modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"
)

// database is a connection pool to SQLite or PostgreSQL, and the few things
// the two engines spell differently. Both are reached through database/sql,
// so the steps are written once.
type database struct {
	*sql.DB
	engine string // "SQLite" or "PostgreSQL"
	where  string // the file or the server, for the first line printed
	pool   int    // the pool's size: SetMaxOpenConns
	// slowQuery runs until it is cancelled (longer than any deadline here).
	slowQuery string
	close     func() // closes the pool, then removes what open made
}

// openSQLite opens a new SQLite database in a temporary file through
// modernc.org/sqlite (pure Go, no cgo). WAL mode lets readers run beside
// the one writer; a busy timeout makes a writer wait for the write lock
// instead of failing at once. Close removes the file.
func openSQLite(pool int) (*database, error) {
	dir, err := os.MkdirTemp("", "async-db-sqlite-")
	if err != nil {
		return nil, err
	}
	path := filepath.Join(dir, "demo.db")
	db, err := sql.Open("sqlite", "file:"+path+"?_pragma=journal_mode(WAL)&_pragma=busy_timeout(5000)&_pragma=synchronous(NORMAL)")
	if err != nil {
		os.RemoveAll(dir)
		return nil, err
	}
	d := &database{
		DB: db, engine: "SQLite", where: path + " (modernc.org/sqlite, pure Go)", pool: pool,
		// Counts to two billion, one row at a time: minutes, unless
		// interrupted (modernc.org/sqlite interrupts a query when its ctx ends).
		slowQuery: "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n LIMIT 2000000000) SELECT count(*) FROM n",
	}
	d.close = func() {
		db.Close()
		os.RemoveAll(dir)
	}
	return d.configure()
}

// openPostgres opens a pool to the PostgreSQL at dsn through pgx's
// database/sql driver.
func openPostgres(dsn string, pool int) (*database, error) {
	cfg, err := pgconn.ParseConfig(dsn)
	if err != nil {
		return nil, fmt.Errorf("-dsn: %v", err)
	}
	db, err := sql.Open("pgx", dsn)
	if err != nil {
		return nil, err
	}
	d := &database{
		DB: db, engine: "PostgreSQL", where: fmt.Sprintf("%s:%d/%s (github.com/jackc/pgx/v5)", cfg.Host, cfg.Port, cfg.Database), pool: pool,
		slowQuery: "SELECT 1 FROM pg_sleep(600)",
	}
	d.close = func() { db.Close() }
	return d.configure()
}

// configure sizes the pool and checks that the database answers.
func (d *database) configure() (*database, error) {
	d.SetMaxOpenConns(d.pool)
	d.SetMaxIdleConns(d.pool)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := d.PingContext(ctx); err != nil {
		d.close()
		return nil, fmt.Errorf("%s: %v", d.engine, err)
	}
	return d, nil
}

// serializable is how the read-modify-write transactions run. SQLite's
// transactions are serializable whatever is asked; PostgreSQL's default,
// read committed, would let the lost update of step 2 happen silently.
var serializable = &sql.TxOptions{Isolation: sql.LevelSerializable}

// schema is the same on both engines. seq is the producer's number for an
// order line: its primary key makes a line written twice an error, so the
// count read back proves nothing was lost and nothing doubled.
var schema = []string{
	`DROP TABLE IF EXISTS products`,
	`DROP TABLE IF EXISTS counters`,
	`DROP TABLE IF EXISTS order_lines`,
	`CREATE TABLE products (id INTEGER PRIMARY KEY, sku TEXT NOT NULL UNIQUE, price_cents INTEGER NOT NULL)`,
	`CREATE TABLE counters (name TEXT PRIMARY KEY, value INTEGER NOT NULL)`,
	`CREATE TABLE order_lines (seq INTEGER PRIMARY KEY, product_id INTEGER NOT NULL, qty INTEGER NOT NULL)`,
	`CREATE INDEX order_lines_product ON order_lines (product_id)`,
}

// setup creates the tables, empty but for n products and one counter.
func (d *database) setup(ctx context.Context, products int) error {
	for _, q := range schema {
		if _, err := d.ExecContext(ctx, q); err != nil {
			return fmt.Errorf("%s: %v", q, err)
		}
	}
	tx, err := d.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer tx.Rollback()
	for id := 1; id <= products; id++ {
		if _, err := tx.ExecContext(ctx, `INSERT INTO products (id, sku, price_cents) VALUES ($1, $2, $3)`,
			id, fmt.Sprintf("SKU-%05d", id), 100+id%900); err != nil {
			return err
		}
	}
	if _, err := tx.ExecContext(ctx, `INSERT INTO counters (name, value) VALUES ('stock', 0)`); err != nil {
		return err
	}
	return tx.Commit()
}

// transient reports whether err is worth retrying: the engine gave up on a
// transaction because of another one, and the same transaction run again
// may well succeed. SQLite: SQLITE_BUSY (the write lock is held, or, as
// SQLITE_BUSY_SNAPSHOT, another connection wrote since this transaction's
// snapshot) and SQLITE_LOCKED. PostgreSQL: serialization_failure (40001)
// and deadlock_detected (40P01). Everything else, constraint violations
// first of all, fails the same way however often it is tried.
func transient(err error) bool {
	if se, ok := errors.AsType[*sqlite.Error](err); ok {
		code := se.Code() & 0xff // the primary code of an extended one
		return code == sqlite3.SQLITE_BUSY || code == sqlite3.SQLITE_LOCKED
	}
	if pe, ok := errors.AsType[*pgconn.PgError](err); ok {
		return pe.Code == "40001" || pe.Code == "40P01"
	}
	return false
}

// constraintViolation reports whether err is a broken constraint (unique,
// primary key, foreign key, not null, check): never retried.
func constraintViolation(err error) bool {
	if se, ok := errors.AsType[*sqlite.Error](err); ok {
		return se.Code()&0xff == sqlite3.SQLITE_CONSTRAINT
	}
	if pe, ok := errors.AsType[*pgconn.PgError](err); ok {
		return len(pe.Code) == 5 && pe.Code[:2] == "23" // class 23: integrity constraint violation
	}
	return false
}

// code names an engine's error code, for the output.
func code(err error) string {
	if se, ok := errors.AsType[*sqlite.Error](err); ok {
		switch se.Code() {
		case sqlite3.SQLITE_BUSY_SNAPSHOT:
			return "SQLITE_BUSY_SNAPSHOT"
		case sqlite3.SQLITE_BUSY:
			return "SQLITE_BUSY"
		case sqlite3.SQLITE_CONSTRAINT_UNIQUE:
			return "SQLITE_CONSTRAINT_UNIQUE"
		}
		return fmt.Sprintf("SQLite code %d", se.Code())
	}
	if pe, ok := errors.AsType[*pgconn.PgError](err); ok {
		return "SQLSTATE " + pe.Code
	}
	return "no engine code"
}
