package broker

import (
	"bytes"
	"context"
	"encoding/binary"
	"fmt"
	"io"
	"net"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/gorocket/gorocket/broker/internal/message"
	"github.com/gorocket/gorocket/internal/conf"
	"github.com/gorocket/gorocket/nameserver"
	"github.com/gorocket/gorocket/remoting"
	"github.com/gorocket/gorocket/remoting/protocol"
)

// startBrokerWith starts a test broker with Options adjusted by opt (nil = none).
func startBrokerWith(t *testing.T, dir string, opt func(*Options), mutate ...func(*conf.BrokerConfig)) *testBroker {
	t.Helper()
	opts := OptionsFromConfig(testConfig(dir, mutate...))
	opts.ListenAddr = "127.0.0.1:0"
	opts.HousekeepingInterval = 100 * time.Millisecond
	if opt != nil {
		opt(&opts)
	}
	s, err := New(nil, opts)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Start(); err != nil {
		t.Fatal(err)
	}
	tb := &testBroker{Server: s, dir: dir, cl: remoting.NewClient(nil, remoting.ClientOptions{})}
	t.Cleanup(func() { tb.stop(t) })
	return tb
}

// startNameserver starts an in-process nameserver on a free loopback port.
func startNameserver(t *testing.T) string {
	t.Helper()
	o := nameserver.DefaultOptions()
	o.ListenAddr = "127.0.0.1:0"
	ns := nameserver.New(nil, o)
	if err := ns.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ns.Close() })
	return ns.Addr()
}

// registeredWith makes a broker register with the nameserver at addr every 100 ms and, as a
// slave, synchronise its metadata every 100 ms.
func registeredWith(addr string) (func(*Options), func(*conf.BrokerConfig)) {
	return func(o *Options) {
			o.RegisterPeriod = 100 * time.Millisecond
			o.SlaveSyncInterval = 100 * time.Millisecond
		}, func(c *conf.BrokerConfig) {
			c.NamesrvAddr = []string{addr}
		}
}

func role(r string) func(*conf.BrokerConfig) {
	return func(c *conf.BrokerConfig) { c.BrokerRole = r }
}

// asSlaveOf makes the config a slave (brokerId 1) of a master whose HA address is haAddr ("" =
// learn it from the nameservers).
func asSlaveOf(haAddr string) func(*conf.BrokerConfig) {
	return func(c *conf.BrokerConfig) {
		c.BrokerID, c.BrokerRole, c.HAMasterAddress = 1, conf.RoleSlave, haAddr
	}
}

func (tb *testBroker) runtime(t *testing.T) map[string]string {
	t.Helper()
	r := tb.call(t, protocol.NewRequest(protocol.ReqGetBrokerRuntimeInfo, nil, nil))
	var kv protocol.KVTable
	if r.Code != 0 {
		t.Fatalf("runtime info: %d %s", r.Code, r.Remark)
	}
	if err := protocol.DecodeJSON(r.Body, &kv); err != nil {
		t.Fatal(err)
	}
	return kv.Table
}

// waitCaughtUp waits until master reports exactly n reported slaves, the best one with no lag.
func waitCaughtUp(t *testing.T, master *testBroker, n int) {
	t.Helper()
	if err := waitFor(10*time.Second, func() error {
		rt := master.runtime(t)
		if rt["haSlaveCount"] != strconv.Itoa(n) || (n > 0 && rt["haSlaveLagBytes"] != "0") {
			return fmt.Errorf("haSlaveCount %s haSlaveLagBytes %s (max %s, acked %s)", rt["haSlaveCount"], rt["haSlaveLagBytes"],
				rt["haMasterMaxOffset"], rt["haSlaveAckOffset"])
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
}

// waitSlaveHasTopic waits until the slave's metadata sync brought topic from the master.
func waitSlaveHasTopic(t *testing.T, slave *testBroker, topic string) {
	t.Helper()
	if err := waitFor(10*time.Second, func() error {
		if _, ok := slave.topics.Get(topic); !ok {
			return fmt.Errorf("slave has no topic %s yet (masterAddr %q)", topic, slave.MasterAddr())
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
}

// pullBody pulls up to 32 messages of a queue from offset (no long polling) and returns the raw
// body, waiting until at least want messages are available.
func (tb *testBroker) pullBody(t *testing.T, topic string, qid int, off int64, want int) []byte {
	t.Helper()
	var body []byte
	if err := waitFor(10*time.Second, func() error {
		r := tb.pull(t, topic, qid, off, "*")
		if r.Code != protocol.RespSuccess {
			return fmt.Errorf("pull %s:%d@%d answered %d %s", topic, qid, off, r.Code, r.Remark)
		}
		if n := len(decodeAll(t, r.Body)); n < want {
			return fmt.Errorf("pull %s:%d@%d returned %d messages, want %d", topic, qid, off, n, want)
		}
		body = r.Body
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	return body
}

// stalledSlave speaks the HA protocol to a master: it reports offset once and then only reads
// frames, never acknowledging them (a slave whose disk or process hangs).
func stalledSlave(t *testing.T, haAddr string, offset int64) net.Conn {
	t.Helper()
	c, err := net.DialTimeout("tcp", haAddr, 3*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	var b [8]byte
	binary.BigEndian.PutUint64(b[:], uint64(offset))
	if _, err := c.Write(b[:]); err != nil {
		t.Fatal(err)
	}
	go func() { _, _ = io.Copy(io.Discard, c) }()
	t.Cleanup(func() { c.Close() })
	return c
}

// TestReplicationSyncMasterSendStatuses: a SYNC_MASTER answers SLAVE_NOT_AVAILABLE without a
// slave, SUCCESS once a slave acknowledged the bytes (which are then byte-identical on the
// slave), FLUSH_SLAVE_TIMEOUT after slaveTimeout when the slave stalls, and never waits for
// WAIT=false messages. The message is stored in every case.
func TestReplicationSyncMasterSendStatuses(t *testing.T) {
	fast, withNS := registeredWith(startNameserver(t))
	master := startBrokerWith(t, t.TempDir(), fast, withNS, role(conf.RoleSyncMaster), func(c *conf.BrokerConfig) { c.SlaveTimeout = 400 })
	createTopic(t, master, "S", 1)
	haAddr := master.haAddr()
	if rt := master.runtime(t); rt["haServerAddr"] != haAddr || rt["haRole"] != conf.RoleSyncMaster || rt["haSlaveCount"] != "0" ||
		rt["haSlaveLagBytes"] != "-1" || rt["haConnectionCount"] != "0" {
		t.Fatalf("master runtime info without slave: %v", rt)
	}

	r := master.send(t, "S", 0, "no-slave", nil)
	if r.Code != protocol.RespSlaveNotAvailable || r.ExtField("msgId") == "" || r.ExtField("queueOffset") != "0" {
		t.Fatalf("send without slave: code %d %v, want %d with a full header", r.Code, r.ExtFields, protocol.RespSlaveNotAvailable)
	}
	master.pullBody(t, "S", 0, 0, 1) // stored anyway

	slave := startBrokerWith(t, t.TempDir(), fast, withNS, asSlaveOf(haAddr)) // HA address pinned (haMasterAddress)
	waitCaughtUp(t, master, 1)
	waitSlaveHasTopic(t, slave, "S")
	for i := 0; i < 20; i++ {
		if r := master.send(t, "S", 0, "sync-"+strconv.Itoa(i), nil); r.Code != protocol.RespSuccess {
			t.Fatalf("send %d with slave: %d %s", i, r.Code, r.Remark)
		}
	}
	// A batch waits for the end of its last record.
	items := []message.BatchItem{{Body: []byte("batch-0")}, {Body: []byte("batch-1")}}
	bh := sendHeader("S", 0, nil)
	if r := master.call(t, protocol.NewRequest(protocol.ReqSendBatchMessage, protocol.EncodeSendMessageHeaderV2(*bh), message.EncodeBatch(items))); r.Code != protocol.RespSuccess {
		t.Fatalf("batch send with slave: %d %s", r.Code, r.Remark)
	}
	// Acknowledged means appended on the slave: once its dispatcher caught up, the slave serves
	// exactly the master's records.
	if rt := master.runtime(t); rt["haSlaveLagBytes"] != "0" || rt["haSlaveAckOffset"] != rt["haMasterMaxOffset"] {
		t.Fatalf("after acknowledged sends the slave lags: %v", rt)
	}
	want := master.pullBody(t, "S", 0, 0, 23)
	got := slave.pullBody(t, "S", 0, 0, 23)
	if !bytes.Equal(want, got) {
		t.Fatalf("slave records differ from the master's (%d vs %d bytes)", len(got), len(want))
	}
	if r := slave.send(t, "S", 0, "to-slave", nil); r.Code != protocol.RespServiceNotAvailable {
		t.Fatalf("send to slave: %d, want SERVICE_NOT_AVAILABLE", r.Code)
	}
	if rt := slave.runtime(t); rt["haRole"] != conf.RoleSlave || rt["haConnected"] != "true" || rt["haMasterAddress"] != haAddr ||
		rt["haMaxPhyOffset"] != rt["commitLogMaxOffset"] {
		t.Fatalf("slave runtime info: %v", rt)
	}

	// The slave goes away: new sends fail at once with SLAVE_NOT_AVAILABLE.
	slave.stop(t)
	waitCaughtUp(t, master, 0)
	start := time.Now()
	if r := master.send(t, "S", 0, "slave-gone", nil); r.Code != protocol.RespSlaveNotAvailable {
		t.Fatalf("send after slave left: %d", r.Code)
	}
	if d := time.Since(start); d > 300*time.Millisecond {
		t.Fatalf("SLAVE_NOT_AVAILABLE took %v, want an immediate answer", d)
	}

	// A slave that stops acknowledging: FLUSH_SLAVE_TIMEOUT after slaveTimeout (400 ms).
	maxOff, _ := strconv.ParseInt(master.runtime(t)["haMasterMaxOffset"], 10, 64)
	stalledSlave(t, haAddr, maxOff)
	waitCaughtUp(t, master, 1)
	start = time.Now()
	r = master.send(t, "S", 0, "stalled", nil)
	if d := time.Since(start); r.Code != protocol.RespFlushSlaveTimeout || d < 350*time.Millisecond || r.ExtField("msgId") == "" {
		t.Fatalf("send to a stalled slave: code %d after %v (%v), want FLUSH_SLAVE_TIMEOUT after ~400ms", r.Code, d, r.ExtFields)
	}
	// WAIT=false: the producer does not want to wait for flush or replication.
	start = time.Now()
	if r := master.send(t, "S", 0, "nowait", map[string]string{message.PropWaitStoreOK: "false"}); r.Code != protocol.RespSuccess {
		t.Fatalf("WAIT=false send: %d", r.Code)
	}
	if d := time.Since(start); d > 300*time.Millisecond {
		t.Fatalf("WAIT=false send took %v", d)
	}
	if rt := master.runtime(t); rt["haSlaveLagBytes"] == "0" || rt["haSlaveLagBytes"] == "-1" {
		t.Fatalf("a stalled slave must show lag: %v", rt)
	}
}

// TestReplicationAsyncMasterSlaveFollowsAndRestarts: an ASYNC_MASTER answers without a slave; a
// slave copies the commit log byte for byte (same records at the same offsets on every queue),
// and a slave restarted while the master keeps writing catches up.
func TestReplicationAsyncMasterSlaveFollowsAndRestarts(t *testing.T) {
	fast, withNS := registeredWith(startNameserver(t))
	master := startBrokerWith(t, t.TempDir(), fast, withNS, role(conf.RoleAsyncMaster))
	createTopic(t, master, "A", 4)
	if r := master.send(t, "A", 0, "before-slave", nil); r.Code != protocol.RespSuccess {
		t.Fatalf("async send without slave: %d", r.Code)
	}
	sdir := t.TempDir()
	slave := startBrokerWith(t, sdir, fast, withNS, asSlaveOf("")) // HA address from the nameserver
	waitSlaveHasTopic(t, slave, "A")
	send := func(prefix string, n int) {
		for i := 0; i < n; i++ {
			body := prefix + strconv.Itoa(i) + strings.Repeat("x", i%300)
			if r := master.send(t, "A", i%4, body, map[string]string{message.PropKeys: prefix + strconv.Itoa(i)}); r.Code != protocol.RespSuccess {
				t.Fatalf("send: %d", r.Code)
			}
		}
	}
	send("a", 120)
	waitCaughtUp(t, master, 1)
	compareQueues(t, master, slave, "A", 4)

	// Restart the slave while the master keeps writing.
	slave.stop(t)
	send("b", 80)
	slave = startBrokerWith(t, sdir, fast, withNS, asSlaveOf(""))
	send("c", 40)
	waitCaughtUp(t, master, 1)
	compareQueues(t, master, slave, "A", 4)
	if rt := slave.runtime(t); rt["haConnects"] != "1" || rt["haLastReceivedTimestamp"] == "0" {
		t.Fatalf("restarted slave runtime info: %v", rt)
	}
	// The slave built its index from the replicated records: key lookups answer as on the master.
	for _, key := range []string{"a7", "b42", "c3"} {
		if err := waitFor(10*time.Second, func() error {
			want, err := master.store.QueryByKey("A", key, 32, 0, time.Now().Add(time.Hour).UnixMilli())
			if err != nil {
				return err
			}
			got, err := slave.store.QueryByKey("A", key, 32, 0, time.Now().Add(time.Hour).UnixMilli())
			if err != nil {
				return err
			}
			if len(want.Records) != 1 || len(got.Records) != 1 || !bytes.Equal(want.Records[0], got.Records[0]) {
				return fmt.Errorf("key %s: master has %d records, slave %d (or they differ)", key, len(want.Records), len(got.Records))
			}
			return nil
		}); err != nil {
			t.Fatal(err)
		}
	}
}

// compareQueues checks that the slave serves the master's records of every queue, byte for byte.
func compareQueues(t *testing.T, master, slave *testBroker, topic string, queues int) {
	t.Helper()
	for q := 0; q < queues; q++ {
		max := master.store.MaxOffset(topic, q)
		for off := int64(0); off < max; {
			want := master.pullBody(t, topic, q, off, 1)
			n := int64(len(decodeAll(t, want)))
			got := slave.pullBody(t, topic, q, off, int(n))
			if !bytes.Equal(want, got[:len(want)]) {
				t.Fatalf("%s:%d@%d: slave records differ from the master's", topic, q, off)
			}
			off += n
		}
	}
	if a, b := master.store.MaxPhysOffset(), slave.store.MaxPhysOffset(); a != b {
		t.Fatalf("commit log ends differ: master %d, slave %d", a, b)
	}
}

// TestReplicationPullSuggestsSlave: with slaveReadEnable, a consumer far behind the commit-log end
// (more than Options.SlaveReadLagBytes) is told to pull from whichBrokerWhenConsumeSlowly (1); a
// consumer near the end, or any consumer without slaveReadEnable, from the master (0).
func TestReplicationPullSuggestsSlave(t *testing.T) {
	lag := func(o *Options) { o.SlaveReadLagBytes = 8 << 10 }
	readEnabled := startBrokerWith(t, t.TempDir(), lag, func(c *conf.BrokerConfig) { c.SlaveReadEnable = true })
	readDisabled := startBrokerWith(t, t.TempDir(), lag)
	for _, tb := range []*testBroker{readEnabled, readDisabled} {
		createTopic(t, tb, "L", 1)
		for i := 0; i < 100; i++ {
			if r := tb.send(t, "L", 0, strings.Repeat("m", 500), nil); r.Code != 0 {
				t.Fatal(r.Code)
			}
		}
		tb.pullBody(t, "L", 0, 99, 1)
	}
	suggest := func(tb *testBroker, off int64) string {
		ext := pullExt("g", "L", 0, off, protocol.PullFlagSubscription, 0, "*")
		ext["maxMsgNums"] = "1"
		r := tb.call(t, protocol.NewRequest(protocol.ReqPullMessage, ext, nil))
		if r.Code != 0 {
			t.Fatalf("pull: %d", r.Code)
		}
		return r.ExtField("suggestWhichBrokerId")
	}
	if s := suggest(readEnabled, 0); s != "1" {
		t.Fatalf("far behind with slaveReadEnable: suggestWhichBrokerId %s, want 1", s)
	}
	if s := suggest(readEnabled, 95); s != "0" {
		t.Fatalf("near the end: suggestWhichBrokerId %s, want 0", s)
	}
	if s := suggest(readDisabled, 0); s != "0" {
		t.Fatalf("slaveReadEnable=false: suggestWhichBrokerId %s, want 0", s)
	}
}

// TestReplicationSlaveMetadataSync: through a nameserver, a slave learns its master's HA and main
// addresses, follows its topics, subscription groups, consumer offsets and delay offsets, never
// delivers delayed messages itself, and forwards consumer offsets committed to it while the master
// was down once the master is back (without overwriting newer progress on the master).
func TestReplicationSlaveMetadataSync(t *testing.T) {
	fast, withNS := registeredWith(startNameserver(t))
	mdir := t.TempDir()
	master := startBrokerWith(t, mdir, fast, withNS)
	slave := startBrokerWith(t, t.TempDir(), fast, withNS, asSlaveOf(""))

	createTopic(t, master, "Meta", 4)
	gc := protocol.DefaultSubscriptionGroupConfig("G1")
	gc.RetryMaxTimes = 7
	body, _ := protocol.EncodeJSON(gc)
	if r := master.call(t, protocol.NewRequest(protocol.ReqUpdateAndCreateSubscriptionGroup, nil, body)); r.Code != 0 {
		t.Fatalf("create group: %d %s", r.Code, r.Remark)
	}
	commit := func(tb *testBroker, qid int, off int64) {
		t.Helper()
		r := tb.call(t, protocol.NewRequest(protocol.ReqUpdateConsumerOffset,
			&protocol.UpdateConsumerOffsetRequestHeader{ConsumerGroup: "G1", Topic: "Meta", QueueID: qid, CommitOffset: off}, nil))
		if r.Code != 0 {
			t.Fatalf("commit: %d", r.Code)
		}
	}
	query := func(tb *testBroker, qid int) string {
		t.Helper()
		r := tb.call(t, protocol.NewRequest(protocol.ReqQueryConsumerOffset,
			&protocol.QueryConsumerOffsetRequestHeader{ConsumerGroup: "G1", Topic: "Meta", QueueID: qid}, nil))
		return r.ExtField("offset")
	}
	commit(master, 0, 5)
	// A delayed message (level 1 = 1 s here) is delivered by the master only.
	if r := master.send(t, "Meta", 1, "delayed", map[string]string{message.PropDelayLevel: "1"}); r.Code != 0 {
		t.Fatalf("delayed send: %d", r.Code)
	}
	if err := waitFor(15*time.Second, func() error {
		if rt := slave.runtime(t); rt["masterAddr"] != master.AdvertisedAddr() || rt["haConnected"] != "true" {
			return fmt.Errorf("slave has not found its master yet: masterAddr %q haConnected %s", rt["masterAddr"], rt["haConnected"])
		}
		tc, ok := slave.topics.Get("Meta")
		if !ok || tc.ReadQueueNums != 4 {
			return fmt.Errorf("topic not synchronised: %+v %v", tc, ok)
		}
		if g, ok := slave.groups.Get("G1"); !ok || g.RetryMaxTimes != 7 {
			return fmt.Errorf("group not synchronised: %+v %v", g, ok)
		}
		if q := query(slave, 0); q != "5" {
			return fmt.Errorf("offset on slave %q, want 5", q)
		}
		if d := slave.sched.snapshot().OffsetTable[1]; d != 1 {
			return fmt.Errorf("delay offset of level 1 on slave %d, want 1", d)
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	waitCaughtUp(t, master, 1)
	if n := len(decodeAll(t, slave.pullBody(t, "Meta", 1, 0, 1))); n != 1 {
		t.Fatalf("the delayed message is on the slave %d times, want once", n)
	}
	if rt := slave.runtime(t); rt["slaveSyncTimestamp"] == "0" || rt["slaveSyncError"] != "" {
		t.Fatalf("slave sync status: %v", rt)
	}

	// The master goes down; a consumer commits to the slave.
	master.stop(t)
	commit(slave, 0, 9) // ahead of the master's 5
	commit(slave, 2, 3) // unknown to the master
	if q := query(slave, 0); q != "9" {
		t.Fatalf("slave did not keep the commit: %s", q)
	}
	// The master comes back: it learns the slave's progress instead of rewinding it.
	master = startBrokerWith(t, mdir, fast, withNS)
	if err := waitFor(15*time.Second, func() error {
		if a, b := query(master, 0), query(master, 2); a != "9" || b != "3" {
			return fmt.Errorf("master offsets q0=%s q2=%s, want 9 and 3", a, b)
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	// The master moved on (a consumer committed there); a stale commit on the slave does not
	// rewind it, and the slave adopts the master's value.
	commit(master, 0, 20)
	commit(slave, 0, 15)
	if err := waitFor(15*time.Second, func() error {
		if q := query(slave, 0); q != "20" {
			return fmt.Errorf("slave offset %s, want the master's 20", q)
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	if q := query(master, 0); q != "20" {
		t.Fatalf("master offset rewound to %s by a stale slave commit", q)
	}
	if rt := slave.runtime(t); rt["masterAddr"] != master.AdvertisedAddr() {
		t.Fatalf("slave did not follow the restarted master: %v", rt["masterAddr"])
	}
}

// TestReplicationHAListenAddr: the default HA listen address follows ListenAddr (any free port in
// tests, listenPort+1 otherwise) and is advertised with brokerIP2 and the bound port.
func TestReplicationHAListenAddr(t *testing.T) {
	for _, tt := range []struct{ listen, want string }{
		{"127.0.0.1:0", "127.0.0.1:0"},
		{":10911", ":10912"},
		{"127.0.0.1:20911", "127.0.0.1:20912"},
	} {
		c := testConfig(t.TempDir(), func(c *conf.BrokerConfig) {
			c.ListenPort, _ = strconv.Atoi(tt.listen[strings.LastIndexByte(tt.listen, ':')+1:])
			c.HAListenPort = 0 // Resolve: listenPort+1
		})
		o := OptionsFromConfig(c)
		o.ListenAddr = tt.listen
		if err := o.setDefaults(); err != nil {
			t.Fatal(err)
		}
		if o.HAListenAddr != tt.want {
			t.Errorf("listen %s: HAListenAddr %s, want %s", tt.listen, o.HAListenAddr, tt.want)
		}
	}
	tb := startBrokerWith(t, t.TempDir(), nil, func(c *conf.BrokerConfig) { c.BrokerIP2 = "10.9.8.7" })
	if a := tb.haAddr(); !strings.HasPrefix(a, "10.9.8.7:") || strings.HasSuffix(a, ":0") {
		t.Fatalf("advertised HA address %q, want 10.9.8.7:<bound port>", a)
	}
}

// TestReplicationWarnLimiter: one warning per interval, reporting how many were held back.
func TestReplicationWarnLimiter(t *testing.T) {
	var l logLimiter
	t0 := time.Unix(1000, 0)
	if n, ok := l.allow(t0); !ok || n != 0 {
		t.Fatalf("first: %d %v", n, ok)
	}
	for i := 0; i < 3; i++ {
		if _, ok := l.allow(t0.Add(time.Duration(i) * 100 * time.Millisecond)); ok {
			t.Fatalf("call %d within the interval was let through", i)
		}
	}
	if n, ok := l.allow(t0.Add(replicaWarnInterval)); !ok || n != 3 {
		t.Fatalf("after the interval: %d %v, want 3 suppressed", n, ok)
	}
}

// TestReplicationCloseAnswersPendingSyncSends: a SYNC_MASTER shutting down still answers the sends
// it stored and is waiting to see replicated (here: FLUSH_SLAVE_TIMEOUT from a stalled slave)
// before it closes the connections, and refuses new sends meanwhile.
func TestReplicationCloseAnswersPendingSyncSends(t *testing.T) {
	master := startBrokerWith(t, t.TempDir(), nil, role(conf.RoleSyncMaster), func(c *conf.BrokerConfig) { c.SlaveTimeout = 600 })
	createTopic(t, master, "C", 1)
	maxOff, _ := strconv.ParseInt(master.runtime(t)["haMasterMaxOffset"], 10, 64)
	stalledSlave(t, master.haAddr(), maxOff)
	waitCaughtUp(t, master, 1)
	addr := master.Addr().String()
	got := make(chan *protocol.RemotingCommand, 1)
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		resp, err := master.cl.Invoke(ctx, addr, protocol.NewRequest(protocol.ReqSendMessage, sendHeader("C", 0, nil), []byte("pending")))
		if err != nil {
			resp = protocol.NewResponse(-1, err.Error())
		}
		got <- resp
	}()
	if err := waitFor(5*time.Second, func() error {
		master.pendingReplies.mu.Lock()
		defer master.pendingReplies.mu.Unlock()
		if master.pendingReplies.n != 1 {
			return fmt.Errorf("%d sends waiting for the slave", master.pendingReplies.n)
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	closed := make(chan error, 1)
	go func() { closed <- master.Server.Close() }()
	if err := waitFor(5*time.Second, func() error {
		if !master.closing.Load() {
			return fmt.Errorf("not closing yet")
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	if r := master.send(t, "C", 0, "during-close", nil); r.Code != protocol.RespServiceNotAvailable {
		t.Fatalf("send during shutdown: %d %s, want SERVICE_NOT_AVAILABLE", r.Code, r.Remark)
	}
	select {
	case r := <-got:
		if r.Code != protocol.RespFlushSlaveTimeout || r.ExtField("msgId") == "" {
			t.Fatalf("pending send answered %d %q, want FLUSH_SLAVE_TIMEOUT with its header", r.Code, r.Remark)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("pending send never answered")
	}
	if err := <-closed; err != nil {
		t.Fatal(err)
	}
}
