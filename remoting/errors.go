package remoting

import "errors"

// Sentinel errors of package remoting.
var (
	// ErrConnClosed: the connection closed before the operation completed.
	ErrConnClosed = errors.New("remoting: connection closed")
	// ErrServerClosed: the server or client has been closed.
	ErrServerClosed = errors.New("remoting: closed")
	// ErrIdleTimeout: the connection was closed after no traffic in either direction for the
	// idle timeout (the reason reported by Conn.Err).
	ErrIdleTimeout = errors.New("remoting: idle timeout")
	// ErrAlreadyReplied: Request.Reply was called twice.
	ErrAlreadyReplied = errors.New("remoting: request already answered")
	// ErrBusy: the endpoint is at its concurrent-request limit (the peer got SYSTEM_BUSY).
	ErrBusy = errors.New("remoting: too many concurrent requests")
)
