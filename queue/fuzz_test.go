package queue_test

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"testing"

	"github.com/async-patterns/async/queue"
)

// model is the queue's contract written as plainly as possible: a slice in
// insertion order.
type model struct {
	kind       int // 0 FIFO, 1 LIFO, 2 priority by v/1000
	policy     queue.Overflow
	capacity   int
	items      []int
	closed     bool
	unfinished int
	dropped    []int
}

func (m *model) put(v int) error {
	if m.closed {
		return queue.ErrClosed
	}
	if len(m.items) == m.capacity {
		switch m.policy {
		case queue.Block:
			return queue.ErrFull
		case queue.DropNewest:
			m.dropped = append(m.dropped, v)
			return nil
		case queue.DropOldest:
			m.dropped = append(m.dropped, m.items[0])
			m.items = m.items[1:]
			m.unfinished--
		}
	}
	m.items = append(m.items, v)
	m.unfinished++
	return nil
}

func (m *model) get() (int, error) {
	if len(m.items) == 0 {
		if m.closed {
			return 0, queue.ErrClosed
		}
		return 0, queue.ErrEmpty
	}
	i := 0
	switch m.kind {
	case 1:
		i = len(m.items) - 1
	case 2:
		for j, v := range m.items {
			if v/1000 < m.items[i]/1000 {
				i = j
			}
		}
	}
	v := m.items[i]
	m.items = slices.Delete(m.items, i, i+1)
	return v, nil
}

// FuzzQueue runs random sequences of non-blocking operations on a queue and
// on the model and checks that they agree at every step. data[0] picks the
// kind, data[1] the overflow policy, data[2] the capacity; each later byte
// is an operation.
func FuzzQueue(f *testing.F) {
	f.Add([]byte{0, 0, 2, 0, 8, 0, 1, 1, 1, 5, 5, 5, 9, 6, 1, 1, 7})
	f.Add([]byte{1, 0, 3, 0, 0, 0, 0, 1, 0, 2, 3, 3, 3, 4, 0x24, 5, 9, 7})
	f.Add([]byte{2, 0, 4, 0, 0x10, 0x20, 0x30, 0x40, 0x50, 1, 1, 1, 1, 1, 0x14, 0x23, 9, 5})
	f.Add([]byte{2, 1, 2, 0x30, 0x10, 0x20, 0x30, 0x10, 1, 1, 1, 5, 5, 5, 5})
	f.Add([]byte{0, 2, 1, 0, 0, 0, 2, 2, 1, 1, 6, 1, 0, 5, 9})
	f.Add([]byte{1, 1, 3, 0, 0, 0, 0, 0, 0x14, 0x34, 7, 0, 1, 5, 5, 5, 5})
	f.Add([]byte{2, 2, 2, 0x40, 0x30, 0x20, 0x10, 0x04, 6, 4, 4, 1, 3, 7, 5})
	// A deep priority heap: puts of the four priorities (bytes 0, 80, 160,
	// 240 are TryPut with arg 0, 5, 10, 15; +2 makes them Put) and a few gets.
	deep := []byte{2, 0, 200}
	for i := range 120 {
		deep = append(deep, []byte{240, 80, 160, 0}[i%4], []byte{82, 2, 242, 162}[i*7%4])
		if i%5 == 4 {
			deep = append(deep, 1, 3)
		}
	}
	f.Add(append(deep, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 7))
	f.Fuzz(func(t *testing.T, data []byte) {
		if len(data) < 3 {
			return
		}
		capacity := 1 + int(data[2]%6) // small, to hit the overflow paths often
		if data[2] >= 128 {
			capacity = 1 + int(data[2]%64) // large, for deep heaps
		}
		m := &model{kind: int(data[0] % 3), policy: queue.Overflow(data[1] % 3), capacity: capacity}
		var dropped []int
		opts := []queue.Option{queue.WithOverflow(m.policy), queue.WithOnDrop(func(v int) { dropped = append(dropped, v) })}
		var q *queue.Queue[int]
		switch m.kind {
		case 0:
			q = queue.New[int](m.capacity, opts...)
		case 1:
			q = queue.NewLIFO[int](m.capacity, opts...)
		default:
			q = queue.NewPriority(m.capacity, func(a, b int) bool { return a/1000 < b/1000 }, opts...)
		}
		done, cancel := context.WithCancel(context.Background())
		cancel()
		next := 0
		for step, op := range data[3:] {
			where := fmt.Sprintf("step %d (op %#x)", step, op)
			arg := int(op >> 4)
			switch op % 10 {
			case 0, 2: // TryPut, or Put with a done ctx (succeeds when it need not wait)
				next++
				v := arg%4*1000 + next
				var err error
				if op%10 == 0 {
					err = q.TryPut(v)
				} else {
					err = q.Put(done, v)
				}
				want := m.put(v)
				if op%10 == 2 && errors.Is(want, queue.ErrFull) {
					want = context.Canceled
				}
				if !errors.Is(err, want) || (err == nil) != (want == nil) {
					t.Fatalf("%s: Put(%d) = %v; want %v", where, v, err, want)
				}
			case 1, 3: // TryGet, or Get with a done ctx
				var v int
				var err error
				if op%10 == 1 {
					v, err = q.TryGet()
				} else {
					v, err = q.Get(done)
				}
				wv, want := m.get()
				if op%10 == 3 && errors.Is(want, queue.ErrEmpty) {
					want = context.Canceled
				}
				if v != wv || !errors.Is(err, want) || (err == nil) != (want == nil) {
					t.Fatalf("%s: Get() = %d, %v; want %d, %v", where, v, err, wv, want)
				}
			case 4: // GetBatch with a done ctx
				maxN := arg % 4
				vs, err := q.GetBatch(done, maxN)
				var want []int
				var wantErr error
				switch {
				case maxN < 1:
					wantErr = errors.New("any")
				case len(m.items) == 0 && m.closed:
					wantErr = queue.ErrClosed
				case len(m.items) == 0:
					wantErr = context.Canceled
				default:
					for len(want) < maxN && len(m.items) > 0 {
						v, _ := m.get()
						want = append(want, v)
					}
				}
				if !slices.Equal(vs, want) || (err == nil) != (wantErr == nil) ||
					(wantErr != nil && maxN >= 1 && !errors.Is(err, wantErr)) {
					t.Fatalf("%s: GetBatch(%d) = %v, %v; want %v, %v", where, maxN, vs, err, want, wantErr)
				}
			case 5: // TaskDone
				err := q.TaskDone()
				if m.unfinished == 0 {
					if !errors.Is(err, queue.ErrTooManyTaskDone) {
						t.Fatalf("%s: TaskDone() = %v; want ErrTooManyTaskDone", where, err)
					}
				} else {
					m.unfinished--
					if err != nil {
						t.Fatalf("%s: TaskDone() = %v; want nil", where, err)
					}
				}
			case 6:
				q.Close()
				m.closed = true
			case 7:
				got := q.CloseNow()
				var want []int
				for len(m.items) > 0 {
					v, _ := m.get()
					want = append(want, v)
				}
				m.unfinished -= len(want)
				m.closed = true
				if !slices.Equal(got, want) {
					t.Fatalf("%s: CloseNow() = %v; want %v", where, got, want)
				}
			case 8, 9: // Join with a done ctx: nil exactly when nothing is unfinished
				err := q.Join(done)
				if (err == nil) != (m.unfinished == 0) {
					t.Fatalf("%s: Join() = %v with %d unfinished", where, err, m.unfinished)
				}
			}
			if q.Len() != len(m.items) || !slices.Equal(dropped, m.dropped) || q.Dropped() != uint64(len(m.dropped)) {
				t.Fatalf("%s: Len() = %d, dropped %v (Dropped() = %d); want %d, %v",
					where, q.Len(), dropped, q.Dropped(), len(m.items), m.dropped)
			}
		}
	})
}
