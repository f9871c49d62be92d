package launcher

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"net"
	"strconv"
	"sync"
	"time"
)

// Host is the only address the launcher binds or advertises: everything stays on loopback.
const Host = "127.0.0.1"

// Broker port offsets around listenPort (rocketmq-protocol.md §1.1): the VIP channel at -2 and the
// HA port at +1. A broker's block [listenPort-2, listenPort+1] must be free.
const (
	brokerBlockLow  = -2
	brokerBlockHigh = 1
)

// portFree reports whether port can be bound on Host right now.
func portFree(port int) bool {
	if port <= 0 || port > 65535 {
		return false
	}
	l, err := net.Listen("tcp", net.JoinHostPort(Host, strconv.Itoa(port)))
	if err != nil {
		return false
	}
	l.Close()
	return true
}

// PortAllocator hands out ports that are free when allocated and never hands out the same port
// twice in one process (so parallel tests in one binary cannot collide with each other).
type PortAllocator struct {
	mu    sync.Mutex
	taken map[int]bool
	rnd   *rand.Rand
}

// Random ports come from [randomLow, randomHigh): below Linux's default ephemeral range
// (32768-60999), so outgoing connections do not grab them between allocation and bind.
const (
	randomLow  = 20000
	randomHigh = 32000
)

var defaultAllocator = NewPortAllocator()

// NewPortAllocator returns an allocator seeded from the clock.
func NewPortAllocator() *PortAllocator {
	return &PortAllocator{taken: make(map[int]bool), rnd: rand.New(rand.NewPCG(uint64(time.Now().UnixNano()), 0x6f72))}
}

// Block returns a port p such that p+low .. p+high are all free and unused by this allocator.
func (a *PortAllocator) Block(low, high int) (int, error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	for range 500 {
		p := randomLow - low + a.rnd.IntN(randomHigh-randomLow-(high-low))
		ok := true
		for q := p + low; q <= p+high && ok; q++ {
			ok = !a.taken[q] && portFree(q)
		}
		if !ok {
			continue
		}
		for q := p + low; q <= p+high; q++ {
			a.taken[q] = true
		}
		return p, nil
	}
	return 0, errors.New("launcher: no free port block found on " + Host)
}

// checkFree returns an error naming the first port of ports that cannot be bound.
func checkFree(ports []int) error {
	for _, p := range ports {
		if !portFree(p) {
			return fmt.Errorf("launcher: port %d on %s is already in use (choose another --base-port, or 0 for random ports)", p, Host)
		}
	}
	return nil
}

// WaitPort polls until addr accepts TCP connections, ctx ends, or exited is closed (the process
// that should listen there died).
func WaitPort(ctx context.Context, addr string, exited <-chan struct{}) error {
	var d net.Dialer
	for {
		dctx, cancel := context.WithTimeout(ctx, time.Second)
		c, err := d.DialContext(dctx, "tcp", addr)
		cancel()
		if err == nil {
			c.Close()
			return nil
		}
		if err := poll(ctx, exited, 50*time.Millisecond); err != nil {
			return fmt.Errorf("launcher: waiting for %s to accept connections: %w", addr, err)
		}
	}
}

// errExited means the awaited process exited.
var errExited = errors.New("process exited")

// poll waits for one polling interval; it fails when ctx ends or exited closes.
func poll(ctx context.Context, exited <-chan struct{}, every time.Duration) error {
	t := time.NewTimer(every)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return context.Cause(ctx)
	case <-exited:
		return errExited
	case <-t.C:
		return nil
	}
}
