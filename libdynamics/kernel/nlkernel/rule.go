package nlkernel

import (
	"errors"

	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"

	"github.com/dynamics-go/dynamics/libdynamics/kernel"
)

// nlRule converts a rule, marked with the Kernel's protocol. Table 0 (only
// used for deletion) matches any table.
func (k *Kernel) nlRule(r kernel.Rule) *netlink.Rule {
	nr := netlink.NewRule()
	nr.Family = netlink.FAMILY_V4
	nr.Priority = r.Priority
	nr.Src = ipNet(r.Src)
	nr.IifName = r.IIf
	nr.Table = r.Table
	nr.Protocol = uint8(k.opts.RouteProtocol)
	return nr
}

// ensureRule adds r, first deleting the Kernel's rule with r's Key and
// another table: the one it owns, or, during Sync, the one the kernel holds.
// k.mu is held.
func (k *Kernel) ensureRule(r kernel.Rule, snap *snapshot) error {
	old, ok := k.owned[r.Key()].(kernel.Rule)
	if !ok && snap != nil {
		old, ok = snap.rules[r.Key()]
	}
	if ok && old.Table != r.Table {
		if err := k.delRule(old); err != nil {
			return err
		}
	}
	err := k.h.RuleAdd(k.nlRule(r))
	if errors.Is(err, unix.EEXIST) {
		return nil // already there, as given
	}
	if err != nil {
		return err
	}
	k.changed("rule added", r.String())
	return nil
}

// removeRule deletes the Kernel's rule with r's Key. An owned rule is
// deleted exactly; otherwise in whatever table it points to. k.mu is held.
func (k *Kernel) removeRule(r kernel.Rule, owned bool) error {
	if !owned {
		r.Table = 0
	}
	return k.delRule(r)
}

// delRule deletes a rule carrying the Kernel's protocol; an absent one is not
// an error. k.mu is held.
func (k *Kernel) delRule(r kernel.Rule) error {
	err := k.h.RuleDel(k.nlRule(r))
	if errors.Is(err, unix.ENOENT) || errors.Is(err, unix.ESRCH) {
		return nil
	}
	if err != nil {
		return err
	}
	k.changed("rule deleted", r.Key())
	return nil
}

// ruleEntry converts a kernel rule back, for Sync. A rule without an IPv4
// source is not one the suite makes.
func ruleEntry(nr netlink.Rule) (kernel.Rule, bool) {
	if nr.Src == nil {
		return kernel.Rule{}, false
	}
	src, ok := prefixOf(nr.Src)
	if !ok || !src.Addr().Is4() {
		return kernel.Rule{}, false
	}
	return kernel.Rule{Priority: nr.Priority, Src: src, IIf: nr.IifName, Table: nr.Table}, true
}
