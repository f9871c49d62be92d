// Package message holds the broker-side helpers for RocketMQ message encodings: the property
// string, stored records (decode only; the store encodes), batch request bodies and
// offsetMsgId.
package message

import (
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"sort"
	"strings"
)

// Property keys used by the broker.
const (
	PropKeys            = "KEYS"
	PropTags            = "TAGS"
	PropWaitStoreOK     = "WAIT"
	PropDelayLevel      = "DELAY"
	PropRetryTopic      = "RETRY_TOPIC"
	PropRealTopic       = "REAL_TOPIC"
	PropRealQueueID     = "REAL_QID"
	PropTransPrepared   = "TRAN_MSG"
	PropProducerGroup   = "PGROUP"
	PropUniqKey         = "UNIQ_KEY"
	PropOriginMessageID = "ORIGIN_MESSAGE_ID"
	PropReconsumeTime   = "RECONSUME_TIME"
	PropMaxReconsume    = "MAX_RECONSUME_TIMES"
	PropCluster         = "CLUSTER"
	PropMsgRegion       = "MSG_REGION"
	PropTraceSwitch     = "TRACE_ON"
	PropTimerDeliverMS  = "TIMER_DELIVER_MS"
)

// Separators of the property string.
const (
	NameValueSep = '\x01'
	PropertySep  = '\x02'
)

// MaxPropertiesLength is the largest encoded property string (int16 length).
const MaxPropertiesLength = 32767

// Sys flags.
const (
	SysFlagCompressed    = 0x1
	SysFlagMultiTags     = 0x2
	SysFlagTransPrepared = 0x4
	SysFlagTransCommit   = 0x8
	SysFlagTransRollback = 0xC
	SysFlagTransMask     = 0xC
	SysFlagBornHostV6    = 0x10
	SysFlagStoreHostV6   = 0x20
)

// Errors.
var (
	ErrShortRecord = errors.New("message: record truncated")
	ErrBadBatch    = errors.New("message: malformed batch body")
	ErrBadMsgID    = errors.New("message: malformed offset message id")
)

// ParseProperties decodes "k\x01v\x02k\x01v\x02" (segments without exactly one separator or with
// an empty key are dropped).
func ParseProperties(s string) map[string]string {
	m := make(map[string]string)
	for _, seg := range strings.Split(s, string(PropertySep)) {
		k, v, ok := strings.Cut(seg, string(NameValueSep))
		if !ok || k == "" {
			continue
		}
		m[k] = v
	}
	return m
}

// FormatProperties encodes m with sorted keys (deterministic output).
func FormatProperties(m map[string]string) string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var b strings.Builder
	for _, k := range keys {
		b.WriteString(k)
		b.WriteByte(NameValueSep)
		b.WriteString(m[k])
		b.WriteByte(PropertySep)
	}
	return b.String()
}

// Record is a decoded stored message (§6.1 layout). Body is a sub-slice of the input.
type Record struct {
	TotalSize      int32
	BodyCRC        int32
	QueueID        int32
	Flag           int32
	QueueOffset    int64
	PhysicalOffset int64
	SysFlag        int32
	BornTimestamp  int64
	BornHost       *net.TCPAddr
	StoreTimestamp int64
	StoreHost      *net.TCPAddr
	ReconsumeTimes int32
	PreparedTxOff  int64
	Body           []byte
	Topic          string
	Properties     string
}

// DecodeRecord decodes one record at the start of b.
func DecodeRecord(b []byte) (Record, error) {
	var r Record
	if len(b) < 20 {
		return r, ErrShortRecord
	}
	r.TotalSize = int32(binary.BigEndian.Uint32(b[0:]))
	if int(r.TotalSize) > len(b) || r.TotalSize < 20 {
		return r, fmt.Errorf("%w: total size %d, have %d", ErrShortRecord, r.TotalSize, len(b))
	}
	b = b[:r.TotalSize]
	p := 8
	need := func(n int) error {
		if p+n > len(b) {
			return fmt.Errorf("%w at byte %d", ErrShortRecord, p)
		}
		return nil
	}
	i32 := func() int32 { v := int32(binary.BigEndian.Uint32(b[p:])); p += 4; return v }
	i64 := func() int64 { v := int64(binary.BigEndian.Uint64(b[p:])); p += 8; return v }
	if err := need(28 + 8); err != nil {
		return r, err
	}
	r.BodyCRC, r.QueueID, r.Flag = i32(), i32(), i32()
	r.QueueOffset, r.PhysicalOffset = i64(), i64()
	r.SysFlag = i32()
	r.BornTimestamp = i64()
	host := func(v6 bool) (*net.TCPAddr, error) {
		n := 4
		if v6 {
			n = 16
		}
		if err := need(n + 4); err != nil {
			return nil, err
		}
		ip := net.IP(append([]byte(nil), b[p:p+n]...))
		p += n
		return &net.TCPAddr{IP: ip, Port: int(i32())}, nil
	}
	var err error
	if r.BornHost, err = host(r.SysFlag&SysFlagBornHostV6 != 0); err != nil {
		return r, err
	}
	if err := need(8); err != nil {
		return r, err
	}
	r.StoreTimestamp = i64()
	if r.StoreHost, err = host(r.SysFlag&SysFlagStoreHostV6 != 0); err != nil {
		return r, err
	}
	if err := need(4 + 8 + 4); err != nil {
		return r, err
	}
	r.ReconsumeTimes = i32()
	r.PreparedTxOff = i64()
	bodyLen := int(i32())
	if bodyLen < 0 {
		return r, fmt.Errorf("%w: negative body length", ErrShortRecord)
	}
	if err := need(bodyLen + 1); err != nil {
		return r, err
	}
	r.Body = b[p : p+bodyLen]
	p += bodyLen
	tl := int(b[p])
	p++
	if err := need(tl + 2); err != nil {
		return r, err
	}
	r.Topic = string(b[p : p+tl])
	p += tl
	pl := int(binary.BigEndian.Uint16(b[p:]))
	p += 2
	if err := need(pl); err != nil {
		return r, err
	}
	r.Properties = string(b[p : p+pl])
	return r, nil
}

// BatchItem is one message of a SEND_BATCH_MESSAGE body.
type BatchItem struct {
	Flag       int32
	Body       []byte
	Properties string
}

// DecodeBatch splits a batch body (§6.7) into its messages.
func DecodeBatch(b []byte) ([]BatchItem, error) {
	var out []BatchItem
	for p := 0; p < len(b); {
		if len(b)-p < 20 {
			return nil, fmt.Errorf("%w: %d trailing bytes", ErrBadBatch, len(b)-p)
		}
		total := int(int32(binary.BigEndian.Uint32(b[p:])))
		if total < 22 || p+total > len(b) {
			return nil, fmt.Errorf("%w: item size %d at byte %d", ErrBadBatch, total, p)
		}
		item := b[p : p+total]
		flag := int32(binary.BigEndian.Uint32(item[12:]))
		bodyLen := int(int32(binary.BigEndian.Uint32(item[16:])))
		if bodyLen < 0 || 20+bodyLen+2 > total {
			return nil, fmt.Errorf("%w: body length %d at byte %d", ErrBadBatch, bodyLen, p)
		}
		body := item[20 : 20+bodyLen]
		propLen := int(binary.BigEndian.Uint16(item[20+bodyLen:]))
		if 22+bodyLen+propLen != total {
			return nil, fmt.Errorf("%w: properties length %d at byte %d", ErrBadBatch, propLen, p)
		}
		props := string(item[22+bodyLen:])
		out = append(out, BatchItem{Flag: flag, Body: body, Properties: props})
		p += total
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("%w: empty batch", ErrBadBatch)
	}
	return out, nil
}

// EncodeBatch is the inverse of DecodeBatch (used by tests and tools).
func EncodeBatch(items []BatchItem) []byte {
	var out []byte
	for _, it := range items {
		total := 20 + len(it.Body) + 2 + len(it.Properties)
		out = binary.BigEndian.AppendUint32(out, uint32(total))
		out = binary.BigEndian.AppendUint32(out, 0)
		out = binary.BigEndian.AppendUint32(out, 0)
		out = binary.BigEndian.AppendUint32(out, uint32(it.Flag))
		out = binary.BigEndian.AppendUint32(out, uint32(len(it.Body)))
		out = append(out, it.Body...)
		out = binary.BigEndian.AppendUint16(out, uint16(len(it.Properties)))
		out = append(out, it.Properties...)
	}
	return out
}

// OffsetMsgID builds the offsetMsgId of a record stored at physOffset on storeHost (§6.5).
func OffsetMsgID(storeHost *net.TCPAddr, physOffset int64) string {
	ip := storeHost.IP.To4()
	if ip == nil {
		ip = storeHost.IP.To16()
	}
	b := make([]byte, 0, len(ip)+12)
	b = append(b, ip...)
	b = binary.BigEndian.AppendUint32(b, uint32(storeHost.Port))
	b = binary.BigEndian.AppendUint64(b, uint64(physOffset))
	return strings.ToUpper(hex.EncodeToString(b))
}

// ParseOffsetMsgID decodes an offsetMsgId into the store address and commitlog offset.
func ParseOffsetMsgID(id string) (*net.TCPAddr, int64, error) {
	if len(id) != 32 && len(id) != 56 {
		return nil, 0, fmt.Errorf("%w: length %d", ErrBadMsgID, len(id))
	}
	b, err := hex.DecodeString(id)
	if err != nil {
		return nil, 0, fmt.Errorf("%w: %v", ErrBadMsgID, err)
	}
	n := len(b) - 12
	addr := &net.TCPAddr{IP: net.IP(b[:n]), Port: int(binary.BigEndian.Uint32(b[n:]))}
	return addr, int64(binary.BigEndian.Uint64(b[n+4:])), nil
}
