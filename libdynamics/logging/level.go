package logging

import (
	"log/slog"
	"log/syslog"
)

// Levels between and beyond slog's own, for the syslog severities slog
// lacks.
const (
	// LevelNotice is a normal but significant event, such as a binding
	// created or removed (syslog LOG_NOTICE).
	LevelNotice = slog.LevelInfo + 2
	// LevelCritical is a condition that stops the daemon from serving
	// (syslog LOG_CRIT).
	LevelCritical = slog.LevelError + 4
)

// Severity maps a slog level to the syslog severity it is logged with:
//
//	            level < Info      LOG_DEBUG
//	Info     <= level < Notice    LOG_INFO
//	Notice   <= level < Warn      LOG_NOTICE
//	Warn     <= level < Error     LOG_WARNING
//	Error    <= level < Critical  LOG_ERR
//	Critical <= level             LOG_CRIT
func Severity(level slog.Level) syslog.Priority {
	switch {
	case level < slog.LevelInfo:
		return syslog.LOG_DEBUG
	case level < LevelNotice:
		return syslog.LOG_INFO
	case level < slog.LevelWarn:
		return syslog.LOG_NOTICE
	case level < slog.LevelError:
		return syslog.LOG_WARNING
	case level < LevelCritical:
		return syslog.LOG_ERR
	}
	return syslog.LOG_CRIT
}

// levelName names the suite's extra levels in text output, where slog
// would write "INFO+2" and "ERROR+4".
func levelName(l slog.Level) string {
	switch l {
	case LevelNotice:
		return "NOTICE"
	case LevelCritical:
		return "CRITICAL"
	}
	return l.String()
}
