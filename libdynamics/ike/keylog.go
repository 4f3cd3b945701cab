package ike

import (
	"encoding/hex"
	"fmt"

	"github.com/dynamics-go/dynamics/libdynamics/ikev2/ikecrypto"
)

// logKeys writes the IKE SA's keys to the key log and logs them at debug
// level, as strongSwan does at "ike 4", so captures can be decrypted.
func (e *Engine) logKeys(sa *ikeSA) {
	k := sa.keys
	e.log.Debug("IKE SA keys", "spi_i", sa.spiI, "spi_r", sa.spiR,
		"sk_d", hex.EncodeToString(k.SKd), "sk_ai", hex.EncodeToString(k.SKai), "sk_ar", hex.EncodeToString(k.SKar),
		"sk_ei", hex.EncodeToString(k.SKei), "sk_er", hex.EncodeToString(k.SKer),
		"sk_pi", hex.EncodeToString(k.SKpi), "sk_pr", hex.EncodeToString(k.SKpr))
	if e.keyLog != nil {
		fmt.Fprintln(e.keyLog, DecryptionTableEntry(uint64(sa.spiI), uint64(sa.spiR), sa.prop, k))
	}
}

// DecryptionTableEntry renders one IKE SA's keys as an entry of
// Wireshark's IKEv2 decryption table (the ikev2_decryption_table
// preference): SPIi, SPIr, SK_ei, SK_er, encryption algorithm, SK_ai,
// SK_ar, integrity algorithm, hex fields unquoted, for
// `tshark -o "uat:ikev2_decryption_table:ENTRY"`.
func DecryptionTableEntry(spiI, spiR uint64, p Proposal, k *ikecrypto.IKEKeys) string {
	return fmt.Sprintf("%016x,%016x,%x,%x,%q,%x,%x,%q", spiI, spiR, k.SKei, k.SKer, wiresharkEncr(p), k.SKai, k.SKar, wiresharkInteg(p))
}

// wiresharkEncr and wiresharkInteg are the names Wireshark's IKEv2
// dissector gives the algorithms in its decryption table.
func wiresharkEncr(p Proposal) string {
	switch p.Encr {
	case ikecrypto.EncrAESGCM16:
		return fmt.Sprintf("AES-GCM-%d with 16 octet ICV [RFC5282]", p.KeyBits)
	case ikecrypto.EncrAESCBC:
		return fmt.Sprintf("AES-CBC-%d [RFC3602]", p.KeyBits)
	}
	return p.Encr.String()
}

func wiresharkInteg(p Proposal) string {
	switch p.Integ {
	case ikecrypto.IntegNone:
		return "NONE [RFC4306]"
	case ikecrypto.IntegHMACSHA256128:
		return "HMAC_SHA2_256_128 [RFC4868]"
	case ikecrypto.IntegHMACSHA384192:
		return "HMAC_SHA2_384_192 [RFC4868]"
	case ikecrypto.IntegHMACSHA512256:
		return "HMAC_SHA2_512_256 [RFC4868]"
	}
	return p.Integ.String()
}
