package api

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"runtime/debug"
	"strconv"
	"sync"
	"syscall"
	"time"

	"github.com/dynamics-go/dynamics/libdynamics/logging"
)

// SocketDir is the directory of the agents' default sockets.
const SocketDir = "/run/dynamics"

// The socket modes: the admin socket is root's, the monitor socket
// everyone's.
const (
	AdminMode   fs.FileMode = 0o600
	MonitorMode fs.FileMode = 0o666
)

// DefaultSocket returns the default socket path of agent ("ha", "fa" or
// "mn"): /run/dynamics/ha.sock for the admin socket,
// /run/dynamics/ha-monitor.sock for the monitor socket.
func DefaultSocket(agent string, admin bool) string {
	if admin {
		return filepath.Join(SocketDir, agent+".sock")
	}
	return filepath.Join(SocketDir, agent+"-monitor.sock")
}

// ErrSocketInUse is returned by Listen when another process answers on the
// socket path: another instance of the agent is running.
var ErrSocketInUse = errors.New("api: socket in use by another process")

// ErrNotSocket is returned by Listen when the path is taken by something
// other than a socket, which it refuses to replace.
var ErrNotSocket = errors.New("api: path exists and is not a socket")

// Listen makes the Unix stream socket path with the given mode (AdminMode or
// MonitorMode) and listens on it. It creates the parent directory (0755)
// if missing. A socket file already at path is replaced only when nothing
// answers on it (left by an agent that died); anything else there is
// refused. The socket is made under a temporary name, given its mode and
// renamed into place, so it is never reachable with a wider mode. Closing
// the listener removes path, unless another socket replaced it meanwhile.
func Listen(path string, mode fs.FileMode) (net.Listener, error) {
	dir := filepath.Dir(path)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("api: socket directory: %w", err)
	}
	if fi, err := os.Lstat(path); err == nil {
		if fi.Mode().Type() != fs.ModeSocket {
			return nil, fmt.Errorf("%w: %s (%s)", ErrNotSocket, path, fi.Mode().Type())
		}
		conn, err := net.DialTimeout("unix", path, time.Second)
		if err == nil {
			conn.Close()
			return nil, fmt.Errorf("%w: %s", ErrSocketInUse, path)
		}
		if !errors.Is(err, syscall.ECONNREFUSED) {
			return nil, fmt.Errorf("api: checking the socket %s: %w", path, err)
		}
		// Stale: the rename below replaces it.
	} else if !errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("api: %w", err)
	}

	// The temporary name must fit a socket address (108 bytes) where path
	// does.
	tmp := filepath.Join(dir, "."+filepath.Base(path)+"."+strconv.Itoa(os.Getpid()))
	if len(tmp) >= maxSocketPath && len(path) < maxSocketPath {
		tmp = filepath.Join(dir, "."+strconv.Itoa(os.Getpid()))
	}
	os.Remove(tmp) // one left by an earlier process with our pid
	ln, err := net.ListenUnix("unix", &net.UnixAddr{Name: tmp, Net: "unix"})
	if err != nil {
		return nil, fmt.Errorf("api: listen: %w", err)
	}
	ln.SetUnlinkOnClose(false)
	fail := func(err error) (net.Listener, error) {
		ln.Close()
		os.Remove(tmp)
		return nil, fmt.Errorf("api: socket %s: %w", path, err)
	}
	if err := os.Chmod(tmp, mode.Perm()); err != nil {
		return fail(err)
	}
	if err := os.Rename(tmp, path); err != nil {
		return fail(err)
	}
	fi, err := os.Lstat(path)
	if err != nil {
		return fail(err)
	}
	return &listener{UnixListener: ln, path: path, fi: fi}, nil
}

// maxSocketPath is the size of sun_path in a Linux socket address.
const maxSocketPath = 108

// listener removes its socket file on Close if the file is still its own.
type listener struct {
	*net.UnixListener
	path string
	fi   fs.FileInfo
	once sync.Once
}

// Addr returns the socket's path (not the temporary name it was bound
// under).
func (l *listener) Addr() net.Addr { return &net.UnixAddr{Name: l.path, Net: "unix"} }

func (l *listener) Close() error {
	err := l.UnixListener.Close()
	l.once.Do(func() {
		if fi, serr := os.Lstat(l.path); serr == nil && os.SameFile(fi, l.fi) {
			os.Remove(l.path)
		}
	})
	return err
}

// Server answers API calls with a backend: any value implementing some of
// StatusGetter, TunnelGetter, TunnelDestroyer, MobileEnabler, CareOfGetter
// and MobileController. A function whose interface the backend lacks is
// answered with UndefinedFunction.
type Server struct {
	backend any
	log     *slog.Logger
}

// NewServer returns a Server calling backend and logging to log (nil
// discards).
func NewServer(backend any, log *slog.Logger) *Server {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Server{backend: backend, log: log}
}

// Serve accepts connections on ln until ctx is done, then closes ln and
// every connection, waits for their goroutines and returns nil; it returns
// the error of an Accept that fails otherwise. admin says whether ln is the
// admin socket; on the monitor socket only read-only functions are
// served, the others answered with NotPermitted.
//
// Each connection is served by its own goroutine, which answers its calls
// in order. The ctx a backend method gets is cancelled when the client
// closes its connection or ctx is done, and the backend must return soon
// after.
func (s *Server) Serve(ctx context.Context, ln net.Listener, admin bool) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	stop := context.AfterFunc(ctx, func() { ln.Close() })
	defer func() {
		stop()
		ln.Close() // and wait until the socket file is gone
	}()

	var wg sync.WaitGroup
	defer wg.Wait()
	for {
		conn, err := ln.Accept()
		if err != nil {
			if ctx.Err() != nil {
				return nil
			}
			if errors.Is(err, net.ErrClosed) {
				return fmt.Errorf("api: accept: %w", err)
			}
			// Out of descriptors or similar: wait and go on, as the
			// agent's other work does not depend on this socket.
			s.log.Warn("api accept failed", "socket", socketName(admin), logging.KeyErr, err)
			select {
			case <-time.After(100 * time.Millisecond):
			case <-ctx.Done():
				return nil
			}
			continue
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			s.serveConn(ctx, conn, admin)
		}()
	}
}

// incoming is what a connection's reader hands to its server goroutine.
type incoming struct {
	req Request
	err error
}

// serveConn answers the calls on one connection in order. A reader
// goroutine reads the requests, so that the client closing its connection
// is noticed (and the running call's ctx cancelled) while a call runs.
func (s *Server) serveConn(ctx context.Context, conn net.Conn, admin bool) {
	ctx, cancel := context.WithCancel(ctx)
	stopClose := context.AfterFunc(ctx, func() { conn.Close() })
	reqs := make(chan incoming)
	readerDone := make(chan struct{})
	defer func() {
		cancel()
		stopClose()
		conn.Close()
		<-readerDone
	}()
	log := s.log.With("socket", socketName(admin))

	go func() {
		defer close(readerDone)
		r := bufio.NewReader(conn)
		for {
			req, err := ReadRequest(r)
			if err != nil && !errors.Is(err, ErrFrameTooLong) {
				// The client is gone or its stream is broken: abandon
				// the running call now.
				cancel()
				if !errors.Is(err, io.EOF) && !errors.Is(err, net.ErrClosed) {
					log.Debug("api connection ends", logging.KeyErr, err)
				}
				return
			}
			select {
			case reqs <- incoming{req, err}:
			case <-ctx.Done():
				return
			}
			if err != nil {
				return
			}
		}
	}()

	for {
		var in incoming
		select {
		case in = <-reqs:
		case <-ctx.Done():
			return
		}
		if in.err != nil {
			// The only error the reader hands on: answer it, then close.
			log.Debug("api request too long", logging.KeyErr, in.err)
			s.write(log, conn, Reply{Code: TooLong, Data: []byte(in.err.Error())})
			return
		}
		rep := s.call(ctx, log, in.req, admin)
		if !s.write(log, conn, rep) {
			return
		}
	}
}

func socketName(admin bool) string {
	if admin {
		return "admin"
	}
	return "monitor"
}

// write sends a reply and reports whether the connection is still good.
func (s *Server) write(log *slog.Logger, conn net.Conn, rep Reply) bool {
	b, err := rep.Marshal()
	if err != nil {
		// Only the data can make it too long.
		rep = Reply{Code: Failed, Data: []byte("reply too long: " + err.Error())}
		b, _ = rep.Marshal()
	}
	if _, err := conn.Write(b); err != nil {
		log.Debug("api reply not sent", logging.KeyCode, int(rep.Code), logging.KeyErr, err)
		return false
	}
	return true
}

// handler decodes a call's params, calls the backend and encodes the
// result.
type handler func(ctx context.Context, params []byte) ([]byte, error)

// invalid marks a params decoding error.
func invalid(err error) error {
	return &Error{Code: InvalidParams, Message: err.Error()}
}

// handler returns the handler of fn, or nil when the backend does not
// serve it.
func (s *Server) handler(fn Func) handler {
	b := s.backend
	switch fn {
	case FuncDummy:
		return func(context.Context, []byte) ([]byte, error) { return nil, nil }
	case FuncGetStatus:
		if g, ok := b.(StatusGetter); ok {
			return noParams(func(ctx context.Context) ([]byte, error) {
				st, err := g.GetStatus(ctx)
				if err != nil {
					return nil, err
				}
				return MarshalStatus(st)
			})
		}
	case FuncGetTunnels:
		if g, ok := b.(TunnelGetter); ok {
			return noParams(func(ctx context.Context) ([]byte, error) {
				ts, err := g.GetTunnels(ctx)
				if err != nil {
					return nil, err
				}
				return MarshalTunnels(ts)
			})
		}
	case FuncGetTunnelInfo:
		if g, ok := b.(TunnelGetter); ok {
			return addrParam(func(ctx context.Context, home netip.Addr) ([]byte, error) {
				t, err := g.GetTunnelInfo(ctx, home)
				if err != nil {
					return nil, err
				}
				return MarshalTunnel(t)
			})
		}
	case FuncDestroyTunnel:
		if d, ok := b.(TunnelDestroyer); ok {
			return addrParam(func(ctx context.Context, home netip.Addr) ([]byte, error) {
				return nil, d.DestroyTunnel(ctx, home)
			})
		}
	case FuncEnableMobile:
		if e, ok := b.(MobileEnabler); ok {
			return func(ctx context.Context, params []byte) ([]byte, error) {
				home, enable, err := ParseEnable(params)
				if err != nil {
					return nil, invalid(err)
				}
				return nil, e.EnableMobile(ctx, home, enable)
			}
		}
	case FuncGetCareOfAddr:
		if g, ok := b.(CareOfGetter); ok {
			return addrParam(func(ctx context.Context, home netip.Addr) ([]byte, error) {
				coa, err := g.GetCareOfAddr(ctx, home)
				if err != nil {
					return nil, err
				}
				return MarshalAddr(coa)
			})
		}
	case FuncGetTunnelingMode:
		if m, ok := b.(MobileController); ok {
			return noParams(func(ctx context.Context) ([]byte, error) {
				mode, err := m.GetTunnelingMode(ctx)
				if err != nil {
					return nil, err
				}
				return MarshalString(mode)
			})
		}
	case FuncSetTunnelingMode:
		if m, ok := b.(MobileController); ok {
			return func(ctx context.Context, params []byte) ([]byte, error) {
				mode, err := ParseString(params)
				if err != nil {
					return nil, invalid(err)
				}
				return nil, m.SetTunnelingMode(ctx, mode)
			}
		}
	case FuncConnect, FuncDisconnect, FuncUpdateLocation, FuncConfirm, FuncHomeUpdate:
		if m, ok := b.(MobileController); ok {
			call := map[Func]func(context.Context) error{
				FuncConnect:        m.Connect,
				FuncDisconnect:     m.Disconnect,
				FuncUpdateLocation: m.UpdateLocation,
				FuncConfirm:        m.Confirm,
				FuncHomeUpdate:     m.HomeUpdate,
			}[fn]
			return noParams(func(ctx context.Context) ([]byte, error) { return nil, call(ctx) })
		}
	}
	return nil
}

func noParams(f func(context.Context) ([]byte, error)) handler {
	return func(ctx context.Context, params []byte) ([]byte, error) {
		if err := ParseEmpty(params); err != nil {
			return nil, invalid(err)
		}
		return f(ctx)
	}
}

func addrParam(f func(context.Context, netip.Addr) ([]byte, error)) handler {
	return func(ctx context.Context, params []byte) ([]byte, error) {
		home, err := ParseAddr(params)
		if err != nil {
			return nil, invalid(err)
		}
		return f(ctx, home)
	}
}

// call answers one request.
func (s *Server) call(ctx context.Context, log *slog.Logger, req Request, admin bool) Reply {
	h := s.handler(req.Func)
	if h == nil {
		log.Debug("api function not served", "func", req.Func.String())
		return Reply{Code: UndefinedFunction, Data: []byte(req.Func.String() + " is not served by this agent")}
	}
	if !admin && !req.Func.ReadOnly() {
		log.Debug("api function refused on the monitor socket", "func", req.Func.String())
		return Reply{Code: NotPermitted, Data: []byte(req.Func.String() + " needs the admin socket")}
	}
	data, err := s.run(ctx, log, h, req)
	if err != nil {
		code := CodeOf(err)
		log.Debug("api call failed", "func", req.Func.String(), logging.KeyCode, int(code), logging.KeyErr, err)
		return Reply{Code: code, Data: []byte(messageOf(err))}
	}
	return Reply{Code: OK, Data: data}
}

// run calls the handler, turning a panic into Failed.
func (s *Server) run(ctx context.Context, log *slog.Logger, h handler, req Request) (data []byte, err error) {
	defer func() {
		if p := recover(); p != nil {
			log.Error("api call panicked", "func", req.Func.String(), "panic", fmt.Sprint(p), "stack", string(debug.Stack()))
			data, err = nil, &Error{Code: Failed, Message: "internal error in " + req.Func.String()}
		}
	}()
	return h(ctx, req.Params)
}
