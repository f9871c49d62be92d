package compat

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/gorocket/gorocket/remoting"
	"github.com/gorocket/gorocket/remoting/protocol"
)

// Binaries built once by TestMain.
var (
	binDir     string
	nsBin      string
	brokerBin  string
	repoRoot   string
	rawClient  *remoting.Client
	sharedNS   *proc
	sharedBrk  *proc
	sharedName = "broker-compat"
)

// proc is a child process (nameserver or broker) with its log captured to a file.
type proc struct {
	name    string
	cmd     *exec.Cmd
	logPath string
	addr    string // host:port it serves
	dir     string
	done    chan struct{}
	err     error
}

// freePort returns a currently free loopback port.
func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

// freePortPair returns a free port p such that p+1 is free too (the broker's HA port).
func freePortPair() (int, error) {
	for i := 0; i < 50; i++ {
		p, err := freePort()
		if err != nil {
			return 0, err
		}
		l, err := net.Listen("tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(p+1)))
		if err == nil {
			l.Close()
			return p, nil
		}
	}
	return 0, errors.New("no free port pair")
}

func buildBinaries() error {
	root, err := filepath.Abs(filepath.Join("..", ".."))
	if err != nil {
		return err
	}
	repoRoot = root
	binDir, err = os.MkdirTemp("", "gorocket-compat-bin-")
	if err != nil {
		return err
	}
	nsBin = filepath.Join(binDir, "gorocket-namesrv")
	brokerBin = filepath.Join(binDir, "gorocket-broker")
	for _, b := range []struct{ out, pkg string }{{nsBin, "./cmd/nameserver"}, {brokerBin, "./cmd/broker"}} {
		cmd := exec.Command("go", "build", "-o", b.out, b.pkg)
		cmd.Dir = root
		cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
		if out, err := cmd.CombinedOutput(); err != nil {
			return fmt.Errorf("go build %s: %v\n%s", b.pkg, err, out)
		}
	}
	return nil
}

func startProc(name, dir string, args []string, env []string, addr string) (*proc, error) {
	logPath := filepath.Join(dir, name+".log")
	lf, err := os.Create(logPath)
	if err != nil {
		return nil, err
	}
	cmd := exec.Command(args[0], args[1:]...)
	cmd.Dir = dir
	cmd.Stdout = lf
	cmd.Stderr = lf
	cmd.Env = append(os.Environ(), env...)
	if err := cmd.Start(); err != nil {
		lf.Close()
		return nil, fmt.Errorf("start %s: %w", name, err)
	}
	p := &proc{name: name, cmd: cmd, logPath: logPath, addr: addr, dir: dir, done: make(chan struct{})}
	go func() {
		p.err = cmd.Wait()
		lf.Close()
		close(p.done)
	}()
	return p, nil
}

// stop sends SIGTERM and waits (deadline 15 s), then kills.
func (p *proc) stop() error {
	if p == nil {
		return nil
	}
	select {
	case <-p.done:
		return p.err
	default:
	}
	_ = p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-p.done:
		return p.err
	case <-time.After(15 * time.Second):
		_ = p.cmd.Process.Kill()
		<-p.done
		return fmt.Errorf("%s did not stop within 15s after SIGTERM", p.name)
	}
}

func (p *proc) exited() bool {
	select {
	case <-p.done:
		return true
	default:
		return false
	}
}

// logTail returns the last lines of the process log (for failure messages).
func (p *proc) logTail(n int) string {
	b, err := os.ReadFile(p.logPath)
	if err != nil {
		return err.Error()
	}
	lines := strings.Split(strings.TrimRight(string(b), "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

func (p *proc) logContains(s string) bool {
	f, err := os.Open(p.logPath)
	if err != nil {
		return false
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		if strings.Contains(sc.Text(), s) {
			return true
		}
	}
	return false
}

// waitFor polls cond every interval until it returns nil or the deadline passes.
func waitFor(timeout, interval time.Duration, cond func() error) error {
	deadline := time.Now().Add(timeout)
	var err error
	for {
		if err = cond(); err == nil {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("timed out after %v: %w", timeout, err)
		}
		time.Sleep(interval)
	}
}

func invoke(addr string, cmd *protocol.RemotingCommand, timeout time.Duration) (*protocol.RemotingCommand, error) {
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	return rawClient.Invoke(ctx, addr, cmd)
}

// startNameserver starts a nameserver on a free loopback port and waits until it answers.
func startNameserver(dir string) (*proc, error) {
	port, err := freePort()
	if err != nil {
		return nil, err
	}
	home := filepath.Join(dir, "ns-home")
	if err := os.MkdirAll(home, 0o755); err != nil {
		return nil, err
	}
	cfg := filepath.Join(dir, "namesrv.properties")
	text := fmt.Sprintf("listenPort=%d\nkvConfigPath=%s\nconfigStorePath=%s\n", port, filepath.Join(home, "kvConfig.json"), filepath.Join(home, "namesrv.properties"))
	if err := os.WriteFile(cfg, []byte(text), 0o644); err != nil {
		return nil, err
	}
	addr := net.JoinHostPort("127.0.0.1", strconv.Itoa(port))
	p, err := startProc("nameserver", dir, []string{nsBin, "-c", cfg, "-listen", addr}, []string{"HOME=" + home}, addr)
	if err != nil {
		return nil, err
	}
	err = waitFor(20*time.Second, 50*time.Millisecond, func() error {
		if p.exited() {
			return fmt.Errorf("nameserver exited: %v\n%s", p.err, p.logTail(30))
		}
		resp, err := invoke(addr, protocol.NewRequest(protocol.ReqGetAllTopicListFromNameserver, nil, nil), time.Second)
		if err != nil {
			return err
		}
		return resp.Err()
	})
	if err != nil {
		_ = p.stop()
		return nil, err
	}
	return p, nil
}

// brokerConfig renders a minimal broker.properties for tests.
func brokerConfig(name string, port int, nsAddr, store string, extra ...string) string {
	lines := []string{
		"brokerClusterName=CompatCluster",
		"brokerName=" + name,
		"brokerId=0",
		"namesrvAddr=" + nsAddr,
		"listenPort=" + strconv.Itoa(port),
		"brokerIP1=127.0.0.1",
		"storePathRootDir=" + store,
		"defaultTopicQueueNums=4",
		"autoCreateTopicEnable=true",
		"autoCreateSubscriptionGroup=true",
		"mapedFileSizeCommitLog=67108864",
		"flushDiskType=ASYNC_FLUSH",
	}
	return strings.Join(append(lines, extra...), "\n") + "\n"
}

// brokerEnv is the environment of every broker process: loopback only (the deployment guides'
// files have no brokerIP1 line; the environment sets it, as the operator does).
var brokerEnv = []string{"GOROCKET_LISTEN_HOST=127.0.0.1", "GOROCKET_BROKER_IP1=127.0.0.1", "GOROCKET_LOG_LEVEL=debug"}

// startBroker starts a broker from a config file and waits until the nameserver lists it.
func startBroker(dir, name, cfgText, nsAddr string, port int, extraArgs ...string) (*proc, error) {
	cfg := filepath.Join(dir, name+".properties")
	if err := os.WriteFile(cfg, []byte(cfgText), 0o644); err != nil {
		return nil, err
	}
	args := append([]string{brokerBin, "-c", cfg, "--register-period", "2s"}, extraArgs...)
	addr := net.JoinHostPort("127.0.0.1", strconv.Itoa(port))
	p, err := startProc(name, dir, args, brokerEnv, addr)
	if err != nil {
		return nil, err
	}
	if err := waitBrokerRegistered(p, nsAddr, name); err != nil {
		_ = p.stop()
		return nil, err
	}
	return p, nil
}

// waitBrokerRegistered polls GET_BROKER_CLUSTER_INFO until brokerName has a master address.
func waitBrokerRegistered(p *proc, nsAddr, name string) error {
	return waitFor(30*time.Second, 50*time.Millisecond, func() error {
		if p.exited() {
			return fmt.Errorf("%s exited: %v\n%s", p.name, p.err, p.logTail(40))
		}
		resp, err := invoke(nsAddr, protocol.NewRequest(protocol.ReqGetBrokerClusterInfo, nil, nil), time.Second)
		if err != nil {
			return err
		}
		if err := resp.Err(); err != nil {
			return err
		}
		var ci protocol.ClusterInfo
		if err := protocol.DecodeJSON(resp.Body, &ci); err != nil {
			return err
		}
		bd, ok := ci.BrokerAddrTable[name]
		if !ok || bd.BrokerAddrs[protocol.MasterID] == "" {
			return fmt.Errorf("broker %s not registered yet", name)
		}
		return nil
	})
}

// runtimeInfo fetches GET_BROKER_RUNTIME_INFO from a broker.
func runtimeInfo(addr string) (map[string]string, error) {
	resp, err := invoke(addr, protocol.NewRequest(protocol.ReqGetBrokerRuntimeInfo, nil, nil), 3*time.Second)
	if err != nil {
		return nil, err
	}
	if err := resp.Err(); err != nil {
		return nil, err
	}
	var kv protocol.KVTable
	if err := protocol.DecodeJSON(resp.Body, &kv); err != nil {
		return nil, err
	}
	return kv.Table, nil
}

// uniq is a per-test unique suffix for topic and group names.
var (
	uniqMu  sync.Mutex
	uniqSeq int
)

func uniq(prefix string) string {
	uniqMu.Lock()
	defer uniqMu.Unlock()
	uniqSeq++
	return fmt.Sprintf("%s_%d_%d", prefix, os.Getpid()%10000, uniqSeq)
}

// dumpOnFailure prints the shared processes' log tails when t failed.
func dumpOnFailure(t *testing.T, ps ...*proc) {
	t.Helper()
	if !t.Failed() {
		return
	}
	var b bytes.Buffer
	for _, p := range ps {
		if p != nil {
			fmt.Fprintf(&b, "---- %s log tail ----\n%s\n", p.name, p.logTail(60))
		}
	}
	t.Log(b.String())
}
