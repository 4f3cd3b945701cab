package api

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"testing"
)

func TestParseFrameErrors(t *testing.T) {
	for _, tc := range []struct {
		name  string
		frame []byte
		want  error
	}{
		{"empty", nil, ErrTruncated},
		{"short header", hx("00 07 0000"), ErrTruncated},
		{"short params", hx("00 02 00000004 0a01"), ErrTruncated},
		{"trailing", hx("00 07 00000000 00"), ErrTrailing},
		{"reply type", hx("01 07 00000000"), ErrFrameType},
		{"type 2", hx("02 07 00000000"), ErrFrameType},
		{"length over MaxLength", hx("00 07 00100001"), ErrFrameTooLong},
		{"length 4 GiB", hx("00 07 ffffffff"), ErrFrameTooLong},
	} {
		if _, err := ParseRequest(tc.frame); !errors.Is(err, tc.want) {
			t.Errorf("ParseRequest %s: %v, want %v", tc.name, err, tc.want)
		}
		if _, err := ReadRequest(bytes.NewReader(tc.frame)); tc.name != "trailing" && tc.name != "empty" && !errors.Is(err, tc.want) {
			t.Errorf("ReadRequest %s: %v, want %v", tc.name, err, tc.want)
		}
		// The same as replies: flip the expected type.
		rep := bytes.Clone(tc.frame)
		if len(rep) > 0 {
			rep[0] ^= 1
		}
		if _, err := ParseReply(rep); !errors.Is(err, tc.want) {
			t.Errorf("ParseReply %s: %v, want %v", tc.name, err, tc.want)
		}
	}
}

// A stream that ends between frames is io.EOF; one that ends inside a
// frame is truncated.
func TestReadFrameEOF(t *testing.T) {
	if _, err := ReadRequest(bytes.NewReader(nil)); err != io.EOF {
		t.Errorf("empty stream: %v, want io.EOF", err)
	}
	for _, b := range [][]byte{hx("00"), hx("00 02 00000004"), hx("00 02 00000004 0a")} {
		_, err := ReadRequest(bytes.NewReader(b))
		if !errors.Is(err, ErrTruncated) || !errors.Is(err, io.ErrUnexpectedEOF) {
			t.Errorf("ReadRequest(%x): %v, want ErrTruncated and io.ErrUnexpectedEOF", b, err)
		}
	}
	// Two frames back to back are read one at a time.
	r := bytes.NewReader(hx("01 00 00000000 01 fe 00000002 6869"))
	if rep, err := ReadReply(r); err != nil || rep.Code != OK || len(rep.Data) != 0 {
		t.Fatalf("first reply: %v, %v", rep, err)
	}
	if rep, err := ReadReply(r); err != nil || rep.Code != NotAvailable || string(rep.Data) != "hi" {
		t.Fatalf("second reply: %v, %v", rep, err)
	}
	if _, err := ReadReply(r); err != io.EOF {
		t.Fatalf("after two replies: %v, want io.EOF", err)
	}
}

func TestMarshalTooLong(t *testing.T) {
	if _, err := (Request{Func: FuncSetTunnelingMode, Params: make([]byte, MaxLength+1)}).Marshal(); !errors.Is(err, ErrFrameTooLong) {
		t.Errorf("request over MaxLength: %v", err)
	}
	if _, err := (Reply{Data: make([]byte, MaxLength+1)}).Marshal(); !errors.Is(err, ErrFrameTooLong) {
		t.Errorf("reply over MaxLength: %v", err)
	}
	b, err := (Reply{Data: make([]byte, MaxLength)}).Marshal()
	if err != nil || len(b) != HeaderLen+MaxLength {
		t.Errorf("reply of MaxLength: %d bytes, %v", len(b), err)
	}
	if _, err := ParseReply(b); err != nil {
		t.Errorf("parse reply of MaxLength: %v", err)
	}
}

func TestErrorText(t *testing.T) {
	for _, tc := range []struct {
		err  error
		want string
	}{
		{&Error{Code: NotAvailable, Message: "no binding for 10.1.0.10"}, "not available: no binding for 10.1.0.10"},
		{ErrInProgress, "in progress"},
		{&Error{Code: Code(-42)}, "code(-42)"},
		{&Error{Code: Code(3), Message: "x"}, "code(3): x"},
	} {
		if got := tc.err.Error(); got != tc.want {
			t.Errorf("Error() = %q, want %q", got, tc.want)
		}
	}
	names := map[Code]string{
		OK: "success", NotPermitted: "not permitted", NotAvailable: "not available", Failed: "failed",
		Denied: "denied", Timeout: "timeout", InvalidParams: "invalid parameters",
		UndefinedFunction: "undefined function", TooLong: "too long", InProgress: "in progress", Cancelled: "cancelled",
	}
	for c, want := range names {
		if c.String() != want {
			t.Errorf("Code(%d).String() = %q, want %q", c, c.String(), want)
		}
	}
}

func TestErrorIs(t *testing.T) {
	err := fmt.Errorf("connect: %w", &Error{Code: InProgress, Message: "a connect is running"})
	if !errors.Is(err, ErrInProgress) {
		t.Error("a wrapped in-progress error does not match ErrInProgress")
	}
	if errors.Is(err, ErrCancelled) {
		t.Error("an in-progress error matches ErrCancelled")
	}
	if errors.Is(ErrNotAvailable, ErrNotPermitted) {
		t.Error("ErrNotAvailable matches ErrNotPermitted")
	}
	sentinels := []*Error{ErrNotPermitted, ErrNotAvailable, ErrFailed, ErrDenied, ErrTimeout,
		ErrInvalidParams, ErrUndefinedFunction, ErrTooLong, ErrInProgress, ErrCancelled}
	for i, s := range sentinels {
		if s.Code != Code(-1-i) || s.Message != "" {
			t.Errorf("sentinel %d is %v %q", i, s.Code, s.Message)
		}
	}
}

func TestCodeOf(t *testing.T) {
	for _, tc := range []struct {
		err  error
		code Code
		msg  string
	}{
		{nil, OK, ""},
		{ErrNotAvailable, NotAvailable, ""},
		{&Error{Code: Denied, Message: "code 131"}, Denied, "code 131"},
		{fmt.Errorf("no binding for 10.1.0.10: %w", ErrNotAvailable), NotAvailable, "no binding for 10.1.0.10"},
		{fmt.Errorf("waiting: %w", context.DeadlineExceeded), Timeout, "waiting: context deadline exceeded"},
		{context.Canceled, Cancelled, "context canceled"},
		{errors.New("netlink: file exists"), Failed, "netlink: file exists"},
		{&Error{Code: OK, Message: "odd"}, Failed, "odd"},
		{fmt.Errorf("destroy: %w", &Error{Code: NotAvailable, Message: "no binding"}), NotAvailable, "destroy: no binding"},
		{convertingError{}, Denied, "registration denied: code 131"},
	} {
		if got := CodeOf(tc.err); got != tc.code {
			t.Errorf("CodeOf(%v) = %v, want %v", tc.err, got, tc.code)
		}
		if got := messageOf(tc.err); got != tc.msg {
			t.Errorf("messageOf(%v) = %q, want %q", tc.err, got, tc.msg)
		}
	}
}

func TestFuncAndDefaultSocket(t *testing.T) {
	if FuncSetTunnelingMode.String() != "set_tunneling_mode" || Func(99).String() != "function(99)" {
		t.Errorf("Func names: %q %q", FuncSetTunnelingMode, Func(99))
	}
	for _, tc := range []struct {
		agent string
		admin bool
		want  string
	}{
		{"ha", true, "/run/dynamics/ha.sock"},
		{"ha", false, "/run/dynamics/ha-monitor.sock"},
		{"fa", true, "/run/dynamics/fa.sock"},
		{"mn", false, "/run/dynamics/mn-monitor.sock"},
	} {
		if got := DefaultSocket(tc.agent, tc.admin); got != tc.want {
			t.Errorf("DefaultSocket(%q, %v) = %q, want %q", tc.agent, tc.admin, got, tc.want)
		}
	}
}

// convertingError converts itself to an *Error, as an agent's own error
// types do.
type convertingError struct{}

func (convertingError) Error() string { return "denied by the home agent (131)" }

func (convertingError) As(target any) bool {
	if p, ok := target.(**Error); ok {
		*p = &Error{Code: Denied, Message: "registration denied: code 131"}
		return true
	}
	return false
}
