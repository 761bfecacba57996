// Package copyprobe copies an Executor, which go vet must flag (see
// TestVetFlagsCopies).
package copyprobe

import "github.com/async-patterns/async/executor"

func copies() executor.Executor {
	ex := executor.New()
	return *ex
}
