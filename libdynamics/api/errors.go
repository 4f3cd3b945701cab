package api

import (
	"context"
	"errors"
	"fmt"
	"strings"
)

// Error is a failed call: the reply's return value and the message the
// agent sent with it. A backend returns one (or a sentinel below, possibly
// wrapped) to choose the return value; the client returns one for every
// reply whose return value is not OK.
//
// Errors of the same Code match under errors.Is whatever their messages:
//
//	if errors.Is(err, api.ErrNotAvailable) { ... }
type Error struct {
	Code    Code
	Message string
}

// Error returns the code's text followed by the message, if any:
// "not available: no binding for 10.1.0.10".
func (e *Error) Error() string {
	if e.Message == "" {
		return e.Code.String()
	}
	return e.Code.String() + ": " + e.Message
}

// Is reports whether target is an *Error with the same Code.
func (e *Error) Is(target error) bool {
	t, ok := target.(*Error)
	return ok && t != nil && t.Code == e.Code
}

// The sentinels, one per failure Code, each with an empty message. Compare
// with errors.Is, which matches any *Error of the same Code.
var (
	ErrNotPermitted      = &Error{Code: NotPermitted}
	ErrNotAvailable      = &Error{Code: NotAvailable}
	ErrFailed            = &Error{Code: Failed}
	ErrDenied            = &Error{Code: Denied}
	ErrTimeout           = &Error{Code: Timeout}
	ErrInvalidParams     = &Error{Code: InvalidParams}
	ErrUndefinedFunction = &Error{Code: UndefinedFunction}
	ErrTooLong           = &Error{Code: TooLong}
	ErrInProgress        = &Error{Code: InProgress}
	ErrCancelled         = &Error{Code: Cancelled}
)

// ErrUnreachable is wrapped by the error Dial returns when the agent's
// socket cannot be reached: no such socket, nothing listening, or no
// permission (then os.ErrPermission matches too).
var ErrUnreachable = errors.New("agent unreachable")

// ErrClientClosed is wrapped by the error a Client returns once its
// connection is closed: by Close, by a call whose time ran out, or because
// the connection broke. Dial again to go on.
var ErrClientClosed = errors.New("api: client is closed")

var codeNames = [...]string{
	"success", "not permitted", "not available", "failed", "denied", "timeout",
	"invalid parameters", "undefined function", "too long", "in progress", "cancelled",
}

func (c Code) String() string {
	if c <= 0 && int(-c) < len(codeNames) {
		return codeNames[-c]
	}
	return fmt.Sprintf("code(%d)", int8(c))
}

// CodeOf returns the return value a call ending with err is answered
// with: OK for nil, the Code of an *Error in err's chain, Timeout for
// context.DeadlineExceeded, Cancelled for context.Canceled and Failed for
// anything else (an *Error whose Code is OK counts as Failed).
func CodeOf(err error) Code {
	if err == nil {
		return OK
	}
	var e *Error
	switch {
	case errors.As(err, &e) && e != nil:
		if e.Code == OK {
			return Failed
		}
		return e.Code
	case errors.Is(err, context.DeadlineExceeded):
		return Timeout
	case errors.Is(err, context.Canceled):
		return Cancelled
	}
	return Failed
}

// messageOf returns the text a failed call's reply carries. An *Error
// gives its own message. An error wrapping one gives its text with the
// code text the reply already carries left out: "no binding for
// 10.1.0.10: not available" gives "no binding for 10.1.0.10", and
// "destroy: not available: no binding" gives "destroy: no binding". An
// error that only converts itself to an *Error (with an As method) gives
// that *Error's message. Any other error gives its text.
func messageOf(err error) string {
	if err == nil {
		return ""
	}
	var e *Error
	if !errors.As(err, &e) || e == nil {
		return err.Error()
	}
	if err == error(e) {
		return e.Message
	}
	msg := err.Error()
	if suffix := ": " + e.Error(); len(msg) > len(suffix) && strings.HasSuffix(msg, suffix) {
		msg = strings.TrimSuffix(msg, suffix)
		if e.Message != "" {
			msg += ": " + e.Message
		}
		return msg
	}
	if e.Message != "" || msg == e.Error() {
		return e.Message
	}
	return msg
}
