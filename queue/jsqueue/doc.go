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
// or binds to them; [StartEmbedded] runs a NATS server in-process for tests,
// examples and single-machine use, and a real cluster is just another URL.
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
// idempotent (or deduplicate on [Delivery.Seq]). Each delivery counts as an
// attempt; after [WithMaxDeliver] attempts the item is moved to the
// dead-letter stream with its last error and attempt count
// ([Queue.DeadLetters]); nothing is dropped silently. A value the codec
// cannot decode is dead-lettered at once with the decode error; it never
// reaches, or crashes, a worker.
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
// not have stored its item, and says so.
//
// # Costs
//
// Put and TryPut: one round trip each try (the value encoded once); a Put
// blocked on a full queue holds a subscription to the consumer's acks and
// tries again on each ack, or on a timer backing off to 500ms. Get: one
// round trip when an item is ready, else one pull request that the server
// answers when an item comes. GetBatch: one round trip for up to max ready
// items. Done, Retry, Extend: one message, no wait. Dead-lettering: two
// round trips. Join and Len: one round trip per check. Serve: a goroutine per
// worker, and per item one goroutine, a ticker and a context value. Each
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
