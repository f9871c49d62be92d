package remoting

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"sync"
	"time"

	"github.com/gorocket/gorocket/remoting/protocol"
)

// ClientOptions configure a Client. The zero value means "all defaults".
type ClientOptions struct {
	// DialTimeout bounds one connection attempt; 0 means DefaultDialTimeout.
	DialTimeout time.Duration
	// Dialer opens connections; nil means TCP (net.Dialer). MemNetwork.Dial plugs in the
	// in-memory transport.
	Dialer func(ctx context.Context, addr string) (net.Conn, error)
	// IdleTimeout closes a connection without traffic for this long (it is redialed on
	// the next call). 0 means DefaultIdleTimeout; negative disables.
	IdleTimeout time.Duration
	// MaxFrameSize is the largest accepted frame; 0 means protocol.DefaultMaxFrameSize.
	MaxFrameSize int
	// RequestTimeout applies to calls whose context has no deadline; 0 means DefaultRequestTimeout.
	RequestTimeout time.Duration
	// WriteTimeout bounds one write of the connection's pending frames; 0 means
	// DefaultWriteTimeout.
	WriteTimeout time.Duration
	// MaxConcurrentRequests bounds handlers of server-initiated requests; 0 means the default.
	MaxConcurrentRequests int
	// SerializeType is the header encoding of frames the client writes (JSON by default).
	SerializeType protocol.SerializeType
}

// Client holds one connection per address, dialed lazily and redialed after it fails or
// closes. Requests are correlated by opaque, so any number of calls (including long
// polls) share one connection. Server-initiated requests arriving on a client connection
// are served by the client's handlers (Handle). A Client is safe for concurrent use.
type Client struct {
	ep     *endpoint
	dial   func(ctx context.Context, addr string) (net.Conn, error)
	dialTO time.Duration

	mu     sync.RWMutex
	conns  map[string]*clientConn
	closed bool
}

type clientConn struct {
	ready chan struct{} // closed when the dial finished
	conn  *Conn
	err   error
}

// NewClient returns a client; logger nil discards logs.
func NewClient(logger *slog.Logger, opts ClientOptions) *Client {
	c := &Client{
		ep: newEndpoint(logger, "client", opts.IdleTimeout, opts.MaxFrameSize, opts.MaxConcurrentRequests,
			opts.WriteTimeout, opts.RequestTimeout, opts.SerializeType),
		dial:   opts.Dialer,
		dialTO: opts.DialTimeout,
		conns:  make(map[string]*clientConn),
	}
	if c.dialTO <= 0 {
		c.dialTO = DefaultDialTimeout
	}
	if c.dial == nil {
		var d net.Dialer
		c.dial = func(ctx context.Context, addr string) (net.Conn, error) { return d.DialContext(ctx, "tcp", addr) }
	}
	return c
}

// Mux returns the registry of handlers for server-initiated requests.
func (c *Client) Mux() *Mux { return c.ep.mux }

// Handle registers h for server-initiated requests with this code.
func (c *Client) Handle(code int32, h Handler) { c.ep.mux.Handle(code, h) }

// HandleFunc registers f for server-initiated requests with this code.
func (c *Client) HandleFunc(code int32, f func(ctx context.Context, req *Request) (*protocol.RemotingCommand, error)) {
	c.ep.mux.HandleFunc(code, f)
}

// OnClose registers fn to run once per client connection after it closes.
func (c *Client) OnClose(fn func(*Conn)) { c.ep.addCloseHook(fn) }

// Conn returns the open connection to addr, dialing it if needed. Concurrent callers
// share one dial.
func (c *Client) Conn(ctx context.Context, addr string) (*Conn, error) {
	// Fast path: an open connection (a read lock: every call of every goroutine comes here).
	c.mu.RLock()
	cc, ok := c.conns[addr]
	closed := c.closed
	c.mu.RUnlock()
	if ok && !closed {
		select {
		case <-cc.ready:
			if cc.err == nil {
				select {
				case <-cc.conn.Done():
				default:
					return cc.conn, nil
				}
			}
		default:
		}
	}
	for {
		c.mu.Lock()
		if c.closed {
			c.mu.Unlock()
			return nil, ErrServerClosed
		}
		cc, ok := c.conns[addr]
		if !ok {
			cc = &clientConn{ready: make(chan struct{})}
			c.conns[addr] = cc
			c.mu.Unlock()
			c.dialInto(ctx, addr, cc)
			if cc.err != nil {
				return nil, cc.err
			}
			return cc.conn, nil
		}
		c.mu.Unlock()
		select {
		case <-cc.ready:
		case <-ctx.Done():
			return nil, fmt.Errorf("remoting: connect %s: %w", addr, ctx.Err())
		}
		if cc.err == nil {
			select {
			case <-cc.conn.Done():
				c.dropConn(addr, cc) // closed but not yet removed: redial
				continue
			default:
				return cc.conn, nil
			}
		}
		// The shared dial failed; that error belongs to its caller. Try our own dial.
		c.dropConn(addr, cc)
	}
}

func (c *Client) dialInto(ctx context.Context, addr string, cc *clientConn) {
	defer close(cc.ready)
	dctx, cancel := context.WithTimeout(ctx, c.dialTO)
	defer cancel()
	nc, err := c.dial(dctx, addr)
	if err != nil {
		cc.err = fmt.Errorf("remoting: connect %s: %w", addr, err)
		c.dropConn(addr, cc)
		return
	}
	conn := newConn(c.ep, nc)
	c.mu.Lock()
	if c.closed {
		c.mu.Unlock()
		_ = nc.Close()
		cc.err = ErrServerClosed
		return
	}
	cc.conn = conn
	c.mu.Unlock()
	c.ep.log.Debug("remoting: connected", "conn", conn.id, "remote", addr)
	conn.start(func() { c.dropConn(addr, cc) })
}

func (c *Client) dropConn(addr string, cc *clientConn) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.conns[addr] == cc {
		delete(c.conns, addr)
	}
}

// Invoke sends cmd to addr and waits for the response (see Conn.Invoke).
func (c *Client) Invoke(ctx context.Context, addr string, cmd *protocol.RemotingCommand) (*protocol.RemotingCommand, error) {
	conn, err := c.Conn(ctx, addr)
	if err != nil {
		return nil, err
	}
	return conn.Invoke(ctx, cmd)
}

// InvokeAsync sends cmd to addr; cb receives the response or error (see Conn.InvokeAsync).
func (c *Client) InvokeAsync(ctx context.Context, addr string, cmd *protocol.RemotingCommand, cb func(*protocol.RemotingCommand, error)) error {
	conn, err := c.Conn(ctx, addr)
	if err != nil {
		return err
	}
	return conn.InvokeAsync(ctx, cmd, cb)
}

// InvokeTimeout sends cmd to addr and waits for the response, ctx or timeout, whichever
// comes first (see Conn.InvokeTimeout).
func (c *Client) InvokeTimeout(ctx context.Context, addr string, cmd *protocol.RemotingCommand, timeout time.Duration) (*protocol.RemotingCommand, error) {
	conn, err := c.Conn(ctx, addr)
	if err != nil {
		return nil, err
	}
	return conn.InvokeTimeout(ctx, cmd, timeout)
}

// InvokeAsyncTimeout sends cmd to addr; cb receives the response or error, bounded by ctx
// and timeout (see Conn.InvokeAsyncTimeout).
func (c *Client) InvokeAsyncTimeout(ctx context.Context, addr string, cmd *protocol.RemotingCommand, timeout time.Duration, cb func(*protocol.RemotingCommand, error)) error {
	conn, err := c.Conn(ctx, addr)
	if err != nil {
		return err
	}
	return conn.InvokeAsyncTimeout(ctx, cmd, timeout, cb)
}

// InvokeOneway sends cmd to addr with the oneway flag; nothing is answered.
func (c *Client) InvokeOneway(ctx context.Context, addr string, cmd *protocol.RemotingCommand) error {
	conn, err := c.Conn(ctx, addr)
	if err != nil {
		return err
	}
	return conn.InvokeOneway(ctx, cmd)
}

// CloseConn closes the connection to addr, if any; the next call redials.
func (c *Client) CloseConn(addr string) {
	c.mu.Lock()
	cc := c.conns[addr]
	delete(c.conns, addr)
	c.mu.Unlock()
	if cc != nil {
		<-cc.ready
		if cc.conn != nil {
			_ = cc.conn.Close()
		}
	}
}

// Close closes every connection and waits for the client's goroutines to finish.
func (c *Client) Close() error {
	c.mu.Lock()
	c.closed = true
	conns := c.conns
	c.conns = make(map[string]*clientConn)
	c.mu.Unlock()
	// Frames queued by writes that returned are written first (bounded in total).
	ctx, cancel := context.WithTimeout(context.Background(), closeDrainTimeout)
	defer cancel()
	for _, cc := range conns {
		<-cc.ready
		if cc.conn != nil {
			cc.conn.drainWrites(ctx)
			cc.conn.close(ErrServerClosed)
		}
	}
	c.ep.stopWorkers()
	c.ep.wg.Wait()
	return nil
}
