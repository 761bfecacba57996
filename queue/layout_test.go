package queue

import (
	"testing"
	"unsafe"
)

// TestLayout checks what the field comments of Queue promise: the fields of
// a call that need not wait share one 64-byte line, which starts a line
// because the struct's size is a multiple of 64 (the allocator aligns such
// objects to 64).
func TestLayout(t *testing.T) {
	check := func(t *testing.T, size, mu, closed uintptr) {
		t.Helper()
		if size%64 != 0 {
			t.Errorf("unsafe.Sizeof(Queue) = %d; want a multiple of 64", size)
		}
		if mu%64 != 0 {
			t.Errorf("offset of mu = %d; want a multiple of 64", mu)
		}
		if closed >= mu+64 {
			t.Errorf("offset of closed = %d; want < %d (mu's line)", closed, mu+64)
		}
	}
	t.Run("Queue[int]", func(t *testing.T) {
		var q Queue[int]
		check(t, unsafe.Sizeof(q), unsafe.Offsetof(q.mu), unsafe.Offsetof(q.closed))
	})
	t.Run("a new queue starts a cache line", func(t *testing.T) {
		for range 8 {
			if p := uintptr(unsafe.Pointer(New[int](1))); p%64 != 0 {
				t.Fatalf("New[int](1) at %#x; want a multiple of 64", p)
			}
		}
	})
	t.Run("Queue[[4]string]", func(t *testing.T) {
		var q Queue[[4]string]
		check(t, unsafe.Sizeof(q), unsafe.Offsetof(q.mu), unsafe.Offsetof(q.closed))
	})
}
