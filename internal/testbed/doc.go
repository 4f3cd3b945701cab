// Package testbed builds the suite's standard topology in network namespaces
// for the end-to-end tests, the demo and benchmarks, and removes it again.
//
// The flat bed, with the addresses of docs/ARCHITECTURE.md:
//
//	cn 198.51.100.10 ---- rt 198.51.100.1
//	home link 10.1.0.0/24 (bridge):   rt 10.1.0.254, ha 10.1.0.1, mn 10.1.0.10 (at home)
//	rt 10.0.1.1 ---- fa1 10.0.1.2     fa1 visitor link 10.2.0.0/24 (bridge): fa1 10.2.0.1
//	rt 10.0.2.1 ---- fa2 10.0.2.2     fa2 visitor link 10.3.0.0/24 (bridge): fa2 10.3.0.1
//	link without an agent 10.4.0.0/24 (bridge): rt 10.4.0.1
//
// The hierarchical bed puts gfa, the highest foreign agent, between rt and
// the two lowest ones: rt 10.0.0.1 ---- gfa 10.0.0.2 on 10.0.0.0/24, gfa
// 10.0.1.1 ---- fa1 10.0.1.2 and gfa 10.0.2.1 ---- fa2 10.0.2.2, so fa1 and
// fa2 keep their addresses and their default routes. WriteConfigs makes
// fa1 and fa2 relay to gfa (UpperFAIPAddress 10.0.1.1 and 10.0.2.1,
// HighestFAIPAddress 10.0.0.2) and gfa, which has no visitor link of its
// own, relay to the home agent; each of the three gets an RSA key pair
// generated into the configuration directory (KeyFiles), and StartAgents
// starts gfa before fa1 and fa2.
//
// Every host is a namespace named after the bed's prefix and its role
// ("cn", "rt", "ha", "fa1", "fa2", "gfa", "mn"). The shared links are
// bridges in one more namespace, the switch ("sw"); point-to-point links are
// veth pairs. The mobile's eth0 carries only its home address as a /32, and
// its veth peer in the switch is moved between bridges to move the mobile
// (Bed.Move): dynmnd, not the bed, installs the mobile's routes.
//
// With Options.IPsec, WriteConfigs also protects the registration
// signalling of every hop with IPsec (IPsecHops): the mobile with its home
// agent (the home agent names it by its home address), each lowest foreign
// agent with the agent above it (the home agent on the flat bed, gfa on the
// hierarchical one) and gfa with the home agent. Each daemon gets its
// identity <role>.dynbed (IPsecID), its peers' entries with one pre-shared
// key per pair, and IPsecKeyLog <dir>/<role>-ike.keys (KeyLogFile), whose
// lines tshark takes as ikev2_decryption_table entries to decrypt the IKE
// messages of captures.
//
// With Options.SecondInterface as well, the mobile gets a second
// interface, eth1 (MNSecondIface), plugged into the link without an agent
// with 10.4.0.11/24 (SecondAddr, not the co-located 10.4.0.10) and no
// route through it but that link's, and dynmnd.conf lists it in
// IPSEC_INTERFACES: the mobile offers the address to its SAs with the home
// agent (MOBIKE-X ADD_SA_ADDRESS) while eth1 is up and withdraws it
// (REMOVE_SA_ADDRESS) when it goes down. Bed.SecondInterfaceDown and
// Bed.SecondInterfaceUp set the link down and up (`ip link set eth1
// down|up` in the mobile's namespace).
//
// WriteConfigs writes every daemon's configuration into one directory, with
// the state files and the control API's sockets (<role>.sock and
// <role>-monitor.sock) there too, so that daemons in different namespaces
// never share a path; Bed.AdminSocket and Bed.MonitorSocket return the
// paths for tests and the demo to dial.
//
// The bed drives iproute2 (`ip`), `sysctl`, `ping` and `tcpdump`; the
// daemons under test never run those. Every process the bed starts is ended
// by its PID when the bed closes (SIGTERM, then SIGKILL after three
// seconds), and also receives SIGTERM if the program that started it dies.
// A bed left behind by a program that was killed is removed by the next
// New.
package testbed
