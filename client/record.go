package client

import (
	"bytes"
	"compress/zlib"
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"hash/crc32"
	"io"
	"net"
	"net/netip"
	"strconv"
	"strings"
)

// Stored-record constants (rocketmq-protocol.md §6.1, §6.2).
const (
	// MagicCodeV1 marks a record with a 1-byte topic length, the only form brokers send to clients.
	MagicCodeV1 = int32(-626843481) // 0xDAA320A7
	// MagicCodeV2 marks a record with a 2-byte topic length (5.x, topics longer than 127 bytes).
	MagicCodeV2 = int32(-626843477) // 0xDAA320AB
	// MagicCodeBlank marks commit-log end-of-file padding; it must never appear in a pull body.
	MagicCodeBlank = int32(-875286124) // 0xCBD43194

	SysFlagCompressed     = 0x1
	SysFlagMultiTags      = 0x2
	SysFlagTransactionMsk = 0xC
	SysFlagBornHostV6     = 0x10
	SysFlagStoreHostV6    = 0x20
	sysFlagCompressionMsk = 0x700
	compressionZlib       = 0x3 // type value 0 also means zlib (legacy)

	// recordFixedSize is the record size without body, topic and properties for IPv4 hosts.
	recordFixedSize = 4 + 4 + 4 + 4 + 4 + 8 + 8 + 4 + 8 + 8 + 8 + 8 + 4 + 8 + 4 + 1 + 2
)

// DecodeMessages decodes a PULL_MESSAGE / QUERY_MESSAGE / VIEW_MESSAGE_BY_ID body: zero or more
// stored records back to back (§6.1). Compressed (zlib) bodies are inflated. Any truncated or
// inconsistent record makes the whole body fail with an error wrapping ErrCorruptRecord.
func DecodeMessages(body []byte) ([]*MessageExt, error) {
	var out []*MessageExt
	for off := 0; off < len(body); {
		m, n, err := decodeRecord(body[off:])
		if err != nil {
			return out, fmt.Errorf("record at byte %d: %w", off, err)
		}
		out = append(out, m)
		off += n
	}
	return out, nil
}

// recordReader is a bounds-checked big-endian cursor.
type recordReader struct {
	b   []byte
	off int
	err error
}

func (r *recordReader) take(n int, field string) []byte {
	if r.err != nil {
		return nil
	}
	if n < 0 || len(r.b)-r.off < n {
		r.err = fmt.Errorf("%w: %s needs %d bytes at %d, record has %d", ErrCorruptRecord, field, n, r.off, len(r.b))
		return nil
	}
	p := r.b[r.off : r.off+n]
	r.off += n
	return p
}

func (r *recordReader) i8(field string) int8 {
	p := r.take(1, field)
	if p == nil {
		return 0
	}
	return int8(p[0])
}

func (r *recordReader) i16(field string) int16 {
	p := r.take(2, field)
	if p == nil {
		return 0
	}
	return int16(binary.BigEndian.Uint16(p))
}

func (r *recordReader) i32(field string) int32 {
	p := r.take(4, field)
	if p == nil {
		return 0
	}
	return int32(binary.BigEndian.Uint32(p))
}

func (r *recordReader) i64(field string) int64 {
	p := r.take(8, field)
	if p == nil {
		return 0
	}
	return int64(binary.BigEndian.Uint64(p))
}

// host reads an IPv4 (4+4 bytes) or IPv6 (16+4 bytes) address; raw is the ip||port bytes.
func (r *recordReader) host(v6 bool, field string) (addr string, raw []byte) {
	n := 4
	if v6 {
		n = 16
	}
	p := r.take(n+4, field)
	if p == nil {
		return "", nil
	}
	ip, _ := netip.AddrFromSlice(p[:n])
	port := binary.BigEndian.Uint32(p[n:])
	return net.JoinHostPort(ip.Unmap().String(), strconv.FormatUint(uint64(port), 10)), p
}

func decodeRecord(b []byte) (*MessageExt, int, error) {
	if len(b) < 8 {
		return nil, 0, fmt.Errorf("%w: %d trailing bytes", ErrCorruptRecord, len(b))
	}
	total := int32(binary.BigEndian.Uint32(b))
	if total < recordFixedSize || int(total) > len(b) {
		return nil, 0, fmt.Errorf("%w: total size %d with %d bytes available", ErrCorruptRecord, total, len(b))
	}
	r := &recordReader{b: b[:total]}
	m := &MessageExt{}
	m.StoreSize = r.i32("TOTALSIZE")
	magic := r.i32("MAGICCODE")
	if magic != MagicCodeV1 && magic != MagicCodeV2 {
		return nil, 0, fmt.Errorf("%w: magic code %#x", ErrCorruptRecord, uint32(magic))
	}
	m.BodyCRC = r.i32("BODYCRC")
	m.QueueID = r.i32("QUEUEID")
	m.Flag = r.i32("FLAG")
	m.QueueOffset = r.i64("QUEUEOFFSET")
	m.CommitLogOffset = r.i64("PHYSICALOFFSET")
	m.SysFlag = r.i32("SYSFLAG")
	m.BornTimestamp = r.i64("BORNTIMESTAMP")
	m.BornHost, _ = r.host(m.SysFlag&SysFlagBornHostV6 != 0, "BORNHOST")
	m.StoreTimestamp = r.i64("STORETIMESTAMP")
	var storeRaw []byte
	m.StoreHost, storeRaw = r.host(m.SysFlag&SysFlagStoreHostV6 != 0, "STOREHOST")
	m.ReconsumeTimes = r.i32("RECONSUMETIMES")
	m.PreparedTransactionOffset = r.i64("PREPAREDTRANSACTIONOFFSET")
	bodyLen := r.i32("BODYLENGTH")
	body := r.take(int(bodyLen), "BODY")
	var topicLen int
	if magic == MagicCodeV2 {
		topicLen = int(uint16(r.i16("TOPICLENGTH")))
	} else {
		topicLen = int(uint8(r.i8("TOPICLENGTH")))
	}
	topic := r.take(topicLen, "TOPIC")
	propLen := r.i16("PROPERTIESLENGTH")
	props := r.take(int(propLen), "PROPERTIES")
	if r.err != nil {
		return nil, 0, r.err
	}
	if r.off != int(total) {
		return nil, 0, fmt.Errorf("%w: fields end at %d but total size is %d", ErrCorruptRecord, r.off, total)
	}
	m.Topic = string(topic)
	m.Properties = DecodeProperties(string(props))
	m.Body = append([]byte(nil), body...)
	if m.SysFlag&SysFlagCompressed != 0 {
		ct := (m.SysFlag & sysFlagCompressionMsk) >> 8
		if ct == 0 || ct == compressionZlib {
			if inflated, err := inflate(body); err == nil {
				m.Body = inflated
			} // like the reference clients, keep the raw bytes if inflating fails
		}
	}
	var sb strings.Builder
	sb.Grow(2*len(storeRaw) + 16)
	sb.WriteString(strings.ToUpper(hex.EncodeToString(storeRaw)))
	var off [8]byte
	binary.BigEndian.PutUint64(off[:], uint64(m.CommitLogOffset))
	sb.WriteString(strings.ToUpper(hex.EncodeToString(off[:])))
	m.OffsetMsgID = sb.String()
	if u := m.Properties[PropertyUniqClientKey]; u != "" {
		m.MsgID = u
	} else {
		m.MsgID = m.OffsetMsgID
	}
	return m, int(total), nil
}

func inflate(b []byte) ([]byte, error) {
	zr, err := zlib.NewReader(bytes.NewReader(b))
	if err != nil {
		return nil, err
	}
	defer zr.Close()
	return io.ReadAll(zr)
}

// EncodeRecord renders m as a stored record in the V1 layout of §6.1, computing TOTALSIZE and BODYCRC
// and using m.Body as stored (no compression is applied). It is the inverse of DecodeMessages and is
// used to build fixtures; BornHost and StoreHost must be "ip:port" strings.
func EncodeRecord(m *MessageExt) ([]byte, error) {
	bornIP, bornPort, err := splitHostPort(m.BornHost)
	if err != nil {
		return nil, fmt.Errorf("born host: %w", err)
	}
	storeIP, storePort, err := splitHostPort(m.StoreHost)
	if err != nil {
		return nil, fmt.Errorf("store host: %w", err)
	}
	if len(m.Topic) > 127 {
		return nil, &InvalidMessageError{Reason: "topic longer than 127 bytes"}
	}
	props := EncodeProperties(m.Properties)
	if len(props) > MaxPropertiesLength {
		return nil, &InvalidMessageError{Reason: "properties longer than 32767 bytes"}
	}
	sysFlag := m.SysFlag &^ (SysFlagBornHostV6 | SysFlagStoreHostV6)
	if bornIP.Is6() {
		sysFlag |= SysFlagBornHostV6
	}
	if storeIP.Is6() {
		sysFlag |= SysFlagStoreHostV6
	}
	size := recordFixedSize + len(m.Body) + len(m.Topic) + len(props)
	size += len(bornIP.AsSlice()) - 4 + len(storeIP.AsSlice()) - 4
	b := make([]byte, 0, size)
	b = binary.BigEndian.AppendUint32(b, uint32(size))
	magic := MagicCodeV1
	b = binary.BigEndian.AppendUint32(b, uint32(magic))
	b = binary.BigEndian.AppendUint32(b, crc32.ChecksumIEEE(m.Body)&0x7FFFFFFF)
	b = binary.BigEndian.AppendUint32(b, uint32(m.QueueID))
	b = binary.BigEndian.AppendUint32(b, uint32(m.Flag))
	b = binary.BigEndian.AppendUint64(b, uint64(m.QueueOffset))
	b = binary.BigEndian.AppendUint64(b, uint64(m.CommitLogOffset))
	b = binary.BigEndian.AppendUint32(b, uint32(sysFlag))
	b = binary.BigEndian.AppendUint64(b, uint64(m.BornTimestamp))
	b = append(b, bornIP.AsSlice()...)
	b = binary.BigEndian.AppendUint32(b, uint32(bornPort))
	b = binary.BigEndian.AppendUint64(b, uint64(m.StoreTimestamp))
	b = append(b, storeIP.AsSlice()...)
	b = binary.BigEndian.AppendUint32(b, uint32(storePort))
	b = binary.BigEndian.AppendUint32(b, uint32(m.ReconsumeTimes))
	b = binary.BigEndian.AppendUint64(b, uint64(m.PreparedTransactionOffset))
	b = binary.BigEndian.AppendUint32(b, uint32(len(m.Body)))
	b = append(b, m.Body...)
	b = append(b, byte(len(m.Topic)))
	b = append(b, m.Topic...)
	b = binary.BigEndian.AppendUint16(b, uint16(len(props)))
	b = append(b, props...)
	return b, nil
}

func splitHostPort(hp string) (netip.Addr, uint16, error) {
	ap, err := netip.ParseAddrPort(hp)
	if err != nil {
		return netip.Addr{}, 0, err
	}
	return ap.Addr().Unmap(), ap.Port(), nil
}

// EncodeBatch renders the SEND_BATCH_MESSAGE body (§6.7): per message TOTALSIZE, MAGICCODE 0,
// BODYCRC 0, FLAG, BODYLEN, body, PROPLEN, properties.
func EncodeBatch(msgs []*Message) ([]byte, error) {
	n := 0
	encoded := make([]string, len(msgs))
	for i, m := range msgs {
		if err := validateProperties(m.Properties); err != nil {
			return nil, err
		}
		encoded[i] = EncodeProperties(m.Properties)
		if len(encoded[i]) > MaxPropertiesLength {
			return nil, &InvalidMessageError{Reason: "properties longer than 32767 bytes"}
		}
		n += 20 + len(m.Body) + 2 + len(encoded[i])
	}
	b := make([]byte, 0, n)
	for i, m := range msgs {
		p := encoded[i]
		b = binary.BigEndian.AppendUint32(b, uint32(20+len(m.Body)+2+len(p)))
		b = binary.BigEndian.AppendUint32(b, 0)
		b = binary.BigEndian.AppendUint32(b, 0)
		b = binary.BigEndian.AppendUint32(b, uint32(m.Flag))
		b = binary.BigEndian.AppendUint32(b, uint32(len(m.Body)))
		b = append(b, m.Body...)
		b = binary.BigEndian.AppendUint16(b, uint16(len(p)))
		b = append(b, p...)
	}
	return b, nil
}

// ParseOffsetMsgID decodes a broker-generated message id (§6.5) into the store address and the
// commit-log offset: 32 hex characters for IPv4 store hosts, 56 for IPv6.
func ParseOffsetMsgID(id string) (addr string, offset int64, err error) {
	raw, err := hex.DecodeString(id)
	if err != nil {
		return "", 0, fmt.Errorf("client: offset message id %q: %w", id, err)
	}
	var ipLen int
	switch len(raw) {
	case 16:
		ipLen = 4
	case 28:
		ipLen = 16
	default:
		return "", 0, fmt.Errorf("client: offset message id %q: want 32 or 56 hex characters, got %d", id, len(id))
	}
	ip, _ := netip.AddrFromSlice(raw[:ipLen])
	port := binary.BigEndian.Uint32(raw[ipLen:])
	offset = int64(binary.BigEndian.Uint64(raw[ipLen+4:]))
	return net.JoinHostPort(ip.String(), strconv.FormatUint(uint64(port), 10)), offset, nil
}
