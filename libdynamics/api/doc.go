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
package api
