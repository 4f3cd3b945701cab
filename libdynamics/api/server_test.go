package api

import (
	"bytes"
	"context"
	"errors"
	"io"
	"log/slog"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

// fakeBackend serves every call from fixed values and records what it was
// asked.
type fakeBackend struct {
	mu       sync.Mutex
	status   Status
	tunnels  []Tunnel
	mode     string
	enabled  map[netip.Addr]bool
	careOf   netip.Addr
	panicFor Func // GetStatus or GetTunnels panic when set to their function

	connectStarted   chan struct{} // closed when Connect starts
	connectCancelled chan struct{} // closed when Connect's ctx is done
	calls            []Func
}

var _ interface {
	StatusGetter
	TunnelGetter
	TunnelDestroyer
	MobileEnabler
	CareOfGetter
	MobileController
} = (*fakeBackend)(nil)

func newFake() *fakeBackend {
	return &fakeBackend{
		status:           goldenStatus,
		tunnels:          []Tunnel{goldenTunnel},
		mode:             "full",
		enabled:          map[netip.Addr]bool{},
		careOf:           goldenCoA,
		connectStarted:   make(chan struct{}),
		connectCancelled: make(chan struct{}),
	}
}

func (f *fakeBackend) record(fn Func) {
	f.mu.Lock()
	f.calls = append(f.calls, fn)
	f.mu.Unlock()
}

func (f *fakeBackend) GetStatus(ctx context.Context) (Status, error) {
	f.record(FuncGetStatus)
	if f.panicFor == FuncGetStatus {
		panic("status table corrupt")
	}
	return f.status, nil
}

func (f *fakeBackend) GetTunnels(ctx context.Context) ([]Tunnel, error) {
	f.record(FuncGetTunnels)
	return f.tunnels, nil
}

func (f *fakeBackend) GetTunnelInfo(ctx context.Context, home netip.Addr) (Tunnel, error) {
	f.record(FuncGetTunnelInfo)
	for _, t := range f.tunnels {
		if t.Home == home {
			return t, nil
		}
	}
	return Tunnel{}, &Error{Code: NotAvailable, Message: "no binding for " + home.String()}
}

func (f *fakeBackend) DestroyTunnel(ctx context.Context, home netip.Addr) error {
	f.record(FuncDestroyTunnel)
	for i, t := range f.tunnels {
		if t.Home == home {
			f.tunnels = append(f.tunnels[:i:i], f.tunnels[i+1:]...)
			return nil
		}
	}
	return ErrNotAvailable
}

func (f *fakeBackend) EnableMobile(ctx context.Context, home netip.Addr, enable bool) error {
	f.record(FuncEnableMobile)
	f.mu.Lock()
	f.enabled[home] = enable
	f.mu.Unlock()
	return nil
}

func (f *fakeBackend) GetCareOfAddr(ctx context.Context, home netip.Addr) (netip.Addr, error) {
	f.record(FuncGetCareOfAddr)
	if home.IsValid() && home != goldenHome {
		return netip.Addr{}, errors.New("no such mobile: " + home.String()) // becomes Failed
	}
	return f.careOf, nil
}

func (f *fakeBackend) GetTunnelingMode(ctx context.Context) (string, error) {
	f.record(FuncGetTunnelingMode)
	return f.mode, nil
}

func (f *fakeBackend) SetTunnelingMode(ctx context.Context, mode string) error {
	f.record(FuncSetTunnelingMode)
	switch mode {
	case "full", "triangle", "none":
		f.mode = mode
		return nil
	}
	return &Error{Code: InvalidParams, Message: "unknown tunnelling mode " + mode}
}

// Connect blocks until its ctx is done, as a mobile that finds no agent.
func (f *fakeBackend) Connect(ctx context.Context) error {
	f.record(FuncConnect)
	close(f.connectStarted)
	<-ctx.Done()
	close(f.connectCancelled)
	return ctx.Err()
}

func (f *fakeBackend) Disconnect(ctx context.Context) error {
	f.record(FuncDisconnect)
	return nil
}

func (f *fakeBackend) UpdateLocation(ctx context.Context) error {
	f.record(FuncUpdateLocation)
	return &Error{Code: InProgress, Message: "a connect is running"}
}

func (f *fakeBackend) Confirm(ctx context.Context) error {
	f.record(FuncConfirm)
	return &Error{Code: Denied, Message: "code 131"}
}

func (f *fakeBackend) HomeUpdate(ctx context.Context) error {
	f.record(FuncHomeUpdate)
	return nil
}

// statusOnly serves get_status alone, as a backend that implements one
// interface.
type statusOnly struct{}

func (statusOnly) GetStatus(context.Context) (Status, error) { return Status{Agent: "fa"}, nil }

// testLogger logs to the test, so a failing test shows the server's view.
func testLogger(t testing.TB) *slog.Logger {
	return slog.New(slog.NewTextHandler(testWriter{t}, &slog.HandlerOptions{Level: slog.LevelDebug}))
}

type testWriter struct{ t testing.TB }

func (w testWriter) Write(b []byte) (int, error) {
	w.t.Log(strings.TrimSuffix(string(b), "\n"))
	return len(b), nil
}

// serve runs a server for backend on a fresh socket and returns its path;
// the server is stopped, and Serve's return checked, at cleanup.
func serve(t testing.TB, backend any, admin bool) string {
	t.Helper()
	mode := MonitorMode
	if admin {
		mode = AdminMode
	}
	path := filepath.Join(t.TempDir(), "agent.sock")
	ln, err := Listen(path, mode)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	srv := NewServer(backend, testLogger(t))
	go func() { done <- srv.Serve(ctx, ln, admin) }()
	t.Cleanup(func() {
		cancel()
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("Serve returned %v", err)
			}
		case <-time.After(10 * time.Second):
			t.Error("Serve did not return after its ctx was cancelled")
		}
		if _, err := os.Lstat(path); !errors.Is(err, os.ErrNotExist) {
			t.Errorf("socket file left after Serve: %v", err)
		}
	})
	return path
}

func dial(t testing.TB, path string) *Client {
	t.Helper()
	c, err := Dial(path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// rawConn is a connection that writes and reads raw frames.
func rawConn(t *testing.T, path string) net.Conn {
	t.Helper()
	conn, err := net.Dial("unix", path)
	if err != nil {
		t.Fatal(err)
	}
	conn.SetDeadline(time.Now().Add(10 * time.Second))
	t.Cleanup(func() { conn.Close() })
	return conn
}

func rawCall(t *testing.T, conn net.Conn, frame []byte) Reply {
	t.Helper()
	if _, err := conn.Write(frame); err != nil {
		t.Fatal(err)
	}
	rep, err := ReadReply(conn)
	if err != nil {
		t.Fatalf("reading the reply to %x: %v", frame, err)
	}
	return rep
}

// expectClosed checks the server closes conn without another reply.
func expectClosed(t *testing.T, conn net.Conn) {
	t.Helper()
	b, err := io.ReadAll(conn)
	if err != nil {
		t.Fatalf("reading until the server closes: %v", err)
	}
	if len(b) != 0 {
		t.Fatalf("server sent %x instead of closing", b)
	}
}

func TestServerCalls(t *testing.T) {
	f := newFake()
	c := dial(t, serve(t, f, true))
	const to = 5 * time.Second

	if err := c.Dummy(to); err != nil {
		t.Fatalf("Dummy: %v", err)
	}
	if st, err := c.GetStatus(to); err != nil || !equalStatus(st, goldenStatus) {
		t.Fatalf("GetStatus = %#v, %v", st, err)
	}
	if ts, err := c.GetTunnels(to); err != nil || len(ts) != 1 || ts[0] != goldenTunnel {
		t.Fatalf("GetTunnels = %v, %v", ts, err)
	}
	if tun, err := c.GetTunnelInfo(goldenHome, to); err != nil || tun != goldenTunnel {
		t.Fatalf("GetTunnelInfo = %v, %v", tun, err)
	}
	other := netip.MustParseAddr("10.1.0.99")
	_, err := c.GetTunnelInfo(other, to)
	if !errors.Is(err, ErrNotAvailable) || err.Error() != "not available: no binding for 10.1.0.99" {
		t.Fatalf("GetTunnelInfo(unknown) = %v, want not available with the backend's message", err)
	}
	if err := c.EnableMobile(other, false, to); err != nil {
		t.Fatalf("EnableMobile: %v", err)
	}
	if en, ok := f.enabled[other]; !ok || en {
		t.Fatalf("EnableMobile(false) reached the backend as %v, %v", en, ok)
	}
	if coa, err := c.GetCareOfAddr(netip.Addr{}, to); err != nil || coa != goldenCoA {
		t.Fatalf("GetCareOfAddr(mn) = %v, %v", coa, err)
	}
	if _, err := c.GetCareOfAddr(other, to); !errors.Is(err, ErrFailed) || !strings.Contains(err.Error(), "no such mobile: 10.1.0.99") {
		t.Fatalf("GetCareOfAddr(other) = %v, want failed with the error's text", err)
	}
	if err := c.SetTunnelingMode("triangle", to); err != nil {
		t.Fatalf("SetTunnelingMode: %v", err)
	}
	if m, err := c.GetTunnelingMode(to); err != nil || m != "triangle" {
		t.Fatalf("GetTunnelingMode = %q, %v", m, err)
	}
	if err := c.SetTunnelingMode("sideways", to); !errors.Is(err, ErrInvalidParams) {
		t.Fatalf("SetTunnelingMode(sideways) = %v, want invalid parameters", err)
	}
	if err := c.UpdateLocation(to); !errors.Is(err, ErrInProgress) {
		t.Fatalf("UpdateLocation = %v, want in progress", err)
	}
	if err := c.Confirm(to); !errors.Is(err, ErrDenied) || err.Error() != "denied: code 131" {
		t.Fatalf("Confirm = %v, want denied: code 131", err)
	}
	if err := c.Disconnect(to); err != nil {
		t.Fatalf("Disconnect: %v", err)
	}
	if err := c.HomeUpdate(to); err != nil {
		t.Fatalf("HomeUpdate: %v", err)
	}
	if err := c.DestroyTunnel(goldenHome, to); err != nil {
		t.Fatalf("DestroyTunnel: %v", err)
	}
	if err := c.DestroyTunnel(goldenHome, to); !errors.Is(err, ErrNotAvailable) {
		t.Fatalf("DestroyTunnel again = %v, want not available", err)
	}
	if ts, err := c.GetTunnels(to); err != nil || ts != nil {
		t.Fatalf("GetTunnels after destroy = %v, %v", ts, err)
	}
	// The client refuses to send what the format cannot carry.
	if err := c.DestroyTunnel(netip.MustParseAddr("2001:db8::1"), to); !errors.Is(err, ErrInvalidParams) {
		t.Fatalf("DestroyTunnel(IPv6) = %v, want invalid parameters", err)
	}
	if err := c.Dummy(to); err != nil {
		t.Fatalf("Dummy at the end: %v", err)
	}
}

func equalStatus(a, b Status) bool {
	ab, _ := MarshalStatus(a)
	bb, _ := MarshalStatus(b)
	return bytes.Equal(ab, bb) && len(a.Counters) == len(b.Counters)
}

// An unknown function, or one the backend does not serve, is answered with
// -7 and the connection goes on.
func TestServerUndefinedFunction(t *testing.T) {
	conn := rawConn(t, serve(t, newFake(), true))
	for _, fn := range []byte{14, 200, 255} {
		rep := rawCall(t, conn, []byte{0, fn, 0, 0, 0, 1, 42})
		if rep.Code != UndefinedFunction {
			t.Errorf("function %d: code %v, want undefined function", fn, rep.Code)
		}
	}
	if rep := rawCall(t, conn, hx("00 00 00000000")); rep.Code != OK {
		t.Errorf("dummy after unknown functions: %v", rep.Code)
	}

	c := dial(t, serve(t, statusOnly{}, true))
	if _, err := c.GetTunnels(5 * time.Second); !errors.Is(err, ErrUndefinedFunction) {
		t.Errorf("get_tunnels on a status-only backend: %v, want undefined function", err)
	}
	if err := c.Connect(5 * time.Second); !errors.Is(err, ErrUndefinedFunction) {
		t.Errorf("connect on a status-only backend: %v, want undefined function", err)
	}
	if st, err := c.GetStatus(5 * time.Second); err != nil || st.Agent != "fa" {
		t.Errorf("get_status after undefined functions: %v, %v", st, err)
	}
}

// The monitor socket refuses calls that change state with -1 and answers
// the read-only ones.
func TestServerMonitorReadOnly(t *testing.T) {
	f := newFake()
	c := dial(t, serve(t, f, false))
	const to = 5 * time.Second
	if err := c.DestroyTunnel(goldenHome, to); !errors.Is(err, ErrNotPermitted) {
		t.Errorf("destroy_tunnel on the monitor socket: %v, want not permitted", err)
	}
	if err := c.EnableMobile(goldenHome, true, to); !errors.Is(err, ErrNotPermitted) {
		t.Errorf("enable_mobile on the monitor socket: %v, want not permitted", err)
	}
	if err := c.Connect(to); !errors.Is(err, ErrNotPermitted) {
		t.Errorf("connect on the monitor socket: %v, want not permitted", err)
	}
	if err := c.SetTunnelingMode("none", to); !errors.Is(err, ErrNotPermitted) {
		t.Errorf("set_tunneling_mode on the monitor socket: %v, want not permitted", err)
	}
	if _, err := c.GetStatus(to); err != nil {
		t.Errorf("get_status on the monitor socket: %v", err)
	}
	if _, err := c.GetTunnels(to); err != nil {
		t.Errorf("get_tunnels on the monitor socket: %v", err)
	}
	if len(f.tunnels) != 1 || f.mode != "full" || len(f.enabled) != 0 {
		t.Errorf("a refused call reached the backend: %v", f.calls)
	}
}

func TestServerInvalidParams(t *testing.T) {
	conn := rawConn(t, serve(t, newFake(), true))
	for _, frame := range [][]byte{
		hx("00 02 00000003 0a0100"),            // address too short
		hx("00 03 00000005 0a01000a 00"),       // address with a byte more
		hx("00 04 00000005 0a01000a 02"),       // enable neither 0 nor 1
		hx("00 07 00000001 00"),                // get_status takes no params
		hx("00 0d 00000004 0005 6675"),         // string shorter than its length
		hx("00 08 00000002 0000"),              // connect takes no params
		hx("00 05 00000008 0a01000a 0a01000a"), // two addresses
	} {
		rep := rawCall(t, conn, frame)
		if rep.Code != InvalidParams || len(rep.Data) == 0 {
			t.Errorf("%x: code %v %q, want invalid parameters with a message", frame, rep.Code, rep.Data)
		}
	}
	if rep := rawCall(t, conn, hx("00 00 00000003 010203")); rep.Code != OK {
		t.Errorf("dummy with params: %v, want success", rep.Code)
	}
}

// A frame announcing more than MaxLength is answered with -8 and its
// connection closed; other connections go on.
func TestServerTooLong(t *testing.T) {
	path := serve(t, newFake(), true)
	conn := rawConn(t, path)
	rep := rawCall(t, conn, hx("00 07 00100001"))
	if rep.Code != TooLong {
		t.Fatalf("oversize frame: code %v, want too long", rep.Code)
	}
	expectClosed(t, conn)
	if err := dial(t, path).Dummy(5 * time.Second); err != nil {
		t.Fatalf("a new connection after an oversize frame: %v", err)
	}
	// The client refuses to send one.
	if _, err := dial(t, path).Call(context.Background(), FuncSetTunnelingMode, make([]byte, MaxLength+1)); !errors.Is(err, ErrTooLong) {
		t.Fatalf("Call with params over MaxLength: %v, want too long", err)
	}
}

// A truncated frame or a wrong type byte closes the connection without a
// reply.
func TestServerBrokenFrames(t *testing.T) {
	path := serve(t, newFake(), true)
	for _, tc := range []struct {
		name  string
		frame []byte
	}{
		{"reply type", hx("01 00 00000000")},
		{"type 7", hx("07 00 00000000")},
		{"truncated header", hx("00 07 00")},
		{"truncated params", hx("00 02 00000004 0a01")},
	} {
		t.Run(tc.name, func(t *testing.T) {
			conn := rawConn(t, path)
			if _, err := conn.Write(tc.frame); err != nil {
				t.Fatal(err)
			}
			if strings.HasPrefix(tc.name, "truncated") {
				// The client stops writing: the frame is never finished.
				conn.(*net.UnixConn).CloseWrite()
			}
			expectClosed(t, conn)
		})
	}
	if err := dial(t, path).Dummy(5 * time.Second); err != nil {
		t.Fatalf("the server after broken frames: %v", err)
	}
}

// Calls pipelined on one connection are answered in order.
func TestServerPipelined(t *testing.T) {
	conn := rawConn(t, serve(t, newFake(), true))
	var all []byte
	for _, g := range []string{"00 00 00000000", "00 06 00000000", "00 02 00000004 0a0100ff", "00 07 00000000"} {
		all = append(all, hx(g)...)
	}
	if _, err := conn.Write(all); err != nil {
		t.Fatal(err)
	}
	for i, want := range []Code{OK, OK, NotAvailable, OK} {
		rep, err := ReadReply(conn)
		if err != nil {
			t.Fatalf("reply %d: %v", i, err)
		}
		if rep.Code != want {
			t.Fatalf("reply %d: code %v, want %v", i, rep.Code, want)
		}
	}
}

// A panic in the backend is answered with -3 and logged; the server and
// the connection go on.
func TestServerBackendPanic(t *testing.T) {
	f := newFake()
	f.panicFor = FuncGetStatus
	c := dial(t, serve(t, f, true))
	_, err := c.GetStatus(5 * time.Second)
	if !errors.Is(err, ErrFailed) || !strings.Contains(err.Error(), "internal error") {
		t.Fatalf("GetStatus on a panicking backend: %v, want failed: internal error", err)
	}
	if err := c.Dummy(5 * time.Second); err != nil {
		t.Fatalf("Dummy after the panic on the same connection: %v", err)
	}
	if _, err := c.GetTunnels(5 * time.Second); err != nil {
		t.Fatalf("GetTunnels after the panic: %v", err)
	}
}

// A blocking call is abandoned when its client closes the connection: the
// backend sees its ctx cancelled.
func TestServerClientGoneCancelsCall(t *testing.T) {
	f := newFake()
	path := serve(t, f, true)
	conn := rawConn(t, path)
	if _, err := conn.Write(hx("00 08 00000000")); err != nil {
		t.Fatal(err)
	}
	select {
	case <-f.connectStarted:
	case <-time.After(10 * time.Second):
		t.Fatal("Connect did not reach the backend")
	}
	conn.Close()
	select {
	case <-f.connectCancelled:
	case <-time.After(10 * time.Second):
		t.Fatal("the backend's ctx was not cancelled when the client closed its connection")
	}
	if err := dial(t, path).Dummy(5 * time.Second); err != nil {
		t.Fatalf("the server after an abandoned call: %v", err)
	}
}

// When a call's timeout runs out the client returns ErrTimeout, closes its
// connection (the server abandons the call), and refuses later calls.
func TestClientTimeout(t *testing.T) {
	f := newFake()
	path := serve(t, f, true)
	c := dial(t, path)
	start := time.Now()
	err := c.Connect(200 * time.Millisecond)
	if !errors.Is(err, ErrTimeout) {
		t.Fatalf("Connect with a 200ms timeout: %v, want timeout", err)
	}
	if el := time.Since(start); el < 200*time.Millisecond || el > 5*time.Second {
		t.Errorf("Connect returned after %v", el)
	}
	select {
	case <-f.connectCancelled:
	case <-time.After(10 * time.Second):
		t.Fatal("the server did not abandon the call after the client's timeout")
	}
	err = c.Dummy(time.Second)
	if !errors.Is(err, ErrClientClosed) || !strings.Contains(err.Error(), "closed") {
		t.Fatalf("a call after the timeout: %v, want ErrClientClosed", err)
	}
	if err := c.Close(); err != nil {
		t.Fatalf("Close after a timeout: %v", err)
	}
}

func TestClientCancel(t *testing.T) {
	f := newFake()
	c := dial(t, serve(t, f, true))
	ctx, cancel := context.WithCancel(context.Background())
	go func() {
		<-f.connectStarted
		cancel()
	}()
	_, err := c.Call(ctx, FuncConnect, nil)
	if !errors.Is(err, ErrCancelled) || !errors.Is(err, context.Canceled) {
		t.Fatalf("Call cancelled: %v, want ErrCancelled and context.Canceled", err)
	}
	<-f.connectCancelled
	if err := c.Dummy(0); !errors.Is(err, ErrClientClosed) {
		t.Fatalf("a call after the cancelled one: %v, want ErrClientClosed", err)
	}
}

// A call with no timeout waits as long as the agent takes.
func TestClientNoTimeout(t *testing.T) {
	f := newFake()
	c := dial(t, serve(t, f, true))
	// Disconnect on another connection does not end Connect in the fake;
	// stopping the server does, so Connect returns with a broken
	// connection rather than a timeout.
	done := make(chan error, 1)
	go func() { done <- c.Connect(0) }()
	<-f.connectStarted
	select {
	case err := <-done:
		t.Fatalf("Connect(0) returned %v before the agent answered", err)
	case <-time.After(300 * time.Millisecond):
	}
	c.conn.Close() // as the agent going away
	err := <-done
	if err == nil || errors.Is(err, ErrTimeout) {
		t.Fatalf("Connect(0) after the connection broke: %v", err)
	}
}

func TestClientAgentGone(t *testing.T) {
	path := filepath.Join(t.TempDir(), "agent.sock")
	ln, err := Listen(path, AdminMode)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- NewServer(newFake(), testLogger(t)).Serve(ctx, ln, true) }()
	c := dial(t, path)
	if err := c.Dummy(5 * time.Second); err != nil {
		t.Fatal(err)
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatalf("Serve: %v", err)
	}
	err = c.Dummy(5 * time.Second)
	if err == nil || !strings.Contains(err.Error(), "closed the connection") {
		t.Fatalf("a call after the agent stopped: %v, want the agent closed the connection", err)
	}
	if err := c.Dummy(5 * time.Second); !errors.Is(err, ErrClientClosed) {
		t.Fatalf("a second call after the agent stopped: %v, want ErrClientClosed", err)
	}
	if _, err := Dial(path); !errors.Is(err, ErrUnreachable) {
		t.Fatalf("Dial after the agent stopped: %v, want unreachable", err)
	}
}

func TestDialUnreachable(t *testing.T) {
	path := filepath.Join(t.TempDir(), "nothing.sock")
	_, err := Dial(path)
	if !errors.Is(err, ErrUnreachable) || !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("Dial(no socket): %v, want ErrUnreachable and os.ErrNotExist", err)
	}
	if want := "agent unreachable: socket " + path + ": no such file or directory"; err.Error() != want {
		t.Fatalf("Dial error text %q, want %q", err, want)
	}
	// A socket file nobody listens on.
	ln, err := net.ListenUnix("unix", &net.UnixAddr{Name: path, Net: "unix"})
	if err != nil {
		t.Fatal(err)
	}
	ln.SetUnlinkOnClose(false)
	ln.Close()
	if _, err := Dial(path); !errors.Is(err, ErrUnreachable) || !strings.HasSuffix(err.Error(), ": connection refused") {
		t.Fatalf("Dial(stale socket): %v, want unreachable: connection refused", err)
	}
}

func TestServeReturnsWhenListenerFails(t *testing.T) {
	ln, err := Listen(filepath.Join(t.TempDir(), "a.sock"), AdminMode)
	if err != nil {
		t.Fatal(err)
	}
	ln.Close()
	if err := NewServer(newFake(), nil).Serve(context.Background(), ln, true); !errors.Is(err, net.ErrClosed) {
		t.Fatalf("Serve on a closed listener: %v, want net.ErrClosed", err)
	}
}
