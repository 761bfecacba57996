package task

import (
	"context"
	"sync"
	"testing"
	"time"
)

// TestReusedFixed covers a Reused whose Done was asked over a parent that
// never ends: it is fixed to that parent, so that a goroutine of the context
// package may read it after its task, and is reused only for that parent.
func TestReusedFixed(t *testing.T) {
	type key struct{}
	bg := context.Background()

	t.Run("a ctx nobody asked for Done is reusable for any parent and reads as cancelled between tasks", func(t *testing.T) {
		stop, cancel := context.WithCancel(bg)
		defer cancel()
		r := NewReused(nil, stop)
		r.Start(bg)
		r.Finish()
		live, cancelLive := context.WithCancel(bg)
		defer cancelLive()
		for _, p := range []context.Context{bg, context.WithValue(bg, key{}, 1), live} {
			if !r.Reusable(p) {
				t.Errorf("Reusable(%v) = false; want true", p)
			}
		}
		if r.Err() == nil {
			t.Errorf("Err() = nil between tasks; want the ctx to read as cancelled")
		}
	})

	t.Run("Done over a parent that never ends fixes the ctx to that parent", func(t *testing.T) {
		stop, cancel := context.WithCancel(bg)
		defer cancel()
		parent := context.WithValue(bg, key{}, "p")
		r := NewReused(nil, stop)
		r.Start(parent)
		if d := r.Done(); d != stop.Done() {
			t.Fatalf("Done() is not stop's channel over a parent that never ends")
		}
		r.Finish()
		if r.Retained() {
			t.Errorf("Retained() = true; want a fixed ctx to stay reusable")
		}
		if !r.Reusable(parent) {
			t.Errorf("Reusable(the same parent) = false; want true")
		}
		live, cancelLive := context.WithCancel(bg)
		defer cancelLive()
		for _, p := range []context.Context{bg, context.WithValue(bg, key{}, "p"), live} {
			if r.Reusable(p) {
				t.Errorf("Reusable(%v) = true; want false for any other parent", p)
			}
		}
		// Between tasks, and after Start with the same parent, it reads as
		// its parent: live until stop ends.
		if err := r.Err(); err != nil {
			t.Errorf("Err() = %v between tasks; want nil", err)
		}
		if v := r.Value(key{}); v != "p" {
			t.Errorf("Value(key) = %v between tasks; want the parent's %q", v, "p")
		}
		r.Start(parent)
		r.Finish()
		cancel()
		if err := r.Err(); err != context.Canceled {
			t.Errorf("Err() = %v after stop ended; want context.Canceled", err)
		}
	})

	t.Run("a parent that cannot be compared retires the ctx instead", func(t *testing.T) {
		stop, cancel := context.WithCancel(bg)
		defer cancel()
		r := NewReused(nil, stop)
		r.Start(uncomparableCtx{Context: bg, path: []int{1}})
		r.Done()
		r.Finish()
		if r.Reusable(bg) {
			t.Errorf("Reusable() = true; want a retired ctx")
		}
	})

	t.Run("a parent of a comparable type holding an uncomparable value retires the ctx", func(t *testing.T) {
		// The type's == compiles (an interface field) but panics on this
		// value: the check is on the value, not the type, so that the next
		// task's parent of the same type is never compared with it.
		stop, cancel := context.WithCancel(bg)
		defer cancel()
		r := NewReused(nil, stop)
		p := anyFieldCtx{Context: bg, v: []int{1}}
		r.Start(p)
		r.Done()
		r.Finish()
		if r.Reusable(p) {
			t.Errorf("Reusable() = true; want a retired ctx")
		}
		// A comparable value of that type fixes it; another value of the
		// type, comparable or not, is not reused, and comparing does not
		// panic.
		r = NewReused(nil, stop)
		q := anyFieldCtx{Context: bg, v: 1}
		r.Start(q)
		r.Done()
		r.Finish()
		for _, o := range []context.Context{anyFieldCtx{Context: bg, v: 2}, p} {
			if r.Reusable(o) {
				t.Errorf("Reusable(%v) = true; want false for another parent", o)
			}
		}
		if !r.Reusable(anyFieldCtx{Context: bg, v: 1}) {
			t.Errorf("Reusable(an equal parent) = false; want true")
		}
	})

	t.Run("the context package's late reader does not race with reuse", func(t *testing.T) {
		// Run under -race. A worker's loop: each task derives a ctx from a
		// wrapper of its ctx and leaves it live; the context package's
		// goroutine reads the task's ctx whenever it gets to run.
		stop, cancel := context.WithCancel(bg)
		live, cancelLive := context.WithCancel(bg)
		defer cancelLive()
		parents := []context.Context{bg, bg, context.WithValue(bg, key{}, 1), bg, live}
		var (
			derived []context.Context
			cancels []context.CancelFunc
		)
		r := NewReused(nil, stop)
		for i := range 500 {
			p := parents[i%len(parents)]
			if !r.Reusable(p) {
				r = NewReused(nil, stop)
			}
			r.Start(p)
			d, c := context.WithCancel(context.WithValue(r, key{}, i))
			derived = append(derived, d)
			cancels = append(cancels, c)
			r.Finish()
		}
		cancel()
		cancelLive()
		var wg sync.WaitGroup
		bound, endBound := context.WithTimeout(bg, 10*time.Second) // a bound on a hang, not an ordering
		defer endBound()
		for i, d := range derived {
			if parents[i%len(parents)] == live {
				continue // its retired ctx's merged channel stopped watching at Finish
			}
			wg.Go(func() {
				select {
				case <-d.Done():
				case <-bound.Done():
					t.Errorf("a ctx derived in task %d did not end when stop did", i)
					return
				}
				if err := d.Err(); err != context.Canceled {
					t.Errorf("Err() = %v after stop ended; want context.Canceled", err)
				}
			})
		}
		wg.Wait()
		for _, c := range cancels {
			c()
		}
	})
}

// uncomparableCtx is a ctx whose values == panics on.
type uncomparableCtx struct {
	context.Context
	path []int
}

// anyFieldCtx is a ctx whose type == compiles for, and whose values ==
// panics on when v holds an uncomparable value.
type anyFieldCtx struct {
	context.Context
	v any
}
