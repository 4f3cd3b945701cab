package config

import (
	"errors"
	"fmt"
	"sort"
)

// File is a parsed configuration file: its settings and sections in file
// order, each with the line it was read from.
type File struct {
	// Name is the file's name as given to Parse or Load; every error
	// about the file starts with it.
	Name string
	// Settings are the "Label value" lines, in file order.
	Settings []Setting
	// Sections are the NAME_BEGIN ... NAME_END blocks, in file order.
	Sections []Section
}

// Setting is one "Label value" line.
type Setting struct {
	Label string
	Value string // without surrounding quotes, escapes resolved
	Line  int
}

// Section is one list section: the lines between NAME_BEGIN and NAME_END.
type Section struct {
	Name    string // the marker without its suffix: "INTERFACES"
	Line    int    // line of NAME_BEGIN
	EndLine int    // line of NAME_END
	Entries []Entry
}

// Entry is one line of a section, split into whitespace-separated fields
// (quoted fields may hold spaces and '#').
type Entry struct {
	Fields []string
	Line   int
}

// Setting returns the setting with the given label.
func (f *File) Setting(label string) (Setting, bool) {
	for _, s := range f.Settings {
		if s.Label == label {
			return s, true
		}
	}
	return Setting{}, false
}

// Value returns the value of the given label.
func (f *File) Value(label string) (string, bool) {
	s, ok := f.Setting(label)
	return s.Value, ok
}

// Section returns the section with the given name ("INTERFACES", not
// "INTERFACES_BEGIN").
func (f *File) Section(name string) (Section, bool) {
	for _, s := range f.Sections {
		if s.Name == name {
			return s, true
		}
	}
	return Section{}, false
}

// Line returns the line of a label or, failing that, of a section's
// NAME_BEGIN marker; 0 if the file has neither.
func (f *File) Line(name string) int {
	if s, ok := f.Setting(name); ok {
		return s.Line
	}
	if s, ok := f.Section(name); ok {
		return s.Line
	}
	return 0
}

// Errorf returns an *Error at the line of label (see Line) for a problem a
// reader found in a value that parsed: a home address outside the home
// prefix, a section entry naming an unknown interface. The format may use
// %w to wrap the caller's own sentinel.
//
//	return f.Errorf("HAIPAddress", "%s is not inside HomeNetPrefix %s", ha, prefix)
//	// dynhad.conf:4: HAIPAddress: 10.2.0.1 is not inside HomeNetPrefix 10.1.0.0/24
func (f *File) Errorf(label, format string, args ...any) *Error {
	return f.ErrorfAt(f.Line(label), label, format, args...)
}

// ErrorfAt is Errorf for a given line, such as the Line of a section Entry
// or of a decoded entry struct's `dyn:",line"` field.
func (f *File) ErrorfAt(line int, label, format string, args ...any) *Error {
	return &Error{File: f.Name, Line: line, Label: label, Err: fmt.Errorf(format, args...)}
}

// Check reports every label not in labels and every section not in
// sections as an *Error wrapping ErrUnknown, with a suggestion when the
// name is close to a known one. Several errors are joined in line order.
// Decode makes this check itself, from the struct's tags.
func (f *File) Check(labels, sections []string) error {
	var errs []*Error
	for _, s := range f.Settings {
		if !contains(labels, s.Label) {
			errs = append(errs, unknown(f.Name, s.Line, s.Label, "label", labels))
		}
	}
	for _, s := range f.Sections {
		if !contains(sections, s.Name) {
			errs = append(errs, unknown(f.Name, s.Line, s.Name+beginSuffix, "section", sections))
		}
	}
	return joinErrors(errs)
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// unknown builds the error for an unknown label or section, suggesting
// the nearest known name when there is a plausible one.
func unknown(file string, line int, label, what string, known []string) *Error {
	name := label
	if what == "section" {
		name = label[:len(label)-len(beginSuffix)]
	}
	if s := suggest(name, known); s != "" {
		if what == "section" {
			s += beginSuffix
		}
		return errAt(file, line, label, ErrUnknown, "unknown %s (did you mean %s?)", what, s)
	}
	return errAt(file, line, label, ErrUnknown, "unknown %s", what)
}

// joinErrors returns nil, the single error, or all of them joined, sorted
// by line with line-less errors last.
func joinErrors(errs []*Error) error {
	switch len(errs) {
	case 0:
		return nil
	case 1:
		return errs[0]
	}
	sort.SliceStable(errs, func(i, j int) bool {
		li, lj := errs[i].Line, errs[j].Line
		if li == 0 || lj == 0 {
			return li != 0 && lj == 0
		}
		return li < lj
	})
	all := make([]error, len(errs))
	for i, e := range errs {
		all[i] = e
	}
	return errors.Join(all...)
}
