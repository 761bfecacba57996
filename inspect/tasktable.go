package inspect

import (
	"sync"

	"github.com/async-patterns/async/observe"
)

// tasks is the table of live tracked tasks, sharded to keep spawns on
// different cores apart, and a ring of the last ones that ended.
var tasks table

const shards = 32

type table struct {
	sh [shards]struct {
		mu sync.Mutex
		m  map[observe.ID]*rec
		_  [40]byte
	}
	endMu sync.Mutex
	ended [keepEnded]*rec // ring
	next  int
}

// keepEnded is how many ended tasks a snapshot still shows.
const keepEnded = 64

func (t *table) add(r *rec) {
	s := &t.sh[uint64(r.id)%shards]
	s.mu.Lock()
	if s.m == nil {
		s.m = make(map[observe.ID]*rec)
	}
	s.m[r.id] = r
	s.mu.Unlock()
}

func (t *table) remove(r *rec) {
	s := &t.sh[uint64(r.id)%shards]
	s.mu.Lock()
	delete(s.m, r.id)
	s.mu.Unlock()
	t.endMu.Lock()
	t.ended[t.next] = r
	t.next = (t.next + 1) % keepEnded
	t.endMu.Unlock()
}

// appendAll appends the live tasks and then the recently ended ones.
func (t *table) appendAll(rs []*rec) []*rec {
	for i := range t.sh {
		s := &t.sh[i]
		s.mu.Lock()
		for _, r := range s.m {
			rs = append(rs, r)
		}
		s.mu.Unlock()
	}
	t.endMu.Lock()
	for _, r := range t.ended {
		if r != nil {
			rs = append(rs, r)
		}
	}
	t.endMu.Unlock()
	return rs
}
