package protocol

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
// SEND_MESSAGE_V2 / SEND_BATCH_MESSAGE a..n form.
func DecodeSendMessageHeader(ext map[string]string, shortNames bool) (SendMessageRequestHeader, error) {
	var h SendMessageRequestHeader
	if shortNames {
		full := make(map[string]string, len(ext))
		for k, v := range ext {
			if n, ok := sendV2Names[k]; ok {
				full[n] = v
			} else {
				full[k] = v
			}
		}
		ext = full
	}
	if err := DecodeHeader(ext, &h); err != nil {
		return h, err
	}
	_, h.HasMaxReconsumeTimes = ext["maxReconsumeTimes"]
	return h, nil
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
