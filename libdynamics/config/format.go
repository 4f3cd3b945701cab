package config

import (
	"bytes"
	"strings"
)

// Format renders the file in the configuration format: settings and
// sections in line order, values and fields quoted where the format needs
// it, comments and blank lines dropped. Parsing the result gives the same
// labels, values, sections and entries. A value holding a line break
// cannot be written in the format and is cut at the break; an entry
// without fields is left out.
func (f *File) Format() []byte {
	var b bytes.Buffer
	si, ci := 0, 0
	lastSection := false
	for si < len(f.Settings) || ci < len(f.Sections) {
		if ci == len(f.Sections) || (si < len(f.Settings) && f.Settings[si].Line <= f.Sections[ci].Line) {
			s := f.Settings[si]
			si++
			if lastSection {
				b.WriteByte('\n')
			}
			lastSection = false
			b.WriteString(s.Label)
			b.WriteByte(' ')
			b.WriteString(quoteValue(s.Value))
			b.WriteByte('\n')
			continue
		}
		s := f.Sections[ci]
		ci++
		if b.Len() > 0 {
			b.WriteByte('\n')
		}
		lastSection = true
		b.WriteString(s.Name + beginSuffix + "\n")
		for _, e := range s.Entries {
			if len(e.Fields) == 0 {
				continue
			}
			for i, fld := range e.Fields {
				if i > 0 {
					b.WriteByte(' ')
				}
				b.WriteString(quoteField(fld, i == 0))
			}
			b.WriteByte('\n')
		}
		b.WriteString(s.Name + endSuffix + "\n")
	}
	return b.Bytes()
}

// quoteValue quotes a setting's value if it would not read back as itself
// unquoted.
func quoteValue(v string) string {
	v, _, _ = strings.Cut(v, "\n")
	if v == "" || strings.ContainsAny(v, `#"`) || isSpace(v[0]) || isSpace(v[len(v)-1]) {
		return quote(v)
	}
	return v
}

// quoteField quotes an entry's field if it would not read back as one
// field, or, as the first field, would read as a section marker.
func quoteField(v string, first bool) string {
	v, _, _ = strings.Cut(v, "\n")
	if v == "" || strings.ContainsAny(v, "#\" \t\r\v\f") {
		return quote(v)
	}
	if first && (strings.HasSuffix(v, beginSuffix) || strings.HasSuffix(v, endSuffix)) {
		return quote(v)
	}
	return v
}

func quote(v string) string {
	var b strings.Builder
	b.Grow(len(v) + 2)
	b.WriteByte('"')
	for i := 0; i < len(v); i++ {
		if v[i] == '"' || v[i] == '\\' {
			b.WriteByte('\\')
		}
		b.WriteByte(v[i])
	}
	b.WriteByte('"')
	return b.String()
}
