module github.com/async-patterns/async/examples/chat

go 1.26.0

require (
	github.com/async-patterns/async v0.0.0-00010101000000-000000000000
	github.com/coder/websocket v1.8.15
	go.uber.org/goleak v1.3.0
)

replace github.com/async-patterns/async => ../..
