package client

import (
	"slices"
	"strings"
)

// AllocateAveragely assigns the queues of mqAll to consumer cid among cidAll the way the
// reference clients' AllocateMessageQueueAveragely does (rocketmq-protocol.md §9.3): queues and
// consumer ids are sorted, consumer i gets a contiguous block, and the first len(mqAll) mod
// len(cidAll) consumers get one extra queue. A cid not in cidAll gets nothing.
func AllocateAveragely(cid string, mqAll []MessageQueue, cidAll []string) []MessageQueue {
	if len(mqAll) == 0 || len(cidAll) == 0 {
		return nil
	}
	mqs := slices.Clone(mqAll)
	slices.SortFunc(mqs, compareQueues)
	cids := slices.Clone(cidAll)
	slices.Sort(cids)
	cids = slices.Compact(cids)
	i := slices.Index(cids, cid)
	if i < 0 {
		return nil
	}
	n, c := len(mqs), len(cids)
	mod := n % c
	var avg int
	switch {
	case n <= c:
		avg = 1
	case mod > 0 && i < mod:
		avg = n/c + 1
	default:
		avg = n / c
	}
	start := i*avg + mod
	if mod > 0 && i < mod {
		start = i * avg
	}
	count := min(avg, n-start)
	var out []MessageQueue
	for k := 0; k < count; k++ {
		out = append(out, mqs[(start+k)%n])
	}
	return out
}

// parseTags splits a TAG subscription expression ("*", "", "a || b") into its tags; nil means
// every message matches.
func parseTags(expr string) []string {
	expr = strings.TrimSpace(expr)
	if expr == "" || expr == "*" {
		return nil
	}
	var tags []string
	for _, t := range strings.Split(expr, "||") {
		if t = strings.TrimSpace(t); t != "" && !slices.Contains(tags, t) {
			tags = append(tags, t)
		}
	}
	return tags
}

// TagHashCode is Java's String.hashCode of tag (over UTF-16 code units), the consume-queue tag
// code brokers filter on (§6.9).
func TagHashCode(tag string) int32 {
	var h int32
	for _, r := range tag {
		if r >= 0x10000 {
			r -= 0x10000
			h = 31*h + int32(0xD800+(r>>10))
			h = 31*h + int32(0xDC00+(r&0x3FF))
			continue
		}
		h = 31*h + int32(r)
	}
	return h
}
