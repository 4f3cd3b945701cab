package kernel

// dropRoutesFrom deletes the routes whose preferred source is the address a
// unless another present Address holds the same address, as the Linux
// kernel does when an address is deleted. f.mu is held.
func (f *Fake) dropRoutesFrom(a Address) {
	ip := a.Prefix.Addr()
	for _, e := range f.entries {
		if o, ok := e.(Address); ok && o.Prefix.Addr() == ip {
			return
		}
	}
	var deps []Entry
	for _, e := range f.entries {
		if r, ok := e.(Route); ok && r.Src == ip {
			deps = append(deps, e)
		}
	}
	Sort(deps)
	for _, d := range deps {
		f.drop(d)
	}
}
