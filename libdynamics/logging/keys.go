package logging

// Attribute keys the whole suite uses, so that one grep or one log query
// follows a mobile node through every daemon. Values are rendered in their
// usual text form (dotted-quad addresses, decimal numbers).
const (
	// KeyHome is the mobile node's home address.
	KeyHome = "home"
	// KeyCoA is the care-of address: a foreign agent's, or the mobile
	// node's co-located one.
	KeyCoA = "coa"
	// KeyHA is the home agent's address.
	KeyHA = "ha"
	// KeyFA is a foreign agent's address.
	KeyFA = "fa"
	// KeyID is the registration's 64-bit Identification field.
	KeyID = "id"
	// KeyCode is a registration reply code (RFC 5944 section 3.4).
	KeyCode = "code"
	// KeyIface is a network interface name.
	KeyIface = "iface"
	// KeyErr is an error.
	KeyErr = "err"
)
