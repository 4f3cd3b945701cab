// Package logging sets up the log/slog logger of the Dynamics daemons.
//
// A daemon calls New once at start:
//
//	logger, closer, err := logging.New(logging.Options{
//		Daemon:     "dynhad",
//		Foreground: flags.Foreground,   // --fg
//		Debug:      flags.Debug,        // --debug
//		Facility:   cfg.SyslogFacility, // "" means local0
//	})
//	if err != nil {
//		return err
//	}
//	defer closer.Close()
//	logger.Info("registration accepted",
//		logging.KeyHome, home, logging.KeyCoA, coa, logging.KeyCode, 0)
//
// In the background, records go to syslog with the chosen facility
// (default LOCAL0), tagged with the identity and process id, at the
// severity Severity maps their level to, and rendered as the message
// followed by key=value attributes:
//
//	Jan  2 15:04:05 ha dynhad[812]: registration accepted home=10.1.0.10 coa=10.2.0.1 code=0
//
// Values holding spaces, '=' or '"' are quoted, groups become dotted
// keys. With Foreground (--fg) the same records go to stderr as slog
// text, with time and level; Debug (--debug) adds debug records and the
// call site of each record. Without a reachable syslog (no /dev/log) the
// background logger falls back to stderr after a warning.
//
// The suite's fixed attribute keys are KeyHome, KeyCoA, KeyHA, KeyFA,
// KeyID, KeyCode, KeyIface and KeyErr ("home", "coa", "ha", "fa", "id",
// "code", "iface", "err"): every daemon uses them for the same things,
// so one search follows a mobile node through the whole suite.
// LevelNotice and LevelCritical fill the syslog severities that slog's
// levels lack.
package logging
