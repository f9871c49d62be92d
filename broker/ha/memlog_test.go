package ha

import (
	"encoding/binary"
	"fmt"
	"sync"

	"github.com/gorocket/gorocket/storage"
)

// memLog is an in-memory commit log for protocol-level tests (the storage-backed tests are in
// replication_test.go). ReadRaw stops at segment boundaries like the real store does.
type memLog struct {
	mu      sync.Mutex
	base    int64
	data    []byte
	segment int64
	onGrow  func()
}

func newMemLog(segment int64) *memLog { return &memLog{segment: segment} }

func (l *memLog) MinPhyOffset() int64 {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.base
}

func (l *memLog) MaxPhyOffset() int64 {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.base + int64(len(l.data))
}

func (l *memLog) CommittedPhyOffset() int64 { return l.MaxPhyOffset() }

func (l *memLog) ReadRaw(off int64, maxBytes int) (*storage.Buffer, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	end := l.base + int64(len(l.data))
	if off < l.base || off > end {
		return nil, fmt.Errorf("memlog: offset %d outside [%d, %d]", off, l.base, end)
	}
	stop := min(end, off+int64(maxBytes))
	if l.segment > 0 {
		stop = min(stop, (off/l.segment+1)*l.segment)
	}
	return &storage.Buffer{Data: append([]byte(nil), l.data[off-l.base:stop-l.base]...), PhysicalOffset: off}, nil
}

func (l *memLog) AppendRaw(off int64, p []byte) error {
	l.mu.Lock()
	end := l.base + int64(len(l.data))
	if len(l.data) == 0 && l.base == 0 && off != 0 {
		l.base, end = off, off
	}
	if off != end {
		l.mu.Unlock()
		return fmt.Errorf("memlog: append at %d, max %d", off, end)
	}
	l.data = append(l.data, p...)
	grow := l.onGrow
	l.mu.Unlock()
	if grow != nil {
		grow()
	}
	return nil
}

// write appends p as one record ([int32 total size][p], the framing the slave follows) and returns
// the end offset. p must have at least 4 bytes (records are at least 8).
func (l *memLog) write(p []byte) int64 {
	if len(p) < 4 {
		panic("memLog.write: payload shorter than 4 bytes")
	}
	rec := binary.BigEndian.AppendUint32(make([]byte, 0, 4+len(p)), uint32(4+len(p)))
	return l.writeRaw(append(rec, p...))
}

// writeRaw appends p as is (for tests that speak the wire protocol by hand).
func (l *memLog) writeRaw(p []byte) int64 {
	if err := l.AppendRaw(l.MaxPhyOffset(), p); err != nil {
		panic(err)
	}
	return l.MaxPhyOffset()
}

// truncateFront drops everything below off (retention).
func (l *memLog) truncateFront(off int64) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.data = append([]byte(nil), l.data[off-l.base:]...)
	l.base = off
}

func (l *memLog) bytes() (int64, []byte) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.base, append([]byte(nil), l.data...)
}
