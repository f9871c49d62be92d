package replication

import (
	"context"
	"fmt"
	"syscall"
	"testing"
	"time"

	"github.com/gorocket/gorocket/internal/conf"
	"github.com/gorocket/gorocket/test/cluster"
)

// lagSample is the master's view of its best slave at one moment.
type lagSample struct {
	bytes, millis int64
}

// sampleLag polls the master's runtime info every 50 ms until stop is closed and returns the
// samples; a sample without a reported slave fails the test.
func sampleLag(t *testing.T, c *cluster.Cluster, addr string, stop <-chan struct{}) <-chan []lagSample {
	out := make(chan []lagSample, 1)
	go func() {
		var samples []lagSample
		defer func() { out <- samples }()
		tick := time.NewTicker(50 * time.Millisecond)
		defer tick.Stop()
		for {
			select {
			case <-stop:
				return
			case <-tick.C:
			}
			info, err := rt(c, addr)
			if err != nil {
				t.Errorf("runtime info: %v", err)
				return
			}
			b, err1 := rtInt(info, "haSlaveLagBytes")
			ms, err2 := rtInt(info, "haSlaveLagMillis")
			if err1 != nil || err2 != nil || info["haSlaveCount"] != "1" || b < 0 || ms < 0 || info["haSlaveLagSeconds"] == "" {
				t.Errorf("runtime info without a reported slave: %v %v %v", info, err1, err2)
				return
			}
			samples = append(samples, lagSample{b, ms})
		}
	}()
	return out
}

// TestAsyncMasterLagReportedAndBounded: under 5 s of load from 16 producers an ASYNC_MASTER's
// runtime info reports its slave's lag (bytes, milliseconds, seconds) at every sample, and the lag
// stays bounded; a slave paused with SIGSTOP shows a lag that grows with the pause, and after
// SIGCONT and the end of the load the lag returns to 0 with identical commit-log ends.
func TestAsyncMasterLagReportedAndBounded(t *testing.T) {
	t.Parallel()
	c := startCluster(t, cluster.Options{Masters: 1, Slaves: 1, Mode: "async"})
	master, slave := c.Broker("broker-a-0"), c.Broker("broker-a-1")
	const topic = "AsyncLag"
	createTopic(t, c, topic, 4)
	p := newProducer(t, c)

	// Phase 1: steady load, slave running.
	stop := make(chan struct{})
	samples := sampleLag(t, c, master.Addr, stop)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	load := produceSized(ctx, p, topic, "load", 10_000_000, 16, 1024)
	cancel()
	close(stop)
	got := <-samples
	ok := load.ok
	if load.failed > 0 || len(ok) < 1000 {
		t.Fatalf("load: %d SEND_OK, %d failed (%s)", len(ok), load.failed, load.firstErr)
	}
	var maxBytes, maxMillis int64
	for _, s := range got {
		maxBytes, maxMillis = max(maxBytes, s.bytes), max(maxMillis, s.millis)
	}
	t.Logf("ASYNC load: %d messages of 1 KiB in 5 s; %d lag samples, max lag %d bytes / %d ms", len(ok), len(got), maxBytes, maxMillis)
	if len(got) < 20 {
		t.Fatalf("only %d lag samples in 5 s", len(got))
	}
	// Bounded: well below a second of this load and far below haSlaveFallbehindMax.
	if maxBytes > 16<<20 || maxMillis > 2000 {
		t.Fatalf("slave lag not bounded under load: max %d bytes, %d ms", maxBytes, maxMillis)
	}
	waitSlavesCaughtUp(t, c, master.Addr, 1, 20*time.Second)

	// Phase 2: the slave is paused while the master keeps taking writes: the reported lag grows.
	c.Signal(slave.Name, syscall.SIGSTOP)
	paused := time.Now()
	pctx, pcancel := context.WithTimeout(context.Background(), 1500*time.Millisecond)
	produceSized(pctx, p, topic, "paused", 10_000_000, 4, 1024)
	pcancel()
	info, err := rt(c, master.Addr)
	if err != nil {
		t.Fatal(err)
	}
	lagB, _ := rtInt(info, "haSlaveLagBytes")
	lagMs, _ := rtInt(info, "haSlaveLagMillis")
	pausedFor := time.Since(paused)
	c.Signal(slave.Name, syscall.SIGCONT)
	t.Logf("slave paused %v: lag %d bytes, %d ms (haSlaveLagSeconds=%s)", pausedFor, lagB, lagMs, info["haSlaveLagSeconds"])
	if lagB <= 0 || lagMs < 1000 || lagMs > pausedFor.Milliseconds()+500 {
		t.Fatalf("paused slave: lag %d bytes / %d ms after a %v pause", lagB, lagMs, pausedFor)
	}
	waitSlavesCaughtUp(t, c, master.Addr, 1, 20*time.Second)
	mi, err := rt(c, master.Addr)
	if err != nil {
		t.Fatal(err)
	}
	si, err := rt(c, slave.Addr)
	if err != nil {
		t.Fatal(err)
	}
	if mi["commitLogMaxOffset"] != si["commitLogMaxOffset"] || si["haMaxPhyOffset"] != si["commitLogMaxOffset"] {
		t.Fatalf("commit-log ends differ: master %s, slave %s (haMaxPhyOffset %s)", mi["commitLogMaxOffset"], si["commitLogMaxOffset"], si["haMaxPhyOffset"])
	}
	if si["haRole"] != conf.RoleSlave || si["haConnected"] != "true" || si["masterAddr"] != master.Addr || si["haMasterAddress"] != mi["haServerAddr"] {
		t.Fatalf("slave runtime info: %v (master haServerAddr %s)", si, mi["haServerAddr"])
	}
}

// TestAsyncSlaveAndMasterRestartsResume: a SIGKILLed slave restarted after the master took
// thousands more messages catches up; after a master restart the slave reconnects and follows the
// new writes. Every queue then holds the same messages at the same offsets on both.
func TestAsyncSlaveAndMasterRestartsResume(t *testing.T) {
	t.Parallel()
	c := startCluster(t, cluster.Options{Masters: 1, Slaves: 1, Mode: "async"})
	master, slave := c.Broker("broker-a-0"), c.Broker("broker-a-1")
	const topic = "AsyncRestart"
	createTopic(t, c, topic, 4)
	p := newProducer(t, c)
	ctx := context.Background()
	send := func(prefix string, n int) {
		t.Helper()
		if r := produceSized(ctx, p, topic, prefix, n, 8, 200); r.failed > 0 || len(r.ok) != n {
			t.Fatalf("%s: %d SEND_OK, %d failed (%s)", prefix, len(r.ok), r.failed, r.firstErr)
		}
	}
	send("before", 2000)
	c.Kill(slave.Name)
	waitSlavesCaughtUp(t, c, master.Addr, 0, 20*time.Second)
	send("while-slave-down", 3000) // an ASYNC_MASTER does not need its slave
	if info, err := rt(c, master.Addr); err != nil || info["haSlaveLagBytes"] != "-1" || info["haConnectionCount"] != "0" {
		t.Fatalf("master without slave: %v %v", info, err)
	}
	c.Restart(slave.Name)
	waitSlavesCaughtUp(t, c, master.Addr, 1, 30*time.Second)
	compareBrokers(t, master.Addr, slave.Addr, topic, 4, 5000)

	c.Term(master.Name)
	c.Restart(master.Name)
	send("after-master-restart", 1000)
	waitSlavesCaughtUp(t, c, master.Addr, 1, 30*time.Second)
	compareBrokers(t, master.Addr, slave.Addr, topic, 4, 6000)
	si, err := rt(c, slave.Addr)
	if err != nil {
		t.Fatal(err)
	}
	if n, _ := rtInt(si, "haConnects"); n < 2 {
		t.Fatalf("slave connects %d, want a reconnect after the master restart", n)
	}
}

// compareBrokers checks that every queue of topic holds the same messages (bodies, offsets, ids)
// on both brokers, total messages in all.
func compareBrokers(t *testing.T, masterAddr, slaveAddr, topic string, queues, total int) {
	t.Helper()
	n := 0
	for q := 0; q < queues; q++ {
		want := pullQueue(t, masterAddr, topic, q)
		var got []string
		// The slave's consume queue is dispatched just after its commit log caught up: poll.
		cluster.Eventually(t, 10*time.Second, fmt.Sprintf("queue %d dispatched on the slave", q), func() error {
			got = got[:0]
			for _, m := range pullQueue(t, slaveAddr, topic, q) {
				got = append(got, fmt.Sprintf("%d/%s/%s", m.QueueOffset, m.OffsetMsgID, m.Body))
			}
			if len(got) != len(want) {
				return fmt.Errorf("slave has %d messages, master %d", len(got), len(want))
			}
			return nil
		})
		for i, m := range want {
			if w := fmt.Sprintf("%d/%s/%s", m.QueueOffset, m.OffsetMsgID, m.Body); got[i] != w {
				t.Fatalf("queue %d #%d: slave %q, master %q", q, i, got[i], w)
			}
		}
		n += len(want)
	}
	if n != total {
		t.Fatalf("%d messages in %s, want %d", n, topic, total)
	}
}
