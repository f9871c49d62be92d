package protocol

import (
	"bytes"
	"encoding/hex"
	"encoding/json"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

// loadFixture reads an annotated byte fixture from testdata. Format, per line: '#' starts a
// comment; a line starting with '>' contributes the rest of the line verbatim (no newline);
// any other line is whitespace-separated hex groups of even length.
func loadFixture(t testing.TB, name string) []byte {
	t.Helper()
	raw, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		t.Fatalf("read fixture: %v", err)
	}
	var out []byte
	for i, line := range strings.Split(string(raw), "\n") {
		if strings.HasPrefix(line, ">") {
			out = append(out, line[1:]...)
			continue
		}
		if j := strings.IndexByte(line, '#'); j >= 0 {
			line = line[:j]
		}
		for _, tok := range strings.Fields(line) {
			b, err := hex.DecodeString(tok)
			if err != nil {
				t.Fatalf("%s:%d: bad hex %q: %v", name, i+1, tok, err)
			}
			out = append(out, b...)
		}
	}
	return out
}

const faqSuffix = "\nSee http://rocketmq.apache.org/docs/faq/ for further details."

// TestGoldenReferenceExamples checks the two worked examples of the reference (§1.2 JSON,
// §1.4 binary) against literal bytes copied from the document, independently of testdata.
func TestGoldenReferenceExamples(t *testing.T) {
	req := &RemotingCommand{Code: ReqGetRouteInfoByTopic, Language: LanguageGo, Version: VersionV4_5_2, Opaque: 1,
		ExtFields: map[string]string{"topic": "TopicTest"}}

	jsonFrame, err := req.MarshalFrame(SerializeJSON)
	if err != nil {
		t.Fatal(err)
	}
	wantJSON := append(mustHex(t, "00000070 0000006C"),
		`{"code":105,"language":"GO","version":317,"opaque":1,"flag":0,"remark":"","extFields":{"topic":"TopicTest"}}`...)
	if !bytes.Equal(jsonFrame, wantJSON) || len(jsonFrame) != 116 {
		t.Fatalf("§1.2 JSON frame:\n got %q\nwant %q", jsonFrame, wantJSON)
	}

	binFrame, err := req.MarshalFrame(SerializeRocketMQ)
	if err != nil {
		t.Fatal(err)
	}
	wantBin := mustHex(t, "0000002d 01000029 0069 09 013d 00000001 00000000 00000000 00000014 0005 746f706963 00000009 546f70696354657374")
	if !bytes.Equal(binFrame, wantBin) {
		t.Fatalf("§1.4 binary frame:\n got %x\nwant %x", binFrame, wantBin)
	}
}

func mustHex(t testing.TB, s string) []byte {
	t.Helper()
	b, err := hex.DecodeString(strings.ReplaceAll(s, " ", ""))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// TestGoldenFixtures decodes every fixture, compares it with the expected command, and for
// fixtures in gorocket's own encoding re-encodes the command and requires identical bytes.
func TestGoldenFixtures(t *testing.T) {
	const regCRC = "462327451"
	tests := []struct {
		file      string
		st        SerializeType
		want      *RemotingCommand
		reencode  bool // gorocket produces exactly these bytes
		checkBody func(t *testing.T, body []byte)
	}{
		{
			file: "get_routeinfo_request.go-client.hex", st: SerializeJSON, reencode: true,
			want: &RemotingCommand{Code: ReqGetRouteInfoByTopic, Language: LanguageGo, Version: 317, Opaque: 1,
				ExtFields: map[string]string{"topic": "TopicTest"}},
		},
		{
			file: "get_routeinfo_request.rocketmq.hex", st: SerializeRocketMQ, reencode: true,
			want: &RemotingCommand{Code: ReqGetRouteInfoByTopic, Language: LanguageGo, Version: 317, Opaque: 1,
				ExtFields: map[string]string{"topic": "TopicTest"}},
		},
		{
			file: "get_routeinfo_response.hex", st: SerializeJSON, reencode: true,
			want: &RemotingCommand{Code: RespSuccess, Language: LanguageJava, Version: 409, Opaque: 1, Flag: FlagResponse,
				ExtFields: map[string]string{}},
			checkBody: func(t *testing.T, body []byte) {
				route := TopicRouteData{
					QueueDatas: []QueueData{{BrokerName: "broker-a", ReadQueueNums: 4, WriteQueueNums: 4, Perm: 6}},
					BrokerDatas: []BrokerData{{Cluster: "DefaultCluster", BrokerName: "broker-a",
						BrokerAddrs: map[int64]string{0: "10.0.0.5:10911", 1: "10.0.0.6:10911"}}},
				}
				enc, err := route.Encode()
				if err != nil {
					t.Fatal(err)
				}
				if !bytes.Equal(enc, body) {
					t.Fatalf("route body:\n got %s\nwant %s", enc, body)
				}
				var back TopicRouteData
				if err := DecodeJSON(body, &back); err != nil {
					t.Fatal(err)
				}
				route.FilterServerTable = map[string][]string{}
				if !reflect.DeepEqual(back, route) {
					t.Fatalf("route decode: %+v", back)
				}
			},
		},
		{
			file: "get_routeinfo_response_not_exist.hex", st: SerializeJSON, reencode: true,
			want: &RemotingCommand{Code: RespTopicNotExist, Language: LanguageJava, Version: 409, Opaque: 2, Flag: FlagResponse,
				Remark: "No topic route info in name server for the topic: NoSuchTopic" + faqSuffix, ExtFields: map[string]string{}},
		},
		{
			file: "register_broker_request.hex", st: SerializeJSON, reencode: true,
			want: &RemotingCommand{Code: ReqRegisterBroker, Language: LanguageJava, Version: 409, Opaque: 42,
				ExtFields: map[string]string{"bodyCrc32": regCRC, "brokerAddr": "10.0.0.5:10911", "brokerId": "0",
					"brokerName": "broker-a", "clusterName": "DefaultCluster", "compressed": "false", "haServerAddr": "10.0.0.5:10912"}},
			checkBody: func(t *testing.T, body []byte) {
				if got := MaskedCRC32(body); got != 462327451 {
					t.Fatalf("MaskedCRC32 = %d", got)
				}
				rb := testRegisterBody()
				enc, err := EncodeRegisterBrokerBody(rb, false)
				if err != nil {
					t.Fatal(err)
				}
				if !bytes.Equal(enc, body) {
					t.Fatalf("register body:\n got %s\nwant %s", enc, body)
				}
			},
		},
		{
			file: "register_broker_request.java.hex", st: SerializeJSON,
			want: &RemotingCommand{Code: ReqRegisterBroker, Language: LanguageJava, Version: 409, Opaque: 43,
				ExtFields: map[string]string{"bodyCrc32": "", "brokerAddr": "10.0.0.6:10911", "brokerId": "1",
					"brokerName": "broker-a", "clusterName": "DefaultCluster", "compressed": "false", "haServerAddr": "10.0.0.6:10912"}},
			checkBody: func(t *testing.T, body []byte) {
				got, err := DecodeRegisterBrokerBody(body, false)
				if err != nil {
					t.Fatal(err)
				}
				if want := testRegisterBody(); !reflect.DeepEqual(got, want) {
					t.Fatalf("java register body decoded to %+v", got)
				}
			},
		},
		{
			file: "register_broker_response.hex", st: SerializeJSON, reencode: true,
			want: &RemotingCommand{Code: RespSuccess, Language: LanguageJava, Version: 409, Opaque: 43, Flag: FlagResponse,
				ExtFields: map[string]string{"haServerAddr": "10.0.0.5:10912", "masterAddr": "10.0.0.5:10911"}},
			checkBody: func(t *testing.T, body []byte) {
				var kv KVTable
				if err := DecodeJSON(body, &kv); err != nil || kv.Table["TopicOrder"] != "broker-a:4" {
					t.Fatalf("kv body %+v, %v", kv, err)
				}
				enc, _ := EncodeJSON(kv)
				if !bytes.Equal(enc, body) {
					t.Fatalf("kv body re-encodes to %s", enc)
				}
			},
		},
		{
			file: "heart_beat_request.go-client.hex", st: SerializeJSON, reencode: true,
			want: &RemotingCommand{Code: ReqHeartBeat, Language: LanguageGo, Version: 317, Opaque: 7, ExtFields: map[string]string{}},
			checkBody: func(t *testing.T, body []byte) {
				var hb struct {
					ClientID        string `json:"clientID"`
					ConsumerDataSet []struct {
						SubscriptionDataSet []struct {
							CodeSet []string `json:"codeSet"`
						} `json:"subscriptionDataSet"`
					} `json:"consumerDataSet"`
				}
				if err := json.Unmarshal(body, &hb); err != nil {
					t.Fatal(err)
				}
				if hb.ClientID != "192.168.1.5@12345" || hb.ConsumerDataSet[0].SubscriptionDataSet[0].CodeSet[0] != "2598919" {
					t.Fatalf("heartbeat body %+v", hb)
				}
			},
		},
		{
			file: "heart_beat_response.hex", st: SerializeJSON, reencode: true,
			want: &RemotingCommand{Code: RespSuccess, Language: LanguageJava, Version: 409, Opaque: 7, Flag: FlagResponse,
				ExtFields: map[string]string{}},
		},
	}
	for _, tt := range tests {
		t.Run(tt.file, func(t *testing.T) {
			frame := loadFixture(t, tt.file)
			got, err := DecodeFrame(frame, 0)
			if err != nil {
				t.Fatalf("decode: %v", err)
			}
			if tt.want.ExtFields["bodyCrc32"] == "" && got.ExtFields["bodyCrc32"] != "" {
				tt.want.ExtFields["bodyCrc32"] = got.ExtFields["bodyCrc32"]
				if want := itoa(MaskedCRC32(got.Body)); got.ExtFields["bodyCrc32"] != want {
					t.Fatalf("bodyCrc32 %s, MaskedCRC32(body) %s", got.ExtFields["bodyCrc32"], want)
				}
			}
			body := got.Body
			got.Body = nil
			if !reflect.DeepEqual(got, tt.want) {
				t.Fatalf("decoded\n got %s\nwant %s", got, tt.want)
			}
			if tt.checkBody != nil {
				tt.checkBody(t, body)
			} else if len(body) != 0 {
				t.Fatalf("unexpected body %q", body)
			}
			if tt.reencode {
				tt.want.Body = body
				enc, err := tt.want.MarshalFrame(tt.st)
				if err != nil {
					t.Fatal(err)
				}
				if !bytes.Equal(enc, frame) {
					t.Fatalf("re-encoded frame differs:\n got %q\nwant %q", enc, frame)
				}
			}
		})
	}
}

func itoa(n int32) string {
	b, _ := json.Marshal(n)
	return string(b)
}

func testRegisterBody() *RegisterBrokerBody {
	return &RegisterBrokerBody{
		TopicConfigSerializeWrapper: TopicConfigSerializeWrapper{
			DataVersion: DataVersion{Timestamp: 1700000000000, Counter: 7},
			TopicConfigTable: map[string]TopicConfig{
				"TBW102":    {TopicName: "TBW102", ReadQueueNums: 8, WriteQueueNums: 8, Perm: 7, TopicFilterType: TopicFilterSingleTag},
				"TopicTest": {TopicName: "TopicTest", ReadQueueNums: 4, WriteQueueNums: 4, Perm: 6, TopicFilterType: TopicFilterSingleTag},
			},
		},
		FilterServerList: []string{},
	}
}
