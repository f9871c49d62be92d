package protocol

import (
	"strconv"
	"unicode/utf16"
	"unicode/utf8"
)

// decodeJSONHeaderFast is a hand-written decoder for the usual shape of a JSON header: one
// flat object whose known keys (code, language, version, opaque, flag, remark, extFields)
// are spelled exactly, with integer numbers, a string or null remark and language, an
// extFields object of string values (or null), and unknown keys of any JSON type (Java's
// serializeTypeCurrentRPC), skipped with full validation. Keys may come in any order
// (Java sorts them), and strings may hold escapes (\uXXXX and surrogate pairs included).
//
// It returns ok=false for anything else — malformed JSON, a known key in another case,
// escaped or non-ASCII keys, numbers that are not plain integers, non-string ext values,
// invalid UTF-8, deep nesting — and the caller then decodes with encoding/json, which
// decides what such input means (or which error it is). Whenever ok is true the command is
// the one encoding/json would produce (FuzzJSONHeaderDifferential checks this).
//
// Strings without escapes are not copied: the header is converted to one string and keys,
// values and the remark are substrings of it.
func decodeJSONHeaderFast(hdr []byte) (*RemotingCommand, bool) {
	d := fastDecoder{s: string(hdr)}
	c := &RemotingCommand{Language: LanguageJava}
	if !d.object(c) {
		return nil, false
	}
	d.ws()
	if d.i != len(d.s) {
		return nil, false
	}
	return c, true
}

type fastDecoder struct {
	s string
	i int
}

// maxSkipDepth bounds the nesting of skipped values; deeper input goes to encoding/json.
const maxSkipDepth = 64

func (d *fastDecoder) ws() {
	for d.i < len(d.s) {
		switch d.s[d.i] {
		case ' ', '\t', '\n', '\r':
			d.i++
		default:
			return
		}
	}
}

// consume skips whitespace and then b, reporting whether b was there.
func (d *fastDecoder) consume(b byte) bool {
	d.ws()
	if d.i < len(d.s) && d.s[d.i] == b {
		d.i++
		return true
	}
	return false
}

func (d *fastDecoder) object(c *RemotingCommand) bool {
	if !d.consume('{') {
		return false
	}
	if d.consume('}') {
		return true
	}
	for {
		d.ws()
		key, ok := d.plainKey()
		if !ok || !d.consume(':') {
			return false
		}
		d.ws()
		if !d.member(c, key) {
			return false
		}
		if d.consume(',') {
			continue
		}
		return d.consume('}')
	}
}

// plainKey reads a key without escapes made only of ASCII characters.
func (d *fastDecoder) plainKey() (string, bool) {
	if d.i >= len(d.s) || d.s[d.i] != '"' {
		return "", false
	}
	start := d.i + 1
	for j := start; j < len(d.s); j++ {
		switch c := d.s[j]; {
		case c == '"':
			d.i = j + 1
			return d.s[start:j], true
		case c == '\\' || c < 0x20 || c >= utf8.RuneSelf:
			return "", false
		}
	}
	return "", false
}

var headerKeys = [...]string{"code", "language", "version", "opaque", "flag", "remark", "extFields"}

// member decodes the value of key into c.
func (d *fastDecoder) member(c *RemotingCommand, key string) bool {
	switch key {
	case "code":
		return d.int32Field(&c.Code)
	case "version":
		return d.int32Field(&c.Version)
	case "opaque":
		return d.int32Field(&c.Opaque)
	case "flag":
		return d.int32Field(&c.Flag)
	case "remark":
		if d.null() {
			c.Remark = ""
			return true
		}
		s, ok := d.str()
		c.Remark = s
		return ok
	case "language":
		if d.null() {
			c.Language = LanguageJava
			return true
		}
		if d.i >= len(d.s) || d.s[d.i] != '"' {
			return false // numeric languages and errors: encoding/json
		}
		name, ok := d.str()
		if !ok {
			return false
		}
		c.Language, _ = ParseLanguage(name)
		return true
	case "extFields":
		if d.null() {
			c.ExtFields = nil
			return true
		}
		m, ok := d.extFields()
		c.ExtFields = m
		return ok
	}
	// encoding/json matches struct fields case-insensitively: such keys go to it.
	for _, k := range headerKeys {
		if asciiEqualFold(key, k) {
			return false
		}
	}
	return d.skip(0)
}

func asciiEqualFold(a, b string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := 0; i < len(a); i++ {
		x, y := a[i], b[i]
		if 'A' <= x && x <= 'Z' {
			x += 'a' - 'A'
		}
		if 'A' <= y && y <= 'Z' {
			y += 'a' - 'A'
		}
		if x != y {
			return false
		}
	}
	return true
}

// null consumes a null literal if one is next.
func (d *fastDecoder) null() bool {
	if len(d.s)-d.i >= 4 && d.s[d.i:d.i+4] == "null" {
		d.i += 4
		return true
	}
	return false
}

// int32Field decodes a plain JSON integer that fits an int32 (null leaves *p unchanged,
// as encoding/json does).
func (d *fastDecoder) int32Field(p *int32) bool {
	if d.null() {
		return true
	}
	start := d.i
	if !d.number() {
		return false
	}
	lit := d.s[start:d.i]
	for k := 0; k < len(lit); k++ {
		if c := lit[k]; c == '.' || c == 'e' || c == 'E' {
			return false // encoding/json refuses these for integers: let it say so
		}
	}
	n, err := strconv.ParseInt(lit, 10, 32)
	if err != nil {
		return false
	}
	*p = int32(n)
	return true
}

// number consumes a JSON number, validating its grammar.
func (d *fastDecoder) number() bool {
	s, i := d.s, d.i
	if i < len(s) && s[i] == '-' {
		i++
	}
	switch {
	case i < len(s) && s[i] == '0':
		i++
	case i < len(s) && s[i] >= '1' && s[i] <= '9':
		for i < len(s) && s[i] >= '0' && s[i] <= '9' {
			i++
		}
	default:
		return false
	}
	if i < len(s) && s[i] == '.' {
		i++
		if i >= len(s) || s[i] < '0' || s[i] > '9' {
			return false
		}
		for i < len(s) && s[i] >= '0' && s[i] <= '9' {
			i++
		}
	}
	if i < len(s) && (s[i] == 'e' || s[i] == 'E') {
		i++
		if i < len(s) && (s[i] == '+' || s[i] == '-') {
			i++
		}
		if i >= len(s) || s[i] < '0' || s[i] > '9' {
			return false
		}
		for i < len(s) && s[i] >= '0' && s[i] <= '9' {
			i++
		}
	}
	d.i = i
	return true
}

// str decodes a JSON string. Invalid UTF-8 is refused (encoding/json would replace it).
func (d *fastDecoder) str() (string, bool) {
	s := d.s
	if d.i >= len(s) || s[d.i] != '"' {
		return "", false
	}
	start := d.i + 1
	escaped, nonASCII := false, false
	j := start
	for ; j < len(s); j++ {
		c := s[j]
		if !strSpecial[c] {
			continue
		}
		if c == '"' {
			break
		}
		switch {
		case c == '\\':
			escaped = true
			if j+1 >= len(s) {
				return "", false
			}
			switch s[j+1] {
			case '"', '\\', '/', 'b', 'f', 'n', 'r', 't':
				j++
			case 'u':
				if j+5 >= len(s) || !isHex4(s[j+2:j+6]) {
					return "", false
				}
				j += 5
			default:
				return "", false
			}
		case c < 0x20:
			return "", false
		case c >= utf8.RuneSelf:
			nonASCII = true
		}
	}
	if j >= len(s) {
		return "", false
	}
	d.i = j + 1
	raw := s[start:j]
	if nonASCII && !utf8.ValidString(raw) {
		return "", false
	}
	if !escaped {
		return raw, true
	}
	return unescape(raw), true
}

// strSpecial marks the bytes a string scan must look at: the closing quote, escapes,
// control characters (invalid in JSON strings) and non-ASCII bytes (UTF-8 validation).
var strSpecial = func() (t [256]bool) {
	for c := range 256 {
		t[c] = c == '"' || c == '\\' || c < 0x20 || c >= utf8.RuneSelf
	}
	return t
}()

func isHex4(s string) bool {
	for k := 0; k < 4; k++ {
		c := s[k]
		if !('0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F') {
			return false
		}
	}
	return true
}

func hex4(s string) rune {
	var r rune
	for k := 0; k < 4; k++ {
		c := s[k]
		switch {
		case '0' <= c && c <= '9':
			c -= '0'
		case 'a' <= c && c <= 'f':
			c = c - 'a' + 10
		default:
			c = c - 'A' + 10
		}
		r = r<<4 | rune(c)
	}
	return r
}

// unescape decodes the escapes of a validated string body exactly as encoding/json does:
// a surrogate pair becomes one rune, any other surrogate escape U+FFFD.
func unescape(raw string) string {
	b := make([]byte, 0, len(raw))
	for k := 0; k < len(raw); {
		c := raw[k]
		if c != '\\' {
			b = append(b, c)
			k++
			continue
		}
		switch e := raw[k+1]; e {
		case 'b':
			b = append(b, '\b')
		case 'f':
			b = append(b, '\f')
		case 'n':
			b = append(b, '\n')
		case 'r':
			b = append(b, '\r')
		case 't':
			b = append(b, '\t')
		case 'u':
			r := hex4(raw[k+2:])
			k += 6
			if utf16.IsSurrogate(r) {
				if k+6 <= len(raw) && raw[k] == '\\' && raw[k+1] == 'u' {
					if dec := utf16.DecodeRune(r, hex4(raw[k+2:])); dec != utf8.RuneError {
						b = utf8.AppendRune(b, dec)
						k += 6
						continue
					}
				}
				r = utf8.RuneError
			}
			b = utf8.AppendRune(b, r)
			continue
		default: // '"', '\\', '/'
			b = append(b, e)
		}
		k += 2
	}
	return string(b)
}

// extFields decodes an object whose values are all strings.
func (d *fastDecoder) extFields() (map[string]string, bool) {
	if !d.consume('{') {
		return nil, false
	}
	type kv struct{ k, v string }
	var arr [24]kv
	pairs := arr[:0]
	if !d.consume('}') {
		for {
			d.ws()
			k, ok := d.str()
			if !ok || !d.consume(':') {
				return nil, false
			}
			d.ws()
			v, ok := d.str()
			if !ok {
				return nil, false // null, numbers, booleans: encoding/json's loose rules
			}
			pairs = append(pairs, kv{k, v})
			if d.consume(',') {
				continue
			}
			if !d.consume('}') {
				return nil, false
			}
			break
		}
	}
	m := make(map[string]string, len(pairs))
	for _, p := range pairs {
		m[p.k] = p.v // a repeated key keeps its last value, as in encoding/json
	}
	return m, true
}

// skip validates and skips any JSON value.
func (d *fastDecoder) skip(depth int) bool {
	if d.i >= len(d.s) {
		return false
	}
	switch c := d.s[d.i]; {
	case c == '"':
		return d.skipStr()
	case c == '{':
		if depth >= maxSkipDepth {
			return false
		}
		d.i++
		if d.consume('}') {
			return true
		}
		for {
			d.ws()
			if !d.skipStr() || !d.consume(':') {
				return false
			}
			d.ws()
			if !d.skip(depth + 1) {
				return false
			}
			if d.consume(',') {
				continue
			}
			return d.consume('}')
		}
	case c == '[':
		if depth >= maxSkipDepth {
			return false
		}
		d.i++
		if d.consume(']') {
			return true
		}
		for {
			d.ws()
			if !d.skip(depth + 1) {
				return false
			}
			if d.consume(',') {
				continue
			}
			return d.consume(']')
		}
	case c == 't':
		return d.literal("true")
	case c == 'f':
		return d.literal("false")
	case c == 'n':
		return d.literal("null")
	default:
		return d.number()
	}
}

func (d *fastDecoder) literal(lit string) bool {
	if len(d.s)-d.i >= len(lit) && d.s[d.i:d.i+len(lit)] == lit {
		d.i += len(lit)
		return true
	}
	return false
}

// skipStr validates a string without decoding it (invalid UTF-8 is fine for a skipped value,
// as for encoding/json, which replaces it).
func (d *fastDecoder) skipStr() bool {
	s := d.s
	if d.i >= len(s) || s[d.i] != '"' {
		return false
	}
	for j := d.i + 1; j < len(s); j++ {
		switch c := s[j]; {
		case c == '"':
			d.i = j + 1
			return true
		case c == '\\':
			if j+1 >= len(s) {
				return false
			}
			switch s[j+1] {
			case '"', '\\', '/', 'b', 'f', 'n', 'r', 't':
				j++
			case 'u':
				if j+5 >= len(s) || !isHex4(s[j+2:j+6]) {
					return false
				}
				j += 5
			default:
				return false
			}
		case c < 0x20:
			return false
		}
	}
	return false
}
