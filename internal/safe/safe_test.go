package safe

import (
	"errors"
	"io"
	"runtime"
	"strings"
	"sync"
	"testing"
)

func call(fn func() error) (err error) {
	returned := false
	defer func() {
		if !returned {
			err = Recovered(recover())
		}
	}()
	err = fn()
	returned = true
	return err
}

func TestRecoveredPanicWithError(t *testing.T) {
	err := call(func() error { panic(io.EOF) })
	var pe *PanicError
	if !errors.As(err, &pe) {
		t.Fatalf("call() = %v; want *PanicError", err)
	}
	if !errors.Is(err, io.EOF) {
		t.Errorf("errors.Is(err, io.EOF) = false; want true")
	}
	if !strings.Contains(string(pe.Stack), "safe_test.go") {
		t.Errorf("Stack does not name the panicking file:\n%s", pe.Stack)
	}
	if !strings.HasPrefix(err.Error(), "panic: EOF") {
		t.Errorf("Error() = %q; want prefix %q", err.Error(), "panic: EOF")
	}
}

func TestRecoveredPanicWithValue(t *testing.T) {
	err := call(func() error { panic("boom") })
	var pe *PanicError
	if !errors.As(err, &pe) || pe.Value != "boom" {
		t.Fatalf("call() = %v; want *PanicError with Value boom", err)
	}
	if pe.Unwrap() != nil {
		t.Errorf("Unwrap() = %v; want nil for a non-error value", pe.Unwrap())
	}
}

func TestRecoveredGoexit(t *testing.T) {
	var got *PanicError
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		returned := false
		defer func() {
			if !returned {
				got = Recovered(recover())
			}
		}()
		runtime.Goexit()
		returned = true
	}()
	wg.Wait()
	if got == nil || got.Value != ErrGoexit {
		t.Fatalf("Recovered after Goexit = %v; want Value ErrGoexit", got)
	}
	if !errors.Is(got, ErrGoexit) {
		t.Errorf("errors.Is(got, ErrGoexit) = false; want true")
	}
}
