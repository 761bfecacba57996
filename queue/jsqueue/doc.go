// Package jsqueue provides a bounded, durable, at-least-once work queue
// shared by many processes, on NATS JetStream, and [Serve], the executor
// across machines that does its items. It is the queue package's contract
// (Put/TryPut, Get/GetBatch, Done, Join, Close, All) carried past one
// process: items survive a crash of the process that put them or of the one
// doing them, and work spreads over every process that serves the queue.
//
// # Engine
//
// A queue named q is a JetStream work-queue stream q whose max messages
// (with discard-new) is the bound, a durable pull consumer "workers" that
// every handle shares, and a dead-letter stream q-dead. [New] creates them
// or binds to them on a connection the caller made; [Dial] goes from a URL
// to a queue in one call, with a connection of its own that
// [Queue.Disconnect] closes. [StartEmbedded] runs a NATS server in-process
// for tests, examples and single-machine use, and a real cluster is just
// another URL.
//
// # One queue, one set of settings
//
// The bound, storage and replicas live in the stream, and the ack wait and
// MaxDeliver in the shared consumer, so every process sees the same ones.
// The first New sets them; a later New that names another value gets an
// error naming both, except for the ack wait, which New only ever
// lengthens (workers elsewhere extend their deliveries on the longer one;
// Serve reads the consumer's when it starts). Options a New does not give
// change nothing: a producer made with defaults leaves the workers' ack
// wait alone.
//
// # At least once
//
// An item put is stored by JetStream before Put returns. A delivery stays
// with its holder until the holder settles it ([Delivery.Done],
// [Delivery.Retry], [Delivery.Fail], [Delivery.DeadLetter]) or the ack wait
// ([WithAckWait]) passes without a settle or an [Delivery.Extend]; then it
// is delivered again, to any process. So an item is done at least once,
// never lost, and may be done twice: when a holder is presumed dead but was
// only slow, or when its ack is lost with its connection. Handlers must be
// idempotent, or deduplicate on the item's sequence ([Delivery.Seq], or
// [Seq] of a Serve handler's ctx). Each delivery counts as an attempt
// ([Delivery.Attempt], [Attempt]); after [WithMaxDeliver] attempts the item
// is moved to the dead-letter stream with its last error and attempt count
// ([Queue.DeadLetters]); nothing is dropped silently. A value the codec
// cannot decode, or whose decoding panics, is dead-lettered at once with
// that error; it never reaches, or crashes, a worker.
//
// On the producer's side, [WithMsgID] gives each item an id from its value
// (the user's key), which JetStream stores once within its duplicate window
// (two minutes): a Put retried after a lost answer, or by a caller unsure
// whether it put, does not store the item twice.
//
// # Close and Join across processes
//
// [Queue.Close] closes the queue for every process: it takes the stream's
// subject away, so JetStream itself refuses later puts, and marks the stream,
// so handles made later see it closed. Every Put and TryPut, in any process,
// then returns [ErrClosed]; Puts blocked on a full queue wake with it (a
// close notice reaches every handle at once; a handle that missed it learns
// on its next publish). Getters drain what is left and then get [ErrClosed],
// once no item is left at all: while items are held by other processes they
// may come back, so getters wait for them. A queue is not reopened.
//
// [Queue.Join] returns when the stream holds no item: every item put, by any
// process, has been done or dead-lettered. Items put while Join waits count
// too, as with asyncio's join.
//
// # What a crash leaves behind
//
// A process that dies holding deliveries leaves them in the stream; they are
// delivered again after the ack wait, each such delivery counting as an
// attempt. The error of a crashed attempt is unknown, so an item whose last
// attempt was never settled is dead-lettered with [ErrAttemptsExhausted].
// A crash between writing a dead letter and removing the item leaves the
// item in the queue (it is dead-lettered again; a message id stops a second
// copy within two minutes). A Put cut short by a lost connection may or may
// not have stored its item, and says so (with [WithMsgID] it tries again).
//
// Attempt counts are JetStream's, which a server writes to disk after the
// fact: if the NATS server itself crashes (not a clean restart) before it
// persisted a count, the count restarts from the last one it persisted, so
// an item may get more attempts in all than [WithMaxDeliver] allows, and
// [Attempt] may repeat a number. A server restart also delays [Queue.Join]
// and Serve (each request is bounded and tried again) but ends neither.
//
// # Costs
//
// Put and TryPut: one round trip each try (the value encoded once); a Put
// blocked on a full queue holds a subscription to the consumer's acks and
// tries again on each ack, or on a timer backing off to 500ms. Get: one
// pull request, which the server answers at once when an item is ready and
// otherwise when one comes. GetBatch: one round trip for up to max ready
// items, and on an empty queue one more that waits for the next item.
// Done, Retry, Extend: one message, no wait. Dead-lettering: two round
// trips. Join, Len, Cap and Stats: one round trip per check. Serve: one
// round trip to read the ack wait, a goroutine per worker, and per item one
// goroutine, a ticker and a context value. Each
// handle holds one core subscription (close notices) for its connection's
// life and starts no goroutine of its own; a Put blocked on a full queue, and
// Join, hold an ack subscription (served by a nats.go goroutine) while they
// wait. A Get on an idle queue renews its pull request every 5s; a connection
// closed under it is noticed then.
//
// A minimal producer and worker pool:
//
//	q, err := jsqueue.New[Job](ctx, js, "jobs", jsqueue.WithCapacity(10_000))
//	...
//	err = q.Put(ctx, job) // waits while 10k jobs are not done
//	...
//	err = jsqueue.Serve(ctx, q, 8, func(ctx context.Context, job Job) error {
//		return handle(ctx, job) // nil: done; error: retried with backoff
//	})
package jsqueue
