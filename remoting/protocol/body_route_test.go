package protocol

import (
	"bytes"
	"compress/zlib"
	"encoding/binary"
	"errors"
	"reflect"
	"strings"
	"testing"
)

func TestMaskedCRC32(t *testing.T) {
	// CRC-32/IEEE("123456789") = 0xCBF43926; masked = 0x4BF43926.
	if got := MaskedCRC32([]byte("123456789")); got != 0x4BF43926 {
		t.Fatalf("got %#x", got)
	}
	if MaskedCRC32(nil) != 0 {
		t.Fatal("empty")
	}
}

func TestBrokerDataJSONIsCompact(t *testing.T) {
	bd := BrokerData{Cluster: "c", BrokerName: "b", BrokerAddrs: map[int64]string{2: "10.0.0.7:10911", 0: "[::1]:10911", 1: "h:1"}}
	got, err := EncodeJSON(bd)
	if err != nil {
		t.Fatal(err)
	}
	want := `{"cluster":"c","brokerName":"b","brokerAddrs":{"0":"[::1]:10911","1":"h:1","2":"10.0.0.7:10911"}}`
	if string(got) != want {
		t.Fatalf("got %s", got)
	}
	empty, _ := EncodeJSON(BrokerData{Cluster: "c", BrokerName: "b"})
	if !strings.Contains(string(empty), `"brokerAddrs":{}`) {
		t.Fatalf("nil brokerAddrs must be {}: %s", empty)
	}
	// Parse brokerAddrs the way rocketmq-client-go v2.1.2 does (strip braces, split on ',',
	// split at the first ':', drop every '"') and require the exact addresses back.
	raw := string(got)
	i := strings.Index(raw, `"brokerAddrs":`) + len(`"brokerAddrs":`)
	inner := raw[i+1 : len(raw)-2]
	parsed := map[string]string{}
	for _, part := range strings.Split(inner, ",") {
		j := strings.Index(part, ":")
		parsed[strings.ReplaceAll(part[:j], `"`, "")] = strings.ReplaceAll(part[j+1:], `"`, "")
	}
	if want := map[string]string{"0": "[::1]:10911", "1": "h:1", "2": "10.0.0.7:10911"}; !reflect.DeepEqual(parsed, want) {
		t.Fatalf("go-client style parse: %v", parsed)
	}
}

func TestDecodeJSONFastjsonKeys(t *testing.T) {
	// A Java nameserver answers Go-version clients with unquoted integer keys.
	body := `{"brokerDatas":[{"brokerAddrs":{0:"10.0.0.5:10911",1:"10.0.0.6:10911"},"brokerName":"broker-a","cluster":"DefaultCluster"}],` +
		`"filterServerTable":{},"queueDatas":[{"brokerName":"broker-a","perm":6,"readQueueNums":4,"topicSysFlag":0,"writeQueueNums":4}]}`
	var r TopicRouteData
	if err := DecodeJSON([]byte(body), &r); err != nil {
		t.Fatal(err)
	}
	if r.BrokerDatas[0].BrokerAddrs[1] != "10.0.0.6:10911" || r.QueueDatas[0].Perm != 6 {
		t.Fatalf("decoded %+v", r)
	}
	// Strings containing braces, colons and escaped quotes are left alone.
	var m map[string]map[string]string
	if err := DecodeJSON([]byte(`{"a":{x:"{y:\"z\", 1:2}"}}`), &m); err != nil || m["a"]["x"] != `{y:"z", 1:2}` {
		t.Fatalf("%v %v", m, err)
	}
	// Genuinely broken JSON still fails.
	if err := DecodeJSON([]byte(`{"a":`), &m); err == nil {
		t.Fatal("broken JSON accepted")
	}
}

func TestTopicRouteDataEncodeNeverNull(t *testing.T) {
	got, err := (&TopicRouteData{}).Encode()
	if err != nil {
		t.Fatal(err)
	}
	if string(got) != `{"queueDatas":[],"brokerDatas":[],"filterServerTable":{}}` {
		t.Fatalf("got %s", got)
	}
	got, _ = (&TopicRouteData{OrderTopicConf: "broker-a:4"}).Encode()
	if !bytes.HasPrefix(got, []byte(`{"orderTopicConf":"broker-a:4",`)) {
		t.Fatalf("got %s", got)
	}
}

func TestRegisterBrokerBodyCompressed(t *testing.T) {
	in := testRegisterBody()
	enc, err := EncodeRegisterBrokerBody(in, true)
	if err != nil {
		t.Fatal(err)
	}
	got, err := DecodeRegisterBrokerBody(enc, true)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got, in) {
		t.Fatalf("round trip %+v", got)
	}

	// Build Java's layout by hand, independently of the encoder, including a 5.x attribute suffix.
	var raw bytes.Buffer
	chunk := func(s string) {
		raw.Write(binary.BigEndian.AppendUint32(nil, uint32(len(s))))
		raw.WriteString(s)
	}
	chunk(`{"counter":3,"timestamp":1700000000001}`)
	raw.Write(binary.BigEndian.AppendUint32(nil, 2))
	chunk("T1 16 16 6 MULTI_TAG")
	chunk(`T2 1 2 7 SINGLE_TAG {"+message.type":"FIFO"}`)
	chunk(`["10.0.0.9:45001"]`)
	var z bytes.Buffer
	zw := zlib.NewWriter(&z)
	zw.Write(raw.Bytes())
	zw.Close()
	got, err = DecodeRegisterBrokerBody(z.Bytes(), true)
	if err != nil {
		t.Fatal(err)
	}
	want := &RegisterBrokerBody{
		TopicConfigSerializeWrapper: TopicConfigSerializeWrapper{
			DataVersion: DataVersion{Timestamp: 1700000000001, Counter: 3},
			TopicConfigTable: map[string]TopicConfig{
				"T1": {TopicName: "T1", ReadQueueNums: 16, WriteQueueNums: 16, Perm: 6, TopicFilterType: TopicFilterMultiTag},
				"T2": {TopicName: "T2", ReadQueueNums: 1, WriteQueueNums: 2, Perm: 7, TopicFilterType: TopicFilterSingleTag,
					Attributes: map[string]string{"+message.type": "FIFO"}},
			},
		},
		FilterServerList: []string{"10.0.0.9:45001"},
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("java layout decoded to %+v", got)
	}

	// Corrupt and hostile inputs fail cleanly.
	for name, body := range map[string][]byte{
		"not zlib":         []byte("garbage"),
		"truncated":        z.Bytes()[:len(z.Bytes())/2],
		"huge topic count": zlibOf(append(append(binary.BigEndian.AppendUint32(nil, 2), "{}"...), binary.BigEndian.AppendUint32(nil, 1<<30)...)),
		"chunk overrun":    zlibOf(binary.BigEndian.AppendUint32(nil, 1000)),
		"bad topic text":   zlibOf(append(append(append(binary.BigEndian.AppendUint32(nil, 2), "{}"...), binary.BigEndian.AppendUint32(nil, 1)...), append(binary.BigEndian.AppendUint32(nil, 3), "T x"...)...)),
	} {
		if _, err := DecodeRegisterBrokerBody(body, true); !errors.Is(err, ErrBadBody) {
			t.Fatalf("%s: err = %v", name, err)
		}
	}
}

func zlibOf(b []byte) []byte {
	var z bytes.Buffer
	zw := zlib.NewWriter(&z)
	zw.Write(b)
	zw.Close()
	return z.Bytes()
}

func TestRegisterBrokerBodyEmptyAndBad(t *testing.T) {
	got, err := DecodeRegisterBrokerBody(nil, false)
	if err != nil || got.TopicConfigSerializeWrapper.TopicConfigTable == nil || got.TopicConfigSerializeWrapper.DataVersion != (DataVersion{}) {
		t.Fatalf("empty body: %+v %v", got, err)
	}
	if _, err := DecodeRegisterBrokerBody([]byte(`{"topicConfigSerializeWrapper":[`), false); !errors.Is(err, ErrBadBody) {
		t.Fatalf("bad JSON: %v", err)
	}
}

func TestPermString(t *testing.T) {
	for perm, want := range map[int]string{6: "RW-", 7: "RWX", 4: "R--", 2: "-W-", 0: "---"} {
		if got := PermString(perm); got != want {
			t.Fatalf("%d: %s", perm, got)
		}
	}
}
