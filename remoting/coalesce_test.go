package remoting

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gorocket/gorocket/remoting/protocol"
)

// Tests of the write path (write coalescing): frames are never lost, interleaved or
// reordered per writer; a blocked write batches the frames queued meanwhile; pending bytes
// are bounded; close and write failures fail the waiting calls; bodies may be reused as soon
// as the write returns.

// gateConn wraps the client side of a connection: it records every Write and can hold the
// next one until released, or fail it.
type gateConn struct {
	net.Conn
	mu      sync.Mutex
	writes  []int         // sizes of the Write calls
	hold    chan struct{} // the next Write waits for this to close
	entered chan struct{} // closed when a held Write has started
	fail    error         // returned (after the hold) by the next Write
}

func (g *gateConn) Write(p []byte) (int, error) {
	g.mu.Lock()
	g.writes = append(g.writes, len(p))
	hold, entered, fail := g.hold, g.entered, g.fail
	g.hold, g.entered, g.fail = nil, nil, nil
	g.mu.Unlock()
	if hold != nil {
		close(entered)
		<-hold
	}
	if fail != nil {
		return 0, fail
	}
	return g.Conn.Write(p)
}

// holdNext makes the next Write wait until the returned release is called; entered is closed
// once that Write has started.
func (g *gateConn) holdNext(fail error) (entered <-chan struct{}, release func()) {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.hold, g.entered, g.fail = make(chan struct{}), make(chan struct{}), fail
	h := g.hold
	var once sync.Once
	return g.entered, func() { once.Do(func() { close(h) }) }
}

func (g *gateConn) writeCalls() []int {
	g.mu.Lock()
	defer g.mu.Unlock()
	return append([]int(nil), g.writes...)
}

// frameSink is a raw TCP peer that records every frame it reads, in wire order.
type frameSink struct {
	addr   string
	frames chan *protocol.RemotingCommand
	errc   chan error
}

func newFrameSink(t *testing.T) *frameSink {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s := &frameSink{addr: l.Addr().String(), frames: make(chan *protocol.RemotingCommand, 100000), errc: make(chan error, 1)}
	go func() {
		defer l.Close()
		nc, err := l.Accept()
		if err != nil {
			s.errc <- err
			return
		}
		defer nc.Close()
		fr := protocol.NewFrameReader(nc, 64<<20)
		for {
			cmd, err := fr.ReadCommand()
			if err != nil {
				s.errc <- err
				return
			}
			s.frames <- cmd
		}
	}()
	t.Cleanup(func() { l.Close() })
	return s
}

func (s *frameSink) next(t *testing.T) *protocol.RemotingCommand {
	t.Helper()
	select {
	case c := <-s.frames:
		return c
	case err := <-s.errc:
		// The reader queues every frame before it reports the end of the stream.
		select {
		case c := <-s.frames:
			s.errc <- err
			return c
		default:
		}
		t.Fatalf("sink stopped: %v", err)
	case <-time.After(10 * time.Second):
		t.Fatal("no frame within 10s")
	}
	return nil
}

// gatedConn dials addr with a client whose connection is a gateConn.
func gatedConn(t *testing.T, addr string) (*Conn, *gateConn) {
	t.Helper()
	var g *gateConn
	var d net.Dialer
	cli := NewClient(nil, ClientOptions{Dialer: func(ctx context.Context, a string) (net.Conn, error) {
		nc, err := d.DialContext(ctx, "tcp", a)
		if err != nil {
			return nil, err
		}
		g = &gateConn{Conn: nc}
		return g, nil
	}})
	t.Cleanup(func() { _ = cli.Close() })
	c, err := cli.Conn(ctxT(t, 5*time.Second), addr)
	if err != nil {
		t.Fatal(err)
	}
	return c, g
}

func oneway(sender string, seq int, body []byte) *protocol.RemotingCommand {
	cmd := protocol.NewRequest(codeNotify, nil, body)
	cmd.ExtFields = map[string]string{"s": sender, "n": strconv.Itoa(seq)}
	return cmd
}

// TestBlockedWriteBatchesQueuedFrames: while the flusher's write is held, other writers
// return at once with their frames queued; on release one more write carries all of them,
// in the order they were queued.
func TestBlockedWriteBatchesQueuedFrames(t *testing.T) {
	sink := newFrameSink(t)
	c, g := gatedConn(t, sink.addr)
	ctx := ctxT(t, 10*time.Second)
	entered, release := g.holdNext(nil)
	defer release()
	first := make(chan error, 1)
	go func() { first <- c.InvokeOneway(ctx, oneway("a", 0, []byte("first"))) }()
	<-entered
	const queued = 50
	queuedAll := make(chan error, 1)
	go func() {
		for i := 1; i <= queued; i++ {
			if err := c.InvokeOneway(ctx, oneway("a", i, []byte("body-"+strconv.Itoa(i)))); err != nil {
				queuedAll <- err
				return
			}
		}
		queuedAll <- nil
	}()
	select { // the writes return although the socket is busy
	case err := <-queuedAll:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("writers blocked while another write held the socket")
	}
	release()
	if err := <-first; err != nil {
		t.Fatal(err)
	}
	for i := 0; i <= queued; i++ {
		f := sink.next(t)
		if f.ExtField("n") != strconv.Itoa(i) {
			t.Fatalf("frame %d carries n=%s", i, f.ExtField("n"))
		}
	}
	if w := g.writeCalls(); len(w) != 2 {
		t.Fatalf("%d write calls %v, want 2 (the held frame, then the %d queued ones together)", len(w), w, queued)
	}
}

// TestConcurrentWritersNeverInterleaveOrLose: many goroutines write frames of mixed sizes
// (including bodies written directly, past directWriteMin) on one connection; the peer reads
// every frame intact, and each writer's frames in its own order.
func TestConcurrentWritersNeverInterleaveOrLose(t *testing.T) {
	sink := newFrameSink(t)
	c, _ := gatedConn(t, sink.addr)
	ctx := ctxT(t, 30*time.Second)
	const writers, perWriter = 32, 200
	var wg sync.WaitGroup
	for w := range writers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			r := rand.New(rand.NewPCG(uint64(w), 7))
			for i := range perWriter {
				n := r.IntN(3000)
				if r.IntN(50) == 0 {
					n = directWriteMin + r.IntN(100<<10)
				}
				if err := c.InvokeOneway(ctx, oneway(strconv.Itoa(w), i, patterned(w, i, n))); err != nil {
					t.Error(err)
					return
				}
			}
		}()
	}
	next := make([]int, writers)
	for range writers * perWriter {
		f := sink.next(t)
		w, _ := strconv.Atoi(f.ExtField("s"))
		i, _ := strconv.Atoi(f.ExtField("n"))
		if i != next[w] {
			t.Fatalf("writer %d: frame %d arrived, expected %d", w, i, next[w])
		}
		next[w]++
		if want := patterned(w, i, len(f.Body)); !bytes.Equal(f.Body, want) {
			t.Fatalf("writer %d frame %d: body corrupted", w, i)
		}
	}
	wg.Wait()
}

// patterned is a body whose bytes depend on writer, sequence and position.
func patterned(w, i, n int) []byte {
	b := make([]byte, n)
	for k := range b {
		b[k] = byte(w*31 + i*7 + k)
	}
	return b
}

// TestBodyReusableAfterWriteReturns: once a write returned, the caller may overwrite the
// body (small frames are copied into the pending buffer; direct writes finish first).
func TestBodyReusableAfterWriteReturns(t *testing.T) {
	sink := newFrameSink(t)
	c, g := gatedConn(t, sink.addr)
	ctx := ctxT(t, 10*time.Second)
	entered, release := g.holdNext(nil)
	defer release()
	first := make(chan error, 1)
	go func() { first <- c.InvokeOneway(ctx, oneway("a", 0, []byte("x"))) }()
	<-entered
	small := bytes.Repeat([]byte("s"), 1000)
	if err := c.InvokeOneway(ctx, oneway("a", 1, small)); err != nil { // queued, not yet written
		t.Fatal(err)
	}
	clear(small)
	release()
	if err := <-first; err != nil {
		t.Fatal(err)
	}
	big := bytes.Repeat([]byte("b"), directWriteMin+1)
	if err := c.InvokeOneway(ctx, oneway("a", 2, big)); err != nil {
		t.Fatal(err)
	}
	clear(big)
	sink.next(t)
	if f := sink.next(t); !bytes.Equal(f.Body, bytes.Repeat([]byte("s"), 1000)) {
		t.Fatal("queued small body changed after the write returned")
	}
	if f := sink.next(t); !bytes.Equal(f.Body, bytes.Repeat([]byte("b"), directWriteMin+1)) {
		t.Fatal("direct big body changed after the write returned")
	}
}

// TestPendingWritesAreBounded: with the socket held, writers queue up to maxPendingWrite
// bytes and then wait; released, every frame is written in order.
func TestPendingWritesAreBounded(t *testing.T) {
	sink := newFrameSink(t)
	c, g := gatedConn(t, sink.addr)
	ctx := ctxT(t, 30*time.Second)
	entered, release := g.holdNext(nil)
	defer release()
	go func() { _ = c.InvokeOneway(ctx, oneway("a", 0, nil)) }()
	<-entered
	body := make([]byte, directWriteMin-1024) // copied into the pending buffer
	const frames = 2 * maxPendingWrite / (directWriteMin - 1024)
	var returned atomic.Int32
	done := make(chan error, 1)
	go func() {
		for i := 1; i <= frames; i++ {
			if err := c.InvokeOneway(ctx, oneway("a", i, body)); err != nil {
				done <- err
				return
			}
			returned.Add(1)
		}
		done <- nil
	}()
	waitFor(t, 10*time.Second, "a writer waiting for room", func() bool {
		c.wmu.Lock()
		defer c.wmu.Unlock()
		return c.wwaiters > 0
	})
	c.wmu.Lock()
	pending := c.wq.n
	c.wmu.Unlock()
	if pending > maxPendingWrite {
		t.Fatalf("%d bytes pending, bound %d", pending, maxPendingWrite)
	}
	if n := returned.Load(); n >= frames {
		t.Fatalf("all %d writes returned while the socket was held", n)
	}
	release()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	for i := 0; i <= frames; i++ {
		if f := sink.next(t); f.ExtField("n") != strconv.Itoa(i) {
			t.Fatalf("frame %d carries n=%s", i, f.ExtField("n"))
		}
	}
}

// TestWriteFailureFailsQueuedCalls: when the flusher's write fails, the connection closes
// with that error, the flusher gets it, and calls whose frames were queued behind it fail
// with ErrConnClosed instead of waiting for their timeout.
func TestWriteFailureFailsQueuedCalls(t *testing.T) {
	_, addr := startServer(t, transports()[0], nil, ServerOptions{}, nil)
	c, g := gatedConn(t, addr)
	ctx := ctxT(t, 30*time.Second)
	boom := errors.New("boom")
	entered, release := g.holdNext(boom)
	defer release()
	first := make(chan error, 1)
	go func() {
		_, err := c.Invoke(ctx, echo("first"))
		first <- err
	}()
	<-entered
	const queued = 20
	errs := make(chan error, queued)
	for i := range queued {
		go func() {
			_, err := c.Invoke(ctx, echo(strconv.Itoa(i)))
			errs <- err
		}()
	}
	waitFor(t, 10*time.Second, "queued calls", func() bool { return c.inflight.Load() == queued+1 })
	release()
	if err := <-first; !errors.Is(err, boom) {
		t.Fatalf("flusher got %v, want the write error", err)
	}
	for range queued {
		select {
		case err := <-errs:
			if !errors.Is(err, ErrConnClosed) {
				t.Fatalf("queued call got %v, want ErrConnClosed", err)
			}
		case <-time.After(5 * time.Second):
			t.Fatal("a queued call still waits after the write failed")
		}
	}
	if err := c.Err(); !errors.Is(err, boom) {
		t.Fatalf("Conn.Err = %v, want the write error", err)
	}
	if err := c.InvokeOneway(ctx, echo("after")); !errors.Is(err, ErrConnClosed) {
		t.Fatalf("write after close: %v", err)
	}
}

// TestCloseWritesQueuedFramesFirst: Conn.Close waits for frames queued by writes that
// already returned, then closes.
func TestCloseWritesQueuedFramesFirst(t *testing.T) {
	sink := newFrameSink(t)
	c, g := gatedConn(t, sink.addr)
	ctx := ctxT(t, 10*time.Second)
	entered, release := g.holdNext(nil)
	defer release()
	go func() { _ = c.InvokeOneway(ctx, oneway("a", 0, nil)) }()
	<-entered
	for i := 1; i <= 10; i++ {
		if err := c.InvokeOneway(ctx, oneway("a", i, []byte("q"))); err != nil {
			t.Fatal(err)
		}
	}
	closed := make(chan struct{})
	go func() { _ = c.Close(); close(closed) }()
	select {
	case <-closed:
		t.Fatal("Close returned while queued frames were not written")
	case <-c.Done():
		t.Fatal("connection closed while queued frames were not written")
	case <-time.After(50 * time.Millisecond):
	}
	release()
	<-closed
	for i := 0; i <= 10; i++ {
		if f := sink.next(t); f.ExtField("n") != strconv.Itoa(i) {
			t.Fatalf("frame %d carries n=%s", i, f.ExtField("n"))
		}
	}
	select {
	case err := <-sink.errc:
		if !errors.Is(err, io.EOF) {
			t.Fatalf("sink: %v, want a clean end of stream", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("connection not closed")
	}
}

// TestCloseDoesNotWaitForeverForAStuckPeer: a write that never completes delays Close by at
// most closeDrainTimeout; queued calls then fail.
func TestCloseDoesNotWaitForeverForAStuckPeer(t *testing.T) {
	sink := newFrameSink(t)
	c, g := gatedConn(t, sink.addr)
	ctx := ctxT(t, 30*time.Second)
	entered, release := g.holdNext(errors.New("never written"))
	defer release()
	go func() { _ = c.InvokeOneway(ctx, oneway("a", 0, nil)) }()
	<-entered
	res := make(chan error, 1)
	go func() {
		_, err := c.Invoke(ctx, oneway("b", 1, nil))
		res <- err
	}()
	waitFor(t, 10*time.Second, "queued call", func() bool { return c.inflight.Load() == 1 })
	start := time.Now()
	_ = c.Close()
	if d := time.Since(start); d > closeDrainTimeout+2*time.Second {
		t.Fatalf("Close took %v", d)
	}
	if err := <-res; !errors.Is(err, ErrConnClosed) {
		t.Fatalf("queued call: %v", err)
	}
}

// TestWorkersServeManyRequestsAndExitOnClose: handler goroutines are reused across requests
// (the endpoint's goroutines stay far below the number of requests) and exit on Close.
func TestWorkersServeManyRequestsAndExitOnClose(t *testing.T) {
	srv, addr := startServer(t, transports()[0], nil, ServerOptions{}, nil)
	cli := newClient(t, transports()[0], ClientOptions{})
	ctx := ctxT(t, 30*time.Second)
	const goroutines, perG = 8, 200
	var wg sync.WaitGroup
	for g := range goroutines {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range perG {
				v := fmt.Sprintf("%d-%d", g, i)
				resp, err := cli.Invoke(ctx, addr, echo(v))
				if err != nil || resp.ExtField("v") != v {
					t.Errorf("%s: %v %v", v, resp, err)
					return
				}
			}
		}()
	}
	wg.Wait()
	if n := srv.ep.workersStarted.Load(); n > goroutines*perG/4 {
		t.Fatalf("%d handler goroutines started for %d requests: not reused", n, goroutines*perG)
	}
	done := make(chan struct{})
	go func() { _ = srv.Close(); _ = cli.Close(); close(done) }()
	select {
	case <-done:
	case <-time.After(workerIdle / 2):
		t.Fatal("Close waited for idle workers")
	}
}

// TestPendingWritesChunks: the chunked queue keeps bytes in order across chunk boundaries
// and empties on release.
func TestPendingWritesChunks(t *testing.T) {
	var q pendingWrites
	var want []byte
	r := rand.New(rand.NewPCG(3, 4))
	for i := range 200 {
		b := patterned(i, i, r.IntN(3*writeChunkSize/2))
		q.append(b)
		want = append(want, b...)
	}
	if q.n != len(want) {
		t.Fatalf("n = %d, want %d", q.n, len(want))
	}
	var got []byte
	for _, c := range q.appendTo(nil) {
		if len(c) > writeChunkSize {
			t.Fatalf("chunk of %d bytes", len(c))
		}
		got = append(got, c...)
	}
	if !bytes.Equal(got, want) {
		t.Fatal("queued bytes differ from the appended ones")
	}
	q.release()
	if q.n != 0 || len(q.chunks) != 0 || len(q.appendTo(nil)) != 0 {
		t.Fatal("release left bytes queued")
	}
}

// TestIdleWorkersAgeOutUnderLightLoad: after a burst started many handler goroutines, a
// light steady load is served by the most recently idle ones and the others exit after
// workerIdle (a FIFO hand-off would keep every one of them alive).
func TestIdleWorkersAgeOutUnderLightLoad(t *testing.T) {
	gate := make(chan struct{})
	var entered sync.WaitGroup
	srv, addr := startServer(t, transports()[0], nil, ServerOptions{}, func(s *Server) {
		s.HandleFunc(codeHold, func(context.Context, *Request) (*protocol.RemotingCommand, error) {
			entered.Done()
			<-gate
			return protocol.NewResponse(protocol.RespSuccess, ""), nil
		})
	})
	cli := newClient(t, transports()[0], ClientOptions{})
	ctx := ctxT(t, 30*time.Second)
	const burst = 20
	entered.Add(burst)
	var wg sync.WaitGroup
	for range burst {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if _, err := cli.Invoke(ctx, addr, protocol.NewRequest(codeHold, nil, nil)); err != nil {
				t.Error(err)
			}
		}()
	}
	entered.Wait() // burst handlers run at once, each on its own goroutine
	close(gate)
	wg.Wait()
	idle := func() int {
		srv.ep.workers.mu.Lock()
		defer srv.ep.workers.mu.Unlock()
		return len(srv.ep.workers.idle)
	}
	tick := time.NewTicker(20 * time.Millisecond) // pacing the light load
	defer tick.Stop()
	deadline := time.Now().Add(3 * workerIdle)
	for idle() > 2 {
		if time.Now().After(deadline) {
			t.Fatalf("%d idle handler goroutines still alive %v after the burst", idle(), 3*workerIdle)
		}
		if resp, err := cli.Invoke(ctx, addr, echo("x")); err != nil || resp.ExtField("v") != "x" {
			t.Fatalf("%v %v", resp, err)
		}
		<-tick.C
	}
}
