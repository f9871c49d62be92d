package ha

import (
	"bufio"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"sync"
	"time"
)

// SlaveLog is the part of the local commit log a Slave replicates into. *storage.Store satisfies it.
type SlaveLog interface {
	// MaxPhyOffset is the offset one past the last byte in the local commit log.
	MaxPhyOffset() int64
	// AppendRaw writes data at exactly phyOffset (which must equal MaxPhyOffset, or start an empty log).
	// The slave passes only whole records. AppendRaw must not retain data after returning.
	AppendRaw(phyOffset int64, data []byte) error
}

// reportEvery bounds how many applied bytes the slave accumulates before reporting, when frames arrive
// back to back. Reports are otherwise sent when the receive buffer drains, which coalesces acks under
// load without delaying them when idle.
const reportEvery = 256 << 10

// Slave replicates a master's commit log into the local one. It is safe for concurrent use. Create it with
// NewSlave, point it at a master with SetMasterAddress, stop it with Close.
type Slave struct {
	log    *slog.Logger
	store  SlaveLog
	cfg    SlaveConfig
	wakeup chan struct{} // cap 1; signalled when the address changes or Close is called
	done   chan struct{}
	wg     sync.WaitGroup

	// mu guards the fields below. Lock order: session.wmu → Slave.mu (report records what it wrote);
	// nothing is acquired while mu is held, and store methods are never called with it (report reads
	// the store's max offset under session.wmu, which the store never waits on).
	mu             sync.Mutex
	closed         bool
	addr           string
	conn           net.Conn           // the live connection, if any
	cancelDial     context.CancelFunc // cancels an in-progress dial
	connectedSince time.Time          // zero when not connected
	localAddr      string             // local end of the live connection
	lastReceived   time.Time
	lastReported   int64
	lastError      string
	connects       int64
	pending        int // bytes of an incomplete record held in memory
}

// NewSlave starts a slave with no master address; it connects once SetMasterAddress gives it one. The
// caller keeps owning store and must Close the Slave before closing the store.
func NewSlave(logger *slog.Logger, store SlaveLog, cfg SlaveConfig) (*Slave, error) {
	if store == nil {
		return nil, fmt.Errorf("%w: NewSlave needs a store", ErrInvalidConfig)
	}
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	s := &Slave{
		log:    logger,
		store:  store,
		cfg:    cfg.withDefaults(),
		wakeup: make(chan struct{}, 1),
		done:   make(chan struct{}),
	}
	s.wg.Add(1)
	go s.run()
	return s, nil
}

// SetMasterAddress sets or changes the master's HA address (host:port). The broker calls it with
// haMasterAddress from its config, or with haServerAddr from each REGISTER_BROKER response; calling it
// with an unchanged address is a cheap no-op. A change drops the current connection and dials the new
// address at once. An empty address disconnects and idles.
func (s *Slave) SetMasterAddress(addr string) {
	s.mu.Lock()
	if s.closed || addr == s.addr {
		s.mu.Unlock()
		return
	}
	old := s.addr
	s.addr = addr
	s.interruptLocked()
	s.mu.Unlock()
	s.log.Info("ha master address changed", "old", old, "new", addr)
	select {
	case s.wakeup <- struct{}{}:
	default:
	}
}

// MasterAddress returns the configured master HA address.
func (s *Slave) MasterAddress() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.addr
}

// interruptLocked aborts the current dial or connection. s.mu must be held.
func (s *Slave) interruptLocked() {
	if s.conn != nil {
		_ = s.conn.Close()
	}
	if s.cancelDial != nil {
		s.cancelDial()
	}
}

// Close disconnects and waits for the replication goroutines to exit. It does not close the store. It is
// idempotent.
func (s *Slave) Close() error {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return nil
	}
	s.closed = true
	s.interruptLocked()
	s.mu.Unlock()
	close(s.done)
	s.wg.Wait()
	s.log.Info("ha slave stopped")
	return nil
}

// SlaveState is a point-in-time view of the slave side.
type SlaveState struct {
	MasterAddr     string    // configured master HA address ("" = none yet)
	Connected      bool      // a connection to the master is established
	ConnectedSince time.Time // zero when not connected
	LocalAddr      string    // local address of the connection (the master lists the slave under it)
	MaxPhyOffset   int64     // the local commit log's max offset
	LastReported   int64     // the offset most recently reported to the master
	LastReceived   time.Time // when the last frame (data or heartbeat) arrived
	LastError      string    // why the last connection or attempt ended ("" if none yet)
	Connects       int64     // successful connections so far
	PendingBytes   int       // received bytes of a not yet complete record, not yet in the store
}

// State returns the current slave state. It is cheap and safe to call concurrently.
func (s *Slave) State() SlaveState {
	maxOff := s.store.MaxPhyOffset()
	s.mu.Lock()
	defer s.mu.Unlock()
	return SlaveState{
		MasterAddr:     s.addr,
		Connected:      !s.connectedSince.IsZero(),
		ConnectedSince: s.connectedSince,
		LocalAddr:      s.localAddr,
		MaxPhyOffset:   maxOff,
		LastReported:   s.lastReported,
		LastReceived:   s.lastReceived,
		LastError:      s.lastError,
		Connects:       s.connects,
		PendingBytes:   s.pending,
	}
}

// run is the connection loop: dial, replicate until the connection breaks, back off, repeat.
func (s *Slave) run() {
	defer s.wg.Done()
	backoff := s.cfg.ReconnectBackoffMin
	for {
		addr, ok := s.waitForAddress()
		if !ok {
			return
		}
		progressed, err := s.session(addr)
		s.mu.Lock()
		closed, changed := s.closed, s.addr != addr
		if err != nil {
			s.lastError = err.Error()
		}
		s.mu.Unlock()
		if closed {
			return
		}
		if changed {
			backoff = s.cfg.ReconnectBackoffMin
			continue // dial the new address at once
		}
		if err != nil {
			s.log.Warn("ha slave connection ended", "master", addr, "err", err, "retry_in", backoff)
		}
		if progressed {
			backoff = s.cfg.ReconnectBackoffMin
		}
		t := time.NewTimer(backoff)
		select {
		case <-t.C:
		case <-s.wakeup:
			t.Stop()
		case <-s.done:
			t.Stop()
			return
		}
		if !progressed {
			backoff = min(2*backoff, s.cfg.ReconnectBackoffMax)
		}
	}
}

// waitForAddress blocks until a master address is set; false means Close was called.
func (s *Slave) waitForAddress() (string, bool) {
	for {
		s.mu.Lock()
		addr, closed := s.addr, s.closed
		s.mu.Unlock()
		if closed {
			return "", false
		}
		if addr != "" {
			return addr, true
		}
		select {
		case <-s.wakeup:
		case <-s.done:
			return "", false
		}
	}
}

// session dials addr and replicates until the connection ends. progressed reports whether the session
// applied data or stayed up for a heartbeat interval (then the reconnect backoff resets).
func (s *Slave) session(addr string) (progressed bool, err error) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	s.mu.Lock()
	if s.closed || s.addr != addr {
		s.mu.Unlock()
		return false, nil
	}
	s.cancelDial = cancel
	s.mu.Unlock()

	conn, err := s.cfg.Dial(ctx, addr)

	s.mu.Lock()
	s.cancelDial = nil
	if err != nil {
		s.mu.Unlock()
		return false, fmt.Errorf("ha: dial master %s: %w", addr, err)
	}
	if s.closed || s.addr != addr {
		s.mu.Unlock()
		_ = conn.Close()
		return false, nil
	}
	start := time.Now()
	s.conn = conn
	s.connectedSince = start
	s.localAddr = conn.LocalAddr().String()
	s.connects++
	s.mu.Unlock()
	s.log.Info("ha slave connected to master", "master", addr, "local", conn.LocalAddr().String(),
		"max_offset", s.store.MaxPhyOffset())

	ss := &session{s: s, conn: conn}
	stop := make(chan struct{})
	hbDone := make(chan error, 1)
	go func() { hbDone <- ss.heartbeatLoop(stop) }()

	applied, err := ss.receive()
	close(stop)
	_ = conn.Close()
	if hbErr := <-hbDone; hbErr != nil && errors.Is(err, net.ErrClosed) {
		err = hbErr // the heartbeat writer failed first and closed the connection
	}

	s.mu.Lock()
	s.conn = nil
	s.connectedSince = time.Time{}
	s.localAddr = ""
	interrupted := s.closed || s.addr != addr
	s.mu.Unlock()
	s.log.Info("ha slave disconnected from master", "master", addr, "applied_bytes", applied,
		"max_offset", s.store.MaxPhyOffset())
	progressed = applied > 0 || time.Since(start) >= s.cfg.HeartbeatInterval
	if interrupted {
		return progressed, nil
	}
	return progressed, err
}

// session is one connection to the master. wmu serialises report writes from the receive loop and the
// heartbeat loop.
type session struct {
	s    *Slave
	conn net.Conn
	wmu  sync.Mutex
	buf  [reportSize]byte
}

// report writes the local max offset to the master. The offset is read under wmu, so concurrent
// reporters write non-decreasing offsets (the master treats a decrease as a protocol violation).
func (ss *session) report() error {
	ss.wmu.Lock()
	defer ss.wmu.Unlock()
	off := ss.s.store.MaxPhyOffset()
	putReport(ss.buf[:], off)
	if err := ss.conn.SetWriteDeadline(time.Now().Add(ss.s.cfg.HousekeepingInterval)); err != nil {
		return fmt.Errorf("ha: set write deadline: %w", err)
	}
	if _, err := ss.conn.Write(ss.buf[:]); err != nil {
		return fmt.Errorf("ha: write offset report %d: %w", off, err)
	}
	ss.s.mu.Lock()
	ss.s.lastReported = off
	ss.s.mu.Unlock()
	return nil
}

// heartbeatLoop sends the first report at once, then one every HeartbeatInterval until stop. On a write
// error it closes the connection (ending receive) and returns the error.
func (ss *session) heartbeatLoop(stop <-chan struct{}) error {
	t := time.NewTicker(ss.s.cfg.HeartbeatInterval)
	defer t.Stop()
	for {
		if err := ss.report(); err != nil {
			_ = ss.conn.Close()
			return err
		}
		select {
		case <-stop:
			return nil
		case <-t.C:
		}
	}
}

// receive reads frames, validates and applies them, and reports progress. It returns the number of
// bytes applied and the error that ended the connection.
//
// Two rules keep the local commit log clean whatever happens to the connection or the process:
//   - a frame is used only after it has been read completely, so a connection cut mid-frame adds nothing;
//   - only whole records reach AppendRaw. Frames are cut at TransferBatchSize, not at record boundaries,
//     so the bytes of a record that is not complete yet wait in pending (in memory) for the next frame.
//     The store's end, and so every report, is always a record boundary; a restart (clean or not)
//     never leaves a torn record that the store would have to recognise, and pending is simply
//     dropped with the connection: the next first report makes the master resend those bytes.
func (ss *session) receive() (applied int64, err error) {
	s := ss.s
	br := bufio.NewReaderSize(ss.conn, 64<<10)
	var hb [frameHeaderSize]byte
	var body, pending []byte
	var unreported int64
	storeEnd := s.store.MaxPhyOffset() // == offset of pending[0]
	defer func() {
		s.mu.Lock()
		s.pending = 0
		s.mu.Unlock()
	}()
	for {
		if err := ss.conn.SetReadDeadline(time.Now().Add(s.cfg.HousekeepingInterval)); err != nil {
			return applied, fmt.Errorf("ha: set read deadline: %w", err)
		}
		h, err := readFrameHeader(br, &hb, s.cfg.MaxFrameSize)
		if err != nil {
			return applied, fmt.Errorf("ha: read frame header: %w", err)
		}
		if cap(body) < int(h.Size) {
			body = make([]byte, h.Size)
		}
		body = body[:h.Size]
		if _, err := io.ReadFull(br, body); err != nil {
			return applied, fmt.Errorf("ha: read frame body at %d (%d bytes): %w", h.Offset, h.Size, err)
		}
		now := time.Now()
		s.mu.Lock()
		s.lastReceived = now
		s.mu.Unlock()

		// Frames must continue exactly at our end (store end + pending bytes). An empty slave instead
		// adopts the first frame's offset: the master starts an empty slave at its min offset when
		// retention already deleted the beginning (the store accepts any segment-aligned start).
		expect := storeEnd + int64(len(pending))
		if h.Offset != expect {
			if storeEnd != 0 || len(pending) != 0 {
				return applied, fmt.Errorf("%w: frame at %d, local end %d (store %d + %d pending)",
					ErrOffsetMismatch, h.Offset, expect, storeEnd, len(pending))
			}
			if h.Size > 0 {
				storeEnd = h.Offset
			}
		}
		if h.Size == 0 {
			continue // heartbeat
		}
		pending = append(pending, body...)
		n, err := wholeRecords(pending, s.cfg.MaxRecordSize)
		if err != nil {
			return applied, fmt.Errorf("frame at %d: %w", h.Offset, err)
		}
		if n > 0 {
			if err := s.store.AppendRaw(storeEnd, pending[:n]); err != nil {
				return applied, fmt.Errorf("ha: append %d bytes at %d: %w", n, storeEnd, err)
			}
			if got, want := s.store.MaxPhyOffset(), storeEnd+int64(n); got != want {
				return applied, fmt.Errorf("ha: after appending %d bytes at %d the local max offset is %d, want %d",
					n, storeEnd, got, want)
			}
			storeEnd += int64(n)
			pending = pending[:copy(pending, pending[n:])]
			applied += int64(n)
			unreported += int64(n)
		}
		s.mu.Lock()
		s.pending = len(pending)
		s.mu.Unlock()
		if unreported > 0 && (br.Buffered() < frameHeaderSize || unreported >= reportEvery) {
			if err := ss.report(); err != nil {
				return applied, err
			}
			unreported = 0
		}
	}
}

// recordHeaderSize is the commit-log record prefix the slave reads: int32 TOTALSIZE. Every record,
// including the blank record that pads a segment's end (int32 remaining bytes, int32 blank magic),
// starts with its total size, so record boundaries can be followed without decoding records; the
// store's AppendRaw validates the records themselves.
const (
	recordHeaderSize = 4
	minRecordSize    = 8 // the blank record
)

// wholeRecords returns the length of the longest prefix of b made of complete records. A declared size
// outside [minRecordSize, maxRecord] means the stream is not a commit log: ErrProtocol.
func wholeRecords(b []byte, maxRecord int) (int, error) {
	n := 0
	for len(b)-n >= recordHeaderSize {
		size := int64(int32(binary.BigEndian.Uint32(b[n:])))
		if size < minRecordSize || size > int64(maxRecord) {
			return n, fmt.Errorf("%w: record at +%d declares %d bytes (want %d..%d)", ErrProtocol, n, size, minRecordSize, maxRecord)
		}
		if int64(len(b)-n) < size {
			break
		}
		n += int(size)
	}
	return n, nil
}
