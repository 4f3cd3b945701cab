package mobikex

import (
	"fmt"
	"slices"

	"github.com/dynamics-go/dynamics/libdynamics/ikev2"
)

// SupportedNotify returns MOBIKE_SUPPORTED carrying the VERSION parameters
// vs; with none it is RFC 4555's empty notification (version 1 only).
func SupportedNotify(vs ...Param) *ikev2.Notify {
	var data []byte
	if len(vs) > 0 {
		data = MarshalParams(vs)
	}
	return ikev2.NewNotify(ikev2.NotifyMOBIKESupported, data)
}

// UnsupportedNotify returns MOBIKE_UNSUPPORTED_VERSION listing the versions
// the sender supports (or, in an INFORMATIONAL, still supports); a lone
// VersionNone switches mobility off for the IKE SA.
func UnsupportedNotify(vs ...Version) *ikev2.Notify {
	ps := make([]Param, len(vs))
	for i, v := range vs {
		ps[i] = VersionParam(v, false)
	}
	var data []byte
	if len(ps) > 0 {
		data = MarshalParams(ps)
	}
	return ikev2.NewNotify(ikev2.NotifyMOBIKEUnsupportedVersion, data)
}

// Offer is what a MOBIKE_SUPPORTED offers.
type Offer struct {
	// Versions are the versions offered, in the order of the data, unknown
	// ones included.
	Versions []Version
	// Critical are the offered versions whose VERSION carried the C bit:
	// the sender insists on them.
	Critical []Version
}

// ReadOffer reads the data of a MOBIKE_SUPPORTED: empty data is RFC 4555's
// offer, {Versions: [1]}. Parameters other than VERSION are ignored unless
// critical and unknown; malformed data is an error wrapping ErrMalformed
// (RFC 4555 tells a receiver to ignore the data, so a responder may then
// fall back to version 1).
func ReadOffer(n *ikev2.Notify) (Offer, error) {
	if n == nil || n.NotifyType != ikev2.NotifyMOBIKESupported {
		return Offer{}, fmt.Errorf("not a MOBIKE_SUPPORTED notification: %w", ErrMalformed)
	}
	if len(n.Data) == 0 {
		return Offer{Versions: []Version{VersionMOBIKE}}, nil
	}
	vs, crit, err := readVersions(n.Data)
	if err != nil {
		return Offer{}, fmt.Errorf("%s: %w", n.NotifyType, err)
	}
	return Offer{Versions: vs, Critical: crit}, nil
}

// ReadVersions reads the versions listed by a MOBIKE_SUPPORTED or
// MOBIKE_UNSUPPORTED_VERSION notification's VERSION parameters (empty
// data: none listed).
func ReadVersions(n *ikev2.Notify) ([]Version, error) {
	if n == nil {
		return nil, fmt.Errorf("no notification: %w", ErrMalformed)
	}
	vs, _, err := readVersions(n.Data)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", n.NotifyType, err)
	}
	return vs, nil
}

// readVersions parses data and returns its VERSION values and the critical
// ones.
func readVersions(data []byte) (vs, crit []Version, err error) {
	ps, err := ParseParams(data)
	if err != nil {
		return nil, nil, err
	}
	for _, p := range ps {
		if p.Type != ParamVersion {
			continue
		}
		v, _ := p.Version() // ParseParams checked it
		vs = append(vs, v)
		if p.Critical {
			crit = append(crit, v)
		}
	}
	return vs, crit, nil
}

// Choose is the responder's rule (draft section 7.1) for an offer read
// from the IKE_AUTH request's MOBIKE_SUPPORTED, given the versions the
// responder supports ({1} for a MOBIKE-only engine, {1, 2} with MOBIKE-X).
// It returns the SA's version and the notification for the response:
//
//  1. a critical offered version the responder does not support:
//     MOBIKE_UNSUPPORTED_VERSION(supported), version 0;
//  2. no version in common: MOBIKE_UNSUPPORTED_VERSION(supported),
//     version 0;
//  3. otherwise the highest common version v and MOBIKE_SUPPORTED with
//     VERSION v (empty, as RFC 4555, when the responder supports MOBIKE
//     only).
//
// With no supported version (no MOBIKE at all) it returns 0 and nil: no
// MOBIKE notification in the response. Unknown non-critical offered
// versions are ignored.
func Choose(offer Offer, supported []Version) (Version, *ikev2.Notify) {
	sup := supportedSet(supported)
	if len(sup) == 0 {
		return VersionNone, nil
	}
	refuse := func() (Version, *ikev2.Notify) { return VersionNone, UnsupportedNotify(sup...) }
	for _, v := range offer.Critical {
		if !slices.Contains(sup, v) {
			return refuse()
		}
	}
	best := VersionNone
	for _, v := range offer.Versions {
		if v != VersionNone && slices.Contains(sup, v) && v > best {
			best = v
		}
	}
	if best == VersionNone {
		return refuse()
	}
	if len(sup) == 1 && sup[0] == VersionMOBIKE {
		return best, SupportedNotify()
	}
	return best, SupportedNotify(VersionParam(best, false))
}

// supportedSet returns the distinct non-zero versions of vs, sorted.
func supportedSet(vs []Version) []Version {
	var out []Version
	for _, v := range vs {
		if v != VersionNone && !slices.Contains(out, v) {
			out = append(out, v)
		}
	}
	slices.Sort(out)
	return out
}

// Accepted is the initiator's rule reading the IKE_AUTH response payloads
// after offering the versions offered: MOBIKE_UNSUPPORTED_VERSION -> 0;
// MOBIKE_SUPPORTED empty -> 1 (an RFC 4555 peer); MOBIKE_SUPPORTED with
// VERSION v that was offered -> v (the highest such when several); a v
// not offered, or no VERSION -> 0 with a warning; unreadable data -> 1
// with a warning (RFC 4555 ignores the data), if 1 was offered; no MOBIKE
// notification -> 0. The warning is empty when nothing is amiss. An
// initiator that required version 2 and got 1 keeps the SA and warns
// itself (RFC 4555 peers cannot read the critical flag).
func Accepted(offered []Version, resp []ikev2.Payload) (v Version, warning string) {
	if n := ikev2.FindNotify(resp, ikev2.NotifyMOBIKEUnsupportedVersion); n != nil {
		vs, _ := ReadVersions(n)
		return VersionNone, fmt.Sprintf("peer refused the offered mobility versions %v (it supports %v): no mobility on this IKE SA", offered, vs)
	}
	n := ikev2.FindNotify(resp, ikev2.NotifyMOBIKESupported)
	if n == nil {
		return VersionNone, ""
	}
	if len(n.Data) == 0 {
		if slices.Contains(offered, VersionMOBIKE) {
			return VersionMOBIKE, ""
		}
		return VersionNone, fmt.Sprintf("peer answered MOBIKE (RFC 4555) which was not offered (%v)", offered)
	}
	vs, err := ReadVersions(n)
	if err != nil {
		if slices.Contains(offered, VersionMOBIKE) {
			return VersionMOBIKE, fmt.Sprintf("unreadable MOBIKE_SUPPORTED data (%v): taken as MOBIKE (RFC 4555)", err)
		}
		return VersionNone, fmt.Sprintf("unreadable MOBIKE_SUPPORTED data (%v)", err)
	}
	best := VersionNone
	for _, x := range vs {
		if x != VersionNone && slices.Contains(offered, x) && x > best {
			best = x
		}
	}
	if best == VersionNone {
		return VersionNone, fmt.Sprintf("peer chose mobility versions %v, none of them offered (%v): no mobility on this IKE SA", vs, offered)
	}
	return best, ""
}

// Lowered applies an INFORMATIONAL MOBIKE_UNSUPPORTED_VERSION listing
// list to an SA of version current whose engine supports supported: the
// highest version of list that the engine supports and that is not above
// current; 0 when there is none (a lone NONE switches mobility off).
// Versions never go up.
func Lowered(current Version, supported, list []Version) Version {
	best := VersionNone
	for _, v := range list {
		if v != VersionNone && v <= current && slices.Contains(supported, v) && v > best {
			best = v
		}
	}
	return best
}
