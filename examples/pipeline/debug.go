package main

import (
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/pprof"

	"github.com/async-patterns/async/inspect"
)

// serveDebug turns task tracking on and serves package inspect's page at
// /debug/async, beside pprof's at /debug/pprof/, on addr; it prints the
// page's URL to out. stop closes the server and waits for it.
func serveDebug(addr string, out io.Writer) (stop func(), err error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("-debug-addr %s: %w", addr, err)
	}
	inspect.Track(true)
	mux := http.NewServeMux()
	mux.Handle("/debug/async", inspect.Handler())
	mux.HandleFunc("/debug/pprof/", pprof.Index)
	mux.HandleFunc("/debug/pprof/profile", pprof.Profile)
	srv := &http.Server{Handler: mux}
	done := make(chan struct{})
	go func() {
		defer close(done)
		if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			fmt.Fprintln(out, "pipeline: debug server:", err)
		}
	}()
	url := "http://" + ln.Addr().String() + "/debug/async"
	fmt.Fprintf(out, "pipeline: tasks at %s (or: go run github.com/async-patterns/async/cmd/asyncps -tree %s)\n", url, url)
	return func() {
		srv.Close()
		<-done
		inspect.Track(false)
	}, nil
}
