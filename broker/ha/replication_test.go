package ha

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/gorocket/gorocket/storage"
)

// Storage-backed tests: two real stores in temp dirs, replicated over loopback.

func TestReplicationByteIdenticalLogAndQueues(t *testing.T) {
	c := newCluster(t, fastMasterConfig())
	c.put(300) // history the slave must catch up on
	c.connect()
	c.put(300) // pushed live
	c.waitReplicated(10 * time.Second)
	if c.mstore.MaxPhyOffset() < 3*testSegmentSize {
		t.Fatalf("only %d bytes written; the test should cross several segment ends", c.mstore.MaxPhyOffset())
	}
	assertIdenticalLogs(t, c.mstore, c.sstore)
	assertSameQueues(t, c.mstore, c.sstore)

	st := c.master.State()
	best, ok := st.BestSlave()
	if len(st.Slaves) != 1 || !ok || best.LagBytes != 0 || best.LagTime != 0 || best.AckedOffset != st.MaxPhyOffset ||
		st.ReplicatedOffset != st.MaxPhyOffset || best.Addr != c.slave.State().LocalAddr {
		t.Fatalf("master state after catch-up = %+v", st)
	}
	sst := c.slave.State()
	if !sst.Connected || sst.MasterAddr != c.haAddr || sst.MaxPhyOffset != st.MaxPhyOffset || sst.LastReceived.IsZero() {
		t.Fatalf("slave state after catch-up = %+v", sst)
	}

	end := c.mstore.MaxPhyOffset()
	c.stopSlave()
	c.stopMaster()
	assertIdenticalFiles(t, c.mdir, c.sdir, end)
}

func TestSyncReplicationWaitForReplica(t *testing.T) {
	cfg := fastMasterConfig()
	cfg.SlaveTimeout = 400 * time.Millisecond
	c := newCluster(t, cfg)

	// No slave connected: immediate ErrSlaveNotAvailable; the message is stored anyway.
	end := c.put(1)
	start := time.Now()
	if err := c.master.WaitForReplica(context.Background(), end); !errors.Is(err, ErrSlaveNotAvailable) {
		t.Fatalf("WaitForReplica without slave = %v, want ErrSlaveNotAvailable", err)
	}
	if el := time.Since(start); el > 100*time.Millisecond {
		t.Fatalf("ErrSlaveNotAvailable took %v", el)
	}

	// Connected: nil, and only once the slave really has the bytes.
	c.connect()
	waitFor(t, 5*time.Second, "slave handshake", func() bool {
		st := c.master.State()
		return len(st.Slaves) == 1 && st.Slaves[0].Reported
	})
	for i := 0; i < 20; i++ {
		end = c.put(1)
		if err := c.master.WaitForReplica(context.Background(), end); err != nil {
			t.Fatalf("WaitForReplica(%d) = %v", end, err)
		}
		if got := c.sstore.MaxPhyOffset(); got < end {
			t.Fatalf("WaitForReplica(%d) returned nil but the slave holds only %d", end, got)
		}
	}

	// 64 concurrent senders, each waiting for its own message.
	var wg sync.WaitGroup
	var mu sync.Mutex
	var failures []error
	for g := 0; g < 64; g++ {
		wg.Add(1)
		go func(g int) {
			defer wg.Done()
			for i := 0; i < 5; i++ {
				m := message(10_000 + g*5 + i)
				res := c.mstore.Append(context.Background(), &m)
				err := res.Err
				if err == nil {
					err = c.master.WaitForReplica(context.Background(), res.PhysicalOffset+int64(res.WroteBytes))
				}
				if err != nil {
					mu.Lock()
					failures = append(failures, err)
					mu.Unlock()
					return
				}
			}
		}(g)
	}
	wg.Wait()
	if len(failures) > 0 {
		t.Fatalf("%d concurrent senders failed, first: %v", len(failures), failures[0])
	}

	// Acks stalled (the slave's reports stop reaching the master, the connection stays up):
	// ErrSlaveTimeout after SlaveTimeout, although the slave stores the bytes.
	c.sfault.stall()
	end = c.put(1)
	start = time.Now()
	if err := c.master.WaitForReplica(context.Background(), end); !errors.Is(err, ErrSlaveTimeout) {
		t.Fatalf("WaitForReplica with stalled acks = %v, want ErrSlaveTimeout", err)
	}
	if el := time.Since(start); el < 350*time.Millisecond || el > 3*time.Second {
		t.Fatalf("ErrSlaveTimeout after %v, want about %v", el, cfg.SlaveTimeout)
	}
	waitFor(t, 5*time.Second, "slave stores the bytes despite the stalled acks", func() bool {
		return c.sstore.MaxPhyOffset() >= end
	})
	c.sfault.unstall()
	if err := c.master.WaitForReplica(context.Background(), end); err != nil {
		t.Fatalf("WaitForReplica after the stall = %v", err)
	}

	// Frames stalled (the master's sends block): also a timeout, and the lag shows it.
	c.mfault.stall()
	end = c.put(1)
	if err := c.master.WaitForReplica(context.Background(), end); !errors.Is(err, ErrSlaveTimeout) {
		t.Fatalf("WaitForReplica with stalled frames = %v, want ErrSlaveTimeout", err)
	}
	st := c.master.State()
	if len(st.Slaves) != 1 || st.Slaves[0].LagBytes <= 0 || st.Slaves[0].LagTime < 300*time.Millisecond {
		t.Fatalf("master state with stalled frames = %+v, want positive lag of at least the wait", st)
	}
	c.mfault.unstall()
	c.waitReplicated(5 * time.Second)
	assertIdenticalLogs(t, c.mstore, c.sstore)
}

func TestSlaveRestartCatchesUp(t *testing.T) {
	cfg := fastMasterConfig()
	cfg.TransferBatchSize = 4096
	c := newCluster(t, cfg)
	c.connect()
	c.put(200)
	c.waitReplicated(10 * time.Second)
	caughtUp := c.sstore.MaxPhyOffset()

	// Let exactly one more frame through and stop the slave then: frames are cut at TransferBatchSize,
	// not at record boundaries, so the slave has received part of a record.
	c.mfault.stallAfterBytes(frameHeaderSize + 4096)
	boundaries := map[int64]bool{caughtUp: true}
	for i := 0; i < 50; i++ {
		m := message(c.seq)
		c.seq++
		res := c.mstore.Append(context.Background(), &m)
		if res.Err != nil {
			t.Fatal(res.Err)
		}
		boundaries[res.PhysicalOffset] = true // also the end of the blank record before it, if any
		boundaries[res.PhysicalOffset+int64(res.WroteBytes)] = true
	}
	received := caughtUp + 4096
	if boundaries[received] {
		t.Fatalf("frame end %d is a record boundary; adjust the test data so the slave stops mid-record", received)
	}
	lastBoundary := caughtUp
	for b := range boundaries {
		if b <= received && b > lastBoundary {
			lastBoundary = b
		}
	}
	// Only whole records reach the store; the torn record's bytes wait in memory.
	waitFor(t, 5*time.Second, "slave receives one frame", func() bool {
		return c.slave.State().PendingBytes == int(received-lastBoundary)
	})
	if got := c.sstore.MaxPhyOffset(); got != lastBoundary {
		t.Fatalf("slave store ends at %d, want the last whole record's end %d", got, lastBoundary)
	}
	c.stopSlave()
	c.mfault.unstall()
	c.put(100) // written while the slave is down

	c.sstore = openStore(t, c.sdir)
	rep := c.sstore.RecoveryReport()
	if got := c.sstore.MaxPhyOffset(); got != lastBoundary || rep.TruncatedBytes != 0 {
		t.Fatalf("reopened slave ends at %d with %d bytes truncated, want %d and nothing to truncate",
			got, rep.TruncatedBytes, lastBoundary)
	}
	c.startSlave(true)
	waitFor(t, 5*time.Second, "handshake", func() bool {
		st := c.master.State()
		return len(st.Slaves) == 1 && st.Slaves[0].Reported
	})
	c.waitReplicated(10 * time.Second)
	if st := c.slave.State(); st.Connects != 1 || st.PendingBytes != 0 {
		t.Fatalf("slave state after catching up: %+v; want one connection, nothing pending", st)
	}
	assertIdenticalLogs(t, c.mstore, c.sstore)
	assertSameQueues(t, c.mstore, c.sstore)
}

func TestMasterRestartSlaveResumes(t *testing.T) {
	c := newCluster(t, fastMasterConfig())
	c.connect()
	c.put(150)
	c.waitReplicated(10 * time.Second)
	addr := c.haAddr

	c.stopMaster()
	waitFor(t, 5*time.Second, "slave notices the master is gone", func() bool { return !c.slave.State().Connected })
	c.mstore = openStore(t, c.mdir)
	c.put(150) // written while no slave is connected
	c.startMaster(listenOn(t, addr))
	waitFor(t, 10*time.Second, "slave reconnects", func() bool { return c.slave.State().Connected })
	c.put(50)
	c.waitReplicated(10 * time.Second)
	assertIdenticalLogs(t, c.mstore, c.sstore)
	assertSameQueues(t, c.mstore, c.sstore)
	if st := c.slave.State(); st.Connects < 2 {
		t.Fatalf("slave connects = %d, want ≥ 2", st.Connects)
	}
}

func TestTornTransferRecovers(t *testing.T) {
	cfg := fastMasterConfig()
	cfg.TransferBatchSize = 8 << 10
	c := newCluster(t, cfg)
	c.connect()
	c.put(50)
	c.waitReplicated(10 * time.Second)

	// Cut the master's connection in the middle of frames, several times, while data flows.
	for round, cut := range []int64{5000, 12_345, 3, 8200} {
		c.mfault.cutAfterBytes(cut)
		c.put(60)
		waitFor(t, 10*time.Second, "the cut to happen", func() bool { return c.mfault.cutCount() == round+1 })
		c.waitReplicated(10 * time.Second)
	}
	// Kill every connection from the slave's side too (its pending reports are torn).
	c.sfault.cutAfterBytes(3)
	c.put(20)
	waitFor(t, 10*time.Second, "the slave-side cut", func() bool { return c.sfault.cutCount() == 1 })
	c.put(20)
	c.waitReplicated(10 * time.Second)

	if st := c.slave.State(); st.Connects < 6 {
		t.Fatalf("slave connects = %d, want ≥ 6 (one per cut)", st.Connects)
	}
	assertIdenticalLogs(t, c.mstore, c.sstore)
	assertSameQueues(t, c.mstore, c.sstore)
	// The slave's store was never handed a torn frame: it reopens without cutting anything.
	end := c.mstore.MaxPhyOffset()
	c.stopSlave()
	c.sstore = openStore(t, c.sdir)
	if got := c.sstore.MaxPhyOffset(); got != end {
		t.Fatalf("slave reopened at %d, want %d", got, end)
	}
}

func TestLagReportedAndBoundedUnderLoad(t *testing.T) {
	c := newCluster(t, fastMasterConfig())
	c.connect()
	c.put(10)
	c.waitReplicated(5 * time.Second)

	// Continuous paced load (about 2,000 messages/s) for longer than the lag bound, sampling the lag as
	// an operator would. A slave that stopped keeping up would exceed the bound before the load ends.
	const loadFor, lagBound = 1500 * time.Millisecond, time.Second
	stop := make(chan struct{})
	loadDone := make(chan int, 1)
	go func() {
		n := 0
		tick := time.NewTicker(5 * time.Millisecond)
		defer tick.Stop()
		for {
			select {
			case <-stop:
				loadDone <- n
				return
			case <-tick.C:
			}
			for k := 0; k < 10; k++ {
				m := message(50_000 + n)
				if res := c.mstore.Append(context.Background(), &m); res.Err != nil {
					t.Errorf("append: %v", res.Err)
					loadDone <- n
					return
				}
				n++
			}
		}
	}()
	deadline := time.Now().Add(loadFor)
	var maxLagBytes int64
	var maxLagTime time.Duration
	acks := map[int64]bool{}
	for time.Now().Before(deadline) {
		st := c.master.State()
		if len(st.Slaves) != 1 {
			t.Fatalf("slaves = %d during load", len(st.Slaves))
		}
		s := st.Slaves[0]
		maxLagBytes = max(maxLagBytes, s.LagBytes)
		maxLagTime = max(maxLagTime, s.LagTime)
		acks[s.AckedOffset] = true
		time.Sleep(5 * time.Millisecond)
	}
	close(stop)
	n := <-loadDone
	t.Logf("load: %d messages, %d distinct acks sampled, max lag %d bytes / %v", n, len(acks), maxLagBytes, maxLagTime)
	if n < 100 || len(acks) < 10 {
		t.Fatalf("load too small to judge: %d messages, %d distinct acks", n, len(acks))
	}
	if maxLagTime > lagBound {
		t.Fatalf("lag time reached %v under load, bound %v", maxLagTime, lagBound)
	}
	// After the load stops the lag returns to zero.
	waitFor(t, 5*time.Second, "lag back to zero", func() bool {
		st := c.master.State()
		return len(st.Slaves) == 1 && st.Slaves[0].LagBytes == 0 && st.Slaves[0].LagTime == 0 &&
			st.Slaves[0].AckedOffset == c.mstore.MaxPhyOffset()
	})
	assertIdenticalLogs(t, c.mstore, c.sstore)

	// A stalled slave's lag grows with wall time, and recovers.
	c.mfault.stall()
	stalledAt := time.Now()
	c.put(5)
	waitFor(t, 5*time.Second, "lag time to grow while stalled", func() bool {
		st := c.master.State()
		return st.Slaves[0].LagBytes > 0 && st.Slaves[0].LagTime >= 150*time.Millisecond
	})
	// It grows with wall time: never more than the time since the stall began.
	if st := c.master.State(); st.Slaves[0].LagTime > time.Since(stalledAt) {
		t.Fatalf("lag time %v exceeds the %v since the stall", st.Slaves[0].LagTime, time.Since(stalledAt))
	}
	c.mfault.unstall()
	waitFor(t, 5*time.Second, "lag back to zero after the stall", func() bool {
		st := c.master.State()
		return len(st.Slaves) == 1 && st.Slaves[0].LagBytes == 0 && st.Slaves[0].LagTime == 0
	})
}

func TestEmptySlaveStartsAtMasterMinOffset(t *testing.T) {
	// A master whose retention already deleted its first segments: an empty slave starts at the oldest
	// retained segment and adopts it as its own base.
	c := newCluster(t, fastMasterConfig())
	var mu sync.Mutex
	now := time.Now()
	clock := func() time.Time {
		mu.Lock()
		defer mu.Unlock()
		return now
	}
	c.stopMaster()
	c.mstore = openStore(t, c.mdir, func(o *storage.Options) { o.Clock = clock })
	c.put(400)
	waitFor(t, 5*time.Second, "master flushed and dispatched", func() bool {
		return c.mstore.FlushedPhyOffset() == c.mstore.MaxPhyOffset()
	})
	mu.Lock()
	now = now.Add(73 * time.Hour) // past fileReservedTime (72 h)
	mu.Unlock()
	var rep storage.RetentionReport
	waitFor(t, 5*time.Second, "retention deletes old segments", func() bool {
		r, err := c.mstore.DeleteExpiredFiles()
		if err != nil {
			t.Fatal(err)
		}
		rep.DeletedSegments = append(rep.DeletedSegments, r.DeletedSegments...)
		return c.mstore.MinPhyOffset() > 0
	})
	minOff := c.mstore.MinPhyOffset()
	c.put(50)
	c.startMaster(listenLoopback(t))
	c.connect()
	c.waitReplicated(10 * time.Second)
	if got := c.sstore.MinPhyOffset(); got != minOff {
		t.Fatalf("slave min offset %d, want the master's %d", got, minOff)
	}
	assertIdenticalLogs(t, c.mstore, c.sstore)
	assertSameQueues(t, c.mstore, c.sstore, c.seq-1, c.seq-2, c.seq-30)
	t.Logf("master deleted %d segments; slave starts at %d", len(rep.DeletedSegments), minOff)
}

func TestLagTimeOfIdleSlaveStartsWithNewData(t *testing.T) {
	// Heartbeats far apart: a caught-up, idle slave's last report is old when new data arrives. Its lag
	// must count from the new data, not from that report.
	mcfg := fastMasterConfig()
	mcfg.HeartbeatInterval, mcfg.HousekeepingInterval = 3*time.Second, 10*time.Second
	scfg := fastSlaveConfig()
	scfg.HeartbeatInterval, scfg.HousekeepingInterval = 3*time.Second, 10*time.Second
	c := newClusterWith(t, mcfg, scfg)
	c.connect()
	c.put(5)
	c.waitReplicated(5 * time.Second)
	waitFor(t, 5*time.Second, "caught up", func() bool {
		st := c.master.State()
		return len(st.Slaves) == 1 && st.Slaves[0].LagBytes == 0
	})
	lastAck := c.master.State().Slaves[0].LastAck
	// Stay idle long enough that counting from the last report would be visibly wrong.
	waitFor(t, 5*time.Second, "idle for 300ms", func() bool { return time.Since(lastAck) >= 300*time.Millisecond })
	c.mfault.stall() // new frames do not reach the slave: the lag stays observable
	before := time.Now()
	c.put(1)
	var st MasterState
	waitFor(t, 5*time.Second, "the new data to count as lag", func() bool {
		st = c.master.State()
		return st.Slaves[0].LagBytes > 0 && st.Slaves[0].LagTime > 0
	})
	if st.Slaves[0].LastAck != lastAck {
		t.Fatalf("the slave reported meanwhile; the test needs an idle slave")
	}
	if lt, since := st.Slaves[0].LagTime, time.Since(before); lt > since {
		t.Fatalf("lag time %v, but the data is only %v old (the last report was %v ago)", lt, since, time.Since(lastAck))
	}
	c.mfault.unstall()
	c.waitReplicated(5 * time.Second)
}
