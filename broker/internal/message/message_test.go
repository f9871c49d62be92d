package message

import (
	"encoding/binary"
	"errors"
	"net"
	"reflect"
	"testing"
)

func TestMessagePropertiesRoundTrip(t *testing.T) {
	tests := []struct {
		in   string
		want map[string]string
	}{
		{"", map[string]string{}},
		{"KEYS\x01k1 k2\x02TAGS\x01TagA\x02", map[string]string{"KEYS": "k1 k2", "TAGS": "TagA"}},
		{"A\x01b", map[string]string{"A": "b"}},                   // no trailing separator
		{"\x01v\x02bad\x02A\x01\x02", map[string]string{"A": ""}}, // empty key and no separator dropped
	}
	for _, tt := range tests {
		got := ParseProperties(tt.in)
		if !reflect.DeepEqual(got, tt.want) {
			t.Errorf("ParseProperties(%q) = %v", tt.in, got)
		}
		if back := ParseProperties(FormatProperties(got)); !reflect.DeepEqual(back, got) {
			t.Errorf("round trip of %v = %v", got, back)
		}
	}
	if s := FormatProperties(map[string]string{"B": "2", "A": "1"}); s != "A\x011\x02B\x012\x02" {
		t.Errorf("FormatProperties = %q", s)
	}
}

func TestMessageOffsetMsgID(t *testing.T) {
	addr := &net.TCPAddr{IP: net.ParseIP("10.0.0.5"), Port: 10911}
	id := OffsetMsgID(addr, 1234)
	if id != "0A00000500002A9F00000000000004D2" { // reference §6.5 example
		t.Fatalf("id = %s", id)
	}
	got, off, err := ParseOffsetMsgID(id)
	if err != nil || off != 1234 || !got.IP.Equal(addr.IP) || got.Port != 10911 {
		t.Fatalf("parse = %v %d %v", got, off, err)
	}
	v6 := OffsetMsgID(&net.TCPAddr{IP: net.ParseIP("::1"), Port: 1}, 7)
	if len(v6) != 56 {
		t.Fatalf("v6 id length %d", len(v6))
	}
	for _, bad := range []string{"", "XYZ", "0A00000500002A9F00000000000004DZ"} {
		if _, _, err := ParseOffsetMsgID(bad); !errors.Is(err, ErrBadMsgID) {
			t.Errorf("ParseOffsetMsgID(%q) err = %v", bad, err)
		}
	}
}

func TestMessageBatchRoundTripAndErrors(t *testing.T) {
	items := []BatchItem{
		{Flag: 1, Body: []byte("hello"), Properties: "KEYS\x01a\x02"},
		{Flag: 0, Body: []byte{}, Properties: ""},
		{Flag: 7, Body: []byte("x"), Properties: "TAGS\x01t\x02"},
	}
	b := EncodeBatch(items)
	got, err := DecodeBatch(b)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 3 || string(got[0].Body) != "hello" || got[2].Flag != 7 || got[2].Properties != "TAGS\x01t\x02" || len(got[1].Body) != 0 {
		t.Fatalf("decode = %+v", got)
	}
	bad := []struct {
		name string
		b    []byte
	}{
		{"empty", nil},
		{"truncated", b[:len(b)-1]},
		{"short tail", append(append([]byte{}, b...), 0, 0, 0)},
		{"size too small", binary.BigEndian.AppendUint32(make([]byte, 0, 24), 3)},
	}
	for _, tt := range bad {
		if _, err := DecodeBatch(tt.b); !errors.Is(err, ErrBadBatch) {
			t.Errorf("%s: err = %v", tt.name, err)
		}
	}
}

// buildRecord encodes a §6.1 record with IPv4 hosts, independently of the store.
func buildRecord(topic string, body []byte, props string, qid int32, qoff, phys int64) []byte {
	var b []byte
	total := 91 + len(body) + len(topic) + len(props)
	u32 := func(v uint32) { b = binary.BigEndian.AppendUint32(b, v) }
	u64 := func(v uint64) { b = binary.BigEndian.AppendUint64(b, v) }
	u32(uint32(total))
	u32(0xDAA320A7)
	u32(99)
	u32(uint32(qid))
	u32(5) // flag
	u64(uint64(qoff))
	u64(uint64(phys))
	u32(0) // sysflag
	u64(111)
	b = append(b, 127, 0, 0, 1)
	u32(4000)
	u64(222)
	b = append(b, 10, 0, 0, 5)
	u32(10911)
	u32(3) // reconsume
	u64(0)
	u32(uint32(len(body)))
	b = append(b, body...)
	b = append(b, byte(len(topic)))
	b = append(b, topic...)
	b = binary.BigEndian.AppendUint16(b, uint16(len(props)))
	b = append(b, props...)
	return b
}

func TestMessageDecodeRecord(t *testing.T) {
	raw := buildRecord("TopicTest", []byte("body"), "TAGS\x01A\x02", 2, 17, 4096)
	r, err := DecodeRecord(raw)
	if err != nil {
		t.Fatal(err)
	}
	if r.Topic != "TopicTest" || string(r.Body) != "body" || r.QueueID != 2 || r.QueueOffset != 17 ||
		r.PhysicalOffset != 4096 || r.Flag != 5 || r.ReconsumeTimes != 3 || r.StoreHost.Port != 10911 ||
		r.BornTimestamp != 111 || r.StoreTimestamp != 222 || r.Properties != "TAGS\x01A\x02" {
		t.Fatalf("decoded %+v", r)
	}
	for n := 0; n < len(raw); n += 7 {
		if _, err := DecodeRecord(raw[:n]); !errors.Is(err, ErrShortRecord) {
			t.Fatalf("truncated to %d: err = %v", n, err)
		}
	}
}
