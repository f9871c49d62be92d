package protocol

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
)

// SerializeType selects the header encoding (the high byte of the header-length word).
type SerializeType byte

// Header serialisations (reference §1.2).
const (
	// SerializeJSON (0) is a UTF-8 JSON object; every client sends it by default.
	SerializeJSON SerializeType = 0
	// SerializeRocketMQ (1) is the compact binary layout of reference §1.4.
	SerializeRocketMQ SerializeType = 1
)

func (t SerializeType) String() string {
	switch t {
	case SerializeJSON:
		return "JSON"
	case SerializeRocketMQ:
		return "ROCKETMQ"
	}
	return fmt.Sprintf("SerializeType(%d)", byte(t))
}

const (
	// DefaultMaxFrameSize is the largest frame (frameLength, which excludes its own four
	// bytes) accepted by default: 16 MiB, as Java's com.rocketmq.remoting.frameMaxLength.
	DefaultMaxFrameSize = 16 << 20
	// MaxHeaderLength is the largest header the 24-bit header-length field can describe.
	MaxHeaderLength = 1<<24 - 1
	// frameLengthSize is the size of the frameLength prefix.
	frameLengthSize = 4
	// headerWordSize is the size of the serialize-type/header-length word.
	headerWordSize = 4
	// initialFrameAlloc bounds the first allocation for a frame body; larger frames grow as
	// their bytes actually arrive, so a peer cannot make us allocate memory it never sends.
	initialFrameAlloc = 64 << 10
)

// EncodeHeader serialises the header part of c (everything but the body) with type st.
func (c *RemotingCommand) EncodeHeader(st SerializeType) ([]byte, error) {
	switch st {
	case SerializeJSON:
		return appendJSONHeader(nil, c), nil
	case SerializeRocketMQ:
		return appendBinaryHeader(nil, c)
	}
	return nil, newErr(ErrSerializeType, fmt.Sprintf("protocol: unknown serialize type %d", byte(st)))
}

// FramePrefix returns the frame bytes that precede the body: frameLength, the
// serialize-type/header-length word and the header. Writing FramePrefix then c.Body
// (for example with net.Buffers, to avoid copying large bodies) produces the frame.
func (c *RemotingCommand) FramePrefix(st SerializeType) ([]byte, error) {
	return c.AppendFramePrefix(make([]byte, 0, 256), st)
}

// AppendFramePrefix appends the bytes of FramePrefix(st) to dst and returns the extended
// slice; on error dst is returned unchanged (same length). It encodes the header in place,
// so a caller that reuses dst encodes frames without allocating.
func (c *RemotingCommand) AppendFramePrefix(dst []byte, st SerializeType) ([]byte, error) {
	start := len(dst)
	dst = append(dst, 0, 0, 0, 0, 0, 0, 0, 0) // frameLength and header word, patched below
	switch st {
	case SerializeJSON:
		dst = appendJSONHeader(dst, c)
	case SerializeRocketMQ:
		out, err := appendBinaryHeader(dst, c)
		if err != nil {
			return dst[:start], err
		}
		dst = out
	default:
		return dst[:start], newErr(ErrSerializeType, fmt.Sprintf("protocol: unknown serialize type %d", byte(st)))
	}
	hl := len(dst) - start - frameLengthSize - headerWordSize
	if hl > MaxHeaderLength {
		return dst[:start], newErr(ErrHeaderTooLarge, fmt.Sprintf("protocol: header length %d exceeds %d", hl, MaxHeaderLength))
	}
	frameLen := int64(headerWordSize) + int64(hl) + int64(len(c.Body))
	if frameLen > 1<<31-1 {
		return dst[:start], newErr(ErrFrameTooLarge, fmt.Sprintf("protocol: frame length %d exceeds max %d", frameLen, 1<<31-1))
	}
	binary.BigEndian.PutUint32(dst[start:], uint32(frameLen))
	binary.BigEndian.PutUint32(dst[start+frameLengthSize:], uint32(st)<<24|uint32(hl))
	return dst, nil
}

// MarshalFrame returns the complete frame (length prefix, header word, header, body).
func (c *RemotingCommand) MarshalFrame(st SerializeType) ([]byte, error) {
	prefix, err := c.FramePrefix(st)
	if err != nil {
		return nil, err
	}
	out := make([]byte, 0, len(prefix)+len(c.Body))
	return append(append(out, prefix...), c.Body...), nil
}

// WriteFrame writes the complete frame to w without copying the body (a single writev on
// a *net.TCPConn).
func (c *RemotingCommand) WriteFrame(w io.Writer, st SerializeType) (int64, error) {
	prefix, err := c.FramePrefix(st)
	if err != nil {
		return 0, err
	}
	if len(c.Body) == 0 {
		n, err := w.Write(prefix)
		return int64(n), err
	}
	bufs := net.Buffers{prefix, c.Body}
	return bufs.WriteTo(w)
}

// DecodeFrame decodes one complete frame, including its four-byte length prefix. The
// declared length must match len(frame) exactly and must not exceed maxFrameSize (≤ 0
// means DefaultMaxFrameSize). The returned command's Body aliases frame.
func DecodeFrame(frame []byte, maxFrameSize int) (*RemotingCommand, error) {
	if len(frame) < frameLengthSize {
		return nil, newErr(ErrFrameTruncated, fmt.Sprintf("protocol: frame of %d bytes has no length prefix", len(frame)))
	}
	n, err := checkFrameLength(int32(binary.BigEndian.Uint32(frame)), maxFrameSize)
	if err != nil {
		return nil, err
	}
	if n != len(frame)-frameLengthSize {
		return nil, newErr(ErrFrameTruncated, fmt.Sprintf("protocol: frame length %d but %d bytes follow the prefix", n, len(frame)-frameLengthSize))
	}
	return DecodeFrameContent(frame[frameLengthSize:])
}

// DecodeFrameContent decodes the bytes that follow the length prefix: header word,
// header and body. The returned command's Body aliases content.
func DecodeFrameContent(content []byte) (*RemotingCommand, error) {
	if len(content) < headerWordSize {
		return nil, newErr(ErrFrameTooSmall, fmt.Sprintf("protocol: frame length %d is smaller than the header-length word", len(content)))
	}
	word := binary.BigEndian.Uint32(content)
	st := SerializeType(word >> 24)
	hl := int(word & 0x00FFFFFF)
	if hl == 0 || hl > len(content)-headerWordSize {
		return nil, newErr(ErrHeaderLength, fmt.Sprintf("protocol: header length %d does not fit frame length %d", hl, len(content)))
	}
	hdr := content[headerWordSize : headerWordSize+hl]
	var c *RemotingCommand
	var err error
	switch st {
	case SerializeJSON:
		c, err = decodeJSONHeader(hdr)
	case SerializeRocketMQ:
		c, err = decodeBinaryHeader(hdr)
	default:
		return nil, newErr(ErrSerializeType, fmt.Sprintf("protocol: unknown serialize type %d", byte(st)))
	}
	if err != nil {
		return nil, err
	}
	if body := content[headerWordSize+hl:]; len(body) > 0 {
		c.Body = body
	}
	return c, nil
}

func checkFrameLength(n int32, maxFrameSize int) (int, error) {
	if maxFrameSize <= 0 {
		maxFrameSize = DefaultMaxFrameSize
	}
	if n < headerWordSize {
		return 0, newErr(ErrFrameTooSmall, fmt.Sprintf("protocol: frame length %d is smaller than the header-length word", n))
	}
	if int64(n) > int64(maxFrameSize) {
		return 0, newErr(ErrFrameTooLarge, fmt.Sprintf("protocol: frame length %d exceeds max %d", n, maxFrameSize))
	}
	return int(n), nil
}

// FrameReader reads frames from a stream. It validates the declared length against the
// configured maximum before allocating, and grows its buffer only as bytes arrive.
// A FrameReader is not safe for concurrent use.
type FrameReader struct {
	r   io.Reader
	max int
	hdr [frameLengthSize]byte
}

// NewFrameReader returns a reader of frames no larger than maxFrameSize (≤ 0 means
// DefaultMaxFrameSize). Wrap r in a bufio.Reader for efficiency.
func NewFrameReader(r io.Reader, maxFrameSize int) *FrameReader {
	if maxFrameSize <= 0 {
		maxFrameSize = DefaultMaxFrameSize
	}
	return &FrameReader{r: r, max: maxFrameSize}
}

// ReadCommand reads and decodes the next frame. It returns io.EOF only on a clean end of
// stream between frames; a stream that ends inside a frame yields io.ErrUnexpectedEOF.
// Any other error means the stream is unusable (the frame boundary is lost).
func (fr *FrameReader) ReadCommand() (*RemotingCommand, error) {
	if _, err := io.ReadFull(fr.r, fr.hdr[:]); err != nil {
		return nil, err
	}
	n, err := checkFrameLength(int32(binary.BigEndian.Uint32(fr.hdr[:])), fr.max)
	if err != nil {
		return nil, err
	}
	content, err := readN(fr.r, n)
	if err != nil {
		if errors.Is(err, io.EOF) {
			err = io.ErrUnexpectedEOF
		}
		return nil, err
	}
	return DecodeFrameContent(content)
}

// readN reads exactly n bytes, allocating at most initialFrameAlloc up front and growing
// the buffer as data arrives.
func readN(r io.Reader, n int) ([]byte, error) {
	if n <= initialFrameAlloc {
		buf := make([]byte, n)
		_, err := io.ReadFull(r, buf)
		return buf, err
	}
	buf := make([]byte, 0, initialFrameAlloc)
	for len(buf) < n {
		if len(buf) == cap(buf) {
			newCap := min(2*cap(buf), n)
			nb := make([]byte, len(buf), newCap)
			copy(nb, buf)
			buf = nb
		}
		m, err := io.ReadFull(r, buf[len(buf):cap(buf)])
		buf = buf[:len(buf)+m]
		if err != nil {
			return buf, err
		}
	}
	return buf, nil
}
