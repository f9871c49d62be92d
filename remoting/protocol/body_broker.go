package protocol

// Broker request and response bodies (JSON), shared by the broker and the admin client.
//
// These are the contract for the broker's admin and client request codes:
//
//	HEART_BEAT (34)                       request  HeartbeatData
//	GET_CONSUMER_LIST_BY_GROUP (38)       response ConsumerListBody
//	LOCK_BATCH_MQ (41)                    request  LockBatchRequestBody, response LockBatchResponseBody
//	UNLOCK_BATCH_MQ (42)                  request  LockBatchRequestBody
//	GET_BROKER_RUNTIME_INFO (28)          response KVTable ({"table":{k:v}}; keys in docs/broker.md)
//	GET_TOPIC_STATS_INFO (202)            response TopicStatsTable (fastjson object-keyed map)
//	GET_CONSUME_STATS (208)               response ConsumeStats (fastjson object-keyed map)
//	UPDATE_AND_CREATE_SUBSCRIPTIONGROUP (200) request SubscriptionGroupConfig
//	GET_ALL_SUBSCRIPTIONGROUP_CONFIG (201) response SubscriptionGroupWrapper
//	GET_CONSUMER_CONNECTION_LIST (203)    response ConsumerConnection
//	GET_PRODUCER_CONNECTION_LIST (204)    response ProducerConnection
//	QUERY_TOPIC_CONSUME_BY_WHO (300)      response GroupList
//	GET_ALL_CONSUMER_OFFSET (43)          response ConsumerOffsetWrapper
//
// GET_ALL_TOPIC_CONFIG (21) answers with the TopicConfigSerializeWrapper that REGISTER_BROKER
// also carries (body_route.go).

import (
	"bytes"
	"encoding/json"
	"fmt"
	"sort"
	"strconv"
)

// BrokerMessageQueue identifies one queue of a topic on one broker. JSON field names match the
// Java and Go clients' MessageQueue.
type BrokerMessageQueue struct {
	Topic      string `json:"topic"`
	BrokerName string `json:"brokerName"`
	QueueID    int    `json:"queueId"`
}

// Less orders queues by topic, broker name, then queue id (the clients' allocation order).
func (q BrokerMessageQueue) Less(o BrokerMessageQueue) bool {
	if q.Topic != o.Topic {
		return q.Topic < o.Topic
	}
	if q.BrokerName != o.BrokerName {
		return q.BrokerName < o.BrokerName
	}
	return q.QueueID < o.QueueID
}

// HeartbeatData is the HEART_BEAT (34) request body.
type HeartbeatData struct {
	ClientID        string              `json:"clientID"`
	ProducerDataSet []HeartbeatProducer `json:"producerDataSet"`
	ConsumerDataSet []HeartbeatConsumer `json:"consumerDataSet"`
}

// HeartbeatProducer is one producer group of a heartbeat.
type HeartbeatProducer struct {
	GroupName string `json:"groupName"`
}

// HeartbeatConsumer is one consumer group of a heartbeat.
type HeartbeatConsumer struct {
	GroupName           string             `json:"groupName"`
	ConsumeType         string             `json:"consumeType"`      // CONSUME_PASSIVELY | CONSUME_ACTIVELY
	MessageModel        string             `json:"messageModel"`     // CLUSTERING | BROADCASTING
	ConsumeFromWhere    string             `json:"consumeFromWhere"` // CONSUME_FROM_LAST_OFFSET | ...
	SubscriptionDataSet []SubscriptionData `json:"subscriptionDataSet"`
	UnitMode            bool               `json:"unitMode"`
}

// Message models.
const (
	MessageModelClustering   = "CLUSTERING"
	MessageModelBroadcasting = "BROADCASTING"
)

// SubscriptionData is one topic subscription of a consumer group.
type SubscriptionData struct {
	ClassFilterMode bool     `json:"classFilterMode"`
	Topic           string   `json:"topic"`
	SubString       string   `json:"subString"`
	TagsSet         []string `json:"tagsSet"`
	// CodeSet holds tag hash codes. The Go client writes them as JSON strings, Java as numbers;
	// both decode. Brokers should recompute codes from TagsSet instead of trusting this.
	CodeSet        CodeSet `json:"codeSet"`
	SubVersion     int64   `json:"subVersion"`
	ExpressionType string  `json:"expressionType"`
}

// CodeSet is a list of int32 tag codes that accepts JSON strings or numbers.
type CodeSet []int32

// UnmarshalJSON accepts ["123","-4"] as well as [123,-4] (and null).
func (c *CodeSet) UnmarshalJSON(b []byte) error {
	var raw []json.RawMessage
	if err := json.Unmarshal(b, &raw); err != nil {
		return fmt.Errorf("codeSet: %w", err)
	}
	out := make(CodeSet, 0, len(raw))
	for _, r := range raw {
		s := string(bytes.TrimSpace(r))
		if len(s) >= 2 && s[0] == '"' {
			if err := json.Unmarshal(r, &s); err != nil {
				return fmt.Errorf("codeSet: %w", err)
			}
		}
		n, err := strconv.ParseInt(s, 10, 64)
		if err != nil {
			return fmt.Errorf("codeSet: element %q: %w", s, err)
		}
		out = append(out, int32(n))
	}
	*c = out
	return nil
}

// ConsumerListBody is the GET_CONSUMER_LIST_BY_GROUP (38) response body.
type ConsumerListBody struct {
	ConsumerIDList []string `json:"consumerIdList"`
}

// LockBatchRequestBody is the LOCK_BATCH_MQ (41) and UNLOCK_BATCH_MQ (42) request body.
type LockBatchRequestBody struct {
	ConsumerGroup  string               `json:"consumerGroup"`
	ClientID       string               `json:"clientId"`
	MQSet          []BrokerMessageQueue `json:"mqSet"`
	OnlyThisBroker bool                 `json:"onlyThisBroker,omitempty"`
}

// LockBatchResponseBody is the LOCK_BATCH_MQ (41) response body: the queues now held by the client.
type LockBatchResponseBody struct {
	LockOKMQSet []BrokerMessageQueue `json:"lockOKMQSet"`
}

// SubscriptionGroupConfig is a consumer group's broker-side configuration
// (subscriptionGroup.json; UPDATE_AND_CREATE_SUBSCRIPTIONGROUP body).
type SubscriptionGroupConfig struct {
	GroupName                      string `json:"groupName"`
	ConsumeEnable                  bool   `json:"consumeEnable"`
	ConsumeFromMinEnable           bool   `json:"consumeFromMinEnable"`
	ConsumeBroadcastEnable         bool   `json:"consumeBroadcastEnable"`
	RetryQueueNums                 int    `json:"retryQueueNums"`
	RetryMaxTimes                  int    `json:"retryMaxTimes"`
	BrokerID                       int64  `json:"brokerId"`
	WhichBrokerWhenConsumeSlowly   int64  `json:"whichBrokerWhenConsumeSlowly"`
	NotifyConsumerIdsChangedEnable bool   `json:"notifyConsumerIdsChangedEnable"`
}

// DefaultSubscriptionGroupConfig returns the Java defaults for a new group.
func DefaultSubscriptionGroupConfig(group string) SubscriptionGroupConfig {
	return SubscriptionGroupConfig{
		GroupName:                      group,
		ConsumeEnable:                  true,
		ConsumeFromMinEnable:           true,
		ConsumeBroadcastEnable:         true,
		RetryQueueNums:                 1,
		RetryMaxTimes:                  16,
		BrokerID:                       0,
		WhichBrokerWhenConsumeSlowly:   1,
		NotifyConsumerIdsChangedEnable: true,
	}
}

// UnmarshalJSON fills absent fields with the Java defaults, so a partial body such as
// {"groupName":"g"} creates a usable group.
func (c *SubscriptionGroupConfig) UnmarshalJSON(b []byte) error {
	type plain SubscriptionGroupConfig
	p := plain(DefaultSubscriptionGroupConfig(""))
	if err := json.Unmarshal(b, &p); err != nil {
		return err
	}
	*c = SubscriptionGroupConfig(p)
	return nil
}

// SubscriptionGroupWrapper is the GET_ALL_SUBSCRIPTIONGROUP_CONFIG (201) response body and the
// content of config/subscriptionGroup.json.
type SubscriptionGroupWrapper struct {
	SubscriptionGroupTable map[string]SubscriptionGroupConfig `json:"subscriptionGroupTable"`
	DataVersion            DataVersion                        `json:"dataVersion"`
}

// TopicOffset is one queue's offsets in GET_TOPIC_STATS_INFO.
type TopicOffset struct {
	MinOffset           int64 `json:"minOffset"`
	MaxOffset           int64 `json:"maxOffset"`
	LastUpdateTimestamp int64 `json:"lastUpdateTimestamp"`
}

// TopicStatsTable is the GET_TOPIC_STATS_INFO (202) response body. It is encoded in fastjson's
// object-keyed form ({"offsetTable":{{"brokerName":..,"queueId":..,"topic":..}:{...}}}), which is
// what mqadmin parses; use Encode/Decode (not encoding/json). Decode also reads a standard list form.
type TopicStatsTable struct {
	OffsetTable map[BrokerMessageQueue]TopicOffset
}

// OffsetWrapper is one queue's progress in GET_CONSUME_STATS.
type OffsetWrapper struct {
	BrokerOffset   int64 `json:"brokerOffset"`
	ConsumerOffset int64 `json:"consumerOffset"`
	LastTimestamp  int64 `json:"lastTimestamp"`
}

// ConsumeStats is the GET_CONSUME_STATS (208) response body, object-keyed like TopicStatsTable.
type ConsumeStats struct {
	OffsetTable map[BrokerMessageQueue]OffsetWrapper
	ConsumeTps  float64
}

// Connection is one client connection in connection lists.
type Connection struct {
	ClientID   string `json:"clientId"`
	ClientAddr string `json:"clientAddr"`
	Language   string `json:"language"`
	Version    int    `json:"version"`
}

// ConsumerConnection is the GET_CONSUMER_CONNECTION_LIST (203) response body.
type ConsumerConnection struct {
	ConnectionSet     []Connection                `json:"connectionSet"`
	SubscriptionTable map[string]SubscriptionData `json:"subscriptionTable"`
	ConsumeType       string                      `json:"consumeType"`
	MessageModel      string                      `json:"messageModel"`
	ConsumeFromWhere  string                      `json:"consumeFromWhere"`
}

// ProducerConnection is the GET_PRODUCER_CONNECTION_LIST (204) response body.
type ProducerConnection struct {
	ConnectionSet []Connection `json:"connectionSet"`
}

// GroupList is the QUERY_TOPIC_CONSUME_BY_WHO (300) response body.
type GroupList struct {
	GroupList []string `json:"groupList"`
}

// ConsumerOffsetWrapper is config/consumerOffset.json and the GET_ALL_CONSUMER_OFFSET (43)
// response body: "topic@group" → queueId → next offset to consume.
type ConsumerOffsetWrapper struct {
	OffsetTable map[string]map[int]int64 `json:"offsetTable"`
}

// ---- fastjson object-keyed maps ----

type mqEntry[V any] struct {
	Q BrokerMessageQueue
	V V
}

// marshalMQMap writes {"<field>":{<mq-object>:<value>,...}<extra>} with keys sorted.
func marshalMQMap[V any](field string, m map[BrokerMessageQueue]V, extra string) ([]byte, error) {
	entries := make([]mqEntry[V], 0, len(m))
	for q, v := range m {
		entries = append(entries, mqEntry[V]{q, v})
	}
	sort.Slice(entries, func(i, j int) bool { return entries[i].Q.Less(entries[j].Q) })
	var buf bytes.Buffer
	buf.WriteString(`{"`)
	buf.WriteString(field)
	buf.WriteString(`":{`)
	for i, e := range entries {
		if i > 0 {
			buf.WriteByte(',')
		}
		// fastjson writes keys alphabetically: brokerName, queueId, topic.
		k, err := json.Marshal(struct {
			BrokerName string `json:"brokerName"`
			QueueID    int    `json:"queueId"`
			Topic      string `json:"topic"`
		}{e.Q.BrokerName, e.Q.QueueID, e.Q.Topic})
		if err != nil {
			return nil, err
		}
		v, err := json.Marshal(e.V)
		if err != nil {
			return nil, err
		}
		buf.Write(k)
		buf.WriteByte(':')
		buf.Write(v)
	}
	buf.WriteByte('}')
	buf.WriteString(extra)
	buf.WriteByte('}')
	return buf.Bytes(), nil
}

// parseMQMap reads an object-keyed map `{ {mq}:v, ... }` (fastjson) or a standard JSON array of
// {"key":mq,"value":v} / an empty object.
func parseMQMap[V any](data []byte) (map[BrokerMessageQueue]V, error) {
	out := make(map[BrokerMessageQueue]V)
	data = bytes.TrimSpace(data)
	if len(data) == 0 || string(data) == "null" {
		return out, nil
	}
	if data[0] == '[' {
		var list []struct {
			Key   BrokerMessageQueue `json:"key"`
			Value V                  `json:"value"`
		}
		if err := json.Unmarshal(data, &list); err != nil {
			return nil, err
		}
		for _, e := range list {
			out[e.Key] = e.Value
		}
		return out, nil
	}
	if data[0] != '{' {
		return nil, fmt.Errorf("object-keyed map: want '{', got %q", data[0])
	}
	i := 1
	for {
		i = skipSpace(data, i)
		if i >= len(data) {
			return nil, fmt.Errorf("object-keyed map: unexpected end")
		}
		if data[i] == '}' {
			return out, nil
		}
		if data[i] == ',' {
			i++
			continue
		}
		var key BrokerMessageQueue
		n, err := decodeOne(data[i:], &key)
		if err != nil {
			return nil, fmt.Errorf("object-keyed map: key: %w", err)
		}
		i = skipSpace(data, i+n)
		if i >= len(data) || data[i] != ':' {
			return nil, fmt.Errorf("object-keyed map: want ':' at byte %d", i)
		}
		i++
		var v V
		n, err = decodeOne(data[i:], &v)
		if err != nil {
			return nil, fmt.Errorf("object-keyed map: value: %w", err)
		}
		i += n
		out[key] = v
	}
}

func skipSpace(b []byte, i int) int {
	for i < len(b) && (b[i] == ' ' || b[i] == '\n' || b[i] == '\r' || b[i] == '\t') {
		i++
	}
	return i
}

// decodeOne decodes the first JSON value of b into v and returns the bytes consumed. A key
// written as a JSON string holding an object ("{\"topic\":..}") is accepted too.
func decodeOne(b []byte, v any) (int, error) {
	dec := json.NewDecoder(bytes.NewReader(b))
	var raw json.RawMessage
	if err := dec.Decode(&raw); err != nil {
		return 0, err
	}
	n := int(dec.InputOffset())
	if len(raw) > 0 && raw[0] == '"' {
		if _, isMQ := v.(*BrokerMessageQueue); isMQ {
			var s string
			if err := json.Unmarshal(raw, &s); err != nil {
				return 0, err
			}
			raw = json.RawMessage(s)
		}
	}
	return n, json.Unmarshal(raw, v)
}

// splitTopLevel returns the raw values of a JSON object's top-level fields, tolerating
// object-keyed maps inside them.
func splitTopLevel(data []byte) (map[string][]byte, error) {
	out := make(map[string][]byte)
	data = bytes.TrimSpace(data)
	if len(data) == 0 || data[0] != '{' {
		return nil, fmt.Errorf("want a JSON object")
	}
	i := 1
	for {
		i = skipSpace(data, i)
		if i >= len(data) {
			return nil, fmt.Errorf("unexpected end of object")
		}
		switch data[i] {
		case '}':
			return out, nil
		case ',':
			i++
			continue
		}
		var name string
		n, err := decodeOne(data[i:], &name)
		if err != nil {
			return nil, fmt.Errorf("field name: %w", err)
		}
		i = skipSpace(data, i+n)
		if i >= len(data) || data[i] != ':' {
			return nil, fmt.Errorf("want ':' after %q", name)
		}
		i = skipSpace(data, i+1)
		end, err := valueEnd(data, i)
		if err != nil {
			return nil, fmt.Errorf("field %q: %w", name, err)
		}
		out[name] = data[i:end]
		i = end
	}
}

// valueEnd finds the end of the (possibly non-standard) JSON value starting at i by bracket
// matching outside strings.
func valueEnd(b []byte, i int) (int, error) {
	if i >= len(b) {
		return 0, fmt.Errorf("missing value")
	}
	switch b[i] {
	case '{', '[':
		depth := 0
		inStr := false
		for j := i; j < len(b); j++ {
			c := b[j]
			if inStr {
				if c == '\\' {
					j++
				} else if c == '"' {
					inStr = false
				}
				continue
			}
			switch c {
			case '"':
				inStr = true
			case '{', '[':
				depth++
			case '}', ']':
				depth--
				if depth == 0 {
					return j + 1, nil
				}
			}
		}
		return 0, fmt.Errorf("unterminated value")
	default:
		var raw json.RawMessage
		n, err := decodeOne(b[i:], &raw)
		if err != nil {
			return 0, err
		}
		return i + n, nil
	}
}

// Encode writes the fastjson object-keyed form. It is not valid standard JSON, so it cannot be
// produced or read through encoding/json; use Encode and Decode.
func (t TopicStatsTable) Encode() ([]byte, error) {
	return marshalMQMap("offsetTable", t.OffsetTable, "")
}

// Decode reads the fastjson object-keyed form (or a standard [{key,value}] list).
func (t *TopicStatsTable) Decode(b []byte) error {
	fields, err := splitTopLevel(b)
	if err != nil {
		return fmt.Errorf("TopicStatsTable: %w", err)
	}
	m, err := parseMQMap[TopicOffset](fields["offsetTable"])
	if err != nil {
		return fmt.Errorf("TopicStatsTable: %w", err)
	}
	t.OffsetTable = m
	return nil
}

// Encode writes the fastjson object-keyed form (see TopicStatsTable.Encode).
func (c ConsumeStats) Encode() ([]byte, error) {
	tps := strconv.FormatFloat(c.ConsumeTps, 'f', -1, 64)
	if !bytes.ContainsAny([]byte(tps), ".eE") {
		tps += ".0"
	}
	return marshalMQMap("offsetTable", c.OffsetTable, `,"consumeTps":`+tps)
}

// Decode reads the fastjson object-keyed form (or a standard [{key,value}] list).
func (c *ConsumeStats) Decode(b []byte) error {
	fields, err := splitTopLevel(b)
	if err != nil {
		return fmt.Errorf("ConsumeStats: %w", err)
	}
	m, err := parseMQMap[OffsetWrapper](fields["offsetTable"])
	if err != nil {
		return fmt.Errorf("ConsumeStats: %w", err)
	}
	c.OffsetTable = m
	c.ConsumeTps = 0
	if raw, ok := fields["consumeTps"]; ok {
		if err := json.Unmarshal(raw, &c.ConsumeTps); err != nil {
			return fmt.Errorf("ConsumeStats: consumeTps: %w", err)
		}
	}
	return nil
}
