package compat

import (
	"context"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/apache/rocketmq-client-go/v2/admin"
	"github.com/apache/rocketmq-client-go/v2/consumer"
	"github.com/apache/rocketmq-client-go/v2/primitive"
	"github.com/apache/rocketmq-client-go/v2/producer"

	"github.com/gorocket/gorocket/remoting/protocol"
)

// TestCompatSendModes: sync, async, oneway and batch sends, all consumed by a push consumer; on
// the single master and on the 2m-2s clusters (SYNC_MASTER sends are acknowledged by a slave).
func TestCompatSendModes(t *testing.T) {
	forTopologies(t, true, testSendModes)
}

func testSendModes(t *testing.T, tp *topology) {
	topic := uniq("SendModes")
	tp.createTopic(t, topic, 4/len(tp.masters))
	p := newProducer(t, tp.nsList())
	ctx := context.Background()
	var all []string

	syncBodies := bodies("sync", 10)
	for _, b := range syncBodies {
		msg := primitive.NewMessage(topic, []byte(b))
		msg.WithKeys([]string{"k-" + b})
		res, err := p.SendSync(ctx, msg)
		if err != nil {
			t.Fatalf("SendSync: %v", err)
		}
		if res.Status != primitive.SendOK || res.MsgID == "" || !isHex32(res.OffsetMsgID) || res.MessageQueue == nil || !slices.Contains(tp.brokerNames(), res.MessageQueue.BrokerName) {
			t.Fatalf("bad send result %+v", res)
		}
	}
	all = append(all, syncBodies...)

	asyncBodies := bodies("async", 10)
	var wg sync.WaitGroup
	var asyncFail atomic.Int32
	for _, b := range asyncBodies {
		wg.Add(1)
		err := p.SendAsync(ctx, func(_ context.Context, res *primitive.SendResult, err error) {
			defer wg.Done()
			if err != nil || res.Status != primitive.SendOK {
				asyncFail.Add(1)
			}
		}, primitive.NewMessage(topic, []byte(b)))
		if err != nil {
			t.Fatalf("SendAsync: %v", err)
		}
	}
	wg.Wait()
	if asyncFail.Load() != 0 {
		t.Fatalf("%d async sends failed", asyncFail.Load())
	}
	all = append(all, asyncBodies...)

	onewayBodies := bodies("oneway", 10)
	for _, b := range onewayBodies {
		if err := p.SendOneWay(ctx, primitive.NewMessage(topic, []byte(b))); err != nil {
			t.Fatalf("SendOneWay: %v", err)
		}
	}
	all = append(all, onewayBodies...)

	batchBodies := bodies("batch", 10)
	var batch []*primitive.Message
	for _, b := range batchBodies {
		batch = append(batch, primitive.NewMessage(topic, []byte(b)))
	}
	res, err := p.SendSync(ctx, batch...)
	if err != nil {
		t.Fatalf("batch SendSync: %v", err)
	}
	ids := strings.Split(res.OffsetMsgID, ",")
	if res.Status != primitive.SendOK || len(ids) != len(batch) {
		t.Fatalf("batch result: status %v, %d offset ids: %q", res.Status, len(ids), res.OffsetMsgID)
	}
	for _, id := range ids {
		if !isHex32(id) {
			t.Fatalf("batch offsetMsgId %q malformed", id)
		}
	}
	all = append(all, batchBodies...)

	r := newReceived()
	newConsumer(t, tp.nsList(), uniq("CG_send"), "c1", topic, "*", r)
	r.waitAll(t, all, 60*time.Second)
}

// TestCompatClusteringTwoInstances: two consumers of one group split the 4 queues (on the 2m-2s
// clusters: 2 queues on each master).
func TestCompatClusteringTwoInstances(t *testing.T) {
	forTopologies(t, true, testClusteringTwoInstances)
}

func testClusteringTwoInstances(t *testing.T, tp *topology) {
	topic := uniq("Cluster")
	group := uniq("CG_cluster")
	tp.createTopic(t, topic, 4/len(tp.masters))
	r := newReceived()
	newConsumer(t, tp.nsList(), group, "inst-a", topic, "*", r)
	newConsumer(t, tp.nsList(), group, "inst-b", topic, "*", r)
	p := newProducer(t, tp.nsList())
	var all []string
	split := false
	for round := 0; round < 20 && !split; round++ {
		bs := bodies("r"+strconv.Itoa(round), 8) // round-robin: two per queue
		for _, b := range bs {
			if _, err := p.SendSync(context.Background(), primitive.NewMessage(topic, []byte(b))); err != nil {
				t.Fatal(err)
			}
		}
		all = append(all, bs...)
		r.waitAll(t, bs, 60*time.Second)
		// Which consumer got which queue in this round.
		r.mu.Lock()
		qa, qb := map[string]bool{}, map[string]bool{}
		for _, m := range r.msgs {
			if !strings.HasPrefix(string(m.Body), "r"+strconv.Itoa(round)+"-") {
				continue
			}
			q := queueKey(m.Queue)
			if r.byConsumer["inst-a"][string(m.Body)] > 0 {
				qa[q] = true
			}
			if r.byConsumer["inst-b"][string(m.Body)] > 0 {
				qb[q] = true
			}
		}
		r.mu.Unlock()
		disjoint := true
		for q := range qa {
			if qb[q] {
				disjoint = false
			}
		}
		split = len(qa) == 2 && len(qb) == 2 && disjoint
		if !split {
			t.Logf("round %d: inst-a queues %v, inst-b queues %v (rebalancing)", round, sortedStrings(qa), sortedStrings(qb))
			time.Sleep(500 * time.Millisecond) // let the clients' rebalance settle before the next round
		}
	}
	if !split {
		t.Fatal("the two instances never split the 4 queues 2/2")
	}
	r.waitAll(t, all, 10*time.Second)
	if len(r.byConsumer["inst-a"]) == 0 || len(r.byConsumer["inst-b"]) == 0 {
		t.Fatalf("one instance got nothing: a=%d b=%d", len(r.byConsumer["inst-a"]), len(r.byConsumer["inst-b"]))
	}
}

// TestCompatBroadcasting: every instance of a broadcasting group gets every message.
func TestCompatBroadcasting(t *testing.T) {
	requireCluster(t)
	defer dumpOnFailure(t, sharedBrk, sharedNS)
	topic := uniq("Bcast")
	group := uniq("CG_bcast")
	createTopic(t, nsAddrs(), brokerAddr(), topic, 2)
	ra, rb := newReceived(), newReceived()
	newConsumer(t, nsAddrs(), group, "bc-a", topic, "*", ra, consumer.WithConsumerModel(consumer.BroadCasting))
	newConsumer(t, nsAddrs(), group, "bc-b", topic, "*", rb, consumer.WithConsumerModel(consumer.BroadCasting))
	p := newProducer(t, nsAddrs())
	bs := bodies("bcast", 12)
	for _, b := range bs {
		if _, err := p.SendSync(context.Background(), primitive.NewMessage(topic, []byte(b))); err != nil {
			t.Fatal(err)
		}
	}
	ra.waitAll(t, bs, 60*time.Second)
	rb.waitAll(t, bs, 60*time.Second)
}

// TestCompatTagFilter: "TagA || TagC" receives exactly the TagA and TagC messages; the broker
// filters by tag code (checked with a raw pull) and the client re-checks the tag.
func TestCompatTagFilter(t *testing.T) {
	requireCluster(t)
	defer dumpOnFailure(t, sharedBrk, sharedNS)
	topic := uniq("Tags")
	createTopic(t, nsAddrs(), brokerAddr(), topic, 1)
	p := newProducer(t, nsAddrs())
	var want []string
	for i := 0; i < 15; i++ {
		tag := []string{"TagA", "TagB", "TagC"}[i%3]
		b := tag + "-" + strconv.Itoa(i)
		msg := primitive.NewMessage(topic, []byte(b))
		msg.WithTag(tag)
		if _, err := p.SendSync(context.Background(), msg); err != nil {
			t.Fatal(err)
		}
		if tag != "TagB" {
			want = append(want, b)
		}
	}
	// Broker-side filtering: a raw pull with a subscription returns no TagB record.
	ext := map[string]string{
		"consumerGroup": uniq("CG_raw"), "topic": topic, "queueId": "0", "queueOffset": "0", "maxMsgNums": "32",
		"sysFlag": strconv.Itoa(protocol.PullFlagSubscription), "commitOffset": "0", "suspendTimeoutMillis": "0",
		"subscription": "TagA || TagC", "subVersion": "0", "expressionType": "TAG",
	}
	// SEND_OK means the message is in the commit log; its consume-queue entry is dispatched
	// asynchronously just after, so pull until the queue holds all 15 messages.
	var resp *protocol.RemotingCommand
	deadline := time.Now().Add(10 * time.Second)
	for {
		var err error
		resp, err = invoke(brokerAddr(), protocol.NewRequest(protocol.ReqPullMessage, ext, nil), 5*time.Second)
		if err != nil || resp.Code != protocol.RespSuccess {
			t.Fatalf("raw pull: %v %v", resp, err)
		}
		if resp.ExtField("maxOffset") == "15" || time.Now().After(deadline) {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	if strings.Contains(string(resp.Body), "TagB-") || strings.Count(string(resp.Body), "TagA-") != 5 || strings.Count(string(resp.Body), "TagC-") != 5 {
		t.Fatalf("broker did not filter by tag: body %q", resp.Body)
	}
	if resp.ExtField("nextBeginOffset") != "15" || resp.ExtField("maxOffset") != "15" || resp.ExtField("minOffset") != "0" {
		t.Fatalf("pull header %v", resp.ExtFields)
	}

	r := newReceived()
	newConsumer(t, nsAddrs(), uniq("CG_tags"), "tag-c", topic, "TagA || TagC", r)
	r.waitAll(t, want, 60*time.Second)
	// A TagC marker sent last arrives after everything before it in the queue.
	marker := primitive.NewMessage(topic, []byte("marker"))
	marker.WithTag("TagC")
	if _, err := p.SendSync(context.Background(), marker); err != nil {
		t.Fatal(err)
	}
	r.waitAll(t, []string{"marker"}, 30*time.Second)
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.tags["TagB"] != 0 {
		t.Fatalf("received %d TagB messages", r.tags["TagB"])
	}
}

// TestCompatOrderly: messages of one sharding key go to one queue and are consumed in order
// by an orderly consumer.
func TestCompatOrderly(t *testing.T) {
	forTopologies(t, true, testOrderly)
}

func testOrderly(t *testing.T, tp *topology) {
	topic := uniq("Orderly")
	tp.createTopic(t, topic, 4/len(tp.masters))
	p := newProducer(t, tp.nsList(), producer.WithQueueSelector(producer.NewHashQueueSelector()))
	const keys, perKey = 6, 15
	var all []string
	for i := 0; i < perKey; i++ {
		for k := 0; k < keys; k++ {
			key := "order-" + strconv.Itoa(k)
			b := key + "/" + strconv.Itoa(i)
			msg := primitive.NewMessage(topic, []byte(b))
			msg.WithShardingKey(key)
			msg.WithProperty("SEQ_KEY", key)
			msg.WithProperty("SEQ", strconv.Itoa(i))
			if _, err := p.SendSync(context.Background(), msg); err != nil {
				t.Fatal(err)
			}
			all = append(all, b)
		}
	}
	r := newReceived()
	newConsumer(t, tp.nsList(), uniq("CG_order"), "ord-1", topic, "*", r,
		consumer.WithConsumerOrder(true), consumer.WithRebalanceLockInterval(2*time.Second))
	r.waitAll(t, all, 60*time.Second)
	r.mu.Lock()
	defer r.mu.Unlock()
	queueOfKey := map[string]string{}
	for _, m := range r.msgs {
		k := m.GetProperty("SEQ_KEY")
		if q, ok := queueOfKey[k]; ok && q != queueKey(m.Queue) {
			t.Fatalf("key %s seen on queues %s and %s", k, q, queueKey(m.Queue))
		}
		queueOfKey[k] = queueKey(m.Queue)
	}
	for k, seq := range r.seqByKey {
		for i, n := range seq {
			if n != i {
				t.Fatalf("key %s consumed out of order: %v", k, seq)
			}
		}
	}
}

// TestCompatConsumerResumesFromCommittedOffset: a consumer restarted in the same group
// continues after the offset its predecessor committed.
func TestCompatConsumerResumesFromCommittedOffset(t *testing.T) {
	requireCluster(t)
	defer dumpOnFailure(t, sharedBrk, sharedNS)
	topic := uniq("Resume")
	group := uniq("CG_resume")
	createTopic(t, nsAddrs(), brokerAddr(), topic, 2)
	p := newProducer(t, nsAddrs())
	first := bodies("first", 10)
	for _, b := range first {
		if _, err := p.SendSync(context.Background(), primitive.NewMessage(topic, []byte(b))); err != nil {
			t.Fatal(err)
		}
	}
	r1 := newReceived()
	c1 := newConsumer(t, nsAddrs(), group, "res-1", topic, "*", r1)
	r1.waitAll(t, first, 60*time.Second)
	// The committed offsets reach the broker (periodic commit or pull piggyback).
	err := waitFor(20*time.Second, 100*time.Millisecond, func() error {
		total := int64(0)
		for q := 0; q < 2; q++ {
			off, err := queryConsumerOffset(group, topic, q)
			if err != nil {
				return err
			}
			total += off
		}
		if total != int64(len(first)) {
			return errorf("committed %d of %d", total, len(first))
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := c1.Shutdown(); err != nil {
		t.Fatal(err)
	}
	second := bodies("second", 10)
	for _, b := range second {
		if _, err := p.SendSync(context.Background(), primitive.NewMessage(topic, []byte(b))); err != nil {
			t.Fatal(err)
		}
	}
	r2 := newReceived()
	newConsumer(t, nsAddrs(), group, "res-2", topic, "*", r2)
	r2.waitAll(t, second, 60*time.Second)
	r2.mu.Lock()
	defer r2.mu.Unlock()
	for _, b := range first {
		if r2.total[b] > 0 {
			t.Fatalf("restarted consumer re-consumed %q (did not resume from the committed offset)", b)
		}
	}
}

func queryConsumerOffset(group, topic string, q int) (int64, error) {
	resp, err := invoke(brokerAddr(), protocol.NewRequest(protocol.ReqQueryConsumerOffset,
		&protocol.QueryConsumerOffsetRequestHeader{ConsumerGroup: group, Topic: topic, QueueID: q}, nil), 3*time.Second)
	if err != nil {
		return 0, err
	}
	if resp.Code != protocol.RespSuccess {
		return 0, nil
	}
	return strconv.ParseInt(resp.ExtField("offset"), 10, 64)
}

// TestCompatAdminCreateDeleteTopic: the Go admin creates and deletes a topic (on the 2m-2s
// clusters: on both masters; the slaves follow through their metadata sync).
func TestCompatAdminCreateDeleteTopic(t *testing.T) {
	forTopologies(t, true, testAdminCreateDeleteTopic)
}

func testAdminCreateDeleteTopic(t *testing.T, tp *topology) {
	topic := uniq("Admin")
	a := newAdmin(t, tp.nsList())
	ctx := context.Background()
	for _, m := range tp.masters {
		if err := a.CreateTopic(ctx, admin.WithTopicCreate(topic), admin.WithBrokerAddrCreate(m.addr),
			admin.WithReadQueueNums(3), admin.WithWriteQueueNums(3)); err != nil {
			t.Fatal(err)
		}
	}
	tp.waitRoute(t, topic, 3*len(tp.masters))
	for _, m := range tp.masters {
		if !hasTopic(t, m.addr, topic) {
			t.Fatalf("GET_ALL_TOPIC_CONFIG of %s does not list the new topic", m.name)
		}
	}
	waitSlavesTopic(t, tp, topic, true)
	for _, m := range tp.masters {
		if err := a.DeleteTopic(ctx, admin.WithTopicDelete(topic), admin.WithBrokerAddrDelete(m.addr),
			admin.WithNameSrvAddr(tp.nsList())); err != nil {
			t.Fatal(err)
		}
		if hasTopic(t, m.addr, topic) {
			t.Fatalf("topic still configured on %s after delete", m.name)
		}
	}
	waitSlavesTopic(t, tp, topic, false)
	// No nameserver has a route any more (the Go admin caches routes, so ask the nameservers).
	for _, ns := range tp.ns {
		err := waitFor(15*time.Second, 100*time.Millisecond, func() error {
			resp, err := invoke(ns.addr, protocol.NewRequest(protocol.ReqGetRouteInfoByTopic, &protocol.GetRouteInfoRequestHeader{Topic: topic}, nil), 3*time.Second)
			if err != nil {
				return err
			}
			if resp.Code != protocol.RespTopicNotExist {
				return errorf("route lookup at %s answered %d, want TOPIC_NOT_EXIST", ns.addr, resp.Code)
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
	}
}

// waitSlavesTopic waits until every slave of tp has (want) or no longer has topic.
func waitSlavesTopic(t *testing.T, tp *topology, topic string, want bool) {
	t.Helper()
	for _, s := range tp.slaves {
		if err := waitFor(15*time.Second, 50*time.Millisecond, func() error {
			if hasTopic(t, s.addr, topic) != want {
				return errorf("slave %s: has topic %s = %v, want %v", s.name, topic, !want, want)
			}
			return nil
		}); err != nil {
			t.Fatal(err)
		}
	}
}

// queueKey identifies a message queue across brokers.
func queueKey(q *primitive.MessageQueue) string {
	return q.BrokerName + "#" + strconv.Itoa(q.QueueId)
}

func brokerHasTopic(t *testing.T, topic string) bool {
	t.Helper()
	resp, err := invoke(brokerAddr(), protocol.NewRequest(protocol.ReqGetAllTopicConfig, nil, nil), 3*time.Second)
	if err != nil || resp.Code != protocol.RespSuccess {
		t.Fatalf("GET_ALL_TOPIC_CONFIG: %v %v", resp, err)
	}
	var w protocol.TopicConfigSerializeWrapper
	if err := protocol.DecodeJSON(resp.Body, &w); err != nil {
		t.Fatal(err)
	}
	_, ok := w.TopicConfigTable[topic]
	return ok
}
