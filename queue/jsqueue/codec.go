package jsqueue

import (
	"encoding/json"
	"fmt"

	"github.com/async-patterns/async/internal/safe"
)

// Codec turns values into message bodies and back. Its methods must be safe
// for concurrent use. A Decode error dead-letters the message with that
// error: it is never dropped and never reaches a handler. A Decode that
// panics (a binary codec reading past a short body) is treated the same
// way, with the panic, as a *[PanicError], for the error; an Encode that
// panics makes Put or TryPut return the panic as an error.
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

// encode runs the codec's Encode and WithMsgID's key on v for Put, turning
// a panic of either into a *PanicError, and wraps the error.
func (q *Queue[T]) encode(v T) (data []byte, id string, err error) {
	defer func() {
		if r := recover(); r != nil {
			data, id, err = nil, "", fmt.Errorf("jsqueue: encoding the value: %w", safe.Recovered(r))
		}
	}()
	if data, err = q.codec.Encode(v); err != nil {
		return nil, "", fmt.Errorf("jsqueue: encoding the value: %w", err)
	}
	if q.msgID != nil {
		id = q.msgID(v)
	}
	return data, id, nil
}

// decode runs the codec's Decode, turning a panic into a *PanicError: a
// malformed body must not crash the worker that took it.
func (q *Queue[T]) decode(data []byte) (v T, err error) {
	defer func() {
		if r := recover(); r != nil {
			err = safe.Recovered(r)
		}
	}()
	return q.codec.Decode(data)
}
