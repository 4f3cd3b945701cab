// Package e2e runs the daemons on the namespace testbed (internal/testbed)
// and checks the suite end to end, as a user would see it: a ping from the
// correspondent host to the mobile's home address keeps being answered while
// the mobile moves home -> fa1 -> fa2 -> a link without an agent (co-located
// care-of address) -> home, the tunnels are where they should be, nothing
// is left behind, and tshark decodes every registration and advertisement
// on the wire.
//
// The protected tests (protected_test.go) roam the flat and hierarchical
// beds with every signalling hop under IPsec, and again in clear: no
// registration message in clear on a protected hop, ESP on each hop, one
// IKE_SA_INIT per peer pair for the whole run (the mobile's co-located
// moves are MOBIKE-X updates, seen in the captures decrypted with the
// daemons' key logs), a forged registration in clear dropped and counted,
// and the pings lost per move with and without protection logged.
// TestProtectedSecondInterface gives the mobile a second interface and
// follows its address being added to and removed from the mobile's SAs
// (ADD_SA_ADDRESS, REMOVE_SA_ADDRESS) as the link goes up and down.
//
// The tests need root, iproute2, ping and tcpdump (tshark for the decoding
// check), and build dynhad, dynfad and dynmnd from this module themselves;
// they skip with the reason when any of that is missing:
//
//	make e2e          # go test -count=1 -v ./e2e/
package e2e
