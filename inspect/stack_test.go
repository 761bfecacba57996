package inspect

import "testing"

func TestFrameKinds(t *testing.T) {
	for _, c := range []struct {
		fn                string
		pkg               string
		library, standard bool
	}{
		{"github.com/async-patterns/async/executor.New", "github.com/async-patterns/async/executor", true, false},
		{"github.com/async-patterns/async/executor.(*pool).register", "github.com/async-patterns/async/executor", true, false},
		{"github.com/async-patterns/async/retry/retryhttp.(*Transport).RoundTrip", "github.com/async-patterns/async/retry/retryhttp", true, false},
		{"github.com/async-patterns/async/inspect_test.forgetGroup", "github.com/async-patterns/async/inspect_test", false, false},
		{"github.com/async-patterns/async/examples/pipeline.run.func1", "github.com/async-patterns/async/examples/pipeline", false, false},
		{"github.com/async-patterns/async/cmd/asyncps.main", "github.com/async-patterns/async/cmd/asyncps", false, false},
		{"sync.(*Once).doSlow", "sync", false, true},
		{"net/http.(*Server).Serve", "net/http", false, true},
		{"main.main", "main", false, false},
		{"example.com/app.handler", "example.com/app", false, false},
	} {
		if got := pkgPath(c.fn); got != c.pkg {
			t.Errorf("pkgPath(%q) = %q; want %q", c.fn, got, c.pkg)
		}
		if got := library(c.fn); got != c.library {
			t.Errorf("library(%q) = %v; want %v", c.fn, got, c.library)
		}
		if got := standard(c.fn); got != c.standard {
			t.Errorf("standard(%q) = %v; want %v", c.fn, got, c.standard)
		}
	}
}
