package admin

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/gorocket/gorocket/client"
	"github.com/gorocket/gorocket/remoting"
	"github.com/gorocket/gorocket/remoting/protocol"
)

// recorder is an in-memory server answering with canned handlers and logging every request in
// arrival order across all servers of a test.
type recorder struct {
	mu  sync.Mutex
	log []string // "addr code"
	req map[string][]*protocol.RemotingCommand
}

func (r *recorder) record(addr string, cmd *protocol.RemotingCommand) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.log = append(r.log, addr+" "+protocol.RequestCodeName(cmd.Code))
	if r.req == nil {
		r.req = map[string][]*protocol.RemotingCommand{}
	}
	r.req[addr] = append(r.req[addr], cmd)
}

func (r *recorder) requests(addr string) []*protocol.RemotingCommand {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]*protocol.RemotingCommand(nil), r.req[addr]...)
}

type handlerMap map[int32]func(*protocol.RemotingCommand) *protocol.RemotingCommand

func serveMem(t *testing.T, mn *remoting.MemNetwork, rec *recorder, addr string, hs handlerMap) {
	t.Helper()
	s := remoting.NewServer(nil, remoting.ServerOptions{})
	s.Mux().HandleDefault(remoting.HandlerFunc(func(_ context.Context, req *remoting.Request) (*protocol.RemotingCommand, error) {
		rec.record(addr, req.Cmd)
		if h, ok := hs[req.Cmd.Code]; ok {
			return h(req.Cmd), nil
		}
		return protocol.NewResponse(protocol.RespSuccess, ""), nil
	}))
	l, err := mn.Listen(addr)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Start(l); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
}

func body(code int32, b []byte) *protocol.RemotingCommand {
	r := protocol.NewResponse(code, "")
	r.Body = b
	return r
}

const (
	brokerA  = "127.0.0.1:10911"
	brokerA1 = "127.0.0.1:10921" // slave of broker-a
	brokerB  = "127.0.0.1:10931"
)

func clusterInfoBody(t *testing.T) []byte {
	ci := protocol.ClusterInfo{
		BrokerAddrTable: map[string]protocol.BrokerData{
			"broker-a": {Cluster: "C1", BrokerName: "broker-a", BrokerAddrs: map[int64]string{0: brokerA, 1: brokerA1}},
			"broker-b": {Cluster: "C1", BrokerName: "broker-b", BrokerAddrs: map[int64]string{0: brokerB}},
		},
		ClusterAddrTable: map[string][]string{"C1": {"broker-a", "broker-b"}},
	}
	b, err := protocol.EncodeJSON(ci)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func routeBody(t *testing.T) []byte {
	r := protocol.TopicRouteData{
		QueueDatas: []protocol.QueueData{{BrokerName: "broker-a", ReadQueueNums: 2, WriteQueueNums: 2, Perm: 6}},
		BrokerDatas: []protocol.BrokerData{{Cluster: "C1", BrokerName: "broker-a",
			BrokerAddrs: map[int64]string{0: brokerA, 1: brokerA1}}},
	}
	b, err := r.Encode()
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// newTestAdmin starts two nameservers and three brokers in memory.
func newTestAdmin(t *testing.T, brokerHandlers handlerMap) (*Client, *recorder) {
	t.Helper()
	mn := remoting.NewMemNetwork()
	rec := &recorder{}
	ns := handlerMap{
		protocol.ReqGetBrokerClusterInfo: func(*protocol.RemotingCommand) *protocol.RemotingCommand {
			return body(protocol.RespSuccess, clusterInfoBody(t))
		},
		protocol.ReqGetRouteInfoByTopic: func(cmd *protocol.RemotingCommand) *protocol.RemotingCommand {
			if cmd.ExtField("topic") != "T" {
				return protocol.NewResponse(protocol.RespTopicNotExist, "no route")
			}
			return body(protocol.RespSuccess, routeBody(t))
		},
		protocol.ReqGetAllTopicListFromNameserver: func(*protocol.RemotingCommand) *protocol.RemotingCommand {
			return body(protocol.RespSuccess, []byte(`{"topicList":["T","A","T"]}`))
		},
	}
	serveMem(t, mn, rec, "ns1:9876", ns)
	serveMem(t, mn, rec, "ns2:9876", ns)
	for _, a := range []string{brokerA, brokerA1, brokerB} {
		serveMem(t, mn, rec, a, brokerHandlers)
	}
	c, err := New(nil, Options{NameServers: []string{"ns1:9876", "ns2:9876"}, Timeout: 2 * time.Second,
		RemotingOptions: remoting.ClientOptions{Dialer: mn.Dial}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c, rec
}

func TestCreateTopicOnClusterMastersOnly(t *testing.T) {
	c, rec := newTestAdmin(t, nil)
	done, err := c.CreateTopic(context.Background(), TopicSpec{Topic: "orders", Cluster: "C1", ReadQueues: 4, WriteQueues: 4})
	if err != nil {
		t.Fatal(err)
	}
	if len(done) != 2 || done[0] != brokerA || done[1] != brokerB {
		t.Fatalf("created on %v", done)
	}
	if n := len(rec.requests(brokerA1)); n != 0 {
		t.Fatalf("slave received %d requests", n)
	}
	req := rec.requests(brokerA)[0]
	want := map[string]string{"topic": "orders", "defaultTopic": "TBW102", "readQueueNums": "4", "writeQueueNums": "4",
		"perm": "6", "topicFilterType": "SINGLE_TAG", "order": "false"}
	for k, v := range want {
		if req.ExtFields[k] != v {
			t.Errorf("%s = %q, want %q", k, req.ExtFields[k], v)
		}
	}
	// One broker by address; errors for bad targets.
	if done, err := c.CreateTopic(context.Background(), TopicSpec{Topic: "x", BrokerAddr: brokerB}); err != nil || len(done) != 1 {
		t.Fatalf("by broker: %v %v", done, err)
	}
	if _, err := c.CreateTopic(context.Background(), TopicSpec{Topic: "x", Cluster: "nope"}); !errors.Is(err, ErrNoBroker) {
		t.Fatalf("unknown cluster: %v", err)
	}
	if _, err := c.CreateTopic(context.Background(), TopicSpec{Topic: "x"}); err == nil {
		t.Fatal("no target accepted")
	}
	if _, err := c.CreateTopic(context.Background(), TopicSpec{Topic: "x", Cluster: "C1", Perm: 16}); err == nil {
		t.Fatal("bad perm accepted")
	}
}

func TestCreateTopicReportsBrokerRefusal(t *testing.T) {
	c, _ := newTestAdmin(t, handlerMap{protocol.ReqUpdateAndCreateTopic: func(*protocol.RemotingCommand) *protocol.RemotingCommand {
		return protocol.NewResponse(protocol.RespSystemError, "The topic[x] is conflict with system topic.")
	}})
	_, err := c.CreateTopic(context.Background(), TopicSpec{Topic: "x", Cluster: "C1"})
	var re *protocol.ResponseError
	if !errors.As(err, &re) || re.Code != protocol.RespSystemError {
		t.Fatalf("err = %v", err)
	}
}

func TestDeleteTopicBrokersThenEveryNameserver(t *testing.T) {
	c, rec := newTestAdmin(t, nil)
	if err := c.DeleteTopic(context.Background(), "T", ""); err != nil {
		t.Fatal(err)
	}
	rec.mu.Lock()
	var order []string
	for _, l := range rec.log {
		if l != "ns1:9876 GET_ROUTEINFO_BY_TOPIC" {
			order = append(order, l)
		}
	}
	rec.mu.Unlock()
	want := []string{brokerA + " DELETE_TOPIC_IN_BROKER", "ns1:9876 DELETE_TOPIC_IN_NAMESRV", "ns2:9876 DELETE_TOPIC_IN_NAMESRV"}
	if len(order) != len(want) {
		t.Fatalf("requests %v, want %v", order, want)
	}
	for i := range want {
		if order[i] != want[i] {
			t.Fatalf("requests %v, want %v", order, want)
		}
	}
	if err := c.DeleteTopic(context.Background(), "missing", ""); !errors.Is(err, ErrTopicNotFound) {
		t.Fatalf("delete of a missing topic: %v", err)
	}
}

func TestTopicListSortedAndRouteNotFound(t *testing.T) {
	c, _ := newTestAdmin(t, nil)
	tl, err := c.TopicList(context.Background(), "")
	if err != nil || len(tl) != 2 || tl[0] != "A" || tl[1] != "T" {
		t.Fatalf("topic list %v %v", tl, err)
	}
	if _, err := c.TopicRoute(context.Background(), "nope"); !errors.Is(err, ErrTopicNotFound) {
		t.Fatalf("route of a missing topic: %v", err)
	}
	r, err := c.TopicRoute(context.Background(), "T")
	if err != nil || r.BrokerDatas[0].BrokerAddrs[1] != brokerA1 {
		t.Fatalf("route %+v %v", r, err)
	}
}

func TestTopicStatusAndConsumerProgressDecodeFastjsonBodies(t *testing.T) {
	mq := protocol.BrokerMessageQueue{Topic: "T", BrokerName: "broker-a", QueueID: 1}
	c, _ := newTestAdmin(t, handlerMap{
		protocol.ReqGetTopicStatsInfo: func(*protocol.RemotingCommand) *protocol.RemotingCommand {
			b, _ := protocol.TopicStatsTable{OffsetTable: map[protocol.BrokerMessageQueue]protocol.TopicOffset{
				mq: {MinOffset: 2, MaxOffset: 9, LastUpdateTimestamp: 1700000000000}}}.Encode()
			return body(protocol.RespSuccess, b)
		},
		protocol.ReqGetConsumeStats: func(*protocol.RemotingCommand) *protocol.RemotingCommand {
			b, _ := protocol.ConsumeStats{OffsetTable: map[protocol.BrokerMessageQueue]protocol.OffsetWrapper{
				mq: {BrokerOffset: 9, ConsumerOffset: 4}}, ConsumeTps: 1.5}.Encode()
			return body(protocol.RespSuccess, b)
		},
	})
	st, err := c.TopicStatus(context.Background(), "T")
	if err != nil || len(st) != 1 || st[0].MaxOffset != 9 || st[0].MinOffset != 2 || st[0].BrokerAddr != brokerA || st[0].LastUpdate.UnixMilli() != 1700000000000 {
		t.Fatalf("status %+v %v", st, err)
	}
	p, err := c.ConsumerProgress(context.Background(), "g", "T")
	if err != nil || len(p.Queues) != 1 || p.TotalDiff() != 5 || p.ConsumeTPS != 1.5 {
		t.Fatalf("progress %+v %v", p, err)
	}
}

func TestQueryMessageByOffsetAndUniqueKey(t *testing.T) {
	rec1, _ := client.EncodeRecord(&client.MessageExt{
		Message: client.Message{Topic: "T", Body: []byte("hello"), Properties: map[string]string{"UNIQ_KEY": "ABC", "KEYS": "k1"}},
		QueueID: 1, QueueOffset: 5, CommitLogOffset: 777, BornHost: "127.0.0.1:1", StoreHost: brokerA,
	})
	c, rec := newTestAdmin(t, handlerMap{
		protocol.ReqPullMessage: func(cmd *protocol.RemotingCommand) *protocol.RemotingCommand {
			if cmd.ExtField("queueOffset") != "5" {
				return protocol.NewResponseWithHeader(protocol.RespPullOffsetMoved, &protocol.PullMessageResponseHeader{MaxOffset: 6}, nil)
			}
			return body(protocol.RespSuccess, rec1)
		},
		protocol.ReqQueryMessage: func(cmd *protocol.RemotingCommand) *protocol.RemotingCommand {
			if cmd.ExtField("key") == "k1" || cmd.ExtField("key") == "ABC" {
				return body(protocol.RespSuccess, rec1)
			}
			return protocol.NewResponse(protocol.RespQueryNotFound, "can not find message")
		},
		protocol.ReqViewMessageByID: func(cmd *protocol.RemotingCommand) *protocol.RemotingCommand {
			return body(protocol.RespSuccess, rec1)
		},
	})
	ctx := context.Background()
	m, err := c.QueryMessageByOffset(ctx, client.MessageQueue{Topic: "T", BrokerName: "broker-a", QueueID: 1}, 5)
	if err != nil || string(m.Body) != "hello" {
		t.Fatalf("by offset: %+v %v", m, err)
	}
	pull := rec.requests(brokerA)[0]
	if pull.ExtField("consumerGroup") != ToolsConsumerGroup || pull.ExtField("maxMsgNums") != "1" || pull.ExtField("sysFlag") != "4" {
		t.Fatalf("pull ext %v", pull.ExtFields)
	}
	if _, err := c.QueryMessageByOffset(ctx, client.MessageQueue{Topic: "T", BrokerName: "broker-a", QueueID: 1}, 50); !errors.Is(err, ErrMessageNotFound) {
		t.Fatalf("offset past the end: %v", err)
	}
	ms, err := c.QueryMessageByKey(ctx, "T", "k1", 0, time.Time{}, time.Time{})
	if err != nil || len(ms) != 1 {
		t.Fatalf("by key: %v %v", ms, err)
	}
	if _, err := c.QueryMessageByKey(ctx, "T", "nokey", 0, time.Time{}, time.Time{}); !errors.Is(err, ErrMessageNotFound) {
		t.Fatalf("missing key: %v", err)
	}
	ms, err = c.QueryMessageByUniqueKey(ctx, "T", "ABC")
	if err != nil || len(ms) != 1 || ms[0].UniqKey() != "ABC" {
		t.Fatalf("by unique key: %v %v", ms, err)
	}
	q := rec.requests(brokerA)
	if last := q[len(q)-1]; last.ExtField("_UNIQUE_KEY_QUERY") != "true" {
		t.Fatalf("unique query ext %v", last.ExtFields)
	}
	// An offset message id not in the index is read from the broker it names.
	id := ms[0].OffsetMsgID
	ms, err = c.QueryMessageByUniqueKey(ctx, "T", id)
	if err != nil || len(ms) != 1 || ms[0].CommitLogOffset != 777 {
		t.Fatalf("by offset msg id: %v %v", ms, err)
	}
	q = rec.requests(brokerA)
	if last := q[len(q)-1]; last.Code != protocol.ReqViewMessageByID || last.ExtField("offset") != "777" {
		t.Fatalf("view request %v", last)
	}
}

func TestNewRequiresNameServer(t *testing.T) {
	if _, err := New(nil, Options{}); !errors.Is(err, ErrNoNameServer) {
		t.Fatalf("err = %v", err)
	}
}
