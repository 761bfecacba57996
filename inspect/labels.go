package inspect

import (
	"context"
	"runtime/pprof"
	"sync"
	"sync/atomic"

	"github.com/async-patterns/async/observe"
)

// The pprof label keys a tracked task runs under:
// go tool pprof -tagfocus=async.task=fetch ...
const (
	LabelGroup = "async.group" // the group or executor: its name, else its kind and ID ("taskgroup#12")
	LabelTask  = "async.task"  // the task's name, else its function's symbol
)

// labelled returns ctx with the task's pprof labels added. When ctx has
// no labels of its own (the usual case) it is one of a bounded cache of
// labelled contexts, one per group and task label, so that a task costs
// no allocation for its labels.
func labelled(ctx context.Context, r *rec) context.Context {
	own := false
	pprof.ForLabels(ctx, func(string, string) bool { own = true; return false })
	if own {
		return pprof.WithLabels(ctx, pprof.Labels(LabelGroup, groupLabel(r), LabelTask, taskLabel(r)))
	}
	k := labelKey{r.parent, r.name, r.fn}
	if c, ok := labelCache.Load(k); ok {
		return c.(context.Context)
	}
	c := pprof.WithLabels(context.Background(), pprof.Labels(LabelGroup, groupLabel(r), LabelTask, taskLabel(r)))
	if labelCount.Add(1) <= maxLabelCache {
		labelCache.Store(k, c)
	}
	return c
}

// labelKey is what a task's labels are made of: its parent's ID (whose
// kind and name do not change) and its name or function.
type labelKey struct {
	parent observe.ID
	name   string
	fn     uintptr
}

var (
	labelCache sync.Map // labelKey -> context.Context carrying the labels
	labelCount atomic.Int64
)

// maxLabelCache bounds the cache: a process that makes groups without
// end (each its own parent ID) pays the labels' allocations past it.
const maxLabelCache = 4096

func taskLabel(r *rec) string {
	if r.name != "" {
		return r.name
	}
	return funcName(r.fn)
}

func groupLabel(r *rec) string {
	if o, ok := objects.get(r.parent); ok {
		if o.name != "" {
			return o.name
		}
		return o.kind + "#" + itoa(uint64(r.parent))
	}
	if r.parent == 0 {
		return r.source
	}
	return r.source + "#" + itoa(uint64(r.parent))
}

// funcNames caches FuncName, which a label needs at each task start.
var funcNames sync.Map // uintptr -> string

func funcName(pc uintptr) string {
	if s, ok := funcNames.Load(pc); ok {
		return s.(string)
	}
	s := observe.FuncName(pc)
	funcNames.Store(pc, s)
	return s
}

func itoa(n uint64) string {
	var b [20]byte
	i := len(b)
	for {
		i--
		b[i] = byte('0' + n%10)
		n /= 10
		if n == 0 {
			return string(b[i:])
		}
	}
}
