package storage

import (
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gorocket/gorocket/storage/vfs"
)

func TestRetention(t *testing.T) {
	day := time.Date(2024, 3, 1, 0, 0, 0, 0, time.UTC)
	tests := []struct {
		name        string
		now         time.Time // when retention runs; messages are written at 00:00-00:01
		usedPercent uint64
		manual      bool
		wantDeleted bool // some segments deleted
		wantAllOld  bool // every segment but the active one deleted
	}{
		{"expired, not the deleteWhen hour", day.Add(3 * time.Hour), 10, false, false, false},
		{"expired at deleteWhen", day.Add(4*time.Hour + 30*time.Minute), 10, false, true, true},
		{"not expired at deleteWhen", day.Add(90 * time.Minute), 10, false, false, false},
		{"expired, any hour above diskMaxUsedSpaceRatio", day.Add(7 * time.Hour), 80, false, true, true},
		{"not expired, above diskMaxUsedSpaceRatio only", day.Add(30 * time.Minute), 80, false, false, false},
		{"not expired, above the forcible ratio", day.Add(30 * time.Minute), 87, false, true, true},
		{"manual request ignores the hour", day.Add(9 * time.Hour), 10, true, true, true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			mem := vfs.NewMem()
			var used atomic.Uint64
			used.Store(10)
			mem.SetUsage(func() vfs.Usage { return vfs.Usage{Total: 100, Free: 100 - used.Load()} })
			o := smallOptions("/store", mem)
			clk := newFakeClock(day)
			o.Clock = clk.Now
			o.FileReservedTime = 2
			o.DeleteWhen = "01;04"
			o.MaxIndexNum = 40
			o.ConsumeQueueEntriesPerFile = 8
			s := openStore(t, o)
			for i := 0; i < 120; i++ {
				clk.Add(500 * time.Millisecond)
				mustAppend(t, s, msg("Ret", int32(i%2), strings.Repeat("r", 1800), PropertyKeys, "k"))
			}
			waitDispatched(t, s)
			waitFlushed(t, s)
			before := s.Stats()
			if before.Segments < 4 {
				t.Fatalf("only %d segments", before.Segments)
			}
			s.idx.mu.RLock()
			indexFiles := len(s.idx.files)
			s.idx.mu.RUnlock()
			clk.Set(tc.now)
			used.Store(tc.usedPercent)
			var rep RetentionReport
			if tc.manual {
				rep, _ = s.DeleteExpiredFiles()
			} else {
				rep = s.runRetention(false) // what the cleaner goroutine runs every interval
			}
			after := s.Stats()
			if deleted := len(rep.DeletedSegments) > 0; deleted != tc.wantDeleted {
				t.Fatalf("deleted %v, want %v", rep.DeletedSegments, tc.wantDeleted)
			}
			if tc.wantAllOld && after.Segments != 1 {
				t.Fatalf("%d segments left, want only the active one", after.Segments)
			}
			if after.Segments != before.Segments-len(rep.DeletedSegments) || (tc.wantDeleted && after.MinPhyOffset <= before.MinPhyOffset) {
				t.Fatalf("before %+v after %+v", before, after)
			}
			for q := int32(0); q < 2; q++ {
				lo, hi, _ := s.QueueOffsets("Ret", q)
				if hi != 60 {
					t.Fatalf("queue %d max %d", q, hi)
				}
				recs := getAll(t, s, "Ret", q)
				if int64(len(recs)) != hi-lo || (len(recs) > 0 && recs[0].PhysicalOffset < after.MinPhyOffset) {
					t.Fatalf("queue %d: %d records in [%d,%d), first at %d, log starts at %d", q, len(recs), lo, hi, recs[0].PhysicalOffset, after.MinPhyOffset)
				}
				if tc.wantDeleted && lo == 0 {
					t.Fatalf("queue %d min offset not corrected", q)
				}
			}
			if tc.wantAllOld {
				s.idx.mu.RLock()
				left := len(s.idx.files)
				s.idx.mu.RUnlock()
				if len(rep.DeletedIndexFiles) == 0 || left != indexFiles-len(rep.DeletedIndexFiles) {
					t.Fatalf("index files: %d before, %d deleted, %d left", indexFiles, len(rep.DeletedIndexFiles), left)
				}
				// Consume-queue files that only pointed at deleted segments are gone too.
				lo, _, _ := s.QueueOffsets("Ret", 0)
				ents, _ := mem.ReadDir("/store/consumequeue/Ret/0")
				per := int64(o.ConsumeQueueEntriesPerFile)
				if len(ents) == 0 || ents[0].Name != segmentName((lo-lo%per)*cqEntrySize) {
					t.Fatalf("consume-queue files %v, min offset %d", ents, lo)
				}
			}
			checkConsistency(t, s)
			if err := s.Close(); err != nil {
				t.Fatal(err)
			}
			s2 := openStore(t, o)
			if st := s2.Stats(); st.MinPhyOffset != after.MinPhyOffset {
				t.Fatalf("min offset after reopen %d, want %d", st.MinPhyOffset, after.MinPhyOffset)
			}
			checkConsistency(t, s2)
		})
	}
}

// TestRetentionKeepsUndispatched: a segment whose records are not yet flushed or dispatched
// is never deleted, whatever the disk pressure.
func TestRetentionKeepsUnflushed(t *testing.T) {
	mem := vfs.NewMem()
	var free atomic.Uint64
	free.Store(90)
	mem.SetUsage(func() vfs.Usage { return vfs.Usage{Total: 100, Free: free.Load()} })
	o := smallOptions("/store", mem)
	o.FlushIntervalCommitLog = time.Hour
	o.FlushCommitLogThoroughInterval = time.Hour
	o.FlushIntervalConsumeQueue = time.Hour
	o.FlushDirtyBytes = 0
	s := openStore(t, o)
	for i := 0; i < 60; i++ {
		mustAppend(t, s, msg("U", 0, strings.Repeat("u", 2000)))
	}
	waitDispatched(t, s)
	if st := s.Stats(); st.FlushedPhyOffset != 0 || st.Segments < 2 {
		t.Fatalf("the test needs unflushed segments: %+v", st)
	}
	free.Store(1) // 99% used: far above the forcible-clean ratio
	rep := s.runRetention(true)
	if len(rep.DeletedSegments) != 0 {
		t.Fatalf("deleted unflushed segments %v", rep.DeletedSegments)
	}
}
