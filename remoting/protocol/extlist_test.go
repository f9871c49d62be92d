package protocol

import (
	"bytes"
	"maps"
	"testing"
)

// A command built with ExtList (keys in sorted order) encodes to exactly the bytes of the same
// command built with ExtFields, in both header encodings, and decodes back to the map.
func TestExtListEncodesLikeExtFields(t *testing.T) {
	list := []ExtPair{{"a", "pg"}, {"b", "Topic"}, {"i", "UNIQ_KEY\x01ABC\x02WAIT\x01true\x02"}, {"m", "false"}, {"n", "broker-a"}}
	m := map[string]string{}
	for _, p := range list {
		m[p.Key] = p.Value
	}
	for _, st := range []SerializeType{SerializeJSON, SerializeRocketMQ} {
		withList := &RemotingCommand{Code: ReqSendMessageV2, Language: LanguageGo, Version: CurrentVersion, Opaque: 7, ExtList: list, Body: []byte("body")}
		withMap := &RemotingCommand{Code: ReqSendMessageV2, Language: LanguageGo, Version: CurrentVersion, Opaque: 7, ExtFields: m, Body: []byte("body")}
		a, err := withList.MarshalFrame(st)
		if err != nil {
			t.Fatal(err)
		}
		b, err := withMap.MarshalFrame(st)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(a, b) {
			t.Fatalf("serialize %d: ExtList frame\n%q\ndiffers from ExtFields frame\n%q", st, a, b)
		}
		back, err := DecodeFrame(a, 1<<20)
		if err != nil {
			t.Fatal(err)
		}
		if !maps.Equal(back.ExtFields, m) || back.ExtList != nil {
			t.Fatalf("serialize %d: decoded ext %v / list %v, want %v", st, back.ExtFields, back.ExtList, m)
		}
	}
}

func TestExtListAccessors(t *testing.T) {
	c := &RemotingCommand{ExtList: []ExtPair{{"queueId", "3"}, {"topic", "T"}}}
	if c.ExtField("topic") != "T" || c.ExtField("missing") != "" {
		t.Fatalf("ExtField on a list: %q %q", c.ExtField("topic"), c.ExtField("missing"))
	}
	var h struct {
		Topic   string `rmq:"topic"`
		QueueID int    `rmq:"queueId"`
	}
	if err := c.DecodeHeader(&h); err != nil || h.Topic != "T" || h.QueueID != 3 {
		t.Fatalf("DecodeHeader on a list: %+v %v", h, err)
	}
	c.SetExtField("flag", "1")
	if c.ExtList != nil || !maps.Equal(c.ExtFields, map[string]string{"queueId": "3", "topic": "T", "flag": "1"}) {
		t.Fatalf("SetExtField did not move the list into the map: list %v map %v", c.ExtList, c.ExtFields)
	}
	if (&RemotingCommand{}).ExtMap() != nil {
		t.Fatal("ExtMap of a command without ext fields is not nil")
	}
}
