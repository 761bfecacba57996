package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"
)

// errNoPostgres is returned by startPostgres when initdb is not on PATH.
var errNoPostgres = errors.New("initdb is not on PATH (Debian: apt-get install postgresql)")

// findPostgres returns the path of the postgres server program: on PATH,
// else in `pg_config --bindir`, else beside the program initdb's symlink
// points to (Debian links /usr/bin/initdb... to /usr/lib/postgresql/N/bin).
func findPostgres(initdb string) (string, error) {
	if p, err := exec.LookPath("postgres"); err == nil {
		return p, nil
	}
	var dirs []string
	if out, err := exec.Command("pg_config", "--bindir").Output(); err == nil {
		dirs = append(dirs, strings.TrimSpace(string(out)))
	}
	if real, err := filepath.EvalSymlinks(initdb); err == nil {
		dirs = append(dirs, filepath.Dir(real))
	}
	for _, d := range dirs {
		p := filepath.Join(d, "postgres")
		if fi, err := os.Stat(p); err == nil && !fi.IsDir() {
			return p, nil
		}
	}
	return "", fmt.Errorf("initdb is at %s but no postgres program was found (on PATH, in pg_config --bindir, or beside initdb's target)", initdb)
}

// startPostgres makes a throw-away PostgreSQL cluster in a temporary
// directory with the initdb and postgres found on PATH, starts it on a free
// loopback port, and returns its DSN once it accepts connections, and a
// function that stops it (a fast shutdown), waits for it to exit and
// removes the directory. Durability is off (fsync, synchronous_commit): the
// data lives for one run.
func startPostgres(ctx context.Context) (dsn string, stop func(), err error) {
	initdb, err := exec.LookPath("initdb")
	if err != nil {
		return "", nil, errNoPostgres
	}
	server, err := findPostgres(initdb)
	if err != nil {
		return "", nil, err
	}
	dir, err := os.MkdirTemp("", "async-db-postgres-")
	if err != nil {
		return "", nil, err
	}
	data := filepath.Join(dir, "data")
	cleanup := func() { os.RemoveAll(dir) }

	var initOut bytes.Buffer
	cmd := exec.CommandContext(ctx, initdb, "-D", data, "-U", "postgres", "-A", "trust", "-E", "UTF8", "--locale=C", "--no-sync")
	cmd.Dir = dir
	cmd.Stdout, cmd.Stderr = &initOut, &initOut
	if err := asPostgresUser(cmd, dir); err != nil {
		cleanup()
		return "", nil, err
	}
	if err := cmd.Run(); err != nil {
		cleanup()
		return "", nil, fmt.Errorf("initdb: %v\n%s", err, initOut.Bytes())
	}

	port, err := freePort()
	if err != nil {
		cleanup()
		return "", nil, err
	}
	log := new(lockedBuffer)
	cmd = exec.Command(server, "-D", data, "-p", strconv.Itoa(port), "-k", dir,
		"-c", "listen_addresses=127.0.0.1", "-c", "fsync=off", "-c", "synchronous_commit=off",
		"-c", "full_page_writes=off", "-c", "max_connections=40")
	cmd.Dir = dir
	cmd.Stdout, cmd.Stderr = log, log
	if err := asPostgresUser(cmd, dir); err != nil {
		cleanup()
		return "", nil, err
	}
	if err := cmd.Start(); err != nil {
		cleanup()
		return "", nil, err
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	var once sync.Once
	stop = func() {
		once.Do(func() {
			_ = cmd.Process.Signal(os.Interrupt) // fast shutdown: ends the sessions
			select {
			case <-exited:
			case <-time.After(10 * time.Second):
				_ = cmd.Process.Kill()
				<-exited
			}
			cleanup()
		})
	}

	dsn = fmt.Sprintf("postgres://postgres@127.0.0.1:%d/postgres?sslmode=disable", port)
	deadline := time.Now().Add(30 * time.Second)
	for {
		pctx, cancel := context.WithTimeout(ctx, time.Second)
		conn, err := pgx.Connect(pctx, dsn)
		if err == nil {
			err = conn.Ping(pctx)
			conn.Close(pctx)
		}
		cancel()
		if err == nil {
			return dsn, stop, nil
		}
		select {
		case err := <-exited:
			exited <- err // for stop
			stop()
			return "", nil, fmt.Errorf("postgres exited at start: %v\n%s", err, log.String())
		case <-ctx.Done():
			stop()
			return "", nil, context.Cause(ctx)
		case <-time.After(50 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			stop()
			return "", nil, fmt.Errorf("postgres did not accept connections within 30s\n%s", log.String())
		}
	}
}

// freePort returns a loopback TCP port that was free a moment ago.
func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

// lockedBuffer is a bytes.Buffer safe for concurrent use: a server's
// output, read while it is written.
type lockedBuffer struct {
	mu  sync.Mutex // protects buf
	buf bytes.Buffer
}

func (b *lockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *lockedBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}
