package conf

import (
	"errors"
	"reflect"
	"strings"
	"testing"
)

func TestParsePropertiesSyntax(t *testing.T) {
	tests := []struct {
		name string
		in   string
		want []Entry
	}{
		{"equals", "a=b", []Entry{{"a", "b", 1}}},
		{"colon", "a:b", []Entry{{"a", "b", 1}}},
		{"space", "a b", []Entry{{"a", "b", 1}}},
		{"tab and form feed", "\t\fa\t\fb", []Entry{{"a", "b", 1}}},
		{"trimming", "   a   =   b c   \t", []Entry{{"a", "b c", 1}}},
		{"space then separator", "a  :  b", []Entry{{"a", "b", 1}}},
		{"second separator is value", "a = = b", []Entry{{"a", "= b", 1}}},
		{"key only", "a", []Entry{{"a", "", 1}}},
		{"empty value", "a=", []Entry{{"a", "", 1}}},
		{"empty key", "=v", []Entry{{"", "v", 1}}},
		{"comments and blanks", "# c\n! c\n\n   \n  # indented\na=1\n", []Entry{{"a", "1", 6}}},
		{"hash inside value", "a=b#c", []Entry{{"a", "b#c", 1}}},
		{"continuation", "a=b\\\n    c\\\n  d\ne=f", []Entry{{"a", "bcd", 1}, {"e", "f", 4}}},
		{"continuation in key", "ab\\\n  cd=1", []Entry{{"abcd", "1", 1}}},
		{"continuation line starting with hash", "a=b\\\n#c", []Entry{{"a", "b#c", 1}}},
		{"even backslashes do not continue", "a=b\\\\\nc=d", []Entry{{"a", `b\`, 1}, {"c", "d", 2}}},
		{"continuation at EOF", "a=b\\", []Entry{{"a", "b", 1}}},
		{"continuation then blank line", "a=b\\\n\nc=d", []Entry{{"a", "b", 1}, {"c", "d", 3}}},
		{"comment ending in backslash", "# c \\\na=1", []Entry{{"a", "1", 2}}},
		{"CRLF", "a=1\r\nb=2\r\n", []Entry{{"a", "1", 1}, {"b", "2", 2}}},
		{"CR", "a=1\rb=2", []Entry{{"a", "1", 1}, {"b", "2", 2}}},
		{"CRLF continuation", "a=1\\\r\n  2\r\nb=3", []Entry{{"a", "12", 1}, {"b", "3", 3}}},
		{"BOM", "\uFEFFa=1", []Entry{{"a", "1", 1}}},
		{"escapes", `a=x\ty\nz\r\f`, []Entry{{"a", "x\ty\nz\r\f", 1}}},
		{"unicode escapes", `a=\u0041\u4e2d\u00E9`, []Entry{{"a", "A中é", 1}}},
		{"surrogate pair", `a=\uD83D\uDE00`, []Entry{{"a", "😀", 1}}},
		{"lone surrogate", `a=\uD83Dx`, []Entry{{"a", "\uFFFDx", 1}}},
		{"escaped separators in key", `a\=b\:c\ d=e`, []Entry{{"a=b:c d", "e", 1}}},
		{"escaped hash starts key", `\#k=v`, []Entry{{"#k", "v", 1}}},
		{"escaped trailing space kept", `a=x\ `, []Entry{{"a", "x ", 1}}},
		{"escaped leading space kept", `a=\  x`, []Entry{{"a", "  x", 1}}},
		{"utf-8 value", "a=中文 注释", []Entry{{"a", "中文 注释", 1}}},
		{"non-breaking space is not a blank", "a=\u00a0x", []Entry{{"a", "\u00a0x", 1}}},
		{"duplicate keeps both entries", "a=1\na=2", []Entry{{"a", "1", 1}, {"a", "2", 2}}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			p, err := ParseProperties(strings.NewReader(tc.in), "t.properties")
			if err != nil {
				t.Fatalf("error: %v", err)
			}
			if got := p.Entries(); !reflect.DeepEqual(got, tc.want) {
				t.Fatalf("entries = %+v\nwant      %+v", got, tc.want)
			}
		})
	}
}

func TestPropertiesAccessors(t *testing.T) {
	p, err := ParseProperties(strings.NewReader("b=1\na=2\nb=3\n"), "x.properties")
	if err != nil {
		t.Fatal(err)
	}
	if got := p.Keys(); !reflect.DeepEqual(got, []string{"b", "a"}) {
		t.Errorf("Keys = %q", got)
	}
	if v, ok := p.Get("b"); !ok || v != "3" {
		t.Errorf("Get(b) = %q, %v; want last value 3", v, ok)
	}
	if _, ok := p.Get("zz"); ok {
		t.Error("Get(zz) found")
	}
	if p.Line("b") != 3 || p.Line("a") != 2 || p.Line("zz") != 0 {
		t.Errorf("Line = %d %d %d", p.Line("b"), p.Line("a"), p.Line("zz"))
	}
	if p.File() != "x.properties" {
		t.Errorf("File = %q", p.File())
	}
	w := p.Warnings()
	if len(w) != 1 || w[0].String() != "x.properties:3: b: duplicate key: overrides the value set on line 1" {
		t.Errorf("warnings = %v", w)
	}
}

func TestParsePropertiesBackslashWarning(t *testing.T) {
	p, err := ParseProperties(strings.NewReader(`storePathRootDir=C:\store`), "w.properties")
	if err != nil {
		t.Fatal(err)
	}
	if v, _ := p.Get("storePathRootDir"); v != "C:store" {
		t.Errorf("value = %q, want Java's C:store", v)
	}
	w := p.Warnings()
	want := `w.properties:1: storePathRootDir: backslash before "s" dropped (Java escape rules); write \\ for a literal backslash`
	if len(w) != 1 || w[0].String() != want {
		t.Errorf("warnings = %v\nwant %s", w, want)
	}
}

func TestParsePropertiesErrors(t *testing.T) {
	in := "ok=1\n" +
		"a=\\u12\n" + // line 2: too short
		"b=x\\\n" + // line 3, continued
		"  \\uZZZZ\n" + // line 4: bad hex, reported on the physical line
		"c=2\n" +
		"d\\u00G1=3\n" // line 6: bad escape in key
	p, err := ParseProperties(strings.NewReader(in), "bad.properties")
	var list ErrorList
	if !errors.As(err, &list) {
		t.Fatalf("err = %T %v, want ErrorList", err, err)
	}
	want := []string{
		`bad.properties:2: a: malformed \uXXXX escape "\\u12"`,
		`bad.properties:4: b: malformed \uXXXX escape "\\uZZZZ"`,
		`bad.properties:6: malformed \uXXXX escape "\\u00G1"`,
	}
	if len(list) != len(want) {
		t.Fatalf("got %d errors:\n%v", len(list), err)
	}
	for i := range want {
		if list[i].Error() != want[i] {
			t.Errorf("error %d = %s\nwant      %s", i, list[i], want[i])
		}
	}
	if p == nil {
		t.Fatal("no partial result")
	}
	if got := p.Keys(); !reflect.DeepEqual(got, []string{"ok", "c"}) {
		t.Errorf("partial keys = %q", got)
	}
	var e *Error
	if !errors.As(err, &e) || e.Line != 2 {
		t.Errorf("errors.As *Error = %v", e)
	}
}

type failReader struct{}

func (failReader) Read([]byte) (int, error) { return 0, errors.New("disk on fire") }

func TestParsePropertiesReadError(t *testing.T) {
	p, err := ParseProperties(failReader{}, "f.properties")
	if p != nil || err == nil || err.Error() != "f.properties: read: disk on fire" {
		t.Fatalf("p=%v err=%v", p, err)
	}
}

func TestEscapeRoundTrip(t *testing.T) {
	for _, s := range []string{
		"", "plain", " lead", "trail ", "  ", "a b", "tab\there", "nl\nx", "cr\r", "ff\f",
		`back\slash`, `\`, "#hash", "!bang", "a=b:c", "中文", "é", "😀", "\x00\x01", "\x7f",
		"\xff\xfe", `\u0041`, "x\\", "= lead eq", ": lead colon",
	} {
		for _, isKey := range []bool{true, false} {
			var b strings.Builder
			if isKey {
				appendEscaped(&b, s, true)
				b.WriteString("=v")
			} else {
				b.WriteString("k=")
				appendEscaped(&b, s, false)
			}
			p, err := ParseProperties(strings.NewReader(b.String()), "")
			if err != nil {
				t.Fatalf("%q: %v", b.String(), err)
			}
			e := p.Entries()
			if len(e) != 1 {
				t.Fatalf("%q: entries %+v", b.String(), e)
			}
			got := e[0].Value
			if isKey {
				got = e[0].Key
			}
			if got != s {
				t.Errorf("isKey=%v: %q rendered %q parsed back as %q", isKey, s, b.String(), got)
			}
			if len(p.Warnings()) != 0 {
				t.Errorf("%q: warnings %v", b.String(), p.Warnings())
			}
		}
	}
}

func TestErrorFormat(t *testing.T) {
	tests := []struct {
		e    Error
		want string
	}{
		{Error{"f", 3, "k", "m"}, "f:3: k: m"},
		{Error{"f", 0, "k", "m"}, "f: k: m"},
		{Error{"", 3, "k", "m"}, "line 3: k: m"},
		{Error{"", 0, "k", "m"}, "k: m"},
		{Error{"", 0, "", "m"}, "m"},
	}
	for _, tc := range tests {
		if got := tc.e.Error(); got != tc.want {
			t.Errorf("%+v: %q, want %q", tc.e, got, tc.want)
		}
	}
	if ErrorList(nil).Err() != nil {
		t.Error("empty ErrorList.Err() != nil")
	}
	l := ErrorList{{Key: "a", Msg: "x"}, {Key: "b", Msg: "y"}}
	if l.Error() != "a: x\nb: y" {
		t.Errorf("ErrorList.Error() = %q", l.Error())
	}
}
