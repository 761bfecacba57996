package limit

import "github.com/async-patterns/async/limit/internal/nested"

// A nested limiter (nested.Option, for limit/redislimit's local share) is
// part of another object, which registers and reports for it: it neither
// registers nor reports.
func init() {
	nested.Option = Option(func(c *config) { c.nested = true })
}
