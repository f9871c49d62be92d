package protocol

import (
	"fmt"
	"strconv"
	"strings"
)

// Typed extFields headers of the broker's request codes. Every struct field carries an
// `rmq:"name"` tag (append ",required" when Java's header marks it @CFNotNull). Use
// BrokerHeaderToExt to encode a header into extFields and BrokerHeaderFromExt to decode one.
// Supported field kinds: string, bool, int, int8..int64. Values travel as decimal strings.

// SendMessageRequestHeader is the SEND_MESSAGE (10) header. SEND_MESSAGE_V2 (310) and
// SEND_BATCH_MESSAGE (320) carry the same fields under the short names a..n; decode those with
// DecodeSendMessageHeader.
type SendMessageRequestHeader struct {
	ProducerGroup         string `rmq:"producerGroup,required"`
	Topic                 string `rmq:"topic,required"`
	DefaultTopic          string `rmq:"defaultTopic,required"`
	DefaultTopicQueueNums int    `rmq:"defaultTopicQueueNums,required"`
	QueueID               int    `rmq:"queueId,required"`
	SysFlag               int    `rmq:"sysFlag,required"`
	BornTimestamp         int64  `rmq:"bornTimestamp,required"`
	Flag                  int    `rmq:"flag,required"`
	Properties            string `rmq:"properties"`
	ReconsumeTimes        int    `rmq:"reconsumeTimes"`
	UnitMode              bool   `rmq:"unitMode"`
	MaxReconsumeTimes     int    `rmq:"maxReconsumeTimes"`
	Batch                 bool   `rmq:"batch"`
	BrokerName            string `rmq:"bname,omitempty"`
	// HasMaxReconsumeTimes reports whether maxReconsumeTimes was present (not encoded).
	HasMaxReconsumeTimes bool
}

// sendV2Names maps the SEND_MESSAGE_V2 short keys to the full names.
var sendV2Names = map[string]string{
	"a": "producerGroup", "b": "topic", "c": "defaultTopic", "d": "defaultTopicQueueNums",
	"e": "queueId", "f": "sysFlag", "g": "bornTimestamp", "h": "flag", "i": "properties",
	"j": "reconsumeTimes", "k": "unitMode", "l": "maxReconsumeTimes", "m": "batch", "n": "bname",
}

// DecodeSendMessageHeader decodes a SEND_MESSAGE header; with shortNames it decodes the
// SEND_MESSAGE_V2 / SEND_BATCH_MESSAGE a..n form (where a short key wins over its full name).
// It is the send path's hand-written equivalent of DecodeHeader (same presence, trimming and
// error rules; a test pins the two together): one map lookup per field, no reflection.
func DecodeSendMessageHeader(ext map[string]string, shortNames bool) (SendMessageRequestHeader, error) {
	var h SendMessageRequestHeader
	d := sendHeaderDecoder{ext: ext, short: shortNames}
	var ok bool
	if h.ProducerGroup, ok = d.lookup("a", "producerGroup"); !ok {
		return h, d.missing("producerGroup")
	}
	if h.Topic, ok = d.lookup("b", "topic"); !ok {
		return h, d.missing("topic")
	}
	if h.DefaultTopic, ok = d.lookup("c", "defaultTopic"); !ok {
		return h, d.missing("defaultTopic")
	}
	h.DefaultTopicQueueNums = int(d.int("d", "defaultTopicQueueNums", true))
	h.QueueID = int(d.int("e", "queueId", true))
	h.SysFlag = int(d.int("f", "sysFlag", true))
	h.BornTimestamp = d.int("g", "bornTimestamp", true)
	h.Flag = int(d.int("h", "flag", true))
	h.Properties, _ = d.lookup("i", "properties")
	h.ReconsumeTimes = int(d.int("j", "reconsumeTimes", false))
	h.UnitMode = d.bool("k", "unitMode")
	h.MaxReconsumeTimes = int(d.int("l", "maxReconsumeTimes", false))
	h.Batch = d.bool("m", "batch")
	h.BrokerName, _ = d.lookup("n", "bname")
	_, h.HasMaxReconsumeTimes = d.lookup("l", "maxReconsumeTimes")
	return h, d.err
}

// sendHeaderDecoder reads SendMessageRequestHeader fields by short or full name and keeps
// the first error, in field order, as DecodeHeader reports it.
type sendHeaderDecoder struct {
	ext   map[string]string
	short bool
	err   error
}

func (d *sendHeaderDecoder) lookup(short, full string) (string, bool) {
	if d.short {
		if v, ok := d.ext[short]; ok {
			return v, true
		}
	}
	v, ok := d.ext[full]
	return v, ok
}

func (d *sendHeaderDecoder) missing(full string) error {
	if d.err == nil {
		d.err = newErr(ErrMissingField, fmt.Sprintf("protocol: decode SendMessageRequestHeader: missing required field %q", full))
	}
	return d.err
}

func (d *sendHeaderDecoder) int(short, full string, required bool) int64 {
	if d.err != nil {
		return 0
	}
	s, _ := d.lookup(short, full)
	if s == "" {
		if required {
			d.missing(full)
		}
		return 0
	}
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil {
		n, err = strconv.ParseInt(strings.TrimSpace(s), 10, 64)
	}
	if err != nil {
		d.err = newErr(ErrBadField, fmt.Sprintf("protocol: decode SendMessageRequestHeader: field %q: %q is not an int64", full, s))
		return 0
	}
	return n
}

func (d *sendHeaderDecoder) bool(short, full string) bool {
	s, _ := d.lookup(short, full)
	if s == "true" {
		return true
	}
	return s != "" && strings.EqualFold(strings.TrimSpace(s), "true")
}

// EncodeSendMessageHeaderV2 encodes h with the short a..n keys (SEND_MESSAGE_V2 / SEND_BATCH_MESSAGE).
func EncodeSendMessageHeaderV2(h SendMessageRequestHeader) map[string]string {
	full := mustEncodeHeader(h)
	out := make(map[string]string, len(full))
	for short, name := range sendV2Names {
		if v, ok := full[name]; ok {
			out[short] = v
		}
	}
	return out
}

// SendMessageResponseHeader is the send response header (codes 0, 10, 11, 12).
type SendMessageResponseHeader struct {
	MsgID         string `rmq:"msgId"`
	QueueID       int    `rmq:"queueId"`
	QueueOffset   int64  `rmq:"queueOffset"`
	TransactionID string `rmq:"transactionId"`
	MsgRegion     string `rmq:"MSG_REGION"`
	TraceOn       string `rmq:"TRACE_ON"`
}

// ExtList encodes h as EncodeHeader does (every field, decimal integers), without reflection
// or a map, in key order (so the frame is byte for byte the one ExtFields would give): the
// send path answers every message with one.
func (h *SendMessageResponseHeader) ExtList() []ExtPair {
	return []ExtPair{
		{"MSG_REGION", h.MsgRegion},
		{"TRACE_ON", h.TraceOn},
		{"msgId", h.MsgID},
		{"queueId", strconv.Itoa(h.QueueID)},
		{"queueOffset", strconv.FormatInt(h.QueueOffset, 10)},
		{"transactionId", h.TransactionID},
	}
}

// PullMessageRequestHeader is the PULL_MESSAGE (11) header.
type PullMessageRequestHeader struct {
	ConsumerGroup        string `rmq:"consumerGroup,required"`
	Topic                string `rmq:"topic,required"`
	QueueID              int    `rmq:"queueId,required"`
	QueueOffset          int64  `rmq:"queueOffset,required"`
	MaxMsgNums           int    `rmq:"maxMsgNums,required"`
	SysFlag              int    `rmq:"sysFlag,required"`
	CommitOffset         int64  `rmq:"commitOffset,required"`
	SuspendTimeoutMillis int64  `rmq:"suspendTimeoutMillis,required"`
	Subscription         string `rmq:"subscription"`
	SubVersion           int64  `rmq:"subVersion,required"`
	ExpressionType       string `rmq:"expressionType"`
	MaxMsgBytes          int    `rmq:"maxMsgBytes"`
	BrokerName           string `rmq:"bname"`
}

// PullSysFlag bits.
const (
	PullFlagCommitOffset = 0x1
	PullFlagSuspend      = 0x2
	PullFlagSubscription = 0x4
	PullFlagClassFilter  = 0x8
	PullFlagLitePull     = 0x10
)

// PullMessageResponseHeader is the PULL_MESSAGE response header; all four fields are always sent.
type PullMessageResponseHeader struct {
	SuggestWhichBrokerID int64 `rmq:"suggestWhichBrokerId"`
	NextBeginOffset      int64 `rmq:"nextBeginOffset"`
	MinOffset            int64 `rmq:"minOffset"`
	MaxOffset            int64 `rmq:"maxOffset"`
}

// QueryConsumerOffsetRequestHeader is the QUERY_CONSUMER_OFFSET (14) header.
type QueryConsumerOffsetRequestHeader struct {
	ConsumerGroup     string `rmq:"consumerGroup,required"`
	Topic             string `rmq:"topic,required"`
	QueueID           int    `rmq:"queueId,required"`
	SetZeroIfNotFound bool   `rmq:"setZeroIfNotFound"`
	BrokerName        string `rmq:"bname"`
}

// UpdateConsumerOffsetRequestHeader is the UPDATE_CONSUMER_OFFSET (15) header.
type UpdateConsumerOffsetRequestHeader struct {
	ConsumerGroup string `rmq:"consumerGroup,required"`
	Topic         string `rmq:"topic,required"`
	QueueID       int    `rmq:"queueId,required"`
	CommitOffset  int64  `rmq:"commitOffset,required"`
	BrokerName    string `rmq:"bname"`
}

// OffsetResponseHeader carries `offset` (QUERY_CONSUMER_OFFSET, GET_MAX_OFFSET, GET_MIN_OFFSET,
// SEARCH_OFFSET_BY_TIMESTAMP responses).
type OffsetResponseHeader struct {
	Offset int64 `rmq:"offset"`
}

// QueueRequestHeader is the header of GET_MAX_OFFSET (30), GET_MIN_OFFSET (31) and
// GET_EARLIEST_MSG_STORETIME (32).
type QueueRequestHeader struct {
	Topic      string `rmq:"topic,required"`
	QueueID    int    `rmq:"queueId,required"`
	BrokerName string `rmq:"bname"`
}

// SearchOffsetRequestHeader is the SEARCH_OFFSET_BY_TIMESTAMP (29) header.
type SearchOffsetRequestHeader struct {
	Topic        string `rmq:"topic,required"`
	QueueID      int    `rmq:"queueId,required"`
	Timestamp    int64  `rmq:"timestamp,required"`
	BoundaryType string `rmq:"boundaryType"`
	BrokerName   string `rmq:"bname"`
}

// EarliestMsgStoretimeResponseHeader is the GET_EARLIEST_MSG_STORETIME response header.
type EarliestMsgStoretimeResponseHeader struct {
	Timestamp int64 `rmq:"timestamp"`
}

// ConsumerSendMsgBackRequestHeader is the CONSUMER_SEND_MSG_BACK (36) header.
type ConsumerSendMsgBackRequestHeader struct {
	Offset            int64  `rmq:"offset,required"`
	Group             string `rmq:"group,required"`
	DelayLevel        int    `rmq:"delayLevel,required"`
	OriginMsgID       string `rmq:"originMsgId"`
	OriginTopic       string `rmq:"originTopic"`
	UnitMode          bool   `rmq:"unitMode"`
	MaxReconsumeTimes *int   `rmq:"maxReconsumeTimes"` // nil = absent (use the group's retryMaxTimes)
	BrokerName        string `rmq:"bname,omitempty"`
}

// ConsumerGroupRequestHeader carries `consumerGroup` (GET_CONSUMER_LIST_BY_GROUP (38),
// GET_CONSUMER_CONNECTION_LIST (203), NOTIFY_CONSUMER_IDS_CHANGED (40)).
type ConsumerGroupRequestHeader struct {
	ConsumerGroup string `rmq:"consumerGroup,required"`
}

// ProducerGroupRequestHeader carries `producerGroup` (GET_PRODUCER_CONNECTION_LIST (204)).
type ProducerGroupRequestHeader struct {
	ProducerGroup string `rmq:"producerGroup,required"`
}

// UnregisterClientRequestHeader is the UNREGISTER_CLIENT (35) header.
type UnregisterClientRequestHeader struct {
	ClientID      string `rmq:"clientID,required"`
	ProducerGroup string `rmq:"producerGroup"`
	ConsumerGroup string `rmq:"consumerGroup"`
}

// CreateTopicRequestHeader is the UPDATE_AND_CREATE_TOPIC (17) header.
type CreateTopicRequestHeader struct {
	Topic           string `rmq:"topic,required"`
	DefaultTopic    string `rmq:"defaultTopic"`
	ReadQueueNums   int    `rmq:"readQueueNums,required"`
	WriteQueueNums  int    `rmq:"writeQueueNums,required"`
	Perm            int    `rmq:"perm,required"`
	TopicFilterType string `rmq:"topicFilterType,required"`
	TopicSysFlag    int    `rmq:"topicSysFlag"`
	Order           bool   `rmq:"order"`
}

// TopicRequestHeader carries `topic` (DELETE_TOPIC_IN_BROKER (215), GET_TOPIC_STATS_INFO (202),
// QUERY_TOPIC_CONSUME_BY_WHO (300)).
type TopicRequestHeader struct {
	Topic string `rmq:"topic,required"`
}

// GetConsumeStatsRequestHeader is the GET_CONSUME_STATS (208) header; Topic may be empty (all).
type GetConsumeStatsRequestHeader struct {
	ConsumerGroup string `rmq:"consumerGroup,required"`
	Topic         string `rmq:"topic"`
}

// DeleteSubscriptionGroupRequestHeader is the DELETE_SUBSCRIPTIONGROUP (207) header.
type DeleteSubscriptionGroupRequestHeader struct {
	GroupName   string `rmq:"groupName,required"`
	CleanOffset bool   `rmq:"cleanOffset"`
}

// GetBrokerConfigResponseHeader is the GET_BROKER_CONFIG (26) response header.
type GetBrokerConfigResponseHeader struct {
	Version string `rmq:"version"`
}

// QueryMessageRequestHeader is the QUERY_MESSAGE (12) header. Set extField
// `_UNIQUE_KEY_QUERY`="true" to query by UNIQ_KEY.
type QueryMessageRequestHeader struct {
	Topic          string `rmq:"topic,required"`
	Key            string `rmq:"key,required"`
	MaxNum         int    `rmq:"maxNum,required"`
	BeginTimestamp int64  `rmq:"beginTimestamp,required"`
	EndTimestamp   int64  `rmq:"endTimestamp,required"`
}

// QueryMessageResponseHeader is the QUERY_MESSAGE response header.
type QueryMessageResponseHeader struct {
	IndexLastUpdateTimestamp int64 `rmq:"indexLastUpdateTimestamp"`
	IndexLastUpdatePhyoffset int64 `rmq:"indexLastUpdatePhyoffset"`
}

// ViewMessageRequestHeader is the VIEW_MESSAGE_BY_ID (33) header (commitlog offset).
type ViewMessageRequestHeader struct {
	Offset int64  `rmq:"offset,required"`
	Topic  string `rmq:"topic"`
}
