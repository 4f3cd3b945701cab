package api

import (
	"bytes"
	"net/netip"
	"reflect"
	"testing"
)

// The fuzz targets require that whatever parses marshals back to exactly
// the input and parses again to the same value. Seeds are the golden frames
// and the files under testdata/fuzz/.

func FuzzParseRequest(f *testing.F) {
	for _, g := range goldenCalls {
		f.Add(g.request)
	}
	f.Add(hx("00 07 00100001"))
	f.Fuzz(func(t *testing.T, b []byte) {
		req, err := ParseRequest(b)
		if err != nil {
			return
		}
		out, err := req.Marshal()
		if err != nil {
			t.Fatalf("Marshal of a parsed request: %v", err)
		}
		if !bytes.Equal(out, b) {
			t.Fatalf("marshal gives %x, parsed from %x", out, b)
		}
		again, err := ReadRequest(bytes.NewReader(out))
		if err != nil || again.Func != req.Func || !bytes.Equal(again.Params, req.Params) {
			t.Fatalf("ReadRequest disagrees with ParseRequest: %v, %v", again, err)
		}
	})
}

func FuzzParseReply(f *testing.F) {
	for _, g := range goldenCalls {
		f.Add(g.reply)
	}
	f.Add(hx("01 fe 00000002 6869"))
	f.Fuzz(func(t *testing.T, b []byte) {
		rep, err := ParseReply(b)
		if err != nil {
			return
		}
		out, err := rep.Marshal()
		if err != nil {
			t.Fatalf("Marshal of a parsed reply: %v", err)
		}
		if !bytes.Equal(out, b) {
			t.Fatalf("marshal gives %x, parsed from %x", out, b)
		}
		again, err := ReadReply(bytes.NewReader(out))
		if err != nil || again.Code != rep.Code || !bytes.Equal(again.Data, rep.Data) {
			t.Fatalf("ReadReply disagrees with ParseReply: %v, %v", again, err)
		}
	})
}

// payloadCodecs are the payload decoders the fuzzer picks from by the
// first byte, each with the encoder that must give back the same bytes.
var payloadCodecs = []struct {
	decode func([]byte) (any, error)
	encode func(any) ([]byte, error)
}{
	{addrPayload, func(v any) ([]byte, error) { return MarshalAddr(v.(netip.Addr)) }},
	{func(b []byte) (any, error) { h, e, err := ParseEnable(b); return enableParams{h, e}, err },
		func(v any) ([]byte, error) { e := v.(enableParams); return MarshalEnable(e.home, e.enable) }},
	{stringPayload, func(v any) ([]byte, error) { return MarshalString(v.(string)) }},
	{func(b []byte) (any, error) { t, err := ParseTunnel(b); return t, err },
		func(v any) ([]byte, error) { return MarshalTunnel(v.(Tunnel)) }},
	{func(b []byte) (any, error) { ts, err := ParseTunnels(b); return ts, err },
		func(v any) ([]byte, error) { return MarshalTunnels(v.([]Tunnel)) }},
	{func(b []byte) (any, error) { s, err := ParseStatus(b); return s, err },
		func(v any) ([]byte, error) { return MarshalStatus(v.(Status)) }},
}

func FuzzParsePayload(f *testing.F) {
	f.Add(append([]byte{0}, hx("0a01000a")...))
	f.Add(append([]byte{1}, hx("0a01000a 01")...))
	f.Add(append([]byte{2}, hx("0004 66756c6c")...))
	f.Add(append([]byte{3}, goldenTunnelBytes...))
	f.Add(append([]byte{4}, append(hx("00000001"), goldenTunnelBytes...)...))
	f.Add(append([]byte{5}, goldenStatusBytes...))
	f.Fuzz(func(t *testing.T, in []byte) {
		if len(in) == 0 {
			return
		}
		codec := payloadCodecs[int(in[0])%len(payloadCodecs)]
		b := in[1:]
		v, err := codec.decode(b)
		if err != nil {
			return
		}
		out, err := codec.encode(v)
		if err != nil {
			t.Fatalf("encode %#v: %v", v, err)
		}
		if !bytes.Equal(out, b) {
			t.Fatalf("encode gives %x, decoded from %x", out, b)
		}
		again, err := codec.decode(out)
		if err != nil || !reflect.DeepEqual(again, v) {
			t.Fatalf("decode again: %#v, %v; want %#v", again, err, v)
		}
	})
}
