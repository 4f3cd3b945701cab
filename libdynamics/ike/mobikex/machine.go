package mobikex

import (
	"errors"
	"fmt"

	"github.com/dynamics-go/dynamics/libdynamics/ikev2"
)

// State is the responder's selector-set state (draft section 8).
//
//	          SELECTOR (valid)              END_OF_SELECTOR (same ID)
//	NULL ------------------------> START -------------------------> ESTABLISHED
//	 ^  \ SELECTOR (bad params)     |  \ END_OF_SELECTOR (other ID):      |
//	 |   \                          |   \ UNMATCHED_SELECTOR_SET -> NULL  |
//	 |    v                         |                                     |
//	 +--- ERROR <-------------------+ other payload, bad action:          |
//	END_OF_SELECTOR    UNEXPECTED_PAYLOAD_AFTER_SELECTOR /                |
//	                   UNACCEPTABLE_PARAMETER                             |
//	ESTABLISHED behaves as NULL: a SELECTOR opens the next set. <---------+
//
// An action outside any set is an implicit set, complete at once
// (ESTABLISHED). End of the message in START is UNMATCHED_SELECTOR_SET.
type State uint8

// States.
const (
	StateNull        State = iota // no set open
	StateStart                    // a SELECTOR opened a set; its actions are being collected
	StateEstablished              // the last set is complete
	StateError                    // the open set failed; skipping to its END_OF_SELECTOR
)

// String returns the draft's name of the state.
func (s State) String() string {
	switch s {
	case StateNull:
		return "NULL"
	case StateStart:
		return "START"
	case StateEstablished:
		return "ESTABLISHED"
	case StateError:
		return "ERROR"
	}
	return fmt.Sprintf("State(%d)", uint8(s))
}

// Machine is the responder's selector-set state machine: one pass over a
// request's payloads, in order. The zero value is ready, in StateNull; it
// may be reused for the next request after End.
type Machine struct {
	state State
	open  Set // the set being collected (START) or skipped (ERROR)
}

// State returns the current state.
func (m *Machine) State() State { return m.state }

// Feed takes the request's next payload. It returns a finished set (at
// its END_OF_SELECTOR, or an implicit set for an action outside any set),
// or a set error, or neither: the payload was collected into the open set
// or skipped in a failed one (other false), or it is not a MOBIKE-X
// payload outside any set (other true: the caller handles it as RFC
// 7296/4555 say, an empty UPDATE_SA_ADDRESSES included). A payload inside
// an open set is never handed back.
func (m *Machine) Feed(p ikev2.Payload) (set *Set, err *Error, other bool) {
	n, _ := p.(*ikev2.Notify)
	if n == nil {
		return m.foreign()
	}
	switch m.state {
	case StateStart:
		return m.inSet(n)
	case StateError:
		if n.NotifyType == ikev2.NotifyEndOfSelector {
			m.state = StateNull
			m.open = Set{}
		}
		return nil, nil, false
	}
	// NULL or ESTABLISHED: no set open.
	switch n.NotifyType {
	case ikev2.NotifySelector:
		s, e := readSelector(n)
		if e != nil {
			m.state, m.open = StateError, Set{ID: e.ID}
			return nil, e, false
		}
		m.state, m.open = StateStart, s
		return nil, nil, false
	case ikev2.NotifyEndOfSelector:
		id, _ := readEnd(n)
		return nil, &Error{Type: ikev2.NotifyUnmatchedSelectorSet, ID: id}, false
	case ikev2.NotifyUpdateSAAddresses, ikev2.NotifyAddSAAddress, ikev2.NotifyRemoveSAAddress, ikev2.NotifyAdditionalIPAddress:
		if n.NotifyType == ikev2.NotifyUpdateSAAddresses && len(n.Data) == 0 {
			return nil, nil, true // RFC 4555 update
		}
		a, e := readAction(n, 0)
		if e != nil {
			m.state = StateNull
			return nil, e, false
		}
		m.state = StateEstablished
		return &Set{Implicit: true, Actions: []Action{a}}, nil, false
	}
	return nil, nil, true
}

// foreign handles a payload that is not a notification.
func (m *Machine) foreign() (*Set, *Error, bool) {
	switch m.state {
	case StateStart:
		m.state = StateError
		return nil, &Error{Type: ikev2.NotifyUnexpectedPayloadAfterSelector, ID: m.open.ID}, false
	case StateError:
		return nil, nil, false
	}
	return nil, nil, true
}

// inSet handles a notification while a set is open.
func (m *Machine) inSet(n *ikev2.Notify) (*Set, *Error, bool) {
	id := m.open.ID
	switch n.NotifyType {
	case ikev2.NotifyUpdateSAAddresses, ikev2.NotifyAddSAAddress, ikev2.NotifyRemoveSAAddress, ikev2.NotifyAdditionalIPAddress:
		a, e := readAction(n, id)
		if e != nil {
			m.state = StateError
			return nil, e, false
		}
		m.open.Actions = append(m.open.Actions, a)
		return nil, nil, false
	case ikev2.NotifyEndOfSelector:
		end, ok := readEnd(n)
		if !ok || end != id {
			m.state, m.open = StateNull, Set{}
			return nil, &Error{Type: ikev2.NotifyUnmatchedSelectorSet, ID: id}, false
		}
		s := m.open
		m.state, m.open = StateEstablished, Set{}
		return &s, nil, false
	}
	m.state = StateError
	return nil, &Error{Type: ikev2.NotifyUnexpectedPayloadAfterSelector, ID: id}, false
}

// End closes the message: an open set is UNMATCHED_SELECTOR_SET (its
// END_OF_SELECTOR never came). The machine is back in StateNull.
func (m *Machine) End() *Error {
	var e *Error
	if m.state == StateStart {
		e = &Error{Type: ikev2.NotifyUnmatchedSelectorSet, ID: m.open.ID}
	}
	m.state, m.open = StateNull, Set{}
	return e
}

// unacceptable returns UNACCEPTABLE_PARAMETER for set id, naming the
// offending parameter when err says which.
func unacceptable(id uint32, err error, offending *Param) *Error {
	e := &Error{Type: ikev2.NotifyUnacceptableParameter, ID: id, Param: offending}
	var uc *UnknownCriticalError
	if errors.As(err, &uc) {
		e.Param = unknownParam(uc.Type)
	}
	return e
}

// rawID returns the value of the first well-formed ID parameter of data,
// or 0.
func rawID(data []byte) uint32 {
	ps, err := parseRaw(data)
	if err != nil {
		return 0
	}
	for _, p := range ps {
		if id, err := p.ID(); err == nil {
			return id
		}
	}
	return 0
}

// readSelector reads a SELECTOR notification into an open set. Problems
// are UNACCEPTABLE_PARAMETER with the set's ID if one can be read.
func readSelector(n *ikev2.Notify) (Set, *Error) {
	if len(n.Data) < selectorFlagsLen {
		return Set{}, unacceptable(0, nil, nil)
	}
	data := n.Data[selectorFlagsLen:]
	id := rawID(data)
	bad := func(err error, p *Param) (Set, *Error) { return Set{}, unacceptable(id, err, p) }
	if len(n.SPI) > 0 {
		return bad(nil, nil)
	}
	ps, err := ParseParams(data)
	if err != nil {
		return bad(err, nil)
	}
	s := Set{Check: n.Data[0]&flagCheck != 0}
	ids, modes, protos := 0, 0, 0
	for i := range ps {
		p := &ps[i]
		switch p.Type {
		case ParamID:
			ids++
			s.ID, _ = p.ID()
		case ParamSPI:
			spi, _ := p.SPI()
			s.SPIs = append(s.SPIs, spi)
		case ParamIPsecMode:
			modes++
			s.Mode, _ = p.Mode()
		case ParamIPsecProto:
			protos++
			s.Proto, _ = p.Proto()
		case ParamSelectorValue:
			ts, _ := p.Selector()
			s.Selectors = append(s.Selectors, ts)
		default:
			if p.Type.Known() { // VERSION or IP: not a selector's
				return bad(nil, p)
			}
		}
	}
	if ids != 1 || modes > 1 || protos > 1 {
		return bad(nil, nil)
	}
	return s, nil
}

// readEnd reads an END_OF_SELECTOR's ID: ok only when its data is exactly
// one ID parameter.
func readEnd(n *ikev2.Notify) (uint32, bool) {
	ps, err := ParseParams(n.Data)
	if err != nil || len(n.SPI) > 0 {
		return rawID(n.Data), false
	}
	if len(ps) != 1 || ps[0].Type != ParamID {
		return rawID(n.Data), false
	}
	id, _ := ps[0].ID()
	return id, true
}

// readAction reads an action notification of set id. Its data must be IP
// parameters (unknown non-critical ones are skipped) following the
// action's grammar.
func readAction(n *ikev2.Notify, id uint32) (Action, *Error) {
	kind, _ := actionKind(n.NotifyType)
	a := Action{Kind: kind}
	if len(n.SPI) > 0 {
		return Action{}, unacceptable(id, nil, nil)
	}
	ps, err := ParseParams(n.Data)
	if err != nil {
		return Action{}, unacceptable(id, err, nil)
	}
	for i := range ps {
		p := &ps[i]
		switch {
		case p.Type == ParamIP:
			ip, _ := p.IP()
			a.IPs = append(a.IPs, ip)
		case p.Type.Known():
			return Action{}, unacceptable(id, nil, p)
		}
	}
	if ip, err := a.check(); err != nil {
		var off *Param
		if ip != nil {
			pp := IPParam(*ip)
			off = &pp
		}
		return Action{}, unacceptable(id, err, off)
	}
	return a, nil
}

// ReadSets runs a Machine over a request's payloads: the complete sets in
// order (implicit ones included), the set errors in order, and the
// payloads that are not MOBIKE-X's, for RFC 7296/4555 processing.
func ReadSets(ps []ikev2.Payload) (sets []Set, errs []*Error, rest []ikev2.Payload) {
	var m Machine
	for _, p := range ps {
		s, e, other := m.Feed(p)
		switch {
		case s != nil:
			sets = append(sets, *s)
		case e != nil:
			errs = append(errs, e)
		case other:
			rest = append(rest, p)
		}
	}
	if e := m.End(); e != nil {
		errs = append(errs, e)
	}
	return sets, errs, rest
}

// Result is the answer about one set sent.
type Result struct {
	// ID is the set's ID.
	ID uint32
	// Err is the set's error, or nil when the set was applied (or, with
	// CHECK, would be).
	Err *Error
	// Closing names the SAs the responder closes because the set removed
	// their last address (CLOSING_SA).
	Closing []SPI
}

// Results reads a response: one Result per set sent, in order. Errors and
// CLOSING_SA notifications are matched to sets by ID; when several sets
// share an ID (implicit sets all have ID 0) they are matched in order, one
// error per set.
func Results(sets []Set, resp []ikev2.Payload) []Result {
	rs := make([]Result, len(sets))
	for i, s := range sets {
		rs[i].ID = s.ID
	}
	for _, p := range resp {
		n, _ := p.(*ikev2.Notify)
		if n == nil {
			continue
		}
		if e, ok := ReadError(n); ok {
			for i := range rs {
				if rs[i].ID == e.ID && rs[i].Err == nil {
					rs[i].Err = e
					break
				}
			}
			continue
		}
		if n.NotifyType == ikev2.NotifyClosingSA {
			id, spis, err := ReadClosing(n)
			if err != nil {
				continue
			}
			for i := range rs {
				if rs[i].ID == id && rs[i].Err == nil {
					rs[i].Closing = append(rs[i].Closing, spis...)
					break
				}
			}
		}
	}
	return rs
}
