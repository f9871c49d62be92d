package storage

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math/rand"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gorocket/gorocket/storage/vfs"
)

// checkConsistency verifies the invariants recovery must restore: every consume-queue entry
// points at the record with that topic, queue and offset; offsets are consecutive; and every
// dispatchable record in the retained commit log is in its queue.
func checkConsistency(t testing.TB, s *Store) {
	t.Helper()
	waitDispatched(t, s)
	type qk struct {
		topic string
		qid   int32
	}
	inQueue := map[qk]map[int64]int64{} // queue offset -> physical offset
	for _, topic := range s.Topics() {
		for _, q := range s.QueueIDs(topic) {
			lo, hi, _ := s.QueueOffsets(topic, q)
			m := map[int64]int64{}
			for off := lo; off < hi; {
				r, err := s.GetMessages(topic, q, off, 32, 0, nil)
				if err != nil || r.Status != GetFound {
					t.Fatalf("%s/%d@%d in [%d,%d): %v %v", topic, q, off, lo, hi, r.Status, err)
				}
				for _, msg := range r.Messages {
					rec, _, err := DecodeRecord(msg.Data)
					if err != nil || rec.Topic != topic || rec.QueueID != q || rec.QueueOffset != msg.QueueOffset || rec.PhysicalOffset != msg.PhysicalOffset {
						t.Fatalf("%s/%d entry %d points at %+v (%v)", topic, q, msg.QueueOffset, rec, err)
					}
					if BodyCRC(rec.Body) != rec.BodyCRC {
						t.Fatalf("%s/%d entry %d: body CRC mismatch", topic, q, msg.QueueOffset)
					}
					m[msg.QueueOffset] = msg.PhysicalOffset
				}
				if r.NextBeginOffset != off+int64(len(r.Messages)) {
					t.Fatalf("%s/%d@%d: holes in the queue (next %d after %d messages)", topic, q, off, r.NextBeginOffset, len(r.Messages))
				}
				off = r.NextBeginOffset
				r.Release()
			}
			inQueue[qk{topic, q}] = m
		}
	}
	// Walk the commit log.
	for off := s.MinPhyOffset(); off < s.CommittedPhyOffset(); {
		b, err := s.ReadRaw(off, 1<<30)
		if err != nil {
			t.Fatal(err)
		}
		for p := 0; p+8 <= len(b.Data); {
			if int32(binary.BigEndian.Uint32(b.Data[p+4:])) == BlankMagicCode {
				break
			}
			rec, n, err := DecodeRecord(b.Data[p:])
			if err != nil {
				t.Fatalf("commit log at %d: %v", off+int64(p), err)
			}
			if dispatchable(rec.SysFlag) {
				lo, _, _ := s.QueueOffsets(rec.Topic, rec.QueueID)
				if rec.QueueOffset >= lo {
					if phy, ok := inQueue[qk{rec.Topic, rec.QueueID}][rec.QueueOffset]; !ok || phy != rec.PhysicalOffset {
						t.Fatalf("record at %d (%s/%d qo %d) is not in its queue", rec.PhysicalOffset, rec.Topic, rec.QueueID, rec.QueueOffset)
					}
				}
			}
			p += n
		}
		off += int64(len(b.Data))
		b.Release()
	}
}

// queueSnapshot maps "topic/qid/qo" to the record bytes.
func queueSnapshot(t testing.TB, s *Store) map[string]string {
	t.Helper()
	out := map[string]string{}
	for _, topic := range s.Topics() {
		for _, q := range s.QueueIDs(topic) {
			for _, r := range getAll(t, s, topic, q) {
				out[fmt.Sprintf("%s/%d/%d", topic, q, r.QueueOffset)] = fmt.Sprintf("%d:%s", r.PhysicalOffset, r.Body)
			}
		}
	}
	return out
}

// crashImage returns options for a copy of the store as a power loss would leave it now:
// MemFS keeps what was synced; on the OS the files are copied (everything written survives).
func crashImage(t testing.TB, o Options) Options {
	t.Helper()
	if mem, ok := o.FS.(*vfs.MemFS); ok {
		o.FS = mem.CrashClone()
		return o
	}
	dst := filepath.Join(t.TempDir(), "image")
	err := filepath.Walk(o.StorePathRootDir, func(p string, fi os.FileInfo, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(o.StorePathRootDir, p)
		target := filepath.Join(dst, rel)
		if fi.IsDir() {
			return os.MkdirAll(target, 0o755)
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		return os.WriteFile(target, b, 0o644)
	})
	if err != nil {
		t.Fatal(err)
	}
	o.StorePathRootDir = dst
	return o
}

func markUnclean(t testing.TB, o Options) {
	t.Helper()
	if err := createAbortFile(o.FS, filepath.Join(o.StorePathRootDir, "abort")); err != nil {
		t.Fatal(err)
	}
}

func readFile(t testing.TB, fsys vfs.FS, path string) []byte {
	t.Helper()
	f, err := fsys.OpenFile(path, os.O_RDONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	n, _ := f.Size()
	b := make([]byte, n)
	if _, err := f.ReadAt(b, 0); err != nil && err != io.EOF {
		t.Fatal(err)
	}
	return b
}

func patchFile(t testing.TB, fsys vfs.FS, path string, off int64, data []byte) {
	t.Helper()
	f, err := fsys.OpenFile(path, os.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if _, err := f.WriteAt(data, off); err != nil {
		t.Fatal(err)
	}
	if err := f.Sync(); err != nil {
		t.Fatal(err)
	}
}

func segPath(o Options, off int64) string {
	return filepath.Join(o.StorePathRootDir, "commitlog", segmentName(off-off%o.MappedFileSizeCommitLog))
}

func TestRecoveryTruncatesTornTail(t *testing.T) {
	type fixture struct {
		o       Options
		results []AppendResult
		bodies  []string
	}
	// setup appends 60 messages and returns a crash image of the store taken once they are
	// flushed (only Open wrote a checkpoint, so recovery verifies every record); with clean it
	// returns the cleanly closed store instead.
	setup := func(t *testing.T, kind fsKind, clean bool) *fixture {
		fsys, root := newFS(t, kind)
		o := smallOptions(root, fsys)
		o.FlushIntervalConsumeQueue = time.Hour
		s, err := Open(testLogger(t), o)
		if err != nil {
			t.Fatal(err)
		}
		f := &fixture{o: o}
		for i := 0; i < 60; i++ {
			body := fmt.Sprintf("m%03d-", i) + strings.Repeat("z", 1500)
			f.bodies = append(f.bodies, body)
			f.results = append(f.results, mustAppend(t, s, msg("Torn", int32(i%2), body, PropertyKeys, fmt.Sprintf("key%d", i))))
		}
		waitDispatched(t, s)
		waitFlushed(t, s)
		if !clean {
			f.o = crashImage(t, o)
		}
		if err := s.Close(); err != nil {
			t.Fatal(err)
		}
		return f
	}
	end := func(r AppendResult) int64 { return r.PhysicalOffset + int64(r.WroteBytes) }
	tests := []struct {
		name  string
		clean bool
		// damage corrupts the store and returns the index of the first lost message and the
		// bytes expected in the .broken file.
		damage func(t *testing.T, f *fixture) (int, []byte)
	}{
		{"garbage after the end", false, func(t *testing.T, f *fixture) (int, []byte) {
			last := f.results[len(f.results)-1]
			junk := bytes.Repeat([]byte{0xAB}, 300)
			patchFile(t, f.o.FS, segPath(f.o, end(last)), end(last)%f.o.MappedFileSizeCommitLog, junk)
			return len(f.results), junk
		}},
		{"garbage after the end of a clean store", true, func(t *testing.T, f *fixture) (int, []byte) {
			last := f.results[len(f.results)-1]
			junk := []byte("not a record at all")
			patchFile(t, f.o.FS, segPath(f.o, end(last)), end(last)%f.o.MappedFileSizeCommitLog, junk)
			return len(f.results), junk
		}},
		{"last record half written", false, func(t *testing.T, f *fixture) (int, []byte) {
			last := f.results[len(f.results)-1]
			p := segPath(f.o, last.PhysicalOffset)
			rel := last.PhysicalOffset % f.o.MappedFileSizeCommitLog
			orig := readFile(t, f.o.FS, p)[rel : rel+int64(last.WroteBytes)]
			keep := int(last.WroteBytes) / 2
			patchFile(t, f.o.FS, p, rel+int64(keep), make([]byte, int(last.WroteBytes)-keep))
			return len(f.results) - 1, orig[:keep]
		}},
		{"body bit flip in the middle of the last segment", false, func(t *testing.T, f *fixture) (int, []byte) {
			lastSeg := f.results[len(f.results)-1].PhysicalOffset / f.o.MappedFileSizeCommitLog
			i := len(f.results) - 1
			for i > 0 && f.results[i-1].PhysicalOffset/f.o.MappedFileSizeCommitLog == lastSeg {
				i--
			}
			i += 2 // the third record of the last segment
			r := f.results[i]
			p := segPath(f.o, r.PhysicalOffset)
			data := readFile(t, f.o.FS, p)
			rel := r.PhysicalOffset % f.o.MappedFileSizeCommitLog
			patchFile(t, f.o.FS, p, rel+100, []byte{data[rel+100] ^ 0x40})
			want := append([]byte(nil), data[rel:end(f.results[len(f.results)-1])%f.o.MappedFileSizeCommitLog]...)
			want[100] ^= 0x40
			return i, want
		}},
		{"damage in an earlier segment drops the later ones", false, func(t *testing.T, f *fixture) (int, []byte) {
			r := f.results[3]
			p := segPath(f.o, r.PhysicalOffset)
			patchFile(t, f.o.FS, p, r.PhysicalOffset%f.o.MappedFileSizeCommitLog+4, []byte{0, 0, 0, 0}) // magic
			var want []byte
			for off := r.PhysicalOffset; off < end(f.results[len(f.results)-1]); {
				seg := readFile(t, f.o.FS, segPath(f.o, off))
				rel := off % f.o.MappedFileSizeCommitLog
				upto := int64(len(seg))
				if nz := lastNonZero(seg); int64(nz+1) < upto {
					upto = int64(nz + 1)
				}
				want = append(want, seg[rel:upto]...)
				off += f.o.MappedFileSizeCommitLog - rel
			}
			return 3, want
		}},
	}
	for _, tc := range tests {
		for _, kind := range []fsKind{memFS, osFS} {
			t.Run(tc.name+"/"+string(kind), func(t *testing.T) {
				f := setup(t, kind, tc.clean)
				lost, wantBroken := tc.damage(t, f)
				s := openStore(t, f.o)
				rep := s.RecoveryReport()
				wantEnd := int64(0)
				if lost > 0 {
					wantEnd = end(f.results[lost-1])
				}
				if rep.CleanShutdown != tc.clean || rep.CommitLogEnd != wantEnd || rep.TruncatedBytes != int64(len(wantBroken)) {
					t.Fatalf("report %+v; want end %d, %d truncated bytes", rep, wantEnd, len(wantBroken))
				}
				if got := readFile(t, f.o.FS, rep.BrokenFile); !bytes.Equal(got, wantBroken) {
					t.Fatalf(".broken file %s holds %d bytes, want %d", rep.BrokenFile, len(got), len(wantBroken))
				}
				if !strings.HasSuffix(rep.BrokenFile, segmentName(wantEnd)+".broken") {
					t.Fatalf("broken file name %s", rep.BrokenFile)
				}
				if s.MaxPhyOffset() != wantEnd {
					t.Fatalf("max offset %d, want %d", s.MaxPhyOffset(), wantEnd)
				}
				checkConsistency(t, s)
				// Exactly the messages before the damage survive, in their queues.
				for q := int32(0); q < 2; q++ {
					recs := getAll(t, s, "Torn", q)
					var want []string
					for i := int(q); i < lost; i += 2 {
						want = append(want, f.bodies[i])
					}
					if len(recs) != len(want) {
						t.Fatalf("queue %d: %d records, want %d", q, len(recs), len(want))
					}
					for i := range recs {
						if string(recs[i].Body) != want[i] {
							t.Fatalf("queue %d record %d: %.10s", q, i, recs[i].Body)
						}
					}
					if lost < len(f.results) {
						if qr, _ := s.QueryMessages("Torn", fmt.Sprintf("key%d", lost), 5, 0, 1<<62); len(qr.Messages) != 0 {
							t.Fatal("the index still finds a truncated message")
						}
					}
				}
				// Appends continue at the right queue offsets.
				r := mustAppend(t, s, msg("Torn", 0, "new"))
				if r.PhysicalOffset != wantEnd || r.QueueOffset != int64((lost+1)/2) {
					t.Fatalf("next append at %d qo %d", r.PhysicalOffset, r.QueueOffset)
				}
				checkConsistency(t, s)
				if err := s.Close(); err != nil {
					t.Fatal(err)
				}
				s = openStore(t, f.o)
				if rep := s.RecoveryReport(); rep.TruncatedBytes != 0 || !rep.CleanShutdown || rep.FullRebuild {
					t.Fatalf("second open: %+v", rep)
				}
			})
		}
	}
}

func TestRecoveryRebuildsConsumeQueues(t *testing.T) {
	cqRoot := func(o Options) string { return filepath.Join(o.StorePathRootDir, "consumequeue") }
	tests := []struct {
		name   string
		clean  bool
		damage func(t *testing.T, o Options)
		reason string
	}{
		{"consumequeue directory deleted", true, func(t *testing.T, o Options) {
			o.FS.RemoveAll(cqRoot(o))
		}, "missing"},
		{"one queue deleted, crash", false, func(t *testing.T, o Options) {
			o.FS.RemoveAll(filepath.Join(cqRoot(o), "T1", "2"))
		}, "T1/2 is missing"},
		{"checkpoint deleted", true, func(t *testing.T, o Options) {
			o.FS.Remove(filepath.Join(o.StorePathRootDir, "checkpoint"))
		}, "no valid checkpoint"},
		{"checkpoint corrupt", false, func(t *testing.T, o Options) {
			patchFile(t, o.FS, filepath.Join(o.StorePathRootDir, "checkpoint"), 30, []byte{0xFF})
		}, "no valid checkpoint"},
		{"last consume-queue entry rewritten", true, func(t *testing.T, o Options) {
			s := openStore(t, o)
			_, hi, _ := s.QueueOffsets("T0", 1)
			s.Close()
			off := (hi - 1) * cqEntrySize
			per := int64(o.ConsumeQueueEntriesPerFile) * cqEntrySize
			p := filepath.Join(cqRoot(o), "T0", "1", segmentName(off-off%per))
			var e [8]byte
			binary.BigEndian.PutUint64(e[:], 12345)
			patchFile(t, o.FS, p, off%per, e[:])
		}, "T0/1 entry"},
	}
	for _, tc := range tests {
		for _, kind := range []fsKind{memFS, osFS} {
			t.Run(tc.name+"/"+string(kind), func(t *testing.T) {
				fsys, root := newFS(t, kind)
				o := smallOptions(root, fsys)
				s := openStore(t, o)
				randomMessages(t, s, rand.New(rand.NewSource(7)), 120)
				waitDispatched(t, s)
				before := queueSnapshot(t, s)
				if err := s.Close(); err != nil {
					t.Fatal(err)
				}
				tc.damage(t, o)
				if !tc.clean {
					markUnclean(t, o)
				}
				s = openStore(t, o)
				rep := s.RecoveryReport()
				if !rep.FullRebuild || !strings.Contains(rep.FullRebuildReason, tc.reason) || rep.RedispatchedEntries == 0 {
					t.Fatalf("report %+v", rep)
				}
				after := queueSnapshot(t, s)
				if len(after) != len(before) {
					t.Fatalf("%d entries after the rebuild, %d before", len(after), len(before))
				}
				for k, v := range before {
					if after[k] != v {
						t.Fatalf("%s: %q after the rebuild, %q before", k, after[k], v)
					}
				}
				checkConsistency(t, s)
				// Every message is found exactly once by its unique key after the rebuild.
				for i := 0; i < 120; i += 7 {
					found := 0
					for _, topic := range s.Topics() {
						q, _ := s.QueryMessages(topic, fmt.Sprintf("U%d", i), 5, 0, 1<<62)
						found += len(q.Messages)
						q.Release()
					}
					if found != 1 && found != 3 { // a batch stores its message three times under one key
						t.Fatalf("U%d found %d times after the rebuild", i, found)
					}
				}
				r := mustAppend(t, s, msg("T0", 1, "after"))
				if _, hi, _ := s.QueueOffsets("T0", 1); r.QueueOffset != hi-1 && r.QueueOffset != hi {
					t.Fatalf("append after rebuild got qo %d", r.QueueOffset)
				}
				checkConsistency(t, s)
			})
		}
	}
}

// TestRecoveryAtEverySyncPoint takes a crash image of the in-memory file system at every
// fsync while a workload runs (segment rolls, batches, several queues, index rolls), then
// opens each image: every append acknowledged before the image was taken (SYNC_FLUSH) must be
// there, intact, and the consume queues must be consistent with the commit log.
func TestRecoveryAtEverySyncPoint(t *testing.T) {
	for _, ft := range []FlushDiskType{SyncFlush, AsyncFlush} {
		t.Run(ft.String(), func(t *testing.T) {
			mem := vfs.NewMem()
			o := smallOptions("/store", mem)
			o.FlushDiskType = ft
			o.MaxIndexNum = 100
			s := openStore(t, o)
			var mu sync.Mutex
			var acked []string // unique keys, in ack order
			type image struct {
				fs    *vfs.MemFS
				acked int
			}
			var images []image
			var syncs atomic.Int64
			rng := rand.New(rand.NewSource(42)) // guarded by mu
			maxImages := 120
			if testing.Short() {
				maxImages = 30
			}
			mem.SetSyncHook(func(name string) error {
				if n := syncs.Add(1); n%3 != 0 {
					return nil
				}
				mu.Lock()
				defer mu.Unlock()
				if len(images) < maxImages {
					n := len(acked)
					images = append(images, image{mem.CrashClone(), n})
					images = append(images, image{mem.CrashCloneRandom(rng), n})
				}
				return nil
			})
			var wg sync.WaitGroup
			for w := 0; w < 4; w++ {
				wg.Add(1)
				go func(w int) {
					defer wg.Done()
					rng := rand.New(rand.NewSource(int64(w)))
					for i := 0; i < 150; i++ {
						key := fmt.Sprintf("w%d-%d", w, i)
						m := msg(fmt.Sprintf("P%d", w%2), int32(rng.Intn(3)), key+strings.Repeat(".", rng.Intn(2500)), PropertyUniqKey, key)
						var r AppendResult
						if rng.Intn(8) == 0 {
							r = s.AppendBatch(context.Background(), []Message{*m})
						} else {
							r = s.Append(context.Background(), m)
						}
						if r.Status != PutOK {
							t.Errorf("append: %v %v", r.Status, r.Err)
							return
						}
						mu.Lock()
						acked = append(acked, key)
						mu.Unlock()
					}
				}(w)
			}
			wg.Wait()
			mem.SetSyncHook(nil)
			if err := s.Close(); err != nil {
				t.Fatal(err)
			}
			mu.Lock()
			images = append(images, image{mem.CrashClone(), len(acked)})
			mu.Unlock()
			if len(images) < 5 {
				t.Fatalf("only %d crash images", len(images))
			}
			var stats struct{ truncated, redispatched, rebuilds int64 }
			defer func() {
				t.Logf("%d crash images: %d bytes truncated, %d entries redispatched, %d full rebuilds", len(images), stats.truncated, stats.redispatched, stats.rebuilds)
			}()
			for i, img := range images {
				io := smallOptions("/store", img.fs)
				io.FlushDiskType = ft
				io.MaxIndexNum = 100
				r, err := Open(testLogger(t), io)
				if err != nil {
					t.Fatalf("image %d: Open: %v", i, err)
				}
				checkConsistency(t, r)
				if ft == SyncFlush || i == len(images)-1 {
					for _, key := range acked[:img.acked] {
						topic := "P0" // worker w writes topic P(w%2)
						if key[1] == '1' || key[1] == '3' {
							topic = "P1"
						}
						q, err := r.QueryMessages(topic, key, 5, 0, 1<<62)
						if err != nil || len(q.Messages) != 1 {
							where := "not in the commit log"
							for off := r.MinPhyOffset(); off < r.CommittedPhyOffset(); {
								b, _ := r.ReadRaw(off, 1<<30)
								if i := bytes.Index(b.Data, []byte(key+".")); i >= 0 || bytes.HasSuffix(b.Data, []byte(key)) {
									where = fmt.Sprintf("in the commit log near %d", off+int64(i))
								}
								off += int64(len(b.Data))
								b.Release()
							}
							t.Fatalf("image %d (%d acked): acknowledged %s found %d times (%v), %s; report %+v", i, img.acked, key, len(q.Messages), err, where, r.RecoveryReport())
						}
						rec, _, _ := DecodeRecord(q.Messages[0].Data)
						if !strings.HasPrefix(string(rec.Body), key) || BodyCRC(rec.Body) != rec.BodyCRC {
							t.Fatalf("image %d: %s damaged", i, key)
						}
						q.Release()
					}
				}
				rep := r.RecoveryReport()
				stats.truncated += rep.TruncatedBytes
				stats.redispatched += rep.RedispatchedEntries
				if rep.FullRebuild {
					stats.rebuilds++
				}
				if res := r.Append(context.Background(), msg("P0", 0, "after crash")); res.Status != PutOK {
					t.Fatalf("image %d: append after recovery: %v %v", i, res.Status, res.Err)
				}
				if err := r.Close(); err != nil {
					t.Fatalf("image %d: Close: %v", i, err)
				}
			}
		})
	}
}

func TestLockRefusesSecondOpen(t *testing.T) {
	for _, kind := range []fsKind{memFS, osFS} {
		t.Run(string(kind), func(t *testing.T) {
			fsys, root := newFS(t, kind)
			o := smallOptions(root, fsys)
			s := openStore(t, o)
			_, err := Open(nil, o)
			lockPath := filepath.Join(root, "lock")
			if !errors.Is(err, ErrLocked) || !strings.Contains(err.Error(), lockPath) ||
				!strings.Contains(err.Error(), fmt.Sprintf("pid=%d", os.Getpid())) {
				t.Fatalf("second Open: %v", err)
			}
			if err := s.Close(); err != nil {
				t.Fatal(err)
			}
			s2, err := Open(nil, o)
			if err != nil {
				t.Fatalf("Open after Close: %v", err)
			}
			s2.Close()
		})
	}
}

func TestRecoveryRefusesChangedSegmentSize(t *testing.T) {
	fsys, root := newFS(t, memFS)
	o := smallOptions(root, fsys)
	s := openStore(t, o)
	mustAppend(t, s, msg("X", 0, "x"))
	s.Close()
	o.MappedFileSizeCommitLog *= 2
	if _, err := Open(nil, o); !errors.Is(err, ErrInvalidOptions) || !strings.Contains(err.Error(), "mapedFileSizeCommitLog") {
		t.Fatalf("Open with a different segment size: %v", err)
	}
}

func TestCheckpointCodec(t *testing.T) {
	cp := &checkpoint{segSize: 1 << 30, cqFileLen: 6_000_000, physic: 900, logics: 800, writtenAt: 5,
		queues: []queueMark{{"A", 0, 10}, {"%RETRY%g", 3, 0}}}
	b := cp.encode()
	got, err := decodeCheckpoint(b)
	if err != nil || got.physic != 900 || got.logics != 800 || len(got.queues) != 2 || got.queues[1].topic != "%RETRY%g" || got.queues[0].max != 10 {
		t.Fatalf("decode %+v %v", got, err)
	}
	for i := range b {
		c := append([]byte(nil), b...)
		c[i] ^= 0x10
		if _, err := decodeCheckpoint(c); !errors.Is(err, ErrCorrupt) {
			t.Fatalf("flipped byte %d accepted", i)
		}
	}
	if _, err := decodeCheckpoint(b[:len(b)-1]); err == nil {
		t.Fatal("truncated checkpoint accepted")
	}
}
