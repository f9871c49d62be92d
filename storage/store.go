package storage

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"math"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"time"
	"unsafe"

	"github.com/gorocket/gorocket/storage/vfs"
)

// PutStatus is the outcome of an append (RocketMQ PutMessageStatus).
type PutStatus int

// Put statuses. The broker maps them to response codes: PutOK → SUCCESS,
// PutFlushDiskTimeout → FLUSH_DISK_TIMEOUT (10), PutMessageIllegal and
// PutPropertiesSizeExceeded → MESSAGE_ILLEGAL (13), the rest → SERVICE_NOT_AVAILABLE (14)
// or SYSTEM_ERROR.
const (
	PutOK PutStatus = iota
	PutFlushDiskTimeout
	PutServiceNotAvailable
	PutCreateMappedFileFailed
	PutMessageIllegal
	PutPropertiesSizeExceeded
	PutDiskFull
	PutUnknownError
)

func (s PutStatus) String() string {
	switch s {
	case PutOK:
		return "PUT_OK"
	case PutFlushDiskTimeout:
		return "FLUSH_DISK_TIMEOUT"
	case PutServiceNotAvailable:
		return "SERVICE_NOT_AVAILABLE"
	case PutCreateMappedFileFailed:
		return "CREATE_MAPEDFILE_FAILED"
	case PutMessageIllegal:
		return "MESSAGE_ILLEGAL"
	case PutPropertiesSizeExceeded:
		return "PROPERTIES_SIZE_EXCEEDED"
	case PutDiskFull:
		return "DISK_FULL"
	case PutUnknownError:
		return "UNKNOWN_ERROR"
	}
	return fmt.Sprintf("PutStatus(%d)", int(s))
}

// AppendResult reports an append. For a batch the offsets are those of the first message.
// With PutFlushDiskTimeout the message is stored (offsets are valid) but not confirmed
// durable.
type AppendResult struct {
	Status         PutStatus
	Err            error // why, when Status != PutOK
	PhysicalOffset int64
	WroteBytes     int32 // all records of the call
	QueueOffset    int64
	StoreTimestamp int64
	MsgNum         int32
	storeHost      netip.AddrPort
	phys           []int64 // batch members
}

// MsgID is the offsetMsgId of a single message, or the members' ids joined by "," for a
// batch (what the send response carries).
func (r AppendResult) MsgID() string {
	if r.phys == nil {
		return OffsetMsgID(r.storeHost, r.PhysicalOffset)
	}
	return strings.Join(r.MsgIDs(), ",")
}

// MsgIDs lists the offsetMsgId of every message of the call.
func (r AppendResult) MsgIDs() []string {
	if r.phys == nil {
		if r.MsgNum == 0 {
			return nil
		}
		return []string{OffsetMsgID(r.storeHost, r.PhysicalOffset)}
	}
	out := make([]string, len(r.phys))
	for i, p := range r.phys {
		out[i] = OffsetMsgID(r.storeHost, p)
	}
	return out
}

// PhysicalOffsets lists the commit-log offset of every message of the call.
func (r AppendResult) PhysicalOffsets() []int64 {
	if r.phys == nil {
		if r.MsgNum == 0 {
			return nil
		}
		return []int64{r.PhysicalOffset}
	}
	return append([]int64(nil), r.phys...)
}

// Store is the message store. All methods are safe for concurrent use.
type Store struct {
	log  *slog.Logger
	opts Options
	fs   vfs.FS
	cl   *commitLog
	idx  *indexService // nil when the index is disabled

	// dispatchMu serialises dispatch rounds, DeleteTopic and checkpoint snapshots.
	dispatchMu sync.Mutex
	dispatched atomic.Int64
	indexFrom  int64 // records below are already indexed (recovery)
	touched    []*consumeQueue
	arrivals   []arrival
	newCQFiles map[*consumeQueue]bool
	// Recovery counters (nil while running).
	redispatch        *int64
	redispatchEntries *int64

	cqMu sync.RWMutex
	cqs  map[string]map[int32]*consumeQueue

	hook atomic.Pointer[func(topic string, queueID int32, queueOffset int64, tagsCode int64)]

	lock     io.Closer
	report   RecoveryReport
	memLimit int64 // bytes behind the end that count as "in memory"

	dispatchWake chan struct{}
	stop         chan struct{}
	wg           sync.WaitGroup
	closeMu      sync.Mutex
	closed       atomic.Bool

	deleteHours [24]bool
	diskFull    atomic.Bool
	diskRatio   atomic.Uint64 // math.Float64bits
	cleanMu     sync.Mutex
	lastCP      checkpoint // guarded by cpMu
	cpMu        sync.Mutex

	putCount   atomic.Int64
	putBytes   atomic.Int64
	putFailed  atomic.Int64
	putTimeout atomic.Int64
}

// Open opens (creating if needed) the store under opts.StorePathRootDir, recovers it and
// starts its goroutines. logger may be nil.
func Open(logger *slog.Logger, opts Options) (*Store, error) {
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	if err := opts.Validate(); err != nil {
		return nil, err
	}
	opts = opts.withDefaults()
	hours, _ := parseDeleteWhen(opts.DeleteWhen)
	s := &Store{
		log:          logger.With("component", "storage", "root", opts.StorePathRootDir),
		opts:         opts,
		fs:           opts.FS,
		cqs:          map[string]map[int32]*consumeQueue{},
		newCQFiles:   map[*consumeQueue]bool{},
		dispatchWake: make(chan struct{}, 1),
		stop:         make(chan struct{}),
		deleteHours:  hours,
	}
	if opts.MessageArrived != nil {
		fn := opts.MessageArrived
		s.hook.Store(&fn)
	}
	mem := opts.TotalPhysicalMemory
	if mem == 0 {
		mem = totalMemory()
	}
	s.memLimit = mem / 100 * int64(opts.AccessMessageInMemoryMaxRatio)

	for _, d := range []string{opts.StorePathRootDir, opts.StorePathCommitLog, opts.StorePathConsumeQueue, opts.StorePathIndex,
		filepath.Dir(opts.StoreCheckpoint), filepath.Dir(opts.AbortFile)} {
		if err := mkdirAllSynced(s.fs, d); err != nil {
			return nil, fmt.Errorf("storage: create %s: %w", d, err)
		}
	}
	lockPath := filepath.Join(opts.StorePathRootDir, "lock")
	host, _ := os.Hostname()
	holder := fmt.Sprintf("pid=%d host=%s since=%s", os.Getpid(), host, time.Now().UTC().Format(time.RFC3339))
	lk, err := s.fs.Lock(lockPath, holder)
	if err != nil {
		var le *vfs.LockError
		if errors.As(err, &le) {
			return nil, fmt.Errorf("%w: %s is held by %s; each broker (master or slave) on a host needs its own storePathRootDir", ErrLocked, lockPath, le.Holder)
		}
		return nil, fmt.Errorf("storage: lock %s: %w", lockPath, err)
	}
	s.lock = lk

	_, abortErr := s.fs.Stat(opts.AbortFile)
	clean := errors.Is(abortErr, fs.ErrNotExist)
	if abortErr != nil && !clean {
		lk.Close()
		return nil, fmt.Errorf("storage: stat %s: %w", opts.AbortFile, abortErr)
	}
	if err := createAbortFile(s.fs, opts.AbortFile); err != nil {
		lk.Close()
		return nil, err
	}

	s.cl = newCommitLog(s.log, &s.opts)
	s.cl.onCommit = func() { wake(s.dispatchWake) }
	if opts.MessageIndexEnable {
		s.idx = newIndexService(s.log, &s.opts)
	}
	if err := s.recover(clean); err != nil {
		s.abandon()
		return nil, err
	}
	s.refreshDisk()
	s.cl.start()
	s.wg.Add(3)
	go s.dispatcherLoop()
	go s.checkpointLoop()
	go s.cleanerLoop()
	return s, nil
}

// abandon releases what a failed Open took, leaving the abort file (the store was not
// closed cleanly).
func (s *Store) abandon() {
	s.cl.close()
	for _, cq := range s.allCQs() {
		cq.destroyAll(false)
	}
	if s.idx != nil {
		s.idx.mu.Lock()
		for _, x := range s.idx.files {
			x.f.Close()
		}
		s.idx.files = nil
		s.idx.mu.Unlock()
	}
	s.cl.releaseSegments()
	s.lock.Close()
}

func createAbortFile(fsys vfs.FS, path string) error {
	f, err := fsys.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o644)
	if err != nil {
		return fmt.Errorf("storage: create %s: %w", path, err)
	}
	if err := f.Close(); err != nil {
		return err
	}
	if err := fsys.SyncDir(filepath.Dir(path)); err != nil {
		return fmt.Errorf("storage: sync dir of %s: %w", path, err)
	}
	return nil
}

// mkdirAllSynced creates dir and fsyncs the parent of every directory it created, so the
// new directories survive a crash.
func mkdirAllSynced(fsys vfs.FS, dir string) error {
	var missing []string
	for d := filepath.Clean(dir); ; d = filepath.Dir(d) {
		if _, err := fsys.Stat(d); err == nil {
			break
		}
		missing = append(missing, d)
		if filepath.Dir(d) == d {
			break
		}
	}
	if len(missing) == 0 {
		return nil
	}
	if err := fsys.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	for i := len(missing) - 1; i >= 0; i-- {
		if err := fsys.SyncDir(filepath.Dir(missing[i])); err != nil {
			return err
		}
	}
	return nil
}

// RecoveryReport returns what Open's recovery did.
func (s *Store) RecoveryReport() RecoveryReport { return s.report }

// Options returns the options in effect (paths resolved).
func (s *Store) Options() Options { return s.opts }

// SetMessageArrivedHook installs fn (nil removes it). The dispatcher calls it after it
// published a consume-queue entry, with no storage lock held, so fn may call the Store; it
// runs on the dispatcher goroutine and should return quickly.
func (s *Store) SetMessageArrivedHook(fn func(topic string, queueID int32, queueOffset int64, tagsCode int64)) {
	if fn == nil {
		s.hook.Store(nil)
		return
	}
	s.hook.Store(&fn)
}

// ---- appends ----

func (s *Store) writable() error {
	if s.closed.Load() {
		return ErrClosed
	}
	if s.diskFull.Load() {
		return fmt.Errorf("%w: used %.1f%% of %s, hard limit %d%%", ErrDiskFull, 100*s.DiskUsedRatio(), s.opts.StorePathCommitLog, s.opts.DiskHardLimitRatio)
	}
	return nil
}

func statusOf(err error) PutStatus {
	switch {
	case errors.Is(err, ErrPropertiesTooLarge):
		return PutPropertiesSizeExceeded
	case errors.Is(err, ErrMessageTooLarge), errors.Is(err, ErrMessageIllegal):
		return PutMessageIllegal
	case errors.Is(err, ErrDiskFull):
		return PutDiskFull
	case errors.Is(err, ErrFlushTimeout):
		return PutFlushDiskTimeout
	case errors.Is(err, ErrClosed), errors.Is(err, ErrFailed):
		return PutServiceNotAvailable
	}
	var pe *fs.PathError
	if errors.As(err, &pe) {
		return PutCreateMappedFileFailed
	}
	return PutUnknownError
}

// Append stores one message: it assigns the next queue offset of (Topic, QueueID)
// atomically with the commit-log position, stamps the store time, computes BODYCRC and
// encodes the record. Under SYNC_FLUSH it returns once the record is durable (unless
// m.NoWait), or with PutFlushDiskTimeout after SyncFlushTimeout or when ctx ends.
func (s *Store) Append(ctx context.Context, m *Message) AppendResult {
	return s.append(ctx, unsafeOne(m))
}

// unsafeOne views *m as a one-element slice without copying it.
func unsafeOne(m *Message) []Message { return unsafe.Slice(m, 1) }

// AppendBatch stores messages of one topic queue as consecutive records (consecutive queue
// offsets, one store timestamp) in a single commit-log write. All messages must have the
// same Topic, QueueID and transaction type; NoWait of the first message applies.
func (s *Store) AppendBatch(ctx context.Context, msgs []Message) AppendResult {
	if len(msgs) == 0 {
		return AppendResult{Status: PutMessageIllegal, Err: fmt.Errorf("%w: empty batch", ErrMessageIllegal)}
	}
	for i := 1; i < len(msgs); i++ {
		if msgs[i].Topic != msgs[0].Topic || msgs[i].QueueID != msgs[0].QueueID ||
			TransactionType(msgs[i].SysFlag) != TransactionType(msgs[0].SysFlag) {
			return AppendResult{Status: PutMessageIllegal, Err: fmt.Errorf("%w: batch mixes topics, queues or transaction types", ErrMessageIllegal)}
		}
	}
	return s.append(ctx, msgs)
}

func (s *Store) append(ctx context.Context, msgs []Message) AppendResult {
	res := AppendResult{storeHost: msgs[0].StoreHost}
	if err := s.writable(); err != nil {
		s.putFailed.Add(1)
		res.Status, res.Err = statusOf(err), err
		return res
	}
	var one [1]int
	var oneFlag, oneCRC [1]int32
	sizes, flags, crcs := one[:], oneFlag[:], oneCRC[:]
	if len(msgs) > 1 {
		sizes, flags, crcs = make([]int, len(msgs)), make([]int32, len(msgs)), make([]int32, len(msgs))
	}
	total := 0
	for i := range msgs {
		n, f, err := encodedSize(&msgs[i], s.opts.MaxMessageSize)
		if err != nil {
			s.putFailed.Add(1)
			res.Status, res.Err = statusOf(err), err
			return res
		}
		sizes[i], flags[i], crcs[i] = n, f, BodyCRC(msgs[i].Body)
		total += n
	}
	if int64(total)+blankRecordLen > s.opts.MappedFileSizeCommitLog {
		err := fmt.Errorf("%w: batch of %d bytes does not fit a %d-byte segment", ErrMessageTooLarge, total, s.opts.MappedFileSizeCommitLog)
		s.putFailed.Add(1)
		res.Status, res.Err = PutMessageIllegal, err
		return res
	}
	if err := s.cl.appendMessages(msgs, sizes, flags, crcs, &res); err != nil {
		s.putFailed.Add(1)
		res.Status, res.Err = statusOf(err), err
		return res
	}
	s.putCount.Add(int64(len(msgs)))
	s.putBytes.Add(int64(total))
	if s.opts.FlushDiskType == SyncFlush && !msgs[0].NoWait {
		if err := s.cl.waitFlushed(ctx, res.PhysicalOffset+int64(res.WroteBytes), s.opts.SyncFlushTimeout); err != nil {
			s.putTimeout.Add(1)
			res.Status, res.Err = statusOf(err), err
			if res.Status != PutServiceNotAvailable {
				res.Status = PutFlushDiskTimeout
			}
			s.log.Warn("append not confirmed durable", "offset", res.PhysicalOffset, "err", err)
			return res
		}
	}
	return res
}

// WaitFlushed blocks until every commit-log byte below offset is durable (or the timeout /
// ctx ends). Under ASYNC_FLUSH it triggers an early flush.
func (s *Store) WaitFlushed(ctx context.Context, offset int64, timeout time.Duration) error {
	if s.closed.Load() {
		return ErrClosed
	}
	return s.cl.waitFlushed(ctx, offset, timeout)
}

// WaitFlushedFunc is the callback form of WaitFlushed, for callers that answer asynchronously
// (the broker appends SYNC_FLUSH messages with NoWait and answers from here): done is called
// exactly once, with nil once every commit-log byte below offset is durable, with an
// ErrFlushTimeout error after timeout, or with the failure / ErrClosed. It runs on the goroutine
// that made the bytes durable, right after its fdatasync, together with every other callback that
// flush covers (so done must not block), on the timeout timer's goroutine, or before
// WaitFlushedFunc returns when the outcome is known at once. No goroutine is parked and no timer
// is started per call.
func (s *Store) WaitFlushedFunc(offset int64, timeout time.Duration, done func(error)) {
	if s.closed.Load() {
		done(ErrClosed)
		return
	}
	s.cl.waitFlushedFunc(offset, timeout, done)
}

// ---- replication (HA) ----

// MaxPhyOffset is the commit-log end: the offset the next append (or AppendRaw) lands at.
func (s *Store) MaxPhyOffset() int64 { return s.cl.maxOffset() }

// MinPhyOffset is the first retained commit-log offset.
func (s *Store) MinPhyOffset() int64 { return s.cl.minOffset() }

// CommittedPhyOffset is the end of the bytes readable through ReadRaw and the readers.
func (s *Store) CommittedPhyOffset() int64 { return s.cl.committed.Load() }

// FlushedPhyOffset is the end of the durable bytes (a master reports this to know what a
// crash can't take away; a slave reports MaxPhyOffset as RocketMQ does).
func (s *Store) FlushedPhyOffset() int64 { return s.cl.flushed.Load() }

// WaitCommitted blocks until CommittedPhyOffset() > offset or ctx ends (an HA sender waits
// here instead of polling).
func (s *Store) WaitCommitted(ctx context.Context, offset int64) error {
	return s.cl.waitCommitted(ctx, offset)
}

// Buffer is a zero-copy view of commit-log bytes. Data stays valid until Release.
type Buffer struct {
	Data []byte
	// PhysicalOffset is the commit-log offset of Data[0].
	PhysicalOffset int64
	seg            *mappedFile
	once           sync.Once
}

// Release lets retention unmap the bytes. Data must not be used afterwards.
func (b *Buffer) Release() {
	if b == nil {
		return
	}
	b.once.Do(func() {
		if b.seg != nil {
			b.seg.release()
			b.seg = nil
		}
	})
}

// ReadRaw returns up to maxBytes committed commit-log bytes starting at offset, never
// crossing a segment end: a read near the end of a segment returns the blank record and
// its zero padding up to the segment end, and the next read starts the next segment. This is
// what a master sends a slave (8.2 of the protocol reference). At the committed end it
// returns an empty buffer.
func (s *Store) ReadRaw(offset int64, maxBytes int) (*Buffer, error) {
	if s.closed.Load() {
		return nil, ErrClosed
	}
	committed := s.cl.committed.Load()
	if offset == committed || maxBytes <= 0 {
		return &Buffer{PhysicalOffset: offset}, nil
	}
	if offset < 0 || offset > committed {
		return nil, fmt.Errorf("%w: offset %d beyond the committed end %d", ErrNotFound, offset, committed)
	}
	segEnd := offset - offset%s.opts.MappedFileSizeCommitLog + s.opts.MappedFileSizeCommitLog
	n := min(int64(maxBytes), committed-offset, segEnd-offset)
	data, seg, err := s.cl.slice(offset, int(n))
	if err != nil {
		return nil, err
	}
	return &Buffer{Data: data, PhysicalOffset: offset, seg: seg}, nil
}

// AppendRaw writes bytes read from a master's ReadRaw at the same physical offset, which
// must equal MaxPhyOffset() (on an empty store: any segment-aligned offset, where the log
// then starts). Chunks may end inside a record; complete records are validated (magic,
// lengths, offset, body CRC) before anything is written, then dispatched like local appends.
// Segment sizes of master and slave must match.
func (s *Store) AppendRaw(offset int64, data []byte) error {
	if s.closed.Load() {
		return ErrClosed
	}
	if len(data) == 0 {
		return nil
	}
	if offset != s.cl.maxOffset() && offset%s.opts.MappedFileSizeCommitLog == 0 {
		if err := s.resetEmpty(offset); err != nil {
			return err
		}
	}
	return s.cl.appendRaw(offset, data)
}

// resetEmpty moves an empty store's commit log to start at offset.
func (s *Store) resetEmpty(offset int64) error {
	s.dispatchMu.Lock()
	defer s.dispatchMu.Unlock()
	cl := s.cl
	cl.mu.Lock()
	defer cl.mu.Unlock()
	if err := cl.checkLocked(); err != nil {
		return err
	}
	for cl.allocating { // the allocator may be creating a file this reset would collide with
		cl.spaceCond.Wait()
	}
	cl.segMu.RLock()
	empty := len(cl.segs) == 1 && cl.writePos == cl.segs[0].start && cl.committed.Load() == cl.writePos &&
		cl.cur == nil && len(cl.ready) == 0
	cl.segMu.RUnlock()
	if !empty {
		return fmt.Errorf("%w: got %d, commit log ends at %d and is not empty", ErrOffsetMismatch, offset, cl.writePos)
	}
	seg, err := cl.createSegment(offset, cl.fillMode())
	if err != nil {
		return err
	}
	cl.segMu.Lock()
	old := cl.segs
	cl.segs = []*mappedFile{seg}
	cl.segMu.Unlock()
	for _, o := range old {
		o.destroy(true)
	}
	if cl.next != nil {
		cl.next.destroy(true)
		cl.next = nil
	}
	cl.active = seg
	cl.writePos = offset
	cl.committed.Store(offset)
	cl.flushed.Store(offset)
	cl.raw = rawParser{pos: offset}
	s.dispatched.Store(offset)
	s.indexFrom = offset
	wake(cl.allocWake)
	s.log.Info("empty commit log moved for replication", "offset", offset)
	return nil
}

// ---- reads ----

// GetStatus is the outcome of GetMessages (RocketMQ GetMessageStatus).
type GetStatus int

// Get statuses; see GetMessages for when each is returned and the broker's mapping.
const (
	GetFound GetStatus = iota
	GetNoMatchedMessage
	GetMessageWasRemoving
	GetOffsetFoundNull
	GetOffsetOverflowBadly
	GetOffsetOverflowOne
	GetOffsetTooSmall
	GetNoMatchedLogicQueue
	GetNoMessageInQueue
)

func (s GetStatus) String() string {
	switch s {
	case GetFound:
		return "FOUND"
	case GetNoMatchedMessage:
		return "NO_MATCHED_MESSAGE"
	case GetMessageWasRemoving:
		return "MESSAGE_WAS_REMOVING"
	case GetOffsetFoundNull:
		return "OFFSET_FOUND_NULL"
	case GetOffsetOverflowBadly:
		return "OFFSET_OVERFLOW_BADLY"
	case GetOffsetOverflowOne:
		return "OFFSET_OVERFLOW_ONE"
	case GetOffsetTooSmall:
		return "OFFSET_TOO_SMALL"
	case GetNoMatchedLogicQueue:
		return "NO_MATCHED_LOGIC_QUEUE"
	case GetNoMessageInQueue:
		return "NO_MESSAGE_IN_QUEUE"
	}
	return fmt.Sprintf("GetStatus(%d)", int(s))
}

// GotMessage is one record returned by GetMessages.
type GotMessage struct {
	// Data is the stored record, byte for byte what a pull response carries; it aliases the
	// commit-log mapping and is valid until GetResult.Release.
	Data           []byte
	PhysicalOffset int64
	QueueOffset    int64
	TagsCode       int64
}

// GetResult is GetMessages' answer. Call Release when the records have been sent.
type GetResult struct {
	Status          GetStatus
	NextBeginOffset int64
	MinOffset       int64
	MaxOffset       int64
	// SuggestPullingFromSlave is RocketMQ's "consumer is far behind" hint: the last message
	// read is more than AccessMessageInMemoryMaxRatio% of RAM behind the commit-log end.
	SuggestPullingFromSlave bool
	Messages                []GotMessage
	TotalBytes              int
	segs                    []*mappedFile
}

// Release returns the mappings; Messages[i].Data must not be used afterwards.
func (r *GetResult) Release() {
	if r == nil {
		return
	}
	for _, s := range r.segs {
		s.release()
	}
	r.segs = nil
	for i := range r.Messages {
		r.Messages[i].Data = nil
	}
}

// Buffers returns the records' bytes in queue order (for net.Buffers / writev).
func (r *GetResult) Buffers() [][]byte {
	out := make([][]byte, len(r.Messages))
	for i := range r.Messages {
		out[i] = r.Messages[i].Data
	}
	return out
}

// GetMessages reads up to maxMsgs messages of (topic, queueID) from queueOffset, skipping
// entries whose tag code fails filter (nil = all). Statuses and NextBeginOffset follow
// RocketMQ 4.x DefaultMessageStore.getMessage:
//
//	no such queue               NO_MATCHED_LOGIC_QUEUE  next 0
//	maxOffset == 0              NO_MESSAGE_IN_QUEUE     next 0
//	offset < minOffset          OFFSET_TOO_SMALL        next minOffset
//	offset == maxOffset         OFFSET_OVERFLOW_ONE     next offset
//	offset > maxOffset          OFFSET_OVERFLOW_BADLY   next 0 if minOffset == 0, else maxOffset
//	consume-queue file missing  OFFSET_FOUND_NULL       next = start of the next file
//	otherwise                   FOUND, NO_MATCHED_MESSAGE (all filtered) or
//	                            MESSAGE_WAS_REMOVING (records deleted); next = offset + entries scanned
//
// A slave that must not correct offsets keeps the request offset itself. The batch stops at
// maxMsgs, at maxBytes (if > 0), at RocketMQ's transfer limits for messages in memory or on
// disk, and after scanning max(800, maxMsgs) entries.
func (s *Store) GetMessages(topic string, queueID int32, queueOffset int64, maxMsgs, maxBytes int, filter func(tagsCode int64) bool) (*GetResult, error) {
	if s.closed.Load() {
		return nil, ErrClosed
	}
	res := &GetResult{}
	cq := s.findCQ(topic, queueID)
	if cq == nil {
		res.Status = GetNoMatchedLogicQueue
		return res, nil
	}
	minOff, maxOff := cq.minOff.Load(), cq.maxOff.Load()
	res.MinOffset, res.MaxOffset = minOff, maxOff
	switch {
	case maxOff == 0:
		res.Status = GetNoMessageInQueue
		return res, nil
	case queueOffset < minOff:
		res.Status, res.NextBeginOffset = GetOffsetTooSmall, minOff
		return res, nil
	case queueOffset == maxOff:
		res.Status, res.NextBeginOffset = GetOffsetOverflowOne, queueOffset
		return res, nil
	case queueOffset > maxOff:
		res.Status, res.NextBeginOffset = GetOffsetOverflowBadly, maxOff
		if minOff == 0 {
			res.NextBeginOffset = 0
		}
		return res, nil
	}
	if maxMsgs <= 0 {
		maxMsgs = 1
	}
	scanLimit := max(16000/cqEntrySize, maxMsgs)
	maxPhy := s.cl.committed.Load()
	segSize := s.opts.MappedFileSizeCommitLog
	res.Status = GetNoMatchedMessage
	scanned := 0
	nextPhyFileStart := int64(-1)
	lastPhy := int64(-1)
	full := false
	for scanned < scanLimit && !full {
		b, f := cq.entries(queueOffset+int64(scanned), scanLimit-scanned)
		if f == nil {
			if scanned == 0 {
				res.Status = GetOffsetFoundNull
				res.NextBeginOffset = cq.nextFileStart(queueOffset)
				return res, nil
			}
			break
		}
		for len(b) >= cqEntrySize {
			e := getEntry(b)
			if nextPhyFileStart >= 0 && e.phy < nextPhyFileStart {
				b, scanned = b[cqEntrySize:], scanned+1
				continue
			}
			inDisk := maxPhy-e.phy > s.memLimit
			if s.batchFull(int(e.size), maxMsgs, maxBytes, res.TotalBytes, len(res.Messages), inDisk) {
				full = true
				break
			}
			lastPhy = e.phy
			if e.size <= 0 || (filter != nil && !filter(e.tags)) {
				b, scanned = b[cqEntrySize:], scanned+1
				continue
			}
			data, seg, err := s.cl.slice(e.phy, int(e.size))
			if err != nil {
				if res.TotalBytes == 0 {
					res.Status = GetMessageWasRemoving
				}
				nextPhyFileStart = e.phy - e.phy%segSize + segSize
				b, scanned = b[cqEntrySize:], scanned+1
				continue
			}
			if n := len(res.segs); n > 0 && res.segs[n-1] == seg {
				seg.release() // one reference per segment is enough
			} else {
				res.segs = append(res.segs, seg)
			}
			res.Messages = append(res.Messages, GotMessage{Data: data, PhysicalOffset: e.phy, QueueOffset: queueOffset + int64(scanned), TagsCode: e.tags})
			res.TotalBytes += len(data)
			res.Status = GetFound
			nextPhyFileStart = -1
			b, scanned = b[cqEntrySize:], scanned+1
		}
		f.release()
		if queueOffset+int64(scanned) >= cq.maxOff.Load() {
			break
		}
	}
	res.NextBeginOffset = queueOffset + int64(scanned)
	if lastPhy >= 0 {
		res.SuggestPullingFromSlave = maxPhy-lastPhy > s.memLimit
	}
	return res, nil
}

// batchFull is RocketMQ's isTheBatchFull plus the caller's byte limit.
func (s *Store) batchFull(size, maxMsgs, maxBytes, total, count int, inDisk bool) bool {
	if total == 0 || count == 0 {
		return false
	}
	if count >= maxMsgs {
		return true
	}
	if maxBytes > 0 && total+size > maxBytes {
		return true
	}
	if inDisk {
		return total+size > s.opts.MaxTransferBytesOnMessageInDisk || count >= s.opts.MaxTransferCountOnMessageInDisk
	}
	return total+size > s.opts.MaxTransferBytesOnMessageInMemory || count >= s.opts.MaxTransferCountOnMessageInMemory
}

// ReadMessage returns the record stored at a commit-log offset (VIEW_MESSAGE_BY_ID).
func (s *Store) ReadMessage(phyOffset int64) (*Buffer, error) {
	if s.closed.Load() {
		return nil, ErrClosed
	}
	// Read-your-writes: an offset already appended becomes readable once the committer
	// wrote it (normally within microseconds).
	if phyOffset >= s.cl.committed.Load() && phyOffset < s.cl.maxOffset() {
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		s.cl.waitCommitted(ctx, phyOffset+8)
		cancel()
	}
	data, seg, err := s.cl.recordAt(phyOffset)
	if err != nil {
		return nil, err
	}
	return &Buffer{Data: data, PhysicalOffset: phyOffset, seg: seg}, nil
}

// QueueOffsets returns a queue's min and max offsets (max = next offset to be written) and
// whether the queue exists.
func (s *Store) QueueOffsets(topic string, queueID int32) (minOffset, maxOffset int64, ok bool) {
	cq := s.findCQ(topic, queueID)
	if cq == nil {
		return 0, 0, false
	}
	return cq.minOff.Load(), cq.maxOff.Load(), true
}

// MaxOffsetInQueue is the next offset to be written (0 when the queue does not exist).
func (s *Store) MaxOffsetInQueue(topic string, queueID int32) int64 {
	_, hi, _ := s.QueueOffsets(topic, queueID)
	return hi
}

// MinOffsetInQueue is the first readable offset (-1 when the queue does not exist, as
// GET_MIN_OFFSET answers).
func (s *Store) MinOffsetInQueue(topic string, queueID int32) int64 {
	lo, _, ok := s.QueueOffsets(topic, queueID)
	if !ok {
		return -1
	}
	return lo
}

// storeTimeAt reads the store timestamp of the record at phy.
func (s *Store) storeTimeAt(phy int64) (int64, error) {
	data, seg, err := s.cl.recordAt(phy)
	if err != nil {
		return 0, err
	}
	defer seg.release()
	v, err := parseRecord(data)
	if err != nil {
		return 0, err
	}
	return v.storeTs, nil
}

// GetMessageStoreTimestamp is the store time of the message at a queue offset.
func (s *Store) GetMessageStoreTimestamp(topic string, queueID int32, queueOffset int64) (int64, error) {
	cq := s.findCQ(topic, queueID)
	if cq == nil || queueOffset < cq.minOff.Load() {
		return 0, fmt.Errorf("%w: %s/%d offset %d", ErrNotFound, topic, queueID, queueOffset)
	}
	e, ok := cq.entry(queueOffset)
	if !ok || e.size <= 0 {
		return 0, fmt.Errorf("%w: %s/%d offset %d", ErrNotFound, topic, queueID, queueOffset)
	}
	return s.storeTimeAt(e.phy)
}

// GetEarliestMessageTime is the store time of a queue's first readable message.
func (s *Store) GetEarliestMessageTime(topic string, queueID int32) (int64, error) {
	cq := s.findCQ(topic, queueID)
	if cq == nil {
		return 0, fmt.Errorf("%w: no queue %s/%d", ErrNotFound, topic, queueID)
	}
	return s.GetMessageStoreTimestamp(topic, queueID, cq.minOff.Load())
}

// EarliestMessageTime is the store time of the oldest message in the commit log.
func (s *Store) EarliestMessageTime() (int64, error) {
	return s.storeTimeAt(s.cl.minOffset())
}

// GetOffsetInQueueByTime finds the queue offset for a store time (SEARCH_OFFSET_BY_TIMESTAMP):
// the first message stored exactly at ts if there is one, otherwise the nearer of the two
// neighbours (the earlier one on a tie; only one exists at the ends). An empty or missing
// queue answers its max offset (0 when missing).
func (s *Store) GetOffsetInQueueByTime(topic string, queueID int32, ts int64) int64 {
	cq := s.findCQ(topic, queueID)
	if cq == nil {
		return 0
	}
	lo, hi := cq.minOff.Load(), cq.maxOff.Load()
	if lo >= hi {
		return hi
	}
	timeAt := func(i int64) (int64, bool) {
		e, ok := cq.entry(i)
		if !ok || e.size <= 0 {
			return 0, false
		}
		t, err := s.storeTimeAt(e.phy)
		return t, err == nil
	}
	first, last := lo, hi
	for lo < hi { // first offset whose time is >= ts
		mid := lo + (hi-lo)/2
		t, ok := timeAt(mid)
		if !ok || t < ts {
			lo = mid + 1
		} else {
			hi = mid
		}
	}
	if lo == last {
		return last - 1
	}
	rt, _ := timeAt(lo)
	if rt == ts || lo == first {
		return lo
	}
	lt, ok := timeAt(lo - 1)
	if !ok {
		return lo
	}
	if ts-lt > rt-ts {
		return lo
	}
	return lo - 1
}

// CheckInDiskByConsumeOffset reports whether the message at a queue offset is far enough
// behind the commit-log end to count as "on disk" (QUERY_CONSUMER_OFFSET's first-boot rule).
func (s *Store) CheckInDiskByConsumeOffset(topic string, queueID int32, queueOffset int64) bool {
	cq := s.findCQ(topic, queueID)
	if cq == nil {
		return false
	}
	e, ok := cq.entry(queueOffset)
	if !ok {
		return false
	}
	return s.cl.committed.Load()-e.phy > s.memLimit
}

// QueryResult is QueryMessages' answer. Call Release when done.
type QueryResult struct {
	Messages []GotMessage // QueueOffset and TagsCode are not set
	// IndexLastUpdateTimestamp and IndexLastUpdatePhyOffset are the QUERY_MESSAGE response
	// header fields (the newest index file's end).
	IndexLastUpdateTimestamp int64
	IndexLastUpdatePhyOffset int64
	segs                     []*mappedFile
}

// Release returns the mappings.
func (r *QueryResult) Release() {
	if r == nil {
		return
	}
	for _, s := range r.segs {
		s.release()
	}
	r.segs = nil
	for i := range r.Messages {
		r.Messages[i].Data = nil
	}
}

// QueryMessages finds up to maxNum messages of topic whose UNIQ_KEY or one of whose KEYS
// equals key, stored in [begin, end] (ms), newest first. Every index hit is checked against
// the record, so hash collisions are never returned.
func (s *Store) QueryMessages(topic, key string, maxNum int, begin, end int64) (*QueryResult, error) {
	if s.closed.Load() {
		return nil, ErrClosed
	}
	res := &QueryResult{}
	if s.idx == nil || maxNum <= 0 {
		return res, nil
	}
	res.IndexLastUpdateTimestamp, res.IndexLastUpdatePhyOffset = s.idx.lastUpdate()
	cands, err := s.idx.query(topic, key, maxNum*4+16, begin, end)
	if err != nil {
		return nil, err
	}
	seen := map[int64]bool{}
	for _, phy := range cands {
		if len(res.Messages) >= maxNum {
			break
		}
		if seen[phy] {
			continue
		}
		seen[phy] = true
		data, seg, err := s.cl.recordAt(phy)
		if err != nil {
			continue // deleted by retention
		}
		v, err := parseRecord(data)
		if err != nil || string(v.topic) != topic || v.storeTs < begin || v.storeTs > end || !recordHasKey(&v, key) {
			seg.release()
			continue
		}
		res.segs = append(res.segs, seg)
		res.Messages = append(res.Messages, GotMessage{Data: data, PhysicalOffset: phy})
	}
	return res, nil
}

func recordHasKey(v *recordView, key string) bool {
	if u, ok := PropertyValue(v.props, PropertyUniqKey); ok && string(u) == key {
		return true
	}
	keys, ok := PropertyValue(v.props, PropertyKeys)
	if !ok {
		return false
	}
	for _, k := range strings.Split(string(keys), " ") {
		if k == key {
			return true
		}
	}
	return false
}

// Topics lists the topics that have consume queues.
func (s *Store) Topics() []string {
	s.cqMu.RLock()
	defer s.cqMu.RUnlock()
	out := make([]string, 0, len(s.cqs))
	for t := range s.cqs {
		out = append(out, t)
	}
	return out
}

// QueueIDs lists a topic's queue ids.
func (s *Store) QueueIDs(topic string) []int32 {
	s.cqMu.RLock()
	defer s.cqMu.RUnlock()
	var out []int32
	for q := range s.cqs[topic] {
		out = append(out, q)
	}
	return out
}

// DeleteTopic removes a topic's consume queues and resets its queue offsets (the commit-log
// records stay until retention removes them).
func (s *Store) DeleteTopic(topic string) error {
	if s.closed.Load() {
		return ErrClosed
	}
	if err := s.deleteTopic(topic); err != nil {
		return err
	}
	// A checkpoint that still lists the topic would make the next recovery see its queues
	// as missing and rebuild them from the commit log.
	return s.checkpointNow(false)
}

func (s *Store) deleteTopic(topic string) error {
	s.cpMu.Lock() // no checkpoint snapshot may straddle the deletion
	defer s.cpMu.Unlock()
	s.dispatchMu.Lock()
	defer s.dispatchMu.Unlock()
	s.cqMu.Lock()
	qs := s.cqs[topic]
	delete(s.cqs, topic)
	s.cqMu.Unlock()
	var err error
	for _, cq := range qs {
		delete(s.newCQFiles, cq)
		if e := cq.destroyAll(true); e != nil && err == nil {
			err = e
		}
	}
	dir := filepath.Join(s.opts.StorePathConsumeQueue, topic)
	if e := s.fs.RemoveAll(dir); e != nil && err == nil {
		err = e
	}
	if e := s.fs.SyncDir(s.opts.StorePathConsumeQueue); e != nil && err == nil {
		err = e
	}
	s.cl.mu.Lock()
	for k := range s.cl.queueOffs {
		if k.topic == topic {
			delete(s.cl.queueOffs, k)
		}
	}
	s.cl.mu.Unlock()
	s.log.Info("topic deleted", "topic", topic, "queues", len(qs))
	if err != nil {
		return fmt.Errorf("storage: delete topic %s: %w", topic, err)
	}
	return nil
}

// Stats is a snapshot of the store's counters.
type Stats struct {
	MinPhyOffset        int64
	MaxPhyOffset        int64
	CommittedPhyOffset  int64
	FlushedPhyOffset    int64
	DispatchedPhyOffset int64
	// DispatchBehindBytes is how far the consume queues lag the committed commit log.
	DispatchBehindBytes int64
	DiskUsedRatio       float64
	DiskFull            bool
	PutMessages         int64
	PutBytes            int64
	PutFailures         int64
	PutFlushTimeouts    int64
	Flushes             int64
	// CommitBufferWaits counts appends that waited for the committer to free a buffer.
	CommitBufferWaits int64
	Segments          int
	ConsumeQueues     int
}

// Stats returns the current counters.
func (s *Store) Stats() Stats {
	st := Stats{
		MinPhyOffset:        s.cl.minOffset(),
		MaxPhyOffset:        s.cl.maxOffset(),
		CommittedPhyOffset:  s.cl.committed.Load(),
		FlushedPhyOffset:    s.cl.flushed.Load(),
		DispatchedPhyOffset: s.dispatched.Load(),
		DiskUsedRatio:       s.DiskUsedRatio(),
		DiskFull:            s.diskFull.Load(),
		PutMessages:         s.putCount.Load(),
		PutBytes:            s.putBytes.Load(),
		PutFailures:         s.putFailed.Load(),
		PutFlushTimeouts:    s.putTimeout.Load(),
		Flushes:             s.cl.flushCount.Load(),
		CommitBufferWaits:   s.cl.bufferWaits.Load(),
		ConsumeQueues:       len(s.allCQs()),
	}
	st.DispatchBehindBytes = st.CommittedPhyOffset - st.DispatchedPhyOffset
	s.cl.segMu.RLock()
	st.Segments = len(s.cl.segs)
	s.cl.segMu.RUnlock()
	return st
}

// DiskUsedRatio is the used fraction (0..1) of the commit log's file system, as of the last
// retention run.
func (s *Store) DiskUsedRatio() float64 { return math.Float64frombits(s.diskRatio.Load()) }

// ---- shutdown ----

// Close stops accepting writes, commits and flushes everything, dispatches the rest, writes
// a final checkpoint, removes the abort file and releases the lock. Buffers and results
// still held by callers stay valid until released.
func (s *Store) Close() error {
	s.closeMu.Lock()
	defer s.closeMu.Unlock()
	if s.closed.Swap(true) {
		return nil
	}
	errs := []error{s.cl.close()}
	close(s.stop)
	s.wg.Wait()
	failed := s.cl.failure() != nil
	if !failed {
		s.dispatchMu.Lock()
		for {
			progressed, err := s.dispatchRoundLocked(s.cl.committed.Load(), dispatchLive)
			calls := append([]arrival(nil), s.arrivals...)
			s.arrivals = s.arrivals[:0]
			if err != nil {
				errs = append(errs, err)
				failed = true
				break
			}
			s.dispatchMu.Unlock()
			s.callArrivals(calls)
			s.dispatchMu.Lock()
			if !progressed {
				break
			}
		}
		s.dispatchMu.Unlock()
	}
	if !failed {
		errs = append(errs, s.checkpointNow(true))
	}
	if s.idx != nil {
		errs = append(errs, s.idx.close())
	}
	for _, cq := range s.allCQs() {
		cq.destroyAll(false)
	}
	s.cl.releaseSegments()
	err := errors.Join(errs...)
	if err == nil && !failed {
		if e := s.fs.Remove(s.opts.AbortFile); e != nil {
			err = fmt.Errorf("storage: remove %s: %w", s.opts.AbortFile, e)
		} else if e := s.fs.SyncDir(filepath.Dir(s.opts.AbortFile)); e != nil {
			err = e
		}
	}
	if e := s.lock.Close(); e != nil && err == nil {
		err = e
	}
	if err != nil {
		s.log.Error("store closed with errors; the next Open will run crash recovery", "err", err)
		return err
	}
	s.log.Info("store closed", "maxPhyOffset", s.cl.maxOffset())
	return nil
}
