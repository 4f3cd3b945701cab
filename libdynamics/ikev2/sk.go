package ikev2

// SK is the Encrypted and Authenticated payload (RFC 7296 section 3.14),
// kept as the bytes on the wire: the package does no cryptography.
//
// To send one, marshal the inner payloads with MarshalPayloads, put the
// first type in NextPayload, pad and encrypt the bytes (package ikecrypto
// does that, given as associated data the IKE header and the SK payload's
// generic header), and put IV|ciphertext|ICV in Data. Because the SK
// payload is always the last in a message, the associated data of a
// marshalled or received message b is b[:len(b)-len(sk.Data)]. To read
// one, decrypt Data and give the plaintext to ParsePayloads with
// NextPayload.
type SK struct {
	// NextPayload is the type of the first payload inside, the Next
	// Payload field of the SK payload's generic header.
	NextPayload PayloadType
	// Data is the initialization vector, the encrypted payloads with their
	// padding and pad length, and the integrity checksum, in that order.
	Data []byte
}

// Type returns PayloadSK.
func (*SK) Type() PayloadType { return PayloadSK }

func (s *SK) appendBody(b []byte) ([]byte, error) { return append(b, s.Data...), nil }
