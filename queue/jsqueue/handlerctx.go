package jsqueue

import "context"

// What a Serve handler's ctx carries about the item it runs on.

// deliveryKey is the key of the deliveryInfo a Serve handler's ctx holds.
type deliveryKey struct{}

type deliveryInfo struct {
	attempt int
	seq     uint64
}

// Attempt returns the attempt number of the item a Serve handler is
// running on (1 on first delivery), read from the handler's ctx, and 0 for
// any other ctx. The count is JetStream's: see the package doc on what a
// server crash does to it.
func Attempt(ctx context.Context) int {
	di, _ := ctx.Value(deliveryKey{}).(*deliveryInfo)
	if di == nil {
		return 0
	}
	return di.attempt
}

// Seq returns the sequence number of the item a Serve handler is running
// on, the same on every delivery of the item ([Delivery.Seq]), read from the
// handler's ctx, and 0 for any other ctx. A handler deduplicates on it.
func Seq(ctx context.Context) uint64 {
	di, _ := ctx.Value(deliveryKey{}).(*deliveryInfo)
	if di == nil {
		return 0
	}
	return di.seq
}
