package gather_test

import (
	"context"
	"errors"
	"strconv"
	"sync/atomic"
	"testing"

	"github.com/async-patterns/async/gather"
)

// plan is a random schedule decoded from fuzz input: n functions, the rank
// in which each may finish (a permutation), and which ones fail.
type plan struct {
	n     int
	rank  []int  // rank[i]: function i finishes rank[i]-th
	fails []bool // fails[i]: function i returns errs[i]
	errs  []error
	stop  int // for AsCompleted: break after this many results (n: never)
}

func decodePlan(data []byte) plan {
	next := func() int {
		if len(data) == 0 {
			return 0
		}
		b := data[0]
		data = data[1:]
		return int(b)
	}
	p := plan{n: 1 + next()%8}
	p.rank = make([]int, p.n)
	for i := range p.rank {
		p.rank[i] = i
	}
	for i := p.n - 1; i > 0; i-- { // Fisher-Yates driven by the input
		j := next() % (i + 1)
		p.rank[i], p.rank[j] = p.rank[j], p.rank[i]
	}
	p.fails = make([]bool, p.n)
	p.errs = make([]error, p.n)
	for i := range p.fails {
		p.fails[i] = next()%4 == 0
		p.errs[i] = errors.New("fn " + strconv.Itoa(i) + " failed")
	}
	p.stop = p.n
	if s := next(); s%2 == 1 {
		p.stop = 1 + s%p.n
	}
	return p
}

func addSeeds(f *testing.F) {
	f.Add([]byte{})
	f.Add([]byte{0})
	f.Add([]byte{4, 0, 0, 0, 0, 1, 1, 1, 1, 1, 0})
	f.Add([]byte{7, 6, 5, 4, 3, 2, 1, 0, 1, 2, 3, 0, 5, 6, 7, 8, 3})
	f.Add([]byte{7, 0, 0, 0, 0, 0, 0, 0, 0, 1, 2, 3, 4, 5, 6, 7, 0})
	f.Add([]byte{5, 9, 200, 17, 3, 77, 4, 8, 12, 1, 1, 5})
	f.Add([]byte{3, 1, 2, 3, 0, 0, 0, 0, 7})
}

// FuzzAll checks, for any finish order and any set of failures, that All
// returns every value in input order when nothing fails, and otherwise the
// failure that happened first (the others having been cancelled with it as
// the cause), and that no function is still running when All returns.
//
// Function i may finish only after the function ranked before it has
// succeeded; a failure releases nobody, so the functions ranked after it
// finish only through cancellation.
func FuzzAll(f *testing.F) {
	addSeeds(f)
	f.Fuzz(func(t *testing.T, data []byte) {
		p := decodePlan(data)
		turn := make([]chan struct{}, p.n+1)
		for r := range turn {
			turn[r] = make(chan struct{})
		}
		close(turn[0])
		var running, calls atomic.Int32
		badCause := make(chan error, p.n)
		fns := make([]func(context.Context) (int, error), p.n)
		for i := range fns {
			fns[i] = func(ctx context.Context) (int, error) {
				calls.Add(1)
				running.Add(1)
				defer running.Add(-1)
				select {
				case <-turn[p.rank[i]]:
				case <-ctx.Done():
					badCause <- context.Cause(ctx)
					return 0, ctx.Err()
				}
				if p.fails[i] {
					return 0, p.errs[i]
				}
				close(turn[p.rank[i]+1])
				return i*10 + 1, nil
			}
		}

		vals, err := gather.All(context.Background(), fns...)

		if n := running.Load(); n != 0 {
			t.Fatalf("%d functions still running after All returned; want 0", n)
		}
		first := -1 // the failing function with the lowest rank
		for i := range p.n {
			if p.fails[i] && (first < 0 || p.rank[i] < p.rank[first]) {
				first = i
			}
		}
		if first < 0 {
			if err != nil || len(vals) != p.n {
				t.Fatalf("All() = %v, %v; want %d values, nil", vals, err, p.n)
			}
			for i, v := range vals {
				if v != i*10+1 {
					t.Errorf("All()[%d] = %d; want %d", i, v, i*10+1)
				}
			}
			if c := calls.Load(); int(c) != p.n {
				t.Errorf("%d calls; want %d", c, p.n)
			}
			return
		}
		if err != p.errs[first] || vals != nil {
			t.Fatalf("All() = %v, %v; want nil, %v", vals, err, p.errs[first])
		}
		close(badCause)
		for c := range badCause {
			if c != p.errs[first] {
				t.Errorf("a cancelled function saw cause %v; want %v", c, p.errs[first])
			}
		}
	})
}

// FuzzAsCompleted checks, for any finish order, set of failures and point
// of breaking out, that AsCompleted yields every index exactly once, in the
// order the functions finish, with each function's own result, that a
// failure cancels nothing, and that breaking out leaves nothing running.
//
// The loop body releases the function ranked next after each result, so
// the finish order is the rank order.
func FuzzAsCompleted(f *testing.F) {
	addSeeds(f)
	f.Fuzz(func(t *testing.T, data []byte) {
		p := decodePlan(data)
		turn := make([]chan struct{}, p.n)
		for r := range turn {
			turn[r] = make(chan struct{})
		}
		byRank := make([]int, p.n)
		for i, r := range p.rank {
			byRank[r] = i
		}
		var running atomic.Int32
		fns := make([]func(context.Context) (int, error), p.n)
		for i := range fns {
			fns[i] = func(ctx context.Context) (int, error) {
				running.Add(1)
				defer running.Add(-1)
				if r := p.rank[i]; r > 0 {
					select {
					case <-turn[r]:
					case <-ctx.Done():
						return 0, ctx.Err()
					}
				}
				if err := ctx.Err(); err != nil {
					return 0, errors.New("cancelled before its turn")
				}
				if p.fails[i] {
					return 0, p.errs[i]
				}
				return i*10 + 1, nil
			}
		}

		seen := 0
		for i, r := range gather.AsCompleted(context.Background(), fns...) {
			if want := byRank[seen]; i != want {
				t.Fatalf("result %d has index %d; want %d", seen, i, want)
			}
			if p.fails[i] {
				if r.Err != p.errs[i] {
					t.Errorf("result for %d = %+v; want its error %v", i, r, p.errs[i])
				}
			} else if r.Value != i*10+1 || r.Err != nil {
				t.Errorf("result for %d = %+v; want {%d <nil>}", i, r, i*10+1)
			}
			seen++
			if seen == p.stop {
				break
			}
			close(turn[seen])
		}
		if seen != p.stop {
			t.Errorf("the loop saw %d results; want %d", seen, p.stop)
		}
		if n := running.Load(); n != 0 {
			t.Errorf("%d functions still running after the loop; want 0", n)
		}
	})
}
