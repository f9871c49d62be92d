package protocol

import (
	"encoding/json"
	"reflect"
	"testing"
)

func TestBrokerBodyCodeSetDecodesStringsAndNumbers(t *testing.T) {
	tests := []struct {
		name string
		in   string
		want CodeSet
	}{
		{"go strings", `["2598919","-5"]`, CodeSet{2598919, -5}},
		{"java numbers", `[2598919, -5]`, CodeSet{2598919, -5}},
		{"empty", `[]`, CodeSet{}},
		{"null", `null`, CodeSet{}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var c CodeSet
			if err := json.Unmarshal([]byte(tt.in), &c); err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(c, tt.want) {
				t.Fatalf("got %v want %v", c, tt.want)
			}
		})
	}
	var c CodeSet
	if err := json.Unmarshal([]byte(`["x"]`), &c); err == nil {
		t.Fatal("non-numeric code accepted")
	}
}

func TestBrokerBodyHeartbeatFromGoClient(t *testing.T) {
	body := `{"clientID":"192.168.1.5@12345","producerDataSet":[{"groupName":"p"}],"consumerDataSet":[{"groupName":"g","consumeType":"CONSUME_PASSIVELY","messageModel":"CLUSTERING","consumeFromWhere":"CONSUME_FROM_LAST_OFFSET","subscriptionDataSet":[{"classFilterMode":false,"topic":"T","subString":"TagA || TagB","tagsSet":["TagA","TagB"],"codeSet":["2598919","2598920"],"subVersion":1700000000123456789,"expressionType":"TAG"}],"unitMode":false}]}`
	var hb HeartbeatData
	if err := json.Unmarshal([]byte(body), &hb); err != nil {
		t.Fatal(err)
	}
	if hb.ClientID != "192.168.1.5@12345" || len(hb.ProducerDataSet) != 1 || len(hb.ConsumerDataSet) != 1 {
		t.Fatalf("bad decode: %+v", hb)
	}
	sd := hb.ConsumerDataSet[0].SubscriptionDataSet[0]
	if sd.SubVersion != 1700000000123456789 || len(sd.TagsSet) != 2 || sd.CodeSet[1] != 2598920 {
		t.Fatalf("bad subscription: %+v", sd)
	}
}

func TestBrokerBodyTopicStatsFastjsonRoundTrip(t *testing.T) {
	in := TopicStatsTable{OffsetTable: map[BrokerMessageQueue]TopicOffset{
		{Topic: "T", BrokerName: "b", QueueID: 1}: {MinOffset: 0, MaxOffset: 5, LastUpdateTimestamp: 7},
		{Topic: "T", BrokerName: "b", QueueID: 0}: {MinOffset: 1, MaxOffset: 9},
	}}
	b, err := in.Encode()
	if err != nil {
		t.Fatal(err)
	}
	want := `{"offsetTable":{{"brokerName":"b","queueId":0,"topic":"T"}:{"minOffset":1,"maxOffset":9,"lastUpdateTimestamp":0},{"brokerName":"b","queueId":1,"topic":"T"}:{"minOffset":0,"maxOffset":5,"lastUpdateTimestamp":7}}}`
	if string(b) != want {
		t.Fatalf("got  %s\nwant %s", b, want)
	}
	var out TopicStatsTable
	if err := out.Decode(b); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(in, out) {
		t.Fatalf("round trip: %+v", out)
	}
}

func TestBrokerBodyConsumeStatsParsesVariants(t *testing.T) {
	tests := []struct {
		name    string
		in      string
		wantLen int
		tps     float64
		wantErr bool
	}{
		{"fastjson", `{"consumeTps":1.5,"offsetTable":{{"brokerName":"b","queueId":3,"topic":"T"}:{"brokerOffset":10,"consumerOffset":4,"lastTimestamp":0}}}`, 1, 1.5, false},
		{"spaces", ` { "offsetTable" : { {"topic":"T","brokerName":"b","queueId":3} : {"brokerOffset":10} , {"topic":"T","brokerName":"b","queueId":4}:{} } } `, 2, 0, false},
		{"list form", `{"offsetTable":[{"key":{"topic":"T","brokerName":"b","queueId":3},"value":{"brokerOffset":10}}]}`, 1, 0, false},
		{"string key", `{"offsetTable":{"{\"topic\":\"T\",\"brokerName\":\"b\",\"queueId\":3}":{"brokerOffset":10}}}`, 1, 0, false},
		{"empty", `{"offsetTable":{},"consumeTps":0.0}`, 0, 0, false},
		{"truncated", `{"offsetTable":{{"topic":"T"`, 0, 0, true},
		{"not object", `[1]`, 0, 0, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var cs ConsumeStats
			err := cs.Decode([]byte(tt.in))
			if (err != nil) != tt.wantErr {
				t.Fatalf("err=%v wantErr=%v", err, tt.wantErr)
			}
			if err != nil {
				return
			}
			if len(cs.OffsetTable) != tt.wantLen || cs.ConsumeTps != tt.tps {
				t.Fatalf("got %+v", cs)
			}
			if tt.wantLen > 0 {
				if cs.OffsetTable[BrokerMessageQueue{"T", "b", 3}].BrokerOffset != 10 {
					t.Fatalf("offset lost: %+v", cs.OffsetTable)
				}
			}
		})
	}
	b, err := ConsumeStats{OffsetTable: map[BrokerMessageQueue]OffsetWrapper{{"T", "b", 0}: {BrokerOffset: 3}}}.Encode()
	if err != nil {
		t.Fatal(err)
	}
	if want := `{"offsetTable":{{"brokerName":"b","queueId":0,"topic":"T"}:{"brokerOffset":3,"consumerOffset":0,"lastTimestamp":0}},"consumeTps":0.0}`; string(b) != want {
		t.Fatalf("got %s", b)
	}
}

func TestBrokerBodySubscriptionGroupDefaults(t *testing.T) {
	var c SubscriptionGroupConfig
	if err := json.Unmarshal([]byte(`{"groupName":"g","retryMaxTimes":3}`), &c); err != nil {
		t.Fatal(err)
	}
	want := DefaultSubscriptionGroupConfig("g")
	want.RetryMaxTimes = 3
	if c != want {
		t.Fatalf("got %+v want %+v", c, want)
	}
}
