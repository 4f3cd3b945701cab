package config

import (
	"fmt"
	"reflect"
	"sort"
	"strconv"
	"strings"
)

// EntryUnmarshaler is implemented by section entry types with their own
// grammar. UnmarshalEntry gets the entry's fields; its error is reported as
// an *Error naming the file, the entry's line and the section, and wrapping
// both ErrInvalid and the returned error.
type EntryUnmarshaler interface {
	UnmarshalEntry(fields []string) error
}

// Decode stores the file's settings and sections in the struct v points
// to, guided by `dyn` struct tags, and checks that the file holds nothing
// else: a label or section with no field is an error naming its line, so a
// misspelt label is caught rather than ignored.
//
// A field tagged with a label name takes that label's value:
//
//	HA       netip.Addr    `dyn:"HAIPAddress,required"`
//	Lifetime time.Duration `dyn:"MaxBindingLifetime,default=300"`
//
// Options are "required" (the label must be present) and "default=VALUE"
// (used when the label is absent; it takes the rest of the tag, commas
// included). Untagged fields, and fields tagged "-", are left alone;
// untagged embedded structs are decoded as if their fields were the
// outer struct's.
//
// Value types: string; bool (yes/no, true/false, on/off, 1/0, any case);
// int and uint of every size (decimal, or hexadecimal after 0x);
// time.Duration (a plain number of seconds, or Go syntax such as 90s or
// 1h30m); netip.Addr (IPv4 only); netip.Prefix (IPv4, no host bits);
// []byte and [N]byte (hexadecimal, optional 0x); and any type whose
// pointer implements encoding.TextUnmarshaler.
//
// A field of slice type []T (other than []byte) takes a section, named
// without its _BEGIN suffix, one element per entry:
//
//	Authorized []Authorized `dyn:"AUTHORIZEDLIST"`
//
// T is one of: a type whose pointer implements EntryUnmarshaler; a value
// type as above, for entries of exactly one field; or a struct whose
// fields are tagged with their 0-based position in the entry:
//
//	type Authorized struct {
//		Home     netip.Addr `dyn:"0"`
//		SPI      uint32     `dyn:"1"`
//		Lifetime uint16     `dyn:"2,optional"`
//		Line     int        `dyn:",line"`
//	}
//
// Positions must run from 0 without gaps; "optional" (or "default=VALUE")
// positions must come last. An int field tagged ",line" receives the
// entry's line, for later errors through File.ErrorfAt. A section that is
// present but empty gives an empty, non-nil slice; element i of the slice
// comes from Entries[i] of the section.
//
// Decode reports every problem it finds, each an *Error naming file, line
// and label, joined in line order (errors.As finds the first). A problem
// with v itself (not a pointer to a struct, a malformed tag) is reported
// as ErrTarget before the file is looked at. On error, v may be partly
// filled.
func Decode(f *File, v any) error {
	if f == nil {
		return fmt.Errorf("%w: nil *File", ErrTarget)
	}
	rv := reflect.ValueOf(v)
	if rv.Kind() != reflect.Pointer || rv.IsNil() || rv.Elem().Kind() != reflect.Struct {
		return fmt.Errorf("%w: want a non-nil pointer to a struct, got %T", ErrTarget, v)
	}
	fields, err := planStruct(rv.Elem().Type())
	if err != nil {
		return err
	}
	var labels, sections []string
	for _, fp := range fields {
		if fp.entry != nil {
			sections = append(sections, fp.name)
		} else {
			labels = append(labels, fp.name)
		}
	}
	var errs []*Error
	if err := f.Check(labels, sections); err != nil {
		errs = append(errs, unjoin(err)...)
	}
	root := rv.Elem()
	for _, fp := range fields {
		dst := root.FieldByIndex(fp.index)
		if fp.entry != nil {
			errs = append(errs, f.decodeSection(fp, dst)...)
			continue
		}
		s, ok := f.Setting(fp.name)
		switch {
		case ok:
			if p := setScalar(dst, s.Value); p != nil {
				errs = append(errs, &Error{File: f.Name, Line: s.Line, Label: s.Label, Err: p})
			}
		case fp.required:
			errs = append(errs, errAt(f.Name, 0, fp.name, ErrMissing, "required label missing"))
		case fp.def != nil:
			setScalar(dst, *fp.def) // checked by planStruct
		}
	}
	return joinErrors(errs)
}

func unjoin(err error) []*Error {
	if e, ok := err.(*Error); ok {
		return []*Error{e}
	}
	var out []*Error
	for _, e := range err.(interface{ Unwrap() []error }).Unwrap() {
		out = append(out, e.(*Error))
	}
	return out
}

func (f *File) decodeSection(fp fieldPlan, dst reflect.Value) []*Error {
	sec, ok := f.Section(fp.name)
	if !ok {
		if fp.required {
			return []*Error{errAt(f.Name, 0, fp.name, ErrMissing, "required section missing")}
		}
		return nil
	}
	var errs []*Error
	out := reflect.MakeSlice(dst.Type(), 0, len(sec.Entries))
	for _, e := range sec.Entries {
		elem := reflect.New(dst.Type().Elem()).Elem()
		if p := fp.entry.decode(elem, e); p != nil {
			errs = append(errs, &Error{File: f.Name, Line: e.Line, Label: sec.Name, Err: p})
			continue
		}
		out = reflect.Append(out, elem)
	}
	dst.Set(out)
	return errs
}

// fieldPlan is how one tagged struct field is decoded.
type fieldPlan struct {
	name     string
	index    []int
	required bool
	def      *string
	entry    *entryPlan // non-nil for a section
}

// entryPlan is how one section entry is decoded into its element type.
type entryPlan struct {
	custom   bool // *T implements EntryUnmarshaler
	scalar   bool // T is a value type: the entry is one field
	cols     []column
	line     []int // index of the ",line" field, if any
	min, max int   // number of fields accepted
}

type column struct {
	pos      int
	index    []int
	optional bool
	def      *string
}

func (ep *entryPlan) decode(v reflect.Value, e Entry) *problem {
	switch {
	case ep.custom:
		if err := v.Addr().Interface().(EntryUnmarshaler).UnmarshalEntry(e.Fields); err != nil {
			return &problem{kind: ErrInvalid, msg: err.Error(), cause: err}
		}
		return nil
	case ep.scalar:
		if len(e.Fields) != 1 {
			return invalid("entry has %s, want 1", plural(len(e.Fields), "field"))
		}
		return setScalar(v, e.Fields[0])
	}
	if n := len(e.Fields); n < ep.min || n > ep.max {
		want := strconv.Itoa(ep.min)
		if ep.max > ep.min {
			want = fmt.Sprintf("%d to %d", ep.min, ep.max)
		}
		return invalid("entry has %s, want %s", plural(n, "field"), want)
	}
	for _, c := range ep.cols {
		dst := v.FieldByIndex(c.index)
		if c.pos >= len(e.Fields) {
			if c.def != nil {
				setScalar(dst, *c.def) // checked by planEntry
			}
			continue
		}
		if p := setScalar(dst, e.Fields[c.pos]); p != nil {
			p.msg = fmt.Sprintf("field %d: %s", c.pos+1, p.msg)
			return p
		}
	}
	if ep.line != nil {
		v.FieldByIndex(ep.line).SetInt(int64(e.Line))
	}
	return nil
}

func plural(n int, word string) string {
	if n == 1 {
		return "1 " + word
	}
	return fmt.Sprintf("%d %ss", n, word)
}

// tag is a parsed `dyn` struct tag.
type tag struct {
	name     string
	required bool
	optional bool
	line     bool
	def      *string
}

func parseTag(s string) (tag, error) {
	var t tag
	name, rest, more := strings.Cut(s, ",")
	t.name = name
	for more {
		var opt string
		if d, ok := strings.CutPrefix(rest, "default="); ok {
			t.def = &d
			break
		}
		opt, rest, more = strings.Cut(rest, ",")
		switch opt {
		case "required":
			t.required = true
		case "optional":
			t.optional = true
		case "line":
			t.line = true
		default:
			return t, fmt.Errorf("unknown tag option %q", opt)
		}
	}
	if t.required && (t.def != nil || t.optional) {
		return t, fmt.Errorf("required conflicts with optional and default")
	}
	return t, nil
}

func targetErr(t reflect.Type, field, format string, args ...any) error {
	return fmt.Errorf("%w: %s.%s: %s", ErrTarget, t, field, fmt.Sprintf(format, args...))
}

// planStruct reads the dyn tags of a top-level struct.
func planStruct(t reflect.Type) ([]fieldPlan, error) {
	var out []fieldPlan
	seen := map[string]string{} // "label:X" or "section:X" -> Go field
	err := walkFields(t, nil, func(sf reflect.StructField, index []int, tg tag) error {
		if !validName(tg.name) {
			return targetErr(t, sf.Name, "invalid label name %q", tg.name)
		}
		if tg.line {
			return targetErr(t, sf.Name, "the line option is for section entries")
		}
		fp := fieldPlan{name: tg.name, index: index, required: tg.required, def: tg.def}
		key := "label:" + tg.name
		ft := sf.Type
		if !isScalar(ft) {
			if ft.Kind() != reflect.Slice {
				return targetErr(t, sf.Name, "unsupported type %s", ft)
			}
			if tg.def != nil {
				return targetErr(t, sf.Name, "a section takes no default")
			}
			if strings.HasSuffix(tg.name, beginSuffix) || strings.HasSuffix(tg.name, endSuffix) {
				return targetErr(t, sf.Name, "name the section without its %s suffix", beginSuffix)
			}
			ep, err := planEntry(ft.Elem())
			if err != nil {
				return err
			}
			fp.entry = ep
			key = "section:" + tg.name
		} else if tg.def != nil {
			if p := setScalar(reflect.New(ft).Elem(), *tg.def); p != nil {
				return targetErr(t, sf.Name, "default: %s", p.msg)
			}
		}
		if other, dup := seen[key]; dup {
			return targetErr(t, sf.Name, "%s is also the tag of %s", tg.name, other)
		}
		seen[key] = sf.Name
		out = append(out, fp)
		return nil
	})
	return out, err
}

// planEntry works out how to decode one section entry into an element of
// type t.
func planEntry(t reflect.Type) (*entryPlan, error) {
	if reflect.PointerTo(t).Implements(entryUnmarshalerType) {
		return &entryPlan{custom: true}, nil
	}
	if isScalar(t) {
		return &entryPlan{scalar: true, min: 1, max: 1}, nil
	}
	if t.Kind() != reflect.Struct {
		return nil, fmt.Errorf("%w: %s: unsupported section entry type", ErrTarget, t)
	}
	ep := &entryPlan{}
	byPos := map[int]string{}
	err := walkFields(t, nil, func(sf reflect.StructField, index []int, tg tag) error {
		if tg.line {
			if tg.name != "" || tg.required || tg.optional || tg.def != nil {
				return targetErr(t, sf.Name, `the line field is tagged exactly ",line"`)
			}
			if k := sf.Type.Kind(); k != reflect.Int || ep.line != nil {
				return targetErr(t, sf.Name, "the line field must be the only int tagged ,line")
			}
			ep.line = index
			return nil
		}
		pos, err := strconv.Atoi(tg.name)
		if err != nil || pos < 0 || strconv.Itoa(pos) != tg.name {
			return targetErr(t, sf.Name, "entry fields are tagged with their position, not %q", tg.name)
		}
		if other, dup := byPos[pos]; dup {
			return targetErr(t, sf.Name, "position %d is also the tag of %s", pos, other)
		}
		byPos[pos] = sf.Name
		if !isScalar(sf.Type) {
			return targetErr(t, sf.Name, "unsupported type %s", sf.Type)
		}
		if tg.def != nil {
			if p := setScalar(reflect.New(sf.Type).Elem(), *tg.def); p != nil {
				return targetErr(t, sf.Name, "default: %s", p.msg)
			}
		}
		c := column{pos: pos, index: index, optional: tg.optional || tg.def != nil, def: tg.def}
		if !c.optional {
			ep.min = max(ep.min, pos+1)
		}
		ep.cols = append(ep.cols, c)
		return nil
	})
	if err != nil {
		return nil, err
	}
	if len(ep.cols) == 0 {
		return nil, fmt.Errorf("%w: %s: no field tagged with a position", ErrTarget, t)
	}
	sort.Slice(ep.cols, func(i, j int) bool { return ep.cols[i].pos < ep.cols[j].pos })
	for i, c := range ep.cols {
		if c.pos != i {
			return nil, fmt.Errorf("%w: %s: no field for position %d", ErrTarget, t, i)
		}
	}
	ep.max = len(ep.cols)
	// Every position below min is required, so optional ones are trailing.
	for _, c := range ep.cols[:ep.min] {
		if c.optional {
			return nil, fmt.Errorf("%w: %s: optional position %d comes before a required one", ErrTarget, t, c.pos)
		}
	}
	return ep, nil
}

// walkFields calls fn for every dyn-tagged field of struct type t,
// descending into untagged embedded structs.
func walkFields(t reflect.Type, prefix []int, fn func(reflect.StructField, []int, tag) error) error {
	for i := range t.NumField() {
		sf := t.Field(i)
		index := append(append([]int(nil), prefix...), i)
		raw, tagged := sf.Tag.Lookup("dyn")
		if raw == "-" {
			continue
		}
		if !tagged {
			if sf.Anonymous && sf.Type.Kind() == reflect.Struct {
				if err := walkFields(sf.Type, index, fn); err != nil {
					return err
				}
			}
			continue
		}
		if !sf.IsExported() {
			return targetErr(t, sf.Name, "tagged field is not exported")
		}
		tg, err := parseTag(raw)
		if err != nil {
			return targetErr(t, sf.Name, "%v", err)
		}
		if err := fn(sf, index, tg); err != nil {
			return err
		}
	}
	return nil
}
