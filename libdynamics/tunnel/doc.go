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
// # Linger
//
// A tunnel may outlive its last user for a while. ReleaseLinger leaves it
// idle (Refs 0, Idle the end of its linger) instead of forgetting it; an
// Acquire of the same endpoints before then takes it back as it is (not
// created: the device is still there), and Expire forgets the idle tunnels
// whose linger has ended, for the caller to delete their devices. The table
// keeps no clock: the caller passes the instants, from its own clock (a
// binding.ManualClock in tests). A foreign agent lets its tunnels to other
// foreign agents linger, so that a mobile going back and forth between two
// agents finds the tunnels there, instead of waiting for devices to be
// deleted and made again on every move.
//
// # Complexity
//
// For a table of n tunnels, i of them idle: Acquire, Release, ReleaseID,
// ReleaseLinger, Destroy, Get, ByID, ByName, Len and IdleLen are O(1) (map
// operations); List is O(n log n), sorted by ID on each call; NextExpiry is
// O(i) and Expire O(i log i).
//
// # Concurrency
//
// A Table is not safe for concurrent use and takes no locks: it belongs to the
// daemon's single event-loop goroutine.
package tunnel
