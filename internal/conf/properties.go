package conf

import (
	"bytes"
	"fmt"
	"io"
	"strings"
	"unicode/utf16"
	"unicode/utf8"
)

// Entry is one key/value pair of a properties file, with the 1-based line on
// which its logical line starts.
type Entry struct {
	Key   string
	Value string
	Line  int
}

// Properties is a parsed Java-style .properties file. It keeps every entry in
// file order; comments and blank lines are dropped. When a key occurs more
// than once the last occurrence wins (as in java.util.Properties) and a
// Warning is recorded.
type Properties struct {
	file     string
	entries  []Entry
	last     map[string]int // key -> index in entries of its last occurrence
	keys     []string       // distinct keys, in order of first occurrence
	warnings []Warning
}

// ParseProperties parses r as a java.util.Properties file (see the package
// documentation for the exact syntax). filename is used only in error and
// warning positions.
//
// It returns an ErrorList when some lines are malformed (a bad \uXXXX escape
// is the only syntax error the format has); the returned *Properties then
// still holds every entry that parsed, so callers can report all problems in
// one go. A read error is returned wrapped (errors.Is works), with a nil
// *Properties.
func ParseProperties(r io.Reader, filename string) (*Properties, error) {
	data, err := io.ReadAll(r)
	if err != nil {
		return nil, fmt.Errorf("%s: read: %w", filename, err)
	}
	data = bytes.TrimPrefix(data, []byte("\uFEFF")) // UTF-8 BOM from Windows editors

	p := &Properties{file: filename, last: map[string]int{}}
	var errs ErrorList

	var (
		logical  []byte // current logical line, continuation backslashes removed
		lineOf   []int  // physical line number of each byte of logical
		start    int    // physical line where the logical line starts
		inCont   bool   // the previous physical line ended with a continuation
		physLine int
	)
	for len(data) > 0 || inCont {
		if len(data) == 0 { // EOF right after a continuation backslash
			p.addLine(logical, lineOf, start, &errs)
			break
		}
		physLine++
		var ln []byte
		if i := bytes.IndexAny(data, "\r\n"); i >= 0 {
			ln = data[:i]
			if data[i] == '\r' && i+1 < len(data) && data[i+1] == '\n' {
				data = data[i+2:]
			} else {
				data = data[i+1:]
			}
		} else {
			ln, data = data, nil
		}
		s := bytes.TrimLeft(ln, " \t\f")
		if !inCont {
			if len(s) == 0 || s[0] == '#' || s[0] == '!' {
				continue
			}
			logical, lineOf, start = logical[:0], lineOf[:0], physLine
		}
		n := 0 // trailing backslashes
		for n < len(s) && s[len(s)-1-n] == '\\' {
			n++
		}
		inCont = n%2 == 1
		if inCont {
			s = s[:len(s)-1]
		}
		logical = append(logical, s...)
		for range s {
			lineOf = append(lineOf, physLine)
		}
		if !inCont {
			p.addLine(logical, lineOf, start, &errs)
		}
	}
	return p, errs.Err()
}

func isPropSpace(c byte) bool { return c == ' ' || c == '\t' || c == '\f' }

// addLine splits one logical line into key and value the way
// java.util.Properties.load does.
func (p *Properties) addLine(b []byte, lineOf []int, start int, errs *ErrorList) {
	keyEnd, valStart := len(b), len(b)
	hasSep, esc := false, false
	for i := 0; i < len(b); i++ {
		c := b[i]
		if !esc && (c == '=' || c == ':') {
			keyEnd, valStart, hasSep = i, i+1, true
			break
		}
		if !esc && isPropSpace(c) {
			keyEnd, valStart = i, i+1
			break
		}
		esc = c == '\\' && !esc
	}
	for valStart < len(b) {
		c := b[valStart]
		if !isPropSpace(c) {
			if !hasSep && (c == '=' || c == ':') {
				hasSep = true
			} else {
				break
			}
		}
		valStart++
	}
	key, kerr := p.unescape(b[:keyEnd], lineOf[:keyEnd], "", start)
	value, verr := p.unescape(b[valStart:], lineOf[valStart:], key, start)
	for _, e := range []*Error{kerr, verr} {
		if e != nil {
			*errs = append(*errs, e)
		}
	}
	if kerr != nil || verr != nil {
		return
	}
	if prev, dup := p.last[key]; dup {
		p.warnings = append(p.warnings, Warning{File: p.file, Line: start, Key: key,
			Msg: fmt.Sprintf("duplicate key: overrides the value set on line %d", p.entries[prev].Line)})
	} else {
		p.keys = append(p.keys, key)
	}
	p.last[key] = len(p.entries)
	p.entries = append(p.entries, Entry{Key: key, Value: value, Line: start})
}

// unescape decodes Java escapes in b. For values (key != "" or a value of
// the empty key) unescaped trailing whitespace is trimmed.
func (p *Properties) unescape(b []byte, lineOf []int, key string, start int) (string, *Error) {
	if bytes.IndexByte(b, '\\') < 0 {
		return string(bytes.TrimRight(b, " \t\f")), nil
	}
	var out strings.Builder
	keep := 0 // out length that must survive trimming (ends after the last escape)
	var pendingHigh rune = -1
	flushHigh := func() {
		if pendingHigh >= 0 {
			out.WriteRune(utf8.RuneError)
			pendingHigh = -1
		}
	}
	for i := 0; i < len(b); i++ {
		c := b[i]
		if c != '\\' {
			flushHigh()
			out.WriteByte(c)
			continue
		}
		i++
		if i == len(b) { // a lone trailing backslash (only at EOF) is dropped, as in Java
			break
		}
		c = b[i]
		switch c {
		case 't':
			flushHigh()
			out.WriteByte('\t')
		case 'n':
			flushHigh()
			out.WriteByte('\n')
		case 'r':
			flushHigh()
			out.WriteByte('\r')
		case 'f':
			flushHigh()
			out.WriteByte('\f')
		case 'u':
			if i+4 >= len(b) {
				return "", &Error{File: p.file, Line: lineOf[i], Key: key,
					Msg: fmt.Sprintf("malformed \\uXXXX escape %q", "\\"+string(b[i:]))}
			}
			var r rune
			for _, h := range b[i+1 : i+5] {
				d := unhex(h)
				if d < 0 {
					return "", &Error{File: p.file, Line: lineOf[i], Key: key,
						Msg: fmt.Sprintf("malformed \\uXXXX escape %q", "\\"+string(b[i:i+5]))}
				}
				r = r<<4 | rune(d)
			}
			i += 4
			switch {
			case utf16.IsSurrogate(r) && r < 0xDC00: // high surrogate: wait for its pair
				flushHigh()
				pendingHigh = r
			case utf16.IsSurrogate(r) && pendingHigh >= 0:
				out.WriteRune(utf16.DecodeRune(pendingHigh, r))
				pendingHigh = -1
			default:
				flushHigh()
				out.WriteRune(r)
			}
		default:
			flushHigh()
			switch c {
			case '\\', ' ', '=', ':', '#', '!', '"', '\'':
			default:
				p.warnings = append(p.warnings, Warning{File: p.file, Line: lineOf[i], Key: key,
					Msg: fmt.Sprintf("backslash before %q dropped (Java escape rules); write \\\\ for a literal backslash", string(c))})
			}
			out.WriteByte(c)
		}
		keep = out.Len()
	}
	flushHigh()
	s := out.String()
	t := strings.TrimRight(s, " \t\f")
	if len(t) < keep {
		t = s[:keep]
	}
	return t, nil
}

func unhex(c byte) int {
	switch {
	case '0' <= c && c <= '9':
		return int(c - '0')
	case 'a' <= c && c <= 'f':
		return int(c-'a') + 10
	case 'A' <= c && c <= 'F':
		return int(c-'A') + 10
	}
	return -1
}

// File returns the file name given to ParseProperties.
func (p *Properties) File() string { return p.file }

// Get returns the value of key (its last occurrence).
func (p *Properties) Get(key string) (string, bool) {
	i, ok := p.last[key]
	if !ok {
		return "", false
	}
	return p.entries[i].Value, true
}

// Keys returns the distinct keys in order of first occurrence.
func (p *Properties) Keys() []string { return append([]string(nil), p.keys...) }

// Line returns the line of key's last occurrence, or 0 if key is absent.
func (p *Properties) Line(key string) int {
	i, ok := p.last[key]
	if !ok {
		return 0
	}
	return p.entries[i].Line
}

// Entries returns every entry in file order, duplicates included.
func (p *Properties) Entries() []Entry { return append([]Entry(nil), p.entries...) }

// Warnings returns non-fatal findings: duplicate keys and escapes such as
// "\s" whose backslash Java silently drops (typically a Windows path).
func (p *Properties) Warnings() []Warning { return append([]Warning(nil), p.warnings...) }

// appendEscaped writes s as a properties key or value that ParseProperties
// (and java.util.Properties) reads back as s. Non-ASCII characters are
// written as \uXXXX so the output is also correct for Java, which reads
// properties files as ISO-8859-1.
func appendEscaped(b *strings.Builder, s string, isKey bool) {
	trail := len(strings.TrimRight(s, " ")) // trailing spaces start here
	for i, r := range s {
		switch r {
		case '\\':
			b.WriteString(`\\`)
		case '\t':
			b.WriteString(`\t`)
		case '\n':
			b.WriteString(`\n`)
		case '\r':
			b.WriteString(`\r`)
		case '\f':
			b.WriteString(`\f`)
		case '=', ':':
			if isKey {
				b.WriteByte('\\')
			}
			b.WriteRune(r)
		case '#', '!':
			if i == 0 {
				b.WriteByte('\\')
			}
			b.WriteRune(r)
		case ' ':
			// Keys end at a space; values lose leading and trailing spaces.
			if isKey || i == 0 || i >= trail {
				b.WriteByte('\\')
			}
			b.WriteByte(' ')
		default:
			switch {
			case r == utf8.RuneError && !validAt(s, i):
				// An invalid byte: keep it as is (it can only come from invalid input).
				b.WriteByte(s[i])
			case r < 0x20 || r > 0x7e:
				if r > 0xFFFF {
					r1, r2 := utf16.EncodeRune(r)
					fmt.Fprintf(b, `\u%04X\u%04X`, r1, r2)
				} else {
					fmt.Fprintf(b, `\u%04X`, r)
				}
			default:
				b.WriteRune(r)
			}
		}
	}
}

func validAt(s string, i int) bool {
	r, size := utf8.DecodeRuneInString(s[i:])
	return !(r == utf8.RuneError && size <= 1)
}
