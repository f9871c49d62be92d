package client

import (
	"bytes"
	"compress/zlib"
	"encoding/binary"
	"errors"
	"reflect"
	"testing"
)

// handRecord builds a V1 IPv4 record field by field from the §6.1 table, independently of
// EncodeRecord, so the decoder is checked against the documented layout rather than against itself.
func handRecord(t *testing.T, topic string, body []byte, props string, sysFlag int32, queueID int32, queueOffset, phyOffset int64) []byte {
	t.Helper()
	var b bytes.Buffer
	w := func(v any) {
		if err := binary.Write(&b, binary.BigEndian, v); err != nil {
			t.Fatal(err)
		}
	}
	total := int32(91 + len(body) + len(topic) + len(props))
	w(total)
	w(uint32(0xDAA320A7))           // MAGICCODE V1
	w(int32(0x1234))                // BODYCRC (not verified by clients)
	w(queueID)                      // QUEUEID
	w(int32(7))                     // FLAG
	w(queueOffset)                  // QUEUEOFFSET
	w(phyOffset)                    // PHYSICALOFFSET
	w(sysFlag)                      // SYSFLAG
	w(int64(1700000000123))         // BORNTIMESTAMP
	b.Write([]byte{192, 168, 1, 5}) // BORNHOST ip
	w(int32(54321))                 // BORNHOST port
	w(int64(1700000000456))         // STORETIMESTAMP
	b.Write([]byte{10, 0, 0, 5})    // STOREHOST ip
	w(int32(10911))                 // STOREHOST port
	w(int32(2))                     // RECONSUMETIMES
	w(int64(0))                     // PREPARED TRANSACTION OFFSET
	w(int32(len(body)))             // BODYLENGTH
	b.Write(body)                   // BODY
	w(int8(len(topic)))             // TOPICLENGTH
	b.WriteString(topic)            // TOPIC
	w(int16(len(props)))            // PROPERTIESLENGTH
	b.WriteString(props)            // PROPERTIES
	if b.Len() != int(total) {
		t.Fatalf("fixture length %d, want %d", b.Len(), total)
	}
	return b.Bytes()
}

func TestDecodeMessagesHandBuiltFixture(t *testing.T) {
	props := "TAGS\x01TagA\x02KEYS\x01k1 k2\x02UNIQ_KEY\x01C0A8010500010000000000000001\x02"
	rec1 := handRecord(t, "TopicTest", []byte("hello"), props, 0, 3, 41, 1234)
	rec2 := handRecord(t, "TopicTest", []byte("world!"), "TAGS\x01TagB\x02", 0, 3, 42, 1234+int64(len(rec1)))
	msgs, err := DecodeMessages(append(append([]byte(nil), rec1...), rec2...))
	if err != nil {
		t.Fatalf("DecodeMessages: %v", err)
	}
	if len(msgs) != 2 {
		t.Fatalf("got %d messages, want 2", len(msgs))
	}
	m := msgs[0]
	checks := []struct {
		name      string
		got, want any
	}{
		{"topic", m.Topic, "TopicTest"},
		{"body", string(m.Body), "hello"},
		{"queueId", m.QueueID, int32(3)},
		{"flag", m.Flag, int32(7)},
		{"queueOffset", m.QueueOffset, int64(41)},
		{"commitLogOffset", m.CommitLogOffset, int64(1234)},
		{"bornTimestamp", m.BornTimestamp, int64(1700000000123)},
		{"bornHost", m.BornHost, "192.168.1.5:54321"},
		{"storeTimestamp", m.StoreTimestamp, int64(1700000000456)},
		{"storeHost", m.StoreHost, "10.0.0.5:10911"},
		{"reconsumeTimes", m.ReconsumeTimes, int32(2)},
		{"tag", m.Tag(), "TagA"},
		{"keys", m.Keys(), []string{"k1", "k2"}},
		// §6.5 worked example: 10.0.0.5:10911 at offset 1234.
		{"offsetMsgId", m.OffsetMsgID, "0A00000500002A9F00000000000004D2"},
		{"msgId", m.MsgID, "C0A8010500010000000000000001"},
		{"storeSize", m.StoreSize, int32(len(rec1))},
	}
	for _, c := range checks {
		if !reflect.DeepEqual(c.got, c.want) {
			t.Errorf("%s = %#v, want %#v", c.name, c.got, c.want)
		}
	}
	if msgs[1].MsgID != msgs[1].OffsetMsgID || msgs[1].QueueOffset != 42 || string(msgs[1].Body) != "world!" {
		t.Errorf("second message = %+v", msgs[1])
	}
}

func TestDecodeMessagesInflatesZlibBody(t *testing.T) {
	var z bytes.Buffer
	zw := zlib.NewWriter(&z)
	plain := bytes.Repeat([]byte("compressible "), 100)
	zw.Write(plain)
	zw.Close()
	rec := handRecord(t, "T", z.Bytes(), "", SysFlagCompressed, 0, 0, 0)
	msgs, err := DecodeMessages(rec)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(msgs[0].Body, plain) {
		t.Fatalf("body not inflated: %d bytes", len(msgs[0].Body))
	}
}

func TestDecodeMessagesRejectsCorruptInput(t *testing.T) {
	good := handRecord(t, "TopicTest", []byte("hello"), "TAGS\x01a\x02", 0, 0, 0, 0)
	blank := make([]byte, 8)
	binary.BigEndian.PutUint32(blank, 8)
	binary.BigEndian.PutUint32(blank[4:], uint32(0xCBD43194))
	cases := map[string][]byte{
		"truncated":      good[:len(good)-1],
		"trailing bytes": append(append([]byte(nil), good...), 0, 0, 0),
		"bad magic":      func() []byte { b := bytes.Clone(good); b[4] = 0; return b }(),
		"blank marker":   blank,
		"size too small": func() []byte { b := bytes.Clone(good); binary.BigEndian.PutUint32(b, 20); return b }(),
		"body overflows": func() []byte { b := bytes.Clone(good); binary.BigEndian.PutUint32(b[84:], 1<<20); return b }(),
		"size mismatch": func() []byte { // total claims one byte more than the fields use
			b := append(bytes.Clone(good), 0)
			binary.BigEndian.PutUint32(b, uint32(len(b)))
			return b
		}(),
	}
	for name, in := range cases {
		t.Run(name, func(t *testing.T) {
			_, err := DecodeMessages(in)
			if !errors.Is(err, ErrCorruptRecord) {
				t.Fatalf("err = %v, want ErrCorruptRecord", err)
			}
		})
	}
}

func TestEncodeRecordRoundTrip(t *testing.T) {
	in := []*MessageExt{
		{
			Message:         Message{Topic: "orders", Body: []byte("payload"), Flag: 3, Properties: map[string]string{"TAGS": "x", "KEYS": "a b"}},
			QueueID:         2,
			QueueOffset:     99,
			CommitLogOffset: 1 << 33,
			BornTimestamp:   1,
			BornHost:        "127.0.0.1:1234",
			StoreTimestamp:  2,
			StoreHost:       "127.0.0.1:10911",
			ReconsumeTimes:  1,
		},
		{
			Message:         Message{Topic: "v6", Body: nil},
			BornHost:        "[2001:db8::1]:5",
			StoreHost:       "[2001:db8::2]:10911",
			CommitLogOffset: 7,
		},
	}
	var body []byte
	for _, m := range in {
		rec, err := EncodeRecord(m)
		if err != nil {
			t.Fatal(err)
		}
		body = append(body, rec...)
	}
	out, err := DecodeMessages(body)
	if err != nil {
		t.Fatal(err)
	}
	if len(out) != len(in) {
		t.Fatalf("decoded %d, want %d", len(out), len(in))
	}
	for i := range in {
		a, b := in[i], out[i]
		if a.Topic != b.Topic || !bytes.Equal(a.Body, b.Body) || a.Flag != b.Flag || a.QueueID != b.QueueID ||
			a.QueueOffset != b.QueueOffset || a.CommitLogOffset != b.CommitLogOffset || a.BornHost != b.BornHost ||
			a.StoreHost != b.StoreHost || a.ReconsumeTimes != b.ReconsumeTimes || len(a.Properties) != len(b.Properties) {
			t.Errorf("message %d: in %+v out %+v", i, a, b)
		}
	}
	if out[1].SysFlag&(SysFlagBornHostV6|SysFlagStoreHostV6) != SysFlagBornHostV6|SysFlagStoreHostV6 {
		t.Errorf("IPv6 flags not set: %#x", out[1].SysFlag)
	}
	if len(out[1].OffsetMsgID) != 56 {
		t.Errorf("IPv6 offsetMsgId %q, want 56 chars", out[1].OffsetMsgID)
	}
	addr, off, err := ParseOffsetMsgID(out[0].OffsetMsgID)
	if err != nil || addr != "127.0.0.1:10911" || off != 1<<33 {
		t.Errorf("ParseOffsetMsgID = %q %d %v", addr, off, err)
	}
	addr, off, err = ParseOffsetMsgID(out[1].OffsetMsgID)
	if err != nil || addr != "[2001:db8::2]:10911" || off != 7 {
		t.Errorf("ParseOffsetMsgID v6 = %q %d %v", addr, off, err)
	}
}

func TestPropertiesRoundTrip(t *testing.T) {
	in := map[string]string{"TAGS": "t", "KEYS": "k1 k2", "UNIQ_KEY": "ABC", "empty": ""}
	s := EncodeProperties(in)
	if want := "KEYS\x01k1 k2\x02TAGS\x01t\x02UNIQ_KEY\x01ABC\x02"; s != want {
		t.Fatalf("EncodeProperties = %q, want %q", s, want)
	}
	out := DecodeProperties(s)
	delete(in, "empty")
	if !reflect.DeepEqual(in, out) {
		t.Fatalf("round trip: %v", out)
	}
	// Malformed segments are dropped, as the reference clients do.
	got := DecodeProperties("a\x01b\x02novalue\x02\x01x\x02c\x01d")
	if !reflect.DeepEqual(got, map[string]string{"a": "b", "c": "d"}) {
		t.Fatalf("lenient decode = %v", got)
	}
}

func TestEncodeBatchLayout(t *testing.T) {
	msgs := []*Message{
		{Topic: "T", Body: []byte("ab"), Flag: 5, Properties: map[string]string{"TAGS": "x"}},
		{Topic: "T", Body: []byte("c")},
	}
	b, err := EncodeBatch(msgs)
	if err != nil {
		t.Fatal(err)
	}
	// first record: 20 + 2 + 2 + len("TAGS\x01x\x02")=7 → 31
	if got := binary.BigEndian.Uint32(b); got != 31 {
		t.Fatalf("first TOTALSIZE = %d, want 31", got)
	}
	if flag := binary.BigEndian.Uint32(b[12:]); flag != 5 {
		t.Fatalf("FLAG = %d", flag)
	}
	if string(b[20:22]) != "ab" || binary.BigEndian.Uint16(b[22:]) != 7 || string(b[24:31]) != "TAGS\x01x\x02" {
		t.Fatalf("first record bytes %q", b[:31])
	}
	second := b[31:]
	if len(second) != 23 || binary.BigEndian.Uint32(second) != 23 || string(second[20:21]) != "c" {
		t.Fatalf("second record %q", second)
	}
	if _, err := EncodeBatch([]*Message{{Topic: "T", Properties: map[string]string{"k": "a\x02b"}}}); err == nil {
		t.Fatal("separator byte in a property value was accepted")
	}
}

func FuzzDecodeMessages(f *testing.F) {
	rec, _ := EncodeRecord(&MessageExt{Message: Message{Topic: "T", Body: []byte("b"), Properties: map[string]string{"a": "b"}}, BornHost: "1.2.3.4:5", StoreHost: "5.6.7.8:9"})
	f.Add(rec)
	f.Add(append(rec, rec...))
	f.Add([]byte{0, 0, 0, 8, 0xCB, 0xD4, 0x31, 0x94})
	f.Fuzz(func(t *testing.T, b []byte) {
		msgs, err := DecodeMessages(b)
		if err != nil {
			return
		}
		// Whatever decodes must re-encode to a record that decodes to the same fields.
		for _, m := range msgs {
			if m.SysFlag&SysFlagCompressed != 0 {
				continue // the decoder inflated the body; re-encoding stores it uncompressed
			}
			again, err := EncodeRecord(m)
			if err != nil {
				continue // e.g. properties the encoder refuses (empty values dropped)
			}
			back, err := DecodeMessages(again)
			if err != nil || len(back) != 1 {
				t.Fatalf("re-encoded record does not decode: %v", err)
			}
			if back[0].Topic != m.Topic || !bytes.Equal(back[0].Body, m.Body) || back[0].QueueOffset != m.QueueOffset {
				t.Fatalf("round trip changed the record: %+v vs %+v", back[0], m)
			}
		}
	})
}
