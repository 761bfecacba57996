package jsqueue

import "encoding/json"

// Codec turns values into message bodies and back. Its methods must be safe
// for concurrent use. A Decode error dead-letters the message with that
// error: it is never dropped and never reaches a handler.
type Codec[T any] interface {
	Encode(v T) ([]byte, error)
	Decode(data []byte) (T, error)
}

// JSON is the default [Codec]: encoding/json. Its zero value is ready to use.
type JSON[T any] struct{}

// Encode returns json.Marshal(v).
func (JSON[T]) Encode(v T) ([]byte, error) { return json.Marshal(v) }

// Decode unmarshals data into a new T.
func (JSON[T]) Decode(data []byte) (T, error) {
	var v T
	err := json.Unmarshal(data, &v)
	return v, err
}
