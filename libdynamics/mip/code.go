package mip

import "fmt"

// Code is the code of a Registration Reply: whether the registration was
// accepted and, if not, who denied it and why. The values are those of
// RFC 5944 section 3.4 and RFC 3024 section 3.3 as listed in IANA's
// "Mobile IPv4 Numbers" registry.
type Code uint8

// Registration accepted (RFC 5944).
const (
	CodeAccepted               Code = 0 // registration accepted
	CodeAcceptedNoSimultaneous Code = 1 // accepted, but simultaneous bindings unsupported
)

// Registration denied by the foreign agent (RFC 5944, RFC 3024).
const (
	CodeFAUnspecified           Code = 64 // reason unspecified
	CodeFAProhibited            Code = 65 // administratively prohibited
	CodeFAInsufficientResources Code = 66 // insufficient resources
	CodeFAMobileAuthFailed      Code = 67 // mobile node failed authentication
	CodeFAHomeAgentAuthFailed   Code = 68 // home agent failed authentication
	CodeFALifetimeTooLong       Code = 69 // requested Lifetime too long
	CodeFAPoorRequest           Code = 70 // poorly formed Request
	CodeFAPoorReply             Code = 71 // poorly formed Reply
	CodeFAEncapsulation         Code = 72 // requested encapsulation unavailable
	CodeFAReverseTunnel         Code = 74 // requested reverse tunnel unavailable (RFC 3024)
	CodeFAReverseTunnelRequired Code = 75 // reverse tunnel is mandatory and 'T' bit not set (RFC 3024)
	CodeFATooDistant            Code = 76 // mobile node too distant (RFC 3024)
	CodeFAInvalidCareOf         Code = 77 // invalid care-of address
	CodeFATimeout               Code = 78 // registration timeout
	CodeFADeliveryStyle         Code = 79 // delivery style not supported (RFC 3024)
	CodeFAHomeNetUnreachable    Code = 80 // home network unreachable (ICMP error received)
	CodeFAHomeAgentUnreachable  Code = 81 // home agent host unreachable (ICMP error received)
	CodeFAHomeAgentPort         Code = 82 // home agent port unreachable (ICMP error received)
	CodeFAHomeAgentICMP         Code = 88 // home agent unreachable (other ICMP error received)
)

// Registration denied by the home agent (RFC 5944, RFC 3024).
const (
	CodeHAUnspecified            Code = 128 // reason unspecified
	CodeHAProhibited             Code = 129 // administratively prohibited
	CodeHAInsufficientResources  Code = 130 // insufficient resources
	CodeHAMobileAuthFailed       Code = 131 // mobile node failed authentication
	CodeHAForeignAgentAuthFailed Code = 132 // foreign agent failed authentication
	CodeIDMismatch               Code = 133 // registration Identification mismatch
	CodeHAPoorRequest            Code = 134 // poorly formed Request
	CodeHATooManyBindings        Code = 135 // too many simultaneous mobility bindings
	CodeHAUnknownHomeAgent       Code = 136 // unknown home agent address
	CodeHAReverseTunnel          Code = 137 // requested reverse tunnel unavailable (RFC 3024)
	CodeHAReverseTunnelRequired  Code = 138 // reverse tunnel is mandatory and 'T' bit not set (RFC 3024)
	CodeHAEncapsulation          Code = 139 // requested encapsulation unavailable (RFC 3024)
)

var codeNames = map[Code]string{
	CodeAccepted:                 "accepted",
	CodeAcceptedNoSimultaneous:   "accepted, simultaneous mobility bindings unsupported",
	CodeFAUnspecified:            "denied by foreign agent, reason unspecified",
	CodeFAProhibited:             "denied by foreign agent, administratively prohibited",
	CodeFAInsufficientResources:  "denied by foreign agent, insufficient resources",
	CodeFAMobileAuthFailed:       "mobile node failed authentication",
	CodeFAHomeAgentAuthFailed:    "home agent failed authentication",
	CodeFALifetimeTooLong:        "requested lifetime too long",
	CodeFAPoorRequest:            "poorly formed request",
	CodeFAPoorReply:              "poorly formed reply",
	CodeFAEncapsulation:          "requested encapsulation unavailable",
	CodeFAReverseTunnel:          "requested reverse tunnel unavailable",
	CodeFAReverseTunnelRequired:  "reverse tunnel is mandatory and 'T' bit not set",
	CodeFATooDistant:             "mobile node too distant",
	CodeFAInvalidCareOf:          "invalid care-of address",
	CodeFATimeout:                "registration timeout",
	CodeFADeliveryStyle:          "delivery style not supported",
	CodeFAHomeNetUnreachable:     "home network unreachable",
	CodeFAHomeAgentUnreachable:   "home agent host unreachable",
	CodeFAHomeAgentPort:          "home agent port unreachable",
	CodeFAHomeAgentICMP:          "home agent unreachable",
	CodeHAUnspecified:            "denied by home agent, reason unspecified",
	CodeHAProhibited:             "denied by home agent, administratively prohibited",
	CodeHAInsufficientResources:  "denied by home agent, insufficient resources",
	CodeHAMobileAuthFailed:       "mobile node failed authentication at home agent",
	CodeHAForeignAgentAuthFailed: "foreign agent failed authentication",
	CodeIDMismatch:               "registration identification mismatch",
	CodeHAPoorRequest:            "poorly formed request at home agent",
	CodeHATooManyBindings:        "too many simultaneous mobility bindings",
	CodeHAUnknownHomeAgent:       "unknown home agent address",
	CodeHAReverseTunnel:          "requested reverse tunnel unavailable at home agent",
	CodeHAReverseTunnelRequired:  "reverse tunnel is mandatory and 'T' bit not set at home agent",
	CodeHAEncapsulation:          "requested encapsulation unavailable at home agent",
}

// String returns the code's readable name, as RFC 5944 and RFC 3024 word
// it ("accepted", "registration identification mismatch"); codes the
// package does not know print as "code(N)".
func (c Code) String() string {
	if s, ok := codeNames[c]; ok {
		return s
	}
	return fmt.Sprintf("code(%d)", uint8(c))
}

// Accepted reports whether the code accepts the registration (0 or 1).
func (c Code) Accepted() bool { return c <= CodeAcceptedNoSimultaneous }

// FromFA reports whether the code is one a foreign agent denies with
// (64-127).
func (c Code) FromFA() bool { return c >= 64 && c < 128 }

// FromHA reports whether the code is one a home agent denies with
// (128-191).
func (c Code) FromHA() bool { return c >= 128 && c < 192 }
