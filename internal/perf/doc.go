// Package perf measures the suite for the bench tool, tools/dynbench: each
// figure against a baseline taken in the same run, so that the ratio holds
// on a noisy, shared machine. docs/PERFORMANCE.md has the latest figures.
//
// # Sections
//
// Registration (registration.go, fleet.go, loadgen.go, echo.go): a Fleet
// of simulated mobile nodes (distinct home addresses, each with its own
// HMAC-MD5 Mobile-Home key) sends authenticated Registration Requests to a
// home agent over UDP, with a window of outstanding requests, reading and
// writing batches of datagrams per system call; every reply is checked
// (type, home address, home agent, bounds of every extension, the
// Mobile-Home authenticator with the mobile's key, an accepting code and
// the identification of the outstanding request) and a reply that fails a
// check counts as an error, never as accepted. The baseline is Echo, a
// UDP server that sends every datagram back and does nothing else, on the
// same kind of socket and with the same batching as the home agent; the
// generator checks an echoed request exactly as it checks a reply (the
// same authenticator computation), so the two runs differ only in what the
// server does.
//
// Table scale (tables.go): the binding table at 10 thousand, 100 thousand
// and a million bindings, against a Go map of bindings.
//
// # The plot
//
// Plot.WriteSVG draws ping round trips over time with the moves of a
// roaming run marked, as SVG written with the standard library.
//
// # Report
//
// A Report holds the Machine, the Figures (value, baseline, ratio,
// targets, met) and the sections skipped; WriteTable prints it and
// WriteJSON writes the same figures as JSON.
package perf
