package compat

import (
	"context"
	"fmt"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	rocketmq "github.com/apache/rocketmq-client-go/v2"
	"github.com/apache/rocketmq-client-go/v2/admin"
	"github.com/apache/rocketmq-client-go/v2/consumer"
	"github.com/apache/rocketmq-client-go/v2/primitive"
	"github.com/apache/rocketmq-client-go/v2/producer"
)

// received records what consumers got: body → count, per consumer and queue.
type received struct {
	mu         sync.Mutex
	total      map[string]int
	byConsumer map[string]map[string]int
	queues     map[string]map[int]bool // consumer → queue ids it got messages from
	seqByKey   map[string][]int
	tags       map[string]int
	msgs       []*primitive.MessageExt
}

func newReceived() *received {
	return &received{total: map[string]int{}, byConsumer: map[string]map[string]int{},
		queues: map[string]map[int]bool{}, seqByKey: map[string][]int{}, tags: map[string]int{}}
}

func (r *received) handler(name string) func(context.Context, ...*primitive.MessageExt) (consumer.ConsumeResult, error) {
	return func(_ context.Context, msgs ...*primitive.MessageExt) (consumer.ConsumeResult, error) {
		r.mu.Lock()
		defer r.mu.Unlock()
		for _, m := range msgs {
			b := string(m.Body)
			r.total[b]++
			if r.byConsumer[name] == nil {
				r.byConsumer[name] = map[string]int{}
				r.queues[name] = map[int]bool{}
			}
			r.byConsumer[name][b]++
			r.queues[name][m.Queue.QueueId] = true
			r.tags[m.GetTags()]++
			r.msgs = append(r.msgs, m)
			if k := m.GetProperty("SEQ_KEY"); k != "" {
				n, _ := strconv.Atoi(m.GetProperty("SEQ"))
				r.seqByKey[k] = append(r.seqByKey[k], n)
			}
		}
		return consumer.ConsumeSuccess, nil
	}
}

// missing lists the bodies not received yet.
func (r *received) missing(bodies []string) []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []string
	for _, b := range bodies {
		if r.total[b] == 0 {
			out = append(out, b)
		}
	}
	return out
}

func (r *received) waitAll(t *testing.T, bodies []string, timeout time.Duration) {
	t.Helper()
	err := waitFor(timeout, 50*time.Millisecond, func() error {
		if m := r.missing(bodies); len(m) > 0 {
			return fmt.Errorf("%d of %d messages not received, e.g. %q", len(m), len(bodies), m[0])
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

func brokerAddr() string { return sharedBrk.addr }

func nsAddrs() primitive.NamesrvAddr { return primitive.NamesrvAddr{sharedNS.addr} }

func newProducer(t *testing.T, ns primitive.NamesrvAddr, opts ...producer.Option) rocketmq.Producer {
	t.Helper()
	base := []producer.Option{
		producer.WithNameServer(ns),
		producer.WithGroupName(uniq("PG")),
		producer.WithInstanceName(uniq("p")),
		producer.WithRetry(2),
		producer.WithSendMsgTimeout(5 * time.Second),
	}
	p, err := rocketmq.NewProducer(append(base, opts...)...)
	if err != nil {
		t.Fatal(err)
	}
	if err := p.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = p.Shutdown() })
	return p
}

// newConsumer starts a push consumer subscribed to topic with expr.
func newConsumer(t *testing.T, ns primitive.NamesrvAddr, group, instance, topic, expr string, r *received, opts ...consumer.Option) rocketmq.PushConsumer {
	t.Helper()
	base := []consumer.Option{
		consumer.WithNameServer(ns),
		consumer.WithGroupName(group),
		consumer.WithInstance(instance),
		consumer.WithConsumeFromWhere(consumer.ConsumeFromFirstOffset),
	}
	c, err := rocketmq.NewPushConsumer(append(base, opts...)...)
	if err != nil {
		t.Fatal(err)
	}
	sel := consumer.MessageSelector{}
	if expr != "" && expr != "*" {
		sel = consumer.MessageSelector{Type: consumer.TAG, Expression: expr}
	}
	if err := c.Subscribe(topic, sel, r.handler(instance)); err != nil {
		t.Fatal(err)
	}
	if err := c.Start(); err != nil {
		t.Fatalf("consumer %s start: %v", instance, err)
	}
	t.Cleanup(func() { _ = c.Shutdown() })
	return c
}

func newAdmin(t *testing.T, ns primitive.NamesrvAddr) admin.Admin {
	t.Helper()
	a, err := admin.NewAdmin(admin.WithResolver(primitive.NewPassthroughResolver(ns)))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = a.Close() })
	return a
}

// createTopic creates a topic on a broker through the Go admin and waits for its route.
func createTopic(t *testing.T, ns primitive.NamesrvAddr, broker, topic string, queues int) {
	t.Helper()
	createTopicOn(t, ns, broker, topic, queues)
	waitRoute(t, newAdmin(t, ns), topic, queues)
}

// createTopicOn creates a topic on one broker through the Go admin.
func createTopicOn(t *testing.T, ns primitive.NamesrvAddr, broker, topic string, queues int) {
	t.Helper()
	a := newAdmin(t, ns)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := a.CreateTopic(ctx, admin.WithTopicCreate(topic), admin.WithBrokerAddrCreate(broker),
		admin.WithReadQueueNums(queues), admin.WithWriteQueueNums(queues)); err != nil {
		t.Fatalf("create topic %s on %s: %v", topic, broker, err)
	}
}

func waitRoute(t *testing.T, a admin.Admin, topic string, queues int) {
	t.Helper()
	err := waitFor(15*time.Second, 50*time.Millisecond, func() error {
		mqs, err := a.FetchPublishMessageQueues(context.Background(), topic)
		if err != nil {
			return err
		}
		if len(mqs) != queues {
			return fmt.Errorf("route of %s has %d queues, want %d", topic, len(mqs), queues)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

func bodies(prefix string, n int) []string {
	out := make([]string, n)
	for i := range out {
		out[i] = fmt.Sprintf("%s-%03d", prefix, i)
	}
	return out
}

func sortedStrings(m map[string]bool) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

func isHex32(s string) bool {
	if len(s) != 32 {
		return false
	}
	return strings.Trim(strings.ToUpper(s), "0123456789ABCDEF") == ""
}
