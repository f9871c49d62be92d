package remoting

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
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
	opaque       atomic.Int32  // this endpoint's request ids (server-initiated requests too)

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

	wmu sync.Mutex // serializes frame writes

	mu      sync.Mutex // guards pending, err
	pending map[int32]*call
	err     error // why the connection closed; nil while open

	closeOnce sync.Once
	done      chan struct{}

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
	stop    func() bool // async: releases the timeout
	claimed atomic.Bool
}

func (cl *call) claim() bool { return cl.claimed.CompareAndSwap(false, true) }

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

// Close closes the connection. Outstanding calls fail with ErrConnClosed, handler contexts
// are cancelled, and close hooks run (asynchronously, from the connection's goroutine).
func (c *Conn) Close() error {
	c.close(ErrConnClosed)
	return nil
}

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
	delete(c.pending, resp.Opaque)
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
	c.ep.wg.Add(1)
	go func() {
		defer c.ep.wg.Done()
		cl.cb(resp, err)
	}()
}

// dispatch runs the handler for a request in its own goroutine, within the endpoint's
// concurrency limit. Over the limit the request is answered SYSTEM_BUSY at once (the read
// loop never blocks on a handler, so responses on this connection keep flowing).
func (c *Conn) dispatch(cmd *protocol.RemotingCommand) {
	req := &Request{Cmd: cmd, Conn: c}
	select {
	case c.ep.sem <- struct{}{}:
	default:
		c.ep.log.Warn("remoting: rejecting request over the concurrency limit", "role", c.ep.role, "conn", c.id,
			"code", cmd.Code, "limit", cap(c.ep.sem))
		_ = req.Reply(protocol.NewResponse(protocol.RespSystemBusy, "[OVERLOAD]system busy, start flow control for a while"))
		return
	}
	c.ep.wg.Add(1)
	go func() {
		defer c.ep.wg.Done()
		defer func() { <-c.ep.sem }()
		c.serve(req)
	}()
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

// write encodes and writes one frame; a failed write closes the connection.
func (c *Conn) write(cmd *protocol.RemotingCommand) error {
	prefix, err := cmd.FramePrefix(c.ep.st)
	if err != nil {
		return fmt.Errorf("remoting: encode %s: %w", cmd, err)
	}
	c.wmu.Lock()
	defer c.wmu.Unlock()
	select {
	case <-c.done:
		return ErrConnClosed
	default:
	}
	if c.ep.writeTimeout > 0 {
		_ = c.nc.SetWriteDeadline(time.Now().Add(c.ep.writeTimeout))
	}
	if len(cmd.Body) == 0 {
		_, err = c.nc.Write(prefix)
	} else {
		bufs := net.Buffers{prefix, cmd.Body}
		_, err = bufs.WriteTo(c.nc)
	}
	if err != nil {
		select {
		case <-c.done:
			return ErrConnClosed
		default:
		}
		c.ep.log.Debug("remoting: write failed, closing connection", "role", c.ep.role, "conn", c.id, "err", err)
		c.close(fmt.Errorf("remoting: write to %s: %w", c.RemoteAddr(), err))
		return fmt.Errorf("remoting: write to %s: %w", c.RemoteAddr(), err)
	}
	c.touch()
	return nil
}

func (c *Conn) failPending() {
	c.mu.Lock()
	pending := c.pending
	c.pending = make(map[int32]*call)
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
// the timeout (under c.mu, so delivery and close always see a complete call).
func (c *Conn) prepare(ctx context.Context, cmd *protocol.RemotingCommand, cl *call) error {
	cmd.Opaque = c.ep.opaque.Add(1)
	cmd.Flag &^= protocol.FlagResponse | protocol.FlagOneway
	opaque := cmd.Opaque
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.err != nil {
		return ErrConnClosed
	}
	if cl.cb != nil {
		cl.stop = context.AfterFunc(ctx, func() {
			if cl.claim() {
				c.forget(opaque)
				cl.cb(nil, fmt.Errorf("remoting: %s to %s (opaque %d): %w", protocol.RequestCodeName(cmd.Code), c.RemoteAddr(), opaque, ctx.Err()))
			}
		})
	}
	c.pending[opaque] = cl
	return nil
}

func (c *Conn) forget(opaque int32) {
	c.mu.Lock()
	delete(c.pending, opaque)
	c.mu.Unlock()
}

func (c *Conn) withTimeout(ctx context.Context) (context.Context, context.CancelFunc) {
	if _, ok := ctx.Deadline(); ok || c.ep.reqTimeout <= 0 {
		return context.WithCancel(ctx)
	}
	return context.WithTimeout(ctx, c.ep.reqTimeout)
}

// Invoke sends cmd as a request on this connection and waits for the response or ctx. It
// sets cmd.Opaque (from this endpoint's own counter) and clears the response and oneway
// flags. Without a ctx deadline the endpoint's request timeout applies. A response with an
// error code is returned as a response, not an error (see protocol.RemotingCommand.Err).
func (c *Conn) Invoke(ctx context.Context, cmd *protocol.RemotingCommand) (*protocol.RemotingCommand, error) {
	ctx, cancel := c.withTimeout(ctx)
	defer cancel()
	cl := &call{ch: make(chan *protocol.RemotingCommand, 1)}
	if err := c.prepare(ctx, cmd, cl); err != nil {
		return nil, err
	}
	if err := c.write(cmd); err != nil {
		c.forget(cmd.Opaque)
		return nil, err
	}
	select {
	case resp, ok := <-cl.ch:
		if !ok {
			return nil, ErrConnClosed
		}
		return resp, nil
	case <-ctx.Done():
		c.forget(cmd.Opaque)
		return nil, fmt.Errorf("remoting: %s to %s (opaque %d): %w", protocol.RequestCodeName(cmd.Code), c.RemoteAddr(), cmd.Opaque, ctx.Err())
	}
}

// InvokeAsync sends cmd and returns once it is written. cb then runs exactly once, in its
// own goroutine, with the response, or with an error when ctx ends (or the endpoint's
// request timeout passes) or the connection closes first. When InvokeAsync returns an
// error, cb does not run.
func (c *Conn) InvokeAsync(ctx context.Context, cmd *protocol.RemotingCommand, cb func(*protocol.RemotingCommand, error)) error {
	ctx, cancel := c.withTimeout(ctx)
	cl := &call{cb: func(r *protocol.RemotingCommand, err error) { cancel(); cb(r, err) }}
	if err := c.prepare(ctx, cmd, cl); err != nil {
		cancel()
		return err
	}
	if err := c.write(cmd); err != nil {
		if cl.claim() {
			c.forget(cmd.Opaque)
			cl.stop()
			cancel()
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
