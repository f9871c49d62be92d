package client

import (
	"reflect"
	"testing"

	"github.com/gorocket/gorocket/remoting/protocol"
)

const (
	PermRead  = protocol.PermRead
	PermWrite = protocol.PermWrite
)

func testRoute() *protocol.TopicRouteData {
	return &protocol.TopicRouteData{
		QueueDatas: []protocol.QueueData{
			{BrokerName: "broker-b", ReadQueueNums: 2, WriteQueueNums: 2, Perm: PermRead | PermWrite},
			{BrokerName: "broker-a", ReadQueueNums: 3, WriteQueueNums: 2, Perm: PermRead | PermWrite},
			{BrokerName: "broker-c", ReadQueueNums: 1, WriteQueueNums: 1, Perm: PermRead}, // read-only
			{BrokerName: "broker-d", ReadQueueNums: 1, WriteQueueNums: 1, Perm: PermRead | PermWrite},
		},
		BrokerDatas: []protocol.BrokerData{
			{BrokerName: "broker-a", BrokerAddrs: map[int64]string{0: "127.0.0.1:1", 1: "127.0.0.1:2"}},
			{BrokerName: "broker-b", BrokerAddrs: map[int64]string{0: "127.0.0.1:3"}},
			{BrokerName: "broker-c", BrokerAddrs: map[int64]string{0: "127.0.0.1:4"}},
			{BrokerName: "broker-d", BrokerAddrs: map[int64]string{1: "127.0.0.1:5"}}, // slave only
		},
	}
}

func TestPublishQueuesSortedWritableWithMaster(t *testing.T) {
	got := PublishQueues(testRoute(), "T")
	want := []MessageQueue{
		{Topic: "T", BrokerName: "broker-a", QueueID: 0}, {Topic: "T", BrokerName: "broker-a", QueueID: 1},
		{Topic: "T", BrokerName: "broker-b", QueueID: 0}, {Topic: "T", BrokerName: "broker-b", QueueID: 1},
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("PublishQueues = %v, want %v", got, want)
	}
}

func TestSubscribeQueuesReadable(t *testing.T) {
	got := SubscribeQueues(testRoute(), "T")
	want := []MessageQueue{
		{Topic: "T", BrokerName: "broker-a", QueueID: 0}, {Topic: "T", BrokerName: "broker-a", QueueID: 1}, {Topic: "T", BrokerName: "broker-a", QueueID: 2},
		{Topic: "T", BrokerName: "broker-b", QueueID: 0}, {Topic: "T", BrokerName: "broker-b", QueueID: 1},
		{Topic: "T", BrokerName: "broker-c", QueueID: 0},
		{Topic: "T", BrokerName: "broker-d", QueueID: 0},
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("SubscribeQueues = %v, want %v", got, want)
	}
}

func TestRoundRobinCyclesAllQueues(t *testing.T) {
	qs := PublishQueues(testRoute(), "T")
	var s roundRobin
	seen := map[MessageQueue]int{}
	for i := 0; i < 4*len(qs); i++ {
		q, ok := s.pick(qs, "")
		if !ok {
			t.Fatal("no queue picked")
		}
		seen[q]++
	}
	for _, q := range qs {
		if seen[q] != 4 {
			t.Errorf("queue %v picked %d times, want 4", q, seen[q])
		}
	}
}

func TestRoundRobinAvoidsFailedBroker(t *testing.T) {
	qs := PublishQueues(testRoute(), "T")
	var s roundRobin
	for i := 0; i < 20; i++ {
		q, _ := s.pick(qs, "broker-a")
		if q.BrokerName == "broker-a" {
			t.Fatalf("pick %d chose the avoided broker: %v", i, q)
		}
	}
	// With only the failed broker left, it is still chosen rather than failing.
	only := qs[:2]
	if q, ok := s.pick(only, "broker-a"); !ok || q.BrokerName != "broker-a" {
		t.Fatalf("pick from only-failed list = %v %v", q, ok)
	}
	if _, ok := s.pick(nil, ""); ok {
		t.Fatal("pick from an empty list succeeded")
	}
}

func TestClampQueuesForAutoCreate(t *testing.T) {
	tbw := &protocol.TopicRouteData{
		QueueDatas:  []protocol.QueueData{{BrokerName: "broker-a", ReadQueueNums: 8, WriteQueueNums: 8, Perm: 7}},
		BrokerDatas: []protocol.BrokerData{{BrokerName: "broker-a", BrokerAddrs: map[int64]string{0: "x:1"}}},
	}
	got := clampRoute(tbw, 4)
	if got.QueueDatas[0].WriteQueueNums != 4 || got.QueueDatas[0].ReadQueueNums != 4 {
		t.Fatalf("clamped = %+v", got.QueueDatas[0])
	}
	if tbw.QueueDatas[0].WriteQueueNums != 8 {
		t.Fatal("clampQueues modified the template route")
	}
	if n := len(PublishQueues(got, "New")); n != 4 {
		t.Fatalf("publish queues = %d, want 4", n)
	}
}
