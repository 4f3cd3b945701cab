package logging

import (
	"log/slog"
	"log/syslog"
	"testing"
)

func TestSeverity(t *testing.T) {
	tests := []struct {
		level slog.Level
		want  syslog.Priority
	}{
		{slog.LevelDebug - 4, syslog.LOG_DEBUG},
		{slog.LevelDebug, syslog.LOG_DEBUG},
		{slog.LevelInfo - 1, syslog.LOG_DEBUG},
		{slog.LevelInfo, syslog.LOG_INFO},
		{slog.LevelInfo + 1, syslog.LOG_INFO},
		{LevelNotice, syslog.LOG_NOTICE},
		{slog.LevelWarn - 1, syslog.LOG_NOTICE},
		{slog.LevelWarn, syslog.LOG_WARNING},
		{slog.LevelError - 1, syslog.LOG_WARNING},
		{slog.LevelError, syslog.LOG_ERR},
		{LevelCritical - 1, syslog.LOG_ERR},
		{LevelCritical, syslog.LOG_CRIT},
		{LevelCritical + 100, syslog.LOG_CRIT},
	}
	for _, tt := range tests {
		if got := Severity(tt.level); got != tt.want {
			t.Errorf("Severity(%v) = %d, want %d", tt.level, got, tt.want)
		}
	}
}
