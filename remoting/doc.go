// Package remoting is gorocket's RocketMQ remoting transport: a TCP server and client that
// speak the frames of package protocol, with a handler registry keyed by request code,
// server-initiated requests, and an in-memory transport for tests.
//
// # Concurrency model
//
// Every connection (accepted by a Server or dialed by a Client; both are a *Conn) has one
// read goroutine. It decodes frames and never blocks on application code:
//
//   - A response is handed to the call waiting for its opaque (a sync Invoke, or an async
//     callback run in a new goroutine). Unknown opaques are dropped.
//   - A request is dispatched to its handler on a goroutine of its own, so requests on one
//     connection run concurrently and are answered in any order (rocketmq-client-go
//     multiplexes 20-second long polls, sends and heartbeats on one connection per address).
//     The number of handlers running at once is bounded per Server/Client
//     (MaxConcurrentRequests); a request over the bound is answered SYSTEM_BUSY at once.
//     Handler goroutines (and those running async callbacks) are reused: one that finished
//     waits up to 2 s for the next task, keeping the stack it grew (workers.go).
//
// # Writes
//
// Writes are coalesced per connection. A writer encodes its frame, appends it to the
// connection's pending buffer under a short mutex and, if no write is in progress, becomes
// the flusher: it writes everything pending with one syscall (one write deadline per write)
// and repeats while frames keep arriving. Writers that find a flush in progress return at
// once; their frames go out with the flusher's next write. When other requests are in
// flight on the connection, the flusher first yields (runtime.Gosched) so that goroutines
// ready to run queue their frames into the same write. Frames are never interleaved, and a
// goroutine's frames keep their order. Pending bytes are bounded (4 MiB): a writer past the
// bound waits for the flusher. A frame with a body of 64 KiB or more is not copied: its
// writer waits for the socket and writes the pending frames, its header and its body with
// one writev. A write returns once its frame is queued (or written), so callers may reuse
// the body at once.
//
// A failed write closes the connection: frames still queued are dropped, and the calls
// waiting for their responses fail with ErrConnClosed; the flusher whose own frame failed
// gets the write error. Conn.Close, Client.Close and Server.Shutdown first let queued frames
// go out (waiting at most one second for a peer that does not read).
//
// # Handlers
//
// A Handler returns (*protocol.RemotingCommand, error). Handlers may block (each runs in
// its own goroutine; ctx is cancelled when the connection or server closes). For long
// polling without parking a goroutine — and without occupying a concurrency slot — a handler
// keeps the *Request, returns ErrReplyLater, and later calls req.Reply from any goroutine.
// Returning an error answers with its code (a *protocol.ResponseError) or SYSTEM_ERROR;
// a panic is recovered and answered SYSTEM_ERROR. Oneway requests (flag bit 1, value 2)
// are never answered. Codes without a handler get REQUEST_CODE_NOT_SUPPORTED with Java's
// remark " request type N not supported".
//
//	srv := remoting.NewServer(logger, remoting.ServerOptions{})
//	srv.HandleFunc(protocol.ReqGetRouteInfoByTopic, func(ctx context.Context, req *remoting.Request) (*protocol.RemotingCommand, error) {
//		var h protocol.GetRouteInfoRequestHeader
//		if err := req.Cmd.DecodeHeader(&h); err != nil {
//			return nil, err // SYSTEM_ERROR with the decode error as remark
//		}
//		return protocol.NewResponseWithHeader(protocol.RespSuccess, nil, body), nil
//	})
//	srv.OnClose(func(c *remoting.Conn) { registry.evict(c) })
//	l, _ := net.Listen("tcp", "127.0.0.1:0")
//	srv.Start(l)
//
// # Server-initiated requests
//
// The connection a request arrived on is req.Conn. conn.Invoke / InvokeAsync /
// InvokeOneway send a request to the peer using the server's own opaque counter; the
// response is correlated on that connection (NOTIFY_CONSUMER_IDS_CHANGED,
// CHECK_TRANSACTION_STATE, GET_CONSUMER_RUNNING_INFO). A Client serves such requests with
// its own handler registry (Client.Handle).
//
// # Connection lifecycle
//
// A connection closes on peer close, write error, a frame that does not decode (logged
// with the reason; the server keeps serving other connections), idle timeout (no read or
// write for IdleTimeout, default 120 s), Conn.Close, or Server/Client Close. Closing fails
// outstanding calls with ErrConnClosed, cancels handler contexts, and then runs the
// OnClose hooks once, in the connection's own goroutine — never under the closer's locks,
// so a hook (the nameserver evicting brokers, the broker removing clients) may take its
// own locks. Conn.Err reports the reason.
//
// A Client keeps one connection per address, dialed lazily (concurrent callers share the
// dial) and redialed on the next call after it closes.
//
// # Locks
//
// Conn.wmu guards the pending-write buffer and the flusher flag (never held during a
// syscall); Conn.mu guards the pending-call table and the close reason;
// Server.mu guards listeners and the connection set; Client.mu guards the connection
// table. No lock is held while calling handlers, callbacks or hooks, and no two of these
// locks are ever held at once.
//
// # Testing
//
// MemNetwork is an in-memory transport (net.Pipe) implementing net.Listener and a dialer,
// so servers and clients can be wired without sockets: srv.Start(memnet.Listen("ns")) and
// ClientOptions{Dialer: memnet.Dial}.
package remoting
