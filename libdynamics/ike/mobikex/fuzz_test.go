package mobikex

import (
	"bytes"
	"reflect"
	"testing"

	"github.com/dynamics-go/dynamics/libdynamics/ikev2"
)

// FuzzParseParams requires that ParseParams never panics and that parse
// -> marshal -> parse agrees: the same parameters, and marshalling them
// again gives the same octets. Every typed reader must accept what
// ParseParams accepted.
func FuzzParseParams(f *testing.F) {
	f.Add([]byte{})
	f.Add(MarshalParams([]Param{VersionParam(2, true), VersionParam(1, false)}))
	f.Add(MarshalParams([]Param{IDParam(7), SPIParam(ChildSPI(1)), SPIParam(IKESPI(1, 2)), ModeParam(2),
		ProtoParam(ikev2.ProtocolESP), SelectorParam(ikev2.PrefixSelector(netipPrefix("10.0.0.0/8"), 17))}))
	f.Add(MarshalParams([]Param{IPParam(IP{Addr: v4a, Old: true}), IPParam(IP{Addr: v6a, New: true, Info: &Info{Preference: 1}})}))
	f.Add(MarshalParams([]Param{{Type: 99, Value: []byte{1, 2}}, {Critical: true, Type: 98}}))
	f.Add([]byte{3, 0, 0, 6, 0x18, 0, 1, 2, 3, 4})
	f.Fuzz(func(t *testing.T, b []byte) {
		ps, err := ParseParams(b)
		if err != nil {
			return
		}
		for _, p := range ps {
			if p.Type.Known() {
				if err := p.check(); err != nil {
					t.Fatalf("accepted %v that its reader refuses: %v", p, err)
				}
			}
			_ = p.String()
		}
		m := MarshalParams(ps)
		ps2, err := ParseParams(m)
		if err != nil {
			t.Fatalf("reparse of %x: %v", m, err)
		}
		if !reflect.DeepEqual(ps, ps2) {
			t.Fatalf("reparse differs:\n%v\n%v", ps, ps2)
		}
		if m2 := MarshalParams(ps2); !bytes.Equal(m, m2) {
			t.Fatalf("remarshal differs:\n%x\n%x", m, m2)
		}
		// Typed values survive their constructors.
		for _, p := range ps {
			var q Param
			switch p.Type {
			case ParamIP:
				ip, _ := p.IP()
				q = IPParam(ip)
				if ip2, err := q.IP(); err != nil || !reflect.DeepEqual(ip, ip2) {
					t.Fatalf("IP %v -> %v, %v", ip, ip2, err)
				}
			case ParamSelectorValue:
				s, _ := p.Selector()
				q = SelectorParam(s)
				if !bytes.Equal(q.Value, p.Value) {
					t.Fatalf("selector %v re-encoded %x, was %x", s, q.Value, p.Value)
				}
			case ParamSPI:
				s, _ := p.SPI()
				if q = SPIParam(s); !bytes.Equal(q.Value, p.Value) {
					t.Fatalf("SPI %v re-encoded %x, was %x", s, q.Value, p.Value)
				}
			}
		}
	})
}

// FuzzReadSets feeds a chain of payloads (the plaintext of an
// INFORMATIONAL's SK payload, starting with a Notify) to ReadSets. It
// must not panic; every set it returns must be one Payloads accepts, and
// reading those payloads back must give the same set.
func FuzzReadSets(f *testing.F) {
	for _, seed := range [][]ikev2.Payload{
		{sel(1), update(v4a, v4b), end(1)},
		{natd, sel(2, ModeParam(2)), delESP, end(2)},
		{act(ikev2.NotifyAddSAAddress, IP{Addr: v6a}), sel(3), end(4)},
		{sel(5), act(ikev2.NotifyRemoveSAAddress, IP{Addr: v4a, Receiver: true})},
	} {
		_, b, err := ikev2.MarshalPayloads(seed)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	for _, s := range testSets() {
		ps, err := s.Payloads()
		if err != nil {
			f.Fatal(err)
		}
		_, b, err := ikev2.MarshalPayloads(ps)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		ps, err := ikev2.ParsePayloads(ikev2.PayloadNotify, b)
		if err != nil {
			return
		}
		sets, errs, rest := ReadSets(ps)
		for _, e := range errs {
			if !IsError(e.Type) {
				t.Fatalf("error of type %s", e.Type)
			}
			n := e.Notify()
			if e2, ok := ReadError(n); !ok || !reflect.DeepEqual(e, e2) {
				t.Fatalf("error %v read back as %v", e, e2)
			}
		}
		if len(rest) > len(ps) {
			t.Fatalf("%d payloads left of %d", len(rest), len(ps))
		}
		for _, s := range sets {
			out, err := s.Payloads()
			if err != nil {
				t.Fatalf("read %v, which Payloads refuses: %v", s, err)
			}
			got, errs, rest := ReadSets(out)
			if len(errs) != 0 || len(rest) != 0 || len(got) != 1 || !reflect.DeepEqual(normal(got[0]), normal(s)) {
				t.Fatalf("set %v read back as %v (errors %v, rest %d)", s, got, errs, len(rest))
			}
		}
	})
}

// normal makes empty slices nil so sets compare by content.
func normal(s Set) Set {
	if len(s.SPIs) == 0 {
		s.SPIs = nil
	}
	if len(s.Selectors) == 0 {
		s.Selectors = nil
	}
	if len(s.Actions) == 0 {
		s.Actions = nil
	}
	return s
}
