package limit

// adaptiveConfig holds the adaptive limiter's options (the part of [config]
// that belongs to it). It lives in its own file so that the adaptive
// limiter's options can grow without touching options.go.
type adaptiveConfig struct{}
