// Package tunnel keeps an agent's IP-in-IP tunnels (RFC 2003) as the Dynamics
// hierarchy uses them: one tunnel per endpoint pair, shared by every binding
// that routes through it and reference-counted so that it lives exactly as
// long as some binding needs it. A home agent tunnels to the highest foreign
// agent (or a co-located care-of address), each foreign agent to the one below
// it, and a mobile node with a co-located care-of address back to its home
// agent (RFC 3024 reverse tunnelling).
//
// Each tunnel has a numeric ID for the control API, allocated from 1 upward
// and never reused while the Table exists, and a device name made of the
// table's prefix and the ID ("dyn1", "dyn2", ...), at most 15 bytes long as
// Linux requires. The table only does the bookkeeping: creating and deleting
// the devices is the kernel package's work, driven by what Acquire and Release
// report.
//
// # Complexity
//
// For a table of n tunnels: Acquire, Release, ReleaseID, Destroy, Get, ByID,
// ByName and Len are O(1) (map operations); List is O(n log n), sorted by ID
// on each call.
//
// # Concurrency
//
// A Table is not safe for concurrent use and takes no locks: it belongs to the
// daemon's single event-loop goroutine.
package tunnel
