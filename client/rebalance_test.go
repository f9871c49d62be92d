package client

import (
	"fmt"
	"reflect"
	"testing"
)

func queues(topic string, brokers map[string]int) []MessageQueue {
	var out []MessageQueue
	for b, n := range brokers {
		for i := 0; i < n; i++ {
			out = append(out, MessageQueue{Topic: topic, BrokerName: b, QueueID: i})
		}
	}
	return out
}

func TestAllocateAveragelyPartitionsEveryQueueOnce(t *testing.T) {
	for _, nq := range []int{1, 3, 4, 7, 8, 12} {
		for nc := 1; nc <= 5; nc++ {
			mqAll := queues("T", map[string]int{"broker-a": nq - nq/2, "broker-b": nq / 2})
			var cids []string
			for i := 0; i < nc; i++ {
				cids = append(cids, fmt.Sprintf("10.0.0.%d@%d", i, 100+i))
			}
			seen := map[MessageQueue]string{}
			counts := map[string]int{}
			for _, cid := range cids {
				for _, q := range AllocateAveragely(cid, mqAll, cids) {
					if other, dup := seen[q]; dup {
						t.Fatalf("%d queues/%d consumers: %v given to %s and %s", nq, nc, q, other, cid)
					}
					seen[q] = cid
					counts[cid]++
				}
			}
			if len(seen) != len(mqAll) {
				t.Fatalf("%d queues/%d consumers: %d allocated", nq, nc, len(seen))
			}
			lo, hi := nq, 0
			for _, cid := range cids {
				lo, hi = min(lo, counts[cid]), max(hi, counts[cid])
			}
			if hi-lo > 1 {
				t.Fatalf("%d queues/%d consumers: unbalanced %v", nq, nc, counts)
			}
		}
	}
}

func TestAllocateAveragelyMatchesReferenceExample(t *testing.T) {
	// 5 queues over 2 consumers: the first gets 3 contiguous queues, the second 2.
	mqAll := queues("T", map[string]int{"broker-a": 5})
	cids := []string{"b@2", "a@1"} // unsorted on purpose
	got := AllocateAveragely("a@1", mqAll, cids)
	want := []MessageQueue{{Topic: "T", BrokerName: "broker-a", QueueID: 0}, {Topic: "T", BrokerName: "broker-a", QueueID: 1}, {Topic: "T", BrokerName: "broker-a", QueueID: 2}}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("first consumer got %v", got)
	}
	if got := AllocateAveragely("b@2", mqAll, cids); len(got) != 2 || got[0].QueueID != 3 {
		t.Fatalf("second consumer got %v", got)
	}
	if got := AllocateAveragely("zz@9", mqAll, cids); got != nil {
		t.Fatalf("unknown consumer got %v", got)
	}
	// More consumers than queues: the extra consumers get nothing.
	if got := AllocateAveragely("c", queues("T", map[string]int{"broker-a": 2}), []string{"a", "b", "c"}); got != nil {
		t.Fatalf("third of three consumers for two queues got %v", got)
	}
}

func TestParseTags(t *testing.T) {
	cases := map[string][]string{
		"":                nil,
		"*":               nil,
		" TagA ":          {"TagA"},
		"TagA || TagB":    {"TagA", "TagB"},
		"a||b|| a ||  ||": {"a", "b"},
	}
	for in, want := range cases {
		if got := parseTags(in); !reflect.DeepEqual(got, want) {
			t.Errorf("parseTags(%q) = %v, want %v", in, got, want)
		}
	}
}

func TestTagHashCodeMatchesJava(t *testing.T) {
	// Values of java.lang.String#hashCode.
	cases := map[string]int32{"": 0, "TagA": 2598919, "TagB": 2598920, "hello": 99162322, "polygenelubricants": -2147483648, "é": 233, "😀": 1772899 /* 31*0xD83D + 0xDE00 */}
	for s, want := range cases {
		if got := TagHashCode(s); got != want {
			t.Errorf("TagHashCode(%q) = %d, want %d", s, got, want)
		}
	}
}
