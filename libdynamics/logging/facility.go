package logging

import (
	"errors"
	"fmt"
	"log/syslog"
	"strings"
)

// ErrFacility is returned for a syslog facility name that is not known.
var ErrFacility = errors.New("logging: unknown syslog facility")

// DefaultFacility is the facility used when Options.Facility is empty.
const DefaultFacility = "local0"

var facilities = map[string]syslog.Priority{
	"kern":     syslog.LOG_KERN,
	"user":     syslog.LOG_USER,
	"mail":     syslog.LOG_MAIL,
	"daemon":   syslog.LOG_DAEMON,
	"auth":     syslog.LOG_AUTH,
	"syslog":   syslog.LOG_SYSLOG,
	"lpr":      syslog.LOG_LPR,
	"news":     syslog.LOG_NEWS,
	"uucp":     syslog.LOG_UUCP,
	"cron":     syslog.LOG_CRON,
	"authpriv": syslog.LOG_AUTHPRIV,
	"ftp":      syslog.LOG_FTP,
	"local0":   syslog.LOG_LOCAL0,
	"local1":   syslog.LOG_LOCAL1,
	"local2":   syslog.LOG_LOCAL2,
	"local3":   syslog.LOG_LOCAL3,
	"local4":   syslog.LOG_LOCAL4,
	"local5":   syslog.LOG_LOCAL5,
	"local6":   syslog.LOG_LOCAL6,
	"local7":   syslog.LOG_LOCAL7,
}

// ParseFacility returns the syslog facility with the given name: kern,
// user, mail, daemon, auth, syslog, lpr, news, uucp, cron, authpriv, ftp
// or local0 to local7, in any case and with or without a "LOG_" prefix
// ("LOCAL0", "LOG_DAEMON").
func ParseFacility(name string) (syslog.Priority, error) {
	key := strings.ToLower(name)
	key = strings.TrimPrefix(key, "log_")
	if p, ok := facilities[key]; ok {
		return p, nil
	}
	return 0, fmt.Errorf("%w %q (want kern, user, mail, daemon, auth, syslog, lpr, news, uucp, cron, authpriv, ftp or local0 to local7)",
		ErrFacility, name)
}
