// Package systest runs the home agent, the foreign agents and a mobile node
// in one process, over in-memory UDP (memnet) and in-memory Ethernet
// segments (link.Hub), each with its own kernel.Fake: the layer between the
// daemons' unit tests and the end-to-end test on the namespace testbed.
// system_test.go roams a flat setup (two foreign agents); hier_test.go a
// hierarchy (gfa over fa1 and fa2), where the first registration reaches the
// home agent and gives every agent and the mobile one session key, a move
// between fa1 and fa2 is answered by gfa alone, and a forged MN-GFA
// authenticator is denied with 67. It has no code of its own, only tests.
package systest
