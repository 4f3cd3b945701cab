// Package systest runs the home agent, two foreign agents and a mobile node
// in one process, over in-memory UDP (memnet) and in-memory Ethernet
// segments (link.Hub), each with its own kernel.Fake: the layer between the
// daemons' unit tests and the end-to-end test on the namespace testbed.
// It has no code of its own, only tests.
package systest
