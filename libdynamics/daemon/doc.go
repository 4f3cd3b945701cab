// Package daemon holds what the three daemons share around their agent
// loops: the command line (-c, --fg, --debug, --version), logging set-up,
// signal handling (SIGHUP reloads, SIGTERM and SIGINT stop) and the choice of
// kernel implementation.
package daemon
