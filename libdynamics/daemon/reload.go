package daemon

import (
	"context"
	"errors"
	"log/slog"
	"net/netip"
	"reflect"
	"slices"
	"strings"

	"github.com/dynamics-go/dynamics/libdynamics/logging"
)

// Reload is what a daemon does on SIGHUP: it reads the configuration file
// again with load and hands the result to apply, the agent's Reload, which
// runs in the agent's loop and logs what it changed. A file that does not
// load (it does not parse, or a value does not check) is logged as one
// error line naming the file, line and label, and changes nothing:
//
//	reload failed, keeping the running configuration: dynhad.conf:12: MaxLifetime: ...
//
// A *ReloadError from apply has been logged by the agent already; any other
// error (the agent stopped) is logged here. Reload returns the error.
func Reload[C any](ctx context.Context, log *slog.Logger, load func() (C, error), apply func(context.Context, C) error) error {
	cfg, err := load()
	if err != nil {
		log.Error("reload failed, keeping the running configuration: " + OneLine(err))
		return err
	}
	err = apply(ctx, cfg)
	var partial *ReloadError
	if err != nil && !errors.As(err, &partial) {
		log.Error("reload failed", logging.KeyErr, err)
	}
	return err
}

// OneLine renders err on one line: the errors of errors.Join are separated
// by "; " instead of line breaks, so a log line holds them all.
func OneLine(err error) string {
	return strings.ReplaceAll(err.Error(), "\n", "; ")
}

// ReloadError is what an agent's Reload could not apply. The rest of the
// new configuration has been applied.
type ReloadError struct {
	// Restart are the labels whose new values need a restart; the agent
	// keeps running with their old values.
	Restart []string
	// Rejected are the parts of the new configuration the agent refused,
	// each naming its label (an AUTHORIZEDLIST entry outside the running
	// HomeNetPrefix, say).
	Rejected []error
}

func (e *ReloadError) Error() string {
	var parts []string
	if len(e.Restart) > 0 {
		parts = append(parts, RestartMessage(e.Restart))
	}
	for _, err := range e.Rejected {
		parts = append(parts, OneLine(err))
	}
	return strings.Join(parts, "; ")
}

// Err returns e, or nil when there is nothing in it.
func (e *ReloadError) Err() error {
	if len(e.Restart) == 0 && len(e.Rejected) == 0 {
		return nil
	}
	return e
}

// RestartMessage is the warning naming the labels whose change needs a
// restart: "needs a restart: HAIPAddress, HomeInterface".
func RestartMessage(labels []string) string {
	return "needs a restart: " + strings.Join(labels, ", ")
}

// SplitChanges compares a daemon's running configuration with the one just
// read, label by label (the `dyn` struct tags of C; the line numbers of list
// entries are ignored, and a nil list equals an empty one). It returns the
// labels that changed and may change while the daemon runs, and those among
// fixed (the settings that cannot) that changed, each in the order of C's
// fields. For the latter next gets the running value back, so that next is
// the configuration the daemon runs with from now on.
func SplitChanges[C any](running C, next *C, fixed ...string) (changed, restart []string) {
	rv, nv := reflect.ValueOf(running), reflect.ValueOf(next).Elem()
	t := rv.Type()
	for i := range t.NumField() {
		label := labelOf(t.Field(i))
		if label == "" || sameValue(rv.Field(i), nv.Field(i)) {
			continue
		}
		if slices.Contains(fixed, label) {
			restart = append(restart, label)
			nv.Field(i).Set(rv.Field(i))
			continue
		}
		changed = append(changed, label)
	}
	return changed, restart
}

// JoinLabels lists labels for a log line: "MaxLifetime,AUTHORIZEDLIST", or
// "none".
func JoinLabels(labels []string) string {
	if len(labels) == 0 {
		return "none"
	}
	return strings.Join(labels, ",")
}

// JoinAddrs lists addresses for a log line: "10.1.0.11,10.1.0.12".
func JoinAddrs(addrs []netip.Addr) string {
	s := make([]string, len(addrs))
	for i, a := range addrs {
		s[i] = a.String()
	}
	return strings.Join(s, ",")
}

// labelOf returns the configuration label of a field from its `dyn` tag,
// or "" for a field that has none (or is a list entry's line number).
func labelOf(f reflect.StructField) string {
	tag, ok := f.Tag.Lookup("dyn")
	if !ok || !f.IsExported() {
		return ""
	}
	name, _, _ := strings.Cut(tag, ",")
	if name == "-" {
		return ""
	}
	return name
}

// isLineField reports whether f receives an entry's line number.
func isLineField(f reflect.StructField) bool { return f.Tag.Get("dyn") == ",line" }

// sameValue compares two configuration values: list entries field by field
// without their line numbers, everything else with reflect.DeepEqual.
func sameValue(a, b reflect.Value) bool {
	switch a.Kind() {
	case reflect.Slice:
		if a.Len() != b.Len() {
			return false
		}
		if a.Len() == 0 {
			return true
		}
		if a.Type().Elem().Kind() != reflect.Struct {
			break
		}
		for i := range a.Len() {
			if !sameValue(a.Index(i), b.Index(i)) {
				return false
			}
		}
		return true
	case reflect.Struct:
		if !hasLineField(a.Type()) {
			break
		}
		for i := range a.NumField() {
			f := a.Type().Field(i)
			if isLineField(f) || !f.IsExported() {
				continue
			}
			if !sameValue(a.Field(i), b.Field(i)) {
				return false
			}
		}
		return true
	}
	return reflect.DeepEqual(a.Interface(), b.Interface())
}

func hasLineField(t reflect.Type) bool {
	for i := range t.NumField() {
		if isLineField(t.Field(i)) {
			return true
		}
	}
	return false
}
