// Package sessionkey is the cryptography of hierarchical registration: the
// session keys a home agent generates, how it hands them to the mobile node
// and to every foreign agent on the path, and the RSA key files of the
// foreign agents.
//
// In the hierarchy (DESIGN.md section 2) a Registration Request climbs from
// the lowest foreign agent to the highest and on to the home agent; each
// foreign agent adds its RSA public key. The home agent answers with a
// 128-bit session key for the registration, given once to the mobile and
// once to each foreign agent. On a later move under the same subtree the
// switching foreign agent authenticates the mobile with that key and
// answers by itself.
//
// # Generating a key
//
// Generate reads 16 bytes R from a random source (crypto/rand by default)
// and computes
//
//	key = MD5(S || R || S)
//
// where S is the home agent's key-generation secret. This is the technical
// definition's prefix+suffix construction. The strength of the key is that
// of R; S only makes the keys unpredictable to anyone who does not hold it
// should the random source ever be weak.
//
// # The key for the mobile node
//
// The home agent sends the mobile
//
//	masked = key XOR MD5(M || ID || M)
//
// where M is the mobile-home shared secret (the key of the mobile-home
// security association) and ID the 64-bit Identification of the
// Registration Reply that carries the masked key, in network byte order as
// on the wire. The mobile computes the same mask from the secret and the
// reply's identification, and FromMobile removes it.
//
// The technical definition writes the mask as MD5(M || key || M). The
// mobile cannot use that: the mask depends on the key it is trying to
// learn, and finding k with k XOR MD5(M || k || M) = masked is a search
// over 2^128 keys. The identification serves instead because both sides
// know it and replay protection (RFC 5944 section 5.7: timestamps that
// only increase, or fresh nonces) makes it unique per registration, so a
// mask never covers two keys; reusing one would reveal the XOR of the two
// keys. An accepted reply's identification is the request's with
// timestamps; with nonces its high 32 bits are the home agent's fresh
// nonce. The masked key is not itself integrity-protected: it must travel
// in an extension that the reply's Mobile-Home authenticator covers (the
// Mobile Session Key extension, mip.MobileSessionKey).
//
// # The key for foreign agents
//
// WrapForFA encrypts the key with a foreign agent's RSA public key using
// RSA-OAEP with SHA-256 (for both the OAEP hash and MGF1); UnwrapForFA
// decrypts it. The OAEP label binds the ciphertext to the mobile it was
// made for: Label(home) is the ASCII string "dynamics-go session key v1",
// a zero octet, and the mobile's home address (4 octets). A ciphertext
// replayed in a registration for another mobile fails to decrypt.
//
// RSA keys must have at least MinBits (2048) and at most MaxBits (16384)
// bits. A ciphertext is as long as the modulus (256 octets for 2048 bits)
// and a DER public key longer still, so both travel as fragments in
// consecutive registration extensions (mip.AppendFAPublicKey,
// mip.AppendFASessionKey).
//
// # Key files
//
// A foreign agent keeps its private key as a PKCS#8 PEM file ("PRIVATE
// KEY") of mode 0600 and its public key as a PKIX PEM file ("PUBLIC KEY")
// of mode 0644, as written by dynkeygen. The loaders also read the PKCS#1
// forms ("RSA PRIVATE KEY", "RSA PUBLIC KEY"). MarshalPublicKey and
// ParsePublicKey convert a public key to and from PKIX DER for carrying it
// in a registration extension; Fingerprint names a public key by the
// SHA-256 of that DER.
package sessionkey
