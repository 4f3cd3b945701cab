// Package binding keeps an agent's mobility bindings: the home agent's binding
// list and a foreign agent's visitor list (RFC 5944 sections 3.7.2 and 3.8.3),
// extended with the fields of the Dynamics hierarchy (the lower address on the
// path down to the mobile, the session key handed out by the home agent, and
// whether the binding is confirmed).
//
// A Table is keyed by the mobile's IPv4 home address and holds at most one
// binding per home address. A foreign agent that keeps confirmed and
// unconfirmed bindings side by side keeps two tables.
//
// # Time
//
// The table never reads a clock: Put takes the binding's expiry instant and
// Expire takes the current instant, both from the caller. Daemons share a
// Clock, SystemClock in production and ManualClock in tests, so that a test can
// step time without sleeping. Expiry instants are stored as nanoseconds since
// the Unix epoch, so a Binding read back carries no monotonic clock reading
// and is in the local time zone; compare instants with time.Time.Equal.
//
// # Complexity
//
// For a table of n bindings:
//
//   - Get, Len, Next: O(1).
//   - Put (add or replace), Delete, PopExpired: O(log n) (amortised for
//     growth of the backing arrays).
//   - Expire: O(k log n) for k expired bindings.
//   - Range: O(n). List: O(n log n), sorted by home address on each call.
//
// Bindings leave Next, PopExpired and Expire in order of expiry; bindings with
// the same expiry leave in order of home address.
//
// # Storage
//
// Bindings live by value in one dense array of pointer-free 64-byte records
// (addresses as uint32, the session key inline), found by a map from home
// address to position and ordered for expiry by an indexed binary min-heap of
// 16-byte items. A million bindings take 100 to 120 bytes each; the
// benchmarks report the figure as B/binding. No goroutine or timer exists per
// binding: the daemon arms one timer for Next and calls Expire when it fires.
//
// # Concurrency
//
// A Table is not safe for concurrent use and takes no locks: it belongs to the
// daemon's single event-loop goroutine. ManualClock is safe for concurrent use,
// so a test may advance it while the loop reads it.
package binding
