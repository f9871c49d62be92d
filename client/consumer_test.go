package client

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gorocket/gorocket/remoting/protocol"
)

func newTestConsumer(t *testing.T, fc *fakeCluster, mod func(*ConsumerOptions), h Handler) *Consumer {
	t.Helper()
	o := ConsumerOptions{Options: fc.options(), Group: "cg", Topic: "events", LongPoll: 500 * time.Millisecond,
		CommitInterval: 50 * time.Millisecond, RebalanceInterval: 100 * time.Millisecond, HeartbeatInterval: 50 * time.Millisecond}
	if mod != nil {
		mod(&o)
	}
	c, err := NewConsumer(nil, o, h)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// collector is a Handler that records message bodies.
type collector struct {
	mu   sync.Mutex
	got  []string
	tags []string
}

func (c *collector) handle(_ context.Context, msgs []*MessageExt) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, m := range msgs {
		c.got = append(c.got, string(m.Body))
		c.tags = append(c.tags, m.Tag())
	}
	return nil
}

func (c *collector) count() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.got)
}

func TestConsumerStandaloneConsumesAndCommits(t *testing.T) {
	fc := newFakeCluster(t, "broker-a", "broker-b")
	fc.createTopic("events", 2)
	p := newTestProducer(t, fc, nil)
	var col collector
	c := newTestConsumer(t, fc, func(o *ConsumerOptions) { o.Standalone = true; o.FromFirst = true }, col.handle)
	// Messages sent before the consumer starts are read from the first offset...
	for i := range 10 {
		if _, err := p.Send(context.Background(), NewMessage("events", []byte(fmt.Sprintf("m%02d", i)))); err != nil {
			t.Fatal(err)
		}
	}
	if err := c.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	if n := len(c.Assigned()); n != 4 {
		t.Fatalf("assigned %d queues, want 4", n)
	}
	// ...and those sent while it runs arrive through the long poll.
	for i := 10; i < 20; i++ {
		if _, err := p.Send(context.Background(), NewMessage("events", []byte(fmt.Sprintf("m%02d", i)))); err != nil {
			t.Fatal(err)
		}
	}
	waitFor(t, 10*time.Second, "20 messages", func() bool { return col.count() >= 20 })
	if err := c.Close(); err != nil {
		t.Fatalf("close: %v", err)
	}
	col.mu.Lock()
	got := slices.Clone(col.got)
	col.mu.Unlock()
	slices.Sort(got)
	if len(got) != 20 || got[0] != "m00" || got[19] != "m19" || slices.Compact(got) == nil || len(slices.Compact(got)) != 20 {
		t.Fatalf("consumed %v", got)
	}
	var total int64
	for name, b := range fc.brokers {
		for q := range 2 {
			off, ok := b.committed("cg", "events", q)
			if !ok {
				t.Fatalf("%s queue %d: no committed offset", name, q)
			}
			total += off
		}
	}
	if total != 20 {
		t.Fatalf("committed offsets sum to %d, want 20", total)
	}
	if c.Delivered() != 20 {
		t.Fatalf("Delivered = %d", c.Delivered())
	}
	// Pull requests carry the subscription and long-poll flags.
	pulls := fc.brokers["broker-a"].requestsWithCode(protocol.ReqPullMessage)
	if len(pulls) == 0 {
		t.Fatal("no pulls")
	}
	var h protocol.PullMessageRequestHeader
	if err := pulls[0].DecodeHeader(&h); err != nil {
		t.Fatal(err)
	}
	if h.SysFlag&(protocol.PullFlagSuspend|protocol.PullFlagSubscription) != protocol.PullFlagSuspend|protocol.PullFlagSubscription ||
		h.Subscription != "*" || h.ExpressionType != "TAG" || h.SuspendTimeoutMillis != 500 || h.MaxMsgNums != DefaultPullBatchSize {
		t.Fatalf("pull header %+v", h)
	}
}

func TestConsumerResumesFromCommittedOffsetAndStartsAtNewest(t *testing.T) {
	fc := newFakeCluster(t, "broker-a")
	fc.createTopic("events", 1)
	p := newTestProducer(t, fc, nil)
	for i := range 5 {
		if _, err := p.Send(context.Background(), NewMessage("events", []byte(fmt.Sprintf("old%d", i)))); err != nil {
			t.Fatal(err)
		}
	}
	// A new group without FromFirst starts at the newest message.
	var col collector
	c := newTestConsumer(t, fc, func(o *ConsumerOptions) { o.Standalone = true }, col.handle)
	if err := c.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	waitFor(t, 5*time.Second, "start offset", func() bool { return c.Offsets()[MessageQueue{Topic: "events", BrokerName: "broker-a"}] == 5 })
	if _, err := p.Send(context.Background(), NewMessage("events", []byte("new0"))); err != nil {
		t.Fatal(err)
	}
	waitFor(t, 5*time.Second, "new message", func() bool { return col.count() == 1 })
	c.Close()
	// A second consumer of the group resumes after "new0".
	var col2 collector
	c2 := newTestConsumer(t, fc, func(o *ConsumerOptions) { o.Standalone = true; o.FromFirst = true }, col2.handle)
	if _, err := p.Send(context.Background(), NewMessage("events", []byte("new1"))); err != nil {
		t.Fatal(err)
	}
	if err := c2.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	waitFor(t, 5*time.Second, "resumed message", func() bool { return col2.count() == 1 })
	if col.got[0] != "new0" || col2.got[0] != "new1" {
		t.Fatalf("first consumer %v, second %v", col.got, col2.got)
	}
}

func TestConsumerFiltersTags(t *testing.T) {
	fc := newFakeCluster(t, "broker-a")
	fc.createTopic("events", 1)
	p := newTestProducer(t, fc, nil)
	for i, tag := range []string{"A", "B", "C", "A", ""} {
		m := NewMessage("events", []byte(fmt.Sprint(i)))
		if tag != "" {
			m.WithTag(tag)
		}
		if _, err := p.Send(context.Background(), m); err != nil {
			t.Fatal(err)
		}
	}
	var col collector
	c := newTestConsumer(t, fc, func(o *ConsumerOptions) { o.Standalone = true; o.FromFirst = true; o.Expression = "A || C" }, col.handle)
	if err := c.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	waitFor(t, 5*time.Second, "all offsets consumed", func() bool { return c.Offsets()[MessageQueue{Topic: "events", BrokerName: "broker-a"}] == 5 })
	col.mu.Lock()
	defer col.mu.Unlock()
	if !slices.Equal(col.tags, []string{"A", "C", "A"}) {
		t.Fatalf("tags consumed %v", col.tags)
	}
}

func TestConsumerRedeliversAfterHandlerError(t *testing.T) {
	fc := newFakeCluster(t, "broker-a")
	fc.createTopic("events", 1)
	p := newTestProducer(t, fc, nil)
	if _, err := p.Send(context.Background(), NewMessage("events", []byte("x"))); err != nil {
		t.Fatal(err)
	}
	var calls atomic.Int32
	c := newTestConsumer(t, fc, func(o *ConsumerOptions) { o.Standalone = true; o.FromFirst = true }, func(_ context.Context, msgs []*MessageExt) error {
		if calls.Add(1) == 1 {
			return errors.New("transient")
		}
		return nil
	})
	if err := c.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	waitFor(t, 10*time.Second, "redelivery", func() bool { return c.Delivered() == 1 })
	if calls.Load() != 2 {
		t.Fatalf("handler called %d times, want 2", calls.Load())
	}
}

func TestConsumerClusteringSharesQueues(t *testing.T) {
	fc := newFakeCluster(t, "broker-a", "broker-b")
	fc.createTopic("events", 3)
	var col1, col2 collector
	c1 := newTestConsumer(t, fc, func(o *ConsumerOptions) { o.InstanceName = "one" }, col1.handle)
	if err := c1.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	if n := len(c1.Assigned()); n != 6 {
		t.Fatalf("single member holds %d queues, want 6", n)
	}
	c2 := newTestConsumer(t, fc, func(o *ConsumerOptions) { o.InstanceName = "two" }, col2.handle)
	if err := c2.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	waitFor(t, 10*time.Second, "rebalance to 3+3", func() bool { return len(c1.Assigned()) == 3 && len(c2.Assigned()) == 3 })
	a1, a2 := c1.Assigned(), c2.Assigned()
	for _, q := range a1 {
		if slices.Contains(a2, q) {
			t.Fatalf("queue %s owned by both members", QueueString(q))
		}
	}
	hbs := fc.brokers["broker-a"].requestsWithCode(protocol.ReqHeartBeat)
	if len(hbs) == 0 {
		t.Fatal("no heartbeat")
	}
	var hb protocol.HeartbeatData
	if err := protocol.DecodeJSON(hbs[0].Body, &hb); err != nil {
		t.Fatal(err)
	}
	if len(hb.ConsumerDataSet) != 1 || hb.ConsumerDataSet[0].GroupName != "cg" || hb.ConsumerDataSet[0].MessageModel != "CLUSTERING" ||
		hb.ConsumerDataSet[0].SubscriptionDataSet[0].Topic != "events" || hb.ClientID != c1.ClientID() {
		t.Fatalf("heartbeat %+v", hb)
	}
	// Messages to all queues are consumed exactly once between the two.
	p := newTestProducer(t, fc, nil)
	for i := range 30 {
		if _, err := p.Send(context.Background(), NewMessage("events", []byte(fmt.Sprint(i)))); err != nil {
			t.Fatal(err)
		}
	}
	waitFor(t, 10*time.Second, "30 messages", func() bool { return col1.count()+col2.count() == 30 })
	if col1.count() == 0 || col2.count() == 0 {
		t.Fatalf("one member consumed nothing: %d/%d", col1.count(), col2.count())
	}
}

func TestConsumerStartFailsWithoutRoute(t *testing.T) {
	fc := newFakeCluster(t, "broker-a")
	c := newTestConsumer(t, fc, nil, func(context.Context, []*MessageExt) error { return nil })
	if err := c.Start(context.Background()); !errors.Is(err, ErrTopicNotExist) {
		t.Fatalf("start on a missing topic: %v", err)
	}
}

func TestConsumerPullOnce(t *testing.T) {
	fc := newFakeCluster(t, "broker-a")
	fc.createTopic("events", 1)
	p := newTestProducer(t, fc, nil)
	for i := range 3 {
		if _, err := p.Send(context.Background(), NewMessage("events", []byte(fmt.Sprint(i)))); err != nil {
			t.Fatal(err)
		}
	}
	c := newTestConsumer(t, fc, nil, func(context.Context, []*MessageExt) error { return nil })
	q := MessageQueue{Topic: "events", BrokerName: "broker-a", QueueID: 0}
	res, err := c.Pull(context.Background(), q, 1, 1)
	if err != nil {
		t.Fatal(err)
	}
	if res.Status != PullFound || len(res.Messages) != 1 || string(res.Messages[0].Body) != "1" || res.NextBeginOffset != 2 || res.Messages[0].QueueOffset != 1 {
		t.Fatalf("pull result %+v", res)
	}
	res, err = c.Pull(context.Background(), q, 3, 1)
	if err != nil || res.Status != PullNoNewMsg {
		t.Fatalf("pull at the end: %+v %v", res, err)
	}
}
