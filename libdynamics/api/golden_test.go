package api

import (
	"bytes"
	"encoding/hex"
	"net/netip"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/dynamics-go/dynamics/libdynamics/mip"
)

// hx decodes hex written with spaces for readability.
func hx(s string) []byte {
	b, err := hex.DecodeString(strings.Join(strings.Fields(s), ""))
	if err != nil {
		panic(err)
	}
	return b
}

var (
	goldenHome = netip.MustParseAddr("10.1.0.10")
	goldenCoA  = netip.MustParseAddr("10.2.0.1")
	goldenHA   = netip.MustParseAddr("10.1.0.1")

	goldenTunnel = Tunnel{
		Home: goldenHome, CareOf: goldenCoA, HA: goldenHA, Peer: goldenCoA,
		ID:        0xe8f0a1b200000001,
		Flags:     mip.FlagReverseTunnel,
		Lifetime:  600 * time.Second,
		Remaining: 599 * time.Second,
		State:     "registered",
		Confirmed: true,
		Iface:     "dyn0",
	}
	// The Tunnel record above, written out by hand from docs/PROTOCOL.md.
	goldenTunnelBytes = hx(`
		0a01000a 0a020001 0a010001 0a020001 00000000
		e8f0a1b2 00000001
		02 01
		00000258 00000257
		000a 72656769737465726564
		0004 64796e30
		0000`)

	goldenStatus = Status{
		Agent: "mn", Version: "1.0", DataPath: "userspace", Uptime: time.Hour,
		State: "Connected", Home: goldenHome, CareOf: goldenCoA, FA: goldenCoA, HA: goldenHA,
		Lifetime: 600 * time.Second, Remaining: 300 * time.Second,
		TunnelingMode: "full", Iface: "eth0",
		Counters: []Counter{{"registrations", 3}, {"requests", 4}},
	}
	goldenStatusBytes = hx(`
		00000e10 0a01000a 0a020001 0a020001 0a010001 00000258 0000012c
		0002 6d6e
		0003 312e30
		0009 757365727370616365
		0009 436f6e6e6563746564
		0004 66756c6c
		0004 65746830
		00000002
		000d 726567697374726174696f6e73 0000000000000003
		0008 7265717565737473 0000000000000004`)
)

// goldenCall is one function's request and reply frames and the values
// their payloads carry.
type goldenCall struct {
	fn       Func
	request  []byte
	reply    []byte
	params   any // decoded params, nil for none
	data     any // decoded data, nil for none
	parseReq func([]byte) (any, error)
	parseRep func([]byte) (any, error)
}

func noPayload(b []byte) (any, error) { return nil, ParseEmpty(b) }
func addrPayload(b []byte) (any, error) {
	a, err := ParseAddr(b)
	return a, err
}
func stringPayload(b []byte) (any, error) {
	s, err := ParseString(b)
	return s, err
}

type enableParams struct {
	home   netip.Addr
	enable bool
}

var goldenCalls = []goldenCall{
	{fn: FuncDummy, request: hx("00 00 00000000"), reply: hx("01 00 00000000"),
		parseReq: noPayload, parseRep: noPayload},
	{fn: FuncGetTunnels, request: hx("00 01 00000000"),
		reply:    append(hx("01 00 0000003e 00000001"), goldenTunnelBytes...),
		data:     []Tunnel{goldenTunnel},
		parseReq: noPayload,
		parseRep: func(b []byte) (any, error) { ts, err := ParseTunnels(b); return ts, err }},
	{fn: FuncGetTunnelInfo, request: hx("00 02 00000004 0a01000a"),
		reply:  append(hx("01 00 0000003a"), goldenTunnelBytes...),
		params: goldenHome, data: goldenTunnel,
		parseReq: addrPayload,
		parseRep: func(b []byte) (any, error) { t, err := ParseTunnel(b); return t, err }},
	{fn: FuncDestroyTunnel, request: hx("00 03 00000004 0a01000a"), reply: hx("01 00 00000000"),
		params: goldenHome, parseReq: addrPayload, parseRep: noPayload},
	{fn: FuncEnableMobile, request: hx("00 04 00000005 0a01000a 00"), reply: hx("01 00 00000000"),
		params: enableParams{goldenHome, false},
		parseReq: func(b []byte) (any, error) {
			h, e, err := ParseEnable(b)
			return enableParams{h, e}, err
		},
		parseRep: noPayload},
	{fn: FuncGetCareOfAddr, request: hx("00 05 00000004 00000000"), reply: hx("01 00 00000004 0a04000a"),
		params: netip.Addr{}, data: netip.MustParseAddr("10.4.0.10"),
		parseReq: addrPayload, parseRep: addrPayload},
	{fn: FuncGetTunnelingMode, request: hx("00 06 00000000"), reply: hx("01 00 0000000a 0008 747269616e676c65"),
		data: "triangle", parseReq: noPayload, parseRep: stringPayload},
	{fn: FuncGetStatus, request: hx("00 07 00000000"),
		reply: append(hx("01 00 00000074"), goldenStatusBytes...),
		data:  goldenStatus, parseReq: noPayload,
		parseRep: func(b []byte) (any, error) { s, err := ParseStatus(b); return s, err }},
	{fn: FuncConnect, request: hx("00 08 00000000"), reply: hx("01 00 00000000"), parseReq: noPayload, parseRep: noPayload},
	{fn: FuncDisconnect, request: hx("00 09 00000000"), reply: hx("01 00 00000000"), parseReq: noPayload, parseRep: noPayload},
	{fn: FuncUpdateLocation, request: hx("00 0a 00000000"), reply: hx("01 00 00000000"), parseReq: noPayload, parseRep: noPayload},
	{fn: FuncConfirm, request: hx("00 0b 00000000"), reply: hx("01 00 00000000"), parseReq: noPayload, parseRep: noPayload},
	{fn: FuncHomeUpdate, request: hx("00 0c 00000000"), reply: hx("01 00 00000000"), parseReq: noPayload, parseRep: noPayload},
	{fn: FuncSetTunnelingMode, request: hx("00 0d 00000006 0004 66756c6c"), reply: hx("01 00 00000000"),
		params: "full", parseReq: stringPayload, parseRep: noPayload},
}

// marshalPayload encodes a decoded params or data value of the golden
// table with the package's encoders.
func marshalPayload(t *testing.T, v any) []byte {
	t.Helper()
	var (
		b   []byte
		err error
	)
	switch v := v.(type) {
	case nil:
		b = MarshalEmpty()
	case netip.Addr:
		b, err = MarshalAddr(v)
	case string:
		b, err = MarshalString(v)
	case enableParams:
		b, err = MarshalEnable(v.home, v.enable)
	case Tunnel:
		b, err = MarshalTunnel(v)
	case []Tunnel:
		b, err = MarshalTunnels(v)
	case Status:
		b, err = MarshalStatus(v)
	default:
		t.Fatalf("no encoder for %T", v)
	}
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestGoldenFrames(t *testing.T) {
	seen := map[Func]bool{}
	for _, g := range goldenCalls {
		seen[g.fn] = true
		t.Run(g.fn.String(), func(t *testing.T) {
			// Bytes to values.
			req, err := ParseRequest(g.request)
			if err != nil {
				t.Fatalf("ParseRequest: %v", err)
			}
			if req.Func != g.fn {
				t.Errorf("request function %v, want %v", req.Func, g.fn)
			}
			params, err := g.parseReq(req.Params)
			if err != nil {
				t.Fatalf("params: %v", err)
			}
			if !reflect.DeepEqual(params, g.params) {
				t.Errorf("params %#v, want %#v", params, g.params)
			}
			rep, err := ParseReply(g.reply)
			if err != nil {
				t.Fatalf("ParseReply: %v", err)
			}
			if rep.Code != OK {
				t.Errorf("reply code %v, want success", rep.Code)
			}
			data, err := g.parseRep(rep.Data)
			if err != nil {
				t.Fatalf("data: %v", err)
			}
			if !reflect.DeepEqual(data, g.data) {
				t.Errorf("data\n got %#v\nwant %#v", data, g.data)
			}

			// Values to bytes.
			b, err := Request{Func: g.fn, Params: marshalPayload(t, g.params)}.Marshal()
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(b, g.request) {
				t.Errorf("request\n got %x\nwant %x", b, g.request)
			}
			b, err = Reply{Code: OK, Data: marshalPayload(t, g.data)}.Marshal()
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(b, g.reply) {
				t.Errorf("reply\n got %x\nwant %x", b, g.reply)
			}

			// The same frames read from a stream.
			if r, err := ReadRequest(bytes.NewReader(g.request)); err != nil || r.Func != g.fn || !bytes.Equal(r.Params, req.Params) {
				t.Errorf("ReadRequest = %v, %v", r, err)
			}
			if r, err := ReadReply(bytes.NewReader(g.reply)); err != nil || r.Code != OK || !bytes.Equal(r.Data, rep.Data) {
				t.Errorf("ReadReply = %v, %v", r, err)
			}
		})
	}
	for fn := FuncDummy; fn <= FuncSetTunnelingMode; fn++ {
		if !seen[fn] {
			t.Errorf("no golden frames for %v", fn)
		}
	}
}

// Error replies carry the message as data, the return value as a signed
// byte.
func TestGoldenErrorReplies(t *testing.T) {
	for _, tc := range []struct {
		frame []byte
		code  Code
		msg   string
	}{
		{hx("01 fe 00000018 6e6f2062696e64696e6720666f722031302e312e302e3130"), NotAvailable, "no binding for 10.1.0.10"},
		{hx("01 ff 00000000"), NotPermitted, ""},
		{hx("01 fc 00000007 636f6465203637"), Denied, "code 67"},
		{hx("01 f9 00000000"), UndefinedFunction, ""},
		{hx("01 f6 00000000"), Cancelled, ""},
	} {
		rep, err := ParseReply(tc.frame)
		if err != nil {
			t.Fatalf("ParseReply(%x): %v", tc.frame, err)
		}
		if rep.Code != tc.code || string(rep.Data) != tc.msg {
			t.Errorf("ParseReply(%x) = %v %q, want %v %q", tc.frame, rep.Code, rep.Data, tc.code, tc.msg)
		}
		b, err := Reply{Code: tc.code, Data: []byte(tc.msg)}.Marshal()
		if err != nil || !bytes.Equal(b, tc.frame) {
			t.Errorf("Marshal(%v %q) = %x, %v; want %x", tc.code, tc.msg, b, err, tc.frame)
		}
	}
}
