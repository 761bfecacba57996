package redisstore

import (
	"context"
	_ "embed"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/async-patterns/async/breaker"
)

//go:embed script.lua
var scriptSource string

// script applies every transition; Run sends EVALSHA and falls back to
// EVAL once when the server does not have it cached (after a restart or a
// SCRIPT FLUSH; see link and Store.reload for how a restart is met).
var script = redis.NewScript(scriptSource)

// Admit implements [breaker.Store].
func (s *Store) Admit(ctx context.Context, name string, p *breaker.Policy) (breaker.Ticket, breaker.Snapshot, error) {
	t, snap, err := s.run(ctx, name, p, "admit")
	return t, snap, err
}

// Record implements [breaker.Store].
func (s *Store) Record(ctx context.Context, name string, p *breaker.Policy, t breaker.Ticket, o breaker.Outcome) (breaker.Snapshot, error) {
	var out string
	switch o {
	case breaker.Success:
		out = "s"
	case breaker.Failure:
		out = "f"
	case breaker.Excluded:
		out = "x"
	default:
		return breaker.Snapshot{}, fmt.Errorf("redisstore: Record: bad outcome %d", int(o))
	}
	own, ago := "0", "0"
	if t.Local {
		own, ago = "1", strconv.FormatInt(max(time.Since(t.Started), 0).Microseconds(), 10)
	}
	_, snap, err := s.run(ctx, name, p, "record",
		strconv.FormatUint(t.Generation, 10), strconv.FormatInt(t.Bucket, 10), out, own, ago)
	return snap, err
}

// Load implements [breaker.Store].
func (s *Store) Load(ctx context.Context, name string, p *breaker.Policy) (breaker.Snapshot, error) {
	_, snap, err := s.run(ctx, name, p, "load")
	return snap, err
}

// Force implements [breaker.Store].
func (s *Store) Force(ctx context.Context, name string, p *breaker.Policy, to breaker.State) (breaker.Snapshot, error) {
	if to != breaker.Open && to != breaker.Closed {
		return breaker.Snapshot{}, fmt.Errorf("redisstore: Force: to must be open or closed, not %v", to)
	}
	_, snap, err := s.run(ctx, name, p, "force", strconv.Itoa(int(to)))
	return snap, err
}

// run runs the script for op and decodes its reply.
func (s *Store) run(ctx context.Context, name string, p *breaker.Policy, op string, extra ...string) (breaker.Ticket, breaker.Snapshot, error) {
	if name == "" {
		return breaker.Ticket{}, breaker.Snapshot{}, ErrEmptyName
	}
	if p == nil {
		return breaker.Ticket{}, breaker.Snapshot{}, errors.New("redisstore: nil policy")
	}
	args := make([]any, 0, 10+len(extra))
	args = append(args, op,
		strconv.FormatUint(uint64(p.ConsecutiveFailures), 10),
		strconv.FormatFloat(p.FailureRatio, 'g', -1, 64),
		strconv.FormatUint(uint64(p.MinRequests), 10),
		micros(p.Window), micros(p.Bucket), micros(p.OpenTimeout),
		strconv.FormatUint(uint64(p.HalfOpenRequests), 10),
		s.channel(name), s.id)
	for _, e := range extra {
		args = append(args, e)
	}
	keys := []string{s.key(name)}
	// After the store lost Redis (restarted, perhaps, with an empty script
	// cache) the first operation sends the script itself: one round trip
	// instead of EVALSHA, NOSCRIPT, EVAL.
	reload := s.reload.Swap(false)
	ctx, cancel := context.WithTimeout(ctx, s.timeout)
	defer cancel()
	v, err := s.link.do(ctx, func(ctx context.Context, c redis.Scripter) ([]int64, error) {
		if reload {
			return script.Eval(ctx, c, keys, args...).Int64Slice()
		}
		return script.Run(ctx, c, keys, args...).Int64Slice()
	})
	if err != nil && !isReply(err) {
		s.reload.Store(true)
	}
	if err != nil {
		return breaker.Ticket{}, breaker.Snapshot{}, fmt.Errorf("redisstore: %s %q: %w", op, name, err)
	}
	if len(v) < 11 || (len(v)-11)%3 != 0 {
		return breaker.Ticket{}, breaker.Snapshot{}, fmt.Errorf("redisstore: %s %q: malformed reply of %d values", op, name, len(v))
	}
	snap := breaker.Snapshot{
		State:      breaker.State(v[2]),
		Generation: uint64(v[3]),
		OpenFor:    time.Duration(v[4]) * time.Microsecond,
		Counts: breaker.Counts{
			Requests:             uint32(v[5]),
			TotalSuccesses:       uint32(v[6]),
			TotalFailures:        uint32(v[7]),
			TotalExclusions:      uint32(v[8]),
			ConsecutiveSuccesses: uint32(v[9]),
			ConsecutiveFailures:  uint32(v[10]),
		},
	}
	for i := 11; i < len(v); i += 3 {
		snap.Changes = append(snap.Changes, breaker.Change{Generation: uint64(v[i]), From: breaker.State(v[i+1]), To: breaker.State(v[i+2])})
	}
	t := breaker.Ticket{Admitted: v[0] == 1, Generation: snap.Generation, Bucket: v[1]}
	return t, snap, nil
}

// micros formats d in whole microseconds, the script's unit, rounding a
// positive d up so that it stays positive.
func micros(d time.Duration) string {
	if d <= 0 {
		return "0"
	}
	return strconv.FormatInt(int64((d+time.Microsecond-1)/time.Microsecond), 10)
}
