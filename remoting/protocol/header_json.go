package protocol

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"
	"unicode/utf8"
)

// appendJSONHeader appends the JSON header of c. Field order and spelling follow
// rocketmq-client-go (code, language, version, opaque, flag, remark, extFields), so a
// request built like the Go client's encodes to exactly its bytes (reference §1.2).
// remark is always present ("" when empty) and extFields always an object ({} when
// empty); ExtFields keys are sorted for deterministic output (an ExtList keeps its order). Every value in extFields is a
// JSON string, as the Go client requires.
func appendJSONHeader(b []byte, c *RemotingCommand) []byte {
	b = append(b, `{"code":`...)
	b = strconv.AppendInt(b, int64(c.Code), 10)
	b = append(b, `,"language":`...)
	b = appendJSONString(b, c.Language.String())
	b = append(b, `,"version":`...)
	b = strconv.AppendInt(b, int64(c.Version), 10)
	b = append(b, `,"opaque":`...)
	b = strconv.AppendInt(b, int64(c.Opaque), 10)
	b = append(b, `,"flag":`...)
	b = strconv.AppendInt(b, int64(c.Flag), 10)
	b = append(b, `,"remark":`...)
	b = appendJSONString(b, c.Remark)
	b = append(b, `,"extFields":{`...)
	var scratch [16]extPair
	for i, p := range c.encodedExt(scratch[:0]) {
		if i > 0 {
			b = append(b, ',')
		}
		b = appendJSONString(b, p.k)
		b = append(b, ':')
		b = appendJSONString(b, p.v)
	}
	return append(b, "}}"...)
}

// extPair is one ext field.
type extPair struct{ k, v string }

// sortedPairs returns the entries of m sorted by key, appended to pairs (a caller's scratch
// array, so that headers of up to its capacity are encoded without allocating).
func sortedPairs(m map[string]string, pairs []extPair) []extPair {
	for k, v := range m {
		pairs = append(pairs, extPair{k, v})
	}
	if len(pairs) > 24 {
		slices.SortFunc(pairs, func(a, b extPair) int { return strings.Compare(a.k, b.k) })
		return pairs
	}
	// Insertion sort; most keys differ in their first byte, which is compared inline.
	for i := 1; i < len(pairs); i++ {
		p := pairs[i]
		j := i
		for ; j > 0 && keyLess(p.k, pairs[j-1].k); j-- {
			pairs[j] = pairs[j-1]
		}
		pairs[j] = p
	}
	return pairs
}

func keyLess(a, b string) bool {
	if len(a) > 0 && len(b) > 0 && a[0] != b[0] {
		return a[0] < b[0]
	}
	return a < b
}

const hexDigits = "0123456789abcdef"

// appendJSONString appends s as a JSON string literal. Invalid UTF-8 becomes U+FFFD.
// Unlike encoding/json it does not escape <, > and &, matching Java and Go clients.
func appendJSONString(b []byte, s string) []byte {
	b = append(b, '"')
	start := 0
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			if c >= 0x20 && c != '"' && c != '\\' {
				i++
				continue
			}
			b = append(b, s[start:i]...)
			switch c {
			case '"', '\\':
				b = append(b, '\\', c)
			case '\n':
				b = append(b, '\\', 'n')
			case '\r':
				b = append(b, '\\', 'r')
			case '\t':
				b = append(b, '\\', 't')
			default:
				b = append(b, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&0xF])
			}
			i++
			start = i
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size == 1 {
			b = append(b, s[start:i]...)
			b = append(b, `\ufffd`...)
			i += size
			start = i
			continue
		}
		if r == '\u2028' || r == '\u2029' {
			b = append(b, s[start:i]...)
			b = append(b, '\\', 'u', '2', '0', '2', hexDigits[r&0xF])
			i += size
			start = i
			continue
		}
		i += size
	}
	b = append(b, s[start:]...)
	return append(b, '"')
}

// jsonHeader is the decoding shape of a JSON header. Unknown fields (for example Java's
// serializeTypeCurrentRPC) are ignored; remark and extFields may be absent or null.
type jsonHeader struct {
	Code      int32           `json:"code"`
	Language  json.RawMessage `json:"language"`
	Version   int32           `json:"version"`
	Opaque    int32           `json:"opaque"`
	Flag      int32           `json:"flag"`
	Remark    *string         `json:"remark"`
	ExtFields extFieldsJSON   `json:"extFields"`
}

// extFieldsJSON decodes an extFields object. Values should be strings; for robustness
// against non-conforming peers, numbers and booleans are kept as their literal text and
// nulls are dropped. Nested objects and arrays are rejected.
type extFieldsJSON map[string]string

func (e *extFieldsJSON) UnmarshalJSON(data []byte) error {
	if bytes.Equal(bytes.TrimSpace(data), []byte("null")) {
		*e = nil
		return nil
	}
	var strict map[string]string
	if err := json.Unmarshal(data, &strict); err == nil {
		*e = strict
		return nil
	}
	var loose map[string]json.RawMessage
	if err := json.Unmarshal(data, &loose); err != nil {
		return err
	}
	out := make(map[string]string, len(loose))
	for k, raw := range loose {
		raw = bytes.TrimSpace(raw)
		switch {
		case len(raw) == 0 || string(raw) == "null":
			continue
		case raw[0] == '"':
			var s string
			if err := json.Unmarshal(raw, &s); err != nil {
				return err
			}
			out[k] = s
		case raw[0] == '{' || raw[0] == '[':
			return fmt.Errorf("extFields[%q] is not a scalar", k)
		default: // number or boolean literal
			out[k] = string(raw)
		}
	}
	*e = out
	return nil
}

// decodeJSONHeader decodes a JSON header: the hand-written decoder handles the usual
// shapes, encoding/json everything else (and reports the errors).
func decodeJSONHeader(hdr []byte) (*RemotingCommand, error) {
	if c, ok := decodeJSONHeaderFast(hdr); ok {
		return c, nil
	}
	return decodeJSONHeaderStd(hdr)
}

// decodeJSONHeaderStd is the reference decoder, built on encoding/json: it defines what a
// JSON header means.
func decodeJSONHeaderStd(hdr []byte) (*RemotingCommand, error) {
	var h jsonHeader
	if err := json.Unmarshal(hdr, &h); err != nil {
		return nil, newErr(ErrMalformedHeader, fmt.Sprintf("protocol: malformed JSON header: %v", err))
	}
	c := &RemotingCommand{
		Code:      h.Code,
		Version:   h.Version,
		Opaque:    h.Opaque,
		Flag:      h.Flag,
		ExtFields: map[string]string(h.ExtFields),
	}
	if h.Remark != nil {
		c.Remark = *h.Remark
	}
	lang, err := decodeJSONLanguage(h.Language)
	if err != nil {
		return nil, err
	}
	c.Language = lang
	return c, nil
}

// decodeJSONLanguage accepts the enum name (the normal form), a number, or absence/null
// (treated as JAVA, Java's default). Unknown names map to OTHER.
func decodeJSONLanguage(raw json.RawMessage) (LanguageCode, error) {
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 || string(raw) == "null" {
		return LanguageJava, nil
	}
	if raw[0] == '"' {
		var name string
		if err := json.Unmarshal(raw, &name); err != nil {
			return 0, newErr(ErrMalformedHeader, fmt.Sprintf("protocol: malformed JSON header language: %v", err))
		}
		l, _ := ParseLanguage(name)
		return l, nil
	}
	n, err := strconv.ParseFloat(string(raw), 64)
	if err != nil || n < 0 || n > math.MaxUint8 || n != math.Trunc(n) {
		return 0, newErr(ErrMalformedHeader, fmt.Sprintf("protocol: malformed JSON header language %s", raw))
	}
	return LanguageCode(n), nil
}
