package ipip

import "encoding/binary"

// fragment splits the outer datagram outer, built by putHeader (no options,
// DF clear), into fragments of at most mtu bytes (RFC 791 section 3.2). The
// fragments are written into buf, grown if needed, and returned as slices of
// it appended to frags. RFC 2003 section 5.1 lets the encapsulator fragment
// the outer datagram when the inner one may be fragmented.
func fragment(frags [][]byte, buf, outer []byte, mtu int) ([][]byte, []byte) {
	if len(outer) < HeaderLen || mtu < MinMTU {
		return frags, buf
	}
	payload := outer[HeaderLen:]
	step := (mtu - HeaderLen) &^ 7
	count := (len(payload) + step - 1) / step
	need := len(payload) + count*HeaderLen
	if cap(buf) < need {
		buf = make([]byte, need)
	}
	buf = buf[:need]
	at := 0
	for off := 0; off < len(payload); off += step {
		end := min(off+step, len(payload))
		f := buf[at : at+HeaderLen+end-off]
		copy(f, outer[:HeaderLen])
		copy(f[HeaderLen:], payload[off:end])
		binary.BigEndian.PutUint16(f[2:4], uint16(len(f)))
		field := uint16(off / 8)
		if end < len(payload) {
			field |= flagMF
		}
		binary.BigEndian.PutUint16(f[6:8], field)
		f[10], f[11] = 0, 0
		binary.BigEndian.PutUint16(f[10:12], checksum(f[:HeaderLen], 0))
		frags = append(frags, f)
		at += len(f)
	}
	return frags, buf
}
