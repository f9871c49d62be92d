// Package cluster is a multi-process test harness: it builds gorocket's binaries once per test
// binary, starts N nameservers and M brokers (plus slaves) as child processes on random loopback
// ports with temporary store directories, waits until every broker is registered with every
// nameserver, exposes the addresses, lets a test kill, stop or restart members, and stops
// everything in t.Cleanup. It shares its process management with `gorocketctl local up`
// (package internal/launcher).
//
//	func TestMain(m *testing.M) { os.Exit(cluster.RunMain(m)) } // removes the built binaries
//
//	func TestSomething(t *testing.T) {
//		c := cluster.Start(t, cluster.Options{Masters: 2, Slaves: 1, Mode: "sync"})
//		p, _ := client.NewProducer(nil, client.ProducerOptions{Options: client.Options{NameServers: c.NamesrvAddrs()}})
//		...
//		c.KillBroker("broker-a-0")
//	}
//
// Binaries come from $GOROCKET_BIN_DIR when set (it must hold gorocket-namesrv, gorocket-broker
// and gorocketctl), else `go build` of ./cmd/... into a temporary directory. A build failure fails
// the test. Under -short, Start skips the test (with a message): process-level tests are not
// unit tests.
package cluster

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/gorocket/gorocket/client/admin"
	"github.com/gorocket/gorocket/internal/launcher"
)

// EnvBinDir names the environment variable holding prebuilt binaries.
const EnvBinDir = "GOROCKET_BIN_DIR"

// CtlBinary is the CLI's executable name.
const CtlBinary = "gorocketctl"

var (
	buildOnce sync.Once
	buildDir  string
	buildTemp bool
	buildErr  error
)

// RunMain runs the tests and removes binaries built for them. Use it from TestMain.
func RunMain(m *testing.M) int {
	code := m.Run()
	if buildTemp && buildDir != "" {
		os.RemoveAll(buildDir)
	}
	return code
}

// BinDir returns a directory holding gorocket-namesrv, gorocket-broker and gorocketctl, building
// them on first use. It fails t when they cannot be found or built.
func BinDir(t testing.TB) string {
	t.Helper()
	buildOnce.Do(func() {
		if d := os.Getenv(EnvBinDir); d != "" {
			buildDir = d
			for _, n := range []string{launcher.NamesrvBinary, launcher.BrokerBinary, CtlBinary} {
				if _, err := os.Stat(filepath.Join(d, n)); err != nil {
					buildErr = fmt.Errorf("%s=%s: %w", EnvBinDir, d, err)
					return
				}
			}
			return
		}
		buildDir, buildErr = build()
		buildTemp = buildErr == nil
	})
	if buildErr != nil {
		t.Fatalf("cluster: binaries unavailable: %v", buildErr)
	}
	return buildDir
}

// build compiles the three binaries into a new temporary directory.
func build() (string, error) {
	out, err := exec.Command("go", "list", "-m", "-f", "{{.Dir}}").Output()
	if err != nil {
		return "", fmt.Errorf("locate the module root: %w", err)
	}
	root := strings.TrimSpace(string(out))
	dir, err := os.MkdirTemp("", "gorocket-test-bin-")
	if err != nil {
		return "", err
	}
	for name, pkg := range map[string]string{
		launcher.NamesrvBinary: "./cmd/nameserver",
		launcher.BrokerBinary:  "./cmd/broker",
		CtlBinary:              "./cmd/gorocketctl",
	} {
		cmd := exec.Command("go", "build", "-o", filepath.Join(dir, name), pkg)
		cmd.Dir = root
		cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
		var stderr bytes.Buffer
		cmd.Stderr = &stderr
		if err := cmd.Run(); err != nil {
			os.RemoveAll(dir)
			return "", fmt.Errorf("go build %s: %w\n%s", pkg, err, stderr.String())
		}
	}
	return dir, nil
}

// Options describe the cluster to start. Zero values mean 1 nameserver, 1 master, no slave,
// async replication and flush, and a 64 MiB commit-log segment.
type Options struct {
	Namesrvs, Masters, Slaves int
	Mode, Flush               string // launcher.ModeSync/ModeAsync, launcher.FlushSync/FlushAsync
	ClusterName               string
	// CommitLogFileSize is mapedFileSizeCommitLog; 0 means 64 MiB.
	CommitLogFileSize int64
	// BrokerOverrides are broker properties applied to every broker.
	BrokerOverrides map[string]string
	// ExtraBrokerArgs are appended to every broker command line.
	ExtraBrokerArgs []string
	// StartTimeout bounds the start-up; 0 means 60 s.
	StartTimeout time.Duration
	// Grace is the SIGTERM-to-SIGKILL delay when stopping; 0 means 10 s.
	Grace time.Duration
}

// Cluster is a running test cluster.
type Cluster struct {
	*launcher.Cluster
	t      testing.TB
	dir    string
	adminM sync.Mutex
	admin  *admin.Client
}

// Start starts a cluster for t and registers its shutdown with t.Cleanup. It fails t when the
// cluster does not come up within Options.StartTimeout.
func Start(t testing.TB, o Options) *Cluster {
	t.Helper()
	if testing.Short() {
		t.Skip("cluster: process-level test skipped in -short mode")
	}
	bins := BinDir(t)
	if o.Namesrvs == 0 {
		o.Namesrvs = 1
	}
	if o.Masters == 0 {
		o.Masters = 1
	}
	if o.CommitLogFileSize == 0 {
		o.CommitLogFileSize = 64 << 20
	}
	if o.StartTimeout == 0 {
		o.StartTimeout = 60 * time.Second
	}
	dir := t.TempDir()
	layout, err := launcher.Plan(launcher.Spec{Dir: dir, ClusterName: o.ClusterName, Namesrvs: o.Namesrvs, Masters: o.Masters,
		Slaves: o.Slaves, Mode: o.Mode, Flush: o.Flush, CommitLogFileSize: o.CommitLogFileSize, BrokerOverrides: o.BrokerOverrides})
	if err != nil {
		t.Fatalf("cluster: %v", err)
	}
	log := slog.New(slog.NewTextHandler(testWriter{t}, &slog.HandlerOptions{Level: slog.LevelWarn}))
	lc := launcher.NewCluster(log, layout, launcher.Binaries{
		Namesrv: filepath.Join(bins, launcher.NamesrvBinary), Broker: filepath.Join(bins, launcher.BrokerBinary),
	}, o.ExtraBrokerArgs...)
	lc.Grace = o.Grace
	c := &Cluster{Cluster: lc, t: t, dir: dir}
	t.Cleanup(c.stop)
	ctx, cancel := context.WithTimeout(context.Background(), o.StartTimeout)
	defer cancel()
	if err := lc.Start(ctx); err != nil {
		t.Fatalf("cluster: start: %v", err)
	}
	return c
}

// testWriter sends log lines to t.Log.
type testWriter struct{ t testing.TB }

func (w testWriter) Write(p []byte) (int, error) {
	w.t.Log(strings.TrimRight(string(p), "\n"))
	return len(p), nil
}

func (c *Cluster) stop() {
	c.adminM.Lock()
	if c.admin != nil {
		c.admin.Close()
	}
	c.adminM.Unlock()
	if c.t.Failed() {
		for _, p := range c.Procs() {
			if tail := p.LogTail(4096); tail != "" {
				c.t.Logf("---- %s (%s), last lines ----\n%s", p.Name, p.LogPath, tail)
			}
		}
	}
	if err := c.Stop(); err != nil {
		c.t.Errorf("cluster: stop: %v", err)
	}
	for _, p := range c.Procs() {
		if p.Running() {
			c.t.Errorf("cluster: %s (pid %d) still running after stop", p.Name, p.Pid())
		}
	}
}

// Dir returns the cluster's root directory.
func (c *Cluster) Dir() string { return c.dir }

// NamesrvAddrs returns the nameserver addresses.
func (c *Cluster) NamesrvAddrs() []string { return c.Layout.NamesrvAddrs() }

// NamesrvAddr returns the nameserver addresses joined by ';' (for -n and NAMESRV_ADDR).
func (c *Cluster) NamesrvAddr() string { return c.Layout.NamesrvAddrList() }

// ClusterName returns the brokers' cluster name.
func (c *Cluster) ClusterName() string { return c.Layout.Spec.ClusterName }

// Broker returns the planned broker node name (e.g. "broker-a-0"), failing t when unknown.
func (c *Cluster) Broker(name string) *launcher.BrokerNode {
	c.t.Helper()
	b := c.Layout.Broker(name)
	if b == nil {
		c.t.Fatalf("cluster: no broker node %q", name)
	}
	return b
}

// BrokerAddr returns the address of broker node name.
func (c *Cluster) BrokerAddr(name string) string { return c.Broker(name).Addr }

// Admin returns an admin client for the cluster (closed at cleanup).
func (c *Cluster) Admin() *admin.Client {
	c.t.Helper()
	c.adminM.Lock()
	defer c.adminM.Unlock()
	if c.admin == nil {
		a, err := admin.New(nil, admin.Options{NameServers: c.NamesrvAddrs(), Timeout: 5 * time.Second})
		if err != nil {
			c.t.Fatalf("cluster: admin: %v", err)
		}
		c.admin = a
	}
	return c.admin
}

// Kill SIGKILLs broker node name and waits for it to exit.
func (c *Cluster) Kill(name string) {
	c.t.Helper()
	if err := c.KillBroker(name); err != nil {
		c.t.Fatalf("cluster: kill %s: %v", name, err)
	}
}

// Term stops broker node name gracefully (SIGTERM; SIGKILL after the grace period).
func (c *Cluster) Term(name string) {
	c.t.Helper()
	if err := c.StopBroker(name); err != nil {
		c.t.Fatalf("cluster: stop %s: %v", name, err)
	}
}

// Signal sends sig to broker node name without waiting.
func (c *Cluster) Signal(name string, sig syscall.Signal) {
	c.t.Helper()
	if err := c.SignalBroker(name, sig); err != nil {
		c.t.Fatalf("cluster: signal %s: %v", name, err)
	}
}

// Restart starts a stopped or killed broker node again and waits until it is registered.
func (c *Cluster) Restart(name string) {
	c.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	if p := c.BrokerProc(name); p != nil && p.Running() {
		if err := c.StopBroker(name); err != nil {
			c.t.Fatalf("cluster: stop %s: %v", name, err)
		}
	}
	if err := c.StartBroker(ctx, name); err != nil {
		c.t.Fatalf("cluster: restart %s: %v", name, err)
	}
}

// Eventually polls cond every 50 ms until it returns nil or d passes, then fails t with the
// last error.
func Eventually(t testing.TB, d time.Duration, what string, cond func() error) {
	t.Helper()
	deadline := time.Now().Add(d)
	for {
		err := cond()
		if err == nil {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %v waiting for %s: %v", d, what, err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}
