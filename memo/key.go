package memo

import (
	"errors"
	"fmt"
	"reflect"
)

// ErrInvalidKey is matched (errors.Is) by the error of a [Cache.Get] whose
// key no map can hold, which Get checks before it takes the cache's lock:
//
//   - a key whose dynamic type cannot be hashed (a slice, a map or a func in
//     an interface key, K = any say), on which a map panics;
//   - a key not equal to itself (a NaN float, or a struct, array or
//     interface holding one), which a map stores but can never find or
//     delete again, so that each Get would start a load that no later Get
//     joins, and leave an entry only eviction removes.
//
// Such a Get starts no load and counts in no [Stats]. The check costs
// nothing for key types that can hold neither (strings, integers, pointers,
// structs of those); for the others it is decided once, in [New], how much
// each key needs: a comparison of the key with itself for floats, a look at
// the dynamic type for an interface key holding a plain value (a string, an
// int), and that comparison under a deferred recover for a key that may
// hold an interface inside a struct or an array.
var ErrInvalidKey = errors.New("memo: invalid key")

// keyError is the error of a Get with an invalid key.
type keyError struct{ reason string }

func (e *keyError) Error() string { return "memo: Get: invalid key: " + e.reason }

// Is reports whether target is ErrInvalidKey.
func (e *keyError) Is(target error) bool { return target == ErrInvalidKey }

// keyCheck is how much a key of a Cache's K needs checking.
type keyCheck uint8

const (
	keyValid keyCheck = iota // K holds no float, complex or interface: every key is valid
	keyNaN                   // K holds floats or complex numbers, no interface: only a NaN is invalid
	keyIface                 // K is an interface type: its dynamic type decides
	keyDeep                  // K holds an interface in a struct or an array
)

// keyCheckOf returns what keys of type t need.
func keyCheckOf(t reflect.Type) keyCheck {
	floats, ifaces := contents(t)
	switch {
	case t.Kind() == reflect.Interface:
		return keyIface
	case ifaces:
		return keyDeep
	case floats:
		return keyNaN
	}
	return keyValid
}

// contents reports whether t is, or holds in a field or an array element, a
// float or complex number, and an interface. It walks t's fields, which
// allocates: New calls it once.
func contents(t reflect.Type) (floats, ifaces bool) {
	switch t.Kind() {
	case reflect.Float32, reflect.Float64, reflect.Complex64, reflect.Complex128:
		return true, false
	case reflect.Interface:
		return false, true
	case reflect.Array:
		return contents(t.Elem())
	case reflect.Struct:
		for i := range t.NumField() {
			f, iface := contents(t.Field(i).Type)
			floats, ifaces = floats || f, ifaces || iface
		}
	}
	return floats, ifaces
}

// checkKey returns a *keyError if key is one ErrInvalidKey describes, nil
// otherwise, as check (the Cache's keyCheck, not keyValid) says to look.
// It holds no lock and never panics.
func checkKey[K comparable](check keyCheck, key K) error {
	switch check {
	case keyNaN:
		if key != key {
			return nanError(key)
		}
		return nil
	case keyIface:
		// Most interface keys hold a plain value: its type says it all,
		// without the deferred recover of the general case.
		t := reflect.TypeOf(any(key))
		if t == nil {
			return nil // a nil interface is a valid key
		}
		switch t.Kind() {
		case reflect.Float32, reflect.Float64, reflect.Complex64, reflect.Complex128,
			reflect.Interface, reflect.Struct, reflect.Array:
			// May hold a NaN, or an unhashable interface: compare.
		default:
			if !t.Comparable() {
				return unhashableError(key, "")
			}
			return nil
		}
	}
	equal, p := selfEqual(key)
	switch {
	case equal:
		return nil
	case p != nil:
		return unhashableError(key, fmt.Sprint(p))
	}
	return nanError(key)
}

// selfEqual reports whether key == key, and the panic value if comparing
// panicked. Comparing a key with itself is what a map's hash refuses (a map
// and == panic on the same dynamic types), and is false for a NaN, so one
// comparison, recovered, decides both.
func selfEqual[K comparable](key K) (equal bool, p any) {
	defer func() { p = recover() }()
	return key == key, nil
}

func nanError(key any) error {
	return &keyError{fmt.Sprintf("a key of type %T is not equal to itself (it holds a NaN), so it could never be found", key)}
}

// unhashableError says that key cannot be hashed; detail, if any, is the
// runtime's panic that says why.
func unhashableError(key any, detail string) error {
	if detail != "" {
		detail = " (" + detail + ")"
	}
	return &keyError{fmt.Sprintf("a key of type %T cannot be hashed%s", key, detail)}
}
