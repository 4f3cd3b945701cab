package mobikex

import (
	"errors"
	"net/netip"
	"reflect"
	"testing"

	"github.com/dynamics-go/dynamics/libdynamics/ikev2"
)

// selRaw is a SELECTOR with the given flags and parameters.
func selRaw(flags byte, ps ...Param) *ikev2.Notify {
	return ikev2.NewNotify(ikev2.NotifySelector, append([]byte{flags, 0, 0, 0}, MarshalParams(ps)...))
}

// sel is a SELECTOR opening set id with more parameters.
func sel(id uint32, ps ...Param) *ikev2.Notify {
	return selRaw(0, append([]Param{IDParam(id)}, ps...)...)
}

// end is the END_OF_SELECTOR of set id.
func end(id uint32) *ikev2.Notify {
	return ikev2.NewNotify(ikev2.NotifyEndOfSelector, MarshalParams([]Param{IDParam(id)}))
}

// act is an action notification with IP parameters.
func act(t ikev2.NotifyType, ips ...IP) *ikev2.Notify {
	ps := make([]Param, len(ips))
	for i, ip := range ips {
		ps[i] = IPParam(ip)
	}
	return ikev2.NewNotify(t, MarshalParams(ps))
}

func update(old, new netip.Addr) *ikev2.Notify {
	return act(ikev2.NotifyUpdateSAAddresses, IP{Addr: old, Old: true}, IP{Addr: new, New: true})
}

var (
	natd   = &ikev2.Notify{NotifyType: ikev2.NotifyNATDetectionSourceIP, Data: make([]byte, 20)}
	delESP = &ikev2.Delete{Protocol: ikev2.ProtocolESP, SPIs: []uint32{0x01020304}}
)

// step is one payload fed to the machine and what must come out.
type step struct {
	p     ikev2.Payload
	state State // after the payload
	set   *Set
	err   *Error
	other bool
}

func upErr(id uint32, p *Param) *Error {
	return &Error{Type: ikev2.NotifyUnacceptableParameter, ID: id, Param: p}
}

func unmatched(id uint32) *Error { return &Error{Type: ikev2.NotifyUnmatchedSelectorSet, ID: id} }

func unexpected(id uint32) *Error {
	return &Error{Type: ikev2.NotifyUnexpectedPayloadAfterSelector, ID: id}
}

func ipParam(ip IP) *Param { p := IPParam(ip); return &p }

var updateAction = Action{Kind: ActionUpdate, IPs: []IP{{Addr: v4a, Old: true}, {Addr: v4b, New: true}}}

// TestMachine walks every row of the responder's transition table
// (docs/IPSEC.md, "The responder's selector-set state machine").
func TestMachine(t *testing.T) {
	for _, c := range []struct {
		name  string
		steps []step
		end   *Error
	}{
		{"NULL: SELECTOR valid -> START, END same ID -> ESTABLISHED", []step{
			{p: sel(7), state: StateStart},
			{p: update(v4a, v4b), state: StateStart},
			{p: end(7), state: StateEstablished, set: &Set{ID: 7, Actions: []Action{updateAction}}},
		}, nil},
		{"SELECTOR with CHECK and an explicit selection", []step{
			{p: selRaw(0x80|0x01, IDParam(3), SPIParam(ChildSPI(0x1000)), SPIParam(IKESPI(1, 2)), ModeParam(2),
				ProtoParam(ikev2.ProtocolESP), SelectorParam(ikev2.PrefixSelector(netip.MustParsePrefix("10.1.0.0/24"), 17)),
				Param{Type: 60, Value: []byte{1}}), state: StateStart},
			{p: end(3), state: StateEstablished, set: &Set{ID: 3, Check: true, SPIs: []SPI{ChildSPI(0x1000), IKESPI(1, 2)},
				Mode: ModeTransport, Proto: ikev2.ProtocolESP,
				Selectors: []ikev2.Selector{ikev2.PrefixSelector(netip.MustParsePrefix("10.1.0.0/24"), 17)}}},
		}, nil},
		{"NULL: SELECTOR without ID -> ERROR, UNACCEPTABLE_PARAMETER 0", []step{
			{p: selRaw(0, ModeParam(1)), state: StateError, err: upErr(0, nil)},
			{p: update(v4a, v4b), state: StateError},
			{p: end(0), state: StateNull},
		}, nil},
		{"SELECTOR with two IDs", []step{
			{p: selRaw(0, IDParam(4), IDParam(5)), state: StateError, err: upErr(4, nil)},
			{p: end(4), state: StateNull},
		}, nil},
		{"SELECTOR with a bad mode", []step{
			{p: sel(6, Param{Type: ParamIPsecMode, Value: []byte{3}}), state: StateError, err: upErr(6, nil)},
		}, nil},
		{"SELECTOR with two modes", []step{
			{p: sel(6, ModeParam(1), ModeParam(2)), state: StateError, err: upErr(6, nil)},
		}, nil},
		{"SELECTOR with two protocols", []step{
			{p: sel(6, ProtoParam(ikev2.ProtocolESP), ProtoParam(ikev2.ProtocolAH)), state: StateError, err: upErr(6, nil)},
		}, nil},
		{"SELECTOR with an IP parameter", []step{
			{p: sel(6, IPParam(IP{Addr: v4a})), state: StateError, err: upErr(6, ipParam(IP{Addr: v4a}))},
		}, nil},
		{"SELECTOR with an unknown critical parameter", []step{
			{p: sel(6, Param{Critical: true, Type: 77}), state: StateError,
				err: upErr(6, &Param{Critical: true, Type: 77, Value: []byte{77}})},
		}, nil},
		{"SELECTOR too short for its flags", []step{
			{p: ikev2.NewNotify(ikev2.NotifySelector, []byte{0, 0}), state: StateError, err: upErr(0, nil)},
		}, nil},
		{"SELECTOR with a malformed parameter", []step{
			{p: ikev2.NewNotify(ikev2.NotifySelector, append([]byte{0, 0, 0, 0}, unhex(t, "07 00 0004 00000009 02 00 0003 030401")...)),
				state: StateError, err: upErr(9, nil)},
		}, nil},
		{"SELECTOR with an SPI in the notify header", []step{
			{p: &ikev2.Notify{NotifyType: ikev2.NotifySelector, Protocol: ikev2.ProtocolESP, SPI: []byte{1, 2, 3, 4},
				Data: sel(8).Data}, state: StateError, err: upErr(8, nil)},
		}, nil},
		{"NULL: actions outside a set are implicit sets", []step{
			{p: act(ikev2.NotifyAddSAAddress, IP{Addr: v4b, New: true}), state: StateEstablished,
				set: &Set{Implicit: true, Actions: []Action{{Kind: ActionAdd, IPs: []IP{{Addr: v4b, New: true}}}}}},
			{p: act(ikev2.NotifyRemoveSAAddress, IP{Addr: v4a}), state: StateEstablished,
				set: &Set{Implicit: true, Actions: []Action{{Kind: ActionRemove, IPs: []IP{{Addr: v4a}}}}}},
			{p: act(ikev2.NotifyAdditionalIPAddress, IP{Addr: v6a, Info: &Info{Preference: 3}}), state: StateEstablished,
				set: &Set{Implicit: true, Actions: []Action{{Kind: ActionAdditional, IPs: []IP{{Addr: v6a, Info: &Info{Preference: 3}}}}}}},
			{p: update(v4a, v4b), state: StateEstablished, set: &Set{Implicit: true, Actions: []Action{updateAction}}},
		}, nil},
		{"NULL: a bad implicit action", []step{
			{p: act(ikev2.NotifyUpdateSAAddresses, IP{Addr: v4a, Old: true}), state: StateNull, err: upErr(0, nil)},
			{p: natd, state: StateNull, other: true},
		}, nil},
		{"NULL: empty UPDATE_SA_ADDRESSES is RFC 4555's", []step{
			{p: ikev2.NewNotify(ikev2.NotifyUpdateSAAddresses, nil), state: StateNull, other: true},
		}, nil},
		{"NULL: END_OF_SELECTOR alone", []step{
			{p: end(12), state: StateNull, err: unmatched(12)},
		}, nil},
		{"NULL: anything else", []step{
			{p: natd, state: StateNull, other: true},
			{p: delESP, state: StateNull, other: true},
			{p: ikev2.NewNotify(ikev2.NotifyCookie2, make([]byte, 8)), state: StateNull, other: true},
			{p: nil, state: StateNull, other: true},
		}, nil},
		{"START: actions collected in order", []step{
			{p: sel(1), state: StateStart},
			{p: act(ikev2.NotifyAddSAAddress, IP{Addr: v6a, Info: &Info{Preference: 200}}), state: StateStart},
			{p: act(ikev2.NotifyRemoveSAAddress, IP{Addr: v6b, Receiver: true}), state: StateStart},
			{p: end(1), state: StateEstablished, set: &Set{ID: 1, Actions: []Action{
				{Kind: ActionAdd, IPs: []IP{{Addr: v6a, Info: &Info{Preference: 200}}}},
				{Kind: ActionRemove, IPs: []IP{{Addr: v6b, Receiver: true}}},
			}}},
		}, nil},
		{"START: an action with bad parameters -> ERROR", []step{
			{p: sel(2), state: StateStart},
			{p: act(ikev2.NotifyRemoveSAAddress, IP{Addr: v4a, New: true}), state: StateError,
				err: upErr(2, ipParam(IP{Addr: v4a, New: true}))},
			{p: update(v4a, v4b), state: StateError},
			{p: end(2), state: StateNull},
		}, nil},
		{"START: UPDATE with two OLD_IP", []step{
			{p: sel(2), state: StateStart},
			{p: act(ikev2.NotifyUpdateSAAddresses, IP{Addr: v4a, Old: true}, IP{Addr: v4b, Old: true}, IP{Addr: v4b, New: true}),
				state: StateError, err: upErr(2, nil)},
		}, nil},
		{"START: UPDATE of mixed families", []step{
			{p: sel(2), state: StateStart},
			{p: act(ikev2.NotifyUpdateSAAddresses, IP{Addr: v4a, Old: true}, IP{Addr: v6b, New: true}),
				state: StateError, err: upErr(2, nil)},
		}, nil},
		{"START: empty UPDATE inside a set", []step{
			{p: sel(2), state: StateStart},
			{p: ikev2.NewNotify(ikev2.NotifyUpdateSAAddresses, nil), state: StateError, err: upErr(2, nil)},
		}, nil},
		{"START: an action with an unknown critical parameter", []step{
			{p: sel(2), state: StateStart},
			{p: ikev2.NewNotify(ikev2.NotifyAddSAAddress, MarshalParams([]Param{IPParam(IP{Addr: v4a}), {Critical: true, Type: 99}})),
				state: StateError, err: upErr(2, &Param{Critical: true, Type: 99, Value: []byte{99}})},
		}, nil},
		{"START: an action with an ID parameter", []step{
			{p: sel(2), state: StateStart},
			{p: ikev2.NewNotify(ikev2.NotifyAddSAAddress, MarshalParams([]Param{IPParam(IP{Addr: v4a}), IDParam(2)})),
				state: StateError, err: upErr(2, &Param{Type: ParamID, Value: []byte{0, 0, 0, 2}})},
		}, nil},
		{"START: unknown non-critical parameters in an action skipped", []step{
			{p: sel(2), state: StateStart},
			{p: ikev2.NewNotify(ikev2.NotifyAddSAAddress, MarshalParams([]Param{{Type: 99}, IPParam(IP{Addr: v4a})})), state: StateStart},
			{p: end(2), state: StateEstablished, set: &Set{ID: 2, Actions: []Action{{Kind: ActionAdd, IPs: []IP{{Addr: v4a}}}}}},
		}, nil},
		{"START: END_OF_SELECTOR with another ID -> NULL", []step{
			{p: sel(5), state: StateStart},
			{p: update(v4a, v4b), state: StateStart},
			{p: end(6), state: StateNull, err: unmatched(5)},
			{p: natd, state: StateNull, other: true},
		}, nil},
		{"START: unreadable END_OF_SELECTOR", []step{
			{p: sel(5), state: StateStart},
			{p: ikev2.NewNotify(ikev2.NotifyEndOfSelector, nil), state: StateNull, err: unmatched(5)},
		}, nil},
		{"START: a Delete payload -> ERROR, rest skipped", []step{
			{p: sel(9), state: StateStart},
			{p: delESP, state: StateError, err: unexpected(9)},
			{p: update(v4a, v4b), state: StateError},
			{p: natd, state: StateError},
			{p: end(9), state: StateNull},
			{p: delESP, state: StateNull, other: true},
		}, nil},
		{"START: another notify -> ERROR", []step{
			{p: sel(9), state: StateStart},
			{p: natd, state: StateError, err: unexpected(9)},
		}, nil},
		{"START: another SELECTOR opens nothing", []step{
			{p: sel(9), state: StateStart},
			{p: sel(10), state: StateError, err: unexpected(9)},
			{p: update(v4a, v4b), state: StateError},
			{p: end(10), state: StateNull},
			{p: end(9), state: StateNull, err: unmatched(9)},
		}, nil},
		{"START: a nil payload", []step{
			{p: sel(9), state: StateStart},
			{p: nil, state: StateError, err: unexpected(9)},
		}, nil},
		{"START at the end of the message", []step{
			{p: sel(11), state: StateStart},
			{p: update(v4a, v4b), state: StateStart},
		}, unmatched(11)},
		{"ERROR at the end of the message: nothing more", []step{
			{p: sel(11), state: StateStart},
			{p: natd, state: StateError, err: unexpected(11)},
		}, nil},
		{"ESTABLISHED: next SELECTOR opens the next set", []step{
			{p: sel(1), state: StateStart},
			{p: end(1), state: StateEstablished, set: &Set{ID: 1}},
			{p: sel(2), state: StateStart},
			{p: update(v4a, v4b), state: StateStart},
			{p: end(2), state: StateEstablished, set: &Set{ID: 2, Actions: []Action{updateAction}}},
		}, nil},
		{"ESTABLISHED: END_OF_SELECTOR", []step{
			{p: sel(1), state: StateStart},
			{p: end(1), state: StateEstablished, set: &Set{ID: 1}},
			{p: end(1), state: StateEstablished, err: unmatched(1)},
		}, nil},
		{"ESTABLISHED: empty UPDATE and other payloads", []step{
			{p: sel(1), state: StateStart},
			{p: end(1), state: StateEstablished, set: &Set{ID: 1}},
			{p: ikev2.NewNotify(ikev2.NotifyUpdateSAAddresses, nil), state: StateEstablished, other: true},
			{p: natd, state: StateEstablished, other: true},
		}, nil},
		{"ESTABLISHED: a bad SELECTOR", []step{
			{p: sel(1), state: StateStart},
			{p: end(1), state: StateEstablished, set: &Set{ID: 1}},
			{p: selRaw(0), state: StateError, err: upErr(0, nil)},
		}, nil},
	} {
		t.Run(c.name, func(t *testing.T) {
			var m Machine
			if m.State() != StateNull {
				t.Fatalf("zero Machine in %s", m.State())
			}
			var ps []ikev2.Payload
			var wantSets []Set
			var wantErrs []*Error
			var wantRest []ikev2.Payload
			for i, s := range c.steps {
				set, err, other := m.Feed(s.p)
				if !reflect.DeepEqual(set, s.set) {
					t.Errorf("step %d: set %v, want %v", i+1, set, s.set)
				}
				if !reflect.DeepEqual(err, s.err) {
					t.Errorf("step %d: error %v, want %v", i+1, err, s.err)
				}
				if other != s.other {
					t.Errorf("step %d: other %v, want %v", i+1, other, s.other)
				}
				if m.State() != s.state {
					t.Errorf("step %d: state %s, want %s", i+1, m.State(), s.state)
				}
				ps = append(ps, s.p)
				if s.set != nil {
					wantSets = append(wantSets, *s.set)
				}
				if s.err != nil {
					wantErrs = append(wantErrs, s.err)
				}
				if s.other {
					wantRest = append(wantRest, s.p)
				}
			}
			if e := m.End(); !reflect.DeepEqual(e, c.end) {
				t.Errorf("End: %v, want %v", e, c.end)
			}
			if m.State() != StateNull {
				t.Errorf("after End: %s", m.State())
			}
			if c.end != nil {
				wantErrs = append(wantErrs, c.end)
			}
			// ReadSets gives the same answer in one call.
			sets, errs, rest := ReadSets(ps)
			if !reflect.DeepEqual(sets, wantSets) || !reflect.DeepEqual(errs, wantErrs) || !reflect.DeepEqual(rest, wantRest) {
				t.Errorf("ReadSets:\n sets %v\n errs %v\n rest %v\nwant\n sets %v\n errs %v\n rest %v",
					sets, errs, rest, wantSets, wantErrs, wantRest)
			}
		})
	}
}

// testSets is a request's worth of sets of every kind.
func testSets() []Set {
	return []Set{
		{ID: 1, Actions: []Action{updateAction}},
		{ID: 2, Check: true, SPIs: []SPI{ChildSPI(0xabcdef01), CurrentIKE(), IKESPI(3, 4)},
			Actions: []Action{{Kind: ActionAdd, IPs: []IP{{Addr: v6a, New: true, Child: true,
				Info: &Info{Preference: 9, Class: ClassWired, Reachability: Reachable}}}}}},
		{ID: 3, Mode: ModeTransport, Proto: ikev2.ProtocolESP,
			Selectors: []ikev2.Selector{
				ikev2.PrefixSelector(netip.MustParsePrefix("10.1.0.10/32"), 17),
				ikev2.PrefixSelector(netip.MustParsePrefix("2001:db8::/48"), 0),
			},
			Actions: []Action{
				{Kind: ActionUpdate, IPs: []IP{{Addr: v4a, Old: true, Receiver: true}, {Addr: v4b, New: true, Receiver: true},
					{Addr: v6a, Old: true, Receiver: true}, {Addr: v6b, New: true, Receiver: true}}},
				{Kind: ActionRemove, IPs: []IP{{Addr: v4a, Old: true, IKE: true}}},
				{Kind: ActionAdditional, IPs: []IP{{Addr: v6b, Info: &Info{Preference: 1}}}},
			}},
		{ID: 4, Mode: ModeTunnel},
		{Implicit: true, Actions: []Action{{Kind: ActionRemove, IPs: []IP{{Addr: v4b}}}}},
		{Implicit: true, Actions: []Action{{Kind: ActionAdd, IPs: []IP{{Addr: v4a}}}}},
	}
}

// TestSetsRoundTrip: what Payloads writes, ReadSets reads back whole,
// through an IKE message on the wire.
func TestSetsRoundTrip(t *testing.T) {
	sets := testSets()
	var ps []ikev2.Payload
	ps = append(ps, natd)
	for _, s := range sets {
		sp, err := s.Payloads()
		if err != nil {
			t.Fatalf("%v: %v", s, err)
		}
		ps = append(ps, sp...)
	}
	ps = append(ps, ikev2.NewNotify(ikev2.NotifyCookie2, make([]byte, 8)))
	m := &ikev2.Message{Header: ikev2.Header{SPIi: 1, SPIr: 2, Exchange: ikev2.ExchangeInformational,
		Flags: ikev2.FlagInitiator, MessageID: 5}, Payloads: ps}
	b, err := m.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	got, err := ikev2.Parse(b)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got.Payloads, ps) {
		t.Fatal("payloads changed on the wire")
	}
	rs, errs, rest := ReadSets(got.Payloads)
	if len(errs) != 0 {
		t.Fatalf("errors: %v", errs)
	}
	if !reflect.DeepEqual(rs, sets) {
		t.Fatalf("sets\n got %v\nwant %v", rs, sets)
	}
	if len(rest) != 2 || rest[0].(*ikev2.Notify).NotifyType != ikev2.NotifyNATDetectionSourceIP ||
		rest[1].(*ikev2.Notify).NotifyType != ikev2.NotifyCookie2 {
		t.Fatalf("rest %v", ikev2.Summary(rest))
	}
}

// TestSelectorGolden pins a SELECTOR's and an END_OF_SELECTOR's data.
func TestSelectorGolden(t *testing.T) {
	ps, err := Set{ID: 0x2a, Check: true, SPIs: []SPI{ChildSPI(0x01020304)}, Mode: ModeTransport,
		Actions: []Action{updateAction}}.Payloads()
	if err != nil {
		t.Fatal(err)
	}
	want := []struct {
		t    ikev2.NotifyType
		data string
	}{
		{ikev2.NotifySelector, "80 000000 | 07 00 0004 0000002a | 02 00 0006 03 04 01020304 | 04 00 0001 02"},
		{ikev2.NotifyUpdateSAAddresses, "03 00 0006 10 00 c0000201 | 03 00 0006 08 00 c0000202"},
		{ikev2.NotifyEndOfSelector, "07 00 0004 0000002a"},
	}
	if len(ps) != len(want) {
		t.Fatalf("%d payloads: %s", len(ps), ikev2.Summary(ps))
	}
	for i, w := range want {
		n := ps[i].(*ikev2.Notify)
		if n.NotifyType != w.t || n.Protocol != 0 || len(n.SPI) != 0 || string(n.Data) != string(unhex(t, w.data)) {
			t.Errorf("payload %d: %v, want %s data %s", i, n, w.t, w.data)
		}
	}
	ps, err = Set{Implicit: true, Actions: []Action{updateAction}}.Payloads()
	if err != nil || len(ps) != 1 || ps[0].(*ikev2.Notify).NotifyType != ikev2.NotifyUpdateSAAddresses {
		t.Fatalf("implicit set: %v %v", ikev2.Summary(ps), err)
	}
}

// TestPayloadsInvalid: Payloads refuses what the grammar does not allow.
func TestPayloadsInvalid(t *testing.T) {
	for _, c := range []struct {
		name string
		s    Set
	}{
		{"UPDATE with OLD_IP only", Set{ID: 1, Actions: []Action{{Kind: ActionUpdate, IPs: []IP{{Addr: v4a, Old: true}}}}}},
		{"UPDATE with two pairs of a family", Set{ID: 1, Actions: []Action{{Kind: ActionUpdate, IPs: []IP{
			{Addr: v4a, Old: true}, {Addr: v4b, New: true}, {Addr: v4b, Old: true}, {Addr: v4a, New: true}}}}}},
		{"UPDATE of mixed families", Set{ID: 1, Actions: []Action{{Kind: ActionUpdate, IPs: []IP{
			{Addr: v4a, Old: true}, {Addr: v6a, New: true}}}}}},
		{"UPDATE with an address neither old nor new", Set{ID: 1, Actions: []Action{{Kind: ActionUpdate, IPs: []IP{
			{Addr: v4a, Old: true}, {Addr: v4b, New: true}, {Addr: v6a}}}}}},
		{"UPDATE pair naming both sides", Set{ID: 1, Actions: []Action{{Kind: ActionUpdate, IPs: []IP{
			{Addr: v4a, Old: true, Receiver: true}, {Addr: v4b, New: true}}}}}},
		{"ADD of an old address", Set{ID: 1, Actions: []Action{{Kind: ActionAdd, IPs: []IP{{Addr: v4a, Old: true}}}}}},
		{"REMOVE of a new address", Set{ID: 1, Actions: []Action{{Kind: ActionRemove, IPs: []IP{{Addr: v4a, New: true}}}}}},
		{"ADDITIONAL of the receiver", Set{ID: 1, Actions: []Action{{Kind: ActionAdditional, IPs: []IP{{Addr: v4a, Receiver: true}}}}}},
		{"action without addresses", Set{ID: 1, Actions: []Action{{Kind: ActionAdd}}}},
		{"unknown action", Set{ID: 1, Actions: []Action{{Kind: 9, IPs: []IP{{Addr: v4a}}}}}},
		{"address not set", Set{ID: 1, Actions: []Action{{Kind: ActionAdd, IPs: []IP{{}}}}}},
		{"address with a zone", Set{ID: 1, Actions: []Action{{Kind: ActionAdd, IPs: []IP{{Addr: v6a.WithZone("eth0")}}}}}},
		{"O and N", Set{ID: 1, Actions: []Action{{Kind: ActionAdditional, IPs: []IP{{Addr: v4a, Old: true, New: true}}}}}},
		{"bad mode", Set{ID: 1, Mode: 3}},
		{"IKE as IPSEC_PROTO", Set{ID: 1, Proto: ikev2.ProtocolIKE}},
		{"ESP SPI of 8 octets", Set{ID: 1, SPIs: []SPI{{Protocol: ikev2.ProtocolESP, Value: make([]byte, 8)}}}},
		{"SPI without protocol", Set{ID: 1, SPIs: []SPI{{Value: make([]byte, 4)}}}},
		{"IPv4 selector with IPv6 addresses", Set{ID: 1, Selectors: []ikev2.Selector{{Type: ikev2.TSIPv4AddrRange, Start: v6a, End: v6b}}}},
		{"implicit with an ID", Set{ID: 1, Implicit: true, Actions: []Action{updateAction}}},
		{"implicit with a selection", Set{Implicit: true, Mode: ModeTunnel, Actions: []Action{updateAction}}},
		{"implicit with two actions", Set{Implicit: true, Actions: []Action{updateAction, updateAction}}},
		{"implicit without action", Set{Implicit: true}},
		{"action too long for a Notify payload", Set{ID: 1, Actions: []Action{{Kind: ActionAdd, IPs: manyIPs(2800)}}}},
		{"SELECTOR too long for a Notify payload", Set{ID: 1, SPIs: manySPIs(7000)}},
	} {
		t.Run(c.name, func(t *testing.T) {
			ps, err := c.s.Payloads()
			if !errors.Is(err, ErrInvalid) || ps != nil {
				t.Fatalf("got %s, %v; want ErrInvalid", ikev2.Summary(ps), err)
			}
		})
	}
}

// TestResults: errors and CLOSING_SA are matched to the sets sent by ID,
// in order when IDs repeat.
func TestResults(t *testing.T) {
	sets := testSets()
	addrErr := &Error{Type: ikev2.NotifyUnacceptableAddress, ID: 3, Param: ipParam(IP{Addr: v4b, New: true, Receiver: true})}
	resp := []ikev2.Payload{
		natd,
		addrErr.Notify(),
		ClosingNotify(2, ChildSPI(0xabcdef01), CurrentIKE()),
		(&Error{Type: ikev2.NotifyDoesNotFitSPD, ID: 0}).Notify(),
		(&Error{Type: ikev2.NotifyUnmatchedSelectorSet, ID: 99}).Notify(), // not a set we sent
		ClosingNotify(0, ChildSPI(7)),
	}
	rs := Results(sets, resp)
	want := []Result{
		{ID: 1},
		{ID: 2, Closing: []SPI{ChildSPI(0xabcdef01), CurrentIKE()}},
		{ID: 3, Err: addrErr},
		{ID: 4},
		{ID: 0, Err: &Error{Type: ikev2.NotifyDoesNotFitSPD}},
		{ID: 0, Closing: []SPI{ChildSPI(7)}},
	}
	if !reflect.DeepEqual(rs, want) {
		t.Fatalf("results\n got %+v\nwant %+v", rs, want)
	}
	if s := addrErr.Error(); s != "mobikex: set 3: UNACCEPTABLE_ADDRESS (IP(N H 192.0.2.2))" {
		t.Errorf("Error() = %q", s)
	}
}

// TestErrorNotify pins an error's data and reads it back.
func TestErrorNotify(t *testing.T) {
	e := &Error{Type: ikev2.NotifyUnacceptableParameter, ID: 5, Param: unknownParam(0x55)}
	n := e.Notify()
	if n.NotifyType != ikev2.NotifyUnacceptableParameter || string(n.Data) != string(unhex(t, "07 00 0004 00000005 | d5 00 0001 55")) {
		t.Fatalf("notify %v", n)
	}
	got, ok := ReadError(n)
	if !ok || !reflect.DeepEqual(got, e) {
		t.Fatalf("ReadError %v %v", got, ok)
	}
	if _, ok := ReadError(natd); ok {
		t.Fatal("NAT detection read as a MOBIKE-X error")
	}
	if _, ok := ReadError(nil); ok {
		t.Fatal("nil read as an error")
	}
	got, ok = ReadError(ikev2.NewNotify(ikev2.NotifyDoesNotFitSPD, []byte{1, 2}))
	if !ok || got.ID != 0 || got.Param != nil {
		t.Fatalf("unreadable data: %v %v", got, ok)
	}
	if !IsError(ikev2.NotifyUnexpectedPayloadAfterSelector) || IsError(ikev2.NotifyClosingSA) {
		t.Fatal("IsError")
	}
}

// TestReadClosing covers CLOSING_SA's grammar.
func TestReadClosing(t *testing.T) {
	id, spis, err := ReadClosing(ClosingNotify(8, ChildSPI(1), IKESPI(5, 6)))
	if err != nil || id != 8 || !reflect.DeepEqual(spis, []SPI{ChildSPI(1), IKESPI(5, 6)}) {
		t.Fatalf("%d %v %v", id, spis, err)
	}
	for _, n := range []*ikev2.Notify{
		nil,
		natd,
		ikev2.NewNotify(ikev2.NotifyClosingSA, nil),
		ikev2.NewNotify(ikev2.NotifyClosingSA, MarshalParams([]Param{SPIParam(ChildSPI(1))})),
		ikev2.NewNotify(ikev2.NotifyClosingSA, MarshalParams([]Param{IDParam(1), IPParam(IP{Addr: v4a})})),
		ikev2.NewNotify(ikev2.NotifyClosingSA, []byte{7, 0}),
	} {
		if _, _, err := ReadClosing(n); !errors.Is(err, ErrMalformed) {
			t.Errorf("%v: %v, want ErrMalformed", n, err)
		}
	}
}

func manyIPs(n int) []IP {
	ips := make([]IP, n)
	for i := range ips {
		ips[i] = IP{Addr: v6a, Info: &Info{}}
	}
	return ips
}

func manySPIs(n int) []SPI {
	spis := make([]SPI, n)
	for i := range spis {
		spis[i] = ChildSPI(uint32(i))
	}
	return spis
}

// TestPayloadsLongest: the largest action that fits a Notify payload is
// accepted and goes through the IKEv2 codec.
func TestPayloadsLongest(t *testing.T) {
	ps, err := Set{ID: 1, Actions: []Action{{Kind: ActionAdd, IPs: manyIPs(1927)}}}.Payloads() // 1927*34 = 65518
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := ikev2.MarshalPayloads(ps); err != nil {
		t.Fatal(err)
	}
	if _, err := (Set{ID: 1, Actions: []Action{{Kind: ActionAdd, IPs: manyIPs(1928)}}}).Payloads(); !errors.Is(err, ErrInvalid) {
		t.Fatalf("one more address: %v", err)
	}
}
