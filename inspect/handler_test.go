package inspect_test

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/async-patterns/async/inspect"
	"github.com/async-patterns/async/taskgroup"
)

func TestHandler(t *testing.T) {
	tracked(t)
	g := taskgroup.New(context.Background(), taskgroup.WithName("served"))
	release := make(chan struct{})
	started := make(chan struct{})
	g.GoNamed("served-task", func(ctx context.Context) error { close(started); <-release; return nil })
	<-started
	defer g.Wait()
	defer close(release)
	h := inspect.Handler()
	get := func(target, method string) *httptest.ResponseRecorder {
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, httptest.NewRequest(method, target, nil))
		return rec
	}

	t.Run("format=json gives the snapshot", func(t *testing.T) {
		rec := get("/debug/async?format=json", "GET")
		var tr inspect.Tree
		if err := json.Unmarshal(rec.Body.Bytes(), &tr); err != nil || rec.Code != 200 || rec.Header().Get("Content-Type") != "application/json" {
			t.Fatalf("GET ?format=json = %d %q, %v", rec.Code, rec.Header().Get("Content-Type"), err)
		}
		grp, _ := find(tr, byLabel("served"))
		if n := child(grp, "served-task"); n == nil || n.State != inspect.StateRunning || !tr.Tracking {
			t.Errorf("the JSON tree has group %+v with served-task = %+v; want it running under its group", grp, n)
		}
	})
	t.Run("the page is self-contained HTML", func(t *testing.T) {
		rec := get("/debug/async", "GET")
		body := rec.Body.String()
		if rec.Code != 200 || !strings.HasPrefix(rec.Header().Get("Content-Type"), "text/html") || !strings.Contains(body, "<table") {
			t.Fatalf("GET = %d %q; want the HTML page", rec.Code, rec.Header().Get("Content-Type"))
		}
		for _, ext := range []string{"src=", "href=", "http://", "https://", "@import"} {
			if strings.Contains(body, ext) {
				t.Errorf("the page refers to something outside itself (%q)", ext)
			}
		}
	})
	t.Run("other methods and formats are refused", func(t *testing.T) {
		if rec := get("/debug/async", "POST"); rec.Code != http.StatusMethodNotAllowed || rec.Header().Get("Allow") == "" {
			t.Errorf("POST = %d; want 405 with Allow", rec.Code)
		}
		if rec := get("/debug/async?format=xml", "GET"); rec.Code != http.StatusBadRequest || !strings.Contains(rec.Body.String(), "xml") {
			t.Errorf("GET ?format=xml = %d %q; want 400 naming the format", rec.Code, rec.Body.String())
		}
	})
}
