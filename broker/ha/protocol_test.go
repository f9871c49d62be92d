package ha

import (
	"bufio"
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"io"
	"math/rand/v2"
	"net"
	"strings"
	"testing"
	"time"
)

func TestWireFrameRoundTrip(t *testing.T) {
	var b [frameHeaderSize]byte
	putFrameHeader(b[:], frameHeader{Offset: 0x0102030405060708, Size: 0x0a0b0c0d})
	want := []byte{1, 2, 3, 4, 5, 6, 7, 8, 0x0a, 0x0b, 0x0c, 0x0d}
	if !bytes.Equal(b[:], want) {
		t.Fatalf("header bytes = % x, want % x", b, want)
	}
	// Bodies above the limit or negative sizes/offsets are protocol errors.
	var buf [frameHeaderSize]byte
	if _, err := readFrameHeader(bytes.NewReader(b[:]), &buf, 1<<20); !errors.Is(err, ErrProtocol) {
		t.Fatalf("oversized body: err = %v, want ErrProtocol", err)
	}
	h, err := readFrameHeader(bytes.NewReader(b[:]), &buf, 0x0a0b0c0d)
	if err != nil || h.Offset != 0x0102030405060708 || h.Size != 0x0a0b0c0d {
		t.Fatalf("readFrameHeader = %+v, %v", h, err)
	}
	binary.BigEndian.PutUint64(b[:8], 1<<63)
	if _, err := readFrameHeader(bytes.NewReader(b[:]), &buf, 1<<30); !errors.Is(err, ErrProtocol) {
		t.Fatalf("negative offset: err = %v, want ErrProtocol", err)
	}
	if _, err := readFrameHeader(bytes.NewReader(b[:5]), &buf, 1<<30); !errors.Is(err, io.ErrUnexpectedEOF) {
		t.Fatalf("short header: err = %v, want ErrUnexpectedEOF", err)
	}

	var r [reportSize]byte
	putReport(r[:], 0x1122334455667788)
	if !bytes.Equal(r[:], []byte{0x11, 0x22, 0x33, 0x44, 0x55, 0x66, 0x77, 0x88}) {
		t.Fatalf("report bytes = % x", r)
	}
	var rb [reportSize]byte
	if off, err := readReport(bytes.NewReader(r[:]), &rb); err != nil || off != 0x1122334455667788 {
		t.Fatalf("readReport = %d, %v", off, err)
	}
}

func TestWaitQueueReleasesInTargetOrder(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	var q waitQueue
	ws := make([]*waiter, 200)
	for i := range ws {
		ws[i] = &waiter{target: rng.Int64N(1000), done: make(chan struct{})}
		q.add(ws[i])
	}
	// Remove a few (timed-out callers).
	removed := map[*waiter]bool{}
	for _, i := range []int{3, 50, 199, 120} {
		if !q.remove(ws[i]) {
			t.Fatalf("remove(%d) = false for a queued waiter", i)
		}
		if q.remove(ws[i]) {
			t.Fatalf("second remove(%d) = true", i)
		}
		removed[ws[i]] = true
	}
	isDone := func(w *waiter) bool {
		select {
		case <-w.done:
			return true
		default:
			return false
		}
	}
	var ready []*waiter
	for _, ack := range []int64{-1, 10, 10, 500, 999} {
		ready = q.popReady(ack, ready)
		for _, w := range ready {
			if w.target > ack || removed[w] {
				t.Fatalf("ack %d released waiter with target %d (removed %v)", ack, w.target, removed[w])
			}
		}
		ready = (&Master{}).complete(ready)
		for _, w := range ws {
			want := !removed[w] && w.target <= ack
			if got := isDone(w); got != want {
				t.Fatalf("ack %d: waiter target %d done=%v, want %v", ack, w.target, got, want)
			}
		}
	}
	for _, w := range q.popAll(nil) {
		w.finish(ErrClosed, nil)
	}
	if q.Len() != 0 {
		t.Fatalf("queue not empty after popAll: %d", q.Len())
	}
	for _, w := range ws {
		if !removed[w] && !isDone(w) {
			t.Fatalf("waiter target %d not completed after popAll", w.target)
		}
	}
}

// rawSlave is a hand-written HA client used to check the master's side of the wire protocol.
type rawSlave struct {
	t    *testing.T
	conn net.Conn
	br   *bufio.Reader
}

func dialRaw(t *testing.T, addr string) *rawSlave {
	t.Helper()
	c, err := net.DialTimeout("tcp", addr, 2*time.Second)
	if err != nil {
		t.Fatalf("dial: %v", err)
	}
	t.Cleanup(func() { _ = c.Close() })
	return &rawSlave{t: t, conn: c, br: bufio.NewReader(c)}
}

func (r *rawSlave) report(off int64) {
	r.t.Helper()
	var b [reportSize]byte
	putReport(b[:], off)
	if _, err := r.conn.Write(b[:]); err != nil {
		r.t.Fatalf("write report: %v", err)
	}
}

func (r *rawSlave) frame() (frameHeader, []byte, error) {
	_ = r.conn.SetReadDeadline(time.Now().Add(3 * time.Second))
	var hb [frameHeaderSize]byte
	h, err := readFrameHeader(r.br, &hb, 1<<30)
	if err != nil {
		return h, nil, err
	}
	body := make([]byte, h.Size)
	_, err = io.ReadFull(r.br, body)
	return h, body, err
}

func startMemMaster(t *testing.T, log *memLog, cfg MasterConfig) *Master {
	t.Helper()
	m, err := NewMaster(testLogger(t), log, listenLoopback(t), cfg)
	if err != nil {
		t.Fatalf("NewMaster: %v", err)
	}
	log.onGrow = m.Notify
	t.Cleanup(func() { _ = m.Close() })
	return m
}

func TestMasterWireProtocol(t *testing.T) {
	log := newMemLog(0)
	payload := make([]byte, 10_000)
	for i := range payload {
		payload[i] = byte(i * 7)
	}
	log.writeRaw(payload)
	cfg := fastMasterConfig()
	cfg.TransferBatchSize = 4096
	m := startMemMaster(t, log, cfg)
	rs := dialRaw(t, m.Addr().String())

	// The master says nothing before the first report.
	_ = rs.conn.SetReadDeadline(time.Now().Add(30 * time.Millisecond))
	if _, err := rs.br.Peek(1); err == nil {
		t.Fatalf("master sent data before the first report")
	}
	rs.report(1000)
	var got []byte
	next := int64(1000)
	for next < int64(len(payload)) {
		h, body, err := rs.frame()
		if err != nil {
			t.Fatalf("frame: %v", err)
		}
		if h.Offset != next {
			t.Fatalf("frame offset %d, want %d", h.Offset, next)
		}
		if h.Size == 0 {
			continue
		}
		if h.Size > 4096 {
			t.Fatalf("frame size %d exceeds batch size", h.Size)
		}
		got = append(got, body...)
		next += int64(h.Size)
	}
	if !bytes.Equal(got, payload[1000:]) {
		t.Fatalf("transferred bytes differ from the log")
	}
	// Idle: a heartbeat frame with the current offset and no body.
	h, body, err := rs.frame()
	if err != nil || h.Offset != int64(len(payload)) || len(body) != 0 {
		t.Fatalf("heartbeat = %+v (%d bytes), %v; want offset %d, empty", h, len(body), err, len(payload))
	}
	// New data is pushed without the slave asking.
	log.writeRaw([]byte("more"))
	for {
		h, body, err = rs.frame()
		if err != nil {
			t.Fatalf("frame: %v", err)
		}
		if h.Size > 0 {
			break
		}
	}
	if h.Offset != int64(len(payload)) || string(body) != "more" {
		t.Fatalf("pushed frame = %+v %q", h, body)
	}
	rs.report(int64(len(payload)) + 4)
	waitFor(t, 2*time.Second, "ack recorded", func() bool {
		st := m.State()
		return len(st.Slaves) == 1 && st.Slaves[0].AckedOffset == int64(len(payload))+4 && st.Slaves[0].LagBytes == 0
	})
	if st := m.State(); st.ReplicatedOffset != int64(len(payload))+4 {
		t.Fatalf("ReplicatedOffset = %d", st.ReplicatedOffset)
	}
}

// expectClosed reads (discarding frames) until the master closes the connection.
func (r *rawSlave) expectClosed(within time.Duration) {
	r.t.Helper()
	_ = r.conn.SetReadDeadline(time.Now().Add(within))
	_, err := io.Copy(io.Discard, r.br)
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		r.t.Fatalf("master did not close the connection within %v", within)
	}
}

func TestMasterClosesSlaveAhead(t *testing.T) {
	log := newMemLog(0)
	log.writeRaw(make([]byte, 100))
	m := startMemMaster(t, log, fastMasterConfig())
	rs := dialRaw(t, m.Addr().String())
	rs.report(101)
	rs.expectClosed(2 * time.Second)
	if err := m.WaitForReplica(context.Background(), 100); !errors.Is(err, ErrSlaveNotAvailable) {
		t.Fatalf("WaitForReplica = %v, want ErrSlaveNotAvailable", err)
	}
}

func TestMasterRetentionStartRules(t *testing.T) {
	log := newMemLog(1000)
	log.writeRaw(bytes.Repeat([]byte{1}, 2500))
	log.truncateFront(2000)
	m := startMemMaster(t, log, fastMasterConfig())

	// A non-empty slave whose next byte was deleted cannot catch up: closed.
	rs := dialRaw(t, m.Addr().String())
	rs.report(1500)
	rs.expectClosed(2 * time.Second)

	// An empty slave starts at the oldest retained byte.
	rs = dialRaw(t, m.Addr().String())
	rs.report(0)
	h, body, err := rs.frame()
	if err != nil || h.Offset != 2000 || len(body) != 500 {
		t.Fatalf("first frame = %+v (%d bytes), %v; want offset 2000, 500 bytes", h, len(body), err)
	}
}

func TestMasterClosesSilentSlave(t *testing.T) {
	log := newMemLog(0)
	cfg := fastMasterConfig()
	cfg.HousekeepingInterval = 300 * time.Millisecond
	m := startMemMaster(t, log, cfg)
	rs := dialRaw(t, m.Addr().String())
	rs.report(0)
	waitFor(t, 2*time.Second, "slave registered", func() bool { return len(m.State().Slaves) == 1 })
	start := time.Now()
	rs.expectClosed(3 * time.Second)
	if el := time.Since(start); el < 200*time.Millisecond {
		t.Fatalf("closed after %v, before the housekeeping interval", el)
	}
	waitFor(t, 2*time.Second, "slave unregistered", func() bool { return len(m.State().Slaves) == 0 })
}

func TestMasterClosesOnOffsetRegression(t *testing.T) {
	log := newMemLog(0)
	log.writeRaw(make([]byte, 100))
	m := startMemMaster(t, log, fastMasterConfig())
	rs := dialRaw(t, m.Addr().String())
	rs.report(50)
	waitFor(t, 2*time.Second, "first report processed", func() bool {
		st := m.State()
		return len(st.Slaves) == 1 && st.Slaves[0].Reported
	})
	rs.report(40)
	rs.expectClosed(2 * time.Second)
}

// TestSlaveRejectsFrameAtWrongOffset plays the master by hand: it accepts the slave's connections and
// scripts the frames.
func TestSlaveRejectsFrameAtWrongOffset(t *testing.T) {
	ln := listenLoopback(t)
	defer ln.Close()
	local := newMemLog(0)
	local.writeRaw([]byte("abc"))
	s, err := NewSlave(testLogger(t), local, fastSlaveConfig())
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	s.SetMasterAddress(ln.Addr().String())

	accept := func() (net.Conn, int64) {
		t.Helper()
		_ = ln.(*net.TCPListener).SetDeadline(time.Now().Add(3 * time.Second))
		c, err := ln.Accept()
		if err != nil {
			t.Fatalf("accept: %v", err)
		}
		var b [reportSize]byte
		_ = c.SetReadDeadline(time.Now().Add(3 * time.Second))
		off, err := readReport(c, &b)
		if err != nil {
			t.Fatalf("first report: %v", err)
		}
		return c, off
	}
	c, off := accept()
	if off != 3 {
		t.Fatalf("slave reported %d, want 3", off)
	}
	frame := make([]byte, frameHeaderSize+2)
	putFrameHeader(frame, frameHeader{Offset: 5, Size: 2})
	if _, err := c.Write(frame); err != nil {
		t.Fatal(err)
	}
	// The slave drops the connection without applying, then reconnects and reports the same offset.
	_ = c.SetReadDeadline(time.Now().Add(3 * time.Second))
	_, err = io.Copy(io.Discard, c)
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		t.Fatalf("slave kept a connection that sent a frame at the wrong offset")
	}
	c.Close()
	c, off = accept()
	if off != 3 || local.MaxPhyOffset() != 3 {
		t.Fatalf("after reconnect: reported %d, local max %d; want 3, 3", off, local.MaxPhyOffset())
	}
	if st := s.State(); st.Connects < 2 || st.LastError == "" {
		t.Fatalf("state after mismatch = %+v, want ≥2 connects and the mismatch recorded", st)
	}
	// A frame with a bad header is rejected too, without allocating its announced size.
	putFrameHeader(frame, frameHeader{Offset: 3, Size: -1})
	if _, err := c.Write(frame[:frameHeaderSize]); err != nil {
		t.Fatal(err)
	}
	_ = c.SetReadDeadline(time.Now().Add(3 * time.Second))
	_, err = io.Copy(io.Discard, c)
	if errors.As(err, &ne) && ne.Timeout() {
		t.Fatalf("slave kept a connection that sent a negative frame size")
	}
	c.Close()

	// A frame whose bytes are not commit-log records (a record declaring 2 bytes) is rejected too.
	c, off = accept()
	defer c.Close()
	if off != 3 {
		t.Fatalf("reported %d after reconnect, want 3", off)
	}
	frame = make([]byte, frameHeaderSize+8)
	putFrameHeader(frame, frameHeader{Offset: 3, Size: 8})
	binary.BigEndian.PutUint32(frame[frameHeaderSize:], 2)
	if _, err := c.Write(frame); err != nil {
		t.Fatal(err)
	}
	_ = c.SetReadDeadline(time.Now().Add(3 * time.Second))
	_, err = io.Copy(io.Discard, c)
	if errors.As(err, &ne) && ne.Timeout() {
		t.Fatalf("slave kept a connection that sent a record of size 2")
	}
	if local.MaxPhyOffset() != 3 {
		t.Fatalf("local max %d after bad frames, want 3", local.MaxPhyOffset())
	}
	waitFor(t, 2*time.Second, "LastError naming the bad record size", func() bool {
		return strings.Contains(s.State().LastError, "declares 2 bytes")
	})
}

func TestWholeRecords(t *testing.T) {
	rec := func(size int) []byte {
		b := make([]byte, size)
		binary.BigEndian.PutUint32(b, uint32(size))
		return b
	}
	cat := func(bs ...[]byte) []byte { return bytes.Join(bs, nil) }
	for _, tc := range []struct {
		name string
		in   []byte
		want int
		err  bool
	}{
		{"empty", nil, 0, false},
		{"partial header", []byte{0, 0}, 0, false},
		{"one whole", rec(100), 100, false},
		{"blank record", rec(8), 8, false},
		{"whole then partial", cat(rec(100), rec(50)[:20]), 100, false},
		{"two whole", cat(rec(100), rec(9)), 109, false},
		{"too small", cat(rec(100), []byte{0, 0, 0, 7, 1, 1, 1}), 100, true},
		{"negative", []byte{0xff, 0xff, 0xff, 0xff}, 0, true},
		{"too large", []byte{0, 1, 0, 0}, 0, true},
	} {
		got, err := wholeRecords(tc.in, 1000)
		if got != tc.want || (err != nil) != tc.err {
			t.Errorf("%s: wholeRecords = %d, %v; want %d, error %v", tc.name, got, err, tc.want, tc.err)
		}
		if err != nil && !errors.Is(err, ErrProtocol) {
			t.Errorf("%s: error %v is not ErrProtocol", tc.name, err)
		}
	}
}

func TestConfigValidate(t *testing.T) {
	if err := (MasterConfig{}).Validate(); err != nil {
		t.Fatalf("zero MasterConfig: %v", err)
	}
	if err := (SlaveConfig{}).Validate(); err != nil {
		t.Fatalf("zero SlaveConfig: %v", err)
	}
	bad := []MasterConfig{
		{TransferBatchSize: -1},
		{SlaveTimeout: -time.Second},
		{HeartbeatInterval: time.Minute, HousekeepingInterval: time.Second},
	}
	for _, c := range bad {
		if err := c.Validate(); !errors.Is(err, ErrInvalidConfig) {
			t.Errorf("%+v: Validate = %v, want ErrInvalidConfig", c, err)
		}
	}
	if err := (SlaveConfig{ReconnectBackoffMin: time.Second, ReconnectBackoffMax: time.Millisecond}).Validate(); !errors.Is(err, ErrInvalidConfig) {
		t.Errorf("bad backoff: %v", err)
	}
}

// FuzzWholeRecords checks that the slave's record-boundary follower never panics, never claims more
// than it was given, and that its answer is a sequence of well-formed sizes.
func FuzzWholeRecords(f *testing.F) {
	f.Add([]byte{0, 0, 0, 8, 0xcb, 0xd4, 0x31, 0x94, 0, 0, 0, 12})
	f.Add([]byte{0xff, 0xff, 0xff, 0xff})
	f.Add([]byte{0, 0, 0})
	f.Fuzz(func(t *testing.T, b []byte) {
		n, err := wholeRecords(b, 1<<16)
		if n < 0 || n > len(b) {
			t.Fatalf("wholeRecords = %d for %d bytes", n, len(b))
		}
		for off := 0; off < n; {
			size := int(int32(binary.BigEndian.Uint32(b[off:])))
			if size < minRecordSize || off+size > n {
				t.Fatalf("prefix %d contains a bad record at %d (size %d)", n, off, size)
			}
			off += size
		}
		if err == nil && len(b)-n >= recordHeaderSize {
			if size := int(int32(binary.BigEndian.Uint32(b[n:]))); size <= len(b)-n {
				t.Fatalf("stopped at %d although a whole %d-byte record follows", n, size)
			}
		}
	})
}
