package config

import (
	"bytes"
	"errors"
	"strings"
	"testing"
)

// FuzzParse checks that Parse never panics, that its errors are *Error
// values with a line, and that a file that parses reads back the same
// after Format, with Format then stable.
func FuzzParse(f *testing.F) {
	f.Add(haText)
	f.Add("Secret \"a # \\\"b\\\" \\\\ c\"\nX y z\r\n")
	f.Add("S_BEGIN\n\"S_END\" \"\" x\nS_END\n")
	f.Add("A_BEGIN\nB_BEGIN\n")
	f.Add("\uFEFFL \"\"\n# c\n\tM\v v\f w\r\n")
	f.Fuzz(func(t *testing.T, in string) {
		file, err := Parse("fuzz.conf", strings.NewReader(in))
		if err != nil {
			var ce *Error
			if !errors.As(err, &ce) || ce.File != "fuzz.conf" {
				t.Fatalf("error %#v is not an *Error naming the file", err)
			}
			if !strings.HasPrefix(err.Error(), "fuzz.conf") {
				t.Fatalf("error %q does not start with the file name", err)
			}
			return
		}
		out := file.Format()
		again, err := Parse("fuzz.conf", bytes.NewReader(out))
		if err != nil {
			t.Fatalf("formatted file does not parse: %v\n%q", err, out)
		}
		if !sameContent(file, again) {
			t.Fatalf("content changed by Format:\nin  %q\nout %q\n%+v\n%+v", in, out, file, again)
		}
		if out2 := again.Format(); !bytes.Equal(out, out2) {
			t.Fatalf("Format not stable:\n%q\n%q", out, out2)
		}
	})
}
