package replication

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/gorocket/gorocket/client/admin"
	"github.com/gorocket/gorocket/internal/conf"
	"github.com/gorocket/gorocket/internal/launcher"
	"github.com/gorocket/gorocket/test/cluster"
)

// syncBuffer is a bytes.Buffer safe for a writer process and a reading test.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// TestLocalUpTwoMastersTwoSlavesSync: `gorocketctl local up --masters 2 --slaves 1 --mode sync`
// runs 2 SYNC_MASTERs, each with a connected, caught-up slave (runtime info, clusterList and
// brokerStatus show it), and on SIGINT stops every child process and exits 0.
func TestLocalUpTwoMastersTwoSlavesSync(t *testing.T) {
	t.Parallel()
	bins := cluster.BinDir(t)
	ctl := filepath.Join(bins, cluster.CtlBinary)
	dir := t.TempDir()
	cmd := exec.Command(ctl, "local", "up", "--masters", "2", "--slaves", "1", "--mode", "sync",
		"--base-port", "0", "--dir", dir, "--bin-dir", bins, "--commitlog-size", "67108864", "--status-interval", "0")
	var out syncBuffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	stopped := false
	defer func() {
		if !stopped {
			_ = cmd.Process.Signal(syscall.SIGINT)
			select {
			case <-exited:
			case <-time.After(60 * time.Second):
				_ = cmd.Process.Kill()
			}
		}
		if t.Failed() {
			t.Logf("gorocketctl output:\n%s", out.String())
		}
	}()

	var st launcher.State
	cluster.Eventually(t, 90*time.Second, "local up to start the cluster", func() error {
		select {
		case err := <-exited:
			stopped = true
			t.Fatalf("gorocketctl local up exited: %v", err)
		default:
		}
		var err error
		st, err = launcher.ReadState(dir)
		return err
	})
	if len(st.Procs) != 5 || len(st.NamesrvAddrs) != 1 {
		t.Fatalf("state: %d processes, nameservers %v; want 1 nameserver and 4 brokers", len(st.Procs), st.NamesrvAddrs)
	}
	ad, err := admin.New(nil, admin.Options{NameServers: st.NamesrvAddrs, Timeout: 5 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	defer ad.Close()
	var masters []string
	cluster.Eventually(t, 30*time.Second, "2 masters with caught-up slaves", func() error {
		ci, err := ad.ClusterInfo(context.Background())
		if err != nil {
			return err
		}
		masters = masters[:0]
		for _, name := range []string{"broker-a", "broker-b"} {
			bd, ok := ci.BrokerAddrTable[name]
			if !ok || bd.BrokerAddrs[0] == "" || bd.BrokerAddrs[1] == "" {
				return fmt.Errorf("%s not registered with a master and a slave: %+v", name, bd)
			}
			mi, err := ad.BrokerRuntimeInfo(context.Background(), bd.BrokerAddrs[0])
			if err != nil {
				return err
			}
			if mi["haRole"] != conf.RoleSyncMaster || mi["haSlaveCount"] != "1" || mi["haSlaveLagBytes"] != "0" {
				return fmt.Errorf("%s master: haRole %s haSlaveCount %s haSlaveLagBytes %s", name, mi["haRole"], mi["haSlaveCount"], mi["haSlaveLagBytes"])
			}
			si, err := ad.BrokerRuntimeInfo(context.Background(), bd.BrokerAddrs[1])
			if err != nil {
				return err
			}
			if si["haRole"] != conf.RoleSlave || si["haConnected"] != "true" || si["masterAddr"] != bd.BrokerAddrs[0] {
				return fmt.Errorf("%s slave: haRole %s haConnected %s masterAddr %s", name, si["haRole"], si["haConnected"], si["masterAddr"])
			}
			masters = append(masters, bd.BrokerAddrs[0])
		}
		return nil
	})

	ns := strings.Join(st.NamesrvAddrs, ";")
	list := runCtl(t, ctl, "-n", ns, "clusterList")
	if strings.Count(list, "SYNC_MASTER") != 2 || len(regexp.MustCompile(`\bSLAVE\b`).FindAllString(list, -1)) != 2 {
		t.Fatalf("clusterList does not show 2 SYNC_MASTERs and 2 SLAVEs:\n%s", list)
	}
	for _, m := range masters {
		status := runCtl(t, ctl, "-n", ns, "brokerStatus", "-b", m)
		if !regexp.MustCompile(`(?m)^haSlaveCount\s+1\s*$`).MatchString(status) {
			t.Fatalf("brokerStatus of %s does not show one connected slave:\n%s", m, status)
		}
	}

	if err := cmd.Process.Signal(syscall.SIGINT); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-exited:
		stopped = true
		if err != nil {
			t.Fatalf("gorocketctl local up after SIGINT: %v", err)
		}
	case <-time.After(60 * time.Second):
		t.Fatal("gorocketctl local up did not exit within 60 s of SIGINT")
	}
	for _, p := range st.Procs {
		if err := syscall.Kill(p.Pid, 0); !errors.Is(err, syscall.ESRCH) {
			t.Errorf("%s (pid %d) still exists after local up exited: %v", p.Name, p.Pid, err)
		}
	}
}

func runCtl(t *testing.T, ctl string, args ...string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	out, err := exec.CommandContext(ctx, ctl, args...).CombinedOutput()
	if err != nil {
		t.Fatalf("gorocketctl %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return string(out)
}
