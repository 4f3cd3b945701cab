// Package e2e runs the daemons on the namespace testbed (internal/testbed)
// and checks the suite end to end, as a user would see it: a ping from the
// correspondent host to the mobile's home address keeps being answered while
// the mobile moves home -> fa1 -> fa2 -> a link without an agent (co-located
// care-of address) -> home, the tunnels are where they should be, nothing
// is left behind, and tshark decodes every registration and advertisement
// on the wire.
//
// The tests need root, iproute2, ping and tcpdump (tshark for the decoding
// check), and build dynhad, dynfad and dynmnd from this module themselves;
// they skip with the reason when any of that is missing:
//
//	make e2e          # go test -count=1 -v ./e2e/
package e2e
