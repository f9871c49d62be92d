package client

import (
	"bytes"
	"compress/zlib"
	"context"
	"errors"
	"io"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gorocket/gorocket/remoting/protocol"
)

func newTestProducer(t *testing.T, fc *fakeCluster, mod func(*ProducerOptions)) *Producer {
	t.Helper()
	o := ProducerOptions{Options: fc.options(), Group: "pg"}
	if mod != nil {
		mod(&o)
	}
	p, err := NewProducer(nil, o)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { p.Close() })
	return p
}

func TestProducerSendMessageHeader(t *testing.T) {
	fc := newFakeCluster(t, "broker-a")
	fc.createTopic("orders", 2)
	p := newTestProducer(t, fc, nil)
	before := time.Now().UnixMilli()
	m := NewMessage("orders", []byte("hello")).WithTag("TagA").WithKeys("k1", "k2")
	m.Flag = 7
	res, err := p.Send(context.Background(), m)
	if err != nil {
		t.Fatal(err)
	}
	reqs := fc.brokers["broker-a"].requestsWithCode(protocol.ReqSendMessageV2)
	if len(reqs) != 1 {
		t.Fatalf("%d SEND_MESSAGE requests", len(reqs))
	}
	ext := sendExt(reqs[0])
	want := map[string]string{
		"producerGroup": "pg", "topic": "orders", "defaultTopic": "TBW102", "defaultTopicQueueNums": "4",
		"queueId": strconv.Itoa(res.Queue.QueueID), "sysFlag": "0", "flag": "7", "reconsumeTimes": "0",
		"unitMode": "false", "maxReconsumeTimes": "0", "batch": "false",
	}
	for k, v := range want {
		if ext[k] != v {
			t.Errorf("extField %s = %q, want %q", k, ext[k], v)
		}
	}
	born, err := strconv.ParseInt(ext["bornTimestamp"], 10, 64)
	if err != nil || born < before || born > time.Now().UnixMilli() {
		t.Errorf("bornTimestamp %q not the send time", ext["bornTimestamp"])
	}
	props := DecodeProperties(ext["properties"])
	if props["TAGS"] != "TagA" || props["KEYS"] != "k1 k2" || len(props["UNIQ_KEY"]) != 32 {
		t.Errorf("properties = %q", ext["properties"])
	}
	if string(reqs[0].Body) != "hello" {
		t.Errorf("body %q", reqs[0].Body)
	}
	if reqs[0].IsOneway() || reqs[0].Language != protocol.DefaultLanguage {
		t.Errorf("flag %d language %v", reqs[0].Flag, reqs[0].Language)
	}
	if res.Status != SendOK || res.MsgID != props["UNIQ_KEY"] || len(res.OffsetMsgID) != 32 || res.QueueOffset != 0 ||
		res.Queue.BrokerName != "broker-a" || res.Queue.Topic != "orders" {
		t.Errorf("result %+v", res)
	}
	if m.Property(PropertyUniqClientKey) != "" {
		t.Error("Send modified the caller's message properties")
	}
}

func TestProducerRoundRobinAcrossBrokers(t *testing.T) {
	fc := newFakeCluster(t, "broker-a", "broker-b")
	fc.createTopic("rr", 3)
	p := newTestProducer(t, fc, nil)
	counts := map[MessageQueue]int{}
	for i := range 60 {
		res, err := p.Send(context.Background(), NewMessage("rr", []byte(strconv.Itoa(i))))
		if err != nil {
			t.Fatal(err)
		}
		counts[res.Queue]++
	}
	if len(counts) != 6 {
		t.Fatalf("used %d queues, want 6: %v", len(counts), counts)
	}
	for q, n := range counts {
		if n != 10 {
			t.Errorf("queue %s got %d messages, want 10", QueueString(q), n)
		}
	}
}

func TestProducerRetriesOnAnotherBroker(t *testing.T) {
	fc := newFakeCluster(t, "broker-a", "broker-b")
	fc.createTopic("retry", 1)
	fc.brokers["broker-a"].failOnce(protocol.ReqSendMessageV2, protocol.RespSystemError)
	fc.brokers["broker-b"].failOnce(protocol.ReqSendMessageV2, protocol.RespSystemError)
	p := newTestProducer(t, fc, nil)
	res, err := p.Send(context.Background(), NewMessage("retry", []byte("x")))
	if err != nil {
		t.Fatalf("send with one failure per broker: %v", err)
	}
	a := len(fc.brokers["broker-a"].requestsWithCode(protocol.ReqSendMessageV2))
	b := len(fc.brokers["broker-b"].requestsWithCode(protocol.ReqSendMessageV2))
	if a+b != 3 || res.Status != SendOK {
		t.Fatalf("attempts a=%d b=%d, result %+v", a, b, res)
	}
	// A non-retryable refusal is returned at once.
	fc.brokers["broker-a"].failOnce(protocol.ReqSendMessageV2, protocol.RespMessageIllegal)
	fc.brokers["broker-b"].failOnce(protocol.ReqSendMessageV2, protocol.RespMessageIllegal)
	_, err = p.Send(context.Background(), NewMessage("retry", []byte("x")))
	var be *BrokerError
	if !errors.As(err, &be) || be.Code != protocol.RespMessageIllegal {
		t.Fatalf("err = %v, want MESSAGE_ILLEGAL", err)
	}
	// With retries disabled one failure is final.
	p2 := newTestProducer(t, fc, func(o *ProducerOptions) { o.RetryTimes = -1 })
	fc.brokers["broker-a"].failOnce(protocol.ReqSendMessageV2, protocol.RespSystemError)
	fc.brokers["broker-b"].failOnce(protocol.ReqSendMessageV2, protocol.RespSystemError)
	if _, err := p2.Send(context.Background(), NewMessage("retry", []byte("x"))); err == nil {
		t.Fatal("send without retries succeeded despite the failure")
	}
}

func TestProducerAutoCreateUsesTemplateRoute(t *testing.T) {
	fc := newFakeCluster(t, "broker-a")
	p := newTestProducer(t, fc, nil)
	seen := map[int]bool{}
	for range 8 {
		res, err := p.Send(context.Background(), NewMessage("brand-new", []byte("x")))
		if err != nil {
			t.Fatal(err)
		}
		seen[res.Queue.QueueID] = true
	}
	// TBW102 has 8 queues, clamped to DefaultTopicQueueNums = 4.
	if len(seen) != 4 || !seen[0] || !seen[3] {
		t.Fatalf("queues used %v, want 0..3", seen)
	}
	for _, r := range fc.brokers["broker-a"].requestsWithCode(protocol.ReqSendMessageV2) {
		if ext := sendExt(r); ext["topic"] != "brand-new" || ext["defaultTopic"] != "TBW102" {
			t.Fatalf("auto-create send ext %v", r.ExtFields)
		}
	}
	fc.mu.Lock()
	delete(fc.topics, CreateTopicKey)
	fc.mu.Unlock()
	if _, err := p.Send(context.Background(), NewMessage("other-new", []byte("x"))); !errors.Is(err, ErrTopicNotExist) {
		t.Fatalf("send without a template route: %v", err)
	}
}

func TestProducerBatchHeaderAndBody(t *testing.T) {
	fc := newFakeCluster(t, "broker-a")
	fc.createTopic("batch", 1)
	p := newTestProducer(t, fc, nil)
	msgs := []*Message{
		NewMessage("batch", []byte("one")).WithTag("a"),
		NewMessage("batch", []byte("two")),
		NewMessage("batch", []byte("three")),
	}
	res, err := p.SendBatch(context.Background(), msgs)
	if err != nil {
		t.Fatal(err)
	}
	reqs := fc.brokers["broker-a"].requestsWithCode(protocol.ReqSendBatchMessage)
	if len(reqs) != 1 {
		t.Fatalf("%d SEND_BATCH_MESSAGE requests", len(reqs))
	}
	ext := reqs[0].ExtFields
	want := map[string]string{"a": "pg", "b": "batch", "c": "TBW102", "d": "4", "e": "0", "f": "0", "h": "0",
		"i": "", "j": "0", "k": "false", "l": "0", "m": "true"}
	for k, v := range want {
		if got, ok := ext[k]; !ok || got != v {
			t.Errorf("batch extField %s = %q (present %v), want %q", k, got, ok, v)
		}
	}
	if _, ok := ext["topic"]; ok {
		t.Error("batch header uses full names")
	}
	if ids := BatchIDs(res.OffsetMsgID); len(ids) != 3 || res.QueueOffset != 0 {
		t.Fatalf("batch result %+v", res)
	}
	body, _ := EncodeBatch(msgs)
	if !bytes.Equal(reqs[0].Body, body) {
		t.Fatal("batch body differs from EncodeBatch")
	}
	if _, err := p.SendBatch(context.Background(), []*Message{NewMessage("batch", []byte("x")), NewMessage("other", []byte("y"))}); err == nil {
		t.Fatal("mixed-topic batch accepted")
	}
	if _, err := p.SendBatch(context.Background(), []*Message{NewMessage("batch", []byte("x")).SetProperty(PropertyDelayLevel, "3")}); err == nil {
		t.Fatal("delayed batch accepted")
	}
}

func TestProducerAsyncAndOneway(t *testing.T) {
	fc := newFakeCluster(t, "broker-a")
	fc.createTopic("async", 2)
	p := newTestProducer(t, fc, nil)
	var wg sync.WaitGroup
	var mu sync.Mutex
	var results []*SendResult
	for range 10 {
		wg.Add(1)
		err := p.SendAsync(context.Background(), NewMessage("async", []byte("x")), func(r *SendResult, err error) {
			defer wg.Done()
			if err != nil {
				t.Errorf("async callback error: %v", err)
				return
			}
			mu.Lock()
			results = append(results, r)
			mu.Unlock()
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	wg.Wait()
	if len(results) != 10 {
		t.Fatalf("%d async results", len(results))
	}
	if err := p.SendOneway(context.Background(), NewMessage("async", []byte("oneway"))); err != nil {
		t.Fatal(err)
	}
	b := fc.brokers["broker-a"]
	waitFor(t, 5*time.Second, "oneway request", func() bool { return len(b.requestsWithCode(protocol.ReqSendMessageV2)) == 11 })
	reqs := b.requestsWithCode(protocol.ReqSendMessageV2)
	if last := reqs[len(reqs)-1]; !last.IsOneway() || string(last.Body) != "oneway" {
		t.Fatalf("oneway request flag %d body %q", last.Flag, last.Body)
	}
	for _, r := range reqs[:10] {
		if r.IsOneway() {
			t.Fatal("async request has the oneway flag")
		}
	}
}

func TestProducerCompressesLargeBodies(t *testing.T) {
	fc := newFakeCluster(t, "broker-a")
	fc.createTopic("big", 1)
	p := newTestProducer(t, fc, nil)
	big := bytes.Repeat([]byte("0123456789"), 1000)
	if _, err := p.Send(context.Background(), NewMessage("big", big)); err != nil {
		t.Fatal(err)
	}
	req := fc.brokers["broker-a"].requestsWithCode(protocol.ReqSendMessageV2)[0]
	if sendExt(req)["sysFlag"] != "1" || len(req.Body) >= len(big) {
		t.Fatalf("sysFlag %q body %d bytes", sendExt(req)["sysFlag"], len(req.Body))
	}
	zr, err := zlib.NewReader(bytes.NewReader(req.Body))
	if err != nil {
		t.Fatal(err)
	}
	if got, _ := io.ReadAll(zr); !bytes.Equal(got, big) {
		t.Fatal("compressed body does not inflate to the original")
	}
	p2 := newTestProducer(t, fc, func(o *ProducerOptions) { o.CompressOver = -1 })
	if _, err := p2.Send(context.Background(), NewMessage("big", big)); err != nil {
		t.Fatal(err)
	}
	req = fc.brokers["broker-a"].requestsWithCode(protocol.ReqSendMessageV2)[1]
	if sendExt(req)["sysFlag"] != "0" || !bytes.Equal(req.Body, big) {
		t.Fatal("compression not disabled")
	}
}

func TestProducerRejectsInvalidMessages(t *testing.T) {
	fc := newFakeCluster(t, "broker-a")
	p := newTestProducer(t, fc, nil)
	bad := []*Message{
		nil,
		NewMessage("", []byte("x")),
		NewMessage("bad topic", []byte("x")),
		NewMessage(strings.Repeat("t", 128), []byte("x")),
		NewMessage("t", nil),
		NewMessage("t", []byte("x")).SetProperty("k", "v\x01"),
	}
	for i, m := range bad {
		var ie *InvalidMessageError
		if _, err := p.Send(context.Background(), m); !errors.As(err, &ie) {
			t.Errorf("message %d: err = %v, want InvalidMessageError", i, err)
		}
	}
	p.Close()
	if _, err := p.Send(context.Background(), NewMessage("t", []byte("x"))); !errors.Is(err, ErrClosed) {
		t.Errorf("send after Close: %v", err)
	}
	if _, err := NewProducer(nil, ProducerOptions{}); !errors.Is(err, ErrNoNameServer) {
		t.Errorf("producer without nameservers: %v", err)
	}
}

// sendExt returns a SEND_MESSAGE_V2 request's extFields under their full names.
func sendExt(r *protocol.RemotingCommand) map[string]string {
	names := map[string]string{
		"a": "producerGroup", "b": "topic", "c": "defaultTopic", "d": "defaultTopicQueueNums",
		"e": "queueId", "f": "sysFlag", "g": "bornTimestamp", "h": "flag", "i": "properties",
		"j": "reconsumeTimes", "k": "unitMode", "l": "maxReconsumeTimes", "m": "batch", "n": "bname",
	}
	out := map[string]string{}
	for k, v := range r.ExtFields {
		if n, ok := names[k]; ok && r.Code == protocol.ReqSendMessageV2 {
			k = n
		}
		out[k] = v
	}
	return out
}
