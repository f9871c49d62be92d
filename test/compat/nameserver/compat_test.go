package compat

import (
	"context"
	"encoding/binary"
	"fmt"
	"io"
	"net"
	"slices"
	"sort"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/apache/rocketmq-client-go/v2/admin"
	"github.com/apache/rocketmq-client-go/v2/primitive"
	"github.com/apache/rocketmq-client-go/v2/producer"
	"github.com/apache/rocketmq-client-go/v2/rlog"

	"github.com/gorocket/gorocket/nameserver"
	"github.com/gorocket/gorocket/remoting"
	"github.com/gorocket/gorocket/remoting/protocol"
)

func init() { rlog.SetLogLevel("fatal") }

func ctxT(t *testing.T, d time.Duration) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), d)
	t.Cleanup(cancel)
	return ctx
}

func waitFor(t *testing.T, timeout time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %v waiting for %s", timeout, what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func startNameserver(t *testing.T, expiry, scan time.Duration) *nameserver.Server {
	t.Helper()
	opts := nameserver.DefaultOptions()
	opts.ListenAddr = "127.0.0.1:0"
	opts.BrokerExpiry, opts.ScanInterval = expiry, scan
	ns := nameserver.New(nil, opts)
	if err := ns.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ns.Close() })
	return ns
}

// fakeBroker registers with the nameserver exactly like a broker (REGISTER_BROKER with a
// RegisterBrokerBody, masked CRC32, DataVersion bumped on every topic change, re-register
// on change) and serves the broker-side requests the Go admin API and producer send:
// UPDATE_AND_CREATE_TOPIC, DELETE_TOPIC_IN_BROKER, HEART_BEAT and SEND_MESSAGE.
type fakeBroker struct {
	t       *testing.T
	name    string
	addr    string // the address clients dial (our listener)
	ns      string
	nsCli   *remoting.Client
	srv     *remoting.Server
	mu      sync.Mutex
	topics  map[string]protocol.TopicConfig
	version protocol.DataVersion
	sent    map[string]int // topic → messages received
	created []createTopicHeader
	offset  int64
}

// createTopicHeader is UPDATE_AND_CREATE_TOPIC's header as the Go admin sends it.
type createTopicHeader struct {
	Topic           string `rmq:"topic,required"`
	DefaultTopic    string `rmq:"defaultTopic"`
	ReadQueueNums   int    `rmq:"readQueueNums,required"`
	WriteQueueNums  int    `rmq:"writeQueueNums,required"`
	Perm            int    `rmq:"perm,required"`
	TopicFilterType string `rmq:"topicFilterType"`
	TopicSysFlag    int    `rmq:"topicSysFlag"`
	Order           bool   `rmq:"order"`
}

func startFakeBroker(t *testing.T, ns, name string, tcs ...protocol.TopicConfig) *fakeBroker {
	t.Helper()
	b := &fakeBroker{
		t: t, name: name, ns: ns,
		nsCli:   remoting.NewClient(nil, remoting.ClientOptions{}),
		srv:     remoting.NewServer(nil, remoting.ServerOptions{}),
		topics:  map[string]protocol.TopicConfig{},
		version: protocol.DataVersion{Timestamp: time.Now().UnixMilli(), Counter: 1},
		sent:    map[string]int{},
	}
	// What every 4.9 broker registers: TBW102 (perm 7, so clients can auto-create) and the
	// cluster/broker-name topics.
	for _, tc := range append([]protocol.TopicConfig{
		topicConfig(protocol.DefaultTopic, 8, 7), topicConfig(protocol.DefaultCluster, 16, 7), topicConfig(name, 1, 7),
	}, tcs...) {
		b.topics[tc.TopicName] = tc
	}
	b.srv.HandleFunc(protocol.ReqUpdateAndCreateTopic, b.createTopic)
	b.srv.HandleFunc(protocol.ReqDeleteTopicInBroker, b.deleteTopic)
	b.srv.HandleFunc(protocol.ReqHeartBeat, func(context.Context, *remoting.Request) (*protocol.RemotingCommand, error) {
		return protocol.NewResponse(protocol.RespSuccess, ""), nil
	})
	b.srv.HandleFunc(protocol.ReqSendMessage, b.sendMessage)
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	if err := b.srv.Start(l); err != nil {
		t.Fatal(err)
	}
	b.addr = l.Addr().String()
	t.Cleanup(func() { b.srv.Close(); b.nsCli.Close() })
	if err := b.register(ctxT(t, 5*time.Second)); err != nil {
		t.Fatal(err)
	}
	return b
}

func topicConfig(name string, queues, perm int) protocol.TopicConfig {
	return protocol.TopicConfig{TopicName: name, ReadQueueNums: queues, WriteQueueNums: queues, Perm: perm, TopicFilterType: protocol.TopicFilterSingleTag}
}

func (b *fakeBroker) register(ctx context.Context) error {
	b.mu.Lock()
	body, err := protocol.EncodeRegisterBrokerBody(&protocol.RegisterBrokerBody{TopicConfigSerializeWrapper: protocol.TopicConfigSerializeWrapper{
		TopicConfigTable: maps(b.topics), DataVersion: b.version}}, false)
	b.mu.Unlock()
	if err != nil {
		return err
	}
	host, port, _ := net.SplitHostPort(b.addr)
	p, _ := strconv.Atoi(port)
	req := protocol.NewRequest(protocol.ReqRegisterBroker, &protocol.RegisterBrokerRequestHeader{
		BrokerName: b.name, BrokerAddr: b.addr, ClusterName: protocol.DefaultCluster,
		HAServerAddr: net.JoinHostPort(host, strconv.Itoa(p+1)), BrokerID: protocol.MasterID,
		BodyCrc32: protocol.MaskedCRC32(body),
	}, body)
	resp, err := b.nsCli.Invoke(ctx, b.ns, req)
	if err != nil {
		return err
	}
	return resp.Err()
}

func maps(m map[string]protocol.TopicConfig) map[string]protocol.TopicConfig {
	out := make(map[string]protocol.TopicConfig, len(m))
	for k, v := range m {
		out[k] = v
	}
	return out
}

func (b *fakeBroker) changed() {
	b.version.Counter++
	b.version.Timestamp = time.Now().UnixMilli()
}

func (b *fakeBroker) createTopic(ctx context.Context, req *remoting.Request) (*protocol.RemotingCommand, error) {
	var h createTopicHeader
	if err := req.Cmd.DecodeHeader(&h); err != nil {
		return nil, err
	}
	b.mu.Lock()
	b.created = append(b.created, h)
	b.topics[h.Topic] = protocol.TopicConfig{TopicName: h.Topic, ReadQueueNums: h.ReadQueueNums, WriteQueueNums: h.WriteQueueNums,
		Perm: h.Perm, TopicFilterType: h.TopicFilterType, TopicSysFlag: h.TopicSysFlag, Order: h.Order}
	b.changed()
	b.mu.Unlock()
	if err := b.register(ctx); err != nil { // a broker re-registers at once after a topic change
		return nil, err
	}
	return protocol.NewResponse(protocol.RespSuccess, ""), nil
}

func (b *fakeBroker) deleteTopic(ctx context.Context, req *remoting.Request) (*protocol.RemotingCommand, error) {
	var h struct {
		Topic string `rmq:"topic,required"`
	}
	if err := req.Cmd.DecodeHeader(&h); err != nil {
		return nil, err
	}
	b.mu.Lock()
	delete(b.topics, h.Topic)
	b.changed()
	b.mu.Unlock()
	return protocol.NewResponse(protocol.RespSuccess, ""), nil
}

func (b *fakeBroker) sendMessage(_ context.Context, req *remoting.Request) (*protocol.RemotingCommand, error) {
	var h struct {
		Topic   string `rmq:"topic,required"`
		QueueID int    `rmq:"queueId,required"`
	}
	if err := req.Cmd.DecodeHeader(&h); err != nil {
		return nil, err
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	if _, ok := b.topics[h.Topic]; !ok { // auto-create from TBW102, as a broker does
		b.topics[h.Topic] = topicConfig(h.Topic, 4, 6)
		b.changed()
	}
	b.sent[h.Topic]++
	b.offset++
	resp := protocol.NewResponse(protocol.RespSuccess, "")
	resp.SetExtField("msgId", fmt.Sprintf("7F00000100002A9F%016X", b.offset)) // a well-formed offsetMsgId
	resp.SetExtField("queueId", strconv.Itoa(h.QueueID))
	resp.SetExtField("queueOffset", strconv.FormatInt(b.offset-1, 10))
	resp.SetExtField("MSG_REGION", "DefaultRegion")
	resp.SetExtField("TRACE_ON", "false")
	return resp, nil
}

func (b *fakeBroker) sentTo(topic string) int {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.sent[topic]
}

// newAdmin returns a fresh real-client admin (fresh route cache) using our nameserver.
func newAdmin(t *testing.T, ns string) admin.Admin {
	t.Helper()
	a, err := admin.NewAdmin(admin.WithResolver(primitive.NewPassthroughResolver([]string{ns})))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { a.Close() })
	return a
}

func queues(mqs []*primitive.MessageQueue) []string {
	var out []string
	for _, q := range mqs {
		out = append(out, q.BrokerName+"/"+strconv.Itoa(q.QueueId))
	}
	sort.Strings(out)
	return out
}

func publishQueues(t *testing.T, ns, topic string) ([]string, error) {
	mqs, err := newAdmin(t, ns).FetchPublishMessageQueues(ctxT(t, 10*time.Second), topic)
	return queues(mqs), err
}

// TestGoAdminAgainstNameserver: the real admin API fetches routes and topic lists, creates
// a topic through a broker and sees it in the nameserver, and deletes it again.
func TestGoAdminAgainstNameserver(t *testing.T) {
	ns := startNameserver(t, 2*time.Minute, 10*time.Second)
	b := startFakeBroker(t, ns.Addr(), "broker-a", topicConfig("TopicTest", 4, 6))
	ctx := ctxT(t, 30*time.Second)

	got, err := publishQueues(t, ns.Addr(), "TopicTest")
	if err != nil {
		t.Fatal(err)
	}
	if want := []string{"broker-a/0", "broker-a/1", "broker-a/2", "broker-a/3"}; !slices.Equal(got, want) {
		t.Fatalf("publish queues %v, want %v", got, want)
	}
	if _, err := publishQueues(t, ns.Addr(), "NoSuchTopic"); err == nil {
		t.Fatal("route for a topic nobody registered")
	}

	a := newAdmin(t, ns.Addr())
	list, err := a.FetchAllTopicList(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"TBW102", "TopicTest", "DefaultCluster", "broker-a"} {
		if !slices.Contains(list.TopicList, want) {
			t.Fatalf("topic list %v lacks %s", list.TopicList, want)
		}
	}

	// CreateTopic goes to the broker, which re-registers; the nameserver then routes it.
	if err := a.CreateTopic(ctx, admin.WithTopicCreate("CreatedTopic"), admin.WithBrokerAddrCreate(b.addr),
		admin.WithReadQueueNums(3), admin.WithWriteQueueNums(3)); err != nil {
		t.Fatal(err)
	}
	b.mu.Lock()
	c := b.created[0]
	b.mu.Unlock()
	if c.Topic != "CreatedTopic" || c.Perm != 6 || c.TopicFilterType != "SINGLE_TAG" || c.DefaultTopic != "defaultTopic" {
		t.Fatalf("create header %+v", c)
	}
	got, err = publishQueues(t, ns.Addr(), "CreatedTopic")
	if err != nil || !slices.Equal(got, []string{"broker-a/0", "broker-a/1", "broker-a/2"}) {
		t.Fatalf("created topic queues %v, %v", got, err)
	}

	// DeleteTopic: DELETE_TOPIC_IN_BROKER to the broker, then DELETE_TOPIC_IN_NAMESRV to us.
	if err := a.DeleteTopic(ctx, admin.WithTopicDelete("CreatedTopic"), admin.WithBrokerAddrDelete(b.addr),
		admin.WithNameSrvAddr([]string{ns.Addr()})); err != nil {
		t.Fatal(err)
	}
	list, err = newAdmin(t, ns.Addr()).FetchAllTopicList(ctx)
	if err != nil || slices.Contains(list.TopicList, "CreatedTopic") {
		t.Fatalf("after delete: %v %v", list, err)
	}
	if _, err := publishQueues(t, ns.Addr(), "CreatedTopic"); err == nil {
		t.Fatal("deleted topic still routed")
	}
}

// TestGoProducerRoutesThroughNameserver: the real producer resolves routes from our
// nameserver and sends to the broker address in brokerAddrs (proving the compact JSON parses
// to a dialable address), including the TBW102 fallback for a topic that does not exist yet.
func TestGoProducerRoutesThroughNameserver(t *testing.T) {
	ns := startNameserver(t, 2*time.Minute, 10*time.Second)
	b := startFakeBroker(t, ns.Addr(), "broker-a", topicConfig("TopicTest", 4, 6))
	p, err := producer.NewDefaultProducer(
		producer.WithNsResolver(primitive.NewPassthroughResolver([]string{ns.Addr()})),
		producer.WithGroupName("compat_producer"),
		producer.WithInstanceName("compat-"+strconv.FormatInt(time.Now().UnixNano(), 10)),
		producer.WithRetry(0),
	)
	if err != nil {
		t.Fatal(err)
	}
	if err := p.Start(); err != nil {
		t.Fatal(err)
	}
	defer p.Shutdown()
	ctx := ctxT(t, 30*time.Second)
	for _, topic := range []string{"TopicTest", "AutoCreated"} {
		res, err := p.SendSync(ctx, primitive.NewMessage(topic, []byte("hello")))
		if err != nil {
			t.Fatalf("send to %s: %v", topic, err)
		}
		if res.Status != primitive.SendOK || res.MessageQueue.BrokerName != "broker-a" || len(res.OffsetMsgID) != 32 {
			t.Fatalf("send to %s: %+v", topic, res)
		}
		if b.sentTo(topic) != 1 {
			t.Fatalf("broker received %d messages on %s", b.sentTo(topic), topic)
		}
	}
}

// TestBrokerExpirySeenByGoClient: a broker whose registration connection closes disappears
// from the routes at once; one that stops re-registering disappears after the (short)
// expiry; one that keeps re-registering stays.
func TestBrokerExpirySeenByGoClient(t *testing.T) {
	ns := startNameserver(t, 1500*time.Millisecond, 50*time.Millisecond)
	keeper := startFakeBroker(t, ns.Addr(), "broker-keeper", topicConfig("KeeperTopic", 2, 6))
	closer := startFakeBroker(t, ns.Addr(), "broker-closer", topicConfig("CloserTopic", 2, 6))
	startFakeBroker(t, ns.Addr(), "broker-silent", topicConfig("SilentTopic", 2, 6)) // registers once, then stays silent

	stop := make(chan struct{})
	done := make(chan struct{})
	go func() { // the keeper heartbeats (re-registers) every 100 ms
		defer close(done)
		tick := time.NewTicker(100 * time.Millisecond)
		defer tick.Stop()
		for {
			select {
			case <-stop:
				return
			case <-tick.C:
				ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
				if err := keeper.register(ctx); err != nil {
					t.Errorf("keeper heartbeat: %v", err)
				}
				cancel()
			}
		}
	}()
	defer func() { close(stop); <-done }()

	for _, topic := range []string{"KeeperTopic", "CloserTopic", "SilentTopic"} {
		if _, err := publishQueues(t, ns.Addr(), topic); err != nil {
			t.Fatalf("%s before expiry: %v", topic, err)
		}
	}
	// Connection close: gone at once (well before the 1.5 s expiry could matter).
	start := time.Now()
	closer.nsCli.CloseConn(ns.Addr())
	waitFor(t, 5*time.Second, "CloserTopic to vanish", func() bool {
		_, err := publishQueues(t, ns.Addr(), "CloserTopic")
		return err != nil
	})
	if d := time.Since(start); d > time.Second {
		t.Fatalf("connection-close eviction took %v", d)
	}
	// No heartbeat: gone after the expiry.
	waitFor(t, 10*time.Second, "SilentTopic to expire", func() bool {
		_, err := publishQueues(t, ns.Addr(), "SilentTopic")
		return err != nil
	})
	if got, err := publishQueues(t, ns.Addr(), "KeeperTopic"); err != nil || len(got) != 2 {
		t.Fatalf("the heartbeating broker was evicted: %v %v", got, err)
	}
}

// TestMalformedFramesDoNotHurtOthers: oversized and garbage frames close only their own
// connection; the Go client keeps working against the same nameserver.
func TestMalformedFramesDoNotHurtOthers(t *testing.T) {
	ns := startNameserver(t, 2*time.Minute, 10*time.Second)
	startFakeBroker(t, ns.Addr(), "broker-a", topicConfig("TopicTest", 4, 6))
	a := newAdmin(t, ns.Addr())
	ctx := ctxT(t, 30*time.Second)
	if _, err := a.FetchAllTopicList(ctx); err != nil {
		t.Fatal(err)
	}
	for name, frame := range map[string][]byte{
		"oversized":         binary.BigEndian.AppendUint32(nil, 64<<20),
		"garbage header":    append(binary.BigEndian.AppendUint32(binary.BigEndian.AppendUint32(nil, 12), 8), "not json"...),
		"header too long":   append(binary.BigEndian.AppendUint32(binary.BigEndian.AppendUint32(nil, 6), 1000), '{', '}'),
		"negative length":   {0x80, 0, 0, 0},
		"unknown serialize": append(binary.BigEndian.AppendUint32(binary.BigEndian.AppendUint32(nil, 6), 5<<24|2), '{', '}'),
	} {
		nc, err := net.Dial("tcp", ns.Addr())
		if err != nil {
			t.Fatal(err)
		}
		if _, err := nc.Write(frame); err != nil {
			t.Fatal(err)
		}
		_ = nc.SetReadDeadline(time.Now().Add(5 * time.Second))
		if _, err := nc.Read(make([]byte, 1)); err != io.EOF {
			t.Fatalf("%s: connection not closed by the server: %v", name, err)
		}
		nc.Close()
		if got, err := publishQueues(t, ns.Addr(), "TopicTest"); err != nil || len(got) != 4 {
			t.Fatalf("%s: Go client broken afterwards: %v %v", name, got, err)
		}
		if _, err := a.FetchAllTopicList(ctx); err != nil {
			t.Fatalf("%s: existing client connection broken: %v", name, err)
		}
	}
}
