package ha

import (
	"encoding/binary"
	"fmt"
	"io"
)

// Wire constants. The layout is Apache RocketMQ 4.x's DefaultHAService protocol; see doc.go for the byte
// diagrams. Everything is big-endian.
const (
	// reportSize is the size of a slave → master offset report: one int64.
	reportSize = 8
	// frameHeaderSize is the size of a master → slave frame header: int64 phyOffset + int32 bodySize.
	frameHeaderSize = 12
)

// putReport encodes an offset report into b[:reportSize].
func putReport(b []byte, offset int64) {
	binary.BigEndian.PutUint64(b[:reportSize], uint64(offset))
}

// readReport reads one complete 8-byte offset report.
func readReport(r io.Reader, buf *[reportSize]byte) (int64, error) {
	if _, err := io.ReadFull(r, buf[:]); err != nil {
		return 0, err
	}
	off := int64(binary.BigEndian.Uint64(buf[:]))
	if off < 0 {
		return 0, fmt.Errorf("%w: negative offset report %d", ErrProtocol, off)
	}
	return off, nil
}

// frameHeader is the fixed part of a master → slave transfer frame. A frame with Size 0 is a heartbeat.
type frameHeader struct {
	Offset int64 // commit-log offset of the first body byte (for a heartbeat: the master's next offset)
	Size   int32 // body length in bytes
}

// putFrameHeader encodes h into b[:frameHeaderSize].
func putFrameHeader(b []byte, h frameHeader) {
	binary.BigEndian.PutUint64(b[0:8], uint64(h.Offset))
	binary.BigEndian.PutUint32(b[8:12], uint32(h.Size))
}

// readFrameHeader reads and validates one frame header. maxBody bounds the announced body size so that a
// corrupt or hostile stream cannot make the slave allocate unbounded memory.
func readFrameHeader(r io.Reader, buf *[frameHeaderSize]byte, maxBody int) (frameHeader, error) {
	if _, err := io.ReadFull(r, buf[:]); err != nil {
		return frameHeader{}, err
	}
	h := frameHeader{
		Offset: int64(binary.BigEndian.Uint64(buf[0:8])),
		Size:   int32(binary.BigEndian.Uint32(buf[8:12])),
	}
	if h.Offset < 0 {
		return frameHeader{}, fmt.Errorf("%w: negative frame offset %d", ErrProtocol, h.Offset)
	}
	if h.Size < 0 || int(h.Size) > maxBody {
		return frameHeader{}, fmt.Errorf("%w: frame body size %d outside [0, %d]", ErrProtocol, h.Size, maxBody)
	}
	return h, nil
}
