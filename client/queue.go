package client

import (
	"cmp"
	"fmt"
	"slices"
	"sync/atomic"

	"github.com/gorocket/gorocket/remoting/protocol"
)

// MessageQueue identifies one queue of a topic on one broker group.
type MessageQueue = protocol.BrokerMessageQueue

// QueueString renders q as "topic@broker#id" for logs and tables.
func QueueString(q MessageQueue) string {
	return fmt.Sprintf("%s@%s#%d", q.Topic, q.BrokerName, q.QueueID)
}

func compareQueues(a, b MessageQueue) int {
	return cmp.Or(cmp.Compare(a.Topic, b.Topic), cmp.Compare(a.BrokerName, b.BrokerName), cmp.Compare(a.QueueID, b.QueueID))
}

// findBroker returns the broker data named name.
func findBroker(r *protocol.TopicRouteData, name string) (protocol.BrokerData, bool) {
	for _, b := range r.BrokerDatas {
		if b.BrokerName == name {
			return b, true
		}
	}
	return protocol.BrokerData{}, false
}

// PublishQueues lists the writable queues of route for topic (§3.1): queue data sorted by broker
// name, skipping entries without write permission and brokers without a master.
func PublishQueues(route *protocol.TopicRouteData, topic string) []MessageQueue {
	qds := slices.Clone(route.QueueDatas)
	slices.SortFunc(qds, func(a, b protocol.QueueData) int { return cmp.Compare(a.BrokerName, b.BrokerName) })
	var out []MessageQueue
	for _, qd := range qds {
		if qd.Perm&protocol.PermWrite == 0 {
			continue
		}
		bd, ok := findBroker(route, qd.BrokerName)
		if !ok || bd.MasterAddr() == "" {
			continue
		}
		for i := 0; i < qd.WriteQueueNums; i++ {
			out = append(out, MessageQueue{Topic: topic, BrokerName: qd.BrokerName, QueueID: i})
		}
	}
	return out
}

// SubscribeQueues lists the readable queues of route for topic, sorted by broker name and queue id.
func SubscribeQueues(route *protocol.TopicRouteData, topic string) []MessageQueue {
	var out []MessageQueue
	for _, qd := range route.QueueDatas {
		if qd.Perm&protocol.PermRead == 0 {
			continue
		}
		for i := 0; i < qd.ReadQueueNums; i++ {
			out = append(out, MessageQueue{Topic: topic, BrokerName: qd.BrokerName, QueueID: i})
		}
	}
	slices.SortFunc(out, compareQueues)
	return out
}

// clampRoute limits every queue count of a template route to n: how the TBW102 route becomes the
// route of a topic the broker will auto-create on first send (§3.1). The template is not modified.
func clampRoute(r *protocol.TopicRouteData, n int) *protocol.TopicRouteData {
	out := &protocol.TopicRouteData{BrokerDatas: r.BrokerDatas}
	for _, qd := range r.QueueDatas {
		qd.ReadQueueNums = min(qd.ReadQueueNums, n)
		qd.WriteQueueNums = min(qd.WriteQueueNums, n)
		out.QueueDatas = append(out.QueueDatas, qd)
	}
	return out
}

// roundRobin selects queues in turn (§9.2): a counter, pre-incremented, modulo the number of
// queues. When avoid names a broker that just failed, its queues are skipped if any other queue
// exists.
type roundRobin struct {
	n atomic.Uint64
}

func (s *roundRobin) pick(queues []MessageQueue, avoid string) (MessageQueue, bool) {
	if len(queues) == 0 {
		return MessageQueue{}, false
	}
	if avoid != "" {
		for range queues {
			q := queues[int(s.n.Add(1)%uint64(len(queues)))]
			if q.BrokerName != avoid {
				return q, true
			}
		}
	}
	return queues[int(s.n.Add(1)%uint64(len(queues)))], true
}
