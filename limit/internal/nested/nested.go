// Package nested lets the packages under limit (limit/redislimit) make a
// limit limiter as a part of an object of their own: one that is not a
// live object in observe's registry and reports no event, because the
// object that owns it lists itself and reports every refusal as its own.
//
// Package limit sets Option when it is initialised; a package that imports
// limit can therefore read it.
package nested

// Option is a limit.Option (held as any, since package limit imports this
// one) that makes the limiter it is given to nested: it does not register
// in observe's registry and reports no event (a refusal is still counted
// in its Stats and returned as a *limit.RejectedError). It is for a
// limiter used inside another object that registers and reports for it.
var Option any
