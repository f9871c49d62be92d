package broker

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/gorocket/gorocket/broker/client"
	"github.com/gorocket/gorocket/broker/internal/message"
	"github.com/gorocket/gorocket/internal/conf"
	"github.com/gorocket/gorocket/remoting"
	"github.com/gorocket/gorocket/remoting/protocol"
)

// testBroker starts a broker on 127.0.0.1:0 with a temporary store and no nameserver.
type testBroker struct {
	*Server
	dir string
	cl  *remoting.Client
}

func testConfig(dir string, mutate ...func(*conf.BrokerConfig)) conf.BrokerConfig {
	c := conf.DefaultBroker()
	c.BrokerName = "broker-t"
	c.BrokerIP1 = "127.0.0.1"
	c.StorePathRootDir = dir
	c.MapedFileSizeCommitLog = 8 << 20
	c.DefaultTopicQueueNums = 4
	c.MaxMessageSize = 1024
	c.MessageDelayLevel = "1s 1s 2s"
	for _, m := range mutate {
		m(&c)
	}
	return c.Resolve("host", dir)
}

func startTestBroker(t *testing.T, dir string, mutate ...func(*conf.BrokerConfig)) *testBroker {
	t.Helper()
	opts := OptionsFromConfig(testConfig(dir, mutate...))
	opts.ListenAddr = "127.0.0.1:0"
	opts.HousekeepingInterval = 100 * time.Millisecond
	s, err := New(nil, opts)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Start(); err != nil {
		t.Fatal(err)
	}
	tb := &testBroker{Server: s, dir: dir, cl: remoting.NewClient(nil, remoting.ClientOptions{})}
	t.Cleanup(func() { tb.stop(t) })
	return tb
}

func (tb *testBroker) stop(t *testing.T) {
	if tb.cl != nil {
		tb.cl.Close()
		tb.cl = nil
	}
	if err := tb.Close(); err != nil {
		t.Errorf("close: %v", err)
	}
}

func (tb *testBroker) call(t *testing.T, cmd *protocol.RemotingCommand) *protocol.RemotingCommand {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	resp, err := tb.cl.Invoke(ctx, tb.Addr().String(), cmd)
	if err != nil {
		t.Fatalf("invoke %s: %v", protocol.RequestCodeName(cmd.Code), err)
	}
	return resp
}

func sendHeader(topic string, qid int, props map[string]string) *protocol.SendMessageRequestHeader {
	return &protocol.SendMessageRequestHeader{ProducerGroup: "pg", Topic: topic, DefaultTopic: "TBW102",
		DefaultTopicQueueNums: 4, QueueID: qid, BornTimestamp: time.Now().UnixMilli(), Properties: message.FormatProperties(props),
		MaxReconsumeTimes: 16}
}

func (tb *testBroker) send(t *testing.T, topic string, qid int, body string, props map[string]string) *protocol.RemotingCommand {
	t.Helper()
	return tb.call(t, protocol.NewRequest(protocol.ReqSendMessage, sendHeader(topic, qid, props), []byte(body)))
}

func pullExt(group, topic string, qid int, off int64, sysFlag int, suspend time.Duration, sub string) map[string]string {
	return map[string]string{
		"consumerGroup": group, "topic": topic, "queueId": strconv.Itoa(qid), "queueOffset": strconv.FormatInt(off, 10),
		"maxMsgNums": "32", "sysFlag": strconv.Itoa(sysFlag), "commitOffset": "0",
		"suspendTimeoutMillis": strconv.FormatInt(suspend.Milliseconds(), 10), "subscription": sub, "subVersion": "0", "expressionType": "TAG",
	}
}

func (tb *testBroker) pull(t *testing.T, topic string, qid int, off int64, sub string) *protocol.RemotingCommand {
	t.Helper()
	return tb.call(t, protocol.NewRequest(protocol.ReqPullMessage, pullExt("g", topic, qid, off, protocol.PullFlagSubscription, 0, sub), nil))
}

func decodeAll(t *testing.T, body []byte) []message.Record {
	t.Helper()
	var out []message.Record
	for len(body) > 0 {
		r, err := message.DecodeRecord(body)
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, r)
		body = body[r.TotalSize:]
	}
	return out
}

func createTopic(t *testing.T, tb *testBroker, name string, queues int) {
	t.Helper()
	h := &protocol.CreateTopicRequestHeader{Topic: name, ReadQueueNums: queues, WriteQueueNums: queues, Perm: 6, TopicFilterType: "SINGLE_TAG"}
	if r := tb.call(t, protocol.NewRequest(protocol.ReqUpdateAndCreateTopic, h, nil)); r.Code != 0 {
		t.Fatalf("create topic: %d %s", r.Code, r.Remark)
	}
}

func TestBrokerSendPullRoundTrip(t *testing.T) {
	tb := startTestBroker(t, t.TempDir())
	createTopic(t, tb, "T", 2)
	for i := 0; i < 3; i++ {
		r := tb.send(t, "T", 1, "m"+strconv.Itoa(i), map[string]string{"TAGS": "A", "KEYS": "k" + strconv.Itoa(i), "UNIQ_KEY": "U" + strconv.Itoa(i)})
		if r.Code != 0 || r.ExtField("queueId") != "1" || r.ExtField("queueOffset") != strconv.Itoa(i) || len(r.ExtField("msgId")) != 32 {
			t.Fatalf("send %d: code %d ext %v remark %q", i, r.Code, r.ExtFields, r.Remark)
		}
		addr, phys, err := message.ParseOffsetMsgID(r.ExtField("msgId"))
		if err != nil || addr.String() != tb.AdvertisedAddr() {
			t.Fatalf("msgId %s decodes to %v (want %s) %v", r.ExtField("msgId"), addr, tb.AdvertisedAddr(), err)
		}
		raw := tb.call(t, protocol.NewRequest(protocol.ReqViewMessageByID, &protocol.ViewMessageRequestHeader{Offset: phys}, nil))
		if raw.Code != 0 || !strings.Contains(string(raw.Body), "m"+strconv.Itoa(i)) {
			t.Fatalf("view message by id: %d %q", raw.Code, raw.Remark)
		}
	}
	var recs []message.Record
	if err := waitFor(5*time.Second, func() error {
		r := tb.pull(t, "T", 1, 0, "*")
		if r.Code != 0 {
			return fmt.Errorf("pull code %d %s", r.Code, r.Remark)
		}
		recs = decodeAll(t, r.Body)
		if len(recs) != 3 || r.ExtField("nextBeginOffset") != "3" || r.ExtField("maxOffset") != "3" || r.ExtField("minOffset") != "0" || r.ExtField("suggestWhichBrokerId") != "0" {
			return fmt.Errorf("pull got %d records, ext %v", len(recs), r.ExtFields)
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	for i, rec := range recs {
		props := message.ParseProperties(rec.Properties)
		if string(rec.Body) != "m"+strconv.Itoa(i) || rec.QueueOffset != int64(i) || rec.Topic != "T" ||
			props["CLUSTER"] != "DefaultCluster" || props["TAGS"] != "A" || rec.StoreHost.String() != tb.AdvertisedAddr() {
			t.Fatalf("record %d: %+v props %v", i, rec, props)
		}
	}
	// Query by key through the index.
	q := tb.call(t, protocol.NewRequest(protocol.ReqQueryMessage, &protocol.QueryMessageRequestHeader{Topic: "T", Key: "k1", MaxNum: 32, BeginTimestamp: 0, EndTimestamp: time.Now().Add(time.Hour).UnixMilli()}, nil))
	if q.Code != 0 || len(decodeAll(t, q.Body)) != 1 || !strings.Contains(string(q.Body), "m1") {
		t.Fatalf("query by key: %d %q", q.Code, q.Remark)
	}
}

func waitFor(d time.Duration, f func() error) error {
	deadline := time.Now().Add(d)
	for {
		err := f()
		if err == nil || time.Now().After(deadline) {
			return err
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func TestBrokerSendChecks(t *testing.T) {
	tb := startTestBroker(t, t.TempDir())
	createTopic(t, tb, "T", 2)
	big := strings.Repeat("x", 2000)
	tests := []struct {
		name   string
		topic  string
		qid    int
		body   string
		code   int32
		remark string
	}{
		{"ok", "T", 0, "x", protocol.RespSuccess, ""},
		{"illegal name", "bad topic", 0, "x", protocol.RespSystemError, "illegal"},
		{"too long", strings.Repeat("a", 128), 0, "x", protocol.RespSystemError, "longer"},
		{"reserved", "SCHEDULE_TOPIC_XXXX", 0, "x", protocol.RespNoPermission, "forbidden"},
		{"queue out of range", "T", 5, "x", protocol.RespSystemError, "queueId"},
		{"oversize", "T", 0, big, protocol.RespMessageIllegal, "max value"},
		{"auto-create", "NewAuto", 3, "x", protocol.RespSuccess, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := tb.send(t, tt.topic, tt.qid, tt.body, nil)
			if r.Code != tt.code || !strings.Contains(r.Remark, tt.remark) {
				t.Fatalf("code %d remark %q, want %d containing %q", r.Code, r.Remark, tt.code, tt.remark)
			}
		})
	}
	tc, ok := tb.topics.Get("NewAuto")
	if !ok || tc.WriteQueueNums != 4 || tc.Perm != 6 {
		t.Fatalf("auto-created topic %+v %v", tc, ok)
	}
	// Batch: consecutive offsets, comma-joined ids, no DELAY allowed.
	items := []message.BatchItem{{Body: []byte("b0")}, {Body: []byte("b1"), Properties: "TAGS\x01x\x02"}, {Body: []byte("b2")}}
	h := sendHeader("T", 1, nil)
	r := tb.call(t, &protocol.RemotingCommand{Code: protocol.ReqSendBatchMessage, Language: protocol.DefaultLanguage, Version: protocol.CurrentVersion,
		ExtFields: protocol.EncodeSendMessageHeaderV2(*h), Body: message.EncodeBatch(items)})
	if r.Code != 0 || len(strings.Split(r.ExtField("msgId"), ",")) != 3 || r.ExtField("queueOffset") != "0" {
		t.Fatalf("batch: %d %q %v", r.Code, r.Remark, r.ExtFields)
	}
	h.Properties = "DELAY\x012\x02"
	r = tb.call(t, &protocol.RemotingCommand{Code: protocol.ReqSendBatchMessage, Language: protocol.DefaultLanguage, Version: protocol.CurrentVersion,
		ExtFields: protocol.EncodeSendMessageHeaderV2(*h), Body: message.EncodeBatch(items)})
	if r.Code != protocol.RespMessageIllegal {
		t.Fatalf("batch with delay: %d %q", r.Code, r.Remark)
	}
}

func TestBrokerSlaveRefusesWrites(t *testing.T) {
	tb := startTestBroker(t, t.TempDir(), func(c *conf.BrokerConfig) { c.BrokerRole = conf.RoleSlave; c.BrokerID = 1 })
	if r := tb.send(t, "TBW102", 0, "x", nil); r.Code != protocol.RespServiceNotAvailable {
		t.Fatalf("slave send: %d %q", r.Code, r.Remark)
	}
}

func TestBrokerPullStatusTable(t *testing.T) {
	tb := startTestBroker(t, t.TempDir())
	createTopic(t, tb, "P", 1)
	for i := 0; i < 5; i++ {
		tags := "A"
		if i == 4 {
			tags = "B"
		}
		tb.send(t, "P", 0, "m", map[string]string{"TAGS": tags})
	}
	if err := waitFor(5*time.Second, func() error {
		if n := tb.store.MaxOffset("P", 0); n != 5 {
			return fmt.Errorf("max offset %d", n)
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	createTopic(t, tb, "Empty", 1)
	tests := []struct {
		name      string
		topic     string
		off       int64
		sub       string
		code      int32
		nextBegin string
	}{
		{"found", "P", 0, "*", protocol.RespSuccess, "5"},
		{"found filtered", "P", 0, "B", protocol.RespSuccess, "5"},
		{"no match", "P", 0, "C", protocol.RespPullRetryImmediately, "5"},
		{"overflow one", "P", 5, "*", protocol.RespPullNotFound, "5"},
		{"overflow badly (min 0: Java corrects to min)", "P", 9, "*", protocol.RespPullOffsetMoved, "0"},
		{"empty queue at 0", "Empty", 0, "*", protocol.RespPullNotFound, "0"},
		{"empty queue at 3", "Empty", 3, "*", protocol.RespPullOffsetMoved, "0"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := tb.pull(t, tt.topic, 0, tt.off, tt.sub)
			if r.Code != tt.code || r.ExtField("nextBeginOffset") != tt.nextBegin {
				t.Fatalf("code %d next %q (%v), want %d next %s", r.Code, r.ExtField("nextBeginOffset"), r.ExtFields, tt.code, tt.nextBegin)
			}
			for _, k := range []string{"minOffset", "maxOffset", "suggestWhichBrokerId"} {
				if _, ok := r.ExtFields[k]; !ok {
					t.Fatalf("missing %s", k)
				}
			}
		})
	}
	// Without the subscription flag and without a heartbeat: SUBSCRIPTION_NOT_EXIST.
	r := tb.call(t, protocol.NewRequest(protocol.ReqPullMessage, pullExt("nohb", "P", 0, 0, 0, 0, ""), nil))
	if r.Code != protocol.RespSubscriptionNotExist {
		t.Fatalf("pull without subscription: %d", r.Code)
	}
	r = tb.call(t, protocol.NewRequest(protocol.ReqPullMessage, pullExt("g", "Missing", 0, 0, protocol.PullFlagSubscription, 0, "*"), nil))
	if r.Code != protocol.RespTopicNotExist {
		t.Fatalf("pull unknown topic: %d", r.Code)
	}
}

func TestBrokerLongPolling(t *testing.T) {
	tb := startTestBroker(t, t.TempDir())
	createTopic(t, tb, "L", 1)
	// Times out with PULL_NOT_FOUND after the suspend time, not before.
	start := time.Now()
	r := tb.call(t, protocol.NewRequest(protocol.ReqPullMessage, pullExt("g", "L", 0, 0, protocol.PullFlagSubscription|protocol.PullFlagSuspend, 300*time.Millisecond, "*"), nil))
	if r.Code != protocol.RespPullNotFound || time.Since(start) < 300*time.Millisecond {
		t.Fatalf("held pull: code %d after %v", r.Code, time.Since(start))
	}
	if tb.HeldPulls() != 0 {
		t.Fatalf("held %d after timeout", tb.HeldPulls())
	}
	// Woken by an arrival long before its 20 s suspend time.
	done := make(chan *protocol.RemotingCommand, 1)
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		resp, _ := tb.cl.Invoke(ctx, tb.Addr().String(), protocol.NewRequest(protocol.ReqPullMessage,
			pullExt("g", "L", 0, 0, protocol.PullFlagSubscription|protocol.PullFlagSuspend, 20*time.Second, "A"), nil))
		done <- resp
	}()
	if err := waitFor(5*time.Second, func() error {
		if tb.HeldPulls() != 1 {
			return fmt.Errorf("held %d", tb.HeldPulls())
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	tb.send(t, "L", 0, "other-tag", map[string]string{"TAGS": "B"}) // does not match: stays parked
	tb.send(t, "L", 0, "wanted", map[string]string{"TAGS": "A"})
	select {
	case resp := <-done:
		if resp == nil || resp.Code != 0 || !strings.Contains(string(resp.Body), "wanted") || strings.Contains(string(resp.Body), "other-tag") {
			t.Fatalf("woken pull: %v", resp)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("parked pull not woken by the arrival")
	}
}

func TestBrokerConsumerOffsets(t *testing.T) {
	dir := t.TempDir()
	tb := startTestBroker(t, dir)
	createTopic(t, tb, "O", 2)
	q := func(group string, qid int) *protocol.RemotingCommand {
		return tb.call(t, protocol.NewRequest(protocol.ReqQueryConsumerOffset, &protocol.QueryConsumerOffsetRequestHeader{ConsumerGroup: group, Topic: "O", QueueID: qid}, nil))
	}
	if r := q("g", 0); r.Code != 0 || r.ExtField("offset") != "0" {
		t.Fatalf("first boot: %d %v", r.Code, r.ExtFields)
	}
	tb.send(t, "O", 0, "x", nil)
	tb.call(t, protocol.NewRequest(protocol.ReqUpdateConsumerOffset, &protocol.UpdateConsumerOffsetRequestHeader{ConsumerGroup: "g", Topic: "O", QueueID: 0, CommitOffset: 7}, nil))
	if r := q("g", 0); r.Code != 0 || r.ExtField("offset") != "7" {
		t.Fatalf("committed: %d %v", r.Code, r.ExtFields)
	}
	// Pull commit-offset piggyback.
	ext := pullExt("g", "O", 1, 0, protocol.PullFlagSubscription|protocol.PullFlagCommitOffset, 0, "*")
	ext["commitOffset"] = "3"
	tb.call(t, protocol.NewRequest(protocol.ReqPullMessage, ext, nil))
	if r := q("g", 1); r.ExtField("offset") != "3" {
		t.Fatalf("piggyback commit: %v", r.ExtFields)
	}
	for _, code := range []int32{protocol.ReqGetMaxOffset, protocol.ReqGetMinOffset} {
		r := tb.call(t, protocol.NewRequest(code, &protocol.QueueRequestHeader{Topic: "O", QueueID: 0}, nil))
		if r.Code != 0 || r.ExtField("offset") == "" {
			t.Fatalf("%s: %d %v", protocol.RequestCodeName(code), r.Code, r.ExtFields)
		}
	}
	if err := waitFor(5*time.Second, func() error {
		r := tb.call(t, protocol.NewRequest(protocol.ReqGetMaxOffset, &protocol.QueueRequestHeader{Topic: "O", QueueID: 0}, nil))
		if r.ExtField("offset") != "1" {
			return fmt.Errorf("max offset %v", r.ExtFields)
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	r := tb.call(t, protocol.NewRequest(protocol.ReqSearchOffsetByTimestamp, &protocol.SearchOffsetRequestHeader{Topic: "O", QueueID: 0, Timestamp: time.Now().Add(time.Hour).UnixMilli()}, nil))
	if r.Code != 0 || r.ExtField("offset") == "" {
		t.Fatalf("search offset: %v", r.ExtFields)
	}
	// Restart: offsets and topics survive (persisted atomically).
	tb.stop(t)
	tb2 := startTestBroker(t, dir)
	tb = tb2
	if r := q("g", 0); r.ExtField("offset") != "7" {
		t.Fatalf("after restart: %v", r.ExtFields)
	}
	if _, ok := tb2.topics.Get("O"); !ok {
		t.Fatal("topic lost on restart")
	}
}

func TestBrokerHeartbeatNotifyAndLocks(t *testing.T) {
	tb := startTestBroker(t, t.TempDir())
	createTopic(t, tb, "H", 2)
	notified := make(chan string, 4)
	mk := func() *remoting.Client {
		c := remoting.NewClient(nil, remoting.ClientOptions{})
		c.HandleFunc(protocol.ReqNotifyConsumerIdsChanged, func(_ context.Context, r *remoting.Request) (*protocol.RemotingCommand, error) {
			notified <- r.Cmd.ExtField("consumerGroup")
			return nil, nil
		})
		t.Cleanup(func() { c.Close() })
		return c
	}
	c1, c2 := mk(), mk()
	hb := func(c *remoting.Client, id string) {
		body, _ := protocol.EncodeJSON(protocol.HeartbeatData{ClientID: id, ConsumerDataSet: []protocol.HeartbeatConsumer{{
			GroupName: "hg", ConsumeType: "CONSUME_PASSIVELY", MessageModel: "CLUSTERING", ConsumeFromWhere: "CONSUME_FROM_LAST_OFFSET",
			SubscriptionDataSet: []protocol.SubscriptionData{{Topic: "H", SubString: "*", ExpressionType: "TAG"}}}}})
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		r, err := c.Invoke(ctx, tb.Addr().String(), protocol.NewRequest(protocol.ReqHeartBeat, nil, body))
		if err != nil || r.Code != 0 {
			t.Fatalf("heartbeat: %v %v", r, err)
		}
	}
	list := func() []string {
		r := tb.call(t, protocol.NewRequest(protocol.ReqGetConsumerListByGroup, &protocol.ConsumerGroupRequestHeader{ConsumerGroup: "hg"}, nil))
		var b protocol.ConsumerListBody
		_ = protocol.DecodeJSON(r.Body, &b)
		return b.ConsumerIDList
	}
	hb(c1, "10.0.0.1@a")
	if got := list(); len(got) != 1 || got[0] != "10.0.0.1@a" {
		t.Fatalf("list after first heartbeat %v", got)
	}
	if _, ok := tb.topics.Get("%RETRY%hg"); !ok {
		t.Fatal("retry topic not created on heartbeat")
	}
	drain := func() {
		for {
			select {
			case <-notified:
			default:
				return
			}
		}
	}
	time.Sleep(50 * time.Millisecond)
	drain()
	hb(c2, "10.0.0.1@b")
	select {
	case g := <-notified:
		if g != "hg" {
			t.Fatalf("notified group %q", g)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("no NOTIFY_CONSUMER_IDS_CHANGED on join")
	}
	if got := list(); len(got) != 2 {
		t.Fatalf("list %v", got)
	}
	drain()
	c2.Close() // leaves: the remaining member is notified, the list shrinks
	select {
	case <-notified:
	case <-time.After(5 * time.Second):
		t.Fatal("no NOTIFY_CONSUMER_IDS_CHANGED on leave")
	}
	if err := waitFor(5*time.Second, func() error {
		if got := list(); len(got) != 1 {
			return fmt.Errorf("list %v", got)
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	// Queue locks.
	mq := protocol.BrokerMessageQueue{Topic: "H", BrokerName: "broker-t", QueueID: 0}
	lock := func(id string) []protocol.BrokerMessageQueue {
		body, _ := protocol.EncodeJSON(protocol.LockBatchRequestBody{ConsumerGroup: "hg", ClientID: id, MQSet: []protocol.BrokerMessageQueue{mq}})
		r := tb.call(t, protocol.NewRequest(protocol.ReqLockBatchMQ, nil, body))
		var out protocol.LockBatchResponseBody
		_ = protocol.DecodeJSON(r.Body, &out)
		return out.LockOKMQSet
	}
	if got := lock("a"); len(got) != 1 {
		t.Fatalf("lock a: %v", got)
	}
	if got := lock("b"); len(got) != 0 {
		t.Fatalf("lock b while held by a: %v", got)
	}
	body, _ := protocol.EncodeJSON(protocol.LockBatchRequestBody{ConsumerGroup: "hg", ClientID: "a", MQSet: []protocol.BrokerMessageQueue{mq}})
	tb.call(t, protocol.NewRequest(protocol.ReqUnlockBatchMQ, nil, body))
	if got := lock("b"); len(got) != 1 {
		t.Fatalf("lock b after unlock: %v", got)
	}
}

func TestBrokerSendBackRetryAndDLQ(t *testing.T) {
	tb := startTestBroker(t, t.TempDir())
	createTopic(t, tb, "R", 1)
	r := tb.send(t, "R", 0, "payload", map[string]string{"UNIQ_KEY": "U1", "TAGS": "t"})
	_, phys, _ := message.ParseOffsetMsgID(r.ExtField("msgId"))
	back := func(delay int, maxTimes int) *protocol.RemotingCommand {
		return tb.call(t, protocol.NewRequest(protocol.ReqConsumerSendMsgBack, &protocol.ConsumerSendMsgBackRequestHeader{
			Offset: phys, Group: "rg", DelayLevel: delay, OriginMsgID: "U1", OriginTopic: "R", MaxReconsumeTimes: &maxTimes}, nil))
	}
	if r := back(1, 16); r.Code != 0 {
		t.Fatalf("send back: %d %q", r.Code, r.Remark)
	}
	// Delay level 1 (1 s here) then it appears in %RETRY%rg with reconsumeTimes 1.
	var rec message.Record
	if err := waitFor(10*time.Second, func() error {
		p := tb.pull(t, "%RETRY%rg", 0, 0, "*")
		if p.Code != 0 {
			return fmt.Errorf("retry pull %d", p.Code)
		}
		rec = decodeAll(t, p.Body)[0]
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	props := message.ParseProperties(rec.Properties)
	if string(rec.Body) != "payload" || rec.ReconsumeTimes != 1 || props["RETRY_TOPIC"] != "R" || props["ORIGIN_MESSAGE_ID"] != "U1" || props["UNIQ_KEY"] != "U1" {
		t.Fatalf("retry record %+v props %v", rec, props)
	}
	// Max reconsume times reached → DLQ at once.
	if r := back(0, 0); r.Code != 0 {
		t.Fatalf("send back to DLQ: %d %q", r.Code, r.Remark)
	}
	if err := waitFor(5*time.Second, func() error {
		if p := tb.pull(t, "%DLQ%rg", 0, 0, "*"); p.Code != 0 {
			return fmt.Errorf("dlq pull %d", p.Code)
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	// Delayed send through the schedule topic.
	tb.send(t, "R", 0, "later", map[string]string{"DELAY": "1"})
	if err := waitFor(10*time.Second, func() error {
		p := tb.pull(t, "R", 0, 1, "*")
		if p.Code != 0 || !strings.Contains(string(p.Body), "later") {
			return fmt.Errorf("delayed message not delivered: %d", p.Code)
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
}

func TestBrokerAdminAndUnknownCode(t *testing.T) {
	tb := startTestBroker(t, t.TempDir())
	if r := tb.call(t, protocol.NewRequest(4242, nil, nil)); r.Code != protocol.RespRequestCodeNotSupported {
		t.Fatalf("unknown code: %d", r.Code)
	}
	createTopic(t, tb, "A1", 3)
	tb.send(t, "A1", 2, "x", nil)
	r := tb.call(t, protocol.NewRequest(protocol.ReqGetTopicStatsInfo, &protocol.TopicRequestHeader{Topic: "A1"}, nil))
	var st protocol.TopicStatsTable
	if err := st.Decode(r.Body); err != nil || len(st.OffsetTable) != 3 {
		t.Fatalf("topic stats: %v %v", st, err)
	}
	sg, _ := protocol.EncodeJSON(protocol.SubscriptionGroupConfig{GroupName: "sg1", ConsumeEnable: true, RetryQueueNums: 1, RetryMaxTimes: 3})
	if r := tb.call(t, protocol.NewRequest(protocol.ReqUpdateAndCreateSubscriptionGroup, nil, sg)); r.Code != 0 {
		t.Fatalf("create group: %d %q", r.Code, r.Remark)
	}
	r = tb.call(t, protocol.NewRequest(protocol.ReqGetAllSubscriptionGroupConfig, nil, nil))
	var w protocol.SubscriptionGroupWrapper
	if err := protocol.DecodeJSON(r.Body, &w); err != nil || w.SubscriptionGroupTable["sg1"].RetryMaxTimes != 3 {
		t.Fatalf("groups: %v %v", w, err)
	}
	tb.call(t, protocol.NewRequest(protocol.ReqUpdateConsumerOffset, &protocol.UpdateConsumerOffsetRequestHeader{ConsumerGroup: "sg1", Topic: "A1", QueueID: 2, CommitOffset: 1}, nil))
	r = tb.call(t, protocol.NewRequest(protocol.ReqGetConsumeStats, &protocol.GetConsumeStatsRequestHeader{ConsumerGroup: "sg1", Topic: "A1"}, nil))
	var cs protocol.ConsumeStats
	if err := cs.Decode(r.Body); err != nil || cs.OffsetTable[protocol.BrokerMessageQueue{Topic: "A1", BrokerName: "broker-t", QueueID: 2}].ConsumerOffset != 1 {
		t.Fatalf("consume stats: %+v %v", cs, err)
	}
	if r := tb.call(t, protocol.NewRequest(protocol.ReqDeleteSubscriptionGroup, &protocol.DeleteSubscriptionGroupRequestHeader{GroupName: "sg1", CleanOffset: true}, nil)); r.Code != 0 {
		t.Fatalf("delete group: %d", r.Code)
	}
	r = tb.call(t, protocol.NewRequest(protocol.ReqGetBrokerRuntimeInfo, nil, nil))
	var kv protocol.KVTable
	if err := protocol.DecodeJSON(r.Body, &kv); err != nil || kv.Table["msgPutTotalTodayNow"] != "1" || kv.Table["commitLogMaxOffset"] == "0" || kv.Table["brokerVersion"] != "409" {
		t.Fatalf("runtime info: %v %v", kv.Table, err)
	}
	r = tb.call(t, protocol.NewRequest(protocol.ReqGetBrokerConfig, nil, nil))
	if r.Code != 0 || !strings.Contains(string(r.Body), "brokerName=broker-t") {
		t.Fatalf("broker config: %q", r.Body)
	}
	if r := tb.call(t, protocol.NewRequest(protocol.ReqDeleteTopicInBroker, &protocol.TopicRequestHeader{Topic: "A1"}, nil)); r.Code != 0 {
		t.Fatalf("delete topic: %d %q", r.Code, r.Remark)
	}
	if _, ok := tb.topics.Get("A1"); ok {
		t.Fatal("topic still present")
	}
	if r := tb.call(t, protocol.NewRequest(protocol.ReqDeleteTopicInBroker, &protocol.TopicRequestHeader{Topic: "TBW102"}, nil)); r.Code == 0 {
		t.Fatal("system topic deleted")
	}
	_ = client.TagHash
}
