package storage

import (
	"errors"
	"fmt"
	"os"
	"sync/atomic"

	"github.com/gorocket/gorocket/storage/vfs"
)

// mappedFile is one fixed-size file (a commit-log segment or a consume-queue file), open
// for pwrite and mapped read-only for zero-copy reads.
//
// Reference counting: the owner (the list that holds the file) has one reference. A reader
// takes another with acquire while holding the lock that guards the owner's list, so a file
// removed from its list can't gain references. The mapping is released and the descriptor
// closed when the count reaches zero; destroy drops the owner's reference.
type mappedFile struct {
	fs    vfs.FS
	path  string
	start int64 // logical offset of byte 0
	size  int64
	f     vfs.File
	data  []byte
	refs  atomic.Int32
}

type fillMode int

const (
	fillSparse   fillMode = iota // Truncate to size
	fillZero                     // write zeros (allocates blocks and warms the page cache)
	fillZeroSync                 // write zeros and fdatasync them
)

const zeroChunk = 1 << 20

var zeros [zeroChunk]byte

// errAborted: a zero-fill was interrupted by Close.
var errAborted = errors.New("storage: file preparation aborted by close")

// createMappedFile creates (or overwrites) path with size bytes and maps it. Closing abort
// (may be nil) interrupts a zero-fill.
func createMappedFile(fsys vfs.FS, path string, start, size int64, fill fillMode, abort <-chan struct{}) (*mappedFile, error) {
	f, err := fsys.OpenFile(path, os.O_RDWR|os.O_CREATE|os.O_TRUNC, 0o644)
	if err != nil {
		return nil, fmt.Errorf("storage: create %s: %w", path, err)
	}
	fail := func(op string, err error) (*mappedFile, error) {
		f.Close()
		fsys.Remove(path)
		return nil, fmt.Errorf("storage: %s %s: %w", op, path, err)
	}
	switch fill {
	case fillSparse:
		if err := f.Truncate(size); err != nil {
			return fail("truncate", err)
		}
	case fillZero, fillZeroSync:
		// Under SYNC_FLUSH the zeros are forced out every syncEvery bytes. Preparation runs
		// at full speed right after a roll: spreading it over the segment's lifetime was
		// measured to slow every group-commit fdatasync (a device flush waits for all
		// in-flight writes), while a burst costs only the seconds it lasts.
		const syncEvery = 64 << 20
		for off := int64(0); off < size; off += zeroChunk {
			select {
			case <-abort:
				f.Close()
				fsys.Remove(path)
				return nil, errAborted
			default:
			}
			n := min(int64(zeroChunk), size-off)
			if _, err := f.WriteAt(zeros[:n], off); err != nil {
				return fail("zero-fill", err)
			}
			if fill == fillZeroSync && ((off+n)%syncEvery == 0 || off+n == size) {
				if err := f.Sync(); err != nil {
					return fail("sync", err)
				}
			}
		}
	}
	return mapFile(fsys, f, path, start, size)
}

// openMappedFile opens an existing file of exactly size bytes (a shorter one is extended
// with zeros first) and maps it.
func openMappedFile(fsys vfs.FS, path string, start, size int64) (*mappedFile, error) {
	f, err := fsys.OpenFile(path, os.O_RDWR, 0)
	if err != nil {
		return nil, fmt.Errorf("storage: open %s: %w", path, err)
	}
	cur, err := f.Size()
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("storage: stat %s: %w", path, err)
	}
	if cur > size {
		f.Close()
		return nil, fmt.Errorf("%w: %s has %d bytes, more than the configured %d", ErrCorrupt, path, cur, size)
	}
	if cur < size {
		if err := f.Truncate(size); err != nil {
			f.Close()
			return nil, fmt.Errorf("storage: extend %s: %w", path, err)
		}
	}
	return mapFile(fsys, f, path, start, size)
}

func mapFile(fsys vfs.FS, f vfs.File, path string, start, size int64) (*mappedFile, error) {
	data, err := f.Mmap(int(size))
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("storage: map %s: %w", path, err)
	}
	m := &mappedFile{fs: fsys, path: path, start: start, size: size, f: f, data: data}
	m.refs.Store(1)
	return m, nil
}

func (m *mappedFile) end() int64 { return m.start + m.size }

func (m *mappedFile) acquire() { m.refs.Add(1) }

func (m *mappedFile) release() {
	if n := m.refs.Add(-1); n == 0 {
		m.f.Munmap(m.data)
		m.data = nil
		m.f.Close()
	} else if n < 0 {
		panic("storage: mappedFile released more often than acquired")
	}
}

// destroy drops the owner's reference; with remove the file's name is removed at once (the
// mapping lives on until the last reader releases it).
func (m *mappedFile) destroy(remove bool) error {
	var err error
	if remove {
		err = m.fs.Remove(m.path)
	}
	m.release()
	return err
}

// writeAt writes b at the file-relative offset off.
func (m *mappedFile) writeAt(b []byte, off int64) error {
	if off < 0 || off+int64(len(b)) > m.size {
		return fmt.Errorf("storage: write [%d,%d) outside %s", off, off+int64(len(b)), m.path)
	}
	if _, err := m.f.WriteAt(b, off); err != nil {
		return fmt.Errorf("storage: write %s: %w", m.path, err)
	}
	return nil
}

func (m *mappedFile) sync() error {
	if err := m.f.Sync(); err != nil {
		return fmt.Errorf("storage: sync %s: %w", m.path, err)
	}
	return nil
}

// segmentName is the 20-digit zero-padded offset used for commit-log and consume-queue
// file names.
func segmentName(off int64) string { return fmt.Sprintf("%020d", off) }

// parseSegmentName accepts exactly 20 decimal digits.
func parseSegmentName(name string) (int64, bool) {
	if len(name) != 20 {
		return 0, false
	}
	var v int64
	for i := 0; i < len(name); i++ {
		c := name[i]
		if c < '0' || c > '9' {
			return 0, false
		}
		v = v*10 + int64(c-'0')
		if v < 0 {
			return 0, false
		}
	}
	return v, true
}
