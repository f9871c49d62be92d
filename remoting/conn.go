package remoting

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"runtime"
	"runtime/debug"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gorocket/gorocket/remoting/protocol"
)

// endpoint is the state shared by all connections of one Server or Client.
type endpoint struct {
	log          *slog.Logger
	role         string // "server" or "client", for logs
	mux          *Mux
	st           protocol.SerializeType
	maxFrame     int
	idle         time.Duration
	writeTimeout time.Duration
	reqTimeout   time.Duration
	sem          chan struct{} // bounds concurrently running handlers
	workers      workerPool    // idle handler goroutines (workers.go)
	stopWork     chan struct{} // closed on Server.Shutdown / Client.Close: idle workers exit
	stopOnce     sync.Once
	// workersStarted counts worker goroutines started (tests check that they are reused).
	workersStarted atomic.Int64
	opaque         atomic.Int32 // this endpoint's request ids (server-initiated requests too)

	hookMu  sync.RWMutex
	onClose []func(*Conn)

	wg sync.WaitGroup // read loops and handler goroutines
}

var connIDs atomic.Uint64

func (e *endpoint) addCloseHook(fn func(*Conn)) {
	e.hookMu.Lock()
	defer e.hookMu.Unlock()
	e.onClose = append(e.onClose, fn)
}

// Conn is one established connection, accepted by a Server or dialed by a Client. Both
// sides may send requests on it: requests are multiplexed by opaque, answered in any
// order, and writes are serialized. A Conn is safe for concurrent use.
type Conn struct {
	id     uint64
	nc     net.Conn
	ep     *endpoint
	ctx    context.Context // cancelled on close; parent of handler contexts
	cancel context.CancelFunc

	// Write coalescing (see write): frames are appended to wq under wmu, and one goroutine
	// at a time (the flusher, wflushing) writes everything pending in one syscall.
	wmu       sync.Mutex
	wcond     sync.Cond     // L = &wmu; broadcast when wq drains, a flush ends, or the conn closes
	wq        pendingWrites // encoded frames not yet handed to the flusher
	wspare    pendingWrites // the flusher's previous (emptied) queue, reused as the next wq
	wiov      net.Buffers   // the flusher's writev vector
	wflushing bool          // a goroutine owns the socket for writing
	wclosed   bool          // the connection closed: frames are no longer accepted
	wwaiters  int           // goroutines waiting on wcond

	mu      sync.Mutex // guards pending, err
	pending map[int32]*call
	err     error // why the connection closed; nil while open

	closeOnce sync.Once
	done      chan struct{}

	// inflight counts requests outstanding on this connection in either direction: calls
	// waiting for responses and received requests not answered yet (see yieldBeforeFlush).
	inflight atomic.Int32

	lastActive atomic.Int64 // unix nanos of the last complete read or write
	idleTimer  *time.Timer

	values sync.Map
}

// call is one outstanding request sent on this connection. A sync call has ch; an async
// call has cb, which exactly one of response delivery, timeout, connection close or write
// failure runs: the one that wins claim.
type call struct {
	ch      chan *protocol.RemotingCommand // sync: buffered(1); closed when the conn closes
	cb      func(*protocol.RemotingCommand, error)
	timer   *time.Timer // async: the request timeout
	ctxStop func() bool // async: releases the context watch
	claimed atomic.Bool
}

func (cl *call) claim() bool { return cl.claimed.CompareAndSwap(false, true) }

// stop releases an async call's timeout and context watch.
func (cl *call) stop() {
	if cl.timer != nil {
		cl.timer.Stop()
	}
	if cl.ctxStop != nil {
		cl.ctxStop()
	}
}

func newConn(ep *endpoint, nc net.Conn) *Conn {
	ctx, cancel := context.WithCancel(context.Background())
	c := &Conn{
		id:      connIDs.Add(1),
		nc:      nc,
		ep:      ep,
		ctx:     ctx,
		cancel:  cancel,
		pending: make(map[int32]*call),
		done:    make(chan struct{}),
	}
	c.wcond.L = &c.wmu
	c.touch()
	if ep.idle > 0 {
		c.idleTimer = time.AfterFunc(ep.idle, c.checkIdle)
	}
	return c
}

// start runs the read loop. finished runs after the connection has closed and every close
// hook has run.
func (c *Conn) start(finished func()) {
	c.ep.wg.Add(1)
	go func() {
		defer c.ep.wg.Done()
		c.readLoop()
		c.close(ErrConnClosed) // no-op when already closed
		c.failPending()
		c.ep.hookMu.RLock()
		hooks := append([]func(*Conn){}, c.ep.onClose...)
		c.ep.hookMu.RUnlock()
		for _, h := range hooks {
			h(c)
		}
		if finished != nil {
			finished()
		}
	}()
}

// ID is a process-unique connection number, for logs and maps.
func (c *Conn) ID() uint64 { return c.id }

// RemoteAddr is the peer's address.
func (c *Conn) RemoteAddr() net.Addr { return c.nc.RemoteAddr() }

// LocalAddr is our address.
func (c *Conn) LocalAddr() net.Addr { return c.nc.LocalAddr() }

// Done is closed when the connection has closed.
func (c *Conn) Done() <-chan struct{} { return c.done }

// Err reports why the connection closed (ErrConnClosed for a normal close or end of
// stream, ErrIdleTimeout, a frame decoding error, a write error), or nil while it is open.
func (c *Conn) Err() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.err
}

// SetValue attaches a value to the connection (for example the client identity a broker
// learns from a heartbeat). Value returns it.
func (c *Conn) SetValue(key, value any) { c.values.Store(key, value) }

// Value returns a value attached with SetValue.
func (c *Conn) Value(key any) (any, bool) { return c.values.Load(key) }

// Close closes the connection. Frames already queued by returned writes are written first
// (waiting at most closeDrainTimeout for a peer that does not read). Outstanding calls
// fail with ErrConnClosed, handler contexts are cancelled, and close hooks run
// (asynchronously, from the connection's goroutine).
func (c *Conn) Close() error {
	ctx, cancel := context.WithTimeout(context.Background(), closeDrainTimeout)
	defer cancel()
	c.drainWrites(ctx)
	c.close(ErrConnClosed)
	return nil
}

// closeDrainTimeout bounds how long a local close waits for queued frames to be written.
const closeDrainTimeout = time.Second

func (c *Conn) close(reason error) {
	c.closeOnce.Do(func() {
		c.mu.Lock()
		c.err = reason
		c.mu.Unlock()
		if c.idleTimer != nil {
			c.idleTimer.Stop()
		}
		// done first, so a handler woken by the cancellation can no longer write.
		close(c.done)
		c.wmu.Lock()
		c.wclosed = true
		c.wq.release() // frames not yet written are dropped; their calls fail below
		c.wcond.Broadcast()
		c.wmu.Unlock()
		_ = c.nc.Close()
		c.cancel()
	})
}

func (c *Conn) touch() { c.lastActive.Store(time.Now().UnixNano()) }

// checkIdle closes the connection when nothing was read or written for the idle timeout,
// and re-arms itself otherwise.
func (c *Conn) checkIdle() {
	select {
	case <-c.done:
		return // a timer re-armed while closing
	default:
	}
	idleFor := time.Since(time.Unix(0, c.lastActive.Load()))
	if idleFor >= c.ep.idle {
		c.ep.log.Info("remoting: closing idle connection", "role", c.ep.role, "conn", c.id,
			"remote", c.RemoteAddr().String(), "idle", idleFor.Round(time.Millisecond).String())
		c.close(ErrIdleTimeout)
		return
	}
	select {
	case <-c.done:
	default:
		c.idleTimer.Reset(c.ep.idle - idleFor)
	}
}

func (c *Conn) readLoop() {
	fr := protocol.NewFrameReader(bufio.NewReaderSize(c.nc, 32<<10), c.ep.maxFrame)
	for {
		cmd, err := fr.ReadCommand()
		if err != nil {
			c.readFailed(err)
			return
		}
		c.touch()
		if cmd.IsResponse() {
			c.deliver(cmd)
			continue
		}
		c.dispatch(cmd)
	}
}

func (c *Conn) readFailed(err error) {
	select {
	case <-c.done:
		return // closed locally; the reason is already recorded
	default:
	}
	switch {
	case errors.Is(err, io.EOF):
		c.ep.log.Debug("remoting: connection closed by peer", "role", c.ep.role, "conn", c.id, "remote", c.RemoteAddr().String())
		c.close(ErrConnClosed)
	case isFrameError(err):
		c.ep.log.Warn("remoting: closing connection on bad frame", "role", c.ep.role, "conn", c.id,
			"remote", c.RemoteAddr().String(), "err", err)
		c.close(fmt.Errorf("remoting: bad frame from %s: %w", c.RemoteAddr(), err))
	default:
		c.ep.log.Debug("remoting: connection read failed", "role", c.ep.role, "conn", c.id,
			"remote", c.RemoteAddr().String(), "err", err)
		c.close(fmt.Errorf("remoting: read from %s: %w", c.RemoteAddr(), err))
	}
}

func isFrameError(err error) bool {
	for _, k := range []error{protocol.ErrFrameTooLarge, protocol.ErrFrameTooSmall, protocol.ErrHeaderLength,
		protocol.ErrSerializeType, protocol.ErrMalformedHeader, io.ErrUnexpectedEOF} {
		if errors.Is(err, k) {
			return true
		}
	}
	return false
}

// deliver hands a response to the call waiting for its opaque.
func (c *Conn) deliver(resp *protocol.RemotingCommand) {
	c.mu.Lock()
	cl, ok := c.pending[resp.Opaque]
	if ok {
		delete(c.pending, resp.Opaque)
		c.inflight.Add(-1)
	}
	c.mu.Unlock()
	if !ok {
		c.ep.log.Debug("remoting: dropping response with unknown opaque", "role", c.ep.role, "conn", c.id,
			"opaque", resp.Opaque, "code", resp.Code)
		return
	}
	if cl.ch != nil {
		cl.ch <- resp
		return
	}
	if !cl.claim() {
		return // the timeout fired first and reported the error
	}
	cl.stop()
	c.runCallback(cl, resp, nil)
}

func (c *Conn) runCallback(cl *call, resp *protocol.RemotingCommand, err error) {
	c.ep.run(task{cb: cl.cb, resp: resp, err: err})
}

// dispatch runs the handler for a request on a goroutine of its own (see workers.go), within
// the endpoint's concurrency limit. Over the limit the request is answered SYSTEM_BUSY at
// once (the read loop never blocks on a handler, so responses on this connection keep
// flowing).
func (c *Conn) dispatch(cmd *protocol.RemotingCommand) {
	req := &Request{Cmd: cmd, Conn: c}
	if !cmd.IsOneway() {
		c.inflight.Add(1) // until Reply
	}
	select {
	case c.ep.sem <- struct{}{}:
	default:
		c.ep.log.Warn("remoting: rejecting request over the concurrency limit", "role", c.ep.role, "conn", c.id,
			"code", cmd.Code, "limit", cap(c.ep.sem))
		_ = req.Reply(protocol.NewResponse(protocol.RespSystemBusy, "[OVERLOAD]system busy, start flow control for a while"))
		return
	}
	c.ep.run(task{req: req})
}

func (c *Conn) serve(req *Request) {
	h := c.ep.mux.Handler(req.Cmd.Code)
	resp, err := c.callHandler(h, req)
	switch {
	case errors.Is(err, ErrReplyLater):
		return
	case err != nil:
		var re *protocol.ResponseError
		if errors.As(err, &re) {
			resp = protocol.NewResponse(re.Code, re.Remark)
		} else {
			c.ep.log.Warn("remoting: handler failed", "role", c.ep.role, "conn", c.id,
				"code", req.Cmd.Code, "opaque", req.Cmd.Opaque, "err", err)
			resp = protocol.NewResponse(protocol.RespSystemError, err.Error())
		}
	case resp == nil:
		if req.Cmd.IsOneway() || req.Replied() {
			return
		}
		c.ep.log.Error("remoting: handler returned no response", "role", c.ep.role, "code", req.Cmd.Code)
		resp = protocol.NewResponse(protocol.RespSystemError, fmt.Sprintf("handler for request code %d returned no response", req.Cmd.Code))
	}
	if err := req.Reply(resp); err != nil && !errors.Is(err, ErrConnClosed) {
		c.ep.log.Warn("remoting: reply failed", "role", c.ep.role, "conn", c.id, "code", req.Cmd.Code, "err", err)
	}
}

// callHandler runs h, turning a panic into a SYSTEM_ERROR so one bad request cannot take
// the process down.
func (c *Conn) callHandler(h Handler, req *Request) (resp *protocol.RemotingCommand, err error) {
	defer func() {
		if p := recover(); p != nil {
			c.ep.log.Error("remoting: handler panicked", "role", c.ep.role, "code", req.Cmd.Code,
				"panic", fmt.Sprint(p), "stack", string(debug.Stack()))
			resp, err = nil, fmt.Errorf("remoting: handler for code %d panicked: %v", req.Cmd.Code, p)
		}
	}()
	return h.ServeRemoting(c.ctx, req)
}

// Write coalescing. A writer encodes its frame header outside any lock, then appends it and
// the body to the connection's pending buffer under wmu. If no flush is in progress it becomes the flusher:
// it takes the whole pending buffer, writes it with one syscall (one write deadline per
// flush), and repeats while more frames arrived meanwhile. Writers that find a flush in
// progress return as soon as their frame is queued: the flusher writes it with the next
// batch. Frames are never interleaved (each is appended whole), and a goroutine's frames are
// written in the order it queued them.
//
// A write error closes the connection; frames still queued are dropped and the calls
// waiting for their responses fail with ErrConnClosed (as every outstanding call does on
// close). The writer whose own frame was in the failed write gets the write error.
//
// Pending bytes are bounded (maxPendingWrite): a writer that would exceed the bound waits
// until the flusher takes the buffer. A frame whose body is at least directWriteMin bytes is
// not copied: its writer waits to own the socket and writes the pending frames, its prefix
// and its body with one writev, then returns, so the caller may reuse the body at once.
const (
	maxPendingWrite = 4 << 20
	directWriteMin  = 64 << 10
	// maxPooledFrame: encoding scratch buffers at most this large go back to the pool.
	maxPooledFrame = 64 << 10
)

var frameBufs = sync.Pool{New: func() any { b := make([]byte, 0, 2048); return &b }}

// write queues one frame for writing (see above); a failed write closes the connection.
func (c *Conn) write(cmd *protocol.RemotingCommand) error { return c.writeFrame(cmd, true) }

// Flush writes the frames queued by Request.ReplyDeferred, unless a write is already in
// progress (its writer takes them). It returns the error of the write it made, if any.
func (c *Conn) Flush() error {
	c.wmu.Lock()
	if c.wflushing || c.wq.n == 0 || c.wclosed {
		c.wmu.Unlock()
		return nil
	}
	c.wflushing = true
	return c.flushLocked()
}

// FlushAsync is Flush without waiting: when a write is needed it runs on a new goroutine, so
// the caller never blocks on the socket (a client that stops reading its responses cannot hold
// up the goroutine that answers many connections, e.g. the replication ack reader).
func (c *Conn) FlushAsync() {
	c.wmu.Lock()
	if c.wflushing || c.wq.n == 0 || c.wclosed {
		c.wmu.Unlock()
		return
	}
	c.wflushing = true
	c.wmu.Unlock()
	go func() {
		c.wmu.Lock()
		_ = c.flushLocked() // a failed write closes the connection and fails its calls
	}()
}

// writeFrame queues one frame; with flush it also writes it when no write is in progress.
// Without flush the frame waits for the next writer or Flush (bodies of directWriteMin bytes
// or more are always written at once).
func (c *Conn) writeFrame(cmd *protocol.RemotingCommand, flush bool) error {
	bp := frameBufs.Get().(*[]byte)
	defer func() {
		if cap(*bp) <= maxPooledFrame {
			frameBufs.Put(bp)
		}
	}()
	prefix, err := cmd.AppendFramePrefix((*bp)[:0], c.ep.st)
	if err != nil {
		return fmt.Errorf("remoting: encode %s: %w", cmd, err)
	}
	*bp = prefix

	c.wmu.Lock()
	if len(cmd.Body) >= directWriteMin {
		// Own the socket, then write what is pending, the prefix and the body at once.
		for c.wflushing && !c.wclosed {
			c.waitWriteLocked()
		}
		if c.wclosed {
			c.wmu.Unlock()
			return ErrConnClosed
		}
		c.wflushing = true
		pending := c.takePendingLocked()
		c.wmu.Unlock()
		err := c.writeOut(append(pending.appendTo(c.wiov[:0]), prefix, cmd.Body))
		c.wmu.Lock()
		c.recycleLocked(pending)
		if err != nil {
			return c.flushFailedLocked(err)
		}
		_ = c.flushLocked()
		return nil
	}
	size := len(prefix) + len(cmd.Body)
	for c.wq.n > 0 && c.wq.n+size > maxPendingWrite && !c.wclosed {
		c.waitWriteLocked()
	}
	if c.wclosed {
		c.wmu.Unlock()
		return ErrConnClosed
	}
	c.wq.append(prefix)
	c.wq.append(cmd.Body)
	if c.wflushing || !flush {
		c.wmu.Unlock()
		return nil
	}
	c.wflushing = true
	return c.flushLocked()
}

// waitWriteLocked waits on wcond (wmu held).
func (c *Conn) waitWriteLocked() {
	c.wwaiters++
	c.wcond.Wait()
	c.wwaiters--
}

// takePendingLocked hands the pending frames to the flusher and installs the spare queue.
func (c *Conn) takePendingLocked() pendingWrites {
	out := c.wq
	c.wq, c.wspare = c.wspare, pendingWrites{}
	if c.wwaiters > 0 {
		c.wcond.Broadcast() // room for writers held back by maxPendingWrite
	}
	return out
}

// recycleLocked returns the chunks of a written queue to the pool and keeps the queue as
// the spare.
func (c *Conn) recycleLocked(q pendingWrites) {
	q.release()
	if !c.wclosed {
		c.wspare = q
	}
}

// flushLocked is the flusher's loop. Called with wmu held and wflushing set by the caller;
// it writes pending frames until none are left, clears wflushing and returns with wmu
// released. It returns the error of the first write, which carried the caller's frame.
func (c *Conn) flushLocked() error {
	// With other requests in flight on this connection, more frames are likely to follow
	// at once: let the goroutines that are ready to run queue theirs first, so that one
	// write carries them all (on few cores they run on this P after us, and would otherwise
	// find the socket free one after another and write one frame each). A lone writer does
	// not yield.
	if c.yieldBeforeFlush() {
		c.wmu.Unlock()
		runtime.Gosched()
		c.wmu.Lock()
	}
	first := true // the first write carries the caller's frame
	for c.wq.n > 0 && !c.wclosed {
		out := c.takePendingLocked()
		c.wmu.Unlock()
		err := c.writeOut(out.appendTo(c.wiov[:0]))
		c.wmu.Lock()
		c.recycleLocked(out)
		if err != nil {
			err = c.flushFailedLocked(err)
			if !first {
				// The caller's frame was written; the frames of this write fail through the
				// close (their calls get ErrConnClosed).
				return nil
			}
			return err
		}
		first = false
	}
	closed := c.wclosed
	c.wflushing = false
	if c.wwaiters > 0 {
		c.wcond.Broadcast()
	}
	c.wmu.Unlock()
	if closed && first {
		return ErrConnClosed
	}
	return nil
}

// yieldBeforeFlush reports whether other writes are likely to follow at once: other
// requests are outstanding on this connection in either direction (calls waiting for their
// responses, or requests whose handlers have not answered yet).
func (c *Conn) yieldBeforeFlush() bool {
	return c.inflight.Load() > 1
}

// flushFailedLocked ends a flush whose write failed: it releases the socket and wmu, closes
// the connection, and returns the error for the flusher.
func (c *Conn) flushFailedLocked(err error) error {
	c.wflushing = false
	c.wcond.Broadcast()
	c.wmu.Unlock()
	select {
	case <-c.done:
		return ErrConnClosed // closed locally while writing
	default:
	}
	werr := fmt.Errorf("remoting: write to %s: %w", c.RemoteAddr(), err)
	c.ep.log.Debug("remoting: write failed, closing connection", "role", c.ep.role, "conn", c.id, "err", err)
	c.close(werr)
	return werr
}

// writeOut writes the non-empty slices of bufs with one syscall where the connection
// supports it (writev), under one write deadline. Only the flusher calls it.
func (c *Conn) writeOut(bufs net.Buffers) error {
	n := 0
	for _, b := range bufs {
		if len(b) > 0 {
			bufs[n] = b
			n++
		}
	}
	bufs = bufs[:n]
	if n == 0 {
		return nil
	}
	if c.ep.writeTimeout > 0 {
		_ = c.nc.SetWriteDeadline(time.Now().Add(c.ep.writeTimeout))
	}
	var err error
	if n == 1 {
		_, err = c.nc.Write(bufs[0])
	} else {
		iov := bufs // WriteTo consumes its receiver
		_, err = iov.WriteTo(c.nc)
	}
	clear(bufs)       // keep no reference to written chunks or bodies
	c.wiov = bufs[:0] // the flusher's vector, reused by the next flush
	if err == nil {
		c.touch()
	}
	return err
}

// drainWrites waits until every queued frame has been written (or the connection closed,
// or ctx ended).
func (c *Conn) drainWrites(ctx context.Context) {
	stop := context.AfterFunc(ctx, func() {
		c.wmu.Lock()
		c.wcond.Broadcast()
		c.wmu.Unlock()
	})
	defer stop()
	c.wmu.Lock()
	defer c.wmu.Unlock()
	for (c.wflushing || c.wq.n > 0) && !c.wclosed && ctx.Err() == nil {
		if !c.wflushing {
			// Frames queued without a write (ReplyDeferred): write them now.
			c.wflushing = true
			_ = c.flushLocked()
			c.wmu.Lock()
			continue
		}
		c.waitWriteLocked()
	}
}

func (c *Conn) failPending() {
	c.mu.Lock()
	pending := c.pending
	c.pending = make(map[int32]*call)
	c.inflight.Add(-int32(len(pending)))
	c.mu.Unlock()
	for _, cl := range pending {
		if cl.ch != nil {
			close(cl.ch)
			continue
		}
		if cl.claim() {
			cl.stop()
			c.runCallback(cl, nil, ErrConnClosed)
		}
	}
}

// prepare assigns an opaque and registers a pending call. For an async call it also arms
// the timeout and the watch of ctx (under c.mu, so delivery and close always see a complete
// call).
func (c *Conn) prepare(ctx context.Context, cmd *protocol.RemotingCommand, cl *call, timeout time.Duration) error {
	cmd.Opaque = c.ep.opaque.Add(1)
	cmd.Flag &^= protocol.FlagResponse | protocol.FlagOneway
	opaque := cmd.Opaque
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.err != nil {
		return ErrConnClosed
	}
	if cl.cb != nil {
		fail := func(err error) {
			if cl.claim() {
				c.forget(opaque)
				cl.stop()
				cl.cb(nil, c.callError(cmd, opaque, err))
			}
		}
		if timeout > 0 {
			cl.timer = time.AfterFunc(timeout, func() { fail(context.DeadlineExceeded) })
		}
		if ctx.Done() != nil {
			cl.ctxStop = context.AfterFunc(ctx, func() { fail(ctx.Err()) })
		}
	}
	c.pending[opaque] = cl
	c.inflight.Add(1)
	return nil
}

func (c *Conn) callError(cmd *protocol.RemotingCommand, opaque int32, err error) error {
	return fmt.Errorf("remoting: %s to %s (opaque %d): %w", protocol.RequestCodeName(cmd.Code), c.RemoteAddr(), opaque, err)
}

func (c *Conn) forget(opaque int32) {
	c.mu.Lock()
	if _, ok := c.pending[opaque]; ok {
		delete(c.pending, opaque)
		c.inflight.Add(-1)
	}
	c.mu.Unlock()
}

// callTimeout is the timeout that applies besides ctx: timeout, unless ctx ends sooner
// anyway (then 0: none).
func callTimeout(ctx context.Context, timeout time.Duration) time.Duration {
	if timeout <= 0 {
		return 0
	}
	if dl, ok := ctx.Deadline(); ok && time.Until(dl) <= timeout {
		return 0
	}
	return timeout
}

// defaultTimeout is the endpoint's request timeout when ctx has no deadline, else 0.
func (c *Conn) defaultTimeout(ctx context.Context) time.Duration {
	if _, ok := ctx.Deadline(); ok {
		return 0
	}
	return c.ep.reqTimeout
}

var timers = sync.Pool{New: func() any {
	t := time.NewTimer(time.Hour)
	t.Stop()
	return t
}}

// Invoke sends cmd as a request on this connection and waits for the response or ctx. It
// sets cmd.Opaque (from this endpoint's own counter) and clears the response and oneway
// flags. Without a ctx deadline the endpoint's request timeout applies. A response with an
// error code is returned as a response, not an error (see protocol.RemotingCommand.Err).
func (c *Conn) Invoke(ctx context.Context, cmd *protocol.RemotingCommand) (*protocol.RemotingCommand, error) {
	return c.invoke(ctx, cmd, c.defaultTimeout(ctx))
}

// InvokeTimeout is Invoke bounded by timeout as well as by ctx (whichever ends first; a
// timeout reports an error wrapping context.DeadlineExceeded). It is cheaper than deriving
// a context with a deadline for each call.
func (c *Conn) InvokeTimeout(ctx context.Context, cmd *protocol.RemotingCommand, timeout time.Duration) (*protocol.RemotingCommand, error) {
	return c.invoke(ctx, cmd, callTimeout(ctx, timeout))
}

func (c *Conn) invoke(ctx context.Context, cmd *protocol.RemotingCommand, timeout time.Duration) (*protocol.RemotingCommand, error) {
	cl := &call{ch: make(chan *protocol.RemotingCommand, 1)}
	if err := c.prepare(ctx, cmd, cl, 0); err != nil {
		return nil, err
	}
	if err := c.write(cmd); err != nil {
		c.forget(cmd.Opaque)
		return nil, err
	}
	var expired <-chan time.Time
	if timeout > 0 {
		t := timers.Get().(*time.Timer)
		t.Reset(timeout)
		defer func() {
			t.Stop() // no stale value survives Stop or Reset (Go 1.23 timers)
			timers.Put(t)
		}()
		expired = t.C
	}
	select {
	case resp, ok := <-cl.ch:
		if !ok {
			return nil, ErrConnClosed
		}
		return resp, nil
	case <-ctx.Done():
		c.forget(cmd.Opaque)
		return nil, c.callError(cmd, cmd.Opaque, ctx.Err())
	case <-expired:
		c.forget(cmd.Opaque)
		return nil, c.callError(cmd, cmd.Opaque, context.DeadlineExceeded)
	}
}

// InvokeAsync sends cmd and returns once it is written. cb then runs exactly once, in its
// own goroutine, with the response, or with an error when ctx ends (or the endpoint's
// request timeout passes, when ctx has no deadline) or the connection closes first. When
// InvokeAsync returns an error, cb does not run.
func (c *Conn) InvokeAsync(ctx context.Context, cmd *protocol.RemotingCommand, cb func(*protocol.RemotingCommand, error)) error {
	return c.invokeAsync(ctx, cmd, c.defaultTimeout(ctx), cb)
}

// InvokeAsyncTimeout is InvokeAsync bounded by timeout as well as by ctx.
func (c *Conn) InvokeAsyncTimeout(ctx context.Context, cmd *protocol.RemotingCommand, timeout time.Duration, cb func(*protocol.RemotingCommand, error)) error {
	return c.invokeAsync(ctx, cmd, callTimeout(ctx, timeout), cb)
}

func (c *Conn) invokeAsync(ctx context.Context, cmd *protocol.RemotingCommand, timeout time.Duration, cb func(*protocol.RemotingCommand, error)) error {
	cl := &call{cb: cb}
	if err := c.prepare(ctx, cmd, cl, timeout); err != nil {
		return err
	}
	if err := c.write(cmd); err != nil {
		if cl.claim() {
			c.forget(cmd.Opaque)
			cl.stop()
			return err
		}
		return nil // the timeout or the close already reported to cb
	}
	return nil
}

// InvokeOneway sends cmd with FlagOneway set; the peer never answers it. The write is
// bounded by the endpoint's write timeout; ctx is accepted for symmetry.
func (c *Conn) InvokeOneway(_ context.Context, cmd *protocol.RemotingCommand) error {
	cmd.Opaque = c.ep.opaque.Add(1)
	cmd.Flag = (cmd.Flag &^ protocol.FlagResponse) | protocol.FlagOneway
	return c.write(cmd)
}
