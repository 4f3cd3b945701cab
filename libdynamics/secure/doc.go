// Package secure protects the agents' registration signalling with IPsec:
// IKEv2 SAs (package ike) with the configured peers, whose transport-mode
// child SAs carry UDP port 434 in ESP (package esp), and which follow the
// mobile node's address changes with MOBIKE-X.
//
// An agent asks two things of it, through Protector: whether a datagram
// it received may be accepted (Check: a configured peer's signalling must
// have come out of an ESP SA), and whether a datagram may be sent now
// (Ready: never in clear to a peer that requires protection). The mobile
// node also moves its SAs when its own address changes (Mover).
package secure
