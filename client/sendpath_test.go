package client

import (
	"context"
	"errors"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/gorocket/gorocket/remoting"
	"github.com/gorocket/gorocket/remoting/protocol"
)

// The send path builds and reads its headers without reflection; these tests pin the result
// to the generic, reflection-based codec of package protocol.

func TestSendRequestMatchesGenericEncoding(t *testing.T) {
	headers := []protocol.SendMessageRequestHeader{
		{ProducerGroup: "pg", Topic: "T", DefaultTopic: "TBW102", DefaultTopicQueueNums: 4, QueueID: 3, BornTimestamp: 1700000000123,
			Properties: "UNIQ_KEY\x01ABC\x02"},
		{},
		{ProducerGroup: "g", Topic: "%RETRY%g", DefaultTopic: "TBW102", DefaultTopicQueueNums: -1, QueueID: -1, SysFlag: 1 << 20,
			BornTimestamp: -5, Flag: -7, Properties: "", ReconsumeTimes: 16, UnitMode: true, MaxReconsumeTimes: 3, Batch: true,
			BrokerName: "broker-a"},
	}
	body := []byte("body")
	for i, h := range headers {
		got := sendRequest(&h, body)
		want := protocol.NewRequest(protocol.ReqSendMessageV2, protocol.EncodeSendMessageHeaderV2(h), body)
		if !reflect.DeepEqual(got.ExtMap(), want.ExtFields) {
			t.Errorf("header %d:\n got %v\nwant %v", i, got.ExtMap(), want.ExtFields)
		}
		if !slices.IsSortedFunc(got.ExtList, func(a, b protocol.ExtPair) int { return strings.Compare(a.Key, b.Key) }) {
			t.Errorf("header %d: ext list not in key order: %v", i, got.ExtList)
		}
		got.ExtList, want.ExtFields = nil, nil
		if !reflect.DeepEqual(got, want) {
			t.Errorf("header %d:\n got %#v\nwant %#v", i, got, want)
		}
	}
}

func TestDecodeSendResponseMatchesGeneric(t *testing.T) {
	cases := []map[string]string{
		{"msgId": "7F00000100002A9F0000000000001234", "queueId": "3", "queueOffset": "42", "transactionId": "x"},
		nil,
		{"queueId": "", "queueOffset": ""},
		{"queueId": " 7 ", "queueOffset": "\t9"},
		{"queueId": "-1", "queueOffset": "-9223372036854775808"},
		{"queueId": "x"},
		{"queueOffset": "1.5"},
		{"queueOffset": "9223372036854775808"},
		{"queueId": "+3", "queueOffset": "0x10"},
	}
	for _, ext := range cases {
		got, err := decodeSendResponse(ext)
		var want protocol.SendMessageResponseHeader
		wantErr := protocol.DecodeHeader(ext, &want)
		if (err == nil) != (wantErr == nil) {
			t.Errorf("%v: error %v, generic %v", ext, err, wantErr)
			continue
		}
		if err != nil {
			if !errors.Is(err, protocol.ErrBadField) {
				t.Errorf("%v: error %v does not wrap ErrBadField", ext, err)
			}
			continue
		}
		// The producer uses these three fields.
		if got.MsgID != want.MsgID || got.QueueID != want.QueueID || got.QueueOffset != want.QueueOffset {
			t.Errorf("%v: got %+v, generic %+v", ext, got, want)
		}
	}
}

func TestPreparedPropertiesMatchEncodeProperties(t *testing.T) {
	p, err := NewProducer(nil, ProducerOptions{Options: Options{NameServers: []string{"127.0.0.1:1"}}})
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	for _, m := range []*Message{
		NewMessage("T", []byte("x")),
		NewMessage("T", []byte("x")).WithTag("A").WithKeys("k1", "k2"),
		{Topic: "T", Body: []byte("x"), Properties: map[string]string{PropertyUniqClientKey: "MINE", "a": "b"}},
	} {
		_, hadUniq := m.Properties[PropertyUniqClientKey]
		pr, err := p.prepare(m)
		if err != nil {
			t.Fatal(err)
		}
		if _, has := m.Properties[PropertyUniqClientKey]; has != hadUniq {
			t.Error("prepare changed the message's own properties")
		}
		want := map[string]string{PropertyUniqClientKey: pr.uniq}
		for k, v := range m.Properties {
			want[k] = v
		}
		if got := EncodeProperties(want); pr.props != got {
			t.Errorf("properties %q, want %q", pr.props, got)
		}
		if pr.uniq != strings.ToUpper(pr.uniq) {
			t.Errorf("uniq key %q is not upper-case hex", pr.uniq)
		}
	}
}

// TestSendTimeoutWithoutContextDeadline: the producer's timeout bounds a send whose context
// has no deadline, sync and async (the transport's timer, not a derived context).
func TestSendTimeoutWithoutContextDeadline(t *testing.T) {
	fc := newFakeCluster(t, "broker-a")
	fc.createTopic("slow", 1)
	b := fc.brokers["broker-a"]
	release := make(chan struct{})
	defer close(release)
	b.srv.HandleFunc(protocol.ReqSendMessageV2, func(ctx context.Context, _ *remoting.Request) (*protocol.RemotingCommand, error) {
		select {
		case <-release:
		case <-ctx.Done():
		}
		return nil, ctx.Err()
	})
	p := newTestProducer(t, fc, func(o *ProducerOptions) {
		o.Timeout = 50 * time.Millisecond
		o.RetryTimes = -1
	})
	if _, err := p.Send(context.Background(), NewMessage("slow", []byte("x"))); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("sync send: %v, want a deadline error", err)
	}
	errc := make(chan error, 1)
	if err := p.SendAsync(context.Background(), NewMessage("slow", []byte("x")), func(_ *SendResult, err error) { errc <- err }); err != nil {
		t.Fatal(err)
	}
	if err := <-errc; !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("async send: %v, want a deadline error", err)
	}
}

func TestEncodePropertiesWithMatchesCopy(t *testing.T) {
	cases := []struct {
		props  map[string]string
		k, v   string
		expect string
	}{
		{nil, "", "", ""},
		{nil, "UNIQ_KEY", "U", "UNIQ_KEY\x01U\x02"},
		{map[string]string{"TAGS": "t", "KEYS": "a b"}, "UNIQ_KEY", "U", "KEYS\x01a b\x02TAGS\x01t\x02UNIQ_KEY\x01U\x02"},
		{map[string]string{"UNIQ_KEY": "old", "A": "1"}, "UNIQ_KEY", "new", "A\x011\x02UNIQ_KEY\x01new\x02"},
		{map[string]string{"": "x", "E": "", "Z": "z"}, "", "", "Z\x01z\x02"},
		{map[string]string{"A": "1"}, "B", "", "A\x011\x02"},
	}
	for _, c := range cases {
		got := encodePropertiesWith(c.props, c.k, c.v)
		cp := map[string]string{}
		for k, v := range c.props {
			cp[k] = v
		}
		if c.k != "" {
			cp[c.k] = c.v
		}
		if got != c.expect || got != EncodeProperties(cp) {
			t.Errorf("%v + %s=%s: %q, want %q (EncodeProperties of a copy: %q)", c.props, c.k, c.v, got, c.expect, EncodeProperties(cp))
		}
	}
	many := map[string]string{}
	for i := range 40 { // more than the stack array holds
		many[strings.Repeat("k", i+1)] = "v"
	}
	if got, want := encodePropertiesWith(many, "", ""), EncodeProperties(many); got != want || strings.Count(got, "\x02") != 40 {
		t.Errorf("40 properties: %q", got)
	}
}
