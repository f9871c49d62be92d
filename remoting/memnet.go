package remoting

import (
	"context"
	"fmt"
	"net"
	"strconv"
	"sync"
	"sync/atomic"
)

// MemNetwork is an in-memory transport for tests: Listen returns a net.Listener and Dial
// connects to it through net.Pipe, with no sockets or ports. Plug it into a Server with
// Start(listener) and into a Client with ClientOptions.Dialer = network.Dial.
type MemNetwork struct {
	mu        sync.Mutex
	listeners map[string]*memListener
	next      atomic.Uint64
}

// NewMemNetwork returns an empty in-memory network.
func NewMemNetwork() *MemNetwork { return &MemNetwork{listeners: make(map[string]*memListener)} }

// memAddr is an address on a MemNetwork.
type memAddr string

func (a memAddr) Network() string { return "mem" }
func (a memAddr) String() string  { return string(a) }

// Listen listens on addr ("" picks a fresh "mem-N" address).
func (n *MemNetwork) Listen(addr string) (net.Listener, error) {
	if addr == "" {
		addr = "mem-" + strconv.FormatUint(n.next.Add(1), 10)
	}
	n.mu.Lock()
	defer n.mu.Unlock()
	if _, ok := n.listeners[addr]; ok {
		return nil, fmt.Errorf("remoting: mem listen %s: address in use", addr)
	}
	l := &memListener{net: n, addr: memAddr(addr), conns: make(chan net.Conn), done: make(chan struct{})}
	n.listeners[addr] = l
	return l, nil
}

// Dial connects to a listener of this network.
func (n *MemNetwork) Dial(ctx context.Context, addr string) (net.Conn, error) {
	n.mu.Lock()
	l := n.listeners[addr]
	n.mu.Unlock()
	if l == nil {
		return nil, fmt.Errorf("remoting: mem dial %s: connection refused", addr)
	}
	client, server := net.Pipe()
	local := memAddr("mem-client-" + strconv.FormatUint(n.next.Add(1), 10))
	select {
	case l.conns <- &memConn{Conn: server, local: l.addr, remote: local}:
		return &memConn{Conn: client, local: local, remote: l.addr}, nil
	case <-l.done:
		return nil, fmt.Errorf("remoting: mem dial %s: connection refused", addr)
	case <-ctx.Done():
		return nil, fmt.Errorf("remoting: mem dial %s: %w", addr, ctx.Err())
	}
}

type memListener struct {
	net   *MemNetwork
	addr  memAddr
	conns chan net.Conn
	once  sync.Once
	done  chan struct{}
}

func (l *memListener) Accept() (net.Conn, error) {
	select {
	case c := <-l.conns:
		return c, nil
	case <-l.done:
		return nil, net.ErrClosed
	}
}

func (l *memListener) Close() error {
	l.once.Do(func() {
		close(l.done)
		l.net.mu.Lock()
		delete(l.net.listeners, string(l.addr))
		l.net.mu.Unlock()
	})
	return nil
}

func (l *memListener) Addr() net.Addr { return l.addr }

// memConn gives a pipe end meaningful addresses.
type memConn struct {
	net.Conn
	local, remote memAddr
}

func (c *memConn) LocalAddr() net.Addr  { return c.local }
func (c *memConn) RemoteAddr() net.Addr { return c.remote }
