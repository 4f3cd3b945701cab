package api

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/netip"
	"os"
	"syscall"
	"time"
)

// Client is a connection to an agent's admin or monitor socket. It makes
// one call at a time and is safe for use by one goroutine at a time only:
// goroutines that share a Client must serialise their calls themselves (or
// Dial one Client each).
//
// Every call method takes a timeout; 0 waits for the reply however long it
// takes. When the timeout runs out the Client closes its connection, which
// makes the agent abandon the call, and returns an error matching
// ErrTimeout; every later call returns an error matching ErrClientClosed.
// A reply with a return value other than OK is returned as an *Error
// carrying the agent's message.
type Client struct {
	path   string
	conn   net.Conn
	r      *bufio.Reader
	closed error // non-nil once the connection is gone: why
}

// Dial connects to the agent socket at path. When it cannot, the error
// reads "agent unreachable: socket PATH: <reason>" and matches
// ErrUnreachable, and os.ErrPermission when the socket is not accessible to
// the caller (the admin socket is root's only).
func Dial(path string) (*Client, error) {
	conn, err := net.Dial("unix", path)
	if err != nil {
		return nil, &dialError{path: path, err: err}
	}
	return &Client{path: path, conn: conn, r: bufio.NewReader(conn)}, nil
}

// dialError is Dial's error: it matches ErrUnreachable and whatever the
// dial failure matches.
type dialError struct {
	path string
	err  error
}

func (e *dialError) Error() string {
	return fmt.Sprintf("%v: socket %s: %s", ErrUnreachable, e.path, reason(e.err))
}

func (e *dialError) Unwrap() []error { return []error{ErrUnreachable, e.err} }

// reason returns the innermost text of a dial error, "permission denied"
// rather than "dial unix /run/dynamics/ha.sock: connect: permission denied".
func reason(err error) string {
	var se *os.SyscallError
	if errors.As(err, &se) {
		return se.Err.Error()
	}
	var oe *net.OpError
	if errors.As(err, &oe) && oe.Err != nil {
		return oe.Err.Error()
	}
	return err.Error()
}

// Path returns the socket path the Client was dialled with.
func (c *Client) Path() string { return c.path }

// Close closes the connection. Calls after it return ErrClientClosed.
func (c *Client) Close() error {
	if c.closed != nil {
		return nil
	}
	c.closed = errors.New("closed by Close")
	return c.conn.Close()
}

// fail closes the connection after an error that leaves it unusable.
func (c *Client) fail(why error) {
	if c.closed == nil {
		c.closed = why
		c.conn.Close()
	}
}

// aLongTimeAgo is a deadline in the past, which interrupts a blocked read
// or write at once.
var aLongTimeAgo = time.Unix(1, 0)

// Call sends the request fn with the encoded params and returns the reply's
// data. A reply whose return value is not OK gives an *Error with the
// agent's message. When ctx is done before the reply the connection is
// closed (the agent abandons the call) and Call returns an error matching
// ErrTimeout (deadline) or ErrCancelled and context.Canceled
// (cancellation). A broken connection is closed too; a Client whose
// connection is closed returns an error matching ErrClientClosed.
func (c *Client) Call(ctx context.Context, fn Func, params []byte) ([]byte, error) {
	if c.closed != nil {
		return nil, fmt.Errorf("api: %s on %s: %w (%v)", fn, c.path, ErrClientClosed, c.closed)
	}
	frame, err := Request{Func: fn, Params: params}.Marshal()
	if err != nil {
		return nil, &Error{Code: TooLong, Message: fmt.Sprintf("%s params of %d bytes, at most %d", fn, len(params), MaxLength)}
	}
	if err := ctx.Err(); err != nil {
		return nil, c.ctxError(fn, err)
	}

	deadline, _ := ctx.Deadline() // the zero time clears an earlier one
	if err := c.conn.SetDeadline(deadline); err != nil {
		c.fail(err)
		return nil, fmt.Errorf("api: %s on %s: %w", fn, c.path, err)
	}
	interrupted := make(chan struct{})
	stop := context.AfterFunc(ctx, func() {
		c.conn.SetDeadline(aLongTimeAgo)
		close(interrupted)
	})
	defer func() {
		if !stop() {
			<-interrupted // the deadline is set before the next call's
		}
	}()

	if _, err = c.conn.Write(frame); err == nil {
		var rep Reply
		if rep, err = ReadReply(c.r); err == nil {
			if rep.Code != OK {
				return nil, &Error{Code: rep.Code, Message: string(rep.Data)}
			}
			return rep.Data, nil
		}
	}
	if ctxErr := ctx.Err(); ctxErr != nil {
		c.fail(fmt.Errorf("%s abandoned: %w", fn, ctxErr))
		return nil, c.ctxError(fn, ctxErr)
	}
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		// The deadline passed before ctx noticed.
		c.fail(fmt.Errorf("%s abandoned: %w", fn, err))
		return nil, c.ctxError(fn, context.DeadlineExceeded)
	}
	c.fail(err)
	if errors.Is(err, io.EOF) || errors.Is(err, syscall.EPIPE) || errors.Is(err, syscall.ECONNRESET) {
		err = fmt.Errorf("the agent closed the connection: %w", err)
	}
	return nil, fmt.Errorf("api: %s on %s: %w", fn, c.path, err)
}

// ctxError is the error of a call whose ctx ended first.
func (c *Client) ctxError(fn Func, err error) error {
	if errors.Is(err, context.DeadlineExceeded) {
		return &Error{Code: Timeout, Message: fmt.Sprintf("no reply to %s from %s in time", fn, c.path)}
	}
	return &cancelError{fn: fn, err: err}
}

// cancelError is a call whose ctx was cancelled: it matches ErrCancelled
// and context.Canceled.
type cancelError struct {
	fn  Func
	err error
}

func (e *cancelError) Error() string {
	return fmt.Sprintf("%s: %s abandoned: %v", Cancelled, e.fn, e.err)
}

func (e *cancelError) Unwrap() []error { return []error{ErrCancelled, e.err} }

// call runs Call with the timeout, 0 meaning none.
func (c *Client) call(timeout time.Duration, fn Func, params []byte) ([]byte, error) {
	ctx := context.Background()
	if timeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, timeout)
		defer cancel()
	}
	return c.Call(ctx, fn, params)
}

// callEmpty makes a call whose reply carries no data.
func (c *Client) callEmpty(timeout time.Duration, fn Func, params []byte) error {
	data, err := c.call(timeout, fn, params)
	if err != nil {
		return err
	}
	return badReply(fn, ParseEmpty(data))
}

// badReply wraps a reply's decoding error.
func badReply(fn Func, err error) error {
	if err == nil {
		return nil
	}
	return fmt.Errorf("api: %s: undecodable reply: %w", fn, err)
}

// Dummy makes the dummy call: it checks that the agent answers.
func (c *Client) Dummy(timeout time.Duration) error {
	return c.callEmpty(timeout, FuncDummy, nil)
}

// GetTunnels returns the agent's tunnels (home and foreign agents).
func (c *Client) GetTunnels(timeout time.Duration) ([]Tunnel, error) {
	data, err := c.call(timeout, FuncGetTunnels, nil)
	if err != nil {
		return nil, err
	}
	ts, err := ParseTunnels(data)
	return ts, badReply(FuncGetTunnels, err)
}

// GetTunnelInfo returns the tunnel of the mobile home (home and foreign
// agents); ErrNotAvailable when the agent has none.
func (c *Client) GetTunnelInfo(home netip.Addr, timeout time.Duration) (Tunnel, error) {
	params, err := MarshalAddr(home)
	if err != nil {
		return Tunnel{}, &Error{Code: InvalidParams, Message: err.Error()}
	}
	data, err := c.call(timeout, FuncGetTunnelInfo, params)
	if err != nil {
		return Tunnel{}, err
	}
	t, err := ParseTunnel(data)
	return t, badReply(FuncGetTunnelInfo, err)
}

// DestroyTunnel removes the binding and tunnel of the mobile home (home and
// foreign agents).
func (c *Client) DestroyTunnel(home netip.Addr, timeout time.Duration) error {
	params, err := MarshalAddr(home)
	if err != nil {
		return &Error{Code: InvalidParams, Message: err.Error()}
	}
	return c.callEmpty(timeout, FuncDestroyTunnel, params)
}

// EnableMobile allows (enable) or refuses the mobile home at run time
// (home agent).
func (c *Client) EnableMobile(home netip.Addr, enable bool, timeout time.Duration) error {
	params, err := MarshalEnable(home, enable)
	if err != nil {
		return &Error{Code: InvalidParams, Message: err.Error()}
	}
	return c.callEmpty(timeout, FuncEnableMobile, params)
}

// GetCareOfAddr returns the care-of address of the mobile home at a home
// agent, or, with the zero home, a mobile node's own care-of address.
func (c *Client) GetCareOfAddr(home netip.Addr, timeout time.Duration) (netip.Addr, error) {
	params, err := MarshalAddr(home)
	if err != nil {
		return netip.Addr{}, &Error{Code: InvalidParams, Message: err.Error()}
	}
	data, err := c.call(timeout, FuncGetCareOfAddr, params)
	if err != nil {
		return netip.Addr{}, err
	}
	a, err := ParseAddr(data)
	return a, badReply(FuncGetCareOfAddr, err)
}

// GetTunnelingMode returns a mobile node's tunnelling mode: "full",
// "triangle" or "none".
func (c *Client) GetTunnelingMode(timeout time.Duration) (string, error) {
	data, err := c.call(timeout, FuncGetTunnelingMode, nil)
	if err != nil {
		return "", err
	}
	s, err := ParseString(data)
	return s, badReply(FuncGetTunnelingMode, err)
}

// SetTunnelingMode changes a mobile node's tunnelling mode.
func (c *Client) SetTunnelingMode(mode string, timeout time.Duration) error {
	params, err := MarshalString(mode)
	if err != nil {
		return &Error{Code: InvalidParams, Message: err.Error()}
	}
	return c.callEmpty(timeout, FuncSetTunnelingMode, params)
}

// GetStatus returns the agent's status and counters.
func (c *Client) GetStatus(timeout time.Duration) (Status, error) {
	data, err := c.call(timeout, FuncGetStatus, nil)
	if err != nil {
		return Status{}, err
	}
	s, err := ParseStatus(data)
	return s, badReply(FuncGetStatus, err)
}

// Connect makes a mobile node register and waits until it is registered
// (or at home). ErrCancelled means a Disconnect cancelled it.
func (c *Client) Connect(timeout time.Duration) error {
	return c.callEmpty(timeout, FuncConnect, nil)
}

// Disconnect makes a mobile node deregister and stop registering.
func (c *Client) Disconnect(timeout time.Duration) error {
	return c.callEmpty(timeout, FuncDisconnect, nil)
}

// UpdateLocation makes a mobile node look for agents and register now.
func (c *Client) UpdateLocation(timeout time.Duration) error {
	return c.callEmpty(timeout, FuncUpdateLocation, nil)
}

// Confirm waits until a mobile node's registration is confirmed by a fresh
// accepted reply.
func (c *Client) Confirm(timeout time.Duration) error {
	return c.callEmpty(timeout, FuncConfirm, nil)
}

// HomeUpdate tells a mobile node it is at home: it deregisters.
func (c *Client) HomeUpdate(timeout time.Duration) error {
	return c.callEmpty(timeout, FuncHomeUpdate, nil)
}
