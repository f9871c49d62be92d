package storage

import (
	"bytes"
	"encoding/binary"
	"errors"
	"hash/crc32"
	"net/netip"
	"testing"
)

func TestRecordRoundTrip(t *testing.T) {
	v6 := netip.MustParseAddrPort("[2001:db8::7]:40000")
	tests := []struct {
		name      string
		m         Message
		wantSize  int
		wantFlags int32
	}{
		{"ipv4 empty", Message{Topic: "T", StoreHost: testStoreHost, BornHost: testBornHost}, 92, 0},
		{"ipv4 body props", Message{Topic: "TopicA", QueueID: 3, Flag: -1, Body: []byte("hello"), Properties: AppendProperty(nil, "TAGS", "a"),
			SysFlag: TransactionCommitType | SysFlagCompressed, BornTimestamp: 99, BornHost: testBornHost, StoreHost: testStoreHost,
			ReconsumeTimes: 4, PreparedTransactionOffset: 1234}, 91 + 5 + 6 + 7, TransactionCommitType | SysFlagCompressed},
		{"born v6", Message{Topic: "T", BornHost: v6, StoreHost: testStoreHost}, 92 + 12, SysFlagBornHostV6},
		{"store v6", Message{Topic: "T", BornHost: testBornHost, StoreHost: v6}, 92 + 12, SysFlagStoreHostV6},
		{"both v6, stale v4 bits cleared", Message{Topic: "T", BornHost: v6, StoreHost: v6, SysFlag: 0}, 92 + 24, SysFlagBornHostV6 | SysFlagStoreHostV6},
		{"v4-mapped v6 counts as v4", Message{Topic: "T", BornHost: netip.MustParseAddrPort("[::ffff:1.2.3.4]:5"), StoreHost: testStoreHost, SysFlag: SysFlagBornHostV6}, 92, 0},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			size, flags, err := encodedSize(&tc.m, 1<<20)
			if err != nil {
				t.Fatal(err)
			}
			if size != tc.wantSize || flags != tc.wantFlags {
				t.Fatalf("size %d flags %#x, want %d %#x", size, flags, tc.wantSize, tc.wantFlags)
			}
			buf := make([]byte, size)
			crc := BodyCRC(tc.m.Body)
			encodeRecord(buf, &tc.m, flags, crc, 42, 4096, 1700000000123)
			r, n, err := DecodeRecord(buf)
			if err != nil || n != size {
				t.Fatalf("decode: n=%d err=%v", n, err)
			}
			if r.TotalSize != int32(size) || r.MagicCode != MagicCodeV1 || r.BodyCRC != crc || r.QueueID != tc.m.QueueID ||
				r.Flag != tc.m.Flag || r.QueueOffset != 42 || r.PhysicalOffset != 4096 || r.SysFlag != flags ||
				r.BornTimestamp != tc.m.BornTimestamp || r.StoreTimestamp != 1700000000123 || r.ReconsumeTimes != tc.m.ReconsumeTimes ||
				r.PreparedTransactionOffset != tc.m.PreparedTransactionOffset || r.Topic != tc.m.Topic ||
				!bytes.Equal(r.Body, tc.m.Body) || !bytes.Equal(r.Properties, tc.m.Properties) {
				t.Fatalf("decoded %+v from %+v", r, tc.m)
			}
			if r.StoreHost.Port() != tc.m.StoreHost.Port() || r.StoreHost.Addr().Unmap() != tc.m.StoreHost.Addr().Unmap() ||
				r.BornHost.Addr().Unmap() != tc.m.BornHost.Addr().Unmap() {
				t.Fatalf("hosts %v %v", r.BornHost, r.StoreHost)
			}
			// Field positions of §6.1 for IPv4/IPv4.
			if flags&hostFamilyMask == 0 {
				be := binary.BigEndian
				if int64(be.Uint64(buf[56:])) != 1700000000123 || !bytes.Equal(buf[64:68], []byte{10, 0, 0, 5}) || be.Uint32(buf[68:]) != 10911 {
					t.Fatalf("store timestamp/host not at offsets 56/64: % x", buf[48:76])
				}
			}
		})
	}
}

func TestEncodedSizeLimits(t *testing.T) {
	long := string(bytes.Repeat([]byte("t"), 128))
	tests := []struct {
		name string
		m    Message
		want error
	}{
		{"empty topic", Message{}, ErrMessageIllegal},
		{"topic 128 bytes", Message{Topic: long}, ErrMessageIllegal},
		{"topic 127 bytes", Message{Topic: long[:127]}, nil},
		{"body over limit", Message{Topic: "T", Body: make([]byte, 101)}, ErrMessageTooLarge},
		{"body at limit", Message{Topic: "T", Body: make([]byte, 100)}, nil},
		{"properties over 32767", Message{Topic: "T", Properties: make([]byte, 32768)}, ErrPropertiesTooLarge},
		{"negative queue", Message{Topic: "T", QueueID: -1}, ErrMessageIllegal},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, _, err := encodedSize(&tc.m, 100)
			if !errors.Is(err, tc.want) || (tc.want == nil) != (err == nil) {
				t.Fatalf("err = %v, want %v", err, tc.want)
			}
		})
	}
}

func TestJavaHashCode(t *testing.T) {
	tests := []struct {
		in   string
		want int32
	}{
		{"", 0},
		{"a", 97},
		{"hello", 99162322},
		{"TagA", 2598919},
		{"中", 20013},
		{"😀", 55357*31 + 56832}, // surrogate pair D83D DE00
		{"\xff", 0xFFFD},        // invalid UTF-8 decodes to U+FFFD, as in Java
		{"polygenelubricants", -2147483648},
	}
	for _, tc := range tests {
		if got := JavaHashCode(tc.in); got != tc.want {
			t.Errorf("JavaHashCode(%q) = %d, want %d", tc.in, got, tc.want)
		}
		if got := JavaHashCode([]byte(tc.in)); got != tc.want {
			t.Errorf("JavaHashCode([]byte %q) = %d, want %d", tc.in, got, tc.want)
		}
	}
	if TagsCode("") != 0 || TagsCode("TagA") != 2598919 {
		t.Error("TagsCode")
	}
	// The index hash is |hash(topic#key)|, 0 for MinInt32.
	if h := indexKeyHash("T", []byte("k")); h != JavaHashCode("T#k") || h < 0 {
		t.Errorf("indexKeyHash = %d", h)
	}
}

func TestOffsetMsgID(t *testing.T) {
	// Example from the protocol reference §6.5.
	id := OffsetMsgID(netip.MustParseAddrPort("10.0.0.5:10911"), 1234)
	if id != "0A00000500002A9F00000000000004D2" {
		t.Fatalf("id = %s", id)
	}
	host, off, err := DecodeOffsetMsgID(id)
	if err != nil || host.String() != "10.0.0.5:10911" || off != 1234 {
		t.Fatalf("decode: %v %d %v", host, off, err)
	}
	v6 := OffsetMsgID(netip.MustParseAddrPort("[2001:db8::1]:80"), 7)
	if len(v6) != 56 {
		t.Fatalf("v6 id %q", v6)
	}
	if h, o, err := DecodeOffsetMsgID(v6); err != nil || h.Port() != 80 || o != 7 {
		t.Fatalf("v6 decode %v %d %v", h, o, err)
	}
	for _, bad := range []string{"", "XYZ", "0A000005"} {
		if _, _, err := DecodeOffsetMsgID(bad); err == nil {
			t.Errorf("DecodeOffsetMsgID(%q) accepted", bad)
		}
	}
}

func TestProperties(t *testing.T) {
	p := EncodeProperties(map[string]string{"TAGS": "tagA", "KEYS": "k1 k2", "UNIQ_KEY": "ABC"})
	if string(p) != "KEYS\x01k1 k2\x02TAGS\x01tagA\x02UNIQ_KEY\x01ABC\x02" {
		t.Fatalf("encoded %q", p)
	}
	tests := []struct {
		props string
		key   string
		want  string
		ok    bool
	}{
		{string(p), "TAGS", "tagA", true},
		{string(p), "KEYS", "k1 k2", true},
		{string(p), "NOPE", "", false},
		{"TAGS\x01\x02", "TAGS", "", false},       // empty value dropped (Java rule)
		{"\x01v\x02TAGS\x01x", "TAGS", "x", true}, // empty key dropped; last pair without 0x02
		{"A\x01b\x01c\x02", "A", "b\x01c", true},  // value keeps later separators
	}
	for _, tc := range tests {
		v, ok := PropertyValue([]byte(tc.props), tc.key)
		if ok != tc.ok || string(v) != tc.want {
			t.Errorf("PropertyValue(%q, %s) = %q %v", tc.props, tc.key, v, ok)
		}
	}
	m := ParseProperties([]byte("A\x01b\x02\x01x\x02C\x01d\x02"))
	if len(m) != 2 || m["A"] != "b" || m["C"] != "d" {
		t.Fatalf("ParseProperties = %v", m)
	}
}

func TestBodyCRC(t *testing.T) {
	b := []byte("The quick brown fox")
	if BodyCRC(b) != int32(crc32.ChecksumIEEE(b)&0x7FFFFFFF) || BodyCRC(b) < 0 {
		t.Fatal("BodyCRC")
	}
}

func TestParseRecordRejects(t *testing.T) {
	m := msg("T", 0, "body", PropertyTags, "x")
	size, flags, _ := encodedSize(m, 1<<20)
	good := make([]byte, size)
	encodeRecord(good, m, flags, BodyCRC(m.Body), 0, 0, 1)
	mutate := func(f func(b []byte)) []byte {
		b := append([]byte(nil), good...)
		f(b)
		return b
	}
	tests := []struct {
		name  string
		b     []byte
		short bool
	}{
		{"short header", good[:7], true},
		{"cut record", good[:size-1], true},
		{"bad magic", mutate(func(b []byte) { b[4] ^= 1 }), false},
		{"tiny total", mutate(func(b []byte) { binary.BigEndian.PutUint32(b, 10) }), false},
		{"body length too big", mutate(func(b []byte) { binary.BigEndian.PutUint32(b[84:], 1000) }), false},
		{"negative body length", mutate(func(b []byte) { binary.BigEndian.PutUint32(b[84:], 0xFFFFFFFF) }), false},
		{"topic length off", mutate(func(b []byte) { b[88+4]++ }), false},
	}
	for _, tc := range tests {
		_, err := parseRecord(tc.b)
		if err == nil || !errors.Is(err, ErrCorrupt) || errors.Is(err, errShortRecord) != tc.short {
			t.Errorf("%s: err = %v", tc.name, err)
		}
	}
	if tags, ok := RecordTags(good); !ok || string(tags) != "x" {
		t.Errorf("RecordTags = %q %v", tags, ok)
	}
}

func FuzzDecodeRecord(f *testing.F) {
	m := msg("T", 1, "body", PropertyTags, "x")
	size, flags, _ := encodedSize(m, 1<<20)
	good := make([]byte, size)
	encodeRecord(good, m, flags, BodyCRC(m.Body), 3, 4, 5)
	f.Add(good)
	f.Add(good[:40])
	f.Fuzz(func(t *testing.T, b []byte) {
		r, n, err := DecodeRecord(b)
		if err != nil {
			return
		}
		if n != int(r.TotalSize) || n > len(b) || len(r.Body)+len(r.Topic)+len(r.Properties) > n {
			t.Fatalf("inconsistent decode n=%d total=%d", n, r.TotalSize)
		}
		PropertyValue(r.Properties, "TAGS")
	})
}
