module github.com/async-patterns/async/limit/redislimit

go 1.26.0

require (
	github.com/async-patterns/async v0.3.0
	github.com/redis/go-redis/v9 v9.23.0
	go.uber.org/goleak v1.3.0
)

replace github.com/async-patterns/async => ../..
