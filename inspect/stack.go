package inspect

import (
	"bytes"
	"runtime"
	"strconv"
	"strings"
)

// callers returns the PCs of the calling goroutine's stack, skipping skip
// frames (as runtime.Callers counts them).
func callers(skip int) []uintptr {
	pcs := make([]uintptr, 32)
	return pcs[:runtime.Callers(skip, pcs)]
}

// formatStack writes pcs as a panic does ("pkg.fn(...)\n\tfile:line"),
// starting at the call the program made into this module: of the frames of
// this module's packages at its top (a constructor's own register call,
// the bookkeeping of inspect, observe and internal, and the standard
// library's frames among them), only the outermost is kept, so that a report of a Group made by gather.All opens with
// gather.All, and one of an Executor with executor.New, followed by the
// caller's frames.
func formatStack(pcs []uintptr) string {
	if len(pcs) == 0 {
		return ""
	}
	type frame struct{ fn, at string }
	var fs []frame
	frames := runtime.CallersFrames(pcs)
	for {
		f, more := frames.Next()
		fs = append(fs, frame{f.Function, f.File + ":" + strconv.Itoa(f.Line)})
		if !more {
			break
		}
	}
	// The program's first frame, and the outermost frame of this module's
	// library above it (the standard library's frames between them, a
	// sync.Once's say, do not count).
	top := 0
	for i, f := range fs {
		if library(f.fn) {
			top = i
		} else if !standard(f.fn) {
			break
		}
	}
	var b strings.Builder
	for _, f := range fs[top:] {
		b.WriteString(f.fn + "(...)\n\t" + f.at + "\n")
	}
	return b.String()
}

const module = "github.com/async-patterns/async/"

// library reports whether fn, a function's full name, belongs to a package
// of this module's library: not a test package, an example or a command.
func library(fn string) bool {
	path, ok := strings.CutPrefix(pkgPath(fn), module)
	return ok && !strings.HasSuffix(path, "_test") && !strings.HasPrefix(path, "examples/") && !strings.HasPrefix(path, "cmd/")
}

// standard reports whether fn belongs to the standard library (or the
// runtime): its package path's first element has no dot. Package main's
// functions are the program's.
func standard(fn string) bool {
	path := pkgPath(fn)
	first, _, _ := strings.Cut(path, "/")
	return path != "main" && !strings.Contains(first, ".")
}

// pkgPath returns the package path of fn, a function's full name
// ("example.com/a/b.(*T).m" gives "example.com/a/b").
func pkgPath(fn string) string {
	i := strings.LastIndexByte(fn, '/') + 1
	if j := strings.IndexByte(fn[i:], '.'); j >= 0 {
		return fn[:i+j]
	}
	return fn
}

// goid returns the calling goroutine's ID, from the first line of its
// stack ("goroutine 18 [running]:").
func goid() uint64 {
	var buf [64]byte
	b := buf[:runtime.Stack(buf[:], false)]
	b = bytes.TrimPrefix(b, []byte("goroutine "))
	if i := bytes.IndexByte(b, ' '); i > 0 {
		n, _ := strconv.ParseUint(string(b[:i]), 10, 64)
		return n
	}
	return 0
}

// goroutineStack returns the stack of goroutine id, from a dump of all
// goroutines; "" if it is gone.
func goroutineStack(id uint64) string {
	buf := make([]byte, 1<<16)
	for {
		n := runtime.Stack(buf, true)
		if n < len(buf) {
			buf = buf[:n]
			break
		}
		buf = make([]byte, 2*len(buf))
	}
	head := []byte("goroutine " + strconv.FormatUint(id, 10) + " [")
	for s := range bytes.SplitSeq(buf, []byte("\n\n")) {
		if bytes.HasPrefix(s, head) {
			return string(s)
		}
	}
	return ""
}
