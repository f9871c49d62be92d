package replication

import (
	"context"
	"fmt"
	"strconv"
	"sync"
	"testing"
	"time"

	rocketmq "github.com/apache/rocketmq-client-go/v2"
	"github.com/apache/rocketmq-client-go/v2/consumer"
	"github.com/apache/rocketmq-client-go/v2/primitive"
	"github.com/apache/rocketmq-client-go/v2/producer"

	"github.com/gorocket/gorocket/remoting/protocol"
	"github.com/gorocket/gorocket/test/cluster"
)

// realReceived counts what a real push consumer got, by body.
type realReceived struct {
	mu    sync.Mutex
	count map[string]int
}

func (r *realReceived) add(body string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.count[body]++
}

func (r *realReceived) missing(bodies []string) []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []string
	for _, b := range bodies {
		if r.count[b] == 0 {
			out = append(out, b)
		}
	}
	return out
}

func startRealConsumer(t *testing.T, c *cluster.Cluster, group, instance, topic string, handler func(*primitive.MessageExt), opts ...consumer.Option) rocketmq.PushConsumer {
	t.Helper()
	base := []consumer.Option{
		consumer.WithNameServer(primitive.NamesrvAddr(c.NamesrvAddrs())),
		consumer.WithGroupName(group),
		consumer.WithInstance(instance),
		consumer.WithConsumeFromWhere(consumer.ConsumeFromFirstOffset),
	}
	pc, err := rocketmq.NewPushConsumer(append(base, opts...)...)
	if err != nil {
		t.Fatal(err)
	}
	err = pc.Subscribe(topic, consumer.MessageSelector{}, func(_ context.Context, msgs ...*primitive.MessageExt) (consumer.ConsumeResult, error) {
		for _, m := range msgs {
			handler(m)
		}
		return consumer.ConsumeSuccess, nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := pc.Start(); err != nil {
		t.Fatalf("start consumer %s: %v", instance, err)
	}
	return pc
}

// TestRealClientConsumesFromSlaveWhileMasterDown: the unmodified rocketmq-client-go push consumer
// keeps consuming from the slave after the SYNC_MASTER is SIGKILLed (the route still lists the
// slave; the client finds it at its next route refresh), and once the master is back the
// consumer's progress reaches the master, so a restarted consumer of the group does not consume
// the messages again.
func TestRealClientConsumesFromSlaveWhileMasterDown(t *testing.T) {
	t.Parallel()
	c := startCluster(t, cluster.Options{Masters: 1, Slaves: 1, Mode: "sync"})
	master, slave := c.Broker("broker-a-0"), c.Broker("broker-a-1")
	const topic, group, n = "RealFailover", "CG_real_failover", 300
	createTopic(t, c, topic, 2)

	prod, err := rocketmq.NewProducer(producer.WithNameServer(primitive.NamesrvAddr(c.NamesrvAddrs())),
		producer.WithGroupName("PG_real_failover"), producer.WithRetry(2), producer.WithSendMsgTimeout(5*time.Second))
	if err != nil {
		t.Fatal(err)
	}
	if err := prod.Start(); err != nil {
		t.Fatal(err)
	}
	defer prod.Shutdown()
	var wave1 []string
	for i := 0; i < n; i++ {
		b := fmt.Sprintf("wave1-%03d", i)
		res, err := prod.SendSync(context.Background(), primitive.NewMessage(topic, []byte(b)))
		if err != nil || res.Status != primitive.SendOK {
			t.Fatalf("send %s: %v %v", b, res, err)
		}
		wave1 = append(wave1, b)
	}

	// The consumer blocks in its listener until the master is dead; flow control (4 cached
	// messages per queue, pulls of 2) keeps almost everything on the brokers meanwhile.
	gate := make(chan struct{})
	entered := make(chan struct{}, 1)
	got := &realReceived{count: map[string]int{}}
	c1 := startRealConsumer(t, c, group, "failover-1", topic, func(m *primitive.MessageExt) {
		select {
		case entered <- struct{}{}:
		default:
		}
		<-gate
		got.add(string(m.Body))
	}, consumer.WithPullBatchSize(2), consumer.WithPullThresholdForQueue(4), consumer.WithConsumeGoroutineNums(2))
	c1Closed := false
	defer func() {
		if !c1Closed {
			_ = c1.Shutdown()
		}
	}()
	select {
	case <-entered:
	case <-time.After(30 * time.Second):
		t.Fatal("the consumer received nothing from the master")
	}
	c.Kill(master.Name)
	slaveGetsBefore := slaveGets(t, c, slave.Addr)
	close(gate)

	cluster.Eventually(t, 90*time.Second, "every message consumed with the master down", func() error {
		if m := got.missing(wave1); len(m) > 0 {
			return fmt.Errorf("%d of %d not consumed yet, e.g. %s", len(m), n, m[0])
		}
		return nil
	})
	if served := slaveGets(t, c, slave.Addr) - slaveGetsBefore; served < n/2 {
		t.Fatalf("the slave served %d messages; most of the %d must have come from it", served, n)
	}

	// The master comes back: the consumer's progress reaches it (the client commits its in-memory
	// offsets to the master once its route lists the master again).
	c.Restart(master.Name)
	waitSlavesCaughtUp(t, c, master.Addr, 1, 30*time.Second)
	cluster.Eventually(t, 60*time.Second, "consumer offsets committed to the restarted master", func() error {
		for q := 0; q < 2; q++ {
			off, maxOff, err := groupOffset(master.Addr, group, topic, q)
			if err != nil {
				return err
			}
			if off != maxOff {
				return fmt.Errorf("queue %d: committed %d of %d", q, off, maxOff)
			}
		}
		return nil
	})
	if err := c1.Shutdown(); err != nil {
		t.Fatal(err)
	}
	c1Closed = true

	// (The real producer only sees the master again at its next 30 s route refresh; a fresh
	// lean-client producer sends the second wave.)
	var wave2 []string
	r2 := produceSized(context.Background(), newProducer(t, c), topic, "wave2", 20, 2, 0)
	if len(r2.ok) != 20 || r2.failed != 0 {
		t.Fatalf("second wave: %d ok, %d failed (%s)", len(r2.ok), r2.failed, r2.firstErr)
	}
	for _, s := range r2.ok {
		wave2 = append(wave2, s.body)
	}
	got2 := &realReceived{count: map[string]int{}}
	c2 := startRealConsumer(t, c, group, "failover-2", topic, func(m *primitive.MessageExt) { got2.add(string(m.Body)) })
	defer c2.Shutdown()
	cluster.Eventually(t, 60*time.Second, "the restarted consumer gets the new messages", func() error {
		if m := got2.missing(wave2); len(m) > 0 {
			return fmt.Errorf("%d of %d not consumed yet", len(m), len(wave2))
		}
		return nil
	})
	got2.mu.Lock()
	defer got2.mu.Unlock()
	for _, b := range wave1 {
		if got2.count[b] > 0 {
			t.Fatalf("the restarted consumer consumed %s again: the master did not learn the progress made on the slave", b)
		}
	}
}

// slaveGets returns the number of messages a broker served to pulls (msgGetTotalTodayNow).
func slaveGets(t *testing.T, c *cluster.Cluster, addr string) int64 {
	t.Helper()
	info, err := rt(c, addr)
	if err != nil {
		t.Fatal(err)
	}
	n, err := rtInt(info, "msgGetTotalTodayNow")
	if err != nil {
		t.Fatal(err)
	}
	return n
}

// groupOffset returns a group's committed offset of a queue and the queue's max offset.
func groupOffset(addr, group, topic string, q int) (int64, int64, error) {
	resp, err := invoke(addr, protocol.NewRequest(protocol.ReqQueryConsumerOffset,
		&protocol.QueryConsumerOffsetRequestHeader{ConsumerGroup: group, Topic: topic, QueueID: q}, nil))
	if err != nil {
		return 0, 0, err
	}
	if resp.Code != protocol.RespSuccess {
		return 0, 0, fmt.Errorf("query offset: code %d %s", resp.Code, resp.Remark)
	}
	off, err := strconv.ParseInt(resp.ExtField("offset"), 10, 64)
	if err != nil {
		return 0, 0, err
	}
	resp, err = invoke(addr, protocol.NewRequest(protocol.ReqGetMaxOffset, &protocol.QueueRequestHeader{Topic: topic, QueueID: q}, nil))
	if err != nil {
		return 0, 0, err
	}
	maxOff, err := strconv.ParseInt(resp.ExtField("offset"), 10, 64)
	return off, maxOff, err
}
