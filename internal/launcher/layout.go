package launcher

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/gorocket/gorocket/internal/conf"
)

// Replication modes of a master with slaves.
const (
	ModeAsync = "async" // ASYNC_MASTER
	ModeSync  = "sync"  // SYNC_MASTER
)

// Flush modes.
const (
	FlushAsync = "async" // ASYNC_FLUSH
	FlushSync  = "sync"  // SYNC_FLUSH
)

// Default ports of a cluster laid out from a base port: nameserver i listens on BasePort+i and
// broker k (masters and slaves in order a-0, a-1, ..., b-0, ...) on BasePort+brokerPortOffset+k*brokerPortStep,
// so the default base 9876 gives the familiar 9876 and 10911, 10921, ...
const (
	DefaultBasePort  = 9876
	brokerPortOffset = 10911 - 9876
	brokerPortStep   = 10
)

// Spec describes a local cluster: how many nameservers, masters and slaves per master, and how the
// brokers replicate and flush.
type Spec struct {
	Dir         string // root directory; each node gets its own subdirectory (config, store, log)
	ClusterName string // brokerClusterName; default "DefaultCluster"
	Namesrvs    int    // number of nameservers (>= 1)
	Masters     int    // number of broker groups (>= 1)
	Slaves      int    // slaves per master (>= 0)
	Mode        string // ModeAsync or ModeSync: the masters' role when they have slaves
	Flush       string // FlushAsync or FlushSync
	// BasePort fixes the ports (see DefaultBasePort); 0 allocates random free ports.
	BasePort int
	// CommitLogFileSize overrides mapedFileSizeCommitLog (bytes); 0 keeps the default (1 GiB).
	// Tests use a small value so a store does not reserve a gigabyte.
	CommitLogFileSize int64
	// BrokerOverrides are extra broker properties (key=value) applied to every broker.
	BrokerOverrides map[string]string
}

// NamesrvNode is one planned nameserver.
type NamesrvNode struct {
	Name       string // namesrv-0, namesrv-1, ...
	Port       int
	Addr       string // 127.0.0.1:Port
	Dir        string // node directory
	ConfigPath string // namesrv.properties
	LogPath    string
	Config     conf.NamesrvConfig
}

// BrokerNode is one planned broker (master or slave).
type BrokerNode struct {
	Name       string // <brokerName>-<brokerId>, e.g. broker-a-0 (master), broker-a-1 (slave)
	BrokerName string // broker-a, broker-b, ...
	BrokerID   int64  // 0 master, >= 1 slave
	Role       string // conf.RoleAsyncMaster, conf.RoleSyncMaster or conf.RoleSlave
	Port       int    // listenPort; the VIP port is Port-2 and HA Port+1
	Addr       string // 127.0.0.1:Port, what the broker registers and clients dial
	Dir        string // node directory
	StoreDir   string // storePathRootDir (distinct per broker by construction)
	ConfigPath string // broker.properties
	LogPath    string
	Config     conf.BrokerConfig
}

// IsMaster reports whether the node is a master (brokerId 0).
func (b *BrokerNode) IsMaster() bool { return b.BrokerID == 0 }

// Layout is a fully planned cluster: every node's ports, paths and configuration.
type Layout struct {
	Spec     Spec
	Namesrvs []*NamesrvNode
	Brokers  []*BrokerNode
}

// NamesrvAddrs returns the nameserver addresses.
func (l *Layout) NamesrvAddrs() []string {
	out := make([]string, len(l.Namesrvs))
	for i, n := range l.Namesrvs {
		out[i] = n.Addr
	}
	return out
}

// NamesrvAddrList returns the nameserver addresses joined by ';' (the namesrvAddr syntax).
func (l *Layout) NamesrvAddrList() string { return strings.Join(l.NamesrvAddrs(), ";") }

// Masters returns the master nodes.
func (l *Layout) Masters() []*BrokerNode {
	var out []*BrokerNode
	for _, b := range l.Brokers {
		if b.IsMaster() {
			out = append(out, b)
		}
	}
	return out
}

// Broker returns the node named name (e.g. "broker-a-1").
func (l *Layout) Broker(name string) *BrokerNode {
	for _, b := range l.Brokers {
		if b.Name == name {
			return b
		}
	}
	return nil
}

// validate checks and defaults spec.
func (s *Spec) validate() error {
	var errs []error
	if s.Dir == "" {
		errs = append(errs, errors.New("dir is required"))
	}
	if s.ClusterName == "" {
		s.ClusterName = "DefaultCluster"
	}
	if s.Namesrvs < 1 || s.Namesrvs > 9 {
		errs = append(errs, fmt.Errorf("namesrvs = %d, want 1..9", s.Namesrvs))
	}
	if s.Masters < 1 || s.Masters > 26 {
		errs = append(errs, fmt.Errorf("masters = %d, want 1..26", s.Masters))
	}
	if s.Slaves < 0 || s.Slaves > 8 {
		errs = append(errs, fmt.Errorf("slaves = %d, want 0..8", s.Slaves))
	}
	if s.Mode == "" {
		s.Mode = ModeAsync
	}
	if s.Mode != ModeAsync && s.Mode != ModeSync {
		errs = append(errs, fmt.Errorf("mode = %q, want %q or %q", s.Mode, ModeSync, ModeAsync))
	}
	if s.Flush == "" {
		s.Flush = FlushAsync
	}
	if s.Flush != FlushAsync && s.Flush != FlushSync {
		errs = append(errs, fmt.Errorf("flush = %q, want %q or %q", s.Flush, FlushSync, FlushAsync))
	}
	if s.BasePort != 0 {
		hi := s.BasePort + brokerPortOffset + (s.Masters*(1+s.Slaves)-1)*brokerPortStep + brokerBlockHigh
		if s.BasePort < 1024 || hi > 65535 {
			errs = append(errs, fmt.Errorf("base port %d: ports would span %d..%d, want 1024..65535", s.BasePort, s.BasePort, hi))
		}
	}
	if len(errs) > 0 {
		return fmt.Errorf("launcher: invalid cluster spec: %w", errors.Join(errs...))
	}
	return nil
}

// Plan lays out a cluster: ports (fixed from BasePort, or random free ones), a directory per node
// under Dir, and each node's configuration. Masters are SYNC_MASTER in sync mode with slaves,
// ASYNC_MASTER otherwise; slaves are SLAVE with brokerId 1..Slaves. Every broker gets its own
// store root, so two brokers never share a store (the deployment guides' pitfall). Plan does not
// touch the file system; WriteConfigs does.
func Plan(spec Spec) (*Layout, error) {
	return plan(spec, defaultAllocator)
}

func plan(spec Spec, alloc *PortAllocator) (*Layout, error) {
	if err := spec.validate(); err != nil {
		return nil, err
	}
	dir, err := filepath.Abs(spec.Dir)
	if err != nil {
		return nil, fmt.Errorf("launcher: dir %q: %w", spec.Dir, err)
	}
	spec.Dir = dir
	l := &Layout{Spec: spec}
	for i := range spec.Namesrvs {
		port := spec.BasePort + i
		if spec.BasePort == 0 {
			if port, err = alloc.Block(0, 0); err != nil {
				return nil, err
			}
		}
		name := fmt.Sprintf("namesrv-%d", i)
		nd := filepath.Join(dir, name)
		c := conf.DefaultNamesrv()
		c.ListenPort = port
		c.KvConfigPath = filepath.Join(nd, "kvConfig.json")
		c.ConfigStorePath = filepath.Join(nd, "namesrv-runtime.properties")
		l.Namesrvs = append(l.Namesrvs, &NamesrvNode{
			Name: name, Port: port, Addr: hostPort(port), Dir: nd,
			ConfigPath: filepath.Join(nd, "namesrv.properties"), LogPath: filepath.Join(nd, "namesrv.log"),
			Config: c,
		})
	}
	nsAddrs := l.NamesrvAddrs()
	k := 0
	for g := range spec.Masters {
		brokerName := "broker-" + string(rune('a'+g))
		for id := 0; id <= spec.Slaves; id++ {
			port := spec.BasePort + brokerPortOffset + k*brokerPortStep
			k++
			if spec.BasePort == 0 {
				if port, err = alloc.Block(brokerBlockLow, brokerBlockHigh); err != nil {
					return nil, err
				}
			}
			role := conf.RoleSlave
			switch {
			case id > 0:
			case spec.Slaves > 0 && spec.Mode == ModeSync:
				role = conf.RoleSyncMaster
			default:
				role = conf.RoleAsyncMaster
			}
			name := fmt.Sprintf("%s-%d", brokerName, id)
			nd := filepath.Join(dir, name)
			store := filepath.Join(nd, "store")
			c := conf.DefaultBroker()
			c.BrokerClusterName = spec.ClusterName
			c.BrokerName = brokerName
			c.BrokerID = int64(id)
			c.NamesrvAddr = nsAddrs
			c.ListenPort = port
			c.BrokerIP1 = Host
			c.BrokerIP2 = Host
			c.BrokerRole = role
			c.FlushDiskType = conf.FlushAsync
			if spec.Flush == FlushSync {
				c.FlushDiskType = conf.FlushSync
			}
			c.StorePathRootDir = store
			c.StorePathCommitLog = filepath.Join(store, "commitlog")
			c.StorePathConsumeQueue = filepath.Join(store, "consumequeue")
			c.StorePathIndex = filepath.Join(store, "index")
			c.StoreCheckpoint = filepath.Join(store, "checkpoint")
			c.AbortFile = filepath.Join(store, "abort")
			c.AutoCreateTopicEnable = true
			c.AutoCreateSubscriptionGroup = true
			c.DefaultTopicQueueNums = 4
			if spec.CommitLogFileSize > 0 {
				c.MapedFileSizeCommitLog = spec.CommitLogFileSize
			}
			for key, v := range spec.BrokerOverrides {
				if err := c.Set(key, v); err != nil {
					return nil, fmt.Errorf("launcher: broker override %s=%s: %w", key, v, err)
				}
			}
			if err := c.Validate(); err != nil {
				return nil, fmt.Errorf("launcher: broker %s configuration: %w", name, err)
			}
			l.Brokers = append(l.Brokers, &BrokerNode{
				Name: name, BrokerName: brokerName, BrokerID: int64(id), Role: role,
				Port: port, Addr: hostPort(port), Dir: nd, StoreDir: store,
				ConfigPath: filepath.Join(nd, "broker.properties"), LogPath: filepath.Join(nd, "broker.log"),
				Config: c,
			})
		}
	}
	return l, nil
}

// Ports returns every port the layout binds, including each broker's VIP and HA ports.
func (l *Layout) Ports() []int {
	var out []int
	for _, n := range l.Namesrvs {
		out = append(out, n.Port)
	}
	for _, b := range l.Brokers {
		for p := b.Port + brokerBlockLow; p <= b.Port+brokerBlockHigh; p++ {
			if p != b.Port-1 {
				out = append(out, p)
			}
		}
	}
	return out
}

// WriteConfigs creates every node directory and writes the nameserver and broker properties files.
func (l *Layout) WriteConfigs() error {
	for _, n := range l.Namesrvs {
		if err := os.MkdirAll(n.Dir, 0o755); err != nil {
			return fmt.Errorf("launcher: %w", err)
		}
		if err := writeFileAtomic(n.ConfigPath, n.Config.Render()); err != nil {
			return err
		}
	}
	for _, b := range l.Brokers {
		if err := os.MkdirAll(b.StoreDir, 0o755); err != nil {
			return fmt.Errorf("launcher: %w", err)
		}
		if err := writeFileAtomic(b.ConfigPath, b.Config.Render()); err != nil {
			return err
		}
	}
	return nil
}

func writeFileAtomic(path string, data []byte) error {
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, data, 0o644); err != nil {
		return fmt.Errorf("launcher: write %s: %w", path, err)
	}
	if err := os.Rename(tmp, path); err != nil {
		return fmt.Errorf("launcher: write %s: %w", path, err)
	}
	return nil
}

func hostPort(port int) string { return fmt.Sprintf("%s:%d", Host, port) }
