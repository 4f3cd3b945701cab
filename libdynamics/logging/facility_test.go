package logging

import (
	"errors"
	"log/syslog"
	"testing"
)

func TestParseFacility(t *testing.T) {
	good := []struct {
		name string
		want syslog.Priority
	}{
		{"daemon", syslog.LOG_DAEMON},
		{"local0", syslog.LOG_LOCAL0},
		{"LOCAL0", syslog.LOG_LOCAL0},
		{"local7", syslog.LOG_LOCAL7},
		{"LOG_LOCAL3", syslog.LOG_LOCAL3},
		{"log_daemon", syslog.LOG_DAEMON},
		{"kern", syslog.LOG_KERN},
		{"user", syslog.LOG_USER},
		{"authpriv", syslog.LOG_AUTHPRIV},
		{"ftp", syslog.LOG_FTP},
	}
	for _, tt := range good {
		got, err := ParseFacility(tt.name)
		if err != nil || got != tt.want {
			t.Errorf("ParseFacility(%q) = %d, %v; want %d", tt.name, got, err, tt.want)
		}
	}
	const list = " (want kern, user, mail, daemon, auth, syslog, lpr, news, uucp, cron, authpriv, ftp or local0 to local7)"
	bad := []struct{ name, want string }{
		{"local8", `logging: unknown syslog facility "local8"` + list},
		{"", `logging: unknown syslog facility ""` + list},
		{"local 0", `logging: unknown syslog facility "local 0"` + list},
		{"LOG_", `logging: unknown syslog facility "LOG_"` + list},
		{"23", `logging: unknown syslog facility "23"` + list},
	}
	for _, tt := range bad {
		_, err := ParseFacility(tt.name)
		if err == nil || err.Error() != tt.want {
			t.Errorf("ParseFacility(%q) error\n got %v\nwant %s", tt.name, err, tt.want)
		}
		if !errors.Is(err, ErrFacility) {
			t.Errorf("ParseFacility(%q): %v is not ErrFacility", tt.name, err)
		}
	}
}
