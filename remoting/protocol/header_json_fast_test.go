package protocol

import (
	"encoding/binary"
	"maps"
	"math/rand/v2"
	"path/filepath"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"testing"
)

// jsonHeaderCases are header texts with whether the hand-written decoder must take them
// itself (fast) rather than hand them to encoding/json. Every case must decode to exactly
// what encoding/json produces (or fail like it).
var jsonHeaderCases = []struct {
	name string
	hdr  string
	fast bool
}{
	{"go client", `{"code":105,"language":"GO","version":317,"opaque":1,"flag":0,"remark":"","extFields":{"topic":"TopicTest"}}`, true},
	{"java sorted keys", `{"code":103,"extFields":{"brokerId":"1","bodyCrc32":"1472206016"},"flag":0,"language":"JAVA","opaque":43,"serializeTypeCurrentRPC":"JSON","version":409}`, true},
	{"whitespace", " \t\r\n{ \"code\" : 10 ,\n\"flag\":\t1 , \"extFields\" : { \"a\" : \"b\" , \"c\":\"d\" } }\n ", true},
	{"null remark and ext", `{"code":0,"remark":null,"extFields":null,"language":null}`, true},
	{"empty object", `{}`, true},
	{"empty ext", `{"extFields":{}}`, true},
	{"negative and zero", `{"code":-1,"opaque":-2147483648,"version":2147483647,"flag":-0}`, true},
	{"escapes", `{"remark":"a\"b\\c\/d\b\f\n\r\t\u00e9\u4e2d","extFields":{"k\u0041":"v\n"}}`, true},
	{"surrogate pair", `{"remark":"\ud83d\ude00 ok"}`, true},
	{"lone high surrogate", `{"remark":"\ud83d x"}`, true},
	{"high then non-low", `{"remark":"\ud83d\u0041"}`, true},
	{"lone low surrogate", `{"remark":"\ude00"}`, true},
	{"two highs", `{"remark":"\ud83d\ud83d\ude00"}`, true},
	{"utf8 text", `{"remark":"héllo ✓ 😀","extFields":{"clé":"värde"}}`, true},
	{"unknown scalars", `{"a":1.5e-3,"b":true,"c":false,"d":null,"e":"x","code":7}`, true},
	{"unknown nested", `{"x":{"y":[1,{"z":[[],{}]},"s",null]},"code":7,"w":[]}`, true},
	{"unknown with invalid utf8", "{\"x\":\"\xff\xfe\",\"code\":1}", true},
	{"duplicate keys", `{"code":1,"code":2,"remark":"a","remark":null,"extFields":{"a":"1"},"extFields":{"b":"2","b":"3"}}`, true},
	{"null int keeps value", `{"code":5,"code":null}`, true},
	{"language names", `{"language":"CPP"}`, true},
	{"unknown language", `{"language":"COBOL"}`, true},
	{"language escaped", `{"language":"G\u004f"}`, true},
	{"language null after name", `{"language":"GO","language":null}`, true},

	// Handed to encoding/json.
	{"language number", `{"language":9}`, false},
	{"language float", `{"language":9.5}`, false},
	{"language bool", `{"language":true}`, false},
	{"code float", `{"code":1.0}`, false},
	{"code exponent", `{"code":1e2}`, false},
	{"code overflow", `{"code":2147483648}`, false},
	{"code string", `{"code":"5"}`, false},
	{"code object", `{"code":{}}`, false},
	{"case-folded key", `{"Code":5,"EXTFIELDS":{"a":"b"}}`, false},
	{"kelvin sign folds", "{\"remar\u212a\":\"x\"}", false},
	{"long s folds", "{\"ver\u017fion\":3}", false},
	{"escaped key", `{"\u0063ode":5}`, false},
	{"ext number", `{"extFields":{"a":1,"b":"x","c":true,"d":null}}`, false},
	{"ext null value", `{"extFields":{"a":null}}`, false},
	{"ext nested", `{"extFields":{"a":{}}}`, false},
	{"ext array", `{"extFields":[]}`, false},
	{"ext string", `{"extFields":"x"}`, false},
	{"remark number", `{"remark":5}`, false},
	{"invalid utf8 remark", "{\"remark\":\"\xff\"}", false},
	{"invalid utf8 ext", "{\"extFields\":{\"a\":\"\xc3\"}}", false},
	{"top-level null", `null`, false},
	{"top-level array", `[]`, false},
	{"top-level string", `"x"`, false},
	{"empty", ``, false},
	{"trailing garbage", `{"code":1}x`, false},
	{"two objects", `{}{}`, false},
	{"unterminated", `{"code":1`, false},
	{"trailing comma", `{"code":1,}`, false},
	{"missing colon", `{"code" 1}`, false},
	{"bad escape", `{"remark":"\x"}`, false},
	{"short unicode escape", `{"remark":"\u12"}`, false},
	{"control char", "{\"remark\":\"a\x01\"}", false},
	{"leading zero", `{"x":01}`, false},
	{"bare minus", `{"x":-}`, false},
	{"dot without digits", `{"x":1.}`, false},
	{"exponent without digits", `{"x":1e}`, false},
	{"bad literal", `{"x":tru}`, false},
	{"literal with suffix", `{"x":truex}`, false},
	{"deep nesting", `{"x":` + strings.Repeat("[", 100) + strings.Repeat("]", 100) + `}`, false},
	{"unclosed nested", `{"x":[1,2}`, false},
}

func TestJSONHeaderFastMatchesEncodingJSON(t *testing.T) {
	for _, tc := range jsonHeaderCases {
		t.Run(tc.name, func(t *testing.T) {
			want, wantErr := decodeJSONHeaderStd([]byte(tc.hdr))
			fast, ok := decodeJSONHeaderFast([]byte(tc.hdr))
			if ok != tc.fast {
				t.Fatalf("fast path taken = %v, want %v", ok, tc.fast)
			}
			if ok {
				if wantErr != nil {
					t.Fatalf("fast path accepted what encoding/json rejects: %v", wantErr)
				}
				if !reflect.DeepEqual(fast, want) {
					t.Fatalf("fast path\n got %#v\nwant %#v", fast, want)
				}
			}
			got, err := decodeJSONHeader([]byte(tc.hdr))
			if (err == nil) != (wantErr == nil) || !reflect.DeepEqual(got, want) {
				t.Fatalf("decodeJSONHeader = %v, %v; encoding/json %v, %v", got, err, want, wantErr)
			}
		})
	}
}

// TestJSONHeaderFastDoesNotAliasInput: decoded strings must survive the reuse of the frame
// buffer they came from.
func TestJSONHeaderFastDoesNotAliasInput(t *testing.T) {
	hdr := []byte(`{"code":10,"remark":"r","extFields":{"topic":"T1","k":"v\n"}}`)
	c, ok := decodeJSONHeaderFast(hdr)
	if !ok {
		t.Fatal("fast path not taken")
	}
	for i := range hdr {
		hdr[i] = 'x'
	}
	if c.Remark != "r" || c.ExtFields["topic"] != "T1" || c.ExtFields["k"] != "v\n" {
		t.Fatalf("decoded values changed with the input: %+v", c)
	}
}

// fixtureJSONHeaders returns the JSON headers of the frame fixtures.
func fixtureJSONHeaders(t testing.TB) [][]byte {
	files, err := filepath.Glob(filepath.Join("testdata", "*.hex"))
	if err != nil {
		t.Fatal(err)
	}
	var out [][]byte
	for _, name := range files {
		frame := loadFixture(t, filepath.Base(name))
		if len(frame) < 8 || frame[4] != byte(SerializeJSON) {
			continue
		}
		hl := int(binary.BigEndian.Uint32(frame[4:]) & 0xFFFFFF)
		out = append(out, frame[8:8+hl])
	}
	if len(out) == 0 {
		t.Fatal("no JSON fixture")
	}
	return out
}

func TestJSONHeaderFastOnFixtures(t *testing.T) {
	for _, hdr := range fixtureJSONHeaders(t) {
		want, err := decodeJSONHeaderStd(hdr)
		if err != nil {
			t.Fatalf("%s: %v", hdr, err)
		}
		got, ok := decodeJSONHeaderFast(hdr)
		if !ok {
			t.Fatalf("fast path not taken for fixture %s", hdr)
		}
		if !reflect.DeepEqual(got, want) {
			t.Fatalf("fixture %s\n got %#v\nwant %#v", hdr, got, want)
		}
	}
}

// FuzzJSONHeaderDifferential: for any input, the decoder the transport uses and the
// encoding/json reference either both fail or produce the same command, and the
// hand-written decoder never accepts input the reference rejects.
//
//	go test -run '^$' -fuzz '^FuzzJSONHeaderDifferential$' -fuzztime 60s ./remoting/protocol/
func FuzzJSONHeaderDifferential(f *testing.F) {
	for _, hdr := range fixtureJSONHeaders(f) {
		f.Add(hdr)
	}
	for _, tc := range jsonHeaderCases {
		f.Add([]byte(tc.hdr))
	}
	send := &RemotingCommand{Code: ReqSendMessageV2, Language: LanguageGo, Version: 317, Opaque: 99, Remark: "é\n",
		ExtFields: map[string]string{"a": "pg", "b": "BenchTopic", "c": "TBW102", "d": "4", "e": "3", "f": "0",
			"g": "1700000000000", "h": "0", "i": "UNIQ_KEY\x01ABC\x02WAIT\x01true\x02", "j": "0", "k": "false", "m": "false"}}
	f.Add(appendJSONHeader(nil, send))
	f.Fuzz(func(t *testing.T, hdr []byte) {
		want, wantErr := decodeJSONHeaderStd(hdr)
		got, err := decodeJSONHeader(hdr)
		if (err == nil) != (wantErr == nil) {
			t.Fatalf("decodeJSONHeader error %v, encoding/json error %v", err, wantErr)
		}
		if err == nil && !reflect.DeepEqual(got, want) {
			t.Fatalf("decodeJSONHeader\n got %#v\nwant %#v", got, want)
		}
		if fast, ok := decodeJSONHeaderFast(hdr); ok {
			if wantErr != nil {
				t.Fatalf("fast path accepted input encoding/json rejects (%v)", wantErr)
			}
			if !reflect.DeepEqual(fast, want) {
				t.Fatalf("fast path\n got %#v\nwant %#v", fast, want)
			}
		}
	})
}

func BenchmarkDecodeJSONHeader(b *testing.B) {
	send := &RemotingCommand{Code: ReqSendMessage, Language: LanguageGo, Version: 317, Opaque: 12345,
		ExtFields: map[string]string{"producerGroup": "bench_producer_group", "topic": "BenchTopic", "defaultTopic": "TBW102",
			"defaultTopicQueueNums": "4", "queueId": "3", "sysFlag": "0", "bornTimestamp": "1700000000000", "flag": "0",
			"properties": "UNIQ_KEY\x017F0000011A2B3C4D5E6F708192A3B4C5\x02WAIT\x01true\x02", "reconsumeTimes": "0",
			"unitMode": "false", "batch": "false"}}
	resp := &RemotingCommand{Code: RespSuccess, Language: LanguageJava, Version: 409, Opaque: 12345, Flag: FlagResponse,
		ExtFields: map[string]string{"msgId": "7F00000100002A9F0000000000001234", "queueId": "3", "queueOffset": "42",
			"transactionId": "7F0000011A2B3C4D5E6F708192A3B4C5"}}
	java := []byte(`{"code":0,"extFields":{"queueId":"3","msgId":"7F00000100002A9F0000000000001234","queueOffset":"42"},"flag":1,"language":"JAVA","opaque":12345,"serializeTypeCurrentRPC":"JSON","version":409}`)
	for _, bc := range []struct {
		name string
		hdr  []byte
	}{{"send-request", appendJSONHeader(nil, send)}, {"send-response", appendJSONHeader(nil, resp)}, {"java-response", java}} {
		b.Run(bc.name+"/fast", func(b *testing.B) {
			b.SetBytes(int64(len(bc.hdr)))
			b.ReportAllocs()
			for b.Loop() {
				if _, err := decodeJSONHeader(bc.hdr); err != nil {
					b.Fatal(err)
				}
			}
		})
		b.Run(bc.name+"/encoding-json", func(b *testing.B) {
			b.SetBytes(int64(len(bc.hdr)))
			b.ReportAllocs()
			for b.Loop() {
				if _, err := decodeJSONHeaderStd(bc.hdr); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

func BenchmarkEncodeFrame(b *testing.B) {
	cmd := &RemotingCommand{Code: ReqSendMessage, Language: LanguageGo, Version: 317, Opaque: 12345,
		ExtFields: map[string]string{"producerGroup": "bench_producer_group", "topic": "BenchTopic", "defaultTopic": "TBW102",
			"defaultTopicQueueNums": "4", "queueId": "3", "sysFlag": "0", "bornTimestamp": "1700000000000", "flag": "0",
			"properties": "UNIQ_KEY\x017F0000011A2B3C4D5E6F708192A3B4C5\x02WAIT\x01true\x02", "reconsumeTimes": "0",
			"unitMode": "false", "batch": "false"}}
	buf := make([]byte, 0, 1024)
	b.ReportAllocs()
	for b.Loop() {
		var err error
		buf, err = cmd.AppendFramePrefix(buf[:0], SerializeJSON)
		if err != nil {
			b.Fatal(err)
		}
	}
}

func TestSortedPairsSortsByKey(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	for _, n := range []int{0, 1, 2, 13, 16, 17, 24, 25, 100} {
		m := map[string]string{}
		for len(m) < n {
			k := make([]byte, r.IntN(4))
			for i := range k {
				k[i] = "aAb\x00\xff"[r.IntN(5)]
			}
			m[string(k)] = strconv.Itoa(len(m))
		}
		var scratch [16]extPair
		got := sortedPairs(m, scratch[:0])
		keys := slices.Sorted(maps.Keys(m))
		if len(got) != len(keys) {
			t.Fatalf("n=%d: %d pairs", n, len(got))
		}
		for i, p := range got {
			if p.k != keys[i] || p.v != m[p.k] {
				t.Fatalf("n=%d: pair %d = %q:%q, want key %q", n, i, p.k, p.v, keys[i])
			}
		}
	}
}
