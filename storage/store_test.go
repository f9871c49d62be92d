package storage

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"math/rand"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gorocket/gorocket/storage/vfs"
)

// forEachConfig runs fn on every file system and flush mode: the store conformance matrix.
func forEachConfig(t *testing.T, fn func(t *testing.T, o Options)) {
	for _, kind := range []fsKind{memFS, osFS} {
		for _, ft := range []FlushDiskType{AsyncFlush, SyncFlush} {
			t.Run(fmt.Sprintf("%s/%v", kind, ft), func(t *testing.T) {
				fsys, root := newFS(t, kind)
				o := smallOptions(root, fsys)
				o.FlushDiskType = ft
				fn(t, o)
			})
		}
	}
}

func TestStoreAppendAndRead(t *testing.T) {
	forEachConfig(t, func(t *testing.T, o Options) {
		clk := newFakeClock(time.UnixMilli(1_700_000_000_000))
		o.Clock = clk.Now
		s := openStore(t, o)
		var last int64
		for i := 0; i < 20; i++ {
			clk.Add(time.Millisecond)
			m := msg("TopicA", int32(i%2), fmt.Sprintf("payload-%02d", i), PropertyTags, "tag", PropertyKeys, fmt.Sprintf("key%d", i))
			r := mustAppend(t, s, m)
			size, _, _ := encodedSize(m, o.MaxMessageSize)
			if r.PhysicalOffset != last || int(r.WroteBytes) != size || r.QueueOffset != int64(i/2) || r.MsgNum != 1 {
				t.Fatalf("append %d: %+v (want phy %d size %d)", i, r, last, size)
			}
			if r.StoreTimestamp != clk.Now().UnixMilli() {
				t.Fatalf("store timestamp %d, clock %d", r.StoreTimestamp, clk.Now().UnixMilli())
			}
			if r.MsgID() != OffsetMsgID(testStoreHost, r.PhysicalOffset) || len(r.MsgIDs()) != 1 {
				t.Fatalf("msg id %s", r.MsgID())
			}
			last += int64(r.WroteBytes)

			b, err := s.ReadMessage(r.PhysicalOffset)
			if err != nil {
				t.Fatalf("ReadMessage: %v", err)
			}
			rec, _, err := DecodeRecord(b.Data)
			if err != nil || string(rec.Body) != string(m.Body) || rec.PhysicalOffset != r.PhysicalOffset ||
				rec.QueueOffset != r.QueueOffset || rec.StoreTimestamp != r.StoreTimestamp || rec.BodyCRC != BodyCRC(m.Body) ||
				rec.StoreHost != testStoreHost || rec.Tags() != "tag" || rec.OffsetMsgID() != r.MsgID() {
				t.Fatalf("stored record %+v (err %v)", rec, err)
			}
			b.Release()
		}
		waitDispatched(t, s)
		for q := int32(0); q < 2; q++ {
			recs := getAll(t, s, "TopicA", q)
			if len(recs) != 10 {
				t.Fatalf("queue %d: %d records", q, len(recs))
			}
			for i, r := range recs {
				if r.QueueOffset != int64(i) || r.QueueID != q || string(r.Body) != fmt.Sprintf("payload-%02d", 2*i+int(q)) {
					t.Fatalf("queue %d record %d: %+v", q, i, r)
				}
			}
			if lo, hi, ok := s.QueueOffsets("TopicA", q); !ok || lo != 0 || hi != 10 {
				t.Fatalf("offsets %d %d %v", lo, hi, ok)
			}
		}
		if s.MaxOffsetInQueue("nope", 0) != 0 || s.MinOffsetInQueue("nope", 0) != -1 {
			t.Fatal("missing queue offsets")
		}
		if ts, err := s.GetEarliestMessageTime("TopicA", 1); err != nil || ts != 1_700_000_000_002 {
			t.Fatalf("earliest %d %v", ts, err)
		}
		if ts, err := s.EarliestMessageTime(); err != nil || ts != 1_700_000_000_001 {
			t.Fatalf("store earliest %d %v", ts, err)
		}
		if ts, err := s.GetMessageStoreTimestamp("TopicA", 0, 3); err != nil || ts != 1_700_000_000_007 {
			t.Fatalf("store time %d %v", ts, err)
		}
		if _, err := s.ReadMessage(3); !errors.Is(err, ErrNotFound) {
			t.Fatalf("ReadMessage in the middle of a record: %v", err)
		}
	})
}

func TestStoreConcurrentAppends(t *testing.T) {
	forEachConfig(t, func(t *testing.T, o Options) {
		s := openStore(t, o)
		const writers, per, queues = 8, 60, 4
		var wg sync.WaitGroup
		for w := 0; w < writers; w++ {
			wg.Add(1)
			go func(w int) {
				defer wg.Done()
				for i := 0; i < per; i++ {
					m := msg("C", int32((w+i)%queues), fmt.Sprintf("w%d-%d", w, i))
					if r := s.Append(context.Background(), m); r.Status != PutOK {
						t.Errorf("append: %v %v", r.Status, r.Err)
						return
					}
				}
			}(w)
		}
		wg.Wait()
		waitDispatched(t, s)
		seen := map[string]bool{}
		lastTs := int64(0)
		for q := int32(0); q < queues; q++ {
			recs := getAll(t, s, "C", q)
			prevPhy := int64(-1)
			for i, r := range recs {
				if r.QueueOffset != int64(i) || r.PhysicalOffset <= prevPhy || r.QueueID != q {
					t.Fatalf("queue %d entry %d: qo %d phy %d (prev %d)", q, i, r.QueueOffset, r.PhysicalOffset, prevPhy)
				}
				prevPhy = r.PhysicalOffset
				if seen[string(r.Body)] {
					t.Fatalf("duplicate %s", r.Body)
				}
				seen[string(r.Body)] = true
			}
		}
		if len(seen) != writers*per {
			t.Fatalf("%d distinct messages, want %d", len(seen), writers*per)
		}
		// Store timestamps never go backwards along the commit log.
		for off := s.MinPhyOffset(); off < s.MaxPhyOffset(); {
			b, err := s.ReadRaw(off, 1<<20)
			if err != nil {
				t.Fatal(err)
			}
			for p := 0; p+8 <= len(b.Data); {
				size := int(binary.BigEndian.Uint32(b.Data[p:]))
				if int32(binary.BigEndian.Uint32(b.Data[p+4:])) == BlankMagicCode {
					break
				}
				r, _, err := DecodeRecord(b.Data[p:])
				if err != nil {
					t.Fatalf("decode at %d: %v", off+int64(p), err)
				}
				if r.StoreTimestamp < lastTs {
					t.Fatalf("store time went backwards at %d", r.PhysicalOffset)
				}
				lastTs = r.StoreTimestamp
				p += size
			}
			off += int64(len(b.Data))
			b.Release()
		}
	})
}

func TestGetMessagesStatus(t *testing.T) {
	fsys, root := newFS(t, memFS)
	o := smallOptions(root, fsys)
	o.MaxTransferCountOnMessageInMemory = 5
	s := openStore(t, o)
	tagB := TagsCode("B")
	for i := 0; i < 10; i++ {
		tag := "A"
		if i >= 6 {
			tag = "B"
		}
		mustAppend(t, s, msg("G", 0, fmt.Sprintf("m%d", i), PropertyTags, tag))
	}
	mustAppend(t, s, msg("Empty", 1, "x", PropertyTags, "A")) // queue 1 exists; queue 0 of Empty never does
	waitDispatched(t, s)
	onlyB := func(c int64) bool { return c == tagB }
	none := func(int64) bool { return false }
	tests := []struct {
		name     string
		topic    string
		qid      int32
		off      int64
		max      int
		maxBytes int
		filter   func(int64) bool
		status   GetStatus
		next     int64
		count    int
		firstQO  int64
	}{
		{"no queue", "Nope", 0, 5, 32, 0, nil, GetNoMatchedLogicQueue, 0, 0, 0},
		{"missing queue of an existing topic", "Empty", 0, 0, 32, 0, nil, GetNoMatchedLogicQueue, 0, 0, 0},
		{"found, limited by maxMsgs", "G", 0, 0, 3, 0, nil, GetFound, 3, 3, 0},
		{"found, limited by the in-memory count", "G", 0, 2, 32, 0, nil, GetFound, 7, 5, 2},
		{"found, limited by maxBytes", "G", 0, 0, 32, 200, nil, GetFound, 1, 1, 0},
		{"filter skips entries", "G", 0, 0, 32, 0, onlyB, GetFound, 10, 4, 6},
		{"nothing matches", "G", 0, 0, 32, 0, none, GetNoMatchedMessage, 10, 0, 0},
		{"overflow one", "G", 0, 10, 32, 0, nil, GetOffsetOverflowOne, 10, 0, 0},
		{"overflow badly, min 0", "G", 0, 11, 32, 0, nil, GetOffsetOverflowBadly, 0, 0, 0},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r, err := s.GetMessages(tc.topic, tc.qid, tc.off, tc.max, tc.maxBytes, tc.filter)
			if err != nil {
				t.Fatal(err)
			}
			defer r.Release()
			if r.Status != tc.status || r.NextBeginOffset != tc.next || len(r.Messages) != tc.count {
				t.Fatalf("status %v next %d count %d; want %v %d %d", r.Status, r.NextBeginOffset, len(r.Messages), tc.status, tc.next, tc.count)
			}
			if tc.count > 0 {
				if r.Messages[0].QueueOffset != tc.firstQO || r.MinOffset != 0 || r.MaxOffset != 10 {
					t.Fatalf("first qo %d min %d max %d", r.Messages[0].QueueOffset, r.MinOffset, r.MaxOffset)
				}
				total := 0
				for _, m := range r.Messages {
					rec, _, err := DecodeRecord(m.Data)
					if err != nil || rec.QueueOffset != m.QueueOffset || rec.PhysicalOffset != m.PhysicalOffset || TagsCode(rec.Tags()) != m.TagsCode {
						t.Fatalf("message %+v decodes to %+v (%v)", m, rec, err)
					}
					total += len(m.Data)
				}
				if total != r.TotalBytes || len(r.Buffers()) != tc.count {
					t.Fatal("TotalBytes/Buffers mismatch")
				}
			}
		})
	}

	// Retention: with the first segments gone the queue reports OFFSET_TOO_SMALL and
	// OFFSET_OVERFLOW_BADLY corrects to max.
	clk := newFakeClock(time.Date(2024, 1, 1, 1, 0, 0, 0, time.UTC))
	fsys2, root2 := newFS(t, memFS)
	o2 := smallOptions(root2, fsys2)
	o2.Clock = clk.Now
	o2.FileReservedTime = 1
	s2 := openStore(t, o2)
	body := strings.Repeat("x", 2000)
	for i := 0; i < 100; i++ {
		mustAppend(t, s2, msg("R", 0, body))
	}
	waitDispatched(t, s2)
	waitFlushed(t, s2)
	clk.Set(time.Date(2024, 1, 1, 4, 30, 0, 0, time.UTC))
	rep, err := s2.DeleteExpiredFiles()
	if err != nil || len(rep.DeletedSegments) == 0 {
		t.Fatalf("retention deleted nothing: %+v %v", rep, err)
	}
	lo, hi, _ := s2.QueueOffsets("R", 0)
	if lo == 0 || hi != 100 {
		t.Fatalf("offsets after retention %d %d", lo, hi)
	}
	r, _ := s2.GetMessages("R", 0, 0, 32, 0, nil)
	if r.Status != GetOffsetTooSmall || r.NextBeginOffset != lo {
		t.Fatalf("too small: %v %d", r.Status, r.NextBeginOffset)
	}
	r, _ = s2.GetMessages("R", 0, 150, 32, 0, nil)
	if r.Status != GetOffsetOverflowBadly || r.NextBeginOffset != hi {
		t.Fatalf("overflow badly with min > 0: %v %d", r.Status, r.NextBeginOffset)
	}
	r, _ = s2.GetMessages("R", 0, lo, 32, 0, nil)
	if r.Status != GetFound || r.Messages[0].QueueOffset != lo {
		t.Fatalf("read at min: %v", r.Status)
	}
	r.Release()
}

func TestSegmentRollWritesBlankRecord(t *testing.T) {
	forEachConfig(t, func(t *testing.T, o Options) {
		s := openStore(t, o)
		body := strings.Repeat("b", 3000)
		var results []AppendResult
		for s.MaxPhyOffset() < 3*o.MappedFileSizeCommitLog+100 {
			results = append(results, mustAppend(t, s, msg("Roll", 0, body)))
		}
		waitDispatched(t, s)
		seg := o.MappedFileSizeCommitLog
		for _, r := range results {
			if r.PhysicalOffset/seg != (r.PhysicalOffset+int64(r.WroteBytes)-1)/seg {
				t.Fatalf("record [%d,%d) crosses a segment", r.PhysicalOffset, r.PhysicalOffset+int64(r.WroteBytes))
			}
		}
		// The last record of segment 0 is followed by a blank record filling the segment.
		var lastEnd int64
		for _, r := range results {
			if r.PhysicalOffset < seg {
				lastEnd = r.PhysicalOffset + int64(r.WroteBytes)
			}
		}
		b, err := s.ReadRaw(lastEnd, 1<<20)
		if err != nil {
			t.Fatal(err)
		}
		if int64(len(b.Data)) != seg-lastEnd || int64(binary.BigEndian.Uint32(b.Data)) != seg-lastEnd ||
			int32(binary.BigEndian.Uint32(b.Data[4:])) != BlankMagicCode || !bytes.Equal(b.Data[8:], make([]byte, len(b.Data)-8)) {
			t.Fatalf("blank record at %d: len %d header % x", lastEnd, len(b.Data), b.Data[:8])
		}
		b.Release()
		if recs := getAll(t, s, "Roll", 0); len(recs) != len(results) {
			t.Fatalf("read %d of %d", len(recs), len(results))
		}
		if st := s.Stats(); st.Segments < 4 {
			t.Fatalf("segments %d", st.Segments)
		}
	})
}

func TestAppendBatch(t *testing.T) {
	forEachConfig(t, func(t *testing.T, o Options) {
		s := openStore(t, o)
		mustAppend(t, s, msg("B", 2, "before"))
		batch := make([]Message, 5)
		for i := range batch {
			batch[i] = *msg("B", 2, fmt.Sprintf("batch-%d", i), PropertyKeys, fmt.Sprintf("bk%d", i))
		}
		r := s.AppendBatch(context.Background(), batch)
		if r.Status != PutOK || r.MsgNum != 5 || r.QueueOffset != 1 {
			t.Fatalf("batch: %+v", r)
		}
		ids := strings.Split(r.MsgID(), ",")
		phys := r.PhysicalOffsets()
		if len(ids) != 5 || len(phys) != 5 || phys[0] != r.PhysicalOffset {
			t.Fatalf("ids %v phys %v", ids, phys)
		}
		waitDispatched(t, s)
		recs := getAll(t, s, "B", 2)
		if len(recs) != 6 {
			t.Fatalf("%d records", len(recs))
		}
		var total int64
		for i, rec := range recs[1:] {
			if rec.QueueOffset != int64(i+1) || rec.StoreTimestamp != r.StoreTimestamp || rec.PhysicalOffset != phys[i] ||
				OffsetMsgID(rec.StoreHost, rec.PhysicalOffset) != ids[i] || string(rec.Body) != fmt.Sprintf("batch-%d", i) {
				t.Fatalf("batch member %d: %+v", i, rec)
			}
			total += int64(rec.TotalSize)
		}
		if total != int64(r.WroteBytes) {
			t.Fatalf("wrote %d, records %d", r.WroteBytes, total)
		}
		q, err := s.QueryMessages("B", "bk3", 10, 0, 1<<62)
		if err != nil || len(q.Messages) != 1 || q.Messages[0].PhysicalOffset != phys[3] {
			t.Fatalf("query batch key: %v %+v", err, q)
		}
		q.Release()

		bad := []Message{*msg("B", 2, "x"), *msg("B", 3, "y")}
		if r := s.AppendBatch(context.Background(), bad); r.Status != PutMessageIllegal {
			t.Fatalf("mixed batch: %v", r.Status)
		}
		if r := s.AppendBatch(context.Background(), nil); r.Status != PutMessageIllegal {
			t.Fatalf("empty batch: %v", r.Status)
		}
		huge := make([]Message, 20)
		for i := range huge {
			huge[i] = *msg("B", 2, strings.Repeat("h", 4000))
		}
		if r := s.AppendBatch(context.Background(), huge); r.Status != PutMessageIllegal || !errors.Is(r.Err, ErrMessageTooLarge) {
			t.Fatalf("batch larger than a segment: %v %v", r.Status, r.Err)
		}
	})
}

func TestTransactionTypes(t *testing.T) {
	fsys, root := newFS(t, memFS)
	s := openStore(t, smallOptions(root, fsys))
	kinds := []struct {
		flag     int32
		inQueue  bool
		indexed  bool
		wantQoff int64
	}{
		{TransactionNotType, true, true, 0},
		{TransactionPreparedType, false, true, 0},
		{TransactionCommitType, true, true, 1},
		{TransactionRollbackType, false, false, 0},
		{TransactionNotType, true, true, 2},
	}
	for i, k := range kinds {
		m := msg("Tx", 0, fmt.Sprintf("tx%d", i), PropertyUniqKey, fmt.Sprintf("U%d", i))
		m.SysFlag = k.flag
		r := mustAppend(t, s, m)
		if r.QueueOffset != k.wantQoff {
			t.Fatalf("kind %d: queue offset %d, want %d", i, r.QueueOffset, k.wantQoff)
		}
	}
	waitDispatched(t, s)
	recs := getAll(t, s, "Tx", 0)
	var bodies []string
	for _, r := range recs {
		bodies = append(bodies, string(r.Body))
	}
	if strings.Join(bodies, ",") != "tx0,tx2,tx4" {
		t.Fatalf("queue holds %v", bodies)
	}
	for i, k := range kinds {
		q, err := s.QueryMessages("Tx", fmt.Sprintf("U%d", i), 5, 0, 1<<62)
		if err != nil || (len(q.Messages) == 1) != k.indexed {
			t.Fatalf("kind %d indexed=%v, query found %d", i, k.indexed, len(q.Messages))
		}
		q.Release()
	}
}

func TestGetOffsetInQueueByTime(t *testing.T) {
	fsys, root := newFS(t, memFS)
	o := smallOptions(root, fsys)
	clk := newFakeClock(time.UnixMilli(0))
	o.Clock = clk.Now
	s := openStore(t, o)
	for _, ts := range []int64{1000, 1000, 2000, 3000, 5000} {
		clk.Set(time.UnixMilli(ts))
		mustAppend(t, s, msg("Time", 0, "x"))
	}
	waitDispatched(t, s)
	tests := []struct {
		ts   int64
		want int64
	}{
		{0, 0},     // before everything: the first
		{1000, 0},  // exact match: the first message stored then
		{1400, 1},  // nearer the left neighbour (offset 1 at 1000)
		{1500, 1},  // tie: the left neighbour
		{1600, 2},  // nearer the right neighbour
		{2000, 2},  // exact
		{4500, 4},  // nearer 5000
		{4000, 3},  // tie between 3000 and 5000
		{5000, 4},  // exact, last
		{99999, 4}, // after everything: the last
	}
	for _, tc := range tests {
		if got := s.GetOffsetInQueueByTime("Time", 0, tc.ts); got != tc.want {
			t.Errorf("GetOffsetInQueueByTime(%d) = %d, want %d", tc.ts, got, tc.want)
		}
	}
	if got := s.GetOffsetInQueueByTime("Time", 9, 1000); got != 0 {
		t.Errorf("missing queue: %d", got)
	}
}

func TestQueryMessagesByKey(t *testing.T) {
	forEachConfig(t, func(t *testing.T, o Options) {
		clk := newFakeClock(time.UnixMilli(1_000_000))
		o.Clock = clk.Now
		o.MaxHashSlotNum = 4 // force many keys into the same buckets
		o.MaxIndexNum = 50   // and several index files
		s := openStore(t, o)
		want := map[string][]int64{}
		for i := 0; i < 120; i++ {
			clk.Add(100 * time.Millisecond)
			topic := "Q"
			if i%5 == 0 {
				topic = "Other"
			}
			key := fmt.Sprintf("order-%d", i%7)
			r := mustAppend(t, s, msg(topic, 0, "b", PropertyKeys, key+" shared", PropertyUniqKey, fmt.Sprintf("UNIQ%03d", i)))
			if topic == "Q" {
				want[key] = append(want[key], r.PhysicalOffset)
			}
		}
		waitDispatched(t, s)
		check := func(s *Store) {
			for key, phys := range want {
				q, err := s.QueryMessages("Q", key, 1000, 0, 1<<62)
				if err != nil {
					t.Fatal(err)
				}
				got := map[int64]bool{}
				for _, m := range q.Messages {
					rec, _, _ := DecodeRecord(m.Data)
					if rec.Topic != "Q" || !strings.Contains(string(rec.Properties), key) {
						t.Fatalf("query %s returned %s %q", key, rec.Topic, rec.Properties)
					}
					got[m.PhysicalOffset] = true
				}
				q.Release()
				if len(got) != len(phys) || len(q.Messages) != len(phys) {
					t.Fatalf("key %s: %d hits (%d distinct), want %d", key, len(q.Messages), len(got), len(phys))
				}
				for _, p := range phys {
					if !got[p] {
						t.Fatalf("key %s: offset %d missing", key, p)
					}
				}
			}
			q, _ := s.QueryMessages("Q", "UNIQ007", 10, 0, 1<<62)
			if len(q.Messages) != 1 {
				t.Fatalf("unique key: %d", len(q.Messages))
			}
			q.Release()
			q, _ = s.QueryMessages("Q", "UNIQ005", 10, 0, 1<<62) // stored under topic Other
			if len(q.Messages) != 0 {
				t.Fatal("query leaked another topic")
			}
			q, _ = s.QueryMessages("Q", "shared", 3, 0, 1<<62)
			if len(q.Messages) != 3 {
				t.Fatalf("maxNum: %d", len(q.Messages))
			}
			q.Release()
			// Time range: messages 10..19 were stored at 1_001_100 .. 1_002_000.
			q, _ = s.QueryMessages("Q", "shared", 1000, 1_001_100, 1_002_000)
			if len(q.Messages) != 8 {
				t.Fatalf("time range: %d hits, want 8", len(q.Messages))
			}
			q.Release()
			if ts, phy := q.IndexLastUpdateTimestamp, q.IndexLastUpdatePhyOffset; ts == 0 || phy == 0 {
				t.Fatalf("last update %d %d", ts, phy)
			}
		}
		check(s)
		if err := s.Close(); err != nil {
			t.Fatal(err)
		}
		check(openStore(t, o))
	})
}

func TestMessageArrivedHook(t *testing.T) {
	forEachConfig(t, func(t *testing.T, o Options) {
		s := openStore(t, o)
		type call struct {
			topic string
			qid   int32
			qo    int64
			tags  int64
			body  string
		}
		var mu sync.Mutex
		var calls []call
		s.SetMessageArrivedHook(func(topic string, qid int32, qo, tags int64) {
			// Calling back into the store from the hook must not deadlock.
			r, err := s.GetMessages(topic, qid, qo, 1, 0, nil)
			if err != nil || r.Status != GetFound {
				t.Errorf("hook read %s/%d@%d: %v %v", topic, qid, qo, err, r.Status)
				return
			}
			rec, _, _ := DecodeRecord(r.Messages[0].Data)
			r.Release()
			mu.Lock()
			calls = append(calls, call{topic, qid, qo, tags, string(rec.Body)})
			mu.Unlock()
		})
		for i := 0; i < 30; i++ {
			mustAppend(t, s, msg("H", int32(i%3), fmt.Sprint(i), PropertyTags, "t"+fmt.Sprint(i%2)))
		}
		waitFor(t, "hook calls", func() bool { mu.Lock(); defer mu.Unlock(); return len(calls) == 30 })
		mu.Lock()
		defer mu.Unlock()
		for _, c := range calls {
			i := int(c.qo)*3 + int(c.qid)
			if c.topic != "H" || c.body != fmt.Sprint(i) || c.tags != TagsCode("t"+fmt.Sprint(i%2)) {
				t.Fatalf("call %+v", c)
			}
		}
	})
}

func TestDeleteTopic(t *testing.T) {
	fsys, root := newFS(t, osFS)
	o := smallOptions(root, fsys)
	s := openStore(t, o)
	for i := 0; i < 10; i++ {
		mustAppend(t, s, msg("Del", int32(i%2), "x"))
		mustAppend(t, s, msg("Keep", 0, "y"))
	}
	waitDispatched(t, s)
	if err := s.DeleteTopic("Del"); err != nil {
		t.Fatal(err)
	}
	if r, _ := s.GetMessages("Del", 0, 0, 32, 0, nil); r.Status != GetNoMatchedLogicQueue {
		t.Fatalf("after delete: %v", r.Status)
	}
	if r := mustAppend(t, s, msg("Del", 0, "again")); r.QueueOffset != 0 {
		t.Fatalf("queue offset after delete %d", r.QueueOffset)
	}
	waitDispatched(t, s)
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	s = openStore(t, o)
	if got := getAll(t, s, "Del", 0); len(got) != 1 || string(got[0].Body) != "again" {
		t.Fatalf("deleted topic after reopen: %d records", len(got))
	}
	if _, _, ok := s.QueueOffsets("Del", 1); ok {
		t.Fatal("deleted queue came back")
	}
	if len(getAll(t, s, "Keep", 0)) != 10 {
		t.Fatal("other topic lost")
	}
}

func TestScheduleTopicTagsCode(t *testing.T) {
	fsys, root := newFS(t, memFS)
	o := smallOptions(root, fsys)
	clk := newFakeClock(time.UnixMilli(5_000_000))
	o.Clock = clk.Now
	s := openStore(t, o)
	mustAppend(t, s, msg(o.ScheduleTopic, 2, "d", PropertyDelayLevel, "3", PropertyTags, "ignored"))
	mustAppend(t, s, msg(o.ScheduleTopic, 2, "d", PropertyDelayLevel, "99"))
	waitDispatched(t, s)
	r, _ := s.GetMessages(o.ScheduleTopic, 2, 0, 32, 0, nil)
	defer r.Release()
	if len(r.Messages) != 2 || r.Messages[0].TagsCode != 5_000_000+10_000 || r.Messages[1].TagsCode != 5_000_000+2*3600_000 {
		t.Fatalf("schedule tag codes %+v", r.Messages)
	}
}

func TestAppendLimits(t *testing.T) {
	fsys, root := newFS(t, memFS)
	o := smallOptions(root, fsys)
	s := openStore(t, o)
	tests := []struct {
		name   string
		m      *Message
		status PutStatus
		err    error
	}{
		{"body over maxMessageSize", msg("L", 0, strings.Repeat("x", o.MaxMessageSize+1)), PutMessageIllegal, ErrMessageTooLarge},
		{"properties over 32767", &Message{Topic: "L", Properties: make([]byte, 40000)}, PutPropertiesSizeExceeded, ErrPropertiesTooLarge},
		{"topic too long", msg(strings.Repeat("t", 200), 0, "x"), PutMessageIllegal, ErrMessageIllegal},
		{"at the limit", msg("L", 0, strings.Repeat("x", o.MaxMessageSize)), PutOK, nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := s.Append(context.Background(), tc.m)
			if r.Status != tc.status || !errors.Is(r.Err, tc.err) || (tc.err == nil) != (r.Err == nil) {
				t.Fatalf("got %v %v, want %v %v", r.Status, r.Err, tc.status, tc.err)
			}
		})
	}
	if st := s.Stats(); st.PutFailures != 3 || st.PutMessages != 1 {
		t.Fatalf("stats %+v", st)
	}
}

func TestDiskFullRefusesAppends(t *testing.T) {
	mem := vfs.NewMem()
	o := smallOptions("/store", mem)
	var used atomic.Uint64
	used.Store(50)
	mem.SetUsage(func() vfs.Usage { return vfs.Usage{Total: 100, Free: 100 - used.Load()} })
	s := openStore(t, o)
	mustAppend(t, s, msg("D", 0, "ok"))
	used.Store(95)
	s.DeleteExpiredFiles() // refreshes the disk state, as the cleaner does every interval
	r := s.Append(context.Background(), msg("D", 0, "refused"))
	if r.Status != PutDiskFull || !errors.Is(r.Err, ErrDiskFull) || !strings.Contains(r.Err.Error(), "hard limit 90%") {
		t.Fatalf("append on a full disk: %v %v", r.Status, r.Err)
	}
	if st := s.Stats(); !st.DiskFull || st.DiskUsedRatio < 0.94 {
		t.Fatalf("stats %+v", st)
	}
	used.Store(60)
	s.DeleteExpiredFiles()
	mustAppend(t, s, msg("D", 0, "ok again"))
}

func TestSyncFlushTimeout(t *testing.T) {
	mem := vfs.NewMem()
	o := smallOptions("/store", mem)
	o.FlushDiskType = SyncFlush
	o.SyncFlushTimeout = 50 * time.Millisecond
	s := openStore(t, o)
	mustAppend(t, s, msg("S", 0, "fast"))
	stall := stallCommitLogSync(mem)
	stall.block()
	r := s.Append(context.Background(), msg("S", 0, "slow"))
	if r.Status != PutFlushDiskTimeout || !errors.Is(r.Err, ErrFlushTimeout) || r.QueueOffset != 1 {
		t.Fatalf("blocked flush: %v %v qo=%d", r.Status, r.Err, r.QueueOffset)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if r := s.Append(ctx, msg("S", 0, "cancelled")); r.Status != PutFlushDiskTimeout || !errors.Is(r.Err, context.Canceled) {
		t.Fatalf("cancelled wait: %v %v", r.Status, r.Err)
	}
	nw := msg("S", 0, "nowait")
	nw.NoWait = true
	if r := s.Append(context.Background(), nw); r.Status != PutOK {
		t.Fatalf("WAIT=false append: %v", r.Status)
	}
	stall.unblock()
	mustAppend(t, s, msg("S", 0, "fast again"))
	if st := s.Stats(); st.PutFlushTimeouts != 2 {
		t.Fatalf("flush timeouts %d", st.PutFlushTimeouts)
	}
}

func TestSyncFailureStopsWrites(t *testing.T) {
	mem := vfs.NewMem()
	o := smallOptions("/store", mem)
	o.FlushDiskType = SyncFlush
	s, err := Open(testLogger(t), o)
	if err != nil {
		t.Fatal(err)
	}
	mustAppend(t, s, msg("F", 0, "ok"))
	mem.SetSyncHook(func(name string) error {
		if strings.Contains(name, "commitlog") {
			return errors.New("EIO")
		}
		return nil
	})
	r := s.Append(context.Background(), msg("F", 0, "lost"))
	if r.Status != PutServiceNotAvailable || !errors.Is(r.Err, ErrFailed) {
		t.Fatalf("append with failing fsync: %v %v", r.Status, r.Err)
	}
	if r := s.Append(context.Background(), msg("F", 0, "after")); !errors.Is(r.Err, ErrFailed) {
		t.Fatalf("later append: %v", r.Err)
	}
	if err := s.Close(); err == nil {
		t.Fatal("Close hid the failure")
	}
	mem.SetSyncHook(nil)
	s2 := openStore(t, smallOptions("/store", mem.CrashClone()))
	if rep := s2.RecoveryReport(); rep.CleanShutdown {
		t.Fatal("a failed store was recorded as cleanly closed")
	}
	if recs := getAll(t, s2, "F", 0); len(recs) != 1 || string(recs[0].Body) != "ok" {
		t.Fatalf("after reopen: %d records", len(recs))
	}
}

func TestReadRawBoundaries(t *testing.T) {
	fsys, root := newFS(t, memFS)
	s := openStore(t, smallOptions(root, fsys))
	r := mustAppend(t, s, msg("X", 0, "abc"))
	waitFor(t, "commit", func() bool { return s.CommittedPhyOffset() == s.MaxPhyOffset() })
	end := s.CommittedPhyOffset()
	if b, err := s.ReadRaw(end, 100); err != nil || len(b.Data) != 0 {
		t.Fatalf("at the end: %v %d", err, len(b.Data))
	}
	if _, err := s.ReadRaw(end+1, 100); !errors.Is(err, ErrNotFound) {
		t.Fatalf("past the end: %v", err)
	}
	b, err := s.ReadRaw(0, 10)
	if err != nil || len(b.Data) != 10 {
		t.Fatalf("partial: %v", err)
	}
	b.Release()
	b.Release() // idempotent
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
	defer cancel()
	if err := s.WaitCommitted(ctx, end); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("WaitCommitted with nothing new: %v", err)
	}
	done := make(chan error, 1)
	go func() { done <- s.WaitCommitted(context.Background(), end) }()
	mustAppend(t, s, msg("X", 0, "def"))
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	_ = r
}

func TestOptionsValidate(t *testing.T) {
	good := smallOptions("/s", vfs.NewMem())
	if err := good.Validate(); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		mut  func(o *Options)
		want string
	}{
		{"no root", func(o *Options) { o.StorePathRootDir = "" }, "storePathRootDir"},
		{"segment too small", func(o *Options) { o.MappedFileSizeCommitLog = 1000 }, "mapedFileSizeCommitLog"},
		{"bad deleteWhen", func(o *Options) { o.DeleteWhen = "25" }, "deleteWhen"},
		{"bad ratio", func(o *Options) { o.DiskMaxUsedSpaceRatio = 0 }, "diskMaxUsedSpaceRatio"},
		{"bad flush type", func(o *Options) { o.FlushDiskType = 7 }, "flushDiskType"},
		{"zero interval", func(o *Options) { o.FlushIntervalCommitLog = 0 }, "flushIntervalCommitLog"},
		{"tiny buffer", func(o *Options) { o.CommitBufferSize = 10 }, "commit buffer"},
		{"no reserved time", func(o *Options) { o.FileReservedTime = 0 }, "fileReservedTime"},
	}
	for _, tc := range tests {
		o := good
		tc.mut(&o)
		err := o.Validate()
		if !errors.Is(err, ErrInvalidOptions) || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: %v", tc.name, err)
		}
	}
	if ft, err := ParseFlushDiskType("SYNC_FLUSH"); err != nil || ft != SyncFlush || ft.String() != "SYNC_FLUSH" {
		t.Error("ParseFlushDiskType")
	}
	if _, err := ParseFlushDiskType("sync"); err == nil {
		t.Error("ParseFlushDiskType accepted junk")
	}
	lv, err := ParseDelayLevels(DefaultMessageDelayLevel)
	if err != nil || len(lv) != 18 || lv[0] != time.Second || lv[17] != 2*time.Hour {
		t.Errorf("delay levels %v %v", lv, err)
	}
	if _, err := ParseDelayLevels("1x"); err == nil {
		t.Error("bad delay level accepted")
	}
	if h, err := parseDeleteWhen("04;12"); err != nil || !h[4] || !h[12] || h[5] {
		t.Error("parseDeleteWhen")
	}
	if _, err := Open(nil, Options{}); !errors.Is(err, ErrInvalidOptions) {
		t.Errorf("Open with zero options: %v", err)
	}
}

func TestStoreClosed(t *testing.T) {
	fsys, root := newFS(t, memFS)
	s := openStore(t, smallOptions(root, fsys))
	mustAppend(t, s, msg("C", 0, "x"))
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal("second Close:", err)
	}
	if r := s.Append(context.Background(), msg("C", 0, "y")); r.Status != PutServiceNotAvailable || !errors.Is(r.Err, ErrClosed) {
		t.Fatalf("append after close: %v %v", r.Status, r.Err)
	}
	if _, err := s.GetMessages("C", 0, 0, 1, 0, nil); !errors.Is(err, ErrClosed) {
		t.Fatal(err)
	}
	if err := s.AppendRaw(0, []byte{1}); !errors.Is(err, ErrClosed) {
		t.Fatal(err)
	}
}

// randomMessages appends n messages with random topics, queues, sizes and keys.
func randomMessages(t testing.TB, s *Store, rng *rand.Rand, n int) {
	for i := 0; i < n; i++ {
		topic := fmt.Sprintf("T%d", rng.Intn(3))
		m := msg(topic, int32(rng.Intn(4)), strings.Repeat(string(rune('a'+rng.Intn(26))), rng.Intn(3000)),
			PropertyTags, fmt.Sprintf("tag%d", rng.Intn(3)), PropertyKeys, fmt.Sprintf("k%d", i), PropertyUniqKey, fmt.Sprintf("U%d", i))
		if rng.Intn(10) == 0 {
			batch := []Message{*m, *m, *m}
			if r := s.AppendBatch(context.Background(), batch); r.Status != PutOK {
				t.Fatalf("batch: %v %v", r.Status, r.Err)
			}
			continue
		}
		mustAppend(t, s, m)
	}
}

// TestCommitBuffers: records and batches larger than a commit buffer, and appenders that
// must wait for a slow committer to hand buffers back.
func TestCommitBuffers(t *testing.T) {
	mem := vfs.NewMem()
	o := smallOptions("/store", mem)
	o.CommitBufferSize = 4096
	s := openStore(t, o)
	var slow atomic.Bool
	mem.SetWriteHook(func(name string, off int64, n int) error {
		if slow.Load() && strings.Contains(name, "commitlog") {
			time.Sleep(2 * time.Millisecond)
		}
		return nil
	})
	slow.Store(true)
	mustAppend(t, s, msg("Buf", 0, strings.Repeat("a", 4000)))
	batch := []Message{*msg("Buf", 0, strings.Repeat("b", 3000)), *msg("Buf", 0, strings.Repeat("c", 3000)), *msg("Buf", 0, strings.Repeat("d", 3000))}
	if r := s.AppendBatch(context.Background(), batch); r.Status != PutOK {
		t.Fatalf("batch larger than a buffer: %v %v", r.Status, r.Err)
	}
	var wg sync.WaitGroup
	for w := 0; w < 4; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < 30; i++ {
				mustAppend(t, s, msg("Buf", 1, strings.Repeat("e", 1500)))
			}
		}()
	}
	wg.Wait()
	slow.Store(false)
	waitDispatched(t, s)
	if n := len(getAll(t, s, "Buf", 0)) + len(getAll(t, s, "Buf", 1)); n != 124 {
		t.Fatalf("%d records", n)
	}
	if st := s.Stats(); st.CommitBufferWaits == 0 {
		t.Fatal("no append waited for a buffer; the test did not exercise back-pressure")
	}
	checkConsistency(t, s)
}
