package protocol

// Route, cluster and registration bodies (JSON), shared by the nameserver, the broker and
// the admin client (reference §3 and §5).
//
//	REGISTER_BROKER (103)                    request  RegisterBrokerBody (EncodeRegisterBrokerBody)
//	                                         response KVTable (ORDER_TOPIC_CONFIG) or none
//	GET_ROUTEINFO_BY_TOPIC (105)             response TopicRouteData
//	GET_BROKER_CLUSTER_INFO (106)            response ClusterInfo
//	GET_ALL_TOPIC_LIST_FROM_NAMESERVER (206) response TopicList (also 224, 304, 311-313)
//	GET_KVLIST_BY_NAMESPACE (219)            response KVTable
//	QUERY_DATA_VERSION (322)                 request and response DataVersion
//	GET_ALL_TOPIC_CONFIG (21)                response TopicConfigSerializeWrapper

import (
	"bytes"
	"compress/zlib"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"slices"
	"strconv"
	"strings"
)

// Permission bits of topics, queues and brokers (PermName).
const (
	PermPriority = 0x1 << 3
	PermRead     = 0x1 << 2
	PermWrite    = 0x1 << 1
	PermInherit  = 0x1 << 0
)

// PermString renders perm like Java's PermName.perm2String ("RW-", "R--").
func PermString(perm int) string {
	b := []byte("---")
	if perm&PermRead != 0 {
		b[0] = 'R'
	}
	if perm&PermWrite != 0 {
		b[1] = 'W'
	}
	if perm&PermInherit != 0 {
		b[2] = 'X'
	}
	return string(b)
}

// Topic filter types (TopicConfig.TopicFilterType).
const (
	TopicFilterSingleTag = "SINGLE_TAG"
	TopicFilterMultiTag  = "MULTI_TAG"
)

// Topic sys-flag bits (TopicSysFlag).
const (
	TopicSysFlagUnit    = 0x1 << 0
	TopicSysFlagUnitSub = 0x1 << 1
)

// Well-known names.
const (
	// DefaultTopic (TBW102) is the auto-create template topic; brokers register it with perm 7.
	DefaultTopic = "TBW102"
	// DefaultCluster is the default broker cluster name.
	DefaultCluster = "DefaultCluster"
	// MasterID is the brokerId of a master.
	MasterID = 0
	// NamespaceOrderTopicConfig is the KV namespace whose values become orderTopicConf.
	NamespaceOrderTopicConfig = "ORDER_TOPIC_CONFIG"
)

// MaskedCRC32 is Java's UtilAll.crc32: CRC-32 (IEEE) masked with 0x7FFFFFFF, so it is never
// negative. Used for REGISTER_BROKER bodyCrc32 and the BODYCRC of stored messages.
func MaskedCRC32(b []byte) int32 {
	return int32(crc32.ChecksumIEEE(b) & 0x7FFFFFFF)
}

// DataVersion stamps a broker's topic-config table: Timestamp is the time (ms) of the last
// change, Counter counts changes. StateVersion is a 5.x addition (omitted when zero).
type DataVersion struct {
	Timestamp    int64 `json:"timestamp"`
	Counter      int64 `json:"counter"`
	StateVersion int64 `json:"stateVersion,omitempty"`
}

// Equal compares all fields, as Java's DataVersion.equals.
func (d DataVersion) Equal(o DataVersion) bool { return d == o }

// TopicConfig is one topic's configuration on a broker (topics.json entries).
type TopicConfig struct {
	TopicName       string            `json:"topicName"`
	ReadQueueNums   int               `json:"readQueueNums"`
	WriteQueueNums  int               `json:"writeQueueNums"`
	Perm            int               `json:"perm"`
	TopicFilterType string            `json:"topicFilterType"`
	TopicSysFlag    int               `json:"topicSysFlag"`
	Order           bool              `json:"order"`
	Attributes      map[string]string `json:"attributes,omitempty"`
}

// TopicConfigSerializeWrapper is a broker's topic table with its DataVersion: the
// GET_ALL_TOPIC_CONFIG body, the content of topics.json, and part of RegisterBrokerBody.
type TopicConfigSerializeWrapper struct {
	TopicConfigTable map[string]TopicConfig `json:"topicConfigTable"`
	DataVersion      DataVersion            `json:"dataVersion"`
}

// RegisterBrokerBody is the REGISTER_BROKER request body.
type RegisterBrokerBody struct {
	TopicConfigSerializeWrapper TopicConfigSerializeWrapper `json:"topicConfigSerializeWrapper"`
	FilterServerList            []string                    `json:"filterServerList"`
}

// maxInflatedRegisterBody bounds the decompressed size of a compressed RegisterBrokerBody.
const maxInflatedRegisterBody = 64 << 20

// EncodeRegisterBrokerBody encodes b as JSON, or, with compressed, in Java's zlib form:
// int32 length + DataVersion JSON, int32 topic count, per topic int32 length + the text
// "name readQ writeQ perm FILTERTYPE", then int32 length + the filter-server-list JSON.
// The compressed form does not carry topicSysFlag, order or attributes (as in Java 4.x).
func EncodeRegisterBrokerBody(b *RegisterBrokerBody, compressed bool) ([]byte, error) {
	if !compressed {
		if b.FilterServerList == nil {
			cp := *b
			cp.FilterServerList = []string{}
			b = &cp
		}
		return json.Marshal(b)
	}
	var raw bytes.Buffer
	writeChunk := func(p []byte) {
		raw.Write(binary.BigEndian.AppendUint32(nil, uint32(len(p))))
		raw.Write(p)
	}
	dv, err := json.Marshal(b.TopicConfigSerializeWrapper.DataVersion)
	if err != nil {
		return nil, fmt.Errorf("protocol: encode register body: %w", err)
	}
	writeChunk(dv)
	names := make([]string, 0, len(b.TopicConfigSerializeWrapper.TopicConfigTable))
	for n := range b.TopicConfigSerializeWrapper.TopicConfigTable {
		names = append(names, n)
	}
	slices.Sort(names)
	raw.Write(binary.BigEndian.AppendUint32(nil, uint32(len(names))))
	for _, n := range names {
		tc := b.TopicConfigSerializeWrapper.TopicConfigTable[n]
		ft := tc.TopicFilterType
		if ft == "" {
			ft = TopicFilterSingleTag
		}
		writeChunk([]byte(fmt.Sprintf("%s %d %d %d %s", tc.TopicName, tc.ReadQueueNums, tc.WriteQueueNums, tc.Perm, ft)))
	}
	fl := b.FilterServerList
	if fl == nil {
		fl = []string{}
	}
	fj, err := json.Marshal(fl)
	if err != nil {
		return nil, fmt.Errorf("protocol: encode register body: %w", err)
	}
	writeChunk(fj)
	var out bytes.Buffer
	zw, err := zlib.NewWriterLevel(&out, zlib.BestCompression)
	if err != nil {
		return nil, fmt.Errorf("protocol: encode register body: %w", err)
	}
	if _, err := zw.Write(raw.Bytes()); err != nil {
		return nil, fmt.Errorf("protocol: encode register body: %w", err)
	}
	if err := zw.Close(); err != nil {
		return nil, fmt.Errorf("protocol: encode register body: %w", err)
	}
	return out.Bytes(), nil
}

// DecodeRegisterBrokerBody decodes a REGISTER_BROKER body. compressed selects Java's zlib
// form. An empty body decodes to an empty body with a zero DataVersion.
func DecodeRegisterBrokerBody(body []byte, compressed bool) (*RegisterBrokerBody, error) {
	out := &RegisterBrokerBody{TopicConfigSerializeWrapper: TopicConfigSerializeWrapper{TopicConfigTable: map[string]TopicConfig{}}}
	if len(body) == 0 {
		return out, nil
	}
	if !compressed {
		if err := DecodeJSON(body, out); err != nil {
			return nil, newErr(ErrBadBody, fmt.Sprintf("protocol: decode register body: %v", err))
		}
		if out.TopicConfigSerializeWrapper.TopicConfigTable == nil {
			out.TopicConfigSerializeWrapper.TopicConfigTable = map[string]TopicConfig{}
		}
		return out, nil
	}
	zr, err := zlib.NewReader(bytes.NewReader(body))
	if err != nil {
		return nil, newErr(ErrBadBody, fmt.Sprintf("protocol: decode compressed register body: %v", err))
	}
	defer zr.Close()
	raw, err := io.ReadAll(io.LimitReader(zr, maxInflatedRegisterBody+1))
	if err != nil {
		return nil, newErr(ErrBadBody, fmt.Sprintf("protocol: decode compressed register body: %v", err))
	}
	if len(raw) > maxInflatedRegisterBody {
		return nil, newErr(ErrBadBody, fmt.Sprintf("protocol: compressed register body inflates beyond %d bytes", maxInflatedRegisterBody))
	}
	r := bytes.NewReader(raw)
	readInt := func(what string) (int, error) {
		var n int32
		if err := binary.Read(r, binary.BigEndian, &n); err != nil {
			return 0, newErr(ErrBadBody, fmt.Sprintf("protocol: compressed register body: truncated %s", what))
		}
		if n < 0 {
			return 0, newErr(ErrBadBody, fmt.Sprintf("protocol: compressed register body: negative %s %d", what, n))
		}
		return int(n), nil
	}
	readChunk := func(what string) ([]byte, error) {
		n, err := readInt(what + " length")
		if err != nil {
			return nil, err
		}
		if n > r.Len() {
			return nil, newErr(ErrBadBody, fmt.Sprintf("protocol: compressed register body: %s length %d exceeds the %d bytes left", what, n, r.Len()))
		}
		p := make([]byte, n)
		_, _ = io.ReadFull(r, p) // n ≤ r.Len() was checked
		return p, nil
	}
	dv, err := readChunk("data version")
	if err != nil {
		return nil, err
	}
	if err := json.Unmarshal(dv, &out.TopicConfigSerializeWrapper.DataVersion); err != nil {
		return nil, newErr(ErrBadBody, fmt.Sprintf("protocol: compressed register body: data version: %v", err))
	}
	count, err := readInt("topic count")
	if err != nil {
		return nil, err
	}
	if count > r.Len()/4 {
		return nil, newErr(ErrBadBody, fmt.Sprintf("protocol: compressed register body: topic count %d exceeds the %d bytes left", count, r.Len()))
	}
	for i := 0; i < count; i++ {
		p, err := readChunk("topic config")
		if err != nil {
			return nil, err
		}
		tc, err := parseTopicConfigText(string(p))
		if err != nil {
			return nil, err
		}
		out.TopicConfigSerializeWrapper.TopicConfigTable[tc.TopicName] = tc
	}
	fl, err := readChunk("filter server list")
	if err != nil {
		return nil, err
	}
	if err := json.Unmarshal(fl, &out.FilterServerList); err != nil {
		return nil, newErr(ErrBadBody, fmt.Sprintf("protocol: compressed register body: filter server list: %v", err))
	}
	return out, nil
}

// parseTopicConfigText parses Java's TopicConfig.encode text form
// "name readQ writeQ perm FILTERTYPE [attributesJSON]".
func parseTopicConfigText(s string) (TopicConfig, error) {
	parts := strings.SplitN(s, " ", 6)
	if len(parts) < 5 {
		return TopicConfig{}, newErr(ErrBadBody, fmt.Sprintf("protocol: topic config %q: want 5 space-separated fields", s))
	}
	tc := TopicConfig{TopicName: parts[0], TopicFilterType: parts[4]}
	for i, dst := range []*int{&tc.ReadQueueNums, &tc.WriteQueueNums, &tc.Perm} {
		n, err := strconv.Atoi(parts[i+1])
		if err != nil {
			return TopicConfig{}, newErr(ErrBadBody, fmt.Sprintf("protocol: topic config %q: field %d is not a number", s, i+2))
		}
		*dst = n
	}
	if len(parts) == 6 && parts[5] != "" {
		if err := json.Unmarshal([]byte(parts[5]), &tc.Attributes); err != nil {
			return TopicConfig{}, newErr(ErrBadBody, fmt.Sprintf("protocol: topic config %q: attributes: %v", s, err))
		}
	}
	return tc, nil
}

// QueueData is one broker's queues of a topic in a route.
type QueueData struct {
	BrokerName     string `json:"brokerName"`
	ReadQueueNums  int    `json:"readQueueNums"`
	WriteQueueNums int    `json:"writeQueueNums"`
	Perm           int    `json:"perm"`
	TopicSysFlag   int    `json:"topicSysFlag"`
}

// BrokerData is one broker name's addresses: brokerId (0 = master) → "ip:port".
type BrokerData struct {
	Cluster     string
	BrokerName  string
	BrokerAddrs map[int64]string
}

// MarshalJSON writes compact JSON with quoted, ascending brokerId keys and no whitespace.
// rocketmq-client-go does not parse brokerAddrs as JSON: it splits the raw text on ',' and
// the first ':', so any whitespace would end up inside the address (reference §3.1), and
// a null brokerAddrs would crash it. An empty map is written as {}.
func (b BrokerData) MarshalJSON() ([]byte, error) {
	out := make([]byte, 0, 64+32*len(b.BrokerAddrs))
	out = append(out, `{"cluster":`...)
	out = appendJSONString(out, b.Cluster)
	out = append(out, `,"brokerName":`...)
	out = appendJSONString(out, b.BrokerName)
	out = append(out, `,"brokerAddrs":{`...)
	ids := make([]int64, 0, len(b.BrokerAddrs))
	for id := range b.BrokerAddrs {
		ids = append(ids, id)
	}
	slices.Sort(ids)
	for i, id := range ids {
		if i > 0 {
			out = append(out, ',')
		}
		out = append(out, '"')
		out = strconv.AppendInt(out, id, 10)
		out = append(out, '"', ':')
		out = appendJSONString(out, b.BrokerAddrs[id])
	}
	return append(out, "}}"...), nil
}

// UnmarshalJSON reads the standard form; DecodeJSON also accepts fastjson's unquoted keys.
func (b *BrokerData) UnmarshalJSON(data []byte) error {
	var w struct {
		Cluster     string           `json:"cluster"`
		BrokerName  string           `json:"brokerName"`
		BrokerAddrs map[int64]string `json:"brokerAddrs"`
	}
	if err := json.Unmarshal(data, &w); err != nil {
		return err
	}
	*b = BrokerData{Cluster: w.Cluster, BrokerName: w.BrokerName, BrokerAddrs: w.BrokerAddrs}
	if b.BrokerAddrs == nil {
		b.BrokerAddrs = map[int64]string{}
	}
	return nil
}

// Clone returns a deep copy.
func (b BrokerData) Clone() BrokerData {
	c := b
	c.BrokerAddrs = make(map[int64]string, len(b.BrokerAddrs))
	for k, v := range b.BrokerAddrs {
		c.BrokerAddrs[k] = v
	}
	return c
}

// MasterAddr returns brokerAddrs[0], "" when there is no master.
func (b BrokerData) MasterAddr() string { return b.BrokerAddrs[MasterID] }

// TopicRouteData is the GET_ROUTEINFO_BY_TOPIC response body.
type TopicRouteData struct {
	// OrderTopicConf is "brokerName:queueNum;..." from KV namespace ORDER_TOPIC_CONFIG;
	// omitted when empty.
	OrderTopicConf    string              `json:"orderTopicConf,omitempty"`
	QueueDatas        []QueueData         `json:"queueDatas"`
	BrokerDatas       []BrokerData        `json:"brokerDatas"`
	FilterServerTable map[string][]string `json:"filterServerTable"`
}

// Encode returns the compact JSON body; nil slices and maps are written as [] and {}.
func (r *TopicRouteData) Encode() ([]byte, error) {
	cp := *r
	if cp.QueueDatas == nil {
		cp.QueueDatas = []QueueData{}
	}
	if cp.BrokerDatas == nil {
		cp.BrokerDatas = []BrokerData{}
	}
	if cp.FilterServerTable == nil {
		cp.FilterServerTable = map[string][]string{}
	}
	return json.Marshal(&cp)
}

// ClusterInfo is the GET_BROKER_CLUSTER_INFO response body.
type ClusterInfo struct {
	BrokerAddrTable  map[string]BrokerData `json:"brokerAddrTable"`
	ClusterAddrTable map[string][]string   `json:"clusterAddrTable"`
}

// TopicList is the body of the topic-list responses. BrokerAddr is set only by
// GET_SYSTEM_TOPIC_LIST_FROM_NS.
type TopicList struct {
	TopicList  []string `json:"topicList"`
	BrokerAddr string   `json:"brokerAddr,omitempty"`
}

// KVTable is a string table body ({"table":{k:v}}).
type KVTable struct {
	Table map[string]string `json:"table"`
}

// EncodeJSON marshals v for a body (compact, HTML characters escaped as encoding/json does).
func EncodeJSON(v any) ([]byte, error) {
	b, err := json.Marshal(v)
	if err != nil {
		return nil, fmt.Errorf("protocol: encode %T: %w", v, err)
	}
	return b, nil
}

// DecodeJSON unmarshals a JSON body into v. Java's fastjson writes integer map keys
// unquoted ({0:"addr"}); when standard decoding fails with a syntax error, the body is
// re-read with bare object keys quoted.
func DecodeJSON(data []byte, v any) error {
	err := json.Unmarshal(data, v)
	var se *json.SyntaxError
	if err == nil || !errors.As(err, &se) {
		return err
	}
	norm, ok := quoteBareKeys(data)
	if !ok {
		return err
	}
	return json.Unmarshal(norm, v)
}

// quoteBareKeys rewrites fastjson-style unquoted object keys (digits, letters, '_', '-',
// '.') as JSON strings. ok is false when nothing was rewritten.
func quoteBareKeys(data []byte) (out []byte, ok bool) {
	const (
		inObject = 'o'
		inArray  = 'a'
	)
	var stack []byte
	expectKey := false
	out = make([]byte, 0, len(data)+16)
	for i := 0; i < len(data); i++ {
		c := data[i]
		switch {
		case c == '"':
			j := i + 1
			for j < len(data) && data[j] != '"' {
				if data[j] == '\\' {
					j++
				}
				j++
			}
			if j >= len(data) {
				return nil, false
			}
			out = append(out, data[i:j+1]...)
			i = j
			expectKey = false
		case c == ' ' || c == '\t' || c == '\n' || c == '\r':
			out = append(out, c)
		case c == '{':
			stack = append(stack, inObject)
			expectKey = true
			out = append(out, c)
		case c == '[':
			stack = append(stack, inArray)
			expectKey = false
			out = append(out, c)
		case c == '}' || c == ']':
			if len(stack) > 0 {
				stack = stack[:len(stack)-1]
			}
			expectKey = false
			out = append(out, c)
		case c == ',':
			expectKey = len(stack) > 0 && stack[len(stack)-1] == inObject
			out = append(out, c)
		case expectKey && isBareKeyByte(c):
			j := i
			for j < len(data) && isBareKeyByte(data[j]) {
				j++
			}
			out = append(out, '"')
			out = append(out, data[i:j]...)
			out = append(out, '"')
			i = j - 1
			expectKey = false
			ok = true
		default:
			expectKey = false
			out = append(out, c)
		}
	}
	return out, ok
}

func isBareKeyByte(c byte) bool {
	return c >= '0' && c <= '9' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c == '_' || c == '-' || c == '.'
}
