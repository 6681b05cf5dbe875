// Package kp holds the words every layer of Keyport shares: error kinds and
// the typed error that carries a sentence for the user. It imports nothing of
// Keyport, so any package may import it.
package kp

import (
	"errors"
	"fmt"
)

// Kind classifies an expected failure. The HTTP layer maps each kind to a
// status code in exactly one place; domain code never picks status codes.
type Kind int

const (
	// Internal is the zero value: an unexpected failure, shown as "Internal error".
	Internal Kind = iota
	Invalid
	Unauthorized
	Forbidden
	NotFound
	Conflict
	RateLimited
	Upstream        // CXone answered, but not as the contract promises
	Unavailable     // a dependency (CXone, the database, the audit log) cannot be reached
	UpstreamTimeout // CXone did not answer in time
	Unsettled       // a mutating call may or may not have happened upstream
	Malformed       // the request itself cannot be read (bad escapes, a broken form)
)

var kindNames = [...]string{"internal", "invalid", "unauthorized", "forbidden", "not_found",
	"conflict", "rate_limited", "upstream", "unavailable", "upstream_timeout", "outcome_unknown", "malformed"}

func (k Kind) String() string {
	if int(k) >= 0 && int(k) < len(kindNames) {
		return kindNames[k]
	}
	return fmt.Sprintf("kind(%d)", int(k))
}

// Error is an expected failure with a message safe to show a user. Message
// must never contain a credential; Err (the cause) goes to logs only.
type Error struct {
	Kind    Kind
	Message string
	Err     error
}

func (e *Error) Error() string {
	if e.Err != nil {
		return e.Message + ": " + e.Err.Error()
	}
	return e.Message
}

func (e *Error) Unwrap() error { return e.Err }

// Errorf returns an *Error of the given kind with a formatted user message.
func Errorf(kind Kind, format string, args ...any) *Error {
	return &Error{Kind: kind, Message: fmt.Sprintf(format, args...)}
}

// Wrap returns an *Error of the given kind whose cause is err.
func Wrap(kind Kind, err error, message string) *Error {
	return &Error{Kind: kind, Message: message, Err: err}
}

// KindOf returns the kind of the first *Error in err's chain, or Internal.
func KindOf(err error) Kind {
	var e *Error
	if errors.As(err, &e) {
		return e.Kind
	}
	return Internal
}

// MessageOf returns the user message of the first *Error in err's chain, or "".
func MessageOf(err error) string {
	var e *Error
	if errors.As(err, &e) {
		return e.Message
	}
	return ""
}

// StoreKind classifies an error from the database by its SQLSTATE (read
// through the SQLState method pgconn.PgError has, so this package imports
// nothing): a value the database refused (class 22, data exception, and
// class 23, a violated constraint) is Invalid, the caller's data and not the
// database's health; an unavailable or shutting-down server (08, 53, 57) and
// any error that is not a statement's (a lost connection, a timeout, a
// closed pool) is Unavailable; any other statement error is Internal, a bug.
func StoreKind(err error) Kind {
	var s interface{ SQLState() string }
	if !errors.As(err, &s) {
		return Unavailable
	}
	code := s.SQLState()
	if code == "23505" {
		return Conflict
	}
	switch code[:min(2, len(code))] {
	case "22", "23":
		return Invalid
	case "08", "53", "57":
		return Unavailable
	}
	return Internal
}

// StoreError wraps a failed database call for the user: message when the
// database is unavailable, a sentence about the refused value when the
// request's data caused it, and Internal (500) otherwise.
func StoreError(err error, unavailable string) *Error {
	switch k := StoreKind(err); k {
	case Unavailable:
		return Wrap(k, err, unavailable)
	case Invalid, Conflict:
		return Wrap(k, err, "The database refused a value in this request, so nothing was changed. Check what you entered and try again.")
	default:
		return Wrap(Internal, err, "")
	}
}
