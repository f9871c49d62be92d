package ha

import (
	"bytes"
	"context"
	"errors"
	"sync"
	"testing"
	"time"
)

// memPair is a Master and a Slave over loopback with in-memory logs; the storage-backed equivalent is in
// replication_test.go.
type memPair struct {
	mlog, slog *memLog
	master     *Master
	slave      *Slave
	mfault     *faultCtl // on the master's accepted connections (frames)
	sfault     *faultCtl // on the slave's dialled connections (reports)
}

func newMemPair(t *testing.T, mcfg MasterConfig) *memPair {
	t.Helper()
	p := &memPair{mlog: newMemLog(1 << 20), slog: newMemLog(1 << 20), mfault: &faultCtl{}, sfault: &faultCtl{}}
	m, err := NewMaster(testLogger(t), p.mlog, faultListener{Listener: listenLoopback(t), ctl: p.mfault}, mcfg)
	if err != nil {
		t.Fatal(err)
	}
	p.mlog.onGrow = m.Notify
	p.master = m
	scfg := fastSlaveConfig()
	scfg.Dial = faultDial(p.sfault)
	s, err := NewSlave(testLogger(t), p.slog, scfg)
	if err != nil {
		t.Fatal(err)
	}
	p.slave = s
	t.Cleanup(func() {
		p.mfault.unstall()
		p.sfault.unstall()
		_ = s.Close()
		_ = m.Close()
	})
	return p
}

func (p *memPair) connect(t *testing.T) {
	t.Helper()
	p.slave.SetMasterAddress(p.master.Addr().String())
	waitFor(t, 5*time.Second, "slave handshake", func() bool {
		st := p.master.State()
		return len(st.Slaves) == 1 && st.Slaves[0].Reported
	})
}

func TestWaitForReplicaNoSlave(t *testing.T) {
	p := newMemPair(t, fastMasterConfig())
	end := p.mlog.write([]byte("hello-message"))
	start := time.Now()
	err := p.master.WaitForReplica(context.Background(), end)
	if !errors.Is(err, ErrSlaveNotAvailable) {
		t.Fatalf("WaitForReplica without slave = %v, want ErrSlaveNotAvailable", err)
	}
	if time.Since(start) > 100*time.Millisecond {
		t.Fatalf("ErrSlaveNotAvailable took %v; must be immediate", time.Since(start))
	}
}

func TestWaitForReplicaGroupCommit(t *testing.T) {
	p := newMemPair(t, fastMasterConfig())
	p.connect(t)
	const senders, perSender = 64, 20
	var wg sync.WaitGroup
	errs := make(chan error, senders*perSender)
	var mu sync.Mutex // serialises "append + read end" like the store's appender lock
	for i := 0; i < senders; i++ {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			for j := 0; j < perSender; j++ {
				mu.Lock()
				end := p.mlog.write(bytes.Repeat([]byte{byte(i)}, 100+i))
				mu.Unlock()
				if err := p.master.WaitForReplica(context.Background(), end); err != nil {
					errs <- err
					return
				}
				// nil means the slave really holds the message.
				if got := p.slog.MaxPhyOffset(); got < end {
					errs <- errors.New("WaitForReplica returned before the slave stored the message")
					return
				}
			}
		}(i)
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	mb, md := p.mlog.bytes()
	sb, sd := p.slog.bytes()
	if mb != sb || !bytes.Equal(md, sd) {
		t.Fatalf("slave log differs from master log (base %d/%d, len %d/%d)", mb, sb, len(md), len(sd))
	}
	p.master.mu.Lock()
	left := p.master.waiters.Len()
	p.master.mu.Unlock()
	if left != 0 {
		t.Fatalf("%d waiters left in the queue", left)
	}
}

func TestWaitForReplicaTimeoutWhenAcksStall(t *testing.T) {
	cfg := fastMasterConfig()
	cfg.SlaveTimeout = 300 * time.Millisecond
	p := newMemPair(t, cfg)
	p.connect(t)
	end := p.mlog.write([]byte("one-message"))
	if err := p.master.WaitForReplica(context.Background(), end); err != nil {
		t.Fatalf("WaitForReplica before the stall = %v", err)
	}
	p.sfault.stall() // the slave's reports stop reaching the master; the connection stays up
	end = p.mlog.write([]byte("two-message"))
	start := time.Now()
	err := p.master.WaitForReplica(context.Background(), end)
	if !errors.Is(err, ErrSlaveTimeout) {
		t.Fatalf("WaitForReplica with stalled acks = %v, want ErrSlaveTimeout", err)
	}
	if el := time.Since(start); el < 250*time.Millisecond || el > 2*time.Second {
		t.Fatalf("timeout after %v, want about %v", el, cfg.SlaveTimeout)
	}
	// The data did reach the slave; only the ack was stuck. Unstalling delivers it.
	p.sfault.unstall()
	if err := p.master.WaitForReplica(context.Background(), end); err != nil {
		t.Fatalf("WaitForReplica after unstall = %v", err)
	}
	// A cancelled context ends the wait too.
	p.sfault.stall()
	end = p.mlog.write([]byte("three-message"))
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	if err := p.master.WaitForReplica(ctx, end); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("WaitForReplica with expired ctx = %v, want DeadlineExceeded", err)
	}
	p.sfault.unstall()
}

func TestWaitForReplicaFallbehind(t *testing.T) {
	cfg := fastMasterConfig()
	cfg.SlaveFallbehindMax = 1000
	p := newMemPair(t, cfg)
	p.connect(t)
	p.sfault.stall()
	end := p.mlog.write(make([]byte, 1500))
	if err := p.master.WaitForReplica(context.Background(), end); !errors.Is(err, ErrSlaveNotAvailable) {
		t.Fatalf("WaitForReplica 1500 bytes ahead of the slave = %v, want ErrSlaveNotAvailable", err)
	}
	p.sfault.unstall()
	waitFor(t, 5*time.Second, "slave catches up", func() bool { return p.master.State().ReplicatedOffset == end })
	end = p.mlog.write(make([]byte, 10))
	if err := p.master.WaitForReplica(context.Background(), end); err != nil {
		t.Fatalf("WaitForReplica after catching up = %v", err)
	}
}

func TestWaitForReplicaClose(t *testing.T) {
	p := newMemPair(t, fastMasterConfig())
	p.connect(t)
	p.sfault.stall()
	end := p.mlog.write([]byte("x-message"))
	res := make(chan error, 1)
	go func() { res <- p.master.WaitForReplica(context.Background(), end) }()
	waitFor(t, 2*time.Second, "waiter queued", func() bool {
		p.master.mu.Lock()
		defer p.master.mu.Unlock()
		return p.master.waiters.Len() == 1
	})
	_ = p.master.Close()
	select {
	case err := <-res:
		if err != nil && !errors.Is(err, ErrClosed) {
			t.Fatalf("pending WaitForReplica after Close = %v, want ErrClosed (or nil if acked first)", err)
		}
	case <-time.After(3 * time.Second):
		t.Fatal("pending WaitForReplica not released by Close")
	}
	if err := p.master.WaitForReplica(context.Background(), end+1); !errors.Is(err, ErrClosed) {
		t.Fatalf("WaitForReplica after Close = %v, want ErrClosed", err)
	}
}

func TestSlaveSwitchesMaster(t *testing.T) {
	// Two masters with the same history (e.g. the old master's address changed); the slave follows
	// SetMasterAddress and continues from its own end on the new one.
	a := newMemPair(t, fastMasterConfig())
	data := bytes.Repeat([]byte("0123456789"), 1000)
	a.mlog.write(data)
	a.connect(t)
	waitFor(t, 5*time.Second, "caught up with A", func() bool { return a.slog.MaxPhyOffset() == a.mlog.MaxPhyOffset() })

	bLog := newMemLog(1 << 20)
	bLog.write(data)
	bLog.write([]byte("only-on-b"))
	b, err := NewMaster(testLogger(t), bLog, listenLoopback(t), fastMasterConfig())
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	a.slave.SetMasterAddress(b.Addr().String())
	waitFor(t, 5*time.Second, "caught up with B", func() bool { return a.slog.MaxPhyOffset() == bLog.MaxPhyOffset() })
	_, got := a.slog.bytes()
	_, want := bLog.bytes()
	if !bytes.Equal(got, want) {
		t.Fatal("slave log differs from B")
	}
	waitFor(t, 5*time.Second, "A sees the slave leave", func() bool { return len(a.master.State().Slaves) == 0 })
	if st := a.slave.State(); st.MasterAddr != b.Addr().String() || !st.Connected {
		t.Fatalf("slave state = %+v", st)
	}
	a.slave.SetMasterAddress("")
	waitFor(t, 5*time.Second, "slave idle", func() bool { return !a.slave.State().Connected })
}

// callbackResult collects the calls of a WaitForReplicaFunc callback.
type callbackResult struct {
	mu    sync.Mutex
	calls int
	err   error
	done  chan struct{}
}

func newCallbackResult() *callbackResult { return &callbackResult{done: make(chan struct{})} }

func (r *callbackResult) fn(err error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.calls++
	if r.calls == 1 {
		r.err = err
		close(r.done)
	}
}

func (r *callbackResult) wait(t *testing.T, d time.Duration) error {
	t.Helper()
	select {
	case <-r.done:
	case <-time.After(d):
		t.Fatalf("callback not called within %v", d)
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.err
}

func (r *callbackResult) count() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.calls
}

// TestWaitForReplicaFunc: the callback form reports the same outcomes as WaitForReplica, exactly
// once each: no slave (before returning), acknowledgement (group commit of concurrent callers),
// stalled acks (ErrSlaveTimeout after SlaveTimeout), Close (ErrClosed).
func TestWaitForReplicaFunc(t *testing.T) {
	cfg := fastMasterConfig()
	cfg.SlaveTimeout = 300 * time.Millisecond
	p := newMemPair(t, cfg)

	r := newCallbackResult()
	p.master.WaitForReplicaFunc(p.mlog.write([]byte("no-slave")), r.fn)
	if r.count() != 1 || !errors.Is(r.err, ErrSlaveNotAvailable) {
		t.Fatalf("without slave: %d calls, err %v; want one immediate ErrSlaveNotAvailable", r.count(), r.err)
	}

	p.connect(t)
	var rs []*callbackResult
	var ends []int64
	for i := 0; i < 50; i++ {
		r := newCallbackResult()
		end := p.mlog.write(bytes.Repeat([]byte{byte(i)}, 50+i))
		p.master.WaitForReplicaFunc(end, r.fn)
		rs, ends = append(rs, r), append(ends, end)
	}
	for i, r := range rs {
		if err := r.wait(t, 5*time.Second); err != nil {
			t.Fatalf("callback %d: %v", i, err)
		}
		if got := p.slog.MaxPhyOffset(); got < ends[i] {
			t.Fatalf("callback %d ran before the slave stored offset %d (slave at %d)", i, ends[i], got)
		}
	}

	p.sfault.stall()
	r = newCallbackResult()
	start := time.Now()
	p.master.WaitForReplicaFunc(p.mlog.write([]byte("stalled")), r.fn)
	if err := r.wait(t, 3*time.Second); !errors.Is(err, ErrSlaveTimeout) {
		t.Fatalf("stalled acks: %v, want ErrSlaveTimeout", err)
	}
	if el := time.Since(start); el < 250*time.Millisecond {
		t.Fatalf("timed out after %v, want about %v", el, cfg.SlaveTimeout)
	}
	// Waiters queued at different times expire one SlaveTimeout after their own arrival (one
	// timer, re-armed for the oldest waiter left).
	early, late := newCallbackResult(), newCallbackResult()
	t0 := time.Now()
	p.master.WaitForReplicaFunc(p.mlog.write([]byte("early")), early.fn)
	time.Sleep(250 * time.Millisecond)
	p.master.WaitForReplicaFunc(p.mlog.write([]byte("late")), late.fn)
	if err := early.wait(t, 3*time.Second); !errors.Is(err, ErrSlaveTimeout) {
		t.Fatalf("early waiter: %v, want ErrSlaveTimeout", err)
	}
	if late.count() != 0 {
		t.Fatal("the later waiter expired with the earlier one")
	}
	if err := late.wait(t, 3*time.Second); !errors.Is(err, ErrSlaveTimeout) {
		t.Fatalf("late waiter: %v, want ErrSlaveTimeout", err)
	}
	if el := time.Since(t0); el < 540*time.Millisecond {
		t.Fatalf("later waiter timed out %v after the first arrived, want at least 250ms+%v", el, cfg.SlaveTimeout)
	}
	pending := newCallbackResult()
	p.master.WaitForReplicaFunc(p.mlog.write([]byte("pending-at-close")), pending.fn)
	_ = p.master.Close()
	if err := pending.wait(t, 3*time.Second); !errors.Is(err, ErrClosed) {
		t.Fatalf("pending at Close: %v, want ErrClosed", err)
	}
	p.sfault.unstall()
	for i, r := range append(rs, r, early, late, pending) {
		if n := r.count(); n != 1 {
			t.Fatalf("callback %d called %d times", i, n)
		}
	}
}
