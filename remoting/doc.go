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
//   - A request is dispatched to its handler in a NEW goroutine, so requests on one
//     connection run concurrently and are answered in any order (rocketmq-client-go
//     multiplexes 20-second long polls, sends and heartbeats on one connection per address).
//     The number of handlers running at once is bounded per Server/Client
//     (MaxConcurrentRequests); a request over the bound is answered SYSTEM_BUSY at once.
//
// Writes are serialized per connection by a mutex around one writev of the encoded frame
// prefix and the body; a failed write closes the connection.
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
// Conn.wmu serializes writes; Conn.mu guards the pending-call table and the close reason;
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
