package config

import "errors"

// token is one field of a line: a run of text without whitespace, or a
// double-quoted string. start and end are its byte offsets in the line,
// quotes included.
type token struct {
	text       string
	quoted     bool
	start, end int
}

// isSpace reports whether c separates fields. Only ASCII whitespace does,
// so any other byte, valid UTF-8 or not, is part of a value.
func isSpace(c byte) bool {
	return c == ' ' || c == '\t' || c == '\r' || c == '\v' || c == '\f'
}

// validName reports whether s may be a label or section name: letters,
// digits, '_', '-' and '.'.
func validName(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9':
		case c == '_', c == '-', c == '.':
		default:
			return false
		}
	}
	return true
}

// tokenize splits a line into tokens up to a '#' outside quotes. Inside
// quotes, \" stands for a quote and \\ for a backslash; any other
// backslash is literal. On error it returns the tokens read so far.
func tokenize(line string) ([]token, error) {
	var toks []token
	i := 0
	for {
		for i < len(line) && isSpace(line[i]) {
			i++
		}
		if i == len(line) || line[i] == '#' {
			return toks, nil
		}
		start := i
		if line[i] == '"' {
			i++
			var b []byte
			closed := false
			for i < len(line) {
				c := line[i]
				if c == '\\' && i+1 < len(line) && (line[i+1] == '"' || line[i+1] == '\\') {
					b = append(b, line[i+1])
					i += 2
					continue
				}
				i++
				if c == '"' {
					closed = true
					break
				}
				b = append(b, c)
			}
			if !closed {
				return toks, errors.New("unterminated quoted string")
			}
			if i < len(line) && !isSpace(line[i]) && line[i] != '#' {
				return toks, errors.New("text after closing quote")
			}
			toks = append(toks, token{text: string(b), quoted: true, start: start, end: i})
			continue
		}
		for i < len(line) && !isSpace(line[i]) && line[i] != '#' {
			if line[i] == '"' {
				return toks, errors.New(`unexpected '"' inside unquoted text; quote the whole field`)
			}
			i++
		}
		toks = append(toks, token{text: line[start:i], start: start, end: i})
	}
}
