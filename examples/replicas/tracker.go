package main

import (
	"bytes"
	"fmt"
	"strings"
	"sync"
)

// tracker follows the replicas' events: which jobs each one holds, which
// deliveries were redeliveries, what each replica's breaker says.
//
// Events from one replica arrive in the order it sent them (one
// connection); a replica sends "finished" before Serve acks the job, so a job
// still held here when its replica is killed was not acked, and JetStream
// will deliver it again.
type tracker struct {
	mu          sync.Mutex          // protects the fields below
	holding     map[int]map[int]int // replica -> job -> attempt, started and not finished
	last        map[int]start       // job -> its latest start
	done        map[int]bool        // jobs some replica finished with success
	deliveries  int                 // starts seen
	redelivered int                 // starts with an attempt above 1
	breaker     map[int]string      // replica -> its breaker's state, as it last said
	killed      int                 // the killed replica, 0 for none
	bad         int                 // events that did not parse
}

type start struct{ replica, attempt int }

func newTracker() *tracker {
	return &tracker{
		holding: make(map[int]map[int]int),
		last:    make(map[int]start),
		done:    make(map[int]bool),
		breaker: make(map[int]string),
	}
}

// event records one event: "s <replica> <job> <attempt>" (started),
// "f <replica> <job> ok|err" (finished), "b <replica> <state>" (breaker).
func (t *tracker) event(data []byte) {
	f := strings.Fields(string(bytes.TrimSpace(data)))
	t.mu.Lock()
	defer t.mu.Unlock()
	var r, j, a int
	switch {
	case len(f) == 4 && f[0] == "s" && scan(f[1:], &r, &j, &a):
		if t.holding[r] == nil {
			t.holding[r] = make(map[int]int)
		}
		t.holding[r][j] = a
		if a >= t.last[j].attempt {
			t.last[j] = start{r, a}
		}
		t.deliveries++
		if a > 1 {
			t.redelivered++
		}
	case len(f) == 4 && f[0] == "f" && scan(f[1:3], &r, &j):
		delete(t.holding[r], j)
		if f[3] == "ok" {
			t.done[j] = true
		}
	case len(f) == 3 && f[0] == "b" && scan(f[1:2], &r):
		t.breaker[r] = f[2]
	default:
		t.bad++
	}
}

func scan(fields []string, to ...*int) bool {
	for i, s := range fields {
		if _, err := fmt.Sscan(s, to[i]); err != nil {
			return false
		}
	}
	return true
}

// holds returns how many jobs replica r holds now.
func (t *tracker) holds(r int) int {
	t.mu.Lock()
	defer t.mu.Unlock()
	return len(t.holding[r])
}

// kill notes that replica r was killed.
func (t *tracker) kill(r int) {
	t.mu.Lock()
	t.killed = r
	t.mu.Unlock()
}

// snapshot is the tracker's counts at one moment.
type snapshot struct {
	done, inFlight, deliveries, redelivered int
	breakers                                []string // per replica, "killed" for the killed one
	orphans, rescued                        int      // jobs the killed replica held when it died; of them, delivered again elsewhere
	bad                                     int
}

func (t *tracker) snapshot(replicas int) snapshot {
	t.mu.Lock()
	defer t.mu.Unlock()
	s := snapshot{done: len(t.done), deliveries: t.deliveries, redelivered: t.redelivered, bad: t.bad}
	for r := 1; r <= replicas; r++ {
		if r == t.killed {
			s.breakers = append(s.breakers, "killed")
			continue
		}
		s.inFlight += len(t.holding[r])
		st := t.breaker[r]
		if st == "" {
			st = "starting"
		}
		s.breakers = append(s.breakers, st)
	}
	if t.killed != 0 {
		for j, a := range t.holding[t.killed] {
			s.orphans++
			if l := t.last[j]; l.replica != t.killed && l.attempt > a {
				s.rescued++
			}
		}
	}
	return s
}
