package storage

import (
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"sort"

	"github.com/gorocket/gorocket/storage/vfs"
)

// Checkpoint file constants (see doc.go).
const (
	checkpointMagic   uint32 = 0x47524350 // "GRCP"
	checkpointVersion uint32 = 1
	checkpointFixed          = 52
	checkpointMaxSize        = 64 << 20
)

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

type queueMark struct {
	topic string
	qid   int32
	max   int64
}

// checkpoint is the decoded checkpoint file.
type checkpoint struct {
	segSize   int64
	cqFileLen int64
	physic    int64
	logics    int64
	writtenAt int64
	queues    []queueMark
}

func (c *checkpoint) encode() []byte {
	n := checkpointFixed + 4
	for _, q := range c.queues {
		n += 2 + len(q.topic) + 4 + 8
	}
	b := make([]byte, n)
	be := binary.BigEndian
	be.PutUint32(b[0:], checkpointMagic)
	be.PutUint32(b[4:], checkpointVersion)
	be.PutUint64(b[8:], uint64(c.segSize))
	be.PutUint64(b[16:], uint64(c.cqFileLen))
	be.PutUint64(b[24:], uint64(c.physic))
	be.PutUint64(b[32:], uint64(c.logics))
	be.PutUint64(b[40:], uint64(c.writtenAt))
	be.PutUint32(b[48:], uint32(len(c.queues)))
	p := checkpointFixed
	for _, q := range c.queues {
		be.PutUint16(b[p:], uint16(len(q.topic)))
		p += 2
		p += copy(b[p:], q.topic)
		be.PutUint32(b[p:], uint32(q.qid))
		be.PutUint64(b[p+4:], uint64(q.max))
		p += 12
	}
	be.PutUint32(b[p:], crc32.Checksum(b[:p], castagnoli))
	return b
}

func decodeCheckpoint(b []byte) (*checkpoint, error) {
	if len(b) < checkpointFixed+4 {
		return nil, fmt.Errorf("%w: checkpoint of %d bytes is too short", ErrCorrupt, len(b))
	}
	be := binary.BigEndian
	if m := be.Uint32(b); m != checkpointMagic {
		return nil, fmt.Errorf("%w: checkpoint magic %#x", ErrCorrupt, m)
	}
	if v := be.Uint32(b[4:]); v != checkpointVersion {
		return nil, fmt.Errorf("%w: checkpoint version %d (this build reads %d)", ErrCorrupt, v, checkpointVersion)
	}
	body := b[:len(b)-4]
	if want, got := be.Uint32(b[len(b)-4:]), crc32.Checksum(body, castagnoli); want != got {
		return nil, fmt.Errorf("%w: checkpoint CRC %#x, computed %#x", ErrCorrupt, want, got)
	}
	c := &checkpoint{
		segSize:   int64(be.Uint64(b[8:])),
		cqFileLen: int64(be.Uint64(b[16:])),
		physic:    int64(be.Uint64(b[24:])),
		logics:    int64(be.Uint64(b[32:])),
		writtenAt: int64(be.Uint64(b[40:])),
	}
	n := int(be.Uint32(b[48:]))
	p := checkpointFixed
	for i := 0; i < n; i++ {
		if p+2 > len(body) {
			return nil, fmt.Errorf("%w: checkpoint queue table truncated", ErrCorrupt)
		}
		tl := int(be.Uint16(body[p:]))
		p += 2
		if p+tl+12 > len(body) {
			return nil, fmt.Errorf("%w: checkpoint queue table truncated", ErrCorrupt)
		}
		q := queueMark{topic: string(body[p : p+tl])}
		p += tl
		q.qid = int32(be.Uint32(body[p:]))
		q.max = int64(be.Uint64(body[p+4:]))
		p += 12
		c.queues = append(c.queues, q)
	}
	if p != len(body) {
		return nil, fmt.Errorf("%w: checkpoint has %d trailing bytes", ErrCorrupt, len(body)-p)
	}
	if c.logics > c.physic || c.logics < 0 {
		return nil, fmt.Errorf("%w: checkpoint logics offset %d above physic offset %d", ErrCorrupt, c.logics, c.physic)
	}
	return c, nil
}

// readCheckpoint returns the checkpoint, nil if there is none, or an ErrCorrupt error.
func readCheckpoint(fsys vfs.FS, path string) (*checkpoint, error) {
	f, err := fsys.OpenFile(path, os.O_RDONLY, 0)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("storage: open %s: %w", path, err)
	}
	defer f.Close()
	size, err := f.Size()
	if err != nil {
		return nil, err
	}
	if size > checkpointMaxSize {
		return nil, fmt.Errorf("%w: checkpoint of %d bytes", ErrCorrupt, size)
	}
	b := make([]byte, size)
	if _, err := f.ReadAt(b, 0); err != nil && err != io.EOF {
		return nil, fmt.Errorf("storage: read %s: %w", path, err)
	}
	return decodeCheckpoint(b)
}

// writeCheckpoint replaces the checkpoint atomically: tmp, fdatasync, rename, fsync(dir)
// (order step 5).
func writeCheckpoint(fsys vfs.FS, path string, c *checkpoint) error {
	sort.Slice(c.queues, func(i, j int) bool {
		if c.queues[i].topic != c.queues[j].topic {
			return c.queues[i].topic < c.queues[j].topic
		}
		return c.queues[i].qid < c.queues[j].qid
	})
	tmp := path + ".tmp"
	f, err := fsys.OpenFile(tmp, os.O_RDWR|os.O_CREATE|os.O_TRUNC, 0o644)
	if err != nil {
		return fmt.Errorf("storage: create %s: %w", tmp, err)
	}
	if _, err := f.WriteAt(c.encode(), 0); err != nil {
		f.Close()
		return fmt.Errorf("storage: write %s: %w", tmp, err)
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return fmt.Errorf("storage: sync %s: %w", tmp, err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("storage: close %s: %w", tmp, err)
	}
	if err := fsys.Rename(tmp, path); err != nil {
		return fmt.Errorf("storage: rename %s: %w", tmp, err)
	}
	if err := fsys.SyncDir(filepath.Dir(path)); err != nil {
		return fmt.Errorf("storage: sync dir of %s: %w", path, err)
	}
	return nil
}
