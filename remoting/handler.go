package remoting

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"

	"github.com/gorocket/gorocket/remoting/protocol"
)

// Handler serves one request. It runs in its own goroutine, so it may block (for example
// to hold a long-polling pull); ctx is cancelled when the connection or the server closes.
//
// The return value decides the answer:
//   - (resp, nil): resp is sent as the response (opaque and response flag are set for you).
//   - (nil, err): an error response is sent: the code and remark of a
//     *protocol.ResponseError, or SYSTEM_ERROR with err's text for any other error.
//   - (nil, ErrReplyLater): nothing is sent now. The handler has kept req and will call
//     req.Reply later from any goroutine (asynchronous long polling without a parked
//     goroutine). It must watch req.Conn.Done() to drop requests whose connection closed.
//   - (nil, nil): allowed only for oneway requests; for others it is a handler bug and the
//     peer gets SYSTEM_ERROR so it does not wait for a timeout.
//
// Oneway requests (FlagOneway) are never answered, whatever the handler returns.
type Handler interface {
	ServeRemoting(ctx context.Context, req *Request) (*protocol.RemotingCommand, error)
}

// HandlerFunc adapts a function to Handler.
type HandlerFunc func(ctx context.Context, req *Request) (*protocol.RemotingCommand, error)

// ServeRemoting calls f.
func (f HandlerFunc) ServeRemoting(ctx context.Context, req *Request) (*protocol.RemotingCommand, error) {
	return f(ctx, req)
}

// ErrReplyLater is returned by a handler that will answer later through Request.Reply.
var ErrReplyLater = errors.New("remoting: handler will reply later")

// Request is one incoming request.
type Request struct {
	// Cmd is the decoded request frame.
	Cmd *protocol.RemotingCommand
	// Conn is the connection the request arrived on; server-initiated requests to the peer
	// (Conn.Invoke) and the peer address come from here.
	Conn *Conn

	replied atomic.Bool
}

// Reply sends resp as the answer to this request: it sets resp's opaque and response flag
// and writes it on the request's connection. For oneway requests it sends nothing. A
// request is answered at most once: later calls return ErrAlreadyReplied. It is safe to
// call from any goroutine.
func (r *Request) Reply(resp *protocol.RemotingCommand) error { return r.reply(resp, true) }

// ReplyDeferred is Reply without the write: the response is queued on r.Conn and goes out
// with the connection's next write or its Flush/FlushAsync, which the caller must then call.
// A goroutine that answers many requests in a row (the replies one slave acknowledgement
// releases) queues them all and flushes each connection once: one write instead of one per
// reply.
func (r *Request) ReplyDeferred(resp *protocol.RemotingCommand) error { return r.reply(resp, false) }

func (r *Request) reply(resp *protocol.RemotingCommand, flush bool) error {
	if !r.replied.CompareAndSwap(false, true) {
		return ErrAlreadyReplied
	}
	if r.Cmd.IsOneway() {
		return nil
	}
	defer r.Conn.inflight.Add(-1)
	if resp == nil {
		return fmt.Errorf("remoting: reply to %s: nil response", protocol.RequestCodeName(r.Cmd.Code))
	}
	resp.ResponseTo(r.Cmd)
	return r.Conn.writeFrame(resp, flush)
}

// Replied reports whether Reply has been called.
func (r *Request) Replied() bool { return r.replied.Load() }

// Mux routes requests to handlers by request code. Codes without a handler go to the
// default handler, which answers REQUEST_CODE_NOT_SUPPORTED with Java's remark
// (" request type N not supported") unless replaced with HandleDefault.
// A Mux is safe for concurrent use; handlers may be registered while serving.
type Mux struct {
	mu       sync.RWMutex
	handlers map[int32]Handler
	fallback Handler
}

// NewMux returns an empty Mux.
func NewMux() *Mux { return &Mux{handlers: make(map[int32]Handler)} }

// Handle registers h for code, replacing any previous handler.
func (m *Mux) Handle(code int32, h Handler) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.handlers[code] = h
}

// HandleFunc registers f for code.
func (m *Mux) HandleFunc(code int32, f func(ctx context.Context, req *Request) (*protocol.RemotingCommand, error)) {
	m.Handle(code, HandlerFunc(f))
}

// HandleDefault sets the handler for codes without a registered handler.
func (m *Mux) HandleDefault(h Handler) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.fallback = h
}

// Handler returns the handler for code (the default handler when none is registered).
func (m *Mux) Handler(code int32) Handler {
	m.mu.RLock()
	defer m.mu.RUnlock()
	if h, ok := m.handlers[code]; ok {
		return h
	}
	if m.fallback != nil {
		return m.fallback
	}
	return notSupported
}

// notSupported answers REQUEST_CODE_NOT_SUPPORTED like Java's NettyRemotingAbstract.
var notSupported = HandlerFunc(func(_ context.Context, req *Request) (*protocol.RemotingCommand, error) {
	return protocol.NewResponse(protocol.RespRequestCodeNotSupported,
		fmt.Sprintf(" request type %d not supported", req.Cmd.Code)), nil
})
