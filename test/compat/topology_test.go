package compat

import (
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/apache/rocketmq-client-go/v2/primitive"

	"github.com/gorocket/gorocket/remoting/protocol"
)

// topology is a running cluster the suite's tests can target: the single master started by
// TestMain, or the deployment guides' 2m-2s clusters (2 nameservers, 2 masters, 2 slaves)
// started from the guide's property files on first use.
type topology struct {
	name    string
	ns      []*proc
	masters []*proc // addr = main address
	slaves  []*proc
	cluster string
}

func (tp *topology) nsList() primitive.NamesrvAddr {
	out := make(primitive.NamesrvAddr, len(tp.ns))
	for i, p := range tp.ns {
		out[i] = p.addr
	}
	return out
}

// brokerNames lists the masters' broker names (the name each master process was started as).
func (tp *topology) brokerNames() []string {
	out := make([]string, len(tp.masters))
	for i, p := range tp.masters {
		out[i] = p.name
	}
	return out
}

func (tp *topology) procs() []*proc {
	out := append(append(append([]*proc(nil), tp.masters...), tp.slaves...), tp.ns...)
	return out
}

func (tp *topology) stop() {
	for _, p := range append(append(append([]*proc(nil), tp.slaves...), tp.masters...), tp.ns...) {
		if err := p.stop(); err != nil {
			fmt.Printf("compat: %s %s stop: %v\n", tp.name, p.name, err)
		}
	}
}

// createTopic creates topic with queuesPerMaster queues on every master and waits until the route
// lists them all (and every slave received the topic through its metadata sync).
func (tp *topology) createTopic(t *testing.T, topic string, queuesPerMaster int) {
	t.Helper()
	for _, m := range tp.masters {
		createTopicOn(t, tp.nsList(), m.addr, topic, queuesPerMaster)
	}
	tp.waitRoute(t, topic, queuesPerMaster*len(tp.masters))
	for _, s := range tp.slaves {
		if err := waitFor(15*time.Second, 50*time.Millisecond, func() error {
			if !hasTopic(t, s.addr, topic) {
				return fmt.Errorf("slave %s has not synchronised topic %s", s.name, topic)
			}
			return nil
		}); err != nil {
			t.Fatal(err)
		}
	}
}

// waitRoute waits until every nameserver's route of topic has queues write queues in all
// (asking the nameservers directly: the Go admin caches routes).
func (tp *topology) waitRoute(t *testing.T, topic string, queues int) {
	t.Helper()
	for _, ns := range tp.ns {
		err := waitFor(15*time.Second, 50*time.Millisecond, func() error {
			resp, err := invoke(ns.addr, protocol.NewRequest(protocol.ReqGetRouteInfoByTopic, &protocol.GetRouteInfoRequestHeader{Topic: topic}, nil), 3*time.Second)
			if err != nil {
				return err
			}
			if err := resp.Err(); err != nil {
				return err
			}
			var r protocol.TopicRouteData
			if err := protocol.DecodeJSON(resp.Body, &r); err != nil {
				return err
			}
			n := 0
			for _, q := range r.QueueDatas {
				n += q.WriteQueueNums
			}
			if n != queues {
				return fmt.Errorf("route of %s at %s has %d queues, want %d", topic, ns.addr, n, queues)
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
	}
}

var (
	topoMu     sync.Mutex
	topologies = map[string]*topology{}
	topoErrs   = map[string]error{}
)

// Topology names.
const (
	topoSingle    = "single-master"
	topo2m2sSync  = "2m-2s-sync"
	topo2m2sAsync = "2m-2s-async"
)

// getTopology returns a running topology, starting the 2m-2s ones on first use (they are stopped
// by TestMain).
func getTopology(t *testing.T, name string) *topology {
	t.Helper()
	topoMu.Lock()
	defer topoMu.Unlock()
	if name == topoSingle {
		return &topology{name: topoSingle, ns: []*proc{sharedNS}, masters: []*proc{sharedBrk}, cluster: "CompatCluster"}
	}
	if tp, ok := topologies[name]; ok {
		return tp
	}
	if err, ok := topoErrs[name]; ok {
		t.Fatalf("topology %s failed to start earlier: %v", name, err)
	}
	role := "SYNC_MASTER"
	if name == topo2m2sAsync {
		role = "ASYNC_MASTER"
	}
	start := time.Now()
	tp, err := startGuideTopology(name, role)
	if err != nil {
		topoErrs[name] = err
		t.Fatalf("start topology %s: %v", name, err)
	}
	fmt.Printf("compat: topology %s started in %v\n", name, time.Since(start).Round(time.Millisecond))
	topologies[name] = tp
	return tp
}

// stopTopologies stops the 2m-2s clusters (TestMain).
func stopTopologies() {
	topoMu.Lock()
	defer topoMu.Unlock()
	for _, tp := range topologies {
		tp.stop()
	}
}

// forTopologies runs fn as a subtest on the single master and, when alsoGuide is set, on the
// 2m-2s-sync and 2m-2s-async clusters (the representative subset: send modes, clustering
// consumers, orderly, admin create/delete).
func forTopologies(t *testing.T, alsoGuide bool, fn func(t *testing.T, tp *topology)) {
	requireCluster(t)
	names := []string{topoSingle}
	if alsoGuide {
		names = append(names, topo2m2sSync, topo2m2sAsync)
	}
	for _, name := range names {
		t.Run(name, func(t *testing.T) {
			tp := getTopology(t, name)
			defer dumpOnFailure(t, tp.procs()...)
			fn(t, tp)
		})
	}
}

// guideConfigDir is the repository's byte-identical copy of the deployment guides' property
// files (internal/conf/testdata: the 2m-2s-sync broker-a, broker-a-s, broker-b, broker-b-s files).
func guideConfigDir() (string, error) {
	d := filepath.Join(repoRoot, "internal", "conf", "testdata")
	if st, err := os.Stat(d); err != nil || !st.IsDir() {
		return "", fmt.Errorf("deployment guide configs not found in %s: %v", d, err)
	}
	return d, nil
}

// localiseGuideConfig copies a guide broker file, rewriting only the lines that name hosts,
// ports and paths: namesrvAddr, listenPort and the store paths (each broker gets its own
// directory under dir: the guide's files give broker-a and broker-b the same paths, the pitfall
// the guides warn about for one host) — and, for the async variant, brokerRole.
func localiseGuideConfig(src, nsList string, port int, dir, role string) (string, error) {
	text := src
	rewrites := []struct{ re, repl string }{
		{`(?m)^namesrvAddr=.*$`, "namesrvAddr=" + nsList},
		{`(?m)^listenPort=.*$`, "listenPort=" + strconv.Itoa(port)},
		{`(?m)^(storePathRootDir|storePathCommitLog|storePathConsumeQueue|storePathIndex|storeCheckpoint|abortFile)=/usr/local/rocketmq/(master|slave)`, "${1}=" + filepath.ToSlash(dir) + "/${2}"},
	}
	for _, rw := range rewrites {
		re := regexp.MustCompile(rw.re)
		if !re.MatchString(text) {
			return "", fmt.Errorf("guide config has no line matching %s", rw.re)
		}
		text = re.ReplaceAllString(text, rw.repl)
	}
	if role == "ASYNC_MASTER" {
		text = strings.ReplaceAll(text, "\nbrokerRole=SYNC_MASTER", "\nbrokerRole=ASYNC_MASTER")
	}
	return text, nil
}

// startGuideTopology starts 2 nameservers and the guide's 2m-2s-sync brokers (broker-a,
// broker-a-s, broker-b, broker-b-s) on this host, masters with role, and waits until both masters
// report a connected slave.
func startGuideTopology(name, role string) (tp *topology, err error) {
	gdir, err := guideConfigDir()
	if err != nil {
		return nil, err
	}
	dir := filepath.Join(workDir, name)
	tp = &topology{name: name, cluster: "rocketmq-cluster"}
	defer func() {
		if err != nil {
			tp.stop()
		}
	}()
	for i := 0; i < 2; i++ {
		nsDir := filepath.Join(dir, "namesrv-"+strconv.Itoa(i))
		if err := os.MkdirAll(nsDir, 0o755); err != nil {
			return nil, err
		}
		ns, err := startNameserver(nsDir)
		if err != nil {
			return nil, fmt.Errorf("nameserver %d: %w", i, err)
		}
		tp.ns = append(tp.ns, ns)
	}
	nsList := tp.ns[0].addr + ";" + tp.ns[1].addr
	files := []struct {
		file, brokerName string
		slave            bool
	}{{"broker-a", "broker-a", false}, {"broker-b", "broker-b", false}, {"broker-a-s", "broker-a", true}, {"broker-b-s", "broker-b", true}}
	for _, f := range files {
		src, err := os.ReadFile(filepath.Join(gdir, f.file+".properties"))
		if err != nil {
			return nil, err
		}
		port, err := freePortPair()
		if err != nil {
			return nil, err
		}
		bdir := filepath.Join(dir, f.file)
		if err := os.MkdirAll(bdir, 0o755); err != nil {
			return nil, err
		}
		text, err := localiseGuideConfig(string(src), nsList, port, bdir, role)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", f.file, err)
		}
		var p *proc
		if f.slave {
			p, err = startSlave(bdir, f.file, text, tp.ns[0].addr, f.brokerName, port)
		} else {
			p, err = startBroker(bdir, f.file, text, tp.ns[0].addr, port, "--slave-sync-period", "300ms")
		}
		if err != nil {
			return nil, fmt.Errorf("%s: %w", f.file, err)
		}
		p.name = f.brokerName
		if f.slave {
			p.name = f.file
			tp.slaves = append(tp.slaves, p)
		} else {
			tp.masters = append(tp.masters, p)
		}
	}
	for _, m := range tp.masters {
		if err := waitFor(30*time.Second, 50*time.Millisecond, func() error {
			info, err := runtimeInfo(m.addr)
			if err != nil {
				return err
			}
			if info["brokerRole"] != role || info["haSlaveCount"] != "1" || info["haSlaveLagBytes"] != "0" {
				return fmt.Errorf("%s: role %s haSlaveCount %s haSlaveLagBytes %s", m.name, info["brokerRole"], info["haSlaveCount"], info["haSlaveLagBytes"])
			}
			return nil
		}); err != nil {
			return nil, err
		}
	}
	return tp, nil
}

// startSlave starts a slave from a config text and waits until the nameserver lists it.
func startSlave(dir, name, cfgText, nsAddr, brokerName string, port int) (*proc, error) {
	cfg := filepath.Join(dir, name+".properties")
	if err := os.WriteFile(cfg, []byte(cfgText), 0o644); err != nil {
		return nil, err
	}
	p, err := startProc(name, dir, []string{brokerBin, "-c", cfg, "--register-period", "2s", "--slave-sync-period", "300ms"},
		brokerEnv, "127.0.0.1:"+strconv.Itoa(port))
	if err != nil {
		return nil, err
	}
	err = waitFor(30*time.Second, 50*time.Millisecond, func() error {
		if p.exited() {
			return fmt.Errorf("%s exited: %v\n%s", name, p.err, p.logTail(40))
		}
		ci, err := clusterInfo(nsAddr)
		if err != nil {
			return err
		}
		if bd := ci.BrokerAddrTable[brokerName]; bd.BrokerAddrs[1] != p.addr {
			return fmt.Errorf("slave %s not registered yet", name)
		}
		return nil
	})
	if err != nil {
		_ = p.stop()
		return nil, err
	}
	return p, nil
}

func clusterInfo(nsAddr string) (*protocol.ClusterInfo, error) {
	resp, err := invoke(nsAddr, protocol.NewRequest(protocol.ReqGetBrokerClusterInfo, nil, nil), time.Second)
	if err != nil {
		return nil, err
	}
	if err := resp.Err(); err != nil {
		return nil, err
	}
	var ci protocol.ClusterInfo
	if err := protocol.DecodeJSON(resp.Body, &ci); err != nil {
		return nil, err
	}
	return &ci, nil
}

// hasTopic reports whether the broker at addr has topic in its topic table.
func hasTopic(t *testing.T, addr, topic string) bool {
	t.Helper()
	resp, err := invoke(addr, protocol.NewRequest(protocol.ReqGetAllTopicConfig, nil, nil), 3*time.Second)
	if err != nil || resp.Code != protocol.RespSuccess {
		t.Fatalf("GET_ALL_TOPIC_CONFIG from %s: %v %v", addr, resp, err)
	}
	var w protocol.TopicConfigSerializeWrapper
	if err := protocol.DecodeJSON(resp.Body, &w); err != nil {
		t.Fatal(err)
	}
	_, ok := w.TopicConfigTable[topic]
	return ok
}
