package ha

import (
	"bytes"
	"context"
	"fmt"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/gorocket/gorocket/storage"
)

// This file is the storage-backed test harness: a master Store and a slave Store in temp dirs, a Master
// and a Slave over loopback, with fault injection on both sides of the connection.

const testSegmentSize = 64 << 10 // small segments: replication crosses many segment ends (blank records)

var (
	testTopics    = []string{"TopicA", "TopicB"}
	testQueues    = int32(4)
	testBornHost  = netip.MustParseAddrPort("192.168.0.7:51234")
	testStoreHost = netip.MustParseAddrPort("127.0.0.1:10911")
)

func storeOptions(dir string) storage.Options {
	o := storage.DefaultOptions()
	o.StorePathRootDir = dir
	o.MaxMessageSize = 8 << 10
	o.MappedFileSizeCommitLog = testSegmentSize
	o.ConsumeQueueEntriesPerFile = 256
	o.MaxHashSlotNum = 256
	o.MaxIndexNum = 4096
	o.FlushIntervalCommitLog = 10 * time.Millisecond
	o.FlushIntervalConsumeQueue = 20 * time.Millisecond
	o.CleanResourceInterval = time.Hour
	o.CommitBufferSize = 64 << 10
	o.TotalPhysicalMemory = 1 << 30
	o.WarmCommitLogSegments = false
	// The test machine's disk usage must not make appends fail.
	o.DiskMaxUsedSpaceRatio, o.DiskCleanForciblyRatio, o.DiskHardLimitRatio = 100, 100, 100
	return o
}

func openStore(t testing.TB, dir string, mutate ...func(*storage.Options)) *storage.Store {
	t.Helper()
	o := storeOptions(dir)
	for _, f := range mutate {
		f(&o)
	}
	s, err := storage.Open(nil, o)
	if err != nil {
		t.Fatalf("open store %s: %v", dir, err)
	}
	return s
}

// cluster is one master/slave pair. Fields are replaced when a side restarts; only the test goroutine
// restarts sides.
type cluster struct {
	t          testing.TB
	mdir, sdir string
	mstore     *storage.Store
	sstore     *storage.Store
	master     *Master
	slave      *Slave
	haAddr     string
	mcfg       MasterConfig
	scfg       SlaveConfig
	mfault     *faultCtl // master's accepted connections: frames
	sfault     *faultCtl // slave's dialled connections: reports
	seq        int       // messages put so far
}

func newCluster(t testing.TB, mcfg MasterConfig) *cluster {
	t.Helper()
	c := newBareCluster(t, mcfg)
	c.startSlave(false)
	return c
}

// newBareCluster opens both stores and starts the master, but not the slave.
func newBareCluster(t testing.TB, mcfg MasterConfig) *cluster {
	t.Helper()
	root := t.TempDir()
	c := &cluster{
		t:      t,
		mdir:   filepath.Join(root, "master"),
		sdir:   filepath.Join(root, "slave"),
		mcfg:   mcfg,
		scfg:   fastSlaveConfig(),
		mfault: &faultCtl{},
		sfault: &faultCtl{},
	}
	c.mstore = openStore(t, c.mdir)
	c.startMaster(listenLoopback(t))
	c.sstore = openStore(t, c.sdir)
	t.Cleanup(c.shutdown)
	return c
}

// newClusterWith is newCluster with a custom slave configuration.
func newClusterWith(t testing.TB, mcfg MasterConfig, scfg SlaveConfig) *cluster {
	t.Helper()
	c := newBareCluster(t, mcfg)
	c.scfg = scfg
	c.startSlave(false)
	return c
}

func (c *cluster) startMaster(ln net.Listener) {
	c.t.Helper()
	m, err := NewMaster(testLogger(c.t, "side", "master"), c.mstore, faultListener{Listener: ln, ctl: c.mfault}, c.mcfg)
	if err != nil {
		c.t.Fatalf("NewMaster: %v", err)
	}
	c.master = m
	c.haAddr = m.Addr().String()
}

// startSlave starts the Slave on c.sstore; connect points it at the master at once.
func (c *cluster) startSlave(connect bool) {
	c.t.Helper()
	cfg := c.scfg
	cfg.Dial = faultDial(c.sfault)
	s, err := NewSlave(testLogger(c.t, "side", "slave"), c.sstore, cfg)
	if err != nil {
		c.t.Fatalf("NewSlave: %v", err)
	}
	c.slave = s
	if connect {
		s.SetMasterAddress(c.haAddr)
	}
}

func (c *cluster) connect() { c.slave.SetMasterAddress(c.haAddr) }

// stopSlave closes the Slave and then its store (the order the broker must use).
func (c *cluster) stopSlave() {
	c.t.Helper()
	if c.slave != nil {
		_ = c.slave.Close()
		c.slave = nil
	}
	if c.sstore != nil {
		if err := c.sstore.Close(); err != nil {
			c.t.Fatalf("close slave store: %v", err)
		}
		c.sstore = nil
	}
}

func (c *cluster) stopMaster() {
	c.t.Helper()
	if c.master != nil {
		_ = c.master.Close()
		c.master = nil
	}
	if c.mstore != nil {
		if err := c.mstore.Close(); err != nil {
			c.t.Fatalf("close master store: %v", err)
		}
		c.mstore = nil
	}
}

func (c *cluster) shutdown() {
	c.mfault.unstall()
	c.sfault.unstall()
	if c.slave != nil {
		_ = c.slave.Close()
	}
	if c.master != nil {
		_ = c.master.Close()
	}
	if c.sstore != nil {
		_ = c.sstore.Close()
	}
	if c.mstore != nil {
		_ = c.mstore.Close()
	}
}

// message builds the i-th test message: topic and queue round robin, a deterministic body of
// 100..2099 bytes (frames end inside records), tags and a key for the index.
func message(i int) storage.Message {
	size := 100 + (i*7919)%2000
	body := make([]byte, size)
	for j := range body {
		body[j] = byte(i + j*31)
	}
	topic := testTopics[i%len(testTopics)]
	return storage.Message{
		Topic:   topic,
		QueueID: int32(i/len(testTopics)) % testQueues,
		Body:    body,
		Properties: storage.EncodeProperties(map[string]string{
			"TAGS": fmt.Sprintf("tag%d", i%3),
			"KEYS": fmt.Sprintf("key-%d", i),
		}),
		BornTimestamp: time.Now().UnixMilli(),
		BornHost:      testBornHost,
		StoreHost:     testStoreHost,
	}
}

// put appends n messages on the master and returns the end offset of the last one.
func (c *cluster) put(n int) int64 {
	c.t.Helper()
	var end int64
	for k := 0; k < n; k++ {
		m := message(c.seq)
		c.seq++
		res := c.mstore.Append(context.Background(), &m)
		if res.Status != storage.PutOK {
			c.t.Fatalf("append %d: %v %v", c.seq-1, res.Status, res.Err)
		}
		end = res.PhysicalOffset + int64(res.WroteBytes)
	}
	return end
}

// waitReplicated waits until the slave's commit log ends where the master's does.
func (c *cluster) waitReplicated(timeout time.Duration) {
	c.t.Helper()
	want := c.mstore.MaxPhyOffset()
	waitFor(c.t, timeout, fmt.Sprintf("slave max offset to reach %d", want), func() bool {
		return c.sstore.MaxPhyOffset() == want
	})
	// The slave's report of that offset may still be on its way to the master.
	if c.master != nil {
		waitFor(c.t, timeout, fmt.Sprintf("master to see offset %d acknowledged", want), func() bool {
			return c.master.State().ReplicatedOffset >= want
		})
	}
}

// assertIdenticalLogs compares both commit logs over the master's whole retained range, through
// ReadRaw (what readers and the dispatcher see).
func assertIdenticalLogs(t testing.TB, m, s *storage.Store) {
	t.Helper()
	lo, hi := m.MinPhyOffset(), m.MaxPhyOffset()
	if got := s.MaxPhyOffset(); got != hi {
		t.Fatalf("slave max offset %d, master %d", got, hi)
	}
	waitFor(t, 5*time.Second, "both commit logs committed", func() bool {
		return m.CommittedPhyOffset() == hi && s.CommittedPhyOffset() == hi
	})
	for off := lo; off < hi; {
		mb, err := m.ReadRaw(off, 1<<20)
		if err != nil {
			t.Fatalf("master ReadRaw(%d): %v", off, err)
		}
		sb, err := s.ReadRaw(off, len(mb.Data))
		if err != nil {
			mb.Release()
			t.Fatalf("slave ReadRaw(%d): %v", off, err)
		}
		if len(mb.Data) == 0 || !bytes.Equal(mb.Data, sb.Data) {
			mb.Release()
			sb.Release()
			t.Fatalf("commit logs differ in [%d, %d) (master %d bytes, slave %d bytes)", off, off+int64(len(mb.Data)), len(mb.Data), len(sb.Data))
		}
		off += int64(len(mb.Data))
		mb.Release()
		sb.Release()
	}
}

// assertSameQueues checks that the slave's consume queues answer GetMessages exactly like the
// master's, for every test topic and queue, and that key lookups through the index agree for the
// given message numbers (default: a few early ones).
func assertSameQueues(t testing.TB, m, s *storage.Store, keys ...int) {
	t.Helper()
	for _, topic := range testTopics {
		for q := int32(0); q < testQueues; q++ {
			mlo, mhi, mok := m.QueueOffsets(topic, q)
			waitFor(t, 5*time.Second, fmt.Sprintf("slave dispatch of %s/%d to %d", topic, q, mhi), func() bool {
				_, shi, _ := s.QueueOffsets(topic, q)
				return shi == mhi
			})
			slo, shi, sok := s.QueueOffsets(topic, q)
			if mok != sok || mlo != slo || mhi != shi {
				t.Fatalf("%s/%d offsets: master [%d,%d) %v, slave [%d,%d) %v", topic, q, mlo, mhi, mok, slo, shi, sok)
			}
			for off := mlo; off < mhi; {
				mr, err := m.GetMessages(topic, q, off, 32, 0, nil)
				if err != nil {
					t.Fatal(err)
				}
				sr, err := s.GetMessages(topic, q, off, 32, 0, nil)
				if err != nil {
					t.Fatal(err)
				}
				if mr.Status != sr.Status || mr.NextBeginOffset != sr.NextBeginOffset || len(mr.Messages) != len(sr.Messages) ||
					mr.MinOffset != sr.MinOffset || mr.MaxOffset != sr.MaxOffset {
					t.Fatalf("%s/%d@%d: master %v next %d (%d msgs), slave %v next %d (%d msgs)", topic, q, off,
						mr.Status, mr.NextBeginOffset, len(mr.Messages), sr.Status, sr.NextBeginOffset, len(sr.Messages))
				}
				for i := range mr.Messages {
					a, b := mr.Messages[i], sr.Messages[i]
					if a.PhysicalOffset != b.PhysicalOffset || a.QueueOffset != b.QueueOffset || a.TagsCode != b.TagsCode || !bytes.Equal(a.Data, b.Data) {
						t.Fatalf("%s/%d@%d: message %d differs", topic, q, off, i)
					}
				}
				if mr.NextBeginOffset <= off {
					t.Fatalf("%s/%d@%d: no progress (status %v)", topic, q, off, mr.Status)
				}
				off = mr.NextBeginOffset
				mr.Release()
				sr.Release()
			}
		}
	}
	// The slave's dispatcher also built the index from the replicated bytes.
	if len(keys) == 0 {
		keys = []int{0, 1, 17}
	}
	for _, i := range keys {
		topic := testTopics[i%len(testTopics)]
		key := fmt.Sprintf("key-%d", i)
		mq, err := m.QueryMessages(topic, key, 8, 0, 1<<62)
		if err != nil {
			t.Fatal(err)
		}
		var sq *storage.QueryResult
		waitFor(t, 5*time.Second, "slave index lookup of "+key, func() bool {
			sq.Release()
			sq, err = s.QueryMessages(topic, key, 8, 0, 1<<62)
			return err == nil && len(sq.Messages) == len(mq.Messages)
		})
		if len(mq.Messages) != 1 || mq.Messages[0].PhysicalOffset != sq.Messages[0].PhysicalOffset {
			t.Fatalf("index lookup of %s: master %d hits, slave %d hits", key, len(mq.Messages), len(sq.Messages))
		}
		mq.Release()
		sq.Release()
	}
}

// assertIdenticalFiles compares the commit-log segment files holding [0, end) on disk (both stores
// closed). Segments at or beyond end may be pre-allocated on one side only; they hold zeros.
func assertIdenticalFiles(t testing.TB, mdir, sdir string, end int64) {
	t.Helper()
	list := func(dir string) []string {
		ents, err := os.ReadDir(filepath.Join(dir, "commitlog"))
		if err != nil {
			t.Fatal(err)
		}
		var names []string
		for _, e := range ents {
			var start int64
			if _, err := fmt.Sscanf(e.Name(), "%020d", &start); err != nil || len(e.Name()) != 20 {
				continue // .broken copies and the like
			}
			if start < end {
				names = append(names, e.Name())
			}
		}
		return names
	}
	mn, sn := list(mdir), list(sdir)
	if fmt.Sprint(mn) != fmt.Sprint(sn) {
		t.Fatalf("segment files differ: master %v, slave %v", mn, sn)
	}
	if len(mn) < 2 {
		t.Fatalf("only %d segment files; the test should cross segment ends", len(mn))
	}
	for _, name := range mn {
		a, err := os.ReadFile(filepath.Join(mdir, "commitlog", name))
		if err != nil {
			t.Fatal(err)
		}
		b, err := os.ReadFile(filepath.Join(sdir, "commitlog", name))
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(a, b) {
			t.Fatalf("segment %s differs (master %d bytes, slave %d bytes)", name, len(a), len(b))
		}
	}
}
