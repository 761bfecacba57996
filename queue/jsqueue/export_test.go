package jsqueue

import "time"

// SetDefaultAckWait makes d the ack wait of a New without WithAckWait, for
// a test that cannot wait DefaultAckWait; restore puts it back.
func SetDefaultAckWait(d time.Duration) (restore func()) {
	old := defaultAckWait
	defaultAckWait = d
	return func() { defaultAckWait = old }
}

// SetReceivedHook makes f run in Get once an item has arrived and before
// ctx is checked, so a test can end ctx at that instant; restore removes it.
func SetReceivedHook(f func()) (restore func()) {
	testHookReceived = f
	return func() { testHookReceived = nil }
}
