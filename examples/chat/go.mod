module github.com/async-patterns/async/examples/chat

go 1.26.0

require (
	github.com/async-patterns/async v0.3.0
	github.com/coder/websocket v1.8.15
	go.uber.org/goleak v1.3.0
)

require (
	golang.org/x/sync v0.24.0 // indirect
	golang.org/x/time v0.16.0 // indirect
)

replace github.com/async-patterns/async => ../..
