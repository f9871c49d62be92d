package storage

import (
	"context"
	"errors"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gorocket/gorocket/storage/vfs"
)

// flushResult records the calls of one WaitFlushedFunc callback.
type flushResult struct {
	calls   atomic.Int32
	err     error
	flushed int64 // the store's flushed offset when the callback ran
	done    chan struct{}
}

func (r *flushResult) callback(s *Store) func(error) {
	r.done = make(chan struct{})
	return func(err error) {
		if r.calls.Add(1) == 1 {
			r.err, r.flushed = err, s.cl.flushed.Load()
			close(r.done)
		}
	}
}

func (r *flushResult) wait(t *testing.T) error {
	t.Helper()
	select {
	case <-r.done:
		return r.err
	case <-time.After(10 * time.Second):
		t.Fatal("WaitFlushedFunc callback not called")
		return nil
	}
}

// TestWaitFlushedFunc: concurrent NoWait appends each wait with the callback form; every callback
// runs once, with nil, and only once its bytes are durable.
func TestWaitFlushedFunc(t *testing.T) {
	for _, kind := range []fsKind{memFS, osFS} {
		t.Run(string(kind), func(t *testing.T) {
			fs, root := newFS(t, kind)
			o := smallOptions(root, fs)
			o.FlushDiskType = SyncFlush
			s := openStore(t, o)
			const writers, each = 8, 50
			results := make([]*flushResult, writers*each)
			ends := make([]int64, writers*each)
			var wg sync.WaitGroup
			for w := range writers {
				wg.Add(1)
				go func() {
					defer wg.Done()
					for i := range each {
						m := msg("F", int32(w%4), "body")
						m.NoWait = true
						r := s.Append(context.Background(), m)
						if r.Status != PutOK {
							t.Errorf("append: %v %v", r.Status, r.Err)
							return
						}
						k := w*each + i
						results[k] = &flushResult{}
						ends[k] = r.PhysicalOffset + int64(r.WroteBytes)
						s.WaitFlushedFunc(ends[k], 5*time.Second, results[k].callback(s))
					}
				}()
			}
			wg.Wait()
			for k, r := range results {
				if r == nil {
					t.Fatal("append failed")
				}
				if err := r.wait(t); err != nil {
					t.Fatalf("waiter %d: %v", k, err)
				}
				if r.flushed < ends[k] {
					t.Fatalf("waiter %d called with flushed %d below its end %d", k, r.flushed, ends[k])
				}
			}
			time.Sleep(20 * time.Millisecond) // a second call would show up here
			for k, r := range results {
				if n := r.calls.Load(); n != 1 {
					t.Fatalf("waiter %d called %d times", k, n)
				}
			}
		})
	}
}

// TestWaitFlushedFuncTimeoutAndClose: a stalled fdatasync fails waiters after their timeout (each
// after its own), already durable offsets complete at once, and Close fails what is left.
func TestWaitFlushedFuncTimeoutAndClose(t *testing.T) {
	mem := vfs.NewMem()
	o := smallOptions("/store", mem)
	o.FlushDiskType = SyncFlush
	s, err := Open(testLogger(t), o)
	if err != nil {
		t.Fatal(err)
	}
	first := s.Append(context.Background(), msg("S", 0, "durable"))
	if first.Status != PutOK {
		t.Fatal(first.Err)
	}
	var durable flushResult
	s.WaitFlushedFunc(first.PhysicalOffset+int64(first.WroteBytes), time.Second, durable.callback(s))
	if durable.calls.Load() != 1 || durable.err != nil {
		t.Fatalf("durable offset: %d calls, err %v; want one immediate nil", durable.calls.Load(), durable.err)
	}

	stall := stallCommitLogSync(mem)
	stall.block()
	appendNoWait := func(body string) int64 {
		m := msg("S", 0, body)
		m.NoWait = true
		r := s.Append(context.Background(), m)
		if r.Status != PutOK {
			t.Fatal(r.Err)
		}
		return r.PhysicalOffset + int64(r.WroteBytes)
	}
	var early, late flushResult
	start := time.Now()
	s.WaitFlushedFunc(appendNoWait("early"), 100*time.Millisecond, early.callback(s))
	s.WaitFlushedFunc(appendNoWait("late"), 400*time.Millisecond, late.callback(s))
	if err := early.wait(t); !errors.Is(err, ErrFlushTimeout) {
		t.Fatalf("early waiter: %v, want ErrFlushTimeout", err)
	}
	if late.calls.Load() != 0 {
		t.Fatal("the waiter with the longer timeout expired with the first")
	}
	if err := late.wait(t); !errors.Is(err, ErrFlushTimeout) {
		t.Fatalf("late waiter: %v, want ErrFlushTimeout", err)
	}
	if el := time.Since(start); el < 400*time.Millisecond {
		t.Fatalf("late waiter expired after %v, want at least 400ms", el)
	}

	var atClose flushResult
	s.WaitFlushedFunc(appendNoWait("pending at close"), time.Minute, atClose.callback(s))
	stall.unblock()
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	// Close flushes what was appended, so this waiter completes with success; one registered
	// after Close fails at once.
	if err := atClose.wait(t); err != nil {
		t.Fatalf("waiter pending at Close: %v", err)
	}
	var afterClose flushResult
	s.WaitFlushedFunc(1<<40, time.Second, afterClose.callback(s))
	if afterClose.calls.Load() != 1 || !errors.Is(afterClose.err, ErrClosed) {
		t.Fatalf("after Close: %d calls, err %v; want one immediate ErrClosed", afterClose.calls.Load(), afterClose.err)
	}
	for _, r := range []*flushResult{&durable, &early, &late, &atClose} {
		if n := r.calls.Load(); n != 1 {
			t.Fatalf("a callback was called %d times", n)
		}
	}
}

// syncStall holds every fdatasync of a commit-log segment of a MemFS while blocked.
type syncStall struct {
	blocked atomic.Bool
	release chan struct{}
}

func stallCommitLogSync(mem *vfs.MemFS) *syncStall {
	st := &syncStall{release: make(chan struct{})}
	mem.SetSyncHook(func(name string) error {
		if strings.Contains(name, "commitlog") && st.blocked.Load() {
			<-st.release
		}
		return nil
	})
	return st
}

func (st *syncStall) block() { st.blocked.Store(true) }

// unblock lets the held and all later syncs through.
func (st *syncStall) unblock() {
	st.blocked.Store(false)
	close(st.release)
}
