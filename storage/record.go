package storage

import (
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"hash/crc32"
	"net/netip"
	"sort"
	"strings"
	"unicode/utf16"
	"unicode/utf8"
)

// On-disk and wire constants of the commit-log record (see doc.go).
const (
	// MagicCodeV1 marks a record with a 1-byte topic length; the only magic the store writes.
	MagicCodeV1 int32 = -626843481 // 0xDAA320A7
	// MagicCodeV2 marks a record with a 2-byte topic length (RocketMQ 5.x); read, never written.
	MagicCodeV2 int32 = -626843477 // 0xDAA320AB
	// BlankMagicCode marks the end-of-segment padding record.
	BlankMagicCode int32 = -875286124 // 0xCBD43194

	magicV1Bits    uint32 = 0xDAA320A7
	blankMagicBits uint32 = 0xCBD43194

	recordFixedV1    = 91    // TOTALSIZE with IPv4 hosts and empty body, topic and properties
	ipv6Extra        = 12    // extra bytes per IPv6 host
	maxTopicLen      = 127   // TOPICLENGTH is an int8 in V1
	maxPropertiesLen = 32767 // PROPERTIESLENGTH is an int16
	blankRecordLen   = 8     // int32 size + int32 BlankMagicCode

	offTotalSize   = 0
	offMagic       = 4
	offBodyCRC     = 8
	offQueueID     = 12
	offFlag        = 16
	offQueueOffset = 20
	offPhysOffset  = 28
	offSysFlag     = 36
	offBornTime    = 40
	offBornHost    = 48
)

// SysFlag bits (RocketMQ MessageSysFlag).
const (
	SysFlagCompressed        int32 = 0x1
	SysFlagMultiTags         int32 = 0x2
	TransactionNotType       int32 = 0x0
	TransactionPreparedType  int32 = 0x4
	TransactionCommitType    int32 = 0x8
	TransactionRollbackType  int32 = 0xC
	SysFlagBornHostV6        int32 = 0x10
	SysFlagStoreHostV6       int32 = 0x20
	transactionTypeMask      int32 = 0xC
	hostFamilyMask           int32 = SysFlagBornHostV6 | SysFlagStoreHostV6
	propertySeparatorNameVal       = 0x01
	propertySeparatorPair          = 0x02
)

// Well-known property keys the store reads.
const (
	PropertyTags       = "TAGS"
	PropertyKeys       = "KEYS"
	PropertyUniqKey    = "UNIQ_KEY"
	PropertyDelayLevel = "DELAY"
	PropertyWait       = "WAIT"
)

// TransactionType returns the transaction bits of a sysFlag.
func TransactionType(sysFlag int32) int32 { return sysFlag & transactionTypeMask }

// dispatchable reports whether a record gets a consume-queue entry and a queue offset
// (transaction type NOT or COMMIT).
func dispatchable(sysFlag int32) bool {
	t := sysFlag & transactionTypeMask
	return t == TransactionNotType || t == TransactionCommitType
}

// Message is what the broker appends. The store fills QUEUEOFFSET, PHYSICALOFFSET,
// STORETIMESTAMP and BODYCRC, and sets the IPv6 bits of SysFlag from the host families.
type Message struct {
	Topic   string
	QueueID int32
	Flag    int32
	Body    []byte
	// Properties is the encoded property string (key 0x01 value 0x02 ...), at most 32767
	// bytes. TAGS, KEYS, UNIQ_KEY and (on the schedule topic) DELAY are read from it.
	Properties                []byte
	SysFlag                   int32
	BornTimestamp             int64
	BornHost                  netip.AddrPort
	StoreHost                 netip.AddrPort
	ReconsumeTimes            int32
	PreparedTransactionOffset int64
	// NoWait is set when the producer sent WAIT=false: under SYNC_FLUSH the append returns
	// without waiting for durability.
	NoWait bool
}

func hostLen(a netip.AddrPort) int {
	if is6(a) {
		return 20
	}
	return 8
}

func is6(a netip.AddrPort) bool {
	ad := a.Addr()
	return ad.Is6() && !ad.Is4In6()
}

func putHost(b []byte, a netip.AddrPort) int {
	ad := a.Addr().Unmap()
	n := 4
	switch {
	case ad.Is6():
		s := ad.As16()
		copy(b, s[:])
		n = 16
	case ad.Is4():
		s := ad.As4()
		copy(b, s[:])
	default:
		clear(b[:4])
	}
	binary.BigEndian.PutUint32(b[n:], uint32(a.Port()))
	return n + 4
}

func getHost(b []byte, v6 bool) netip.AddrPort {
	if v6 {
		var a [16]byte
		copy(a[:], b)
		return netip.AddrPortFrom(netip.AddrFrom16(a), uint16(binary.BigEndian.Uint32(b[16:])))
	}
	var a [4]byte
	copy(a[:], b)
	return netip.AddrPortFrom(netip.AddrFrom4(a), uint16(binary.BigEndian.Uint32(b[4:])))
}

// encodedSize validates m and returns its TOTALSIZE and the sysFlag to store.
func encodedSize(m *Message, maxBody int) (int, int32, error) {
	if len(m.Topic) == 0 || len(m.Topic) > maxTopicLen {
		return 0, 0, fmt.Errorf("%w: topic length %d not in [1, %d]", ErrMessageIllegal, len(m.Topic), maxTopicLen)
	}
	if len(m.Body) > maxBody {
		return 0, 0, fmt.Errorf("%w: body %d bytes, limit %d", ErrMessageTooLarge, len(m.Body), maxBody)
	}
	if len(m.Properties) > maxPropertiesLen {
		return 0, 0, fmt.Errorf("%w: %d bytes", ErrPropertiesTooLarge, len(m.Properties))
	}
	if m.QueueID < 0 {
		return 0, 0, fmt.Errorf("%w: queue id %d", ErrMessageIllegal, m.QueueID)
	}
	sys := m.SysFlag &^ hostFamilyMask
	size := recordFixedV1 + len(m.Body) + len(m.Topic) + len(m.Properties)
	if is6(m.BornHost) {
		sys |= SysFlagBornHostV6
		size += ipv6Extra
	}
	if is6(m.StoreHost) {
		sys |= SysFlagStoreHostV6
		size += ipv6Extra
	}
	return size, sys, nil
}

// BodyCRC is RocketMQ's UtilAll.crc32: crc32 IEEE masked to 31 bits.
func BodyCRC(body []byte) int32 {
	return int32(crc32.ChecksumIEEE(body) & 0x7FFFFFFF)
}

// encodeRecord writes m into dst, which is exactly TOTALSIZE bytes long.
func encodeRecord(dst []byte, m *Message, sysFlag, crc int32, queueOffset, phyOffset, storeTs int64) {
	be := binary.BigEndian
	be.PutUint32(dst[offTotalSize:], uint32(len(dst)))
	be.PutUint32(dst[offMagic:], magicV1Bits)
	be.PutUint32(dst[offBodyCRC:], uint32(crc))
	be.PutUint32(dst[offQueueID:], uint32(m.QueueID))
	be.PutUint32(dst[offFlag:], uint32(m.Flag))
	be.PutUint64(dst[offQueueOffset:], uint64(queueOffset))
	be.PutUint64(dst[offPhysOffset:], uint64(phyOffset))
	be.PutUint32(dst[offSysFlag:], uint32(sysFlag))
	be.PutUint64(dst[offBornTime:], uint64(m.BornTimestamp))
	p := offBornHost + putHost(dst[offBornHost:], m.BornHost)
	be.PutUint64(dst[p:], uint64(storeTs))
	p += 8
	p += putHost(dst[p:], m.StoreHost)
	be.PutUint32(dst[p:], uint32(m.ReconsumeTimes))
	p += 4
	be.PutUint64(dst[p:], uint64(m.PreparedTransactionOffset))
	p += 8
	be.PutUint32(dst[p:], uint32(len(m.Body)))
	p += 4
	p += copy(dst[p:], m.Body)
	dst[p] = byte(len(m.Topic))
	p++
	p += copy(dst[p:], m.Topic)
	be.PutUint16(dst[p:], uint16(len(m.Properties)))
	p += 2
	copy(dst[p:], m.Properties)
}

// recordView is the parsed header of a stored record; slices alias the input.
type recordView struct {
	size    int32
	qid     int32
	qo      int64
	phy     int64
	sysFlag int32
	storeTs int64
	bodyCRC int32
	body    []byte
	topic   []byte
	props   []byte
}

// errShortRecord: the buffer ends before the record does (not corruption by itself).
var errShortRecord = fmt.Errorf("%w: record extends past the available bytes", ErrCorrupt)

// parseRecord parses the record at the start of b. It returns errShortRecord when b is too
// short to hold it and an ErrCorrupt error when the record is inconsistent. Blank records
// are not handled here (check the magic first).
func parseRecord(b []byte) (recordView, error) {
	var r recordView
	if len(b) < 8 {
		return r, errShortRecord
	}
	be := binary.BigEndian
	size := int32(be.Uint32(b[offTotalSize:]))
	magic := int32(be.Uint32(b[offMagic:]))
	if magic != MagicCodeV1 && magic != MagicCodeV2 {
		return r, fmt.Errorf("%w: bad magic %#x", ErrCorrupt, uint32(magic))
	}
	if size < recordFixedV1 {
		return r, fmt.Errorf("%w: total size %d below the minimum", ErrCorrupt, size)
	}
	if int(size) > len(b) {
		return r, errShortRecord
	}
	b = b[:size]
	r.size = size
	r.bodyCRC = int32(be.Uint32(b[offBodyCRC:]))
	r.qid = int32(be.Uint32(b[offQueueID:]))
	r.qo = int64(be.Uint64(b[offQueueOffset:]))
	r.phy = int64(be.Uint64(b[offPhysOffset:]))
	r.sysFlag = int32(be.Uint32(b[offSysFlag:]))
	p := offBornHost + 8
	if r.sysFlag&SysFlagBornHostV6 != 0 {
		p += ipv6Extra
	}
	if p+8 > len(b) {
		return r, fmt.Errorf("%w: truncated header", ErrCorrupt)
	}
	r.storeTs = int64(be.Uint64(b[p:]))
	p += 8 + 8
	if r.sysFlag&SysFlagStoreHostV6 != 0 {
		p += ipv6Extra
	}
	p += 4 + 8 // reconsume times, prepared transaction offset
	if p+4 > len(b) {
		return r, fmt.Errorf("%w: truncated header", ErrCorrupt)
	}
	bodyLen := int(int32(be.Uint32(b[p:])))
	p += 4
	if bodyLen < 0 || p+bodyLen > len(b) {
		return r, fmt.Errorf("%w: body length %d exceeds the record", ErrCorrupt, bodyLen)
	}
	r.body = b[p : p+bodyLen]
	p += bodyLen
	topicLen := 0
	if magic == MagicCodeV1 {
		if p+1 > len(b) {
			return r, fmt.Errorf("%w: truncated topic", ErrCorrupt)
		}
		topicLen = int(int8(b[p]))
		p++
	} else {
		if p+2 > len(b) {
			return r, fmt.Errorf("%w: truncated topic", ErrCorrupt)
		}
		topicLen = int(int16(be.Uint16(b[p:])))
		p += 2
	}
	if topicLen < 0 || p+topicLen+2 > len(b) {
		return r, fmt.Errorf("%w: topic length %d exceeds the record", ErrCorrupt, topicLen)
	}
	r.topic = b[p : p+topicLen]
	p += topicLen
	propLen := int(int16(be.Uint16(b[p:])))
	p += 2
	if propLen < 0 || p+propLen != len(b) {
		return r, fmt.Errorf("%w: properties length %d does not end the record", ErrCorrupt, propLen)
	}
	r.props = b[p : p+propLen]
	return r, nil
}

// Record is a decoded stored record. Body and Properties alias the decoded bytes.
type Record struct {
	TotalSize                 int32
	MagicCode                 int32
	BodyCRC                   int32
	QueueID                   int32
	Flag                      int32
	QueueOffset               int64
	PhysicalOffset            int64
	SysFlag                   int32
	BornTimestamp             int64
	BornHost                  netip.AddrPort
	StoreTimestamp            int64
	StoreHost                 netip.AddrPort
	ReconsumeTimes            int32
	PreparedTransactionOffset int64
	Body                      []byte
	Topic                     string
	Properties                []byte
}

// DecodeRecord decodes the stored record at the start of b and returns it with its length.
// It checks the structure (magic, lengths), not the body CRC.
func DecodeRecord(b []byte) (Record, int, error) {
	v, err := parseRecord(b)
	if err != nil {
		return Record{}, 0, err
	}
	be := binary.BigEndian
	r := Record{
		TotalSize:      v.size,
		MagicCode:      int32(be.Uint32(b[offMagic:])),
		BodyCRC:        v.bodyCRC,
		QueueID:        v.qid,
		Flag:           int32(be.Uint32(b[offFlag:])),
		QueueOffset:    v.qo,
		PhysicalOffset: v.phy,
		SysFlag:        v.sysFlag,
		BornTimestamp:  int64(be.Uint64(b[offBornTime:])),
		StoreTimestamp: v.storeTs,
		Body:           v.body,
		Topic:          string(v.topic),
		Properties:     v.props,
	}
	born6 := v.sysFlag&SysFlagBornHostV6 != 0
	r.BornHost = getHost(b[offBornHost:], born6)
	p := offBornHost + 8
	if born6 {
		p += ipv6Extra
	}
	p += 8
	store6 := v.sysFlag&SysFlagStoreHostV6 != 0
	r.StoreHost = getHost(b[p:], store6)
	p += 8
	if store6 {
		p += ipv6Extra
	}
	r.ReconsumeTimes = int32(be.Uint32(b[p:]))
	r.PreparedTransactionOffset = int64(be.Uint64(b[p+4:]))
	return r, int(v.size), nil
}

// Property returns the value of a property of the record.
func (r *Record) Property(key string) (string, bool) {
	v, ok := PropertyValue(r.Properties, key)
	return string(v), ok
}

// Tags returns the TAGS property ("" if absent).
func (r *Record) Tags() string {
	v, _ := r.Property(PropertyTags)
	return v
}

// OffsetMsgID returns the record's broker-generated message id.
func (r *Record) OffsetMsgID() string { return OffsetMsgID(r.StoreHost, r.PhysicalOffset) }

// RecordTags returns the TAGS property of the stored record at the start of b without
// allocating (the broker's exact tag re-check). ok is false when the record is malformed or
// has no tag.
func RecordTags(b []byte) (tags []byte, ok bool) {
	v, err := parseRecord(b)
	if err != nil {
		return nil, false
	}
	return PropertyValue(v.props, PropertyTags)
}

// PropertyValue finds key in an encoded property string, following Java's parsing rules (a
// pair is kept only when the separator is strictly inside it). It does not allocate.
func PropertyValue(props []byte, key string) ([]byte, bool) {
	for len(props) > 0 {
		end := indexByte(props, propertySeparatorPair)
		pair := props
		if end >= 0 {
			pair = props[:end]
			props = props[end+1:]
		} else {
			props = nil
		}
		sep := indexByte(pair, propertySeparatorNameVal)
		if sep > 0 && sep < len(pair)-1 && string(pair[:sep]) == key {
			return pair[sep+1:], true
		}
	}
	return nil, false
}

func indexByte(b []byte, c byte) int {
	for i, x := range b {
		if x == c {
			return i
		}
	}
	return -1
}

// ParseProperties decodes a property string into a map (Java's rules).
func ParseProperties(props []byte) map[string]string {
	m := map[string]string{}
	for _, pair := range strings.Split(string(props), string(rune(propertySeparatorPair))) {
		sep := strings.IndexByte(pair, propertySeparatorNameVal)
		if sep > 0 && sep < len(pair)-1 {
			m[pair[:sep]] = pair[sep+1:]
		}
	}
	return m
}

// AppendProperty appends one key/value pair (with its trailing 0x02) to dst.
func AppendProperty(dst []byte, key, value string) []byte {
	dst = append(dst, key...)
	dst = append(dst, propertySeparatorNameVal)
	dst = append(dst, value...)
	return append(dst, propertySeparatorPair)
}

// EncodeProperties encodes a map, keys sorted so the output is deterministic.
func EncodeProperties(m map[string]string) []byte {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var b []byte
	for _, k := range keys {
		b = AppendProperty(b, k, m[k])
	}
	return b
}

// JavaHashCode is Java's String.hashCode of the UTF-8 text s: h = 31*h + c over UTF-16 code
// units. Invalid UTF-8 bytes count as U+FFFD, as Java's decoder produces.
func JavaHashCode[T ~string | ~[]byte](s T) int32 {
	return javaHashAppend(0, s)
}

func javaHashAppend[T ~string | ~[]byte](h int32, s T) int32 {
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			h = 31*h + int32(c)
			i++
			continue
		}
		var r rune
		var n int
		switch v := any(s).(type) {
		case string:
			r, n = utf8.DecodeRuneInString(v[i:])
		case []byte:
			r, n = utf8.DecodeRune(v[i:])
		default:
			r, n = utf8.DecodeRuneInString(string(s[i:]))
		}
		if r >= 0x10000 {
			hi, lo := utf16.EncodeRune(r)
			h = 31*h + hi
			h = 31*h + lo
		} else {
			h = 31*h + r
		}
		i += n
	}
	return h
}

// TagsCode is the consume-queue tag code of a TAGS value (0 for none).
func TagsCode[T ~string | ~[]byte](tags T) int64 {
	if len(tags) == 0 {
		return 0
	}
	return int64(JavaHashCode(tags))
}

// indexKeyHash is RocketMQ's index hash of topic + "#" + key: |hashCode|, 0 when negative.
func indexKeyHash[T ~string | ~[]byte](topic T, key []byte) int32 {
	h := javaHashAppend(0, topic)
	h = 31*h + '#'
	h = javaHashAppend(h, key)
	if h < 0 {
		h = -h
	}
	if h < 0 { // math.MinInt32
		h = 0
	}
	return h
}

// OffsetMsgID is the broker-generated message id: upper-case hex of the store host's
// address bytes, its int32 port and the int64 commit-log offset (32 characters for IPv4).
func OffsetMsgID(storeHost netip.AddrPort, phyOffset int64) string {
	var b [28]byte
	n := putHost(b[:], storeHost)
	binary.BigEndian.PutUint64(b[n:], uint64(phyOffset))
	n += 8
	const digits = "0123456789ABCDEF"
	out := make([]byte, 2*n)
	for i, c := range b[:n] {
		out[2*i] = digits[c>>4]
		out[2*i+1] = digits[c&0xF]
	}
	return string(out)
}

// DecodeOffsetMsgID reverses OffsetMsgID: 32 hex characters for IPv4, 56 for IPv6.
func DecodeOffsetMsgID(id string) (netip.AddrPort, int64, error) {
	b, err := hex.DecodeString(id)
	if err != nil || (len(b) != 16 && len(b) != 28) {
		return netip.AddrPort{}, 0, fmt.Errorf("storage: malformed offsetMsgId %q", id)
	}
	v6 := len(b) == 28
	host := getHost(b, v6)
	n := 8
	if v6 {
		n = 20
	}
	return host, int64(binary.BigEndian.Uint64(b[n:])), nil
}
