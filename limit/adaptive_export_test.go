package limit

// SetOnAdmit installs a hook called under a's lock at every admission with
// the permits held after it and the limit (for the property test).
func SetOnAdmit(a *Adaptive, f func(inFlight, limit int)) {
	a.mu.Lock()
	a.onAdmit = f
	a.mu.Unlock()
}
