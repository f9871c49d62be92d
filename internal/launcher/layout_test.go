package launcher

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/gorocket/gorocket/internal/conf"
)

func TestPlanRolesPerMode(t *testing.T) {
	cases := []struct {
		name         string
		slaves       int
		mode         string
		wantMaster   string
		wantBrokers  int
		wantSlaveIDs []int64
	}{
		{"no slaves async", 0, ModeAsync, conf.RoleAsyncMaster, 2, nil},
		{"no slaves sync mode still async master", 0, ModeSync, conf.RoleAsyncMaster, 2, nil},
		{"one slave sync", 1, ModeSync, conf.RoleSyncMaster, 4, []int64{1}},
		{"two slaves async", 2, ModeAsync, conf.RoleAsyncMaster, 6, []int64{1, 2}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			l, err := Plan(Spec{Dir: t.TempDir(), Namesrvs: 2, Masters: 2, Slaves: tc.slaves, Mode: tc.mode, Flush: FlushSync, BasePort: 0})
			if err != nil {
				t.Fatal(err)
			}
			if len(l.Brokers) != tc.wantBrokers {
				t.Fatalf("brokers = %d, want %d", len(l.Brokers), tc.wantBrokers)
			}
			for _, b := range l.Brokers {
				if b.Config.FlushDiskType != conf.FlushSync {
					t.Errorf("%s flush = %s", b.Name, b.Config.FlushDiskType)
				}
				if b.IsMaster() {
					if b.Role != tc.wantMaster || b.Config.BrokerRole != tc.wantMaster {
						t.Errorf("%s role = %s/%s, want %s", b.Name, b.Role, b.Config.BrokerRole, tc.wantMaster)
					}
					continue
				}
				if b.Role != conf.RoleSlave || b.Config.BrokerRole != conf.RoleSlave || b.Config.BrokerID < 1 {
					t.Errorf("%s: slave role %s id %d", b.Name, b.Config.BrokerRole, b.Config.BrokerID)
				}
				if err := b.Config.Validate(); err != nil {
					t.Errorf("%s config invalid: %v", b.Name, err)
				}
			}
			for _, m := range l.Masters() {
				var ids []int64
				for _, b := range l.Brokers {
					if b.BrokerName == m.BrokerName && !b.IsMaster() {
						ids = append(ids, b.BrokerID)
					}
				}
				if len(ids) != len(tc.wantSlaveIDs) {
					t.Errorf("%s slaves %v, want %v", m.BrokerName, ids, tc.wantSlaveIDs)
				}
				for i := range ids {
					if ids[i] != tc.wantSlaveIDs[i] {
						t.Errorf("%s slaves %v, want %v", m.BrokerName, ids, tc.wantSlaveIDs)
					}
				}
			}
		})
	}
}

func TestPlanDistinctPortsAndPaths(t *testing.T) {
	for _, base := range []int{0, DefaultBasePort} {
		l, err := Plan(Spec{Dir: t.TempDir(), Namesrvs: 3, Masters: 3, Slaves: 2, Mode: ModeSync})
		if base != 0 {
			l, err = Plan(Spec{Dir: t.TempDir(), Namesrvs: 3, Masters: 3, Slaves: 2, Mode: ModeSync, BasePort: base})
		}
		if err != nil {
			t.Fatal(err)
		}
		ports := map[int]string{}
		for _, p := range l.Ports() {
			if who, dup := ports[p]; dup {
				t.Fatalf("base %d: port %d used twice (%s)", base, p, who)
			}
			ports[p] = "x"
		}
		paths := map[string]string{}
		for _, b := range l.Brokers {
			r := b.Config.Resolve("h", "/nonexistent-home")
			for _, p := range []string{r.StorePathRootDir, r.StorePathCommitLog, r.StorePathConsumeQueue, r.StorePathIndex, r.StoreCheckpoint, r.AbortFile, b.ConfigPath, b.LogPath} {
				if who, dup := paths[p]; dup {
					t.Fatalf("path %s used by %s and %s", p, who, b.Name)
				}
				if !strings.HasPrefix(p, l.Spec.Dir) {
					t.Fatalf("path %s of %s is outside the cluster dir %s", p, b.Name, l.Spec.Dir)
				}
				paths[p] = b.Name
			}
			if r.HAListenPort != b.Port+1 {
				t.Errorf("%s HA port %d, want %d", b.Name, r.HAListenPort, b.Port+1)
			}
			if strings.Join(b.Config.NamesrvAddr, ";") != l.NamesrvAddrList() {
				t.Errorf("%s namesrvAddr %v", b.Name, b.Config.NamesrvAddr)
			}
		}
		for _, n := range l.Namesrvs {
			for _, p := range []string{n.Config.KvConfigPath, n.Config.ConfigStorePath, n.ConfigPath, n.LogPath} {
				if !strings.HasPrefix(p, l.Spec.Dir) {
					t.Fatalf("nameserver path %s outside the cluster dir", p)
				}
				if _, dup := paths[p]; dup {
					t.Fatalf("path %s used twice", p)
				}
				paths[p] = n.Name
			}
		}
		if base != 0 {
			if l.Namesrvs[0].Port != 9876 || l.Brokers[0].Port != 10911 || l.Brokers[1].Port != 10921 {
				t.Errorf("fixed ports: namesrv %d brokers %d %d", l.Namesrvs[0].Port, l.Brokers[0].Port, l.Brokers[1].Port)
			}
		}
	}
}

func TestPlanRejectsBadSpecs(t *testing.T) {
	bad := []Spec{
		{Dir: "", Namesrvs: 1, Masters: 1},
		{Dir: "x", Namesrvs: 0, Masters: 1},
		{Dir: "x", Namesrvs: 1, Masters: 0},
		{Dir: "x", Namesrvs: 1, Masters: 1, Slaves: -1},
		{Dir: "x", Namesrvs: 1, Masters: 1, Mode: "semi"},
		{Dir: "x", Namesrvs: 1, Masters: 1, Flush: "never"},
		{Dir: "x", Namesrvs: 1, Masters: 1, BasePort: 65000},
		{Dir: "x", Namesrvs: 1, Masters: 1, BrokerOverrides: map[string]string{"brokerRole": "BOSS"}},
	}
	for i, s := range bad {
		if _, err := Plan(s); err == nil {
			t.Errorf("spec %d (%+v) accepted", i, s)
		}
	}
}

func TestWriteConfigsRoundTrip(t *testing.T) {
	l, err := Plan(Spec{Dir: t.TempDir(), Namesrvs: 2, Masters: 1, Slaves: 1, Mode: ModeSync, Flush: FlushAsync,
		CommitLogFileSize: 64 << 20, BrokerOverrides: map[string]string{"maxMessageSize": "65536"}})
	if err != nil {
		t.Fatal(err)
	}
	if err := l.WriteConfigs(); err != nil {
		t.Fatal(err)
	}
	for _, b := range l.Brokers {
		got, warns, err := conf.LoadBroker(b.ConfigPath)
		if err != nil || len(warns) > 0 {
			t.Fatalf("%s: load %v warnings %v", b.Name, err, warns)
		}
		if got.BrokerName != b.BrokerName || got.BrokerID != b.BrokerID || got.BrokerRole != b.Role ||
			got.ListenPort != b.Port || got.StorePathRootDir != b.StoreDir || got.BrokerIP1 != Host ||
			got.MapedFileSizeCommitLog != 64<<20 || got.MaxMessageSize != 65536 ||
			strings.Join(got.NamesrvAddr, ";") != l.NamesrvAddrList() {
			t.Errorf("%s: file does not match the plan: %+v", b.Name, got)
		}
		if st, err := os.Stat(b.StoreDir); err != nil || !st.IsDir() {
			t.Errorf("%s: store dir not created: %v", b.Name, err)
		}
		raw, _ := os.ReadFile(b.ConfigPath)
		if !bytes.Contains(raw, []byte("brokerRole=")) {
			t.Errorf("%s: rendered file lacks brokerRole:\n%s", b.Name, raw)
		}
	}
	for _, n := range l.Namesrvs {
		got, _, err := conf.LoadNamesrv(n.ConfigPath)
		if err != nil {
			t.Fatal(err)
		}
		if got.ListenPort != n.Port || filepath.Dir(got.KvConfigPath) != n.Dir {
			t.Errorf("%s: %+v", n.Name, got)
		}
	}
}
