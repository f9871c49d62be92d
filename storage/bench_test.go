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

// benchStores keeps one store per sub-benchmark across the b.N rounds, so the 1 GiB segment
// is prepared once.
type benchStores struct {
	mu     sync.Mutex
	stores map[string]*Store
}

func (bs *benchStores) get(b *testing.B, ft FlushDiskType, dir string) *Store {
	bs.mu.Lock()
	defer bs.mu.Unlock()
	if s := bs.stores[b.Name()]; s != nil {
		return s
	}
	o := DefaultOptions()
	o.StorePathRootDir = filepath.Join(dir, strings.ReplaceAll(b.Name(), "/", "_"))
	o.FlushDiskType = ft
	s, err := Open(nil, o)
	if err != nil {
		b.Fatal(err)
	}
	// Let the allocator finish preparing the next segment: it is background work the append
	// path never waits for while a segment lasts.
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

func benchmarkAppend(b *testing.B, ft FlushDiskType) {
	bs := &benchStores{stores: map[string]*Store{}}
	dir := b.TempDir()
	b.Cleanup(func() {
		for _, s := range bs.stores {
			s.Close()
		}
	})
	for _, writers := range benchWriters {
		b.Run(fmt.Sprintf("writers=%d", writers), func(b *testing.B) {
			s := bs.get(b, ft, dir)
			msgs := make([]*Message, writers)
			for w := range msgs {
				msgs[w] = benchMessage(int32(w % 8))
			}
			flushes := s.Stats().Flushes
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

// BenchmarkAppendAsync: ASYNC_FLUSH appends (the call returns once the record is in the
// commit buffer).
func BenchmarkAppendAsync(b *testing.B) { benchmarkAppend(b, AsyncFlush) }

// BenchmarkAppendSync: SYNC_FLUSH appends (the call returns once the record is durable;
// concurrent appends share one fdatasync).
func BenchmarkAppendSync(b *testing.B) { benchmarkAppend(b, SyncFlush) }

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
	g := newRawGroupCommit(b, 256<<20)
	b.Cleanup(g.close)
	rec := make([]byte, benchRecordSize)
	for _, writers := range benchWriters {
		b.Run(fmt.Sprintf("writers=%d", writers), func(b *testing.B) {
			syncs := g.syncs.Load()
			b.SetBytes(benchRecordSize)
			b.ReportAllocs()
			b.ResetTimer()
			parallelOps(b, writers, func(int) { g.append(rec) })
			b.StopTimer()
			b.ReportMetric(float64(b.N)/float64(max(1, g.syncs.Load()-syncs)), "records/fsync")
		})
	}
}

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
