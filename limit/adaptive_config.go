package limit

import "fmt"

// adaptiveConfig holds the adaptive limiter's options (the part of [config]
// that belongs to it). It lives in its own file so that the adaptive
// limiter's options can grow without touching options.go.
type adaptiveConfig struct {
	set                     bool // WithLimits was given
	minLim, initial, maxLim int
}

// WithLimits bounds an [Adaptive] limiter's limit to [min, max] and starts
// it at initial. Default: 1, 20 and 1000. It panics, with a message naming
// the argument, unless 1 <= min <= initial <= max.
func WithLimits(min, initial, max int) Option {
	switch {
	case min < 1:
		panic(fmt.Sprintf("limit: WithLimits: min must be >= 1, got %d", min))
	case max < min:
		panic(fmt.Sprintf("limit: WithLimits: min must be <= max, got min %d > max %d", min, max))
	case initial < min || initial > max:
		panic(fmt.Sprintf("limit: WithLimits: initial must be within [min, max] = [%d, %d], got %d", min, max, initial))
	}
	return func(c *config) {
		c.adaptive = adaptiveConfig{set: true, minLim: min, initial: initial, maxLim: max}
		c.note("WithLimits")
	}
}
