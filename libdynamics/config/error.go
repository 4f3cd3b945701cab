package config

import (
	"errors"
	"fmt"
	"strconv"
)

// Sentinel errors. Every error about a file's content is an *Error that
// names the file, line and label and wraps one of these, so callers can
// test the kind with errors.Is and still print a message that points at
// the offending line.
var (
	// ErrSyntax: a line that does not follow the format (an unterminated
	// quote, a label without a value, a malformed section marker).
	ErrSyntax = errors.New("config: syntax error")
	// ErrInvalid: a value that does not convert to the type it is decoded
	// into, or an entry with the wrong number of fields.
	ErrInvalid = errors.New("config: invalid value")
	// ErrDuplicate: a label or section given twice.
	ErrDuplicate = errors.New("config: duplicate")
	// ErrUnclosed: a NAME_BEGIN without its NAME_END.
	ErrUnclosed = errors.New("config: section not closed")
	// ErrUnopened: a NAME_END without its NAME_BEGIN.
	ErrUnopened = errors.New("config: section end without begin")
	// ErrNested: a NAME_BEGIN inside another section.
	ErrNested = errors.New("config: nested section")
	// ErrUnknown: a label or section the reader does not know.
	ErrUnknown = errors.New("config: unknown label")
	// ErrMissing: a required label or section that the file lacks.
	ErrMissing = errors.New("config: missing required label")
	// ErrTarget: Decode was given something it cannot decode into (not a
	// pointer to a struct, a malformed dyn tag, an unsupported field type).
	// It reports a programming error, not a problem with the file.
	ErrTarget = errors.New("config: unusable decode target")
)

// Error is a problem at one place in a configuration file. Its message has
// the form
//
//	dynhad.conf:12: HAIPAddress: "10.1.0.300" is not an IPv4 address
//
// Line is 0 when the problem has no line, such as a required label that is
// missing; the message then reads "dynhad.conf: HAIPAddress: ...".
type Error struct {
	File  string // the name given to Parse, or the path given to Load
	Line  int    // 1-based line number, 0 when not tied to a line
	Label string // the label, section name or section marker concerned
	Err   error  // the problem; wraps one of the sentinel errors
}

func (e *Error) Error() string {
	var b []byte
	if e.File != "" {
		b = append(b, e.File...)
	}
	if e.Line > 0 {
		if len(b) > 0 {
			b = append(b, ':')
		}
		b = strconv.AppendInt(b, int64(e.Line), 10)
	}
	if len(b) > 0 {
		b = append(b, ": "...)
	}
	if e.Label != "" {
		b = append(b, e.Label...)
		b = append(b, ": "...)
	}
	if e.Err != nil {
		b = append(b, e.Err.Error()...)
	} else {
		b = append(b, "error"...)
	}
	return string(b)
}

// Unwrap returns the underlying problem.
func (e *Error) Unwrap() error { return e.Err }

// ConfigError reports true: the error lies in a configuration file, which
// daemons treat as a usage error (exit status 2) rather than a failure.
func (e *Error) ConfigError() bool { return true }

// problem is the Err of an *Error raised by this package: its text is the
// detail alone ("... is not an IPv4 address"), while errors.Is still finds
// the sentinel kind and, for errors from UnmarshalEntry or
// UnmarshalText, the caller's own error.
type problem struct {
	kind  error
	msg   string
	cause error
}

func (p *problem) Error() string { return p.msg }

func (p *problem) Unwrap() []error {
	if p.cause != nil {
		return []error{p.kind, p.cause}
	}
	return []error{p.kind}
}

// newProblem returns an error of the given sentinel kind whose text is the
// formatted detail.
func newProblem(kind error, format string, args ...any) error {
	return &problem{kind: kind, msg: fmt.Sprintf(format, args...)}
}

// errAt builds an *Error for a file, line and label.
func errAt(file string, line int, label string, kind error, format string, args ...any) *Error {
	return &Error{File: file, Line: line, Label: label, Err: newProblem(kind, format, args...)}
}
