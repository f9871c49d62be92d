package protocol

import (
	"reflect"
	"testing"
)

func TestBrokerHeaderSendDecodesFullAndShortNames(t *testing.T) {
	full := map[string]string{
		"producerGroup": "pg", "topic": "T", "defaultTopic": "TBW102", "defaultTopicQueueNums": "4",
		"queueId": "2", "sysFlag": "0", "bornTimestamp": "1700000000000", "flag": "0",
		"properties": "KEYS\x01k\x02", "reconsumeTimes": "0", "unitMode": "false", "maxReconsumeTimes": "0",
		"batch": "false",
	}
	short := map[string]string{
		"a": "pg", "b": "T", "c": "TBW102", "d": "4", "e": "2", "f": "0", "g": "1700000000000", "h": "0",
		"i": "KEYS\x01k\x02", "j": "0", "k": "false", "l": "0", "m": "false",
	}
	h1, err := DecodeSendMessageHeader(full, false)
	if err != nil {
		t.Fatal(err)
	}
	h2, err := DecodeSendMessageHeader(short, true)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(h1, h2) {
		t.Fatalf("full %+v != short %+v", h1, h2)
	}
	if h1.Topic != "T" || h1.QueueID != 2 || h1.BornTimestamp != 1700000000000 || !h1.HasMaxReconsumeTimes {
		t.Fatalf("bad decode %+v", h1)
	}
	if got := EncodeSendMessageHeaderV2(h1); !reflect.DeepEqual(got, short) {
		t.Fatalf("v2 encode: %v", got)
	}
}

func TestBrokerHeaderQueueDecode(t *testing.T) {
	tests := []struct {
		name string
		ext  map[string]string
		ok   bool
	}{
		{"complete", map[string]string{"topic": "T", "queueId": "1"}, true},
		{"missing required", map[string]string{"topic": "T"}, false},
		{"bad number", map[string]string{"topic": "T", "queueId": "x"}, false},
		{"optional empty", map[string]string{"topic": "T", "queueId": "1", "bname": ""}, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var h QueueRequestHeader
			err := DecodeHeader(tt.ext, &h)
			if tt.ok != (err == nil) {
				t.Fatalf("err = %v", err)
			}
		})
	}
}

func TestBrokerHeaderSendBackMaxReconsumePresence(t *testing.T) {
	var h ConsumerSendMsgBackRequestHeader
	if err := DecodeHeader(map[string]string{"offset": "10", "group": "g", "delayLevel": "0"}, &h); err != nil {
		t.Fatal(err)
	}
	if h.MaxReconsumeTimes != nil {
		t.Fatal("absent maxReconsumeTimes decoded as present")
	}
	if err := DecodeHeader(map[string]string{"offset": "10", "group": "g", "delayLevel": "-1", "maxReconsumeTimes": "16"}, &h); err != nil {
		t.Fatal(err)
	}
	if h.MaxReconsumeTimes == nil || *h.MaxReconsumeTimes != 16 || h.DelayLevel != -1 {
		t.Fatalf("got %+v", h)
	}
}

func TestBrokerHeaderPullResponseEncodesAllFields(t *testing.T) {
	got, err := EncodeHeader(PullMessageResponseHeader{NextBeginOffset: 5, MinOffset: 0, MaxOffset: 9})
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]string{"suggestWhichBrokerId": "0", "nextBeginOffset": "5", "minOffset": "0", "maxOffset": "9"}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("got %v", got)
	}
}
