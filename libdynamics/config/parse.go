package config

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
)

const (
	beginSuffix = "_BEGIN"
	endSuffix   = "_END"
	// MaxLineLen is the longest line Parse accepts, in bytes.
	MaxLineLen = 1 << 20
)

// Load reads and parses the file at path; errors name the file by path.
func Load(path string) (*File, error) {
	fh, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer fh.Close()
	return Parse(path, fh)
}

// Parse reads a configuration file from r. The name is used in errors and
// kept as File.Name. Parse checks the format only (quoting, sections,
// duplicates); which labels are known and what their values mean is for
// Decode or File.Check. It stops at the first problem, returning an
// *Error that names the line.
func Parse(name string, r io.Reader) (*File, error) {
	p := parser{
		f:        &File{Name: name},
		labels:   make(map[string]int),
		sections: make(map[string]int),
	}
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 0, 4096), MaxLineLen)
	for sc.Scan() {
		p.line++
		text := sc.Text()
		if p.line == 1 {
			text = strings.TrimPrefix(text, "\uFEFF")
		}
		if err := p.parseLine(text); err != nil {
			return nil, err
		}
	}
	if err := sc.Err(); err != nil {
		if errors.Is(err, bufio.ErrTooLong) {
			return nil, errAt(name, p.line+1, "", ErrSyntax, "line longer than %d bytes", MaxLineLen)
		}
		return nil, &Error{File: name, Err: fmt.Errorf("read: %w", err)}
	}
	if p.open != nil {
		s := p.open
		return nil, errAt(name, s.Line, s.Name+beginSuffix, ErrUnclosed,
			"section never closed (no %s%s)", s.Name, endSuffix)
	}
	return p.f, nil
}

type parser struct {
	f        *File
	line     int
	open     *Section       // the section being read, if any
	labels   map[string]int // label -> line
	sections map[string]int // section name -> line of its BEGIN
}

func (p *parser) errorf(label string, kind error, format string, args ...any) *Error {
	return errAt(p.f.Name, p.line, label, kind, format, args...)
}

func (p *parser) parseLine(text string) error {
	toks, err := tokenize(text)
	if err != nil {
		label := ""
		switch {
		case p.open != nil:
			label = p.open.Name
		case len(toks) > 0 && !toks[0].quoted && validName(toks[0].text):
			label = toks[0].text
		}
		return p.errorf(label, ErrSyntax, "%s", err.Error())
	}
	if len(toks) == 0 {
		return nil
	}
	first := toks[0]
	if !first.quoted {
		if name, ok := strings.CutSuffix(first.text, beginSuffix); ok {
			return p.begin(name, first.text, len(toks))
		}
		if name, ok := strings.CutSuffix(first.text, endSuffix); ok {
			return p.end(name, first.text, len(toks))
		}
	}
	if p.open != nil {
		fields := make([]string, len(toks))
		for i, t := range toks {
			fields[i] = t.text
		}
		p.open.Entries = append(p.open.Entries, Entry{Fields: fields, Line: p.line})
		return nil
	}
	return p.setting(text, toks)
}

func (p *parser) marker(name, marker string, ntoks int) error {
	if name == "" {
		return p.errorf(marker, ErrSyntax, "section marker without a name")
	}
	if !validName(name) {
		return p.errorf("", ErrSyntax, "invalid section name %q (names are letters, digits, '_', '-' and '.')", name)
	}
	if ntoks > 1 {
		return p.errorf(marker, ErrSyntax, "section marker takes no value")
	}
	return nil
}

func (p *parser) begin(name, marker string, ntoks int) error {
	if err := p.marker(name, marker, ntoks); err != nil {
		return err
	}
	if p.open != nil {
		return p.errorf(marker, ErrNested, "section inside %s%s (line %d), which is not closed",
			p.open.Name, beginSuffix, p.open.Line)
	}
	if first, dup := p.sections[name]; dup {
		return p.errorf(marker, ErrDuplicate, "duplicate section, first opened at line %d", first)
	}
	p.sections[name] = p.line
	p.open = &Section{Name: name, Line: p.line}
	return nil
}

func (p *parser) end(name, marker string, ntoks int) error {
	if err := p.marker(name, marker, ntoks); err != nil {
		return err
	}
	if p.open == nil {
		return p.errorf(marker, ErrUnopened, "%s without %s%s", marker, name, beginSuffix)
	}
	if p.open.Name != name {
		return p.errorf(marker, ErrUnopened, "%s without %s%s (the open section is %s%s at line %d)",
			marker, name, beginSuffix, p.open.Name, beginSuffix, p.open.Line)
	}
	p.open.EndLine = p.line
	p.f.Sections = append(p.f.Sections, *p.open)
	p.open = nil
	return nil
}

func (p *parser) setting(text string, toks []token) error {
	label := toks[0]
	if label.quoted {
		return p.errorf("", ErrSyntax, "a line must start with a label, not a quoted string")
	}
	if !validName(label.text) {
		return p.errorf("", ErrSyntax, "invalid label %q (labels are letters, digits, '_', '-' and '.')", label.text)
	}
	if len(toks) == 1 {
		return p.errorf(label.text, ErrSyntax, "missing value")
	}
	var value string
	rest := toks[1:]
	switch {
	case len(rest) == 1 && rest[0].quoted:
		value = rest[0].text
	default:
		for _, t := range rest {
			if t.quoted {
				return p.errorf(label.text, ErrSyntax, "quoted text inside a longer value; quote the whole value")
			}
		}
		value = text[rest[0].start:rest[len(rest)-1].end]
	}
	if first, dup := p.labels[label.text]; dup {
		return p.errorf(label.text, ErrDuplicate, "duplicate label, first given at line %d", first)
	}
	p.labels[label.text] = p.line
	p.f.Settings = append(p.f.Settings, Setting{Label: label.text, Value: value, Line: p.line})
	return nil
}
