package storage

import (
	"errors"
	"testing"

	"github.com/gorocket/gorocket/storage/vfs"
)

func newTestCQ(t *testing.T, fsys vfs.FS, perFile int) *consumeQueue {
	t.Helper()
	cq := newConsumeQueue(fsys, "/cq", "T", 3, perFile)
	t.Cleanup(func() { cq.destroyAll(false) })
	return cq
}

func putN(t *testing.T, cq *consumeQueue, from, n int64) {
	t.Helper()
	for i := from; i < from+n; i++ {
		if err := cq.put(i, cqEntry{phy: 1000 + i*100, size: 100, tags: i}); err != nil {
			t.Fatalf("put %d: %v", i, err)
		}
	}
	if _, err := cq.flushPending(); err != nil {
		t.Fatal(err)
	}
}

func TestConsumeQueuePutAndRead(t *testing.T) {
	tests := []struct {
		name     string
		perFile  int
		start    int64
		n        int64
		files    int
		firstPos int64
	}{
		{"one file", 10, 0, 7, 1, 0},
		{"exactly full files", 5, 0, 10, 2, 0},
		{"across files", 4, 0, 11, 3, 0},
		{"queue starting mid-file", 4, 6, 5, 2, 4},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			cq := newTestCQ(t, vfs.NewMem(), tc.perFile)
			putN(t, cq, tc.start, tc.n)
			if len(cq.files) != tc.files || cq.firstPosLocked() != tc.firstPos {
				t.Fatalf("%d files starting at %d", len(cq.files), cq.firstPosLocked())
			}
			if cq.minOff.Load() != tc.start || cq.maxOff.Load() != tc.start+tc.n {
				t.Fatalf("min %d max %d", cq.minOff.Load(), cq.maxOff.Load())
			}
			for i := tc.start; i < tc.start+tc.n; i++ {
				e, ok := cq.entry(i)
				if !ok || e.phy != 1000+i*100 || e.size != 100 || e.tags != i {
					t.Fatalf("entry %d = %+v %v", i, e, ok)
				}
			}
			if _, ok := cq.entry(tc.start + tc.n); ok {
				t.Fatal("read past maxOffset")
			}
			// entries() stops at the file end and at maxOffset.
			b, f := cq.entries(tc.start, 1000)
			per := int64(tc.perFile)
			want := min(tc.start+tc.n, (tc.start/per+1)*per) - tc.start
			if int64(len(b)) != want*cqEntrySize {
				t.Fatalf("entries() returned %d entries, want %d", len(b)/cqEntrySize, want)
			}
			f.release()
			if got := cq.nextFileStart(tc.start); got != (tc.start/per+1)*per {
				t.Fatalf("nextFileStart = %d", got)
			}
		})
	}
}

func TestConsumeQueueGapsAndRestart(t *testing.T) {
	cq := newTestCQ(t, vfs.NewMem(), 4)
	putN(t, cq, 0, 3)
	if err := cq.put(1, cqEntry{phy: 1, size: 1}); err != nil {
		t.Fatalf("re-put of an existing offset: %v", err) // ignored: recovery is idempotent
	}
	if len(cq.pending) != 0 {
		t.Fatal("a duplicate was queued")
	}
	if err := cq.put(5, cqEntry{phy: 1, size: 1}); !errors.Is(err, errQueueGap) {
		t.Fatalf("gap in a non-empty queue: %v", err)
	}
	empty := newTestCQ(t, vfs.NewMem(), 4)
	if err := empty.put(9, cqEntry{phy: 5, size: 5}); err != nil {
		t.Fatalf("an empty queue may start anywhere: %v", err)
	}
	empty.flushPending()
	if empty.minOff.Load() != 9 || empty.maxOff.Load() != 10 {
		t.Fatalf("restarted queue [%d,%d)", empty.minOff.Load(), empty.maxOff.Load())
	}
}

func TestConsumeQueueCorrectMinAndTrim(t *testing.T) {
	cq := newTestCQ(t, vfs.NewMem(), 4)
	putN(t, cq, 0, 14) // records at 1000, 1100, ... 2300
	cq.correctMin(1650)
	if cq.minOff.Load() != 7 {
		t.Fatalf("min after correctMin = %d, want 7", cq.minOff.Load())
	}
	if len(cq.files) != 3 || cq.files[0].start != 4*cqEntrySize {
		t.Fatalf("files after correctMin: %d, first at %d", len(cq.files), cq.files[0].start)
	}
	cq.maxOff.Store(9) // recovery decided entries 9.. are junk
	n, err := cq.trimAfterMax()
	if err != nil || n != 5 {
		t.Fatalf("trim dropped %d (%v), want 5", n, err)
	}
	if len(cq.files) != 2 {
		t.Fatalf("%d files after trim", len(cq.files))
	}
	cq.mu.RLock()
	e, _ := cq.rawEntryLocked(9)
	cq.mu.RUnlock()
	if e != (cqEntry{}) {
		t.Fatalf("entry 9 not zeroed: %+v", e)
	}
}

func TestConsumeQueueSyncIsDurable(t *testing.T) {
	mem := vfs.NewMem()
	mem.MkdirAll("/cq", 0o755)
	cq := newTestCQ(t, mem, 4)
	putN(t, cq, 0, 6)
	if err := cq.syncTo(6); err != nil {
		t.Fatal(err)
	}
	for _, d := range []string{"/", "/cq", "/cq/T", "/cq/T/3"} {
		mem.SyncDir(d)
	}
	putN(t, cq, 6, 1) // not synced
	img := mem.CrashClone()
	re := newConsumeQueue(img, "/cq", "T", 3, 4)
	if err := re.load(); err != nil {
		t.Fatal(err)
	}
	defer re.destroyAll(false)
	re.mu.RLock()
	defer re.mu.RUnlock()
	for i := int64(0); i < 6; i++ {
		if e, _ := re.rawEntryLocked(i); e.phy != 1000+i*100 {
			t.Fatalf("synced entry %d lost: %+v", i, e)
		}
	}
	if e, _ := re.rawEntryLocked(6); e.size != 0 {
		t.Fatalf("unsynced entry survived the crash: %+v", e)
	}
}
