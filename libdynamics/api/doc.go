// Package api is the control API of the Dynamics daemons: the framing and
// payloads spoken over their Unix sockets, the server the daemons embed and
// the Go client library the tools use.
//
// Each daemon serves two stream sockets: an admin socket (mode 0600, every
// call) and a monitor socket (mode 0666, read-only calls). A connection
// carries any number of calls, one at a time: the client writes a request
// frame, the server answers with one reply frame.
//
//	request: type=0 (1 byte) | function (1 byte) | length (4 bytes, big endian) | params
//	reply:   type=1 (1 byte) | return value (1 byte, signed) | length (4 bytes) | data
//
// The function codes and return values are those of the Dynamics API, with
// the length widened from one byte to four so that lists fit; the layout of
// every call's params and data is written down in docs/PROTOCOL.md.
//
// # Payloads
//
// Params and data use fixed encodings, written by the Marshal functions
// and read by the Parse functions of payload.go: an address is 4 bytes
// (0.0.0.0 for none), a duration a u32 of whole seconds, a boolean one
// byte (0 or 1), a string a u16 length and its bytes, a list a u32 count
// and its items; Tunnel and Status records are their fixed fields followed
// by their strings (and, for Status, the counters). A reply whose return
// value is not OK carries the agent's message as its data. Decoders
// reject truncated payloads, trailing bytes and values the encoders never
// produce, so whatever decodes encodes back to the same bytes.
//
// # Server
//
// A daemon makes its sockets with Listen (DefaultSocket gives the paths
// under /run/dynamics, AdminMode and MonitorMode the modes) and serves them
// with one Server:
//
//	srv := api.NewServer(agent, logger) // agent implements some of the backend interfaces
//	admin, err := api.Listen(api.DefaultSocket("ha", true), api.AdminMode)
//	...
//	go srv.Serve(ctx, admin, true)
//	go srv.Serve(ctx, monitor, false)
//
// The Server answers Dummy itself and calls the backend for the rest,
// through the interfaces of backend.go; a backend method reaches the
// agent's state by entering its loop (Do). The rules: a function the
// backend does not serve, or an unknown code, is answered with
// UndefinedFunction and the connection goes on; a function that is not
// read-only on the monitor socket with NotPermitted; params that do not
// decode with InvalidParams; a frame announcing more than MaxLength with
// TooLong, after which the connection is closed; a truncated frame or a
// wrong type byte closes the connection without a reply; a panicking
// backend method gives Failed (the panic is logged at error level) and the
// server goes on. The ctx a backend method gets is cancelled when its
// client closes the connection, which abandons a blocking Connect or
// Confirm. Client mistakes are logged at debug level only.
//
// # Client
//
// Tools Dial a socket and make calls with a timeout each:
//
//	c, err := api.Dial(api.DefaultSocket("ha", false))
//	if err != nil {
//		return err // "agent unreachable: socket /run/dynamics/ha-monitor.sock: no such file or directory"
//	}
//	defer c.Close()
//	st, err := c.GetStatus(5 * time.Second)
//
// A failed call returns an *Error; compare with errors.Is and the
// sentinels (ErrNotAvailable, ErrTimeout, ...). A Client serves one
// goroutine at a time. When a timeout runs out the Client closes its
// connection, so the agent abandons the call, and later calls return
// ErrClientClosed.
package api
