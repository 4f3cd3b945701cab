package config

import (
	"encoding"
	"encoding/hex"
	"fmt"
	"math"
	"net/netip"
	"reflect"
	"strconv"
	"strings"
	"time"
)

var (
	durationType         = reflect.TypeFor[time.Duration]()
	addrType             = reflect.TypeFor[netip.Addr]()
	prefixType           = reflect.TypeFor[netip.Prefix]()
	textUnmarshalerType  = reflect.TypeFor[encoding.TextUnmarshaler]()
	entryUnmarshalerType = reflect.TypeFor[EntryUnmarshaler]()
)

// isScalar reports whether a value of type t is decoded from one string.
func isScalar(t reflect.Type) bool {
	switch {
	case t == durationType, t == addrType, t == prefixType:
		return true
	case reflect.PointerTo(t).Implements(textUnmarshalerType):
		return true
	case (t.Kind() == reflect.Slice || t.Kind() == reflect.Array) && t.Elem().Kind() == reflect.Uint8:
		return true
	}
	switch t.Kind() {
	case reflect.String, reflect.Bool,
		reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		return true
	}
	return false
}

// setScalar converts s into v, which must be addressable and of a type
// isScalar accepts. Its errors wrap ErrInvalid and read as the detail of
// an *Error: `"10.1.0.300" is not an IPv4 address`.
func setScalar(v reflect.Value, s string) *problem {
	t := v.Type()
	switch {
	case t == durationType:
		d, p := parseDuration(s)
		if p == nil {
			v.SetInt(int64(d))
		}
		return p
	case t == addrType:
		a, p := parseIPv4(s)
		if p == nil {
			v.Set(reflect.ValueOf(a))
		}
		return p
	case t == prefixType:
		pfx, p := parsePrefix(s)
		if p == nil {
			v.Set(reflect.ValueOf(pfx))
		}
		return p
	case reflect.PointerTo(t).Implements(textUnmarshalerType):
		if err := v.Addr().Interface().(encoding.TextUnmarshaler).UnmarshalText([]byte(s)); err != nil {
			return &problem{kind: ErrInvalid, msg: fmt.Sprintf("%q: %v", s, err), cause: err}
		}
		return nil
	case t.Kind() == reflect.Slice && t.Elem().Kind() == reflect.Uint8:
		b, p := parseHex(s)
		if p == nil {
			v.SetBytes(b)
		}
		return p
	case t.Kind() == reflect.Array && t.Elem().Kind() == reflect.Uint8:
		b, p := parseHex(s)
		if p != nil {
			return p
		}
		if len(b) != t.Len() {
			return invalid("%q is %d bytes, want %d", s, len(b), t.Len())
		}
		for i, c := range b {
			v.Index(i).SetUint(uint64(c))
		}
		return nil
	}
	switch t.Kind() {
	case reflect.String:
		v.SetString(s)
	case reflect.Bool:
		b, p := parseBool(s)
		if p != nil {
			return p
		}
		v.SetBool(b)
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		n, p := parseInt(s, t.Bits())
		if p != nil {
			return p
		}
		v.SetInt(n)
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		n, p := parseUint(s, t.Bits())
		if p != nil {
			return p
		}
		v.SetUint(n)
	default:
		return &problem{kind: ErrTarget, msg: fmt.Sprintf("unsupported type %s", t)}
	}
	return nil
}

func invalid(format string, args ...any) *problem {
	return &problem{kind: ErrInvalid, msg: fmt.Sprintf(format, args...)}
}

// parseBool accepts yes/no, true/false, on/off and 1/0, in any case.
func parseBool(s string) (bool, *problem) {
	switch strings.ToLower(s) {
	case "yes", "true", "on", "1":
		return true, nil
	case "no", "false", "off", "0":
		return false, nil
	}
	return false, invalid("%q is not a boolean (yes/no, true/false, on/off, 1/0)", s)
}

// parseUint accepts decimal, or hexadecimal after 0x.
func parseUint(s string, bits int) (uint64, *problem) {
	digits, base := s, 10
	if h, ok := cutHexPrefix(s); ok {
		digits, base = h, 16
	}
	n, err := strconv.ParseUint(digits, base, bits)
	if err != nil {
		if isRangeErr(err) {
			return 0, invalid("%q is out of range (0 to %d)", s, uint64(math.MaxUint64)>>(64-bits))
		}
		return 0, invalid("%q is not a non-negative integer", s)
	}
	return n, nil
}

// parseInt accepts decimal with an optional sign, or hexadecimal after 0x.
func parseInt(s string, bits int) (int64, *problem) {
	digits, base := s, 10
	if h, ok := cutHexPrefix(s); ok {
		digits, base = h, 16
	}
	n, err := strconv.ParseInt(digits, base, bits)
	if err != nil {
		if isRangeErr(err) {
			hi := int64(math.MaxInt64) >> (64 - bits)
			return 0, invalid("%q is out of range (%d to %d)", s, -hi-1, hi)
		}
		return 0, invalid("%q is not an integer", s)
	}
	return n, nil
}

func cutHexPrefix(s string) (string, bool) {
	if len(s) > 2 && s[0] == '0' && (s[1] == 'x' || s[1] == 'X') {
		return s[2:], true
	}
	return s, false
}

func isRangeErr(err error) bool {
	ne, ok := err.(*strconv.NumError)
	return ok && ne.Err == strconv.ErrRange
}

// parseDuration accepts a plain number of seconds or Go duration syntax
// ("90s", "5m", "1h30m"); negative durations are refused.
func parseDuration(s string) (time.Duration, *problem) {
	if s != "" && strings.Trim(s, "0123456789") == "" {
		n, err := strconv.ParseInt(s, 10, 64)
		if err != nil || n > math.MaxInt64/int64(time.Second) {
			return 0, invalid("%q is out of range", s)
		}
		return time.Duration(n) * time.Second, nil
	}
	d, err := time.ParseDuration(s)
	if err != nil {
		return 0, invalid("%q is not a duration (seconds, or like 90s, 5m, 1h30m)", s)
	}
	if d < 0 {
		return 0, invalid("%q is negative", s)
	}
	return d, nil
}

// parseIPv4 accepts a dotted-quad IPv4 address.
func parseIPv4(s string) (netip.Addr, *problem) {
	a, err := netip.ParseAddr(s)
	if err != nil || !a.Is4() {
		return netip.Addr{}, invalid("%q is not an IPv4 address", s)
	}
	return a, nil
}

// parsePrefix accepts an IPv4 network in CIDR notation without host bits.
func parsePrefix(s string) (netip.Prefix, *problem) {
	p, err := netip.ParsePrefix(s)
	if err != nil || !p.Addr().Is4() {
		return netip.Prefix{}, invalid("%q is not an IPv4 prefix (like 10.1.0.0/24)", s)
	}
	if m := p.Masked(); m != p {
		return netip.Prefix{}, invalid("%q has host bits set (the network is %s)", s, m)
	}
	return p, nil
}

// parseHex accepts an even number of hexadecimal digits, with an optional
// 0x prefix.
func parseHex(s string) ([]byte, *problem) {
	digits, _ := cutHexPrefix(s)
	b, err := hex.DecodeString(digits)
	if err != nil {
		return nil, invalid("%q is not hexadecimal (an even number of digits 0-9, a-f)", s)
	}
	return b, nil
}
