package ha

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"runtime"
	"sort"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gorocket/gorocket/storage"
)

// MasterLog is the part of the local commit log a Master replicates from. *storage.Store satisfies it.
type MasterLog interface {
	// MinPhyOffset is the offset of the oldest retained byte.
	MinPhyOffset() int64
	// MaxPhyOffset is the offset the next append lands at (the end offset of every appended message is
	// at or below it).
	MaxPhyOffset() int64
	// CommittedPhyOffset is the end of the bytes ReadRaw can return; it trails MaxPhyOffset briefly.
	CommittedPhyOffset() int64
	// ReadRaw returns up to maxBytes contiguous committed bytes starting at offset, never crossing a
	// segment end; an empty buffer at the committed end. The master releases the buffer once it is sent.
	ReadRaw(offset int64, maxBytes int) (*storage.Buffer, error)
}

// commitWaiter is implemented by stores that can signal commits (*storage.Store does). Idle senders
// then block in WaitCommitted and wake on the commit itself, so the broker need not call Notify.
type commitWaiter interface {
	// WaitCommitted blocks until CommittedPhyOffset() > offset or ctx ends.
	WaitCommitted(ctx context.Context, offset int64) error
}

// Master serves the HA protocol to slaves and tracks their acknowledgements. It is safe for concurrent
// use. Create it with NewMaster (or ListenMaster), stop it with Close.
type Master struct {
	log   *slog.Logger
	store MasterLog
	cfg   MasterConfig
	ln    net.Listener
	data  *broadcast   // notified when the commit log grows
	cw    commitWaiter // store's commit signal, if it has one
	done  chan struct{}
	wg    sync.WaitGroup

	// mu guards everything below and the Master.mu-guarded fields of every slaveConn. Lock order:
	// Master.mu is a leaf lock (nothing else is acquired while it is held; store methods are called only
	// without it), and broadcast.mu is never held together with it.
	mu      sync.Mutex
	closed  bool
	conns   map[*slaveConn]struct{}
	nextID  uint64
	acked   int64     // highest offset acknowledged by any slave since the master started; monotonic
	waiters waitQueue // pending WaitForReplica calls, min-heap by target

	// The WaitForReplicaBatch waiters also sit in expiry, in arrival order, which is deadline
	// order (every deadline is arrival + SlaveTimeout): one timer, armed for the oldest, times
	// them out, instead of one runtime timer per waiting send.
	expiry      []*waiter
	expiryTimer *time.Timer // nil until the first batch waiter; runs sweepExpired

	ackedFast atomic.Int64 // copy of acked for WaitForReplica's lock-free fast path
}

// slaveConn is one accepted slave connection. Two goroutines serve it: readLoop (offset reports) and
// sendLoop (frames). Either one closes the connection on error, which stops the other.
type slaveConn struct {
	id          uint64
	conn        net.Conn
	remote      string
	connectedAt time.Time
	reported    chan struct{}   // closed by readLoop once the first report set start
	closed      chan struct{}   // closed by drop
	ctx         context.Context // cancelled by drop; bounds the sender's waits in the store
	cancel      context.CancelFunc
	dropOnce    sync.Once
	sent        atomic.Int64 // next offset sendLoop will send; for State
	idle        atomic.Bool  // sendLoop has sent everything committed and waits for more; for State

	// Guarded by Master.mu.
	handshaked bool      // the first report arrived
	start      int64     // first offset to send, decided on the first report
	ack        int64     // latest reported (acknowledged) offset
	lastAckAt  time.Time // when the latest report arrived
	caughtUpAt time.Time // latest time T such that every byte existing at T is acknowledged (see lag)
	markOffset int64     // master max offset sampled at markAt ...
	markAt     time.Time // ... so an ack ≥ markOffset proves everything existing at markAt is replicated
	wakeOffset int64     // committed end when the sender last woke from idle, at wakeAt (see noteIdleWake)
	wakeAt     time.Time
}

// NewMaster starts serving slaves on ln, which the Master owns from now on (Close closes it). Tests pass a
// listener on 127.0.0.1:0, or a wrapper that injects faults into accepted connections.
//
// When store can signal commits (*storage.Store's WaitCommitted), idle senders are woken by the commit
// itself; otherwise the caller should call Notify after each append, and idle senders also re-check the
// store every cfg.PollInterval.
func NewMaster(logger *slog.Logger, store MasterLog, ln net.Listener, cfg MasterConfig) (*Master, error) {
	if store == nil || ln == nil {
		return nil, fmt.Errorf("%w: NewMaster needs a store and a listener", ErrInvalidConfig)
	}
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	m := &Master{
		log:   logger,
		store: store,
		cfg:   cfg.withDefaults(),
		ln:    ln,
		data:  newBroadcast(),
		done:  make(chan struct{}),
		conns: make(map[*slaveConn]struct{}),
	}
	m.cw, _ = store.(commitWaiter)
	m.wg.Add(1)
	go m.acceptLoop()
	m.log.Info("ha master listening", "addr", ln.Addr().String(),
		"transfer_batch_size", m.cfg.TransferBatchSize, "slave_timeout", m.cfg.SlaveTimeout)
	return m, nil
}

// ListenMaster listens on addr (the broker's haListenPort, by default listenPort+1) and starts a Master.
func ListenMaster(logger *slog.Logger, store MasterLog, addr string, cfg MasterConfig) (*Master, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("ha: listen on %s: %w", addr, err)
	}
	m, err := NewMaster(logger, store, ln, cfg)
	if err != nil {
		_ = ln.Close()
		return nil, err
	}
	return m, nil
}

// Addr is the address the master listens on.
func (m *Master) Addr() net.Addr { return m.ln.Addr() }

// Notify tells the master that the commit log grew, waking idle senders. It is cheap (a mutex and, only
// when a sender is idle, a channel close) and safe to call from any goroutine, after every append.
func (m *Master) Notify() { m.data.notify() }

// Close stops accepting, closes every slave connection, fails pending WaitForReplica calls with
// ErrClosed and waits for all goroutines to exit. It is idempotent.
func (m *Master) Close() error {
	m.mu.Lock()
	if m.closed {
		m.mu.Unlock()
		return nil
	}
	m.closed = true
	if m.expiryTimer != nil {
		m.expiryTimer.Stop()
	}
	clear(m.expiry)
	m.expiry = nil
	conns := make([]*slaveConn, 0, len(m.conns))
	for sc := range m.conns {
		conns = append(conns, sc)
	}
	pending := m.waiters.popAll(nil)
	m.mu.Unlock()
	for _, w := range pending {
		w.finish(ErrClosed, nil)
	}

	close(m.done)
	err := m.ln.Close()
	for _, sc := range conns {
		m.drop(sc, ErrClosed)
	}
	m.wg.Wait()
	m.log.Info("ha master stopped", "addr", m.ln.Addr().String())
	if err != nil && !errors.Is(err, net.ErrClosed) {
		return fmt.Errorf("ha: close listener: %w", err)
	}
	return nil
}

// WaitForReplica blocks until some slave has acknowledged endOffset (the commit-log offset one past the
// last byte of the caller's message: wroteOffset + wroteBytes). It returns
//   - nil once a slave's acknowledged offset is ≥ endOffset (at once if that already happened);
//   - ErrSlaveNotAvailable at once when no slave is connected, or the best connected slave is
//     SlaveFallbehindMax or more behind endOffset;
//   - ErrSlaveTimeout after SlaveTimeout without such an acknowledgement;
//   - ctx.Err() (wrapped) if ctx ends first, and ErrClosed if the master is or gets closed.
//
// Calls do not spawn goroutines or poll: each queues a waiter in a heap ordered by endOffset, and the
// connection reader that processes an advancing acknowledgement completes every covered waiter at once
// (group commit). A slave disconnecting does not fail pending waiters: one that reconnects in time may
// still acknowledge them.
func (m *Master) WaitForReplica(ctx context.Context, endOffset int64) error {
	if m.ackedFast.Load() >= endOffset {
		return nil // already replicated (a message that arrived while an earlier ack was in flight)
	}
	m.mu.Lock()
	if m.closed {
		m.mu.Unlock()
		return ErrClosed
	}
	if m.acked >= endOffset {
		m.mu.Unlock()
		return nil
	}
	best, n := m.bestAckLocked()
	if n == 0 {
		m.mu.Unlock()
		return fmt.Errorf("%w: no slave connected", ErrSlaveNotAvailable)
	}
	if endOffset-best >= m.cfg.SlaveFallbehindMax {
		m.mu.Unlock()
		return fmt.Errorf("%w: best slave acknowledged %d, %d bytes behind %d (max %d)",
			ErrSlaveNotAvailable, best, endOffset-best, endOffset, m.cfg.SlaveFallbehindMax)
	}
	w := &waiter{target: endOffset, done: make(chan struct{})}
	m.waiters.add(w)
	m.mu.Unlock()

	timer := time.NewTimer(m.cfg.SlaveTimeout)
	defer timer.Stop()
	var cause error
	select {
	case <-w.done:
		return w.err // nil, or ErrClosed
	case <-timer.C:
		cause = fmt.Errorf("%w: offset %d not acknowledged within %v", ErrSlaveTimeout, endOffset, m.cfg.SlaveTimeout)
	case <-ctx.Done():
		cause = fmt.Errorf("ha: wait for replica of offset %d: %w", endOffset, ctx.Err())
	}
	m.mu.Lock()
	removed := m.waiters.remove(w)
	m.mu.Unlock()
	if !removed { // completed concurrently with the timeout: report what actually happened
		<-w.done
		return w.err
	}
	return cause
}

// WaitForReplicaFunc is the callback form of WaitForReplica, for callers that answer
// asynchronously (the broker's send path): done is called exactly once with the error
// WaitForReplica would return. It is called before WaitForReplicaFunc returns when the outcome is
// known at once (already acknowledged, no slave, closed); otherwise by the connection reader
// that processes the acknowledgement covering it (after releasing Master.mu; done must not
// block, or it holds up every later acknowledgement), on the expiry timer's goroutine after
// SlaveTimeout (ErrSlaveTimeout), or by Close (ErrClosed). No goroutine is started or parked
// per call.
func (m *Master) WaitForReplicaFunc(endOffset int64, done func(error)) {
	m.WaitForReplicaBatch(endOffset, func(err error, _ *Batch) { done(err) })
}

// WaitForReplicaBatch is WaitForReplicaFunc whose callback also gets the Batch it completes in.
// Callbacks must not block: those an acknowledgement completes run on the connection reader.
// the callbacks one acknowledgement completes share one, so they can defer common work (one
// write of the replies they queued) with Batch.After. A callback completed alone (at once, on
// timeout or at Close) gets a batch of its own, run right after it.
func (m *Master) WaitForReplicaBatch(endOffset int64, done func(error, *Batch)) {
	now := func(err error) {
		var b Batch
		done(err, &b)
		b.run()
	}
	if m.ackedFast.Load() >= endOffset {
		now(nil)
		return
	}
	m.mu.Lock()
	if err := m.checkWaitLocked(endOffset); err != nil || m.acked >= endOffset {
		m.mu.Unlock()
		now(err)
		return
	}
	w := &waiter{target: endOffset, fn: done, deadline: time.Now().Add(m.cfg.SlaveTimeout)}
	m.waiters.add(w)
	// Completed waiters at the front are dropped here, so expiry stays as short as the
	// number of sends actually waiting.
	for len(m.expiry) > 0 && m.expiry[0].index < 0 {
		m.expiry[0] = nil
		m.expiry = m.expiry[1:]
	}
	m.expiry = append(m.expiry, w)
	if len(m.expiry) == 1 {
		if m.expiryTimer == nil {
			m.expiryTimer = time.AfterFunc(m.cfg.SlaveTimeout, m.sweepExpired)
		} else {
			m.expiryTimer.Reset(m.cfg.SlaveTimeout)
		}
	}
	m.mu.Unlock()
}

// sweepExpired times out the batch waiters whose deadline has passed (ErrSlaveTimeout, on this
// timer's goroutine, as one batch) and re-arms the timer for the oldest one left.
func (m *Master) sweepExpired() {
	now := time.Now()
	var expired []*waiter
	m.mu.Lock()
	for len(m.expiry) > 0 {
		w := m.expiry[0]
		if w.index >= 0 && w.deadline.After(now) {
			break
		}
		m.expiry[0] = nil
		m.expiry = m.expiry[1:]
		if m.waiters.remove(w) {
			expired = append(expired, w)
		}
	}
	if len(m.expiry) > 0 && !m.closed {
		m.expiryTimer.Reset(m.expiry[0].deadline.Sub(now))
	}
	m.mu.Unlock()
	var b Batch
	for _, w := range expired {
		w.fn(fmt.Errorf("%w: offset %d not acknowledged within %v", ErrSlaveTimeout, w.target, m.cfg.SlaveTimeout), &b)
	}
	b.run()
}

// checkWaitLocked returns the error a new wait for endOffset fails with at once (closed, no
// slave, best slave too far behind), or nil. m.mu must be held.
func (m *Master) checkWaitLocked(endOffset int64) error {
	if m.closed {
		return ErrClosed
	}
	if m.acked >= endOffset {
		return nil
	}
	best, n := m.bestAckLocked()
	if n == 0 {
		return fmt.Errorf("%w: no slave connected", ErrSlaveNotAvailable)
	}
	if endOffset-best >= m.cfg.SlaveFallbehindMax {
		return fmt.Errorf("%w: best slave acknowledged %d, %d bytes behind %d (max %d)",
			ErrSlaveNotAvailable, best, endOffset-best, endOffset, m.cfg.SlaveFallbehindMax)
	}
	return nil
}

// bestAckLocked returns the highest acknowledged offset among slaves that completed their first report,
// and how many there are. m.mu must be held.
func (m *Master) bestAckLocked() (best int64, n int) {
	best = -1
	for sc := range m.conns {
		if !sc.handshaked {
			continue
		}
		n++
		if sc.ack > best {
			best = sc.ack
		}
	}
	return best, n
}

func (m *Master) acceptLoop() {
	defer m.wg.Done()
	var backoff time.Duration
	for {
		c, err := m.ln.Accept()
		if err != nil {
			select {
			case <-m.done:
				return
			default:
			}
			if errors.Is(err, net.ErrClosed) {
				m.log.Error("ha master listener closed unexpectedly", "err", err)
				return
			}
			// Transient accept failure (e.g. EMFILE): back off like net/http and hashicorp/raft do.
			if backoff == 0 {
				backoff = 5 * time.Millisecond
			} else if backoff *= 2; backoff > time.Second {
				backoff = time.Second
			}
			m.log.Warn("ha master accept failed", "err", err, "retry_in", backoff)
			t := time.NewTimer(backoff)
			select {
			case <-m.done:
				t.Stop()
				return
			case <-t.C:
			}
			continue
		}
		backoff = 0
		m.serve(c)
	}
}

// serve registers an accepted connection and starts its reader and sender.
func (m *Master) serve(c net.Conn) {
	sc := &slaveConn{
		conn:        c,
		remote:      c.RemoteAddr().String(),
		connectedAt: time.Now(),
		reported:    make(chan struct{}),
		closed:      make(chan struct{}),
	}
	sc.ctx, sc.cancel = context.WithCancel(context.Background())
	m.mu.Lock()
	if m.closed {
		m.mu.Unlock()
		_ = c.Close()
		return
	}
	m.nextID++
	sc.id = m.nextID
	m.conns[sc] = struct{}{}
	m.mu.Unlock()
	m.log.Info("ha slave connected", "slave", sc.remote, "conn_id", sc.id)
	m.wg.Add(2)
	go m.readLoop(sc)
	go m.sendLoop(sc)
}

// drop closes a slave connection once and unregisters it. err says why (nil or ErrClosed for a
// deliberate close).
func (m *Master) drop(sc *slaveConn, err error) {
	sc.dropOnce.Do(func() {
		_ = sc.conn.Close()
		close(sc.closed)
		sc.cancel()
		m.mu.Lock()
		delete(m.conns, sc)
		ack := sc.ack
		m.mu.Unlock()
		switch {
		case err == nil || errors.Is(err, ErrClosed):
			m.log.Info("ha slave connection closed", "slave", sc.remote, "conn_id", sc.id, "acked_offset", ack)
		case errors.Is(err, io.EOF):
			m.log.Info("ha slave disconnected", "slave", sc.remote, "conn_id", sc.id, "acked_offset", ack)
		default:
			m.log.Warn("ha slave connection dropped", "slave", sc.remote, "conn_id", sc.id,
				"acked_offset", ack, "err", err)
		}
	})
}

// readLoop reads offset reports. A connection that sends no report for HousekeepingInterval is dropped
// (a live slave reports at least every HeartbeatInterval).
func (m *Master) readLoop(sc *slaveConn) {
	defer m.wg.Done()
	br := bufio.NewReaderSize(sc.conn, 256)
	var buf [reportSize]byte
	var ready []*waiter // waiters an ack released, woken after Master.mu is released
	first := true
	for {
		if err := sc.conn.SetReadDeadline(time.Now().Add(m.cfg.HousekeepingInterval)); err != nil {
			m.drop(sc, fmt.Errorf("ha: set read deadline: %w", err))
			return
		}
		off, err := readReport(br, &buf)
		// Several reports may already be buffered; only the newest matters.
		for err == nil && br.Buffered() >= reportSize {
			off, err = readReport(br, &buf)
		}
		if err != nil {
			select {
			case <-sc.closed: // closed by the sender or Close; it logged the reason
			default:
				m.drop(sc, fmt.Errorf("ha: read offset report: %w", err))
			}
			return
		}
		if first {
			ready, err = m.handshake(sc, off, ready)
			first = false
		} else {
			ready, err = m.onAck(sc, off, ready)
		}
		ready = m.complete(ready)
		if err != nil {
			m.drop(sc, err)
			return
		}
	}
}

// handshake processes the first report: it decides where the transfer starts and lets sendLoop go.
//
// Start offset rules (documented in doc.go):
//   - report > master max: ErrSlaveAhead, close.
//   - report == 0 (empty slave) while the master retains everything from 0: start at 0.
//   - report == 0 while retention already deleted the beginning: start at the master's min offset (the
//     start of its oldest retained segment), which the empty slave adopts as its own base.
//   - 0 < report < master min: ErrSlaveTooFarBehind, close (the slave must be wiped).
//   - otherwise start at the report.
func (m *Master) handshake(sc *slaveConn, off int64, ready []*waiter) ([]*waiter, error) {
	now := time.Now()
	maxOff := m.store.MaxPhyOffset()
	minOff := m.store.MinPhyOffset()
	if off > maxOff {
		return ready, fmt.Errorf("%w: slave %s reported %d, master max %d", ErrSlaveAhead, sc.remote, off, maxOff)
	}
	start := off
	if off < minOff {
		if off != 0 {
			return ready, fmt.Errorf("%w: slave %s reported %d, master min %d", ErrSlaveTooFarBehind, sc.remote, off, minOff)
		}
		start = minOff
	}
	m.mu.Lock()
	sc.handshaked = true
	sc.start = start
	sc.ack = off
	sc.lastAckAt = now
	sc.markOffset, sc.markAt = maxOff, now
	if off >= maxOff {
		sc.caughtUpAt = now
	} else {
		// The slave's data age is unknown; count lag from the connection (a lower bound).
		sc.caughtUpAt = sc.connectedAt
	}
	ready = m.advanceLocked(off, ready)
	m.mu.Unlock()
	sc.sent.Store(start)
	close(sc.reported)
	m.log.Info("ha slave handshake", "slave", sc.remote, "conn_id", sc.id,
		"slave_offset", off, "start_offset", start, "master_max_offset", maxOff)
	return ready, nil
}

// onAck processes a subsequent report. Waiters it releases are appended to ready.
func (m *Master) onAck(sc *slaveConn, off int64, ready []*waiter) ([]*waiter, error) {
	now := time.Now() // before reading maxOff: everything that existed at now is below maxOff
	maxOff := m.store.MaxPhyOffset()
	if off > maxOff {
		return ready, fmt.Errorf("%w: slave %s reported %d, master max %d", ErrSlaveAhead, sc.remote, off, maxOff)
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if off < sc.ack {
		return ready, fmt.Errorf("%w: slave %s offset went back from %d to %d", ErrProtocol, sc.remote, sc.ack, off)
	}
	sc.ack = off
	sc.lastAckAt = now
	switch {
	case off >= maxOff:
		sc.caughtUpAt = now
		sc.markOffset, sc.markAt = maxOff, now
	case off >= sc.markOffset:
		// Everything that existed at markAt is acknowledged; re-arm the mark with the present.
		if sc.markAt.After(sc.caughtUpAt) {
			sc.caughtUpAt = sc.markAt
		}
		sc.markOffset, sc.markAt = maxOff, now
	}
	if off >= sc.wakeOffset && sc.wakeAt.After(sc.caughtUpAt) {
		sc.caughtUpAt = sc.wakeAt
	}
	return m.advanceLocked(off, ready), nil
}

// advanceLocked raises the replicated offset and moves the waiters it covers to ready; the caller
// completes them after unlocking. m.mu must be held.
func (m *Master) advanceLocked(off int64, ready []*waiter) []*waiter {
	if off <= m.acked {
		return ready
	}
	m.acked = off
	m.ackedFast.Store(off)
	return m.waiters.popReady(off, ready)
}

// sendLoop pushes commit-log bytes from the slave's start offset, and a heartbeat frame after
// HeartbeatInterval without data. It never waits for acknowledgements (TCP provides the backpressure);
// a write that makes no progress for HousekeepingInterval drops the connection.
func (m *Master) sendLoop(sc *slaveConn) {
	defer m.wg.Done()
	select {
	case <-sc.reported:
	case <-sc.closed:
		return
	}
	next := sc.sent.Load()
	hdr := make([]byte, frameHeaderSize)
	lastWrite := time.Now()
	timer := time.NewTimer(time.Hour)
	timer.Stop()
	defer timer.Stop()

	write := func(body []byte) error {
		putFrameHeader(hdr, frameHeader{Offset: next, Size: int32(len(body))})
		if err := sc.conn.SetWriteDeadline(time.Now().Add(m.cfg.HousekeepingInterval)); err != nil {
			return fmt.Errorf("ha: set write deadline: %w", err)
		}
		bufs := net.Buffers{hdr, body}
		if _, err := bufs.WriteTo(sc.conn); err != nil {
			return fmt.Errorf("ha: write frame at %d (%d bytes): %w", next, len(body), err)
		}
		lastWrite = time.Now()
		return nil
	}
	fail := func(err error) {
		select {
		case <-sc.closed: // closed by the reader or Close; it logged the reason
		default:
			m.drop(sc, err)
		}
	}

	for {
		sent, err := m.sendAvailable(sc, &next, write)
		if err != nil {
			fail(err)
			return
		}
		if sent {
			continue
		}
		untilHeartbeat := m.cfg.HeartbeatInterval - time.Since(lastWrite)
		if untilHeartbeat <= 0 {
			if err := write(nil); err != nil {
				fail(err)
				return
			}
			continue
		}
		// Idle. With a store that signals commits, wait for the commit of the byte at next (or the
		// heartbeat); this is the latency-critical hop of synchronous replication.
		if m.cw != nil {
			ctx, cancel := context.WithTimeout(sc.ctx, untilHeartbeat)
			sc.idle.Store(true)
			err := m.cw.WaitCommitted(ctx, next)
			sc.idle.Store(false)
			cancel()
			if sc.ctx.Err() != nil {
				return
			}
			if err == nil || ctx.Err() != nil {
				m.noteIdleWake(sc, next, time.Now())
				// Woken by a commit: let the appenders that are ready to run commit theirs
				// too, so that one frame (one write here, one append and one ack on the
				// slave) carries them all. Returns at once when nothing else is runnable.
				runtime.Gosched()
				continue
			}
			// The store failed or closed under us: fall back to polling below rather than spin.
		}
		// Take the notification channel, then re-check, so an append in between is not missed.
		sig := m.data.wait()
		if sent, err = m.sendAvailable(sc, &next, write); err != nil {
			fail(err)
			return
		} else if sent {
			continue
		}
		timer.Reset(min(untilHeartbeat, m.cfg.PollInterval))
		sc.idle.Store(true)
		select {
		case <-sig:
		case <-timer.C:
		case <-sc.closed:
			return
		}
		sc.idle.Store(false)
		timer.Stop()
		m.noteIdleWake(sc, next, time.Now())
	}
}

// noteIdleWake records, for the lag estimate, that the master's committed log ended at next from the
// moment this sender went idle until about now, when it woke (new data or a timer). If the slave has
// acknowledged next, it was caught up until now; otherwise a later acknowledgement of next proves it.
// The error is the sender's wake-up latency (the commit happened at most that long before now).
func (m *Master) noteIdleWake(sc *slaveConn, next int64, now time.Time) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if !sc.handshaked {
		return
	}
	if sc.ack >= next {
		if now.After(sc.caughtUpAt) {
			sc.caughtUpAt = now
		}
		return
	}
	sc.wakeOffset, sc.wakeAt = next, now
}

// sendAvailable sends one frame if the commit log has committed bytes at *next, advancing *next. It
// reports whether it sent anything.
func (m *Master) sendAvailable(sc *slaveConn, next *int64, write func([]byte) error) (bool, error) {
	committed := m.store.CommittedPhyOffset()
	if *next >= committed {
		return false, nil
	}
	buf, err := m.store.ReadRaw(*next, m.cfg.TransferBatchSize)
	if err != nil {
		if minOff := m.store.MinPhyOffset(); *next < minOff {
			return false, fmt.Errorf("%w: transfer offset %d, master min %d: %w", ErrSlaveTooFarBehind, *next, minOff, err)
		}
		return false, fmt.Errorf("ha: read commit log at %d: %w", *next, err)
	}
	defer buf.Release()
	body := buf.Data
	if len(body) == 0 {
		// Below the committed end the store must return bytes; treating this as "idle" would spin.
		return false, fmt.Errorf("ha: commit log returned no bytes at %d (committed end %d)", *next, committed)
	}
	if buf.PhysicalOffset != *next {
		return false, fmt.Errorf("ha: commit log returned bytes at %d for a read at %d", buf.PhysicalOffset, *next)
	}
	if len(body) > m.cfg.TransferBatchSize {
		body = body[:m.cfg.TransferBatchSize]
	}
	if err := write(body); err != nil {
		return false, err
	}
	*next += int64(len(body))
	sc.sent.Store(*next)
	return true, nil
}

// MasterState is a point-in-time view of the master side, for GET_BROKER_RUNTIME_INFO, brokerStatus and
// the operator's rolling-restart gate.
type MasterState struct {
	Addr             string        // HA listen address
	MaxPhyOffset     int64         // the master's commit-log max offset when sampled
	ReplicatedOffset int64         // highest offset any slave acknowledged since the master started
	Slaves           []SlaveStatus // one per connection, oldest first
}

// SlaveStatus describes one slave connection as the master sees it.
type SlaveStatus struct {
	Addr           string    // the slave's remote address
	ConnectedSince time.Time // when the connection was accepted
	Reported       bool      // the slave sent its first offset report (only such slaves count for sync)
	AckedOffset    int64     // latest reported offset: the slave holds every byte below it
	SentOffset     int64     // next offset the master will send to it
	LastAck        time.Time // when the latest report arrived
	// LagBytes is MaxPhyOffset − AckedOffset (0 when caught up).
	LagBytes int64
	// LagTime is now − T, T being the latest moment such that every byte the master held then is
	// acknowledged: about the age of the oldest byte the slave lacks. It is 0 when AckedOffset ≥
	// MaxPhyOffset. T is established from samples (offset, time) the master takes at every report and
	// whenever a sender that had sent everything wakes up (so an idle slave's lag counts from the new
	// data, not from its last heartbeat); the value errs high by at most one report round trip under
	// load and low by at most a sender's wake-up latency. For a slave that connected behind, T starts
	// at the connection time.
	LagTime time.Duration
}

// BestSlave returns the reported slave with the highest acknowledged offset: the one synchronous
// replication effectively waits for, and the one whose lag the broker should publish (and the operator
// gate restarts on). ok is false when no slave has reported.
func (s MasterState) BestSlave() (best SlaveStatus, ok bool) {
	for _, sl := range s.Slaves {
		if sl.Reported && (!ok || sl.AckedOffset > best.AckedOffset) {
			best, ok = sl, true
		}
	}
	return best, ok
}

// State returns the current replication state. It is cheap (one store call and a short critical
// section) and safe to call concurrently.
func (m *Master) State() MasterState {
	now := time.Now()
	maxOff := m.store.MaxPhyOffset()
	st := MasterState{Addr: m.ln.Addr().String(), MaxPhyOffset: maxOff}
	m.mu.Lock()
	st.ReplicatedOffset = m.acked
	for sc := range m.conns {
		s := SlaveStatus{
			Addr:           sc.remote,
			ConnectedSince: sc.connectedAt,
			Reported:       sc.handshaked,
			SentOffset:     sc.sent.Load(),
		}
		if sc.handshaked {
			s.AckedOffset = sc.ack
			s.LastAck = sc.lastAckAt
			if sc.ack < maxOff {
				s.LagBytes = maxOff - sc.ack
				// An idle sender whose slave acknowledged everything it sent has not yet noticed the
				// newer bytes: they are younger than its wake-up latency.
				if !(sc.idle.Load() && sc.ack >= s.SentOffset) {
					s.LagTime = now.Sub(sc.caughtUpAt)
				}
			}
		} else {
			s.LagBytes = maxOff
			s.LagTime = now.Sub(sc.connectedAt)
		}
		st.Slaves = append(st.Slaves, s)
	}
	m.mu.Unlock()
	sort.Slice(st.Slaves, func(i, j int) bool {
		if !st.Slaves[i].ConnectedSince.Equal(st.Slaves[j].ConnectedSince) {
			return st.Slaves[i].ConnectedSince.Before(st.Slaves[j].ConnectedSince)
		}
		return st.Slaves[i].Addr < st.Slaves[j].Addr
	})
	return st
}
