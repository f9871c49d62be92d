package remoting

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"net"
	"sync"
	"time"

	"github.com/gorocket/gorocket/remoting/protocol"
)

// Defaults of ServerOptions and ClientOptions.
const (
	// DefaultIdleTimeout closes connections with no traffic in either direction, as Java's
	// serverChannelMaxIdleTimeSeconds (120 s).
	DefaultIdleTimeout = 120 * time.Second
	// DefaultMaxConcurrentRequests bounds the handlers running at once per Server or
	// Client. Handlers that hold requests (long polling) should return ErrReplyLater so
	// they do not occupy a slot.
	DefaultMaxConcurrentRequests = 4096
	// DefaultWriteTimeout bounds one write of a connection's pending frames.
	DefaultWriteTimeout = 30 * time.Second
	// DefaultRequestTimeout applies to Invoke/InvokeAsync calls whose context has no deadline.
	DefaultRequestTimeout = 3 * time.Second
	// DefaultDialTimeout bounds a client's connection attempt.
	DefaultDialTimeout = 3 * time.Second
)

// ServerOptions configure a Server. The zero value means "all defaults".
type ServerOptions struct {
	// IdleTimeout closes a connection without reads or writes for this long. 0 means
	// DefaultIdleTimeout; a negative value disables idle closing.
	IdleTimeout time.Duration
	// MaxFrameSize is the largest accepted frame; 0 means protocol.DefaultMaxFrameSize.
	MaxFrameSize int
	// MaxConcurrentRequests bounds concurrently running handlers; requests beyond it are
	// answered SYSTEM_BUSY. 0 means DefaultMaxConcurrentRequests.
	MaxConcurrentRequests int
	// WriteTimeout bounds one write of the connection's pending frames; 0 means
	// DefaultWriteTimeout.
	WriteTimeout time.Duration
	// RequestTimeout applies to server-initiated Invoke calls without a deadline; 0 means
	// DefaultRequestTimeout.
	RequestTimeout time.Duration
	// SerializeType is the header encoding of frames the server writes (JSON by default;
	// incoming frames may use either).
	SerializeType protocol.SerializeType
}

func newEndpoint(logger *slog.Logger, role string, idle time.Duration, maxFrame, maxReq int,
	writeTimeout, reqTimeout time.Duration, st protocol.SerializeType) *endpoint {
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	if idle == 0 {
		idle = DefaultIdleTimeout
	}
	if idle < 0 {
		idle = 0
	}
	if maxFrame <= 0 {
		maxFrame = protocol.DefaultMaxFrameSize
	}
	if maxReq <= 0 {
		maxReq = DefaultMaxConcurrentRequests
	}
	if writeTimeout <= 0 {
		writeTimeout = DefaultWriteTimeout
	}
	if reqTimeout <= 0 {
		reqTimeout = DefaultRequestTimeout
	}
	return &endpoint{
		log: logger, role: role, mux: NewMux(), st: st, maxFrame: maxFrame, idle: idle,
		writeTimeout: writeTimeout, reqTimeout: reqTimeout, sem: make(chan struct{}, maxReq),
		stopWork: make(chan struct{}),
	}
}

// Server accepts connections and serves requests on them (see the package documentation
// for the concurrency model).
type Server struct {
	ep *endpoint

	mu        sync.Mutex
	listeners map[net.Listener]struct{}
	conns     map[*Conn]struct{}
	onConnect []func(*Conn)
	closed    bool
	acceptWG  sync.WaitGroup
}

// NewServer returns a server; logger nil discards logs.
func NewServer(logger *slog.Logger, opts ServerOptions) *Server {
	return &Server{
		ep: newEndpoint(logger, "server", opts.IdleTimeout, opts.MaxFrameSize, opts.MaxConcurrentRequests,
			opts.WriteTimeout, opts.RequestTimeout, opts.SerializeType),
		listeners: make(map[net.Listener]struct{}),
		conns:     make(map[*Conn]struct{}),
	}
}

// Mux returns the handler registry.
func (s *Server) Mux() *Mux { return s.ep.mux }

// Handle registers h for request code.
func (s *Server) Handle(code int32, h Handler) { s.ep.mux.Handle(code, h) }

// HandleFunc registers f for request code.
func (s *Server) HandleFunc(code int32, f func(ctx context.Context, req *Request) (*protocol.RemotingCommand, error)) {
	s.ep.mux.HandleFunc(code, f)
}

// OnConnect registers fn to run (in the connection's goroutine, before its first read)
// for every accepted connection.
func (s *Server) OnConnect(fn func(*Conn)) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.onConnect = append(s.onConnect, fn)
}

// OnClose registers fn to run once per connection after it has closed, for whatever
// reason (peer close, idle timeout, bad frame, Close). Hooks run in the connection's own
// goroutine, never while a lock of the closer is held, so they may take their own locks.
func (s *Server) OnClose(fn func(*Conn)) { s.ep.addCloseHook(fn) }

// Start begins accepting on l in the background and returns at once. The server owns l
// and closes it on Close.
func (s *Server) Start(l net.Listener) error {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return ErrServerClosed
	}
	s.listeners[l] = struct{}{}
	s.acceptWG.Add(1)
	s.mu.Unlock()
	go s.acceptLoop(l)
	return nil
}

// Serve accepts on l until the server closes; it then returns ErrServerClosed.
func (s *Server) Serve(l net.Listener) error {
	if err := s.Start(l); err != nil {
		return err
	}
	s.acceptWG.Wait()
	return ErrServerClosed
}

// Addrs returns the addresses of the listeners being served.
func (s *Server) Addrs() []net.Addr {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]net.Addr, 0, len(s.listeners))
	for l := range s.listeners {
		out = append(out, l.Addr())
	}
	return out
}

// Conns returns the open connections.
func (s *Server) Conns() []*Conn {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]*Conn, 0, len(s.conns))
	for c := range s.conns {
		out = append(out, c)
	}
	return out
}

func (s *Server) acceptLoop(l net.Listener) {
	defer s.acceptWG.Done()
	var backoff time.Duration
	for {
		nc, err := l.Accept()
		if err != nil {
			s.mu.Lock()
			closed := s.closed
			s.mu.Unlock()
			if closed || errors.Is(err, net.ErrClosed) || errors.Is(err, io.EOF) {
				return
			}
			// Transient accept failures (EMFILE, ECONNABORTED): back off and retry.
			backoff = min(max(2*backoff, 5*time.Millisecond), time.Second)
			s.ep.log.Warn("remoting: accept failed", "addr", l.Addr().String(), "err", err, "retry_in", backoff.String())
			time.Sleep(backoff)
			continue
		}
		backoff = 0
		c := newConn(s.ep, nc)
		s.mu.Lock()
		if s.closed {
			s.mu.Unlock()
			_ = nc.Close()
			return
		}
		s.conns[c] = struct{}{}
		hooks := append([]func(*Conn){}, s.onConnect...)
		s.mu.Unlock()
		s.ep.log.Debug("remoting: connection accepted", "conn", c.id, "remote", nc.RemoteAddr().String())
		for _, h := range hooks {
			h(c)
		}
		c.start(func() {
			s.mu.Lock()
			delete(s.conns, c)
			s.mu.Unlock()
		})
	}
}

// Shutdown stops accepting, waits until no handler is running (or ctx ends), then closes
// every connection and waits for their goroutines, close hooks and handlers to finish.
// Requests held with ErrReplyLater are not waited for: their connections close.
func (s *Server) Shutdown(ctx context.Context) error {
	s.mu.Lock()
	s.closed = true
	for l := range s.listeners {
		_ = l.Close()
	}
	s.mu.Unlock()
	s.acceptWG.Wait()

	tick := time.NewTicker(5 * time.Millisecond)
	defer tick.Stop()
	var err error
wait:
	for len(s.ep.sem) > 0 {
		select {
		case <-ctx.Done():
			err = ctx.Err()
			break wait
		case <-tick.C:
		}
	}
	// Replies queued by finished handlers are written first (bounded in total).
	dctx, cancel := context.WithTimeout(context.Background(), closeDrainTimeout)
	defer cancel()
	for _, c := range s.Conns() {
		c.drainWrites(dctx)
		c.close(ErrServerClosed)
	}
	s.ep.stopWorkers()
	s.ep.wg.Wait()
	return err
}

// Close stops accepting, closes every connection (cancelling handler contexts) and waits
// for the server's goroutines to finish.
func (s *Server) Close() error {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_ = s.Shutdown(ctx)
	return nil
}
