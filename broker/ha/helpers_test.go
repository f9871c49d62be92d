package ha

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"sync"
	"testing"
	"time"
)

// testLogger logs to stderr when HA_TEST_LOG is set, and discards (nil logger) otherwise.
func testLogger(t testing.TB, args ...any) *slog.Logger {
	if os.Getenv("HA_TEST_LOG") == "" {
		return nil
	}
	return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug})).
		With("test", t.Name()).With(args...)
}

// waitFor polls cond until it holds or the deadline passes.
func waitFor(t testing.TB, timeout time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %v waiting for %s", timeout, what)
		}
		time.Sleep(2 * time.Millisecond)
	}
}

// fastMasterConfig and fastSlaveConfig shrink the timers so tests exercise heartbeats and housekeeping
// quickly.
func fastMasterConfig() MasterConfig {
	return MasterConfig{
		TransferBatchSize:    4 << 10,
		HeartbeatInterval:    50 * time.Millisecond,
		HousekeepingInterval: 2 * time.Second,
		SlaveTimeout:         2 * time.Second,
		PollInterval:         20 * time.Millisecond,
	}
}

func fastSlaveConfig() SlaveConfig {
	return SlaveConfig{
		HeartbeatInterval:    50 * time.Millisecond,
		HousekeepingInterval: 2 * time.Second,
		ReconnectBackoffMin:  5 * time.Millisecond,
		ReconnectBackoffMax:  50 * time.Millisecond,
	}
}

// faultCtl injects faults into the connections it wraps (the network seam of the package): it can stall
// writes (so acks or frames stop flowing while the connection stays up) and cut a connection after a
// byte budget (so a frame is torn mid-transfer). A zero faultCtl injects nothing.
type faultCtl struct {
	mu       sync.Mutex
	stalled  chan struct{} // non-nil while writes are stalled; closed by unstall
	cutAfter int64         // bytes that may still be written before the connection is cut; 0 = off
	cuts     int           // connections cut so far
	// stallAfter, when stallArmed, is how many more bytes may be written before writes stall.
	stallAfter int64
	stallArmed bool
	conns      []*faultConn
}

type faultConn struct {
	net.Conn
	ctl       *faultCtl
	closeOnce sync.Once
	closed    chan struct{}
}

func (f *faultCtl) wrap(c net.Conn) net.Conn {
	fc := &faultConn{Conn: c, ctl: f, closed: make(chan struct{})}
	f.mu.Lock()
	f.conns = append(f.conns, fc)
	f.mu.Unlock()
	return fc
}

// stall blocks every subsequent Write on wrapped connections until unstall (or the connection closes).
func (f *faultCtl) stall() {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.stalled == nil {
		f.stalled = make(chan struct{})
	}
}

func (f *faultCtl) unstall() {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.stalled != nil {
		close(f.stalled)
		f.stalled = nil
	}
}

// stallAfterBytes lets n more bytes through and then stalls writes (as stall does) until unstall.
func (f *faultCtl) stallAfterBytes(n int64) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.stallAfter, f.stallArmed = n, true
}

// cutAfterBytes arms a one-shot cut: the write that exceeds n more bytes writes only the bytes within the
// budget and then closes the connection.
func (f *faultCtl) cutAfterBytes(n int64) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.cutAfter = n
}

func (f *faultCtl) cutCount() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.cuts
}

// closeAll closes every wrapped connection (a network failure on all of them).
func (f *faultCtl) closeAll() {
	f.mu.Lock()
	conns := append([]*faultConn(nil), f.conns...)
	f.mu.Unlock()
	for _, c := range conns {
		_ = c.Close()
	}
}

func (c *faultConn) Close() error {
	c.closeOnce.Do(func() { close(c.closed) })
	return c.Conn.Close()
}

func (c *faultConn) Write(p []byte) (int, error) {
	for {
		c.ctl.mu.Lock()
		st := c.ctl.stalled
		c.ctl.mu.Unlock()
		if st == nil {
			break
		}
		select {
		case <-st:
		case <-c.closed:
			return 0, net.ErrClosed
		}
	}
	c.ctl.mu.Lock()
	if c.ctl.stallArmed {
		if int64(len(p)) > c.ctl.stallAfter {
			n := c.ctl.stallAfter
			c.ctl.stallArmed = false
			if c.ctl.stalled == nil {
				c.ctl.stalled = make(chan struct{})
			}
			c.ctl.mu.Unlock()
			w, err := c.Conn.Write(p[:n])
			if err != nil {
				return w, err
			}
			rest, err := c.Write(p[n:]) // blocks until unstall
			return w + rest, err
		}
		c.ctl.stallAfter -= int64(len(p))
	}
	if c.ctl.cutAfter > 0 {
		if int64(len(p)) > c.ctl.cutAfter {
			n := int(c.ctl.cutAfter)
			c.ctl.cutAfter = 0
			c.ctl.cuts++
			c.ctl.mu.Unlock()
			written, _ := c.Conn.Write(p[:n])
			_ = c.Close()
			return written, fmt.Errorf("fault: connection cut after %d of %d bytes: %w", written, len(p), io.ErrClosedPipe)
		}
		c.ctl.cutAfter -= int64(len(p))
	}
	c.ctl.mu.Unlock()
	return c.Conn.Write(p)
}

// faultListener wraps accepted connections.
type faultListener struct {
	net.Listener
	ctl *faultCtl
}

func (l faultListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	return l.ctl.wrap(c), nil
}

// faultDial returns a DialFunc wrapping each connection in ctl.
func faultDial(ctl *faultCtl) DialFunc {
	return func(ctx context.Context, addr string) (net.Conn, error) {
		var d net.Dialer
		c, err := d.DialContext(ctx, "tcp", addr)
		if err != nil {
			return nil, err
		}
		return ctl.wrap(c), nil
	}
}

// listenLoopback listens on an ephemeral loopback port.
func listenLoopback(t testing.TB) net.Listener {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("listen: %v", err)
	}
	return ln
}

// listenOn re-listens on a fixed loopback address (a master restarting on the same HA port), retrying
// briefly in case the port is still being released.
func listenOn(t testing.TB, addr string) net.Listener {
	t.Helper()
	var lastErr error
	deadline := time.Now().Add(5 * time.Second)
	for time.Now().Before(deadline) {
		ln, err := net.Listen("tcp", addr)
		if err == nil {
			return ln
		}
		lastErr = err
		time.Sleep(10 * time.Millisecond)
	}
	t.Fatalf("re-listen on %s: %v", addr, lastErr)
	return nil
}

func isErr(err, target error) bool { return errors.Is(err, target) }
