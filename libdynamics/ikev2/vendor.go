package ikev2

// VendorID is the Vendor ID payload (RFC 7296 section 3.12): an opaque
// constant a vendor defines, usually a hash, announcing what the sender
// understands. A receiver that does not know it ignores it.
type VendorID struct {
	Data []byte
}

// Type returns PayloadVendorID.
func (*VendorID) Type() PayloadType { return PayloadVendorID }

func (v *VendorID) appendBody(b []byte) ([]byte, error) { return append(b, v.Data...), nil }
