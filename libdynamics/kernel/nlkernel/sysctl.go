package nlkernel

import (
	"fmt"
	"os"
	"path"
	"strings"

	"github.com/dynamics-go/dynamics/libdynamics/kernel"
)

// sysctlRoot is where sysctls live; the files under net/ belong to the
// network namespace of the thread that opens them.
const sysctlRoot = "/proc/sys"

// sameValue compares sysctl values as the kernel prints them: fields
// separated by tabs, ended by a newline.
func sameValue(a, b string) bool {
	return strings.Join(strings.Fields(a), " ") == strings.Join(strings.Fields(b), " ")
}

// readSysctl reads a sysctl in the Kernel's namespace.
func (k *Kernel) readSysctl(name string) (string, error) {
	var v string
	err := inNS(k.ns, func() error {
		b, err := os.ReadFile(path.Join(sysctlRoot, name))
		v = strings.TrimSpace(string(b))
		return err
	})
	return v, err
}

// writeSysctl writes a sysctl in the Kernel's namespace.
func (k *Kernel) writeSysctl(name, value string) error {
	return inNS(k.ns, func() error {
		f, err := os.OpenFile(path.Join(sysctlRoot, name), os.O_WRONLY|os.O_TRUNC, 0)
		if err != nil {
			return err
		}
		if _, err := f.WriteString(value); err != nil {
			f.Close()
			return err
		}
		return f.Close()
	})
}

// ensureSysctl writes s unless it already has its value, remembering the value
// found the first time: the one a crashed earlier run found, when the state
// file records it and the sysctl still has that run's value. k.mu is held.
func (k *Kernel) ensureSysctl(s kernel.Sysctl) error {
	cur, err := k.readSysctl(s.Name)
	if err != nil {
		return err
	}
	rec, owned := k.sysctls[s.Name]
	if !owned {
		rec = stateSysctl{Name: s.Name, Original: cur}
		if l, ok := k.left.sysctls[s.Name]; ok && sameValue(cur, l.Value) {
			rec.Original = l.Original
		}
	}
	rec.Value = s.Value
	if !sameValue(cur, s.Value) {
		if err := k.writeSysctl(s.Name, s.Value); err != nil {
			return err
		}
		k.changed("sysctl written", s.String())
	}
	if prev, ok := k.sysctls[s.Name]; !ok || prev != rec {
		k.dirty = true
	}
	if _, ok := k.left.sysctls[s.Name]; ok {
		k.dirty = true
	}
	k.sysctls[s.Name] = rec
	delete(k.left.sysctls, s.Name)
	return nil
}

// restoreSysctl writes back the value a sysctl had before this Kernel (or
// the run recorded in the state file) changed it, unless someone has changed
// it since. k.mu is held.
func (k *Kernel) restoreSysctl(name string) error {
	rec, ok := k.sysctls[name]
	if !ok {
		if rec, ok = k.left.sysctls[name]; !ok {
			return nil
		}
	}
	cur, err := k.readSysctl(name)
	if err != nil {
		return err
	}
	switch {
	case sameValue(cur, rec.Original):
	case !sameValue(cur, rec.Value):
		k.log.Info("sysctl changed by someone else; not restoring it",
			"sysctl", name, "value", cur, "set", rec.Value, "original", rec.Original)
	default:
		if err := k.writeSysctl(name, rec.Original); err != nil {
			return fmt.Errorf("restore %s=%s: %w", name, rec.Original, err)
		}
		k.changed("sysctl restored", kernel.Sysctl{Name: name, Value: rec.Original}.String())
	}
	k.dirty = true
	delete(k.sysctls, name)
	delete(k.left.sysctls, name)
	return nil
}
