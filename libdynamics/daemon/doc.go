// Package daemon holds what the three daemons share around their agent
// loops: the command line (-c, --fg, --debug, --version), logging set-up,
// signal handling (SIGHUP reloads, SIGTERM and SIGINT stop) and the choice of
// kernel implementation.
//
// Main sets up logging from the flags and the configuration (syslog under
// the daemon's name with the configured facility, or stderr with --fg) and
// gives the command's Serve a function that reads the configuration file
// given at start-up again. On SIGHUP the commands call Reload with it and
// their agent's Reload: a file that does not load is logged as one error
// line naming the file and line, and changes nothing; otherwise the agent
// applies the difference in its loop. SplitChanges finds that difference
// label by label and keeps the running values of the labels that need a
// restart; a ReloadError names those and anything else the agent refused.
package daemon
