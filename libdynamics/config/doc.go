// Package config reads the Dynamics configuration format used by dynhad,
// dynfad and dynmnd.
//
// # Format
//
// A file is a sequence of lines. Each setting is one line holding a label
// and its value:
//
//	# Home agent of the 10.1.0.0/24 home network
//	HAIPAddress            10.1.0.1
//	HomeNetPrefix          10.1.0.0/24      # the home network
//	EnableFADecapsulation  yes
//	Description            "lab # 3, rack 2"
//
// The label is the first field; the value is the rest of the line after
// the first run of whitespace, trimmed, so it may hold inner spaces. A
// value may be enclosed in double quotes to keep leading or trailing
// spaces, '#' or an empty value; inside quotes \" is a quote and \\ a
// backslash. A quoted value is the whole value: text before or after it is
// an error. '#' outside quotes starts a comment running to the end of the
// line; blank lines are ignored. Labels and section names consist of
// letters, digits, '_', '-' and '.', and are case-sensitive. Each label
// may appear once.
//
// A list section runs from a NAME_BEGIN line to the matching NAME_END
// line, each on a line of its own. Every line between them is one entry
// of whitespace-separated fields, each of which may be quoted like a
// value:
//
//	AUTHORIZEDLIST_BEGIN
//	# home address   SPI    lifetime
//	10.1.0.10        1000   600
//	10.1.0.11        1001
//	AUTHORIZEDLIST_END
//
//	SECURITY_BEGIN
//	1000  hmac-md5  "shared secret with spaces"
//	SECURITY_END
//
// Sections do not nest and each may appear once. An entry whose first
// field ends in _BEGIN or _END must quote it. The labels known from
// Dynamics include MNHomeIPAddress, HAIPAddress, HomeNetPrefix,
// EnableFADecapsulation, HighestFAIPAddress and UpperFAIPAddress, and the
// sections INTERFACES, AUTHORIZEDLIST and SECURITY; each daemon documents
// its own set.
//
// # Reading
//
// Parse and Load check the format and return a File that keeps every
// setting, section and entry with its line. Decode then fills a struct
// described by `dyn` tags, refusing labels and sections the struct does
// not name:
//
//	type HAConfig struct {
//		HA         netip.Addr    `dyn:"HAIPAddress,required"`
//		Prefix     netip.Prefix  `dyn:"HomeNetPrefix,required"`
//		Lifetime   time.Duration `dyn:"MaxBindingLifetime,default=300"`
//		Authorized []Authorized  `dyn:"AUTHORIZEDLIST"`
//	}
//
//	f, err := config.Load("/etc/dynamics/dynhad.conf")
//	if err != nil {
//		return err
//	}
//	var c HAConfig
//	if err := config.Decode(f, &c); err != nil {
//		return err
//	}
//	if !c.Prefix.Contains(c.HA) {
//		return f.Errorf("HAIPAddress", "%s is outside HomeNetPrefix %s", c.HA, c.Prefix)
//	}
//
// # Errors
//
// Every problem with a file is an *Error naming the file, the line and
// the label, section or marker concerned, and wrapping a sentinel
// (ErrSyntax, ErrInvalid, ErrDuplicate, ErrUnclosed, ErrUnopened,
// ErrNested, ErrUnknown, ErrMissing):
//
//	dynhad.conf:12: HAIPAddress: "10.1.0.300" is not an IPv4 address
//	dynhad.conf:9: HAIPAdress: unknown label (did you mean HAIPAddress?)
//	dynhad.conf:20: INTERFACES_BEGIN: section never closed (no INTERFACES_END)
//	dynhad.conf:31: AUTHORIZEDLIST: field 1: "10.1.0" is not an IPv4 address
//	dynhad.conf: HAIPAddress: required label missing
//
// Entry errors name fields from 1, as a reader counts them. Parse stops at
// the first problem; Decode reports all of them, one per line of the
// error's text. File.Errorf and File.ErrorfAt give a daemon's own checks
// the same form.
package config
