package cli

import (
	"bufio"
	"context"
	"errors"
	"io"
	"os"
	"strings"

	"golang.org/x/term"
)

// lineReader reads the commands of an interactive session.
type lineReader interface {
	readLine() (string, error)
}

// interactive reads commands from stdin until quit or end of input. On a
// terminal it prompts and edits lines with history; otherwise it reads
// plain lines, so that commands can be piped in. Empty lines and lines
// starting with # are skipped. The exit status is that of the last
// command that failed, 0 if none did.
func (s *Session) interactive(ctx context.Context, stdin io.Reader) int {
	var r lineReader
	if t, ok := newTermReader(stdin, s.stdout, s.tool.Prompt); ok {
		r = t
	} else {
		sc := bufio.NewScanner(stdin)
		sc.Buffer(make([]byte, 0, 4096), 1<<20)
		r = scanReader{sc}
	}
	status := ExitOK
	for ctx.Err() == nil {
		line, err := r.readLine()
		if err != nil {
			if !errors.Is(err, io.EOF) {
				s.stderr.Write([]byte(s.tool.Name + ": reading commands: " + err.Error() + "\n"))
				status = ExitUsage
			}
			break
		}
		words := strings.Fields(line)
		if len(words) == 0 || strings.HasPrefix(words[0], "#") {
			continue
		}
		code, quit := s.execute(ctx, words, true)
		if quit {
			break
		}
		if code != ExitOK {
			status = code
		}
	}
	return status
}

// scanReader reads plain lines.
type scanReader struct{ sc *bufio.Scanner }

func (r scanReader) readLine() (string, error) {
	if r.sc.Scan() {
		return r.sc.Text(), nil
	}
	if err := r.sc.Err(); err != nil {
		return "", err
	}
	return "", io.EOF
}

// termReader reads lines from a terminal with a prompt, line editing and
// history. The terminal is in raw mode only while a line is read, so that
// a command's output and Ctrl-C behave as usual.
type termReader struct {
	fd  int
	out io.Writer
	t   *term.Terminal
}

func newTermReader(stdin io.Reader, stdout io.Writer, prompt string) (*termReader, bool) {
	in, ok := stdin.(*os.File)
	if !ok || !term.IsTerminal(int(in.Fd())) {
		return nil, false
	}
	out, ok := stdout.(*os.File)
	if !ok || !term.IsTerminal(int(out.Fd())) {
		return nil, false
	}
	rw := struct {
		io.Reader
		io.Writer
	}{in, out}
	return &termReader{fd: int(in.Fd()), out: out, t: term.NewTerminal(rw, prompt)}, true
}

func (r *termReader) readLine() (string, error) {
	old, err := term.MakeRaw(r.fd)
	if err != nil {
		return "", err
	}
	line, err := r.t.ReadLine()
	term.Restore(r.fd, old)
	if errors.Is(err, io.EOF) {
		// Ctrl-D or Ctrl-C: end the prompt's line.
		io.WriteString(r.out, "\n")
	}
	return line, err
}
