package client

import (
	"context"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/gorocket/gorocket/remoting"
	"github.com/gorocket/gorocket/remoting/protocol"
)

// fakeCluster is an in-memory nameserver plus brokers on a remoting.MemNetwork: enough of the
// protocol to exercise the producer and consumer (routes, send, batch, pull with a simple long
// poll, offsets, heartbeats, member lists), recording every request for header assertions.
type fakeCluster struct {
	t       *testing.T
	net     *remoting.MemNetwork
	nsAddr  string
	brokers map[string]*fakeBroker // by broker name

	mu     sync.Mutex
	topics map[string]int // topic -> queues per broker
}

type fakeBroker struct {
	name string
	addr string
	srv  *remoting.Server

	mu       sync.Mutex
	requests []*protocol.RemotingCommand
	queues   map[string][][]byte // "topic#qid" -> records
	offsets  map[string]int64    // "group#topic#qid"
	members  map[string]map[string]bool
	failures map[int32]int32 // request code -> response code to answer once
	phys     int64
	wake     chan struct{}
}

func newFakeCluster(t *testing.T, brokerNames ...string) *fakeCluster {
	t.Helper()
	fc := &fakeCluster{t: t, net: remoting.NewMemNetwork(), nsAddr: "ns:9876", brokers: map[string]*fakeBroker{}, topics: map[string]int{}}
	ns := remoting.NewServer(nil, remoting.ServerOptions{})
	ns.HandleFunc(protocol.ReqGetRouteInfoByTopic, fc.route)
	l, err := fc.net.Listen(fc.nsAddr)
	if err != nil {
		t.Fatal(err)
	}
	if err := ns.Start(l); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ns.Close() })
	for i, name := range brokerNames {
		b := &fakeBroker{name: name, addr: "127.0.0.1:" + strconv.Itoa(10911+10*i), queues: map[string][][]byte{},
			offsets: map[string]int64{}, members: map[string]map[string]bool{}, failures: map[int32]int32{}, wake: make(chan struct{})}
		b.srv = remoting.NewServer(nil, remoting.ServerOptions{})
		b.srv.Mux().HandleDefault(remoting.HandlerFunc(b.serve))
		l, err := fc.net.Listen(b.addr)
		if err != nil {
			t.Fatal(err)
		}
		if err := b.srv.Start(l); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { b.srv.Close() })
		fc.brokers[name] = b
	}
	fc.topics[CreateTopicKey] = 8
	return fc
}

func (fc *fakeCluster) options() Options {
	return Options{NameServers: []string{fc.nsAddr}, Timeout: 2 * time.Second,
		RemotingOptions: remoting.ClientOptions{Dialer: fc.net.Dial}}
}

func (fc *fakeCluster) createTopic(topic string, queues int) {
	fc.mu.Lock()
	fc.topics[topic] = queues
	fc.mu.Unlock()
}

func (fc *fakeCluster) route(_ context.Context, req *remoting.Request) (*protocol.RemotingCommand, error) {
	topic := req.Cmd.ExtField("topic")
	fc.mu.Lock()
	n, ok := fc.topics[topic]
	fc.mu.Unlock()
	if !ok {
		return protocol.NewResponse(protocol.RespTopicNotExist, "No topic route info in name server for the topic: "+topic), nil
	}
	r := &protocol.TopicRouteData{}
	for name, b := range fc.brokers {
		perm := protocol.PermRead | protocol.PermWrite
		if topic == CreateTopicKey {
			perm |= protocol.PermInherit
		}
		r.QueueDatas = append(r.QueueDatas, protocol.QueueData{BrokerName: name, ReadQueueNums: n, WriteQueueNums: n, Perm: perm})
		r.BrokerDatas = append(r.BrokerDatas, protocol.BrokerData{Cluster: "C", BrokerName: name, BrokerAddrs: map[int64]string{0: b.addr}})
	}
	body, err := r.Encode()
	if err != nil {
		return nil, err
	}
	resp := protocol.NewResponse(protocol.RespSuccess, "")
	resp.Body = body
	return resp, nil
}

func (b *fakeBroker) requestsWithCode(code int32) []*protocol.RemotingCommand {
	b.mu.Lock()
	defer b.mu.Unlock()
	var out []*protocol.RemotingCommand
	for _, r := range b.requests {
		if r.Code == code {
			out = append(out, r)
		}
	}
	return out
}

func (b *fakeBroker) failOnce(reqCode, respCode int32) {
	b.mu.Lock()
	b.failures[reqCode] = respCode
	b.mu.Unlock()
}

func (b *fakeBroker) committed(group, topic string, q int) (int64, bool) {
	b.mu.Lock()
	defer b.mu.Unlock()
	v, ok := b.offsets[fmt.Sprintf("%s#%s#%d", group, topic, q)]
	return v, ok
}

// appendLocked stores one message and returns its queue offset and offset id.
func (b *fakeBroker) appendLocked(topic string, qid int, body []byte, flag int32, sysFlag int, props string, born int64) (int64, string) {
	key := fmt.Sprintf("%s#%d", topic, qid)
	m := &MessageExt{Message: Message{Topic: topic, Body: body, Flag: flag, Properties: DecodeProperties(props)},
		QueueID: int32(qid), QueueOffset: int64(len(b.queues[key])), CommitLogOffset: b.phys, SysFlag: int32(sysFlag),
		BornTimestamp: born, BornHost: "127.0.0.1:40000", StoreTimestamp: time.Now().UnixMilli(), StoreHost: b.addr}
	rec, err := EncodeRecord(m)
	if err != nil {
		panic(err)
	}
	b.phys += int64(len(rec))
	b.queues[key] = append(b.queues[key], rec)
	close(b.wake)
	b.wake = make(chan struct{})
	msgs, _ := DecodeMessages(rec)
	return m.QueueOffset, msgs[0].OffsetMsgID
}

func sendResponse(id string, qid int, off int64) *protocol.RemotingCommand {
	return protocol.NewResponseWithHeader(protocol.RespSuccess, &protocol.SendMessageResponseHeader{MsgID: id, QueueID: qid, QueueOffset: off}, nil)
}

func (b *fakeBroker) serve(ctx context.Context, req *remoting.Request) (*protocol.RemotingCommand, error) {
	cmd := req.Cmd
	b.mu.Lock()
	b.requests = append(b.requests, cmd)
	if code, ok := b.failures[cmd.Code]; ok {
		delete(b.failures, cmd.Code)
		b.mu.Unlock()
		return protocol.NewResponse(code, "injected failure"), nil
	}
	b.mu.Unlock()
	switch cmd.Code {
	case protocol.ReqSendMessage, protocol.ReqSendMessageV2:
		h, err := protocol.DecodeSendMessageHeader(cmd.ExtFields, cmd.Code == protocol.ReqSendMessageV2)
		if err != nil {
			return nil, err
		}
		b.mu.Lock()
		off, id := b.appendLocked(h.Topic, h.QueueID, cmd.Body, int32(h.Flag), h.SysFlag, h.Properties, h.BornTimestamp)
		b.mu.Unlock()
		return sendResponse(id, h.QueueID, off), nil
	case protocol.ReqSendBatchMessage:
		h, err := protocol.DecodeSendMessageHeader(cmd.ExtFields, true)
		if err != nil {
			return nil, err
		}
		var ids []string
		var first int64 = -1
		b.mu.Lock()
		for body := cmd.Body; len(body) > 0; {
			total := int(binary.BigEndian.Uint32(body))
			flag := int32(binary.BigEndian.Uint32(body[12:]))
			bl := int(binary.BigEndian.Uint32(body[16:]))
			mb := body[20 : 20+bl]
			pl := int(binary.BigEndian.Uint16(body[20+bl:]))
			props := string(body[22+bl : 22+bl+pl])
			off, id := b.appendLocked(h.Topic, h.QueueID, mb, flag, 0, props, h.BornTimestamp)
			if first < 0 {
				first = off
			}
			ids = append(ids, id)
			body = body[total:]
		}
		b.mu.Unlock()
		joined := ""
		for i, id := range ids {
			if i > 0 {
				joined += ","
			}
			joined += id
		}
		return sendResponse(joined, h.QueueID, first), nil
	case protocol.ReqPullMessage:
		var h protocol.PullMessageRequestHeader
		if err := cmd.DecodeHeader(&h); err != nil {
			return nil, err
		}
		key := fmt.Sprintf("%s#%d", h.Topic, h.QueueID)
		deadline := time.After(time.Duration(h.SuspendTimeoutMillis) * time.Millisecond)
		for {
			b.mu.Lock()
			if h.SysFlag&protocol.PullFlagCommitOffset != 0 {
				b.offsets[fmt.Sprintf("%s#%s#%d", h.ConsumerGroup, h.Topic, h.QueueID)] = h.CommitOffset
			}
			recs := b.queues[key]
			maxOff := int64(len(recs))
			wake := b.wake
			if h.QueueOffset < maxOff {
				end := min(h.QueueOffset+int64(h.MaxMsgNums), maxOff)
				var body []byte
				for _, r := range recs[h.QueueOffset:end] {
					body = append(body, r...)
				}
				b.mu.Unlock()
				return protocol.NewResponseWithHeader(protocol.RespSuccess, &protocol.PullMessageResponseHeader{NextBeginOffset: end, MaxOffset: maxOff}, body), nil
			}
			b.mu.Unlock()
			if h.SysFlag&protocol.PullFlagSuspend == 0 {
				return protocol.NewResponseWithHeader(protocol.RespPullNotFound, &protocol.PullMessageResponseHeader{NextBeginOffset: h.QueueOffset, MaxOffset: maxOff}, nil), nil
			}
			select {
			case <-wake:
				continue
			case <-deadline:
			case <-ctx.Done():
			}
			return protocol.NewResponseWithHeader(protocol.RespPullNotFound, &protocol.PullMessageResponseHeader{NextBeginOffset: h.QueueOffset, MaxOffset: maxOff}, nil), nil
		}
	case protocol.ReqQueryConsumerOffset:
		var h protocol.QueryConsumerOffsetRequestHeader
		if err := cmd.DecodeHeader(&h); err != nil {
			return nil, err
		}
		if off, ok := b.committed(h.ConsumerGroup, h.Topic, h.QueueID); ok {
			return protocol.NewResponseWithHeader(protocol.RespSuccess, &protocol.OffsetResponseHeader{Offset: off}, nil), nil
		}
		return protocol.NewResponse(protocol.RespQueryNotFound, "Not found"), nil
	case protocol.ReqUpdateConsumerOffset:
		var h protocol.UpdateConsumerOffsetRequestHeader
		if err := cmd.DecodeHeader(&h); err != nil {
			return nil, err
		}
		b.mu.Lock()
		b.offsets[fmt.Sprintf("%s#%s#%d", h.ConsumerGroup, h.Topic, h.QueueID)] = h.CommitOffset
		b.mu.Unlock()
		return protocol.NewResponse(protocol.RespSuccess, ""), nil
	case protocol.ReqGetMaxOffset, protocol.ReqGetMinOffset:
		var h protocol.QueueRequestHeader
		if err := cmd.DecodeHeader(&h); err != nil {
			return nil, err
		}
		off := int64(0)
		if cmd.Code == protocol.ReqGetMaxOffset {
			b.mu.Lock()
			off = int64(len(b.queues[fmt.Sprintf("%s#%d", h.Topic, h.QueueID)]))
			b.mu.Unlock()
		}
		return protocol.NewResponseWithHeader(protocol.RespSuccess, &protocol.OffsetResponseHeader{Offset: off}, nil), nil
	case protocol.ReqHeartBeat:
		var hb protocol.HeartbeatData
		if err := json.Unmarshal(cmd.Body, &hb); err != nil {
			return nil, err
		}
		b.mu.Lock()
		for _, cd := range hb.ConsumerDataSet {
			if b.members[cd.GroupName] == nil {
				b.members[cd.GroupName] = map[string]bool{}
			}
			b.members[cd.GroupName][hb.ClientID] = true
		}
		b.mu.Unlock()
		return protocol.NewResponse(protocol.RespSuccess, ""), nil
	case protocol.ReqGetConsumerListByGroup:
		var h protocol.ConsumerGroupRequestHeader
		if err := cmd.DecodeHeader(&h); err != nil {
			return nil, err
		}
		b.mu.Lock()
		var ids []string
		for id := range b.members[h.ConsumerGroup] {
			ids = append(ids, id)
		}
		b.mu.Unlock()
		body, _ := json.Marshal(protocol.ConsumerListBody{ConsumerIDList: ids})
		resp := protocol.NewResponse(protocol.RespSuccess, "")
		resp.Body = body
		return resp, nil
	}
	return protocol.NewResponse(protocol.RespRequestCodeNotSupported, "not supported by the fake"), nil
}

// waitFor polls cond until it holds or the deadline passes.
func waitFor(t *testing.T, d time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %v waiting for %s", d, what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}
