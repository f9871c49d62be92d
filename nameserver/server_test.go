package nameserver

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"net"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/gorocket/gorocket/internal/conf"
	"github.com/gorocket/gorocket/remoting"
	"github.com/gorocket/gorocket/remoting/protocol"
)

func testOptions() Options {
	o := DefaultOptions()
	o.ListenAddr = "127.0.0.1:0"
	return o
}

func startNS(t *testing.T, opts Options) *Server {
	t.Helper()
	s := New(nil, opts)
	if err := s.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

func newClient(t *testing.T) *remoting.Client {
	c := remoting.NewClient(nil, remoting.ClientOptions{RequestTimeout: 5 * time.Second})
	t.Cleanup(func() { c.Close() })
	return c
}

func ctxT(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	t.Cleanup(cancel)
	return ctx
}

func waitFor(t *testing.T, timeout time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %v waiting for %s", timeout, what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// wireBroker registers with a nameserver over the protocol, like a real broker.
type wireBroker struct {
	cli      *remoting.Client
	ns       string
	cluster  string
	name     string
	addr     string
	id       int64
	wrapper  protocol.TopicConfigSerializeWrapper
	compress bool
}

func newWireBroker(t *testing.T, ns, name, addr string, id int64, tcs ...protocol.TopicConfig) *wireBroker {
	return &wireBroker{cli: newClient(t), ns: ns, cluster: "DefaultCluster", name: name, addr: addr, id: id, wrapper: topics(1, tcs...)}
}

func (b *wireBroker) registerCmd() *protocol.RemotingCommand {
	body, err := protocol.EncodeRegisterBrokerBody(&protocol.RegisterBrokerBody{TopicConfigSerializeWrapper: b.wrapper}, b.compress)
	if err != nil {
		panic(err)
	}
	return protocol.NewRequest(protocol.ReqRegisterBroker, &protocol.RegisterBrokerRequestHeader{
		BrokerName: b.name, BrokerAddr: b.addr, ClusterName: b.cluster, HAServerAddr: b.addr + "-ha",
		BrokerID: b.id, Compressed: b.compress, BodyCrc32: protocol.MaskedCRC32(body),
	}, body)
}

func (b *wireBroker) register(t *testing.T) *protocol.RemotingCommand {
	t.Helper()
	resp, err := b.cli.Invoke(ctxT(t), b.ns, b.registerCmd())
	if err != nil {
		t.Fatal(err)
	}
	if resp.Code != protocol.RespSuccess {
		t.Fatalf("register %s: %s", b.addr, resp)
	}
	return resp
}

func call(t *testing.T, c *remoting.Client, addr string, code int32, header any, body []byte) *protocol.RemotingCommand {
	t.Helper()
	resp, err := c.Invoke(ctxT(t), addr, protocol.NewRequest(code, header, body))
	if err != nil {
		t.Fatal(err)
	}
	return resp
}

func route(t *testing.T, c *remoting.Client, ns, topic string) *protocol.RemotingCommand {
	t.Helper()
	return call(t, c, ns, protocol.ReqGetRouteInfoByTopic, &protocol.GetRouteInfoRequestHeader{Topic: topic}, nil)
}

func TestServerRegisterAndRoute(t *testing.T) {
	ns := startNS(t, testOptions())
	master := newWireBroker(t, ns.Addr(), "broker-a", "10.0.0.5:10911", 0, tbw102, topicA)
	if resp := master.register(t); resp.ExtField("masterAddr") != "" || len(resp.Body) != 0 {
		t.Fatalf("master response %s", resp)
	}
	slave := newWireBroker(t, ns.Addr(), "broker-a", "10.0.0.6:10911", 1, tbw102, topicA)
	resp := slave.register(t)
	if resp.ExtField("masterAddr") != "10.0.0.5:10911" || resp.ExtField("haServerAddr") != "10.0.0.5:10911-ha" {
		t.Fatalf("slave response %s", resp)
	}

	cli := newClient(t)
	r := route(t, cli, ns.Addr(), "TopicA")
	want := `{"queueDatas":[{"brokerName":"broker-a","readQueueNums":4,"writeQueueNums":4,"perm":6,"topicSysFlag":0}],` +
		`"brokerDatas":[{"cluster":"DefaultCluster","brokerName":"broker-a","brokerAddrs":{"0":"10.0.0.5:10911","1":"10.0.0.6:10911"}}],` +
		`"filterServerTable":{}}`
	if r.Code != protocol.RespSuccess || string(r.Body) != want {
		t.Fatalf("route:\n got %s %s\nwant %s", r, r.Body, want)
	}
	if r.Version != protocol.CurrentVersion {
		t.Fatalf("response version %d", r.Version)
	}

	nf := route(t, cli, ns.Addr(), "NoSuchTopic")
	if nf.Code != protocol.RespTopicNotExist || nf.Remark != "No topic route info in name server for the topic: NoSuchTopic"+faqSuffix || len(nf.Body) != 0 {
		t.Fatalf("unknown topic: %s", nf)
	}

	// Cluster info and topic lists.
	var ci protocol.ClusterInfo
	if err := protocol.DecodeJSON(call(t, cli, ns.Addr(), protocol.ReqGetBrokerClusterInfo, nil, nil).Body, &ci); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(ci.ClusterAddrTable, map[string][]string{"DefaultCluster": {"broker-a"}}) || len(ci.BrokerAddrTable["broker-a"].BrokerAddrs) != 2 {
		t.Fatalf("cluster info %+v", ci)
	}
	var tl protocol.TopicList
	if err := protocol.DecodeJSON(call(t, cli, ns.Addr(), protocol.ReqGetAllTopicListFromNameserver, nil, nil).Body, &tl); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(tl.TopicList, []string{"TBW102", "TopicA"}) {
		t.Fatalf("topic list %+v", tl)
	}
	tl = protocol.TopicList{}
	if err := protocol.DecodeJSON(call(t, cli, ns.Addr(), protocol.ReqGetTopicsByCluster, &protocol.GetTopicsByClusterRequestHeader{Cluster: "DefaultCluster"}, nil).Body, &tl); err != nil || len(tl.TopicList) != 2 {
		t.Fatalf("topics by cluster %+v %v", tl, err)
	}
	tl = protocol.TopicList{}
	if err := protocol.DecodeJSON(call(t, cli, ns.Addr(), protocol.ReqGetSystemTopicListFromNS, nil, nil).Body, &tl); err != nil ||
		!reflect.DeepEqual(tl.TopicList, []string{"DefaultCluster", "broker-a"}) || tl.BrokerAddr != "10.0.0.5:10911" {
		t.Fatalf("system topics %+v %v", tl, err)
	}

	// Delete the topic; the route is gone.
	if r := call(t, cli, ns.Addr(), protocol.ReqDeleteTopicInNamesrv, &protocol.DeleteTopicFromNamesrvRequestHeader{Topic: "TopicA"}, nil); r.Code != protocol.RespSuccess {
		t.Fatalf("delete: %s", r)
	}
	if r := route(t, cli, ns.Addr(), "TopicA"); r.Code != protocol.RespTopicNotExist {
		t.Fatalf("after delete: %s", r)
	}

	// Unregister the master: the slave keeps broker-a in the route of TBW102.
	if r := call(t, cli, ns.Addr(), protocol.ReqUnregisterBroker, &protocol.UnregisterBrokerRequestHeader{
		BrokerName: "broker-a", BrokerAddr: "10.0.0.5:10911", ClusterName: "DefaultCluster", BrokerID: 0}, nil); r.Code != protocol.RespSuccess {
		t.Fatalf("unregister: %s", r)
	}
	if r := route(t, cli, ns.Addr(), "TBW102"); !bytes.Contains(r.Body, []byte(`"brokerAddrs":{"1":"10.0.0.6:10911"}`)) {
		t.Fatalf("after unregister: %s", r.Body)
	}
}

func TestServerRegisterBodyForms(t *testing.T) {
	ns := startNS(t, testOptions())
	cli := newClient(t)

	// zlib-compressed body (compressedRegister=true).
	b := newWireBroker(t, ns.Addr(), "broker-z", "z:1", 0, tc("Zipped", 3, 6))
	b.compress = true
	b.register(t)
	if r := route(t, cli, ns.Addr(), "Zipped"); r.Code != protocol.RespSuccess || !bytes.Contains(r.Body, []byte(`"writeQueueNums":3`)) {
		t.Fatalf("compressed registration: %s %s", r, r.Body)
	}

	// CRC mismatch.
	cmd := newWireBroker(t, ns.Addr(), "broker-c", "c:1", 0, tc("Bad", 1, 6)).registerCmd()
	cmd.SetExtField("bodyCrc32", "12345")
	resp, err := cli.Invoke(ctxT(t), ns.Addr(), cmd)
	if err != nil || resp.Code != protocol.RespSystemError || resp.Remark != "crc32 not match" {
		t.Fatalf("crc mismatch: %v %v", resp, err)
	}
	if r := route(t, cli, ns.Addr(), "Bad"); r.Code != protocol.RespTopicNotExist {
		t.Fatal("a registration with a bad CRC was applied")
	}
	// bodyCrc32 0 disables the check.
	cmd.SetExtField("bodyCrc32", "0")
	if resp, err := cli.Invoke(ctxT(t), ns.Addr(), cmd); err != nil || resp.Code != protocol.RespSuccess {
		t.Fatalf("crc 0: %v %v", resp, err)
	}

	// A pre-3.0.11 broker sends the bare TopicConfigSerializeWrapper.
	wrapper, _ := json.Marshal(topics(1, tc("Legacy", 2, 6)))
	old := protocol.NewRequest(protocol.ReqRegisterBroker, &protocol.RegisterBrokerRequestHeader{
		BrokerName: "broker-old", BrokerAddr: "old:1", ClusterName: "DefaultCluster", HAServerAddr: "", BrokerID: 0}, wrapper)
	old.Version = 36
	if resp, err := cli.Invoke(ctxT(t), ns.Addr(), old); err != nil || resp.Code != protocol.RespSuccess {
		t.Fatalf("legacy body: %v %v", resp, err)
	}
	if r := route(t, cli, ns.Addr(), "Legacy"); r.Code != protocol.RespSuccess {
		t.Fatalf("legacy route: %s", r)
	}

	// A missing required header field and an undecodable body are SYSTEM_ERROR.
	noName := protocol.NewRequest(protocol.ReqRegisterBroker, map[string]string{"brokerAddr": "x:1"}, nil)
	if resp, _ := cli.Invoke(ctxT(t), ns.Addr(), noName); resp.Code != protocol.RespSystemError || !strings.Contains(resp.Remark, `"brokerName"`) {
		t.Fatalf("missing field: %s", resp)
	}
	garbage := newWireBroker(t, ns.Addr(), "broker-g", "g:1", 0).registerCmd()
	garbage.Body = []byte("{not json")
	garbage.SetExtField("bodyCrc32", "0")
	if resp, _ := cli.Invoke(ctxT(t), ns.Addr(), garbage); resp.Code != protocol.RespSystemError || !strings.Contains(resp.Remark, "register g:1") {
		t.Fatalf("garbage body: %s", resp)
	}

	// Unknown request codes are answered, not dropped.
	if r := call(t, cli, ns.Addr(), 4321, nil, nil); r.Code != protocol.RespRequestCodeNotSupported {
		t.Fatalf("unknown code: %s", r)
	}
}

// TestServerConnectionCloseEvictsAtOnce: a broker whose registration connection closes
// leaves the routes immediately, long before any expiry.
func TestServerConnectionCloseEvictsAtOnce(t *testing.T) {
	opts := testOptions()
	opts.BrokerExpiry = time.Hour
	ns := startNS(t, opts)
	b := newWireBroker(t, ns.Addr(), "broker-a", "a:1", 0, topicA)
	b.register(t)
	other := newWireBroker(t, ns.Addr(), "broker-b", "b:1", 0, topicA)
	other.register(t)
	cli := newClient(t)
	if r := route(t, cli, ns.Addr(), "TopicA"); !bytes.Contains(r.Body, []byte("broker-a")) {
		t.Fatalf("route %s", r.Body)
	}
	b.cli.CloseConn(ns.Addr())
	waitFor(t, 5*time.Second, "broker-a to leave the route", func() bool {
		r := route(t, cli, ns.Addr(), "TopicA")
		return r.Code == protocol.RespSuccess && !bytes.Contains(r.Body, []byte("broker-a"))
	})
	if len(ns.Routes().LiveBrokers()) != 1 {
		t.Fatalf("live brokers %+v", ns.Routes().LiveBrokers())
	}
}

// TestServerHeartbeatTimeoutEvicts: a broker that stops re-registering is evicted after the
// (short) expiry and its connection is closed; one that keeps registering stays.
func TestServerHeartbeatTimeoutEvicts(t *testing.T) {
	opts := testOptions()
	opts.BrokerExpiry = time.Second
	opts.ScanInterval = 20 * time.Millisecond
	ns := startNS(t, opts)
	silent := newWireBroker(t, ns.Addr(), "broker-silent", "s:1", 0, topicA)
	start := time.Now() // before the registration, so the expiry bound below is strict
	silent.register(t)
	alive := newWireBroker(t, ns.Addr(), "broker-alive", "a:1", 0, topicA)
	alive.register(t)
	silentConn, err := silent.cli.Conn(ctxT(t), ns.Addr())
	if err != nil {
		t.Fatal(err)
	}
	cli := newClient(t)
	waitFor(t, 10*time.Second, "the silent broker to expire", func() bool {
		alive.register(t) // the live one keeps heartbeating
		r := route(t, cli, ns.Addr(), "TopicA")
		return !bytes.Contains(r.Body, []byte("broker-silent"))
	})
	if waited := time.Since(start); waited < opts.BrokerExpiry {
		t.Fatalf("evicted after %v, before the %v expiry", waited, opts.BrokerExpiry)
	}
	if r := route(t, cli, ns.Addr(), "TopicA"); !bytes.Contains(r.Body, []byte("broker-alive")) {
		t.Fatalf("the heartbeating broker was evicted: %s", r.Body)
	}
	// Java closes an expired broker's channel; so do we.
	waitFor(t, 5*time.Second, "the expired broker's connection to close", func() bool {
		select {
		case <-silentConn.Done():
			return true
		default:
			return false
		}
	})
}

func TestServerQueryDataVersion(t *testing.T) {
	ns := startNS(t, testOptions())
	b := newWireBroker(t, ns.Addr(), "broker-a", "a:1", 0, topicA)
	b.register(t)
	cli := newClient(t)
	hdr := &protocol.QueryDataVersionRequestHeader{BrokerName: "broker-a", BrokerAddr: "a:1", ClusterName: "DefaultCluster"}
	same, _ := json.Marshal(b.wrapper.DataVersion)
	r := call(t, cli, ns.Addr(), protocol.ReqQueryDataVersion, hdr, same)
	if r.Code != protocol.RespSuccess || r.ExtField("changed") != "false" || string(r.Body) != string(same) {
		t.Fatalf("same version: %s %s", r, r.Body)
	}
	newer, _ := json.Marshal(protocol.DataVersion{Timestamp: 1, Counter: 9})
	if r := call(t, cli, ns.Addr(), protocol.ReqQueryDataVersion, hdr, newer); r.ExtField("changed") != "true" {
		t.Fatalf("changed version: %s", r)
	}
	hdr.BrokerAddr = "unknown:1"
	if r := call(t, cli, ns.Addr(), protocol.ReqQueryDataVersion, hdr, same); r.ExtField("changed") != "true" || len(r.Body) != 0 {
		t.Fatalf("unknown broker: %s", r)
	}
}

func TestServerKVConfigAndOrderTopicConf(t *testing.T) {
	dir := t.TempDir()
	opts := testOptions()
	opts.KVConfigPath = filepath.Join(dir, "namesrv", "kvConfig.json")
	opts.OrderMessageEnable = true
	ns := startNS(t, opts)
	cli := newClient(t)
	put := func(ns_, k, v string) {
		if r := call(t, cli, ns.Addr(), protocol.ReqPutKVConfig, &protocol.PutKVConfigRequestHeader{Namespace: ns_, Key: k, Value: v}, nil); r.Code != protocol.RespSuccess {
			t.Fatalf("put: %s", r)
		}
	}
	put(protocol.NamespaceOrderTopicConfig, "TopicA", "broker-a:4")
	put("other", "k", "v")

	r := call(t, cli, ns.Addr(), protocol.ReqGetKVConfig, &protocol.GetKVConfigRequestHeader{Namespace: "other", Key: "k"}, nil)
	if r.Code != protocol.RespSuccess || r.ExtField("value") != "v" {
		t.Fatalf("get: %s", r)
	}
	r = call(t, cli, ns.Addr(), protocol.ReqGetKVConfig, &protocol.GetKVConfigRequestHeader{Namespace: "other", Key: "nope"}, nil)
	if r.Code != protocol.RespQueryNotFound || r.Remark != "No config item, Namespace: other Key: nope" {
		t.Fatalf("get missing: %s", r)
	}
	var kv protocol.KVTable
	r = call(t, cli, ns.Addr(), protocol.ReqGetKVListByNamespace, &protocol.GetKVListByNamespaceRequestHeader{Namespace: "other"}, nil)
	if err := protocol.DecodeJSON(r.Body, &kv); err != nil || !reflect.DeepEqual(kv.Table, map[string]string{"k": "v"}) {
		t.Fatalf("list: %s %v", r.Body, err)
	}

	// REGISTER_BROKER answers with the ORDER_TOPIC_CONFIG table; routes carry orderTopicConf.
	b := newWireBroker(t, ns.Addr(), "broker-a", "a:1", 0, topicA)
	resp := b.register(t)
	if string(resp.Body) != `{"table":{"TopicA":"broker-a:4"}}` {
		t.Fatalf("register body %s", resp.Body)
	}
	if r := route(t, cli, ns.Addr(), "TopicA"); !bytes.HasPrefix(r.Body, []byte(`{"orderTopicConf":"broker-a:4",`)) {
		t.Fatalf("route %s", r.Body)
	}

	// Persisted in Java's kvConfig.json format, and reloaded by a new server.
	data, err := os.ReadFile(opts.KVConfigPath)
	if err != nil {
		t.Fatal(err)
	}
	var file struct{ ConfigTable map[string]map[string]string }
	if err := json.Unmarshal(data, &file); err != nil || file.ConfigTable["other"]["k"] != "v" {
		t.Fatalf("kvConfig.json = %s", data)
	}
	if r := call(t, cli, ns.Addr(), protocol.ReqDeleteKVConfig, &protocol.DeleteKVConfigRequestHeader{Namespace: "other", Key: "k"}, nil); r.Code != protocol.RespSuccess {
		t.Fatalf("delete: %s", r)
	}
	r = call(t, cli, ns.Addr(), protocol.ReqGetKVListByNamespace, &protocol.GetKVListByNamespaceRequestHeader{Namespace: "other"}, nil)
	if r.Code != protocol.RespQueryNotFound {
		t.Fatalf("list after delete: %s", r)
	}
	ns.Close()
	ns2 := startNS(t, opts)
	r = call(t, cli, ns2.Addr(), protocol.ReqGetKVConfig, &protocol.GetKVConfigRequestHeader{Namespace: protocol.NamespaceOrderTopicConfig, Key: "TopicA"}, nil)
	if r.ExtField("value") != "broker-a:4" {
		t.Fatalf("after restart: %s", r)
	}
	if r := call(t, cli, ns2.Addr(), protocol.ReqGetKVConfig, &protocol.GetKVConfigRequestHeader{Namespace: "other", Key: "k"}, nil); r.Code != protocol.RespQueryNotFound {
		t.Fatalf("deleted key came back: %s", r)
	}
}

func TestServerKVConfigCorruptFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "kvConfig.json")
	if err := os.WriteFile(path, []byte("{broken"), 0o644); err != nil {
		t.Fatal(err)
	}
	opts := testOptions()
	opts.KVConfigPath = path
	s := New(nil, opts)
	defer s.Close()
	if err := s.Start(); err == nil || !strings.Contains(err.Error(), "nameserver: load kv config "+path) {
		t.Fatalf("Start with a corrupt kv file: %v", err)
	}
}

func TestServerWritePerm(t *testing.T) {
	ns := startNS(t, testOptions())
	newWireBroker(t, ns.Addr(), "broker-a", "a:1", 0, tbw102, topicA).register(t)
	cli := newClient(t)
	r := call(t, cli, ns.Addr(), protocol.ReqWipeWritePermOfBroker, &protocol.WipeWritePermOfBrokerRequestHeader{BrokerName: "broker-a"}, nil)
	if r.Code != protocol.RespSuccess || r.ExtField("wipeTopicCount") != "2" {
		t.Fatalf("wipe: %s", r)
	}
	if r := route(t, cli, ns.Addr(), "TopicA"); !bytes.Contains(r.Body, []byte(`"perm":4`)) {
		t.Fatalf("wiped route %s", r.Body)
	}
	r = call(t, cli, ns.Addr(), protocol.ReqAddWritePermOfBroker, &protocol.AddWritePermOfBrokerRequestHeader{BrokerName: "broker-a"}, nil)
	if r.ExtField("addTopicCount") != "2" {
		t.Fatalf("add: %s", r)
	}
	if r := route(t, cli, ns.Addr(), "TopicA"); !bytes.Contains(r.Body, []byte(`"perm":6`)) {
		t.Fatalf("restored route %s", r.Body)
	}
}

func TestServerNamesrvConfig(t *testing.T) {
	dir := t.TempDir()
	c := conf.DefaultNamesrv()
	c.ListenPort = 9876
	c.KvConfigPath = filepath.Join(dir, "kv.json")
	c.ConfigStorePath = filepath.Join(dir, "namesrv.properties")
	opts := OptionsFromConfig(c, "127.0.0.1")
	opts.ListenAddr = "127.0.0.1:0"
	ns := startNS(t, opts)
	newWireBroker(t, ns.Addr(), "broker-a", "a:1", 0, topicA).register(t)
	cli := newClient(t)
	call(t, cli, ns.Addr(), protocol.ReqPutKVConfig, &protocol.PutKVConfigRequestHeader{Namespace: protocol.NamespaceOrderTopicConfig, Key: "TopicA", Value: "broker-a:4"}, nil)

	r := call(t, cli, ns.Addr(), protocol.ReqGetNamesrvConfig, nil, nil)
	got, _, err := conf.ParseNamesrv(bytes.NewReader(r.Body), "GET_NAMESRV_CONFIG")
	if err != nil || got.OrderMessageEnable || got.KvConfigPath != c.KvConfigPath {
		t.Fatalf("config %s: %+v %v", r.Body, got, err)
	}
	if r := route(t, cli, ns.Addr(), "TopicA"); bytes.Contains(r.Body, []byte("orderTopicConf")) {
		t.Fatal("orderTopicConf served while orderMessageEnable=false")
	}
	// Enable order messages at runtime.
	if r := call(t, cli, ns.Addr(), protocol.ReqUpdateNamesrvConfig, nil, []byte("orderMessageEnable=true\n")); r.Code != protocol.RespSuccess {
		t.Fatalf("update: %s", r)
	}
	if r := route(t, cli, ns.Addr(), "TopicA"); !bytes.Contains(r.Body, []byte(`"orderTopicConf":"broker-a:4"`)) {
		t.Fatalf("route after update %s", r.Body)
	}
	persisted, _, err := conf.LoadNamesrv(c.ConfigStorePath)
	if err != nil || !persisted.OrderMessageEnable {
		t.Fatalf("persisted config: %+v %v", persisted, err)
	}
	// Black-listed keys, unknown keys and bad values are refused and change nothing.
	if r := call(t, cli, ns.Addr(), protocol.ReqUpdateNamesrvConfig, nil, []byte("kvConfigPath=/tmp/x\n")); r.Code != protocol.RespNoPermission {
		t.Fatalf("black-listed key: %s", r)
	}
	for _, body := range []string{"orderMessageEnable=maybe\n", "noSuchKey=1\n", "listenPort=0\n"} {
		if r := call(t, cli, ns.Addr(), protocol.ReqUpdateNamesrvConfig, nil, []byte(body)); r.Code != protocol.RespSystemError {
			t.Fatalf("%q: %s", body, r)
		}
	}
	r = call(t, cli, ns.Addr(), protocol.ReqGetNamesrvConfig, nil, nil)
	if got, _, _ := conf.ParseNamesrv(bytes.NewReader(r.Body), "x"); !got.OrderMessageEnable || got.ListenPort != 9876 {
		t.Fatalf("config after refused updates %+v", got)
	}
	// Shortening the expiry applies live.
	call(t, cli, ns.Addr(), protocol.ReqUpdateNamesrvConfig, nil, []byte("brokerChannelExpiredTime=50ms\nscanNotActiveBrokerInterval=10ms\n"))
	waitFor(t, 5*time.Second, "expiry with the updated timers", func() bool { return len(ns.Routes().LiveBrokers()) == 0 })
}

// TestServerOverMemNetwork runs a registration and a route lookup over the in-memory transport.
func TestServerOverMemNetwork(t *testing.T) {
	mem := remoting.NewMemNetwork()
	l, err := mem.Listen("namesrv-0")
	if err != nil {
		t.Fatal(err)
	}
	opts := DefaultOptions()
	opts.Listener = l
	ns := startNS(t, opts)
	if ns.Addr() != "namesrv-0" {
		t.Fatalf("addr %q", ns.Addr())
	}
	cli := remoting.NewClient(nil, remoting.ClientOptions{Dialer: mem.Dial})
	defer cli.Close()
	b := &wireBroker{cli: cli, ns: "namesrv-0", cluster: "C", name: "b", addr: "b:1", wrapper: topics(1, topicA)}
	b.register(t)
	if r := route(t, cli, "namesrv-0", "TopicA"); r.Code != protocol.RespSuccess {
		t.Fatalf("route %s", r)
	}
	cli.CloseConn("namesrv-0") // the broker's registration connection
	waitFor(t, 5*time.Second, "eviction on close", func() bool { return len(ns.Routes().LiveBrokers()) == 0 })
}

func TestServerLifecycle(t *testing.T) {
	s := New(nil, Options{ListenAddr: "127.0.0.1:0"})
	if err := s.Start(); !errors.Is(err, ErrBadOptions) {
		t.Fatalf("zero timers: %v", err)
	}
	s = New(nil, testOptions())
	if s.Addr() != "" {
		t.Fatal("address before Start")
	}
	if err := s.Start(); err != nil {
		t.Fatal(err)
	}
	if err := s.Start(); !errors.Is(err, ErrStarted) {
		t.Fatalf("second Start: %v", err)
	}
	addr := s.Addr()
	if host, _, _ := net.SplitHostPort(addr); host != "127.0.0.1" {
		t.Fatalf("addr %s", addr)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if c, err := net.DialTimeout("tcp", addr, time.Second); err == nil {
		c.Close()
		t.Fatal("still listening after Close")
	}
	// Listening on a taken port fails with context.
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	o := testOptions()
	o.ListenAddr = l.Addr().String()
	s2 := New(nil, o)
	defer s2.Close()
	if err := s2.Start(); err == nil || !strings.Contains(err.Error(), "nameserver: listen "+o.ListenAddr) {
		t.Fatalf("taken port: %v", err)
	}
}
