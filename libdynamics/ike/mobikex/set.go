package mobikex

import (
	"fmt"
	"strings"

	"github.com/dynamics-go/dynamics/libdynamics/ikev2"
)

// selectorFlagsLen is a SELECTOR's Flags octet and three RESERVED octets.
const selectorFlagsLen = 4

// flagCheck is the SELECTOR's CHECK flag: validate only.
const flagCheck = 0x80

// maxNotifyData is the most data a Notify payload without SPI can carry:
// the payload's 16-bit length less its generic header and the Protocol
// ID, SPI Size and Notify Message Type.
const maxNotifyData = ikev2.MaxPayloadLen - ikev2.PayloadHeaderLen - 4

// ActionKind is what an action does to the selected SAs' addresses.
type ActionKind uint8

// Actions, one per notification type.
const (
	ActionUpdate     ActionKind = iota // UPDATE_SA_ADDRESSES: OLD_IP becomes NEW_IP
	ActionAdd                          // ADD_SA_ADDRESS
	ActionRemove                       // REMOVE_SA_ADDRESS
	ActionAdditional                   // ADDITIONAL_IP_ADDRESS
)

var actionNotify = map[ActionKind]ikev2.NotifyType{
	ActionUpdate:     ikev2.NotifyUpdateSAAddresses,
	ActionAdd:        ikev2.NotifyAddSAAddress,
	ActionRemove:     ikev2.NotifyRemoveSAAddress,
	ActionAdditional: ikev2.NotifyAdditionalIPAddress,
}

// Notify returns the notification type that carries the action.
func (k ActionKind) Notify() ikev2.NotifyType { return actionNotify[k] }

// String returns the notification's name, or action(n).
func (k ActionKind) String() string {
	if t, ok := actionNotify[k]; ok {
		return t.String()
	}
	return fmt.Sprintf("action(%d)", uint8(k))
}

// actionKind returns the action a notification type carries.
func actionKind(t ikev2.NotifyType) (ActionKind, bool) {
	for k, nt := range actionNotify {
		if nt == t {
			return k, true
		}
	}
	return 0, false
}

// Action is one address operation of a selector set.
type Action struct {
	Kind ActionKind
	// IPs are the action's IP parameters: for ActionUpdate exactly one
	// OLD_IP (O) and one NEW_IP (N) per address family, the two of a pair
	// naming the same side (H alike); ADD and ADDITIONAL addresses are
	// new (N implied, O not allowed), REMOVE addresses old (O implied, N
	// not allowed); ADDITIONAL addresses are the sender's (H not allowed).
	IPs []IP
}

// String renders the action as "UPDATE_SA_ADDRESSES [O 10.0.0.1, N 10.0.0.2]".
func (a Action) String() string {
	parts := make([]string, len(a.IPs))
	for i, ip := range a.IPs {
		parts[i] = ip.String()
	}
	return fmt.Sprintf("%s [%s]", a.Kind, strings.Join(parts, ", "))
}

// check applies the grammar of the action's IP parameters. It returns the
// offending IP (nil when the problem is the action as a whole).
func (a Action) check() (*IP, error) {
	if _, ok := actionNotify[a.Kind]; !ok {
		return nil, fmt.Errorf("%s: unknown action: %w", a.Kind, ErrInvalid)
	}
	if len(a.IPs) == 0 {
		return nil, fmt.Errorf("%s without an IP parameter: %w", a.Kind, ErrInvalid)
	}
	type side struct {
		old, new   int
		oldH, newH bool
	}
	var fam [2]side // IPv4, IPv6
	for i := range a.IPs {
		ip := &a.IPs[i]
		if err := ip.check(); err != nil {
			return ip, fmt.Errorf("%s: %w", a.Kind, err)
		}
		switch a.Kind {
		case ActionUpdate:
			f := &fam[0]
			if ip.Addr.Is6() {
				f = &fam[1]
			}
			switch {
			case ip.Old:
				f.old++
				f.oldH = ip.Receiver
			case ip.New:
				f.new++
				f.newH = ip.Receiver
			default:
				return ip, fmt.Errorf("%s: %s is neither OLD_IP (O) nor NEW_IP (N): %w", a.Kind, ip, ErrInvalid)
			}
		case ActionAdd:
			if ip.Old {
				return ip, fmt.Errorf("%s: added address %s marked old (O): %w", a.Kind, ip, ErrInvalid)
			}
		case ActionRemove:
			if ip.New {
				return ip, fmt.Errorf("%s: removed address %s marked new (N): %w", a.Kind, ip, ErrInvalid)
			}
		case ActionAdditional:
			if ip.Old || ip.Receiver {
				return ip, fmt.Errorf("%s: additional address %s marked old (O) or the receiver's (H): %w", a.Kind, ip, ErrInvalid)
			}
		}
	}
	if a.Kind == ActionUpdate {
		pairs := 0
		for i, f := range fam {
			name := [2]string{"IPv4", "IPv6"}[i]
			switch {
			case f.old == 0 && f.new == 0:
			case f.old != 1 || f.new != 1:
				return nil, fmt.Errorf("%s: %d OLD_IP and %d NEW_IP of %s, want one of each: %w",
					a.Kind, f.old, f.new, name, ErrInvalid)
			case f.oldH != f.newH:
				return nil, fmt.Errorf("%s: the %s OLD_IP and NEW_IP name different sides (H): %w", a.Kind, name, ErrInvalid)
			default:
				pairs++
			}
		}
		if pairs == 0 {
			return nil, fmt.Errorf("%s without an OLD_IP/NEW_IP pair: %w", a.Kind, ErrInvalid)
		}
	}
	return nil, nil
}

// notify builds the action's notification.
func (a Action) notify() *ikev2.Notify {
	ps := make([]Param, len(a.IPs))
	for i, ip := range a.IPs {
		ps[i] = IPParam(ip)
	}
	return ikev2.NewNotify(a.Kind.Notify(), MarshalParams(ps))
}

// Set is a selector set: a selection of SAs (of the peer identity the IKE
// SA was negotiated with) and the actions to apply to them, all or none.
type Set struct {
	// ID names the set; the requester chooses it and every answer about
	// the set echoes it.
	ID uint32
	// Check asks for validation only: nothing changes, the answer tells
	// what would.
	Check bool
	// SPIs name the selected SAs. When empty, Mode, Proto and Selectors
	// select child SAs; when all are empty the set selects the default,
	// IKE_SA_AND_CHILD_SA.
	SPIs []SPI
	// Mode selects child SAs of that mode (ModeAny: either).
	Mode Mode
	// Proto selects child SAs of that protocol, AH or ESP (0: any).
	Proto ikev2.Protocol
	// Selectors select child SAs whose traffic selectors intersect one
	// of them.
	Selectors []ikev2.Selector
	// Actions are the set's address operations, in order.
	Actions []Action
	// Implicit marks a set read from an action outside any SELECTOR (ID 0,
	// default selection, one action); Payloads then writes the action
	// alone.
	Implicit bool
}

// Default reports whether the set selects IKE_SA_AND_CHILD_SA: the IKE SA
// the message travels on and all its child SAs.
func (s Set) Default() bool {
	return len(s.SPIs) == 0 && s.Mode == ModeAny && s.Proto == ikev2.ProtocolNone && len(s.Selectors) == 0
}

// String renders the set for logs.
func (s Set) String() string {
	var b strings.Builder
	fmt.Fprintf(&b, "set %d", s.ID)
	if s.Implicit {
		b.WriteString(" implicit")
	}
	if s.Check {
		b.WriteString(" CHECK")
	}
	if s.Default() {
		b.WriteString(" IKE_SA_AND_CHILD_SA")
	}
	for _, spi := range s.SPIs {
		fmt.Fprintf(&b, " spi %s", spi)
	}
	if s.Mode != ModeAny {
		fmt.Fprintf(&b, " mode %s", s.Mode)
	}
	if s.Proto != ikev2.ProtocolNone {
		fmt.Fprintf(&b, " proto %s", s.Proto)
	}
	for _, ts := range s.Selectors {
		fmt.Fprintf(&b, " ts %s", ts)
	}
	for _, a := range s.Actions {
		fmt.Fprintf(&b, "; %s", a)
	}
	return b.String()
}

// params returns the SELECTOR's parameters: ID, SPIs, mode, protocol,
// selector values.
func (s Set) params() []Param {
	ps := []Param{IDParam(s.ID)}
	for _, spi := range s.SPIs {
		ps = append(ps, SPIParam(spi))
	}
	if s.Mode != ModeAny {
		ps = append(ps, ModeParam(uint8(s.Mode)))
	}
	if s.Proto != ikev2.ProtocolNone {
		ps = append(ps, ProtoParam(s.Proto))
	}
	for _, ts := range s.Selectors {
		ps = append(ps, SelectorParam(ts))
	}
	return ps
}

// check validates the set as Payloads would send it.
func (s Set) check() error {
	for _, spi := range s.SPIs {
		if err := spi.check(); err != nil {
			return fmt.Errorf("set %d: %w: %w", s.ID, err, ErrInvalid)
		}
	}
	if s.Mode != ModeAny && s.Mode != ModeTunnel && s.Mode != ModeTransport {
		return fmt.Errorf("set %d: %s: %w", s.ID, s.Mode, ErrInvalid)
	}
	if s.Proto != ikev2.ProtocolNone && s.Proto != ikev2.ProtocolAH && s.Proto != ikev2.ProtocolESP {
		return fmt.Errorf("set %d: IPSEC_PROTO %s, want AH or ESP: %w", s.ID, s.Proto, ErrInvalid)
	}
	for _, ts := range s.Selectors {
		if err := checkSelector(ts); err != nil {
			return fmt.Errorf("set %d: %w", s.ID, err)
		}
	}
	for _, a := range s.Actions {
		if _, err := a.check(); err != nil {
			return fmt.Errorf("set %d: %w", s.ID, err)
		}
		if n := len(a.notify().Data); n > maxNotifyData {
			return fmt.Errorf("set %d: %s data of %d octets: %w", s.ID, a.Kind, n, ErrInvalid)
		}
	}
	if s.Implicit && (!s.Default() || s.Check || s.ID != 0 || len(s.Actions) != 1) {
		return fmt.Errorf("set %d: an implicit set has ID 0, the default selection, no CHECK and one action: %w",
			s.ID, ErrInvalid)
	}
	if n := len(MarshalParams(s.params())); n+selectorFlagsLen > maxNotifyData {
		return fmt.Errorf("set %d: SELECTOR data of %d octets: %w", s.ID, n, ErrInvalid)
	}
	return nil
}

// Payloads returns the set's notifications in order: SELECTOR (Flags,
// then ID, SPIs, IPSEC_MODE, IPSEC_PROTO, SELECTOR_SPECIFIC_VALUEs), one
// notification per action, END_OF_SELECTOR (ID). An implicit set is its
// action alone. A set the grammar does not allow is an error wrapping
// ErrInvalid and no payloads.
func (s Set) Payloads() ([]ikev2.Payload, error) {
	if err := s.check(); err != nil {
		return nil, err
	}
	if s.Implicit {
		return []ikev2.Payload{s.Actions[0].notify()}, nil
	}
	data := make([]byte, selectorFlagsLen)
	if s.Check {
		data[0] = flagCheck
	}
	data = append(data, MarshalParams(s.params())...)
	ps := []ikev2.Payload{ikev2.NewNotify(ikev2.NotifySelector, data)}
	for _, a := range s.Actions {
		ps = append(ps, a.notify())
	}
	return append(ps, ikev2.NewNotify(ikev2.NotifyEndOfSelector, MarshalParams([]Param{IDParam(s.ID)}))), nil
}

// errorTypes are the five MOBIKE-X error notifications.
var errorTypes = map[ikev2.NotifyType]bool{
	ikev2.NotifyUnacceptableAddress:            true,
	ikev2.NotifyDoesNotFitSPD:                  true,
	ikev2.NotifyUnacceptableParameter:          true,
	ikev2.NotifyUnexpectedPayloadAfterSelector: true,
	ikev2.NotifyUnmatchedSelectorSet:           true,
}

// IsError reports whether t is one of the five MOBIKE-X error types.
func IsError(t ikev2.NotifyType) bool { return errorTypes[t] }

// Error is a MOBIKE-X error about one set.
type Error struct {
	// Type is UNACCEPTABLE_ADDRESS, DOES_NOT_FIT_SPD,
	// UNACCEPTABLE_PARAMETER, UNEXPECTED_PAYLOAD_AFTER_SELECTOR or
	// UNMATCHED_SELECTOR_SET.
	Type ikev2.NotifyType
	// ID is the set's ID (0 for an implicit set, or a SELECTOR whose ID
	// could not be read).
	ID uint32
	// Param is the offending parameter, or nil: an IP parameter, or for an
	// unknown critical parameter a parameter of that type, C set, whose
	// 1-octet value is the type.
	Param *Param
}

// Error renders the error as "mobikex: set 7: UNACCEPTABLE_ADDRESS (IP(O 10.0.0.1))".
func (e *Error) Error() string {
	s := fmt.Sprintf("mobikex: set %d: %s", e.ID, e.Type)
	if e.Param != nil {
		s += fmt.Sprintf(" (%s)", e.Param)
	}
	return s
}

// Notify returns the error's notification: the ID parameter, then the
// offending parameter if any.
func (e *Error) Notify() *ikev2.Notify {
	ps := []Param{IDParam(e.ID)}
	if e.Param != nil {
		ps = append(ps, *e.Param)
	}
	return ikev2.NewNotify(e.Type, MarshalParams(ps))
}

// unknownParam returns the Error.Param naming an unknown critical type.
func unknownParam(t ParamType) *Param {
	return &Param{Critical: true, Type: t, Value: []byte{byte(t)}}
}

// ReadError reads one of the five MOBIKE-X error notifications; ok is
// false for any other type. Data that does not start with an ID parameter
// gives ID 0; a second parameter, of any type, is the offending one.
func ReadError(n *ikev2.Notify) (*Error, bool) {
	if n == nil || !errorTypes[n.NotifyType] {
		return nil, false
	}
	e := &Error{Type: n.NotifyType}
	ps, err := parseRaw(n.Data)
	if err != nil || len(ps) == 0 {
		return e, true
	}
	if id, err := ps[0].ID(); err == nil {
		e.ID = id
	}
	if len(ps) > 1 {
		p := ps[1]
		e.Param = &p
	}
	return e, true
}

// ClosingNotify builds CLOSING_SA(ID, SPIs): the SAs of set id that the
// responder closes because their last address went.
func ClosingNotify(id uint32, spis ...SPI) *ikev2.Notify {
	ps := []Param{IDParam(id)}
	for _, s := range spis {
		ps = append(ps, SPIParam(s))
	}
	return ikev2.NewNotify(ikev2.NotifyClosingSA, MarshalParams(ps))
}

// ReadClosing reads a CLOSING_SA notification: the set's ID and the SPIs
// of the SAs closed.
func ReadClosing(n *ikev2.Notify) (id uint32, spis []SPI, err error) {
	if n == nil || n.NotifyType != ikev2.NotifyClosingSA {
		return 0, nil, fmt.Errorf("not a CLOSING_SA notification: %w", ErrMalformed)
	}
	ps, err := ParseParams(n.Data)
	if err != nil {
		return 0, nil, fmt.Errorf("%s: %w", n.NotifyType, err)
	}
	if len(ps) == 0 || ps[0].Type != ParamID {
		return 0, nil, fmt.Errorf("%s without a leading ID parameter: %w", n.NotifyType, ErrMalformed)
	}
	id, _ = ps[0].ID()
	for _, p := range ps[1:] {
		if p.Type != ParamSPI {
			if p.Type.Known() {
				return 0, nil, fmt.Errorf("%s with a %s parameter: %w", n.NotifyType, p.Type, ErrMalformed)
			}
			continue
		}
		s, _ := p.SPI()
		spis = append(spis, s)
	}
	return id, spis, nil
}
