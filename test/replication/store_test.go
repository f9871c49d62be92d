package replication

import (
	"bytes"
	"context"
	"errors"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/gorocket/gorocket/internal/conf"
	"github.com/gorocket/gorocket/internal/launcher"
	"github.com/gorocket/gorocket/test/cluster"
)

// TestSlaveOnSameHostNeedsItsOwnStore: a master and a slave on one host, each with its own
// storePathRootDir, replicate; a third broker (a second slave) configured with the master's store
// path is refused at start with exit code 1 and an error naming the lock file and the process
// holding it, and the running pair is unaffected.
func TestSlaveOnSameHostNeedsItsOwnStore(t *testing.T) {
	t.Parallel()
	c := startCluster(t, cluster.Options{Masters: 1, Slaves: 1, Mode: "sync"})
	master, slave := c.Broker("broker-a-0"), c.Broker("broker-a-1")
	if master.StoreDir == slave.StoreDir {
		t.Fatalf("layout gave master and slave the same store %s", master.StoreDir)
	}
	const topic = "OwnStore"
	createTopic(t, c, topic, 1)
	p := newProducer(t, c)
	if ok, failed := produce(context.Background(), p, topic, "x", 50, 4); len(ok) != 50 || failed != 0 {
		t.Fatalf("sends through the pair: %d ok, %d failed", len(ok), failed)
	}

	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := l.Addr().(*net.TCPAddr).Port
	l.Close()
	cfg := slave.Config
	cfg.BrokerID = 2
	cfg.ListenPort = port
	cfg.HAListenPort = 0
	cfg.StorePathRootDir = master.StoreDir
	cfg.StorePathCommitLog, cfg.StorePathConsumeQueue, cfg.StorePathIndex, cfg.StoreCheckpoint, cfg.AbortFile = "", "", "", "", ""
	dir := t.TempDir()
	cfgPath := filepath.Join(dir, "broker.properties")
	if err := os.WriteFile(cfgPath, cfg.Render(), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, _, err := conf.LoadBroker(cfgPath); err != nil {
		t.Fatalf("the misconfigured broker's file itself must be valid: %v", err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, filepath.Join(cluster.BinDir(t), launcher.BrokerBinary), "-c", cfgPath, "--listen-host", "127.0.0.1")
	var stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stderr, &stderr
	err = cmd.Run()
	var exit *exec.ExitError
	if !errors.As(err, &exit) || exit.ExitCode() != 1 {
		t.Fatalf("broker on the master's store: %v, want exit code 1\n%s", err, stderr.String())
	}
	lock := filepath.Join(master.StoreDir, "lock")
	holder := "pid=" + strconv.Itoa(c.BrokerProc(master.Name).Pid())
	out := stderr.String()
	if !strings.Contains(out, "gorocket-broker: ") || !strings.Contains(out, lock) || !strings.Contains(out, holder) || !strings.Contains(out, "locked") {
		t.Fatalf("stderr does not name the lock file %s and its holder %s:\n%s", lock, holder, out)
	}
	// The pair still works.
	if ok, failed := produce(context.Background(), p, topic, "y", 50, 4); len(ok) != 50 || failed != 0 {
		t.Fatalf("sends after the refused start: %d ok, %d failed", len(ok), failed)
	}
	waitSlavesCaughtUp(t, c, master.Addr, 1, 20*time.Second)
}
