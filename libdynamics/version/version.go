// Package version holds the suite's version, set at link time by the Makefile.
package version

// Version is the suite's version: a git description, or "dev".
var Version = "dev"
