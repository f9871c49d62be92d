package storage

import (
	"context"
	"fmt"
	"math/rand"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/gorocket/gorocket/storage/vfs"
)

// Benchmarks write 1 KiB records (TOTALSIZE = 1024: 91 bytes of header, a 10-byte topic and a
// 923-byte body) to the OS file system under the test's temporary directory.

const (
	benchTopic      = "BenchTopic"
	benchRecordSize = 1024
)

var benchWriters = []int{1, 16, 64}

// rawFileSize is the raw loop's file size (overwritten cyclically).
const rawFileSize = 256 << 20

func benchMessage(qid int32) *Message {
	return &Message{
		Topic:         benchTopic,
		QueueID:       qid,
		Body:          []byte(strings.Repeat("x", benchRecordSize-recordFixedV1-len(benchTopic))),
		BornTimestamp: time.Now().UnixMilli(),
		BornHost:      testBornHost,
		StoreHost:     testStoreHost,
	}
}

// parallelOps runs b.N calls of op spread over writers goroutines.
func parallelOps(b *testing.B, writers int, op func(w int)) {
	var next atomic.Int64
	var wg sync.WaitGroup
	for w := 0; w < writers; w++ {
		wg.Add(1)
		go func(w int) {
			defer wg.Done()
			for next.Add(1) <= int64(b.N) {
				op(w)
			}
		}(w)
	}
	wg.Wait()
}

// benchStores keeps one store per sub-benchmark across the rounds of one measurement (the
// framework calls the function with b.N = 1 first, then with the real N), so the 1 GiB
// segment is prepared once per measurement; each -count repetition starts a fresh store.
type benchStores struct {
	mu     sync.Mutex
	n      int
	stores map[string]*Store
}

func (bs *benchStores) get(b *testing.B, ft FlushDiskType, segSize int64, dir string) *Store {
	bs.mu.Lock()
	defer bs.mu.Unlock()
	if s := bs.stores[b.Name()]; s != nil {
		if b.N > 1 {
			return s
		}
		root := s.Options().StorePathRootDir
		s.Close()
		os.RemoveAll(root)
	}
	bs.n++
	o := DefaultOptions()
	o.StorePathRootDir = filepath.Join(dir, fmt.Sprintf("store%d", bs.n))
	o.FlushDiskType = ft
	if segSize > 0 {
		o.MappedFileSizeCommitLog = segSize
	}
	s, err := Open(nil, o)
	if err != nil {
		b.Fatal(err)
	}
	// Let the allocator finish preparing the next segment: background work the append path
	// does not wait for while a segment lasts.
	waitNextSegment(s)
	bs.stores[b.Name()] = s
	return s
}

func waitNextSegment(s *Store) {
	for {
		s.cl.mu.Lock()
		ready := s.cl.next != nil || s.cl.nextErr != nil
		s.cl.mu.Unlock()
		if ready {
			return
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func benchmarkAppend(b *testing.B, ft FlushDiskType, segSize int64, writerCounts []int) {
	bs := &benchStores{stores: map[string]*Store{}}
	dir := b.TempDir()
	b.Cleanup(func() {
		for _, s := range bs.stores {
			s.Close()
		}
	})
	for _, writers := range writerCounts {
		b.Run(fmt.Sprintf("writers=%d", writers), func(b *testing.B) {
			s := bs.get(b, ft, segSize, dir)
			msgs := make([]*Message, writers)
			for w := range msgs {
				msgs[w] = benchMessage(int32(w % 8))
			}
			flushes := s.Stats().Flushes
			if ft == SyncFlush {
				syscall.Sync() // start with no foreign dirty pages competing for the disk
			}
			b.SetBytes(benchRecordSize)
			b.ReportAllocs()
			b.ResetTimer()
			parallelOps(b, writers, func(w int) {
				if r := s.Append(context.Background(), msgs[w]); r.Status != PutOK {
					b.Errorf("append: %v %v", r.Status, r.Err)
				}
			})
			b.StopTimer()
			if ft == SyncFlush {
				b.ReportMetric(float64(b.N)/float64(max(1, s.Stats().Flushes-flushes)), "records/fsync")
			}
		})
	}
}

// rawGroupCommit is the baseline the store is measured against: writers copy their record
// into a shared buffer under a mutex and wait; one goroutine writes the buffer with pwrite
// and calls fdatasync, then wakes everyone whose record it covered. The file is zero-filled
// and synced first, like the store's segments, and is overwritten cyclically.
type rawGroupCommit struct {
	f      *os.File
	size   int64
	mu     sync.Mutex
	buf    []byte
	spare  []byte
	end    int64
	ch     chan struct{}
	synced atomic.Int64
	syncs  atomic.Int64
	wake   chan struct{}
	stop   chan struct{}
	done   chan struct{}
}

func newRawGroupCommit(b *testing.B, size int64) *rawGroupCommit {
	f, err := os.OpenFile(filepath.Join(b.TempDir(), "raw"), os.O_RDWR|os.O_CREATE, 0o644)
	if err != nil {
		b.Fatal(err)
	}
	for off := int64(0); off < size; off += zeroChunk {
		f.WriteAt(zeros[:], off)
	}
	syscall.Fdatasync(int(f.Fd()))
	g := &rawGroupCommit{f: f, size: size, ch: make(chan struct{}), wake: make(chan struct{}, 1), stop: make(chan struct{}), done: make(chan struct{})}
	go g.syncer()
	return g
}

func (g *rawGroupCommit) append(rec []byte) {
	g.mu.Lock()
	g.buf = append(g.buf, rec...)
	g.end += int64(len(rec))
	end, ch := g.end, g.ch
	g.mu.Unlock()
	wake(g.wake)
	for g.synced.Load() < end {
		<-ch
		g.mu.Lock()
		ch = g.ch
		g.mu.Unlock()
	}
}

func (g *rawGroupCommit) syncer() {
	defer close(g.done)
	var pos int64
	for {
		select {
		case <-g.wake:
		case <-g.stop:
			return
		}
		for {
			g.mu.Lock()
			data := g.buf
			g.buf, g.spare = g.spare[:0], data
			target := g.end
			g.mu.Unlock()
			if len(data) == 0 {
				break
			}
			for len(data) > 0 {
				n := min(int64(len(data)), g.size-pos)
				g.f.WriteAt(data[:n], pos)
				data = data[n:]
				pos = (pos + n) % g.size
			}
			syscall.Fdatasync(int(g.f.Fd()))
			g.syncs.Add(1)
			g.synced.Store(target)
			g.mu.Lock()
			close(g.ch)
			g.ch = make(chan struct{})
			g.mu.Unlock()
		}
	}
}

func (g *rawGroupCommit) close() {
	close(g.stop)
	<-g.done
	g.f.Close()
}

// BenchmarkRawGroupCommit: the write+fdatasync group-commit loop on its own.
func BenchmarkRawGroupCommit(b *testing.B) {
	g := newRawGroupCommit(b, rawFileSize)
	b.Cleanup(g.close)
	rec := make([]byte, benchRecordSize)
	for _, writers := range benchWriters {
		b.Run(fmt.Sprintf("writers=%d", writers), func(b *testing.B) {
			syncs := g.syncs.Load()
			syscall.Sync() // start with no foreign dirty pages competing for the disk
			b.SetBytes(benchRecordSize)
			b.ReportAllocs()
			b.ResetTimer()
			parallelOps(b, writers, func(int) { g.append(rec) })
			b.StopTimer()
			b.ReportMetric(float64(b.N)/float64(max(1, g.syncs.Load()-syncs)), "records/fsync")
		})
	}
}

// BenchmarkAppendSync: SYNC_FLUSH appends (the call returns once the record is durable;
// concurrent appends share one fdatasync). Compare with BenchmarkRawGroupCommit.
// A measurement (~300 MB) stays within the default 1 GiB segment, whose successor is ready.
func BenchmarkAppendSync(b *testing.B) { benchmarkAppend(b, SyncFlush, 0, benchWriters) }

// BenchmarkAppendSyncRolling: SYNC_FLUSH with 64 MiB segments, so a measurement rolls several
// times and the allocator zero-fills and syncs the next segments meanwhile: the steady-state
// cost of warming (twice the bytes written) that BenchmarkRawGroupCommit never pays.
func BenchmarkAppendSyncRolling(b *testing.B) { benchmarkAppend(b, SyncFlush, 64<<20, []int{64}) }

// BenchmarkAppendAsync: ASYNC_FLUSH appends (the call returns once the record is in the
// commit buffer). Each measurement starts with a new store whose first 1 GiB segment and
// the next one are prepared; -benchtime=1000000x stays within them (the append path),
// longer runs include preparing further segments (sustained ingest).
func BenchmarkAppendAsync(b *testing.B) { benchmarkAppend(b, AsyncFlush, 0, benchWriters) }

// readFixture is a store with 64k records of 1 KiB in 8 queues.
func readFixture(b *testing.B) (*Store, []int64) {
	o := DefaultOptions()
	o.StorePathRootDir = filepath.Join(b.TempDir(), "store")
	o.MappedFileSizeCommitLog = 16 << 20
	o.FS = vfs.Default
	s, err := Open(nil, o)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { s.Close() })
	var phys []int64
	for i := 0; i < 64<<10; i++ {
		r := s.Append(context.Background(), benchMessage(int32(i%8)))
		if r.Status != PutOK {
			b.Fatal(r.Err)
		}
		phys = append(phys, r.PhysicalOffset)
	}
	for s.Stats().DispatchedPhyOffset < s.MaxPhyOffset() {
		time.Sleep(time.Millisecond)
	}
	return s, phys
}

// BenchmarkReadByOffset: one record by commit-log offset (VIEW_MESSAGE_BY_ID), zero copy.
func BenchmarkReadByOffset(b *testing.B) {
	s, phys := readFixture(b)
	rng := rand.New(rand.NewSource(1))
	b.SetBytes(benchRecordSize)
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		buf, err := s.ReadMessage(phys[rng.Intn(len(phys))])
		if err != nil || len(buf.Data) != benchRecordSize {
			b.Fatal(err)
		}
		buf.Release()
	}
}

// BenchmarkGetMessages: a pull of 32 records from a random queue offset.
func BenchmarkGetMessages(b *testing.B) {
	s, _ := readFixture(b)
	_, hi, _ := s.QueueOffsets(benchTopic, 3)
	rng := rand.New(rand.NewSource(1))
	b.SetBytes(32 * benchRecordSize)
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		r, err := s.GetMessages(benchTopic, 3, rng.Int63n(hi-32), 32, 0, nil)
		if err != nil || r.Status != GetFound || len(r.Messages) != 32 {
			b.Fatalf("%v %v %d", err, r.Status, len(r.Messages))
		}
		r.Release()
	}
}

// BenchmarkConsumeQueueLookup: one consume-queue entry by queue offset, and the binary search
// by store time.
func BenchmarkConsumeQueueLookup(b *testing.B) {
	s, _ := readFixture(b)
	cq := s.findCQ(benchTopic, 5)
	_, hi, _ := s.QueueOffsets(benchTopic, 5)
	rng := rand.New(rand.NewSource(1))
	b.Run("byOffset", func(b *testing.B) {
		b.ReportAllocs()
		for i := 0; i < b.N; i++ {
			if e, ok := cq.entry(rng.Int63n(hi)); !ok || e.size != benchRecordSize {
				b.Fatal("lookup failed")
			}
		}
	})
	first, _ := s.GetEarliestMessageTime(benchTopic, 5)
	last, _ := s.GetMessageStoreTimestamp(benchTopic, 5, hi-1)
	b.Run("byTime", func(b *testing.B) {
		b.ReportAllocs()
		for i := 0; i < b.N; i++ {
			s.GetOffsetInQueueByTime(benchTopic, 5, first+rng.Int63n(last-first+1))
		}
	})
}

// BenchmarkAppendSyncVsRaw alternates blocks of 4096 appends between the raw group-commit
// loop and a SYNC_FLUSH store (64 writers each, same disk), so slow drifts of a shared
// disk hit both alike, and reports both rates and their ratio.
func BenchmarkAppendSyncVsRaw(b *testing.B) {
	const writers, block = 64, 4096
	g := newRawGroupCommit(b, rawFileSize)
	b.Cleanup(g.close)
	o := DefaultOptions()
	o.StorePathRootDir = filepath.Join(b.TempDir(), "store")
	o.FlushDiskType = SyncFlush
	s, err := Open(nil, o)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { s.Close() })
	waitNextSegment(s)
	msgs := make([]*Message, writers)
	for w := range msgs {
		msgs[w] = benchMessage(int32(w % 8))
	}
	rec := make([]byte, benchRecordSize)
	run := func(n int, op func(w int)) time.Duration {
		var next atomic.Int64
		var wg sync.WaitGroup
		t0 := time.Now()
		for w := 0; w < writers; w++ {
			wg.Add(1)
			go func(w int) {
				defer wg.Done()
				for next.Add(1) <= int64(n) {
					op(w)
				}
			}(w)
		}
		wg.Wait()
		return time.Since(t0)
	}
	syscall.Sync()
	var rawT, storeT time.Duration
	var rawN, storeN int
	b.SetBytes(benchRecordSize)
	b.ReportAllocs()
	b.ResetTimer()
	for done := 0; done < b.N; {
		n := min(block, b.N-done)
		half := n / 2
		rawT += run(half, func(int) { g.append(rec) })
		rawN += half
		storeT += run(n-half, func(w int) {
			if r := s.Append(context.Background(), msgs[w]); r.Status != PutOK {
				b.Errorf("append: %v %v", r.Status, r.Err)
			}
		})
		storeN += n - half
		done += n
	}
	b.StopTimer()
	if rawN > 0 && storeN > 0 {
		rawRate := float64(rawN) / rawT.Seconds()
		storeRate := float64(storeN) / storeT.Seconds()
		b.ReportMetric(rawRate, "raw-records/s")
		b.ReportMetric(storeRate, "store-records/s")
		b.ReportMetric(100*storeRate/rawRate, "store/raw-%")
	}
}
