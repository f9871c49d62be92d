package conf

import (
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

// FuzzParseProperties: the parser never panics, and every entry it returns
// survives escaping and re-parsing unchanged.
func FuzzParseProperties(f *testing.F) {
	for _, name := range guideFiles {
		if b, err := os.ReadFile(filepath.Join("testdata", name)); err == nil {
			f.Add(string(b))
		}
	}
	for _, s := range []string{
		"", "a=b", "a\\\n b", "\\", "\\u", "\\u12", "\\uD83D\\uDE00", "a=\\uD800", "#c\\\na", "\r\n\r", "\uFEFF=",
		"a b c", "  \\  x  ", "a:=b", "\xff\xfe=\x00", "k=v\\\r\n\\\r\n", "a=\\tb\\ ",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, in string) {
		p, err := ParseProperties(strings.NewReader(in), "fuzz")
		if p == nil {
			t.Fatalf("nil Properties (err %v)", err)
		}
		_ = p.Keys()
		_ = p.Warnings()
		entries := p.Entries()
		var b strings.Builder
		for _, e := range entries {
			if e.Line < 1 {
				t.Fatalf("entry %+v has no line", e)
			}
			appendEscaped(&b, e.Key, true)
			b.WriteByte('=')
			appendEscaped(&b, e.Value, false)
			b.WriteByte('\n')
		}
		q, err := ParseProperties(strings.NewReader(b.String()), "again")
		if err != nil {
			t.Fatalf("re-parse of %q: %v", b.String(), err)
		}
		got := q.Entries()
		for i := range got {
			got[i].Line = 0
		}
		for i := range entries {
			entries[i].Line = 0
		}
		if len(entries) == 0 && len(got) == 0 {
			return
		}
		if !reflect.DeepEqual(got, entries) {
			t.Fatalf("round trip\n in  %q\n out %q\n %+v\n!= %+v", in, b.String(), got, entries)
		}
		// Typed parsing of arbitrary input must not panic either.
		_, _, _ = ParseBroker(strings.NewReader(in), "fuzz")
		_, _, _ = ParseNamesrv(strings.NewReader(in), "fuzz")
	})
}
