package storage

import (
	"encoding/binary"
	"errors"
	"fmt"
	"path/filepath"
	"strconv"
	"sync"
	"sync/atomic"

	"github.com/gorocket/gorocket/storage/vfs"
)

// cqEntrySize is the size of a consume-queue entry: int64 offset, int32 size, int64 tag code.
const cqEntrySize = 20

// cqEntry is a decoded consume-queue entry.
type cqEntry struct {
	phy  int64
	size int32
	tags int64
}

func getEntry(b []byte) cqEntry {
	return cqEntry{
		phy:  int64(binary.BigEndian.Uint64(b)),
		size: int32(binary.BigEndian.Uint32(b[8:])),
		tags: int64(binary.BigEndian.Uint64(b[12:])),
	}
}

func putEntry(b []byte, e cqEntry) {
	binary.BigEndian.PutUint64(b, uint64(e.phy))
	binary.BigEndian.PutUint32(b[8:], uint32(e.size))
	binary.BigEndian.PutUint64(b[12:], uint64(e.tags))
}

// errQueueGap: an entry arrived for a position past the queue's end.
var errQueueGap = errors.New("storage: consume-queue entry leaves a gap")

// consumeQueue is one (topic, queueId) queue. Entries are written only by the dispatcher
// (pending → pwrite at the end of a round → maxOffset published); readers use the
// read-only mappings below the published maxOffset.
type consumeQueue struct {
	topic     string
	qid       int32
	dir       string
	fs        vfs.FS
	fileBytes int64

	mu    sync.RWMutex // guards files
	files []*mappedFile

	minOff atomic.Int64
	maxOff atomic.Int64
	synced atomic.Int64 // entries below are durable

	// Dispatcher-owned.
	pending   []byte
	writeNext int64 // maxOff + pending entries
	touched   bool  // in the current round's list
	newDir    bool  // directory created, not yet fsynced
}

func newConsumeQueue(fsys vfs.FS, root, topic string, qid int32, entriesPerFile int) *consumeQueue {
	return &consumeQueue{
		topic:     topic,
		qid:       qid,
		dir:       filepath.Join(root, topic, strconv.Itoa(int(qid))),
		fs:        fsys,
		fileBytes: int64(entriesPerFile) * cqEntrySize,
	}
}

// load opens the queue's files. It checks names and contiguity; it does not decide min and
// max (recovery does).
func (cq *consumeQueue) load() error {
	ents, err := cq.fs.ReadDir(cq.dir)
	if err != nil {
		return fmt.Errorf("storage: list %s: %w", cq.dir, err)
	}
	for _, e := range ents {
		start, ok := parseSegmentName(e.Name)
		if e.IsDir || !ok {
			continue
		}
		if start%cq.fileBytes != 0 {
			return fmt.Errorf("%w: consume-queue file %s does not start at a multiple of %d bytes (was ConsumeQueueEntriesPerFile changed?)", ErrCorrupt, filepath.Join(cq.dir, e.Name), cq.fileBytes)
		}
		if n := len(cq.files); n > 0 && cq.files[n-1].end() != start {
			// A hole: keep the later run only; the earlier files are unreachable.
			for _, f := range cq.files {
				f.destroy(false)
			}
			cq.files = nil
		}
		mf, err := openMappedFile(cq.fs, filepath.Join(cq.dir, e.Name), start, cq.fileBytes)
		if err != nil {
			return err
		}
		cq.files = append(cq.files, mf)
	}
	return nil
}

// firstPos and endPos are the entry positions covered by the files.
func (cq *consumeQueue) firstPosLocked() int64 {
	if len(cq.files) == 0 {
		return 0
	}
	return cq.files[0].start / cqEntrySize
}

func (cq *consumeQueue) endPosLocked() int64 {
	if len(cq.files) == 0 {
		return 0
	}
	return cq.files[len(cq.files)-1].end() / cqEntrySize
}

// fileForLocked returns the file holding entry i (not acquired). cq.mu must be held.
func (cq *consumeQueue) fileForLocked(i int64) *mappedFile {
	if len(cq.files) == 0 {
		return nil
	}
	off := i * cqEntrySize
	first := cq.files[0].start
	if off < first {
		return nil
	}
	k := (off - first) / cq.fileBytes
	if k >= int64(len(cq.files)) {
		return nil
	}
	return cq.files[k]
}

// rawEntryLocked reads entry i whether or not it is published (recovery). cq.mu must be
// held.
func (cq *consumeQueue) rawEntryLocked(i int64) (cqEntry, bool) {
	f := cq.fileForLocked(i)
	if f == nil {
		return cqEntry{}, false
	}
	rel := i*cqEntrySize - f.start
	return getEntry(f.data[rel:]), true
}

// entries returns the published entries from i to the end of i's file (at most max), and
// the file to release. nil when i is outside the queue's files.
func (cq *consumeQueue) entries(i int64, max int) ([]byte, *mappedFile) {
	hi := cq.maxOff.Load()
	if i >= hi {
		return nil, nil
	}
	cq.mu.RLock()
	f := cq.fileForLocked(i)
	if f != nil {
		f.acquire()
	}
	cq.mu.RUnlock()
	if f == nil {
		return nil, nil
	}
	rel := i*cqEntrySize - f.start
	end := min(f.size, hi*cqEntrySize-f.start, rel+int64(max)*cqEntrySize)
	return f.data[rel:end], f
}

// entry reads one published entry.
func (cq *consumeQueue) entry(i int64) (cqEntry, bool) {
	b, f := cq.entries(i, 1)
	if f == nil {
		return cqEntry{}, false
	}
	defer f.release()
	return getEntry(b), true
}

// nextFileStart is the first position of the file after the one holding i (RocketMQ's
// rollNextFile).
func (cq *consumeQueue) nextFileStart(i int64) int64 {
	per := cq.fileBytes / cqEntrySize
	return i + per - i%per
}

// put appends an entry for queue offset qo (dispatcher only). A position below the end is
// ignored (already there: recovery redispatch is idempotent). A position past the end of an
// empty queue restarts the queue there; past the end of a non-empty one it is errQueueGap.
func (cq *consumeQueue) put(qo int64, e cqEntry) error {
	switch {
	case qo < cq.writeNext:
		return nil
	case qo > cq.writeNext:
		if cq.maxOff.Load() != cq.minOff.Load() || len(cq.pending) > 0 {
			return fmt.Errorf("%w: %s/%d expected offset %d, got %d", errQueueGap, cq.topic, cq.qid, cq.writeNext, qo)
		}
		cq.restartAt(qo)
	}
	var b [cqEntrySize]byte
	putEntry(b[:], e)
	cq.pending = append(cq.pending, b[:]...)
	cq.writeNext++
	return nil
}

// restartAt makes an empty queue begin at position p (dispatcher only).
func (cq *consumeQueue) restartAt(p int64) {
	cq.mu.Lock()
	if len(cq.files) > 0 && (p*cqEntrySize < cq.files[0].start || p*cqEntrySize > cq.files[len(cq.files)-1].end()) {
		for _, f := range cq.files {
			f.destroy(true)
		}
		cq.files = nil
	}
	cq.mu.Unlock()
	cq.writeNext = p
	cq.minOff.Store(p)
	cq.maxOff.Store(p)
	cq.synced.Store(p)
}

// flushPending writes the pending entries and publishes maxOffset (dispatcher only; order
// step 4). It returns whether new directories or files were created.
func (cq *consumeQueue) flushPending() (created bool, err error) {
	if len(cq.pending) == 0 {
		return false, nil
	}
	pos := cq.maxOff.Load()
	b := cq.pending
	for len(b) > 0 {
		off := pos * cqEntrySize
		cq.mu.RLock()
		f := cq.fileForLocked(pos)
		cq.mu.RUnlock()
		if f == nil {
			if f, err = cq.createFile(off - off%cq.fileBytes); err != nil {
				return created, err
			}
			created = true
		}
		n := min(int64(len(b)), f.end()-off)
		if err := f.writeAt(b[:n], off-f.start); err != nil {
			return created, err
		}
		b = b[n:]
		pos += n / cqEntrySize
	}
	cq.pending = cq.pending[:0]
	cq.maxOff.Store(pos)
	return created, nil
}

// createFile adds the file starting at byte start (dispatcher or recovery only).
func (cq *consumeQueue) createFile(start int64) (*mappedFile, error) {
	if len(cq.files) == 0 {
		if _, err := cq.fs.Stat(cq.dir); err != nil {
			if err := cq.fs.MkdirAll(cq.dir, 0o755); err != nil {
				return nil, fmt.Errorf("storage: create %s: %w", cq.dir, err)
			}
			cq.newDir = true
		}
	}
	cq.mu.RLock()
	ok := len(cq.files) == 0 || cq.files[len(cq.files)-1].end() == start
	cq.mu.RUnlock()
	if !ok {
		return nil, fmt.Errorf("storage: consume-queue file at %d would leave a hole in %s", start, cq.dir)
	}
	f, err := createMappedFile(cq.fs, filepath.Join(cq.dir, segmentName(start)), start, cq.fileBytes, fillSparse, nil)
	if err != nil {
		return nil, err
	}
	cq.mu.Lock()
	cq.files = append(cq.files, f)
	cq.mu.Unlock()
	return f, nil
}

// syncTo fdatasyncs the files holding entries [synced, to) and advances synced.
func (cq *consumeQueue) syncTo(to int64) error {
	from := cq.synced.Load()
	if to <= from {
		return nil
	}
	cq.mu.RLock()
	var fs []*mappedFile
	for _, f := range cq.files {
		if f.end() > from*cqEntrySize && f.start < to*cqEntrySize {
			f.acquire()
			fs = append(fs, f)
		}
	}
	cq.mu.RUnlock()
	var err error
	for _, f := range fs {
		if err == nil {
			err = f.sync()
		}
		f.release()
	}
	if err == nil {
		cq.synced.Store(to)
	}
	return err
}

// correctMin moves minOffset to the first entry whose record is at or after clMin and
// removes files that hold only older entries. Called by retention and recovery.
func (cq *consumeQueue) correctMin(clMin int64) {
	lo, hi := cq.minOff.Load(), cq.maxOff.Load()
	cq.mu.RLock()
	first := cq.firstPosLocked()
	if lo < first {
		lo = first
	}
	// Binary search for the first entry i in [lo, hi) with size > 0 and phy >= clMin.
	for lo < hi {
		mid := lo + (hi-lo)/2
		e, ok := cq.rawEntryLocked(mid)
		if ok && e.size > 0 && e.phy >= clMin {
			hi = mid
		} else {
			lo = mid + 1
		}
	}
	cq.mu.RUnlock()
	if lo > cq.minOff.Load() {
		cq.minOff.Store(lo)
	}
	// Drop files wholly below minOffset, keeping at least the last file.
	minByte := cq.minOff.Load() * cqEntrySize
	cq.mu.Lock()
	var drop []*mappedFile
	for len(cq.files) > 1 && cq.files[0].end() <= minByte {
		drop = append(drop, cq.files[0])
		cq.files = cq.files[1:]
	}
	cq.mu.Unlock()
	for _, f := range drop {
		f.destroy(true)
	}
}

// destroyAll unmaps and removes every file and the queue's directory.
func (cq *consumeQueue) destroyAll(remove bool) error {
	cq.mu.Lock()
	files := cq.files
	cq.files = nil
	cq.mu.Unlock()
	var err error
	for _, f := range files {
		if e := f.destroy(remove); e != nil && err == nil {
			err = e
		}
	}
	if remove {
		if e := cq.fs.RemoveAll(cq.dir); e != nil && err == nil {
			err = e
		}
	}
	return err
}
