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
// structs of those): it runs only when K has a float, complex or interface
// in it.
var ErrInvalidKey = errors.New("memo: invalid key")

// keyError is the error of a Get with an invalid key.
type keyError struct{ reason string }

func (e *keyError) Error() string { return "memo: Get: invalid key: " + e.reason }

// Is reports whether target is ErrInvalidKey.
func (e *keyError) Is(target error) bool { return target == ErrInvalidKey }

// checkKey returns a *keyError if key is one ErrInvalidKey describes, nil
// otherwise. It holds no lock: comparing key with itself is what panics on
// an unhashable key (a map's hash and == refuse the same types), and is
// false for a NaN, so one comparison, recovered, decides both.
func checkKey[K comparable](key K) error {
	equal, p := selfEqual(key)
	if equal {
		return nil
	}
	if p != nil {
		return &keyError{fmt.Sprintf("a key of type %T cannot be hashed (%v)", key, p)}
	}
	return &keyError{fmt.Sprintf("a key of type %T is not equal to itself (it holds a NaN), so it could never be found", key)}
}

// selfEqual reports whether key == key, and the panic value if comparing
// panicked.
func selfEqual[K comparable](key K) (equal bool, p any) {
	defer func() { p = recover() }()
	return key == key, nil
}

// mayBeInvalid reports whether a value of type t can be unequal to itself
// or unhashable: whether t is, or holds in a field or an array element, a
// float, a complex number or an interface.
func mayBeInvalid(t reflect.Type) bool {
	switch t.Kind() {
	case reflect.Float32, reflect.Float64, reflect.Complex64, reflect.Complex128, reflect.Interface:
		return true
	case reflect.Array:
		return mayBeInvalid(t.Elem())
	case reflect.Struct:
		for i := range t.NumField() {
			if mayBeInvalid(t.Field(i).Type) {
				return true
			}
		}
	}
	return false
}
