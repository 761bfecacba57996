package inspect

import (
	_ "embed"
	"encoding/json"
	"net/http"
)

//go:embed page.html
var page []byte

// Handler returns an http.Handler that shows [Snapshot]: mount it at
// /debug/async, beside net/http/pprof's handlers.
//
//	mux.Handle("/debug/async", inspect.Handler())
//
// A GET answers with a self-contained HTML page (no script or style from
// elsewhere) that fetches the snapshot every second and shows the tree of
// objects and tasks with their gauges, states and ages; a person can
// filter the tasks by state and sort siblings by age. With ?format=json it
// answers with the snapshot itself, the JSON encoding of a [Tree] (what
// cmd/asyncps reads). Other methods get 405.
//
// The page shows the names of tasks and objects, and their functions'
// symbols: mount it where only the people who may see them can reach it,
// as with pprof.
func Handler() http.Handler { return handler{} }

type handler struct{}

func (handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		w.Header().Set("Allow", "GET, HEAD")
		http.Error(w, "inspect: method not allowed", http.StatusMethodNotAllowed)
		return
	}
	w.Header().Set("Cache-Control", "no-store")
	switch f := r.URL.Query().Get("format"); f {
	case "json":
		w.Header().Set("Content-Type", "application/json")
		enc := json.NewEncoder(w)
		enc.SetIndent("", " ")
		enc.Encode(Snapshot())
	case "", "html":
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		w.Write(page)
	default:
		http.Error(w, "inspect: unknown format "+f+" (want json or html)", http.StatusBadRequest)
	}
}
