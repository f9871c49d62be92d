package storage

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"log/slog"
	"path/filepath"
	"runtime"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gorocket/gorocket/storage/vfs"
)

const maxCommitBuffers = 4

// commitGatherYields is how often the committer yields after a wake-up before writing.
var commitGatherYields = 2

// commitBuf is a run of encoded bytes at [start, start+len(data)) of the commit log, not yet
// written to its segment. end is the committed offset after writing it: start+len(data), or
// the segment end when the buffer ends with a blank record.
type commitBuf struct {
	start int64
	end   int64
	data  []byte
}

// notifier is a broadcast without a lock: wait returns a channel that the next notify
// closes.
type notifier struct{ ch atomic.Pointer[chan struct{}] }

func (n *notifier) init() {
	c := make(chan struct{})
	n.ch.Store(&c)
}

func (n *notifier) wait() <-chan struct{} { return *n.ch.Load() }

func (n *notifier) notify() {
	c := make(chan struct{})
	close(*n.ch.Swap(&c))
}

type queueKey struct {
	topic string
	qid   int32
}

// commitLog owns the segments, the single appender and the committer, flusher and
// allocator goroutines (steps 1-3 and 6 of the order in doc.go).
type commitLog struct {
	log     *slog.Logger
	fs      vfs.FS
	dir     string
	segSize int64
	opts    *Options
	now     func() int64

	// segMu guards segs (sorted, contiguous).
	segMu sync.RWMutex
	segs  []*mappedFile

	// mu is the appender lock; it guards every field down to raw.
	mu         sync.Mutex
	spaceCond  sync.Cond // buffer returned, next segment ready, raw append done, close
	cur        *commitBuf
	ready      []*commitBuf
	free       []*commitBuf
	nbufs      int
	writePos   int64
	active     *mappedFile
	next       *mappedFile
	nextErr    error
	queueOffs  map[queueKey]*int64
	lastTs     int64
	closed     bool
	rawBusy    bool
	allocating bool // the allocator is creating a segment
	raw        rawParser

	failed         atomic.Pointer[error] // set once by fail
	commitMu       sync.Mutex            // serialises commitPending (committer, SYNC flusher, close)
	committed      atomic.Int64
	flushed        atomic.Int64
	flushRequested atomic.Int64
	committerIdle  atomic.Bool
	flushCount     atomic.Int64
	bufferWaits    atomic.Int64

	commitWake chan struct{}
	flushWake  chan struct{}
	allocWake  chan struct{}
	onCommit   func() // wakes the dispatcher

	flushes notifier     // notified after every flush (and on failure)
	fw      flushWaiters // WaitFlushedFunc callbacks, completed by flushTo
	commits notifier     // notified after every commit (and on failure)

	started    bool
	stopCommit chan struct{}
	stopFlush  chan struct{}
	stopAlloc  chan struct{}
	commitDone chan struct{}
	flushDone  chan struct{}
	allocDone  chan struct{}
}

func newCommitLog(log *slog.Logger, opts *Options) *commitLog {
	cl := &commitLog{
		log:        log,
		fs:         opts.FS,
		dir:        opts.StorePathCommitLog,
		segSize:    opts.MappedFileSizeCommitLog,
		opts:       opts,
		queueOffs:  map[queueKey]*int64{},
		commitWake: make(chan struct{}, 1),
		flushWake:  make(chan struct{}, 1),
		allocWake:  make(chan struct{}, 1),
		stopCommit: make(chan struct{}),
		stopFlush:  make(chan struct{}),
		stopAlloc:  make(chan struct{}),
		commitDone: make(chan struct{}),
		flushDone:  make(chan struct{}),
		allocDone:  make(chan struct{}),
		onCommit:   func() {},
	}
	clock := opts.Clock
	cl.now = func() int64 { return clock().UnixMilli() }
	cl.flushes.init()
	cl.commits.init()
	cl.spaceCond.L = &cl.mu
	return cl
}

func wake(ch chan struct{}) {
	select {
	case ch <- struct{}{}:
	default:
	}
}

func (cl *commitLog) segPath(start int64) string {
	return filepath.Join(cl.dir, segmentName(start))
}

func (cl *commitLog) fillMode() fillMode {
	switch {
	case !cl.opts.WarmCommitLogSegments:
		return fillSparse
	case cl.opts.FlushDiskType == SyncFlush:
		return fillZeroSync
	default:
		return fillZero
	}
}

// createSegment creates a segment file and makes its name durable (order step 6).
func (cl *commitLog) createSegment(start int64, fill fillMode) (*mappedFile, error) {
	t0 := time.Now()
	seg, err := createMappedFile(cl.fs, cl.segPath(start), start, cl.segSize, fill, cl.stopAlloc)
	if err != nil {
		return nil, err
	}
	if err := cl.fs.SyncDir(cl.dir); err != nil {
		seg.destroy(true)
		return nil, fmt.Errorf("storage: sync dir %s: %w", cl.dir, err)
	}
	cl.log.Debug("commit-log segment prepared", "path", seg.path, "fill", int(fill), "took", time.Since(t0))
	return seg, nil
}

// start launches the background goroutines. Recovery must have set the state.
func (cl *commitLog) start() {
	cl.started = true
	go cl.committerLoop()
	go cl.flusherLoop()
	go cl.allocatorLoop()
	wake(cl.allocWake)
}

// ---- appender ----

// checkLocked reports whether appends are possible. cl.mu must be held.
func (cl *commitLog) checkLocked() error {
	if cl.closed {
		return ErrClosed
	}
	return cl.failure()
}

// ensureBufLocked makes room for n contiguous bytes in cl.cur. When it had to wait (cl.mu
// released meanwhile) it returns waited=true and the caller must re-validate its state.
// cl.mu must be held.
func (cl *commitLog) ensureBufLocked(n int) (waited bool, err error) {
	for {
		if err := cl.checkLocked(); err != nil {
			return waited, err
		}
		if cl.cur != nil && len(cl.cur.data)+n <= cap(cl.cur.data) {
			return waited, nil
		}
		if cl.cur != nil && len(cl.cur.data) > 0 {
			cl.ready = append(cl.ready, cl.cur)
			cl.cur = nil
			cl.wakeCommitter()
		}
		if cl.cur == nil {
			switch {
			case len(cl.free) > 0:
				cl.cur = cl.free[len(cl.free)-1]
				cl.free = cl.free[:len(cl.free)-1]
			case cl.nbufs < maxCommitBuffers:
				cl.nbufs++
				cl.cur = &commitBuf{data: make([]byte, 0, cl.opts.CommitBufferSize)}
			default:
				cl.wakeCommitter()
				cl.bufferWaits.Add(1)
				cl.spaceCond.Wait()
				waited = true
				continue
			}
			cl.cur.start, cl.cur.end, cl.cur.data = cl.writePos, cl.writePos, cl.cur.data[:0]
		}
		if cap(cl.cur.data) < n { // a batch larger than a buffer: grow this one
			cl.cur.data = make([]byte, 0, n)
		}
	}
}

// takeLocked hands out the next n bytes of cl.cur; ensureBufLocked(n) must have succeeded
// without waiting since the state was last validated. cl.mu must be held.
func (cl *commitLog) takeLocked(n int) []byte {
	b := cl.cur.data[len(cl.cur.data) : len(cl.cur.data)+n]
	cl.cur.data = cl.cur.data[:len(cl.cur.data)+n]
	cl.cur.end += int64(n)
	cl.writePos += int64(n)
	return b
}

// closeCurLocked queues the current buffer for the committer. cl.mu must be held.
func (cl *commitLog) closeCurLocked() {
	if cl.cur != nil && len(cl.cur.data) > 0 {
		cl.ready = append(cl.ready, cl.cur)
		cl.cur = nil
	}
}

// roomLocked makes sure need bytes fit in the active segment at writePos, writing a blank
// record and switching to the next segment when they don't. It returns waited=true when it
// released cl.mu. cl.mu must be held.
func (cl *commitLog) roomLocked(need int64, blankNeeded bool) (waited bool, err error) {
	for {
		if err := cl.checkLocked(); err != nil {
			return waited, err
		}
		segEnd := cl.active.end()
		reserve := int64(0)
		if blankNeeded {
			reserve = blankRecordLen
		}
		if cl.writePos+need+reserve <= segEnd {
			return waited, nil
		}
		if cl.writePos < segEnd {
			left := segEnd - cl.writePos
			if left < blankRecordLen || !blankNeeded {
				return waited, fmt.Errorf("%w: %d bytes at %d do not fit the %d bytes left in the segment", ErrMessageIllegal, need, cl.writePos, left)
			}
			w, err := cl.ensureBufLocked(blankRecordLen)
			if err != nil {
				return true, err
			}
			if w {
				waited = true
				continue
			}
			b := cl.takeLocked(blankRecordLen)
			binary.BigEndian.PutUint32(b, uint32(left))
			binary.BigEndian.PutUint32(b[4:], blankMagicBits)
			cl.cur.end = segEnd
			cl.writePos = segEnd
			cl.closeCurLocked()
			cl.wakeCommitter()
		}
		// writePos is at the end of the active segment: switch to the prepared next one.
		if cl.next == nil {
			if cl.nextErr != nil {
				err := cl.nextErr
				cl.nextErr = nil
				wake(cl.allocWake)
				return waited, err
			}
			wake(cl.allocWake)
			cl.spaceCond.Wait()
			waited = true
			continue
		}
		cl.closeCurLocked()
		seg := cl.next
		cl.next = nil
		cl.segMu.Lock()
		cl.segs = append(cl.segs, seg)
		cl.segMu.Unlock()
		cl.active = seg
		wake(cl.allocWake)
		cl.log.Info("commit-log segment rolled", "segment", seg.path)
	}
}

// waitRawLocked waits while an AppendRaw call is copying. cl.mu must be held.
func (cl *commitLog) waitRawLocked() bool {
	waited := false
	for cl.rawBusy {
		cl.spaceCond.Wait()
		waited = true
	}
	return waited
}

// wakeCommitter asks for the buffers to be written: under SYNC_FLUSH the flusher commits
// and syncs in one go (one goroutine hop per group commit); under ASYNC_FLUSH the committer
// does it.
func (cl *commitLog) wakeCommitter() {
	if cl.opts.FlushDiskType == SyncFlush {
		wake(cl.flushWake)
	} else if cl.committerIdle.Load() {
		wake(cl.commitWake)
	}
}

// stampLocked returns a store timestamp that never goes backwards. cl.mu must be held.
func (cl *commitLog) stampLocked() int64 {
	ts := cl.now()
	if ts < cl.lastTs {
		ts = cl.lastTs
	}
	cl.lastTs = ts
	return ts
}

// queueOffsetLocked returns the counter of a queue. cl.mu must be held.
func (cl *commitLog) queueOffsetLocked(topic string, qid int32) *int64 {
	k := queueKey{topic, qid}
	p := cl.queueOffs[k]
	if p == nil {
		p = new(int64)
		cl.queueOffs[queueKey{string([]byte(topic)), qid}] = p // own copy of the key
	}
	return p
}

// appendMessages encodes msgs (one message, or a batch of one queue) as consecutive records
// in one commit-log write. sizes and sysFlags come from encodedSize; crcs from BodyCRC.
func (cl *commitLog) appendMessages(msgs []Message, sizes []int, sysFlags, crcs []int32, res *AppendResult) error {
	total := 0
	for _, n := range sizes {
		total += n
	}
	cl.mu.Lock()
	for {
		if cl.waitRawLocked() {
			continue
		}
		w, err := cl.roomLocked(int64(total), true)
		if err != nil {
			cl.mu.Unlock()
			return err
		}
		if w {
			continue
		}
		w, err = cl.ensureBufLocked(total)
		if err != nil {
			cl.mu.Unlock()
			return err
		}
		if !w {
			break
		}
	}
	ts := cl.stampLocked()
	first := &msgs[0]
	var counter *int64
	qo := int64(0)
	if dispatchable(sysFlags[0]) {
		counter = cl.queueOffsetLocked(first.Topic, first.QueueID)
		qo = *counter
	}
	res.PhysicalOffset = cl.writePos
	res.QueueOffset = qo
	res.StoreTimestamp = ts
	res.WroteBytes = int32(total)
	res.MsgNum = int32(len(msgs))
	if len(msgs) > 1 {
		res.phys = make([]int64, len(msgs))
	}
	for i := range msgs {
		phy := cl.writePos
		if res.phys != nil {
			res.phys[i] = phy
		}
		b := cl.takeLocked(sizes[i])
		q := int64(0)
		if counter != nil {
			q = qo + int64(i)
		}
		encodeRecord(b, &msgs[i], sysFlags[i], crcs[i], q, phy, ts)
	}
	if counter != nil {
		*counter = qo + int64(len(msgs))
	}
	cl.mu.Unlock()
	cl.wakeCommitter()
	return nil
}

// ---- raw appends (slave side of replication) ----

// rawParser follows record boundaries through raw appends so the queue-offset table stays
// right and malformed data is refused before it is written.
type rawParser struct {
	pos   int64  // offset of the next record header
	carry []byte // bytes from pos that do not yet form a whole record
}

type rawUpdate struct {
	key queueKey
	off int64
}

// parseRawLocked validates data (to be written at cl.writePos) and returns the queue-offset
// updates and the parser state after it. Nothing is changed. cl.mu must be held.
func (cl *commitLog) parseRawLocked(data []byte) ([]rawUpdate, rawParser, error) {
	p := cl.raw
	base := cl.writePos // offset of data[0]
	var buf []byte
	bufStart := base
	if len(p.carry) > 0 {
		buf = append(append(make([]byte, 0, len(p.carry)+len(data)), p.carry...), data...)
		bufStart = base - int64(len(p.carry))
	} else {
		buf = data
	}
	bufEnd := base + int64(len(data))
	var ups []rawUpdate
	pos := p.pos
	for pos < bufEnd {
		if pos < bufStart {
			return nil, p, fmt.Errorf("%w: raw parser lost track at %d", ErrCorrupt, pos)
		}
		segStart := pos - pos%cl.segSize
		segEnd := segStart + cl.segSize
		rel := pos - bufStart
		if bufEnd-pos < 8 {
			break
		}
		size := int32(binary.BigEndian.Uint32(buf[rel:]))
		magic := int32(binary.BigEndian.Uint32(buf[rel+4:]))
		if magic == BlankMagicCode {
			if int64(size) != segEnd-pos {
				return nil, p, fmt.Errorf("%w: blank record at %d says %d bytes, segment has %d left", ErrCorrupt, pos, size, segEnd-pos)
			}
			pos = segEnd
			continue
		}
		v, err := parseRecord(buf[rel:])
		if errors.Is(err, errShortRecord) && magicOK(magic) && int64(size) <= segEnd-pos && size >= recordFixedV1 {
			break // the rest arrives with the next call
		}
		if err != nil {
			return nil, p, fmt.Errorf("raw record at %d: %w", pos, err)
		}
		if v.phy != pos {
			return nil, p, fmt.Errorf("%w: raw record at %d claims offset %d", ErrCorrupt, pos, v.phy)
		}
		if int64(v.size) > segEnd-pos {
			return nil, p, fmt.Errorf("%w: raw record at %d crosses the segment end", ErrCorrupt, pos)
		}
		if BodyCRC(v.body) != v.bodyCRC {
			return nil, p, fmt.Errorf("%w: raw record at %d fails its body CRC", ErrCorrupt, pos)
		}
		if dispatchable(v.sysFlag) {
			ups = append(ups, rawUpdate{queueKey{string(v.topic), v.qid}, v.qo + 1})
		}
		pos += int64(v.size)
	}
	np := rawParser{pos: pos}
	if pos < bufEnd {
		np.carry = append([]byte(nil), buf[pos-bufStart:]...)
	}
	return ups, np, nil
}

func magicOK(m int32) bool { return m == MagicCodeV1 || m == MagicCodeV2 }

// appendRaw writes master bytes at phyOffset, which must be the current end.
func (cl *commitLog) appendRaw(phyOffset int64, data []byte) error {
	cl.mu.Lock()
	defer cl.mu.Unlock()
	for cl.waitRawLocked() {
	}
	if err := cl.checkLocked(); err != nil {
		return err
	}
	if phyOffset != cl.writePos {
		return fmt.Errorf("%w: got %d, commit log ends at %d", ErrOffsetMismatch, phyOffset, cl.writePos)
	}
	cl.rawBusy = true
	defer func() {
		cl.rawBusy = false
		cl.spaceCond.Broadcast()
	}()
	for len(data) > 0 {
		// Make sure the active segment covers writePos (it may sit exactly at the end).
		if _, err := cl.roomLocked(1, false); err != nil {
			return err
		}
		left := cl.active.end() - cl.writePos
		n := int64(len(data))
		if n > left {
			return fmt.Errorf("%w: raw data [%d,%d) crosses the segment end %d", ErrCorrupt, cl.writePos, cl.writePos+n, cl.active.end())
		}
		ups, np, err := cl.parseRawLocked(data)
		if err != nil {
			return err
		}
		// Copy in buffer-sized pieces; rawBusy keeps other appends out while we wait.
		for off := 0; off < len(data); {
			piece := min(len(data)-off, cl.opts.CommitBufferSize)
			if _, err := cl.ensureBufLocked(piece); err != nil {
				return err
			}
			copy(cl.takeLocked(piece), data[off:off+piece])
			off += piece
		}
		cl.raw = np
		for _, u := range ups {
			c := cl.queueOffsetLocked(u.key.topic, u.key.qid)
			if u.off > *c {
				*c = u.off
			}
		}
		if cl.writePos == cl.active.end() {
			cl.closeCurLocked()
		}
		data = nil
	}
	cl.wakeCommitter()
	return nil
}

// ---- committer ----

func (cl *commitLog) committerLoop() {
	defer close(cl.commitDone)
	var batch []*commitBuf
	for {
		cl.committerIdle.Store(true)
		var progressed bool
		batch, progressed = cl.commitPending(batch)
		if progressed {
			continue
		}
		cl.mu.Lock()
		stopping := cl.closed
		cl.mu.Unlock()
		if stopping || cl.failure() != nil {
			return
		}
		select {
		case <-cl.commitWake:
		case <-cl.stopCommit:
		}
		cl.gather()
	}
}

// gather lets the appenders that are ready to run add to the buffer before the committer
// takes it: a write syscall costs the same for one record as for a hundred, and on few
// cores the goroutines woken together with the committer run on its P after it. A lone
// appender is not delayed (Gosched returns at once when nothing else is runnable).
func (cl *commitLog) gather() {
	for range commitGatherYields {
		runtime.Gosched()
	}
}

// commitPending writes every filled buffer (and the current one) to the segments and
// publishes committed (order step 2). It reports whether it wrote anything; batch is
// scratch space handed back for reuse.
func (cl *commitLog) commitPending(batch []*commitBuf) ([]*commitBuf, bool) {
	cl.commitMu.Lock()
	defer cl.commitMu.Unlock()
	cl.mu.Lock()
	batch = append(batch[:0], cl.ready...)
	clear(cl.ready)
	cl.ready = cl.ready[:0]
	if cl.cur != nil && len(cl.cur.data) > 0 {
		batch = append(batch, cl.cur)
		cl.cur = nil
	}
	cl.mu.Unlock()
	if len(batch) == 0 || cl.failure() != nil {
		return batch, false
	}
	cl.committerIdle.Store(false)
	for _, b := range batch {
		if err := cl.commitBuf(b); err != nil {
			cl.fail(err)
			break
		}
	}
	cl.mu.Lock()
	for _, b := range batch {
		b.data = b.data[:0]
		cl.free = append(cl.free, b)
	}
	cl.spaceCond.Broadcast()
	cl.mu.Unlock()
	clear(batch)
	cl.afterCommit()
	return batch, true
}

// commitBuf writes one buffer to its segment and publishes committed (order step 2).
func (cl *commitLog) commitBuf(b *commitBuf) error {
	seg := cl.segmentFor(b.start)
	if seg == nil {
		return fmt.Errorf("storage: no segment for commit buffer at %d", b.start)
	}
	defer seg.release()
	if len(b.data) > 0 {
		if err := seg.writeAt(b.data, b.start-seg.start); err != nil {
			return err
		}
	}
	cl.committed.Store(b.end)
	return nil
}

func (cl *commitLog) afterCommit() {
	if cl.opts.FlushDiskType == AsyncFlush {
		c, f := cl.committed.Load(), cl.flushed.Load()
		if d := cl.opts.FlushDirtyBytes; (d > 0 && c-f >= d) || cl.flushRequested.Load() > f {
			wake(cl.flushWake)
		}
	}
	cl.onCommit()
	cl.commits.notify()
}

// fail puts the commit log into the failed state: appends and waiters get ErrFailed.
func (cl *commitLog) fail(err error) {
	e := fmt.Errorf("%w: %w", ErrFailed, err)
	if cl.failed.CompareAndSwap(nil, &e) {
		cl.log.Error("commit log failed, refusing writes", "err", err)
	}
	cl.mu.Lock()
	cl.spaceCond.Broadcast()
	cl.mu.Unlock()
	cl.flushes.notify()
	cl.commits.notify()
	cl.failAllFlushWaiters(cl.failure())
}

func (cl *commitLog) failure() error {
	if p := cl.failed.Load(); p != nil {
		return *p
	}
	return nil
}

// ---- flusher ----

func (cl *commitLog) flusherLoop() {
	defer close(cl.flushDone)
	if cl.opts.FlushDiskType == SyncFlush {
		// Group commit: write whatever the appenders buffered, fdatasync once, wake them all.
		var batch []*commitBuf
		for {
			batch, _ = cl.commitPending(batch)
			if t := cl.committed.Load(); t > cl.flushed.Load() && cl.failure() == nil {
				if err := cl.flushTo(t); err != nil {
					cl.fail(err)
				}
				continue
			}
			select {
			case <-cl.flushWake:
			case <-cl.stopFlush:
				return
			}
		}
	}
	tick := time.NewTicker(cl.opts.FlushIntervalCommitLog)
	defer tick.Stop()
	last := time.Now()
	least := int64(cl.opts.FlushCommitLogLeastPages) * 4096
	for {
		select {
		case <-tick.C:
		case <-cl.flushWake:
		case <-cl.stopFlush:
			return
		}
		t := cl.committed.Load()
		dirty := t - cl.flushed.Load()
		if dirty <= 0 || cl.failure() != nil {
			continue
		}
		if dirty >= least || time.Since(last) >= cl.opts.FlushCommitLogThoroughInterval ||
			cl.flushRequested.Load() > cl.flushed.Load() ||
			(cl.opts.FlushDirtyBytes > 0 && dirty >= cl.opts.FlushDirtyBytes) {
			if err := cl.flushTo(t); err != nil {
				cl.fail(err)
			}
			last = time.Now()
		}
	}
}

// flushTo fdatasyncs the segments holding [flushed, target) and publishes flushed (order
// step 3). Only the flusher goroutine and Close (after the flusher stopped) call it.
func (cl *commitLog) flushTo(target int64) error {
	from := cl.flushed.Load()
	if target <= from {
		return nil
	}
	for off := from; off < target; {
		seg := cl.segmentFor(off)
		if seg == nil {
			return fmt.Errorf("storage: no segment to flush at %d", off)
		}
		err := seg.sync()
		next := seg.end()
		seg.release()
		if err != nil {
			return err
		}
		off = next
	}
	cl.flushed.Store(target)
	cl.flushCount.Add(1)
	cl.flushes.notify()
	cl.completeFlushWaiters(target)
	return nil
}

// requestFlush asks the ASYNC_FLUSH flusher for an early flush up to target.
func (cl *commitLog) requestFlush(target int64) {
	for {
		r := cl.flushRequested.Load()
		if r >= target || cl.flushRequested.CompareAndSwap(r, target) {
			break
		}
	}
	wake(cl.flushWake)
}

// waitFlushed blocks until every byte below target is durable, the timeout passes, or ctx
// ends. Under ASYNC_FLUSH it asks the flusher for an early flush (under SYNC_FLUSH the
// append already woke it).
func (cl *commitLog) waitFlushed(ctx context.Context, target int64, timeout time.Duration) error {
	if cl.flushed.Load() >= target {
		return nil
	}
	if cl.opts.FlushDiskType == AsyncFlush {
		cl.requestFlush(target)
	}
	var timer *time.Timer
	err := func() error {
		for {
			ch := cl.flushes.wait()
			if cl.flushed.Load() >= target {
				return nil
			}
			if err := cl.failure(); err != nil {
				return err
			}
			if timer == nil {
				timer = time.NewTimer(timeout)
			}
			select {
			case <-ch:
			case <-timer.C:
				return fmt.Errorf("%w: waited %v for offset %d (flushed %d)", ErrFlushTimeout, timeout, target, cl.flushed.Load())
			case <-ctx.Done():
				return fmt.Errorf("%w: %w", ErrFlushTimeout, ctx.Err())
			}
		}
	}()
	if timer != nil {
		timer.Stop()
	}
	return err
}

// waitCommitted blocks until committed > off or ctx ends.
func (cl *commitLog) waitCommitted(ctx context.Context, off int64) error {
	for {
		ch := cl.commits.wait()
		if cl.committed.Load() > off {
			return nil
		}
		if err := cl.failure(); err != nil {
			return err
		}
		cl.mu.Lock()
		closed := cl.closed
		cl.mu.Unlock()
		if closed {
			return ErrClosed
		}
		select {
		case <-ch:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

// ---- allocator ----

func (cl *commitLog) allocatorLoop() {
	defer close(cl.allocDone)
	for {
		select {
		case <-cl.allocWake:
		case <-cl.stopAlloc:
			return
		}
		cl.mu.Lock()
		need := cl.next == nil && cl.nextErr == nil && !cl.closed && cl.active != nil
		var start int64
		if need {
			start = cl.active.end()
			cl.allocating = true
		}
		cl.mu.Unlock()
		if !need {
			continue
		}
		seg, err := cl.createSegment(start, cl.fillMode())
		cl.mu.Lock()
		cl.allocating = false // in the same critical section as the install below
		if errors.Is(err, errAborted) {
			cl.spaceCond.Broadcast()
			cl.mu.Unlock()
			return
		}
		if cl.closed || cl.active == nil || cl.active.end() != start {
			// Close or a reset raced with us; the file is harmless but unused.
			if seg != nil {
				seg.destroy(true)
			}
		} else {
			cl.next, cl.nextErr = seg, err
			if err != nil {
				cl.log.Error("commit-log segment allocation failed", "offset", start, "err", err)
			}
		}
		cl.spaceCond.Broadcast()
		cl.mu.Unlock()
	}
}

// ---- reads ----

// segmentFor returns the segment holding off, acquired, or nil.
func (cl *commitLog) segmentFor(off int64) *mappedFile {
	cl.segMu.RLock()
	defer cl.segMu.RUnlock()
	return cl.segmentForLocked(off)
}

// segmentForLocked: cl.segMu must be held (read or write).
func (cl *commitLog) segmentForLocked(off int64) *mappedFile {
	if len(cl.segs) == 0 || off < cl.segs[0].start {
		return nil
	}
	i := (off - cl.segs[0].start) / cl.segSize
	if i >= int64(len(cl.segs)) {
		return nil
	}
	s := cl.segs[i]
	s.acquire()
	return s
}

// slice returns n committed bytes at off without copying, and the segment to release.
func (cl *commitLog) slice(off int64, n int) ([]byte, *mappedFile, error) {
	if n <= 0 || off < 0 || off+int64(n) > cl.committed.Load() {
		return nil, nil, fmt.Errorf("%w: [%d,%d) is outside the committed log", ErrNotFound, off, off+int64(n))
	}
	seg := cl.segmentFor(off)
	if seg == nil {
		return nil, nil, fmt.Errorf("%w: offset %d is not in a retained segment", ErrNotFound, off)
	}
	rel := off - seg.start
	if rel+int64(n) > seg.size {
		seg.release()
		return nil, nil, fmt.Errorf("%w: [%d,%d) crosses a segment end", ErrNotFound, off, off+int64(n))
	}
	return seg.data[rel : rel+int64(n)], seg, nil
}

// recordAt returns the whole record at off (its size read from the header).
func (cl *commitLog) recordAt(off int64) ([]byte, *mappedFile, error) {
	hdr, seg, err := cl.slice(off, 8)
	if err != nil {
		return nil, nil, err
	}
	size := int32(binary.BigEndian.Uint32(hdr))
	magic := int32(binary.BigEndian.Uint32(hdr[4:]))
	rel := off - seg.start
	if !magicOK(magic) || size < recordFixedV1 || rel+int64(size) > seg.size || off+int64(size) > cl.committed.Load() {
		seg.release()
		return nil, nil, fmt.Errorf("%w: no record starts at offset %d", ErrNotFound, off)
	}
	return seg.data[rel : rel+int64(size)], seg, nil
}

func (cl *commitLog) minOffset() int64 {
	cl.segMu.RLock()
	defer cl.segMu.RUnlock()
	if len(cl.segs) == 0 {
		return 0
	}
	return cl.segs[0].start
}

func (cl *commitLog) maxOffset() int64 {
	cl.mu.Lock()
	defer cl.mu.Unlock()
	return cl.writePos
}

// ---- shutdown ----

// close refuses further appends, lets the committer write everything appended, stops the
// goroutines and flushes what is left.
func (cl *commitLog) close() error {
	cl.mu.Lock()
	if cl.closed {
		cl.mu.Unlock()
		return nil
	}
	cl.closed = true
	cl.spaceCond.Broadcast()
	cl.mu.Unlock()
	if cl.started {
		close(cl.stopCommit)
		<-cl.commitDone
		close(cl.stopAlloc)
		<-cl.allocDone
		close(cl.stopFlush)
		<-cl.flushDone
	}
	err := cl.failure()
	if err == nil {
		err = cl.flushTo(cl.committed.Load())
	}
	cl.failAllFlushWaiters(ErrClosed) // only waiters beyond the last flush are left
	cl.mu.Lock()
	next := cl.next
	cl.next = nil
	cl.mu.Unlock()
	if next != nil {
		next.destroy(false) // keep the warmed file for the next Open
	}
	cl.flushes.notify()
	cl.commits.notify()
	return err
}

// releaseSegments drops the owner references of all segments (after close).
func (cl *commitLog) releaseSegments() {
	cl.segMu.Lock()
	segs := cl.segs
	cl.segs = nil
	cl.segMu.Unlock()
	for _, s := range segs {
		s.destroy(false)
	}
	cl.mu.Lock()
	cl.active = nil
	cl.mu.Unlock()
}
