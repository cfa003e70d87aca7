// Package apperr holds the domain error type: an error with a code the HTTP
// layer maps to a status, a message safe to show to the client, and optional
// per-field details. Anything that is not an *Error is internal: it is logged
// and the client sees only "internal error".
package apperr

import (
	"errors"
	"fmt"
)

// Code classifies an error for the client.
type Code string

// The codes; the HTTP layer maps each to one status.
const (
	Malformed    Code = "malformed"             // 400: the request cannot be read
	Invalid      Code = "invalid"               // 422: it can be read but breaks a rule
	NotFound     Code = "not_found"             // 404
	Conflict     Code = "conflict"              // 409: the resource is busy (e.g. a key in flight)
	TooLarge     Code = "too_large"             // 413
	Unsupported  Code = "unsupported"           // 415
	Unavailable  Code = "unavailable"           // 503: a dependency is down
	KeyReused    Code = "key_reused"            // 422: same idempotency key, different request
	RunInProcess Code = "run_in_progress"       // 409: a reconciliation is already running
	Gone         Code = "gone"                  // 410: the email was erased
	Stale        Code = "precondition_failed"   // 412: If-Match names an old version
	NeedsIfMatch Code = "precondition_required" // 428: If-Match is missing
)

// FieldError names one field that failed validation.
type FieldError struct {
	Field   string
	Message string
}

// Error is a domain error. Message is shown to the client as the problem
// detail, so it never holds internal state.
type Error struct {
	Code    Code
	Message string
	Fields  []FieldError
	// ID is the resource the error is about, when there is one (e.g. the
	// running reconciliation's id for RunInProcess).
	ID int64
}

func (e *Error) Error() string { return string(e.Code) + ": " + e.Message }

// New returns an *Error with a formatted message.
func New(code Code, format string, args ...any) *Error {
	return &Error{Code: code, Message: fmt.Sprintf(format, args...)}
}

// As returns the *Error in err's chain, or nil when err is internal.
func As(err error) *Error {
	var e *Error
	if errors.As(err, &e) {
		return e
	}
	return nil
}

// CodeOf returns err's code, or "" when err is internal.
func CodeOf(err error) Code {
	if e := As(err); e != nil {
		return e.Code
	}
	return ""
}
