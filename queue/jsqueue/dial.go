package jsqueue

import (
	"context"
	"fmt"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// Dial connects to the NATS server at url (a comma-separated list for a
// cluster) and returns a handle on the queue name, as [New] does: the one
// call from a URL to a queue. The handle owns its connection, which
// reconnects forever after a server restart; [Queue.Disconnect] closes it.
//
// Dial reads the options New reads, and [WithConnectOptions] for the
// connection. If ctx has a deadline sooner than nats.go's 2s connect
// timeout, the connect is bounded by it. Dial panics as New does; it returns
// context.Cause(ctx) if ctx has ended, and an error naming url if the server
// cannot be reached, closing whatever it opened.
func Dial[T any](ctx context.Context, url, name string, opts ...Option) (*Queue[T], error) {
	cfg := newConfig(ctx, "Dial", name, opts)
	typed[T]("Dial", cfg) // panics on a mismatch before anything is opened
	if ctx.Err() != nil {
		return nil, context.Cause(ctx)
	}
	nopts := []nats.Option{nats.Name("jsqueue " + name), nats.MaxReconnects(-1)}
	if dl, ok := ctx.Deadline(); ok && time.Until(dl) < nats.DefaultTimeout {
		nopts = append(nopts, nats.Timeout(max(time.Until(dl), time.Millisecond)))
	}
	nc, err := nats.Connect(url, append(nopts, cfg.connOpts...)...)
	if err != nil {
		return nil, fmt.Errorf("jsqueue: Dial %s: %w", url, err)
	}
	js, err := jetstream.New(nc)
	if err != nil {
		nc.Close()
		return nil, fmt.Errorf("jsqueue: Dial %s: %w", url, err)
	}
	q, err := newQueue[T](ctx, "Dial", js, name, cfg)
	if err != nil {
		nc.Close()
		return nil, err
	}
	q.ownConn = true
	return q, nil
}

// Disconnect releases what the handle holds on its connection: its
// subscription to close notices and, for a handle made by [Dial], the
// connection itself, which it flushes (acks sent by Done reach the server)
// and closes. It does not close the queue, which other processes go on
// using; [Queue.Close] does that. The handle must not be used afterwards.
// A second call does nothing. It returns the flush's error, if any.
func (q *Queue[T]) Disconnect() error {
	var err error
	q.disconnect.Do(func() {
		q.reg.Leave()
		_ = q.sub.Unsubscribe()
		if q.ownConn {
			err = q.nc.FlushTimeout(opTimeout)
			q.nc.Close()
		}
	})
	return err
}
