// Package ike is the IKEv2 engine of the suite (RFC 7296): it negotiates IKE
// SAs and the ESP child SAs that protect the agents' signalling, keeps them
// alive across address changes with MOBIKE (RFC 4555), and traverses NATs
// (RFC 7296 section 2.23, RFC 3948).
package ike
