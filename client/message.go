package client

import (
	"slices"
	"strconv"
	"strings"
)

// Well-known message property keys (rocketmq-protocol.md §6.4).
const (
	PropertyKeys          = "KEYS"
	PropertyTags          = "TAGS"
	PropertyWaitStoreMsg  = "WAIT"
	PropertyDelayLevel    = "DELAY"
	PropertyUniqClientKey = "UNIQ_KEY"
	PropertyMinOffset     = "MIN_OFFSET"
	PropertyMaxOffset     = "MAX_OFFSET"
	PropertyCluster       = "CLUSTER"
	PropertyRetryTopic    = "RETRY_TOPIC"
	PropertyRealTopic     = "REAL_TOPIC"
	PropertyRealQueueID   = "REAL_QID"
	PropertyTransaction   = "TRAN_MSG"
	PropertyProducerGroup = "PGROUP"
)

// Property string separators (§6.3): key 0x01 value 0x02, repeated.
const (
	nameValueSeparator = '\x01'
	propertySeparator  = '\x02'
)

// MaxPropertiesLength is the largest encoded property string the wire format can carry (int16 length).
const MaxPropertiesLength = 32767

// Message is a message to send. Topic and Body are required; Properties carries tags, keys and any user
// properties (keys and values must not contain the bytes 0x01 or 0x02).
type Message struct {
	Topic      string
	Body       []byte
	Flag       int32
	Properties map[string]string
}

// NewMessage returns a message for topic with body.
func NewMessage(topic string, body []byte) *Message {
	return &Message{Topic: topic, Body: body}
}

// Property returns the value of property key ("" when absent).
func (m *Message) Property(key string) string {
	if m.Properties == nil {
		return ""
	}
	return m.Properties[key]
}

// SetProperty sets property key to value.
func (m *Message) SetProperty(key, value string) *Message {
	if m.Properties == nil {
		m.Properties = make(map[string]string, 4)
	}
	m.Properties[key] = value
	return m
}

// WithTag sets the message tag (property TAGS).
func (m *Message) WithTag(tag string) *Message { return m.SetProperty(PropertyTags, tag) }

// WithKeys sets the business keys (property KEYS, space separated), which brokers index for
// QUERY_MESSAGE.
func (m *Message) WithKeys(keys ...string) *Message {
	return m.SetProperty(PropertyKeys, strings.Join(keys, " "))
}

// Tag returns the message tag.
func (m *Message) Tag() string { return m.Property(PropertyTags) }

// Keys returns the business keys.
func (m *Message) Keys() []string { return strings.Fields(m.Property(PropertyKeys)) }

// UniqKey returns the client-generated unique id (property UNIQ_KEY), if any.
func (m *Message) UniqKey() string { return m.Property(PropertyUniqClientKey) }

// MessageExt is a message as stored by a broker and returned by pulls and queries (§6.1).
type MessageExt struct {
	Message
	StoreSize                 int32
	BodyCRC                   int32
	QueueID                   int32
	QueueOffset               int64
	CommitLogOffset           int64
	SysFlag                   int32
	BornTimestamp             int64 // ms since the epoch, producer clock
	BornHost                  string
	StoreTimestamp            int64 // ms since the epoch, broker clock
	StoreHost                 string
	ReconsumeTimes            int32
	PreparedTransactionOffset int64
	// OffsetMsgID is the broker-derived id: hex(store IP, store port, commit-log offset) (§6.5).
	OffsetMsgID string
	// MsgID is UNIQ_KEY when the producer set one, else OffsetMsgID.
	MsgID string
}

// EncodeProperties renders properties in the wire form "k\x01v\x02..." with keys sorted, so the
// output is deterministic. Empty keys or values are skipped (peers drop them anyway).
func EncodeProperties(props map[string]string) string {
	return encodePropertiesWith(props, "", "")
}

// encodePropertiesWith is EncodeProperties of props plus the property extraKey=extraValue
// (which replaces a property of that key; an empty extraKey adds nothing), without copying
// props.
func encodePropertiesWith(props map[string]string, extraKey, extraValue string) string {
	type kv struct{ k, v string }
	var arr [16]kv
	pairs := arr[:0]
	n := 0
	for k, v := range props {
		if k == "" || v == "" || (extraKey != "" && k == extraKey) {
			continue
		}
		pairs = append(pairs, kv{k, v})
		n += len(k) + len(v) + 2
	}
	if extraKey != "" && extraValue != "" {
		pairs = append(pairs, kv{extraKey, extraValue})
		n += len(extraKey) + len(extraValue) + 2
	}
	if len(pairs) == 0 {
		return ""
	}
	slices.SortFunc(pairs, func(a, b kv) int { return strings.Compare(a.k, b.k) })
	b := make([]byte, 0, n)
	for _, p := range pairs {
		b = append(b, p.k...)
		b = append(b, nameValueSeparator)
		b = append(b, p.v...)
		b = append(b, propertySeparator)
	}
	return string(b)
}

// DecodeProperties parses the wire form of a property string. Segments without exactly one separator
// between a non-empty key and value are ignored, as the reference clients do.
func DecodeProperties(s string) map[string]string {
	if s == "" {
		return nil
	}
	props := make(map[string]string, 4)
	for len(s) > 0 {
		var seg string
		if i := strings.IndexByte(s, propertySeparator); i >= 0 {
			seg, s = s[:i], s[i+1:]
		} else {
			seg, s = s, ""
		}
		k, v, ok := strings.Cut(seg, string(nameValueSeparator))
		if !ok || k == "" || v == "" || strings.IndexByte(v, nameValueSeparator) >= 0 {
			continue
		}
		props[k] = v
	}
	return props
}

// validateProperties reports keys or values that would corrupt the property encoding.
func validateProperties(props map[string]string) error {
	for k, v := range props {
		if strings.ContainsAny(k, "\x01\x02") || strings.ContainsAny(v, "\x01\x02") {
			return &InvalidMessageError{Reason: "property " + strconv.Quote(k) + " contains a 0x01/0x02 separator byte"}
		}
	}
	return nil
}
