package storage

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/gorocket/gorocket/storage/vfs"
)

// Index file layout (see doc.go).
const (
	indexHeaderSize = 40
	indexSlotSize   = 4
	indexEntrySize  = 20
	indexNameLayout = "20060102150405.000" // yyyyMMddHHmmss.SSS; the dot is removed
)

// errIndexSize: an index file whose size does not match the options.
var errIndexSize = fmt.Errorf("%w: index file size", ErrCorrupt)

type indexHeader struct {
	beginTs, endTs   int64
	beginPhy, endPhy int64
	slotCount        int32
	indexCount       int32 // next entry number; entry 0 is unused, so 1 = empty
}

func (h *indexHeader) encode(b []byte) {
	be := binary.BigEndian
	be.PutUint64(b[0:], uint64(h.beginTs))
	be.PutUint64(b[8:], uint64(h.endTs))
	be.PutUint64(b[16:], uint64(h.beginPhy))
	be.PutUint64(b[24:], uint64(h.endPhy))
	be.PutUint32(b[32:], uint32(h.slotCount))
	be.PutUint32(b[36:], uint32(h.indexCount))
}

func decodeIndexHeader(b []byte) indexHeader {
	be := binary.BigEndian
	return indexHeader{
		beginTs:    int64(be.Uint64(b[0:])),
		endTs:      int64(be.Uint64(b[8:])),
		beginPhy:   int64(be.Uint64(b[16:])),
		endPhy:     int64(be.Uint64(b[24:])),
		slotCount:  int32(be.Uint32(b[32:])),
		indexCount: int32(be.Uint32(b[36:])),
	}
}

type indexEntry struct {
	keyHash  int32
	phy      int64
	timeDiff int32
	prev     int32
}

func decodeIndexEntry(b []byte) indexEntry {
	be := binary.BigEndian
	return indexEntry{
		keyHash:  int32(be.Uint32(b[0:])),
		phy:      int64(be.Uint64(b[4:])),
		timeDiff: int32(be.Uint32(b[12:])),
		prev:     int32(be.Uint32(b[16:])),
	}
}

func (e indexEntry) encode(b []byte) {
	be := binary.BigEndian
	be.PutUint32(b[0:], uint32(e.keyHash))
	be.PutUint64(b[4:], uint64(e.phy))
	be.PutUint32(b[12:], uint32(e.timeDiff))
	be.PutUint32(b[16:], uint32(e.prev))
}

// indexFile is one index file. The newest file is active: its slot table is in memory and
// its new entries are pending until the end of the dispatch round. Older files are sealed:
// their slot table is on disk and they never change.
type indexFile struct {
	path       string
	f          vfs.File
	slots      int
	maxEntries int
	hdr        indexHeader

	slotTable []int32 // active only
	pending   []byte  // active only: entries [written, hdr.indexCount)
	written   int32   // entries below are in the file
	sealed    bool
}

func (x *indexFile) fileSize() int64 {
	return indexHeaderSize + int64(x.slots)*indexSlotSize + int64(x.maxEntries)*indexEntrySize
}

func (x *indexFile) entryOffset(i int32) int64 {
	return indexHeaderSize + int64(x.slots)*indexSlotSize + int64(i)*indexEntrySize
}

func (x *indexFile) full() bool { return int(x.hdr.indexCount) >= x.maxEntries }

// slot reads the head of a bucket. indexService.mu must be held.
func (x *indexFile) slot(s int) (int32, error) {
	if !x.sealed {
		return x.slotTable[s], nil
	}
	var b [4]byte
	if _, err := x.f.ReadAt(b[:], indexHeaderSize+int64(s)*indexSlotSize); err != nil {
		return 0, err
	}
	return int32(binary.BigEndian.Uint32(b[:])), nil
}

// entry reads entry i. indexService.mu must be held.
func (x *indexFile) entry(i int32) (indexEntry, error) {
	if !x.sealed && i >= x.written {
		p := int(i-x.written) * indexEntrySize
		return decodeIndexEntry(x.pending[p:]), nil
	}
	var b [indexEntrySize]byte
	if _, err := x.f.ReadAt(b[:], x.entryOffset(i)); err != nil && err != io.EOF {
		return indexEntry{}, err
	}
	return decodeIndexEntry(b[:]), nil
}

// writePending writes the pending entries and the header (active file only).
func (x *indexFile) writePending() error {
	if len(x.pending) > 0 {
		if _, err := x.f.WriteAt(x.pending, x.entryOffset(x.written)); err != nil {
			return fmt.Errorf("storage: write %s: %w", x.path, err)
		}
		x.written += int32(len(x.pending) / indexEntrySize)
		x.pending = x.pending[:0]
	}
	var h [indexHeaderSize]byte
	x.hdr.encode(h[:])
	if _, err := x.f.WriteAt(h[:], 0); err != nil {
		return fmt.Errorf("storage: write %s: %w", x.path, err)
	}
	return nil
}

// seal writes the slot table and header and syncs; the file becomes read-only.
func (x *indexFile) seal() error {
	if x.sealed {
		return nil
	}
	if err := x.writePending(); err != nil {
		return err
	}
	buf := make([]byte, len(x.slotTable)*indexSlotSize)
	for i, v := range x.slotTable {
		binary.BigEndian.PutUint32(buf[i*4:], uint32(v))
	}
	if _, err := x.f.WriteAt(buf, indexHeaderSize); err != nil {
		return fmt.Errorf("storage: write %s: %w", x.path, err)
	}
	if err := x.f.Sync(); err != nil {
		return fmt.Errorf("storage: sync %s: %w", x.path, err)
	}
	x.sealed = true
	x.slotTable = nil
	x.pending = nil
	return nil
}

// loadSlots reads the slot table into memory to make a clean file active again.
func (x *indexFile) loadSlots() error {
	buf := make([]byte, x.slots*indexSlotSize)
	if _, err := x.f.ReadAt(buf, indexHeaderSize); err != nil && err != io.EOF {
		return fmt.Errorf("storage: read %s: %w", x.path, err)
	}
	x.slotTable = make([]int32, x.slots)
	for i := range x.slotTable {
		x.slotTable[i] = int32(binary.BigEndian.Uint32(buf[i*4:]))
	}
	x.written = x.hdr.indexCount
	x.sealed = false
	return nil
}

// indexService holds the index files, oldest first.
type indexService struct {
	log        *slog.Logger
	fs         vfs.FS
	dir        string
	slots      int
	maxEntries int
	now        func() time.Time

	mu      sync.RWMutex
	files   []*indexFile
	newFile bool   // a file was created since the directory was last fsynced
	dirty   bool   // the active file has pending entries or an unwritten header
	written uint64 // bumped by every write to the active file
	synced  uint64 // value of written when the last sync started
}

func newIndexService(log *slog.Logger, opts *Options) *indexService {
	return &indexService{
		log:        log,
		fs:         opts.FS,
		dir:        opts.StorePathIndex,
		slots:      opts.MaxHashSlotNum,
		maxEntries: opts.MaxIndexNum,
		now:        opts.Clock,
	}
}

func (s *indexService) openFile(name string) (*indexFile, error) {
	p := filepath.Join(s.dir, name)
	f, err := s.fs.OpenFile(p, os.O_RDWR, 0)
	if err != nil {
		return nil, fmt.Errorf("storage: open %s: %w", p, err)
	}
	x := &indexFile{path: p, f: f, slots: s.slots, maxEntries: s.maxEntries, sealed: true}
	size, err := f.Size()
	if err != nil {
		f.Close()
		return nil, err
	}
	if size != x.fileSize() {
		f.Close()
		return nil, fmt.Errorf("%w: index file %s has %d bytes, options imply %d (maxHashSlotNum/maxIndexNum changed?)", errIndexSize, p, size, x.fileSize())
	}
	var h [indexHeaderSize]byte
	if _, err := f.ReadAt(h[:], 0); err != nil {
		f.Close()
		return nil, fmt.Errorf("storage: read %s: %w", p, err)
	}
	x.hdr = decodeIndexHeader(h[:])
	if x.hdr.indexCount < 1 || int(x.hdr.indexCount) > x.maxEntries {
		x.hdr.indexCount = 1 // never written: empty
	}
	x.written = x.hdr.indexCount
	return x, nil
}

// load opens the index files and brings them to the state "every entry is for a record
// below logics", the dispatch position. After an unclean shutdown the newest file is cut
// back and sealed (its slot table is rebuilt from the entries). It returns the removed files.
func (s *indexService) load(clean, cpValid bool, logics int64) ([]string, error) {
	if err := s.fs.MkdirAll(s.dir, 0o755); err != nil {
		return nil, err
	}
	ents, err := s.fs.ReadDir(s.dir)
	if err != nil {
		return nil, err
	}
	var removed []string
	for _, e := range ents {
		if e.IsDir || !isIndexName(e.Name) {
			continue
		}
		if !cpValid {
			p := filepath.Join(s.dir, e.Name)
			if err := s.fs.Remove(p); err != nil {
				return removed, err
			}
			removed = append(removed, p)
			continue
		}
		x, err := s.openFile(e.Name)
		if errors.Is(err, errIndexSize) && e.Name == lastIndexName(ents) && !clean {
			// Created but never synced before a crash: it holds no durable entry.
			p := filepath.Join(s.dir, e.Name)
			if err := s.fs.Remove(p); err != nil {
				return removed, err
			}
			removed = append(removed, p)
			continue
		}
		if err != nil {
			return removed, err
		}
		s.files = append(s.files, x)
	}
	// Files that hold only entries at or past logics (or none) are rebuilt by redispatch.
	for len(s.files) > 0 {
		x := s.files[len(s.files)-1]
		if x.hdr.indexCount > 1 && x.hdr.beginPhy < logics {
			break
		}
		x.f.Close()
		if err := s.fs.Remove(x.path); err != nil {
			return removed, err
		}
		removed = append(removed, x.path)
		s.files = s.files[:len(s.files)-1]
	}
	if len(removed) > 0 {
		s.newFile = true
	}
	if len(s.files) == 0 {
		return removed, nil
	}
	x := s.files[len(s.files)-1]
	if clean && x.hdr.endPhy < logics {
		if !x.full() {
			return removed, x.loadSlots()
		}
		return removed, nil
	}
	// Unclean: keep the entries below logics, rebuild the slot table, seal.
	n, err := s.validPrefix(x, logics)
	if err != nil {
		return removed, err
	}
	x.hdr.indexCount = n
	x.written = n
	x.slotTable = make([]int32, x.slots)
	x.hdr.slotCount = 0
	var last indexEntry
	for i := int32(1); i < n; i++ {
		e, err := x.entry(i)
		if err != nil {
			return removed, err
		}
		sl := int(e.keyHash) % x.slots
		if x.slotTable[sl] == 0 {
			x.hdr.slotCount++
		}
		x.slotTable[sl] = i
		last = e
	}
	if n > 1 {
		x.hdr.endPhy = last.phy
		x.hdr.endTs = x.hdr.beginTs + int64(last.timeDiff)*1000
	}
	x.sealed = false
	if err := x.seal(); err != nil {
		return removed, err
	}
	s.log.Info("index file cut back after unclean shutdown", "path", x.path, "entries", n-1)
	return removed, nil
}

// validPrefix returns the number of leading entries (counting the unused entry 0) that are
// well formed and point below logics.
func (s *indexService) validPrefix(x *indexFile, logics int64) (int32, error) {
	limit := x.hdr.indexCount
	if limit < 1 {
		return 1, nil
	}
	const chunk = 4096
	buf := make([]byte, chunk*indexEntrySize)
	prevPhy := x.hdr.beginPhy
	i := int32(1)
	for i < limit {
		n := min(int32(chunk), limit-i)
		b := buf[:int(n)*indexEntrySize]
		if _, err := x.f.ReadAt(b, x.entryOffset(i)); err != nil && err != io.EOF {
			return 0, fmt.Errorf("storage: read %s: %w", x.path, err)
		}
		for k := int32(0); k < n; k++ {
			e := decodeIndexEntry(b[int(k)*indexEntrySize:])
			if e == (indexEntry{}) || e.keyHash < 0 || e.phy < prevPhy || e.phy >= logics || e.timeDiff < 0 || e.prev < 0 || e.prev >= i+k {
				return i + k, nil
			}
			prevPhy = e.phy
		}
		i += n
	}
	return i, nil
}

func lastIndexName(ents []vfs.DirEntry) string {
	last := ""
	for _, e := range ents {
		if !e.IsDir && isIndexName(e.Name) {
			last = e.Name
		}
	}
	return last
}

func isIndexName(n string) bool {
	if len(n) != 17 {
		return false
	}
	for i := 0; i < len(n); i++ {
		if n[i] < '0' || n[i] > '9' {
			return false
		}
	}
	return true
}

// activeLocked returns the file to write, creating one when there is none or the newest is
// full or sealed. s.mu must be held for writing.
func (s *indexService) activeLocked() (*indexFile, error) {
	if n := len(s.files); n > 0 {
		x := s.files[n-1]
		if !x.sealed && !x.full() {
			return x, nil
		}
		if !x.sealed {
			if err := x.seal(); err != nil {
				return nil, err
			}
		}
	}
	name := s.now().Format(indexNameLayout)
	name = name[:14] + name[15:]
	if n := len(s.files); n > 0 {
		last := filepath.Base(s.files[n-1].path)
		if name <= last {
			name = nextIndexName(last)
		}
	}
	p := filepath.Join(s.dir, name)
	f, err := s.fs.OpenFile(p, os.O_RDWR|os.O_CREATE|os.O_EXCL, 0o644)
	if err != nil {
		return nil, fmt.Errorf("storage: create %s: %w", p, err)
	}
	x := &indexFile{path: p, f: f, slots: s.slots, maxEntries: s.maxEntries}
	if err := f.Truncate(x.fileSize()); err != nil {
		f.Close()
		s.fs.Remove(p)
		return nil, fmt.Errorf("storage: size %s: %w", p, err)
	}
	if err := f.Sync(); err != nil { // the size is durable before the name is (order step 6)
		f.Close()
		s.fs.Remove(p)
		return nil, fmt.Errorf("storage: sync %s: %w", p, err)
	}
	x.hdr.indexCount = 1
	x.written = 1
	x.slotTable = make([]int32, s.slots)
	s.files = append(s.files, x)
	s.newFile = true
	s.log.Info("index file created", "path", p)
	return x, nil
}

// nextIndexName is the smallest 17-digit name greater than n.
func nextIndexName(n string) string {
	b := []byte(n)
	for i := len(b) - 1; i >= 0; i-- {
		if b[i] < '9' {
			b[i]++
			return string(b)
		}
		b[i] = '0'
	}
	return n + "0"
}

// putLocked adds one key of the record at phy. s.mu must be held for writing (dispatcher).
func (s *indexService) putLocked(topic, key []byte, phy, storeTs int64) error {
	x, err := s.activeLocked()
	if err != nil {
		return err
	}
	h := indexKeyHash(topic, key)
	sl := int(h) % x.slots
	prev := x.slotTable[sl]
	if prev <= 0 || prev >= x.hdr.indexCount {
		prev = 0
	}
	if x.hdr.indexCount == 1 {
		x.hdr.beginTs = storeTs
		x.hdr.beginPhy = phy
	}
	diff := (storeTs - x.hdr.beginTs) / 1000
	diff = max(0, min(diff, 1<<31-1))
	var b [indexEntrySize]byte
	indexEntry{keyHash: h, phy: phy, timeDiff: int32(diff), prev: prev}.encode(b[:])
	x.pending = append(x.pending, b[:]...)
	if prev == 0 {
		x.hdr.slotCount++
	}
	x.slotTable[sl] = x.hdr.indexCount
	x.hdr.indexCount++
	x.hdr.endTs = storeTs
	x.hdr.endPhy = phy
	s.dirty = true
	return nil
}

// flushPendingLocked writes the active file's pending entries and header (end of a
// dispatch round). s.mu must be held for writing.
func (s *indexService) flushPendingLocked() error {
	if n := len(s.files); n > 0 && !s.files[n-1].sealed && s.dirty {
		s.dirty = false
		s.written++
		return s.files[n-1].writePending()
	}
	return nil
}

// sync makes every entry written so far durable (checkpoint). Entries written while it
// runs are synced by the next call: the sequence number is taken before the fdatasync.
func (s *indexService) sync() error {
	s.mu.Lock()
	var x *indexFile
	seq := s.written
	if n := len(s.files); n > 0 && !s.files[n-1].sealed && seq != s.synced {
		x = s.files[n-1]
	}
	newFile := s.newFile
	s.newFile = false
	s.mu.Unlock()
	if x != nil {
		if err := x.f.Sync(); err != nil {
			return fmt.Errorf("storage: sync %s: %w", x.path, err)
		}
	}
	if newFile {
		if err := s.fs.SyncDir(s.dir); err != nil {
			s.mu.Lock()
			s.newFile = true
			s.mu.Unlock()
			return fmt.Errorf("storage: sync dir %s: %w", s.dir, err)
		}
	}
	s.mu.Lock()
	if seq > s.synced {
		s.synced = seq
	}
	s.mu.Unlock()
	return nil
}

// query walks the buckets of topic#key in the files overlapping [begin, end] (newest
// first) and returns candidate offsets (hash matches; the caller verifies the records).
func (s *indexService) query(topic, key string, maxNum int, begin, end int64) ([]int64, error) {
	h := indexKeyHash(topic, []byte(key))
	s.mu.RLock()
	defer s.mu.RUnlock()
	var out []int64
	for fi := len(s.files) - 1; fi >= 0 && len(out) < maxNum; fi-- {
		x := s.files[fi]
		if x.hdr.indexCount <= 1 || x.hdr.endTs < begin || x.hdr.beginTs > end+999 {
			continue
		}
		i, err := x.slot(int(h) % x.slots)
		if err != nil {
			return out, fmt.Errorf("storage: read %s: %w", x.path, err)
		}
		for steps := 0; i > 0 && i < x.hdr.indexCount && len(out) < maxNum && steps < int(x.hdr.indexCount); steps++ {
			e, err := x.entry(i)
			if err != nil {
				return out, fmt.Errorf("storage: read %s: %w", x.path, err)
			}
			t := x.hdr.beginTs + int64(e.timeDiff)*1000
			if t+999 < begin {
				break // chains run newest to oldest
			}
			if e.keyHash == h && t <= end {
				out = append(out, e.phy)
			}
			if e.prev >= i {
				break
			}
			i = e.prev
		}
	}
	return out, nil
}

// lastUpdate is the newest file's end timestamp and offset (QUERY_MESSAGE header fields).
func (s *indexService) lastUpdate() (int64, int64) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	if n := len(s.files); n > 0 {
		return s.files[n-1].hdr.endTs, s.files[n-1].hdr.endPhy
	}
	return 0, 0
}

// deleteBefore removes sealed files whose last entry is below clMin.
func (s *indexService) deleteBefore(clMin int64) []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	var removed []string
	for len(s.files) > 1 {
		x := s.files[0]
		if !x.sealed || x.hdr.endPhy >= clMin {
			break
		}
		x.f.Close()
		if err := s.fs.Remove(x.path); err != nil {
			s.log.Warn("index file removal failed", "path", x.path, "err", err)
			break
		}
		removed = append(removed, x.path)
		s.files = s.files[1:]
		s.newFile = true
	}
	return removed
}

// close persists the active file (slots, header, entries) and closes everything.
func (s *indexService) close() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	var err error
	for _, x := range s.files {
		if !x.sealed {
			if e := x.seal(); e != nil && err == nil {
				err = e
			}
		}
		x.f.Close()
	}
	s.files = nil
	if s.newFile {
		if e := s.fs.SyncDir(s.dir); e != nil && err == nil {
			err = e
		}
	}
	return err
}
