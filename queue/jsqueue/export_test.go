package jsqueue

import "time"

// SetDefaultAckWait makes d the ack wait of a New without WithAckWait, for
// a test that cannot wait DefaultAckWait; restore puts it back.
func SetDefaultAckWait(d time.Duration) (restore func()) {
	old := defaultAckWait
	defaultAckWait = d
	return func() { defaultAckWait = old }
}
