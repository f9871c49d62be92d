package launcher

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"sync"
	"syscall"
	"time"

	"github.com/gorocket/gorocket/client/admin"
)

// Daemon executable names.
const (
	NamesrvBinary = "gorocket-namesrv"
	BrokerBinary  = "gorocket-broker"
)

// DefaultGrace is how long Stop waits after SIGTERM before SIGKILL.
const DefaultGrace = 10 * time.Second

// Binaries are the daemon executables a cluster runs.
type Binaries struct {
	Namesrv string
	Broker  string
}

// FindBinaries locates gorocket-namesrv and gorocket-broker: in binDir when it is set, else next
// to the running executable, else on PATH.
func FindBinaries(binDir string) (Binaries, error) {
	find := func(name string) (string, error) {
		if binDir != "" {
			p := filepath.Join(binDir, name)
			if st, err := os.Stat(p); err != nil || st.IsDir() || st.Mode()&0o111 == 0 {
				return "", fmt.Errorf("launcher: %s not found as an executable in %s", name, binDir)
			}
			return filepath.Abs(p)
		}
		if self, err := os.Executable(); err == nil {
			if real, err := filepath.EvalSymlinks(self); err == nil {
				self = real
			}
			p := filepath.Join(filepath.Dir(self), name)
			if st, err := os.Stat(p); err == nil && !st.IsDir() && st.Mode()&0o111 != 0 {
				return p, nil
			}
		}
		p, err := exec.LookPath(name)
		if err != nil {
			return "", fmt.Errorf("launcher: %s is neither next to this executable nor on PATH (run `make build`, or pass --bin-dir)", name)
		}
		return filepath.Abs(p)
	}
	ns, err := find(NamesrvBinary)
	if err != nil {
		return Binaries{}, err
	}
	br, err := find(BrokerBinary)
	if err != nil {
		return Binaries{}, err
	}
	return Binaries{Namesrv: ns, Broker: br}, nil
}

// Cluster runs a Layout's nameservers and brokers as child processes.
type Cluster struct {
	Layout *Layout
	// Grace is the SIGTERM-to-SIGKILL delay of Stop; 0 means DefaultGrace.
	Grace time.Duration

	log      *slog.Logger
	bins     Binaries
	namesrvs []*Proc
	brokers  []*Proc // aligned with Layout.Brokers
}

// NewCluster prepares (but does not start) the processes of layout. extraBrokerArgs are
// appended to every broker's command line.
func NewCluster(log *slog.Logger, layout *Layout, bins Binaries, extraBrokerArgs ...string) *Cluster {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	c := &Cluster{Layout: layout, log: log, bins: bins}
	for _, n := range layout.Namesrvs {
		c.namesrvs = append(c.namesrvs, NewProc(log, n.Name, bins.Namesrv,
			[]string{"-c", n.ConfigPath, "--listen", n.Addr}, n.Dir, n.LogPath))
	}
	for _, b := range layout.Brokers {
		args := append([]string{"-c", b.ConfigPath, "--listen-host", Host}, extraBrokerArgs...)
		c.brokers = append(c.brokers, NewProc(log, b.Name, bins.Broker, args, b.Dir, b.LogPath))
	}
	return c
}

func (c *Cluster) grace() time.Duration {
	if c.Grace > 0 {
		return c.Grace
	}
	return DefaultGrace
}

// NamesrvProc returns nameserver i's process.
func (c *Cluster) NamesrvProc(i int) *Proc { return c.namesrvs[i] }

// BrokerProc returns the process of the broker node named name (e.g. "broker-a-0"), or nil.
func (c *Cluster) BrokerProc(name string) *Proc {
	for i, b := range c.Layout.Brokers {
		if b.Name == name {
			return c.brokers[i]
		}
	}
	return nil
}

// Procs returns every process, nameservers first.
func (c *Cluster) Procs() []*Proc { return append(slices.Clone(c.namesrvs), c.brokers...) }

func (c *Cluster) procError(p *Proc, err error) error {
	tail := p.LogTail(2048)
	if tail == "" {
		return fmt.Errorf("%s: %w", p.Name, err)
	}
	return fmt.Errorf("%s: %w; last log lines (%s):\n%s", p.Name, err, p.LogPath, tail)
}

// startAndWait starts p and waits until addr accepts connections.
func (c *Cluster) startAndWait(ctx context.Context, p *Proc, addr string) error {
	if err := p.Start(); err != nil {
		return err
	}
	if err := WaitPort(ctx, addr, p.Done()); err != nil {
		if errors.Is(err, errExited) {
			return c.procError(p, fmt.Errorf("exited (%s) before listening on %s", exitStatus(p.ExitErr()), addr))
		}
		return c.procError(p, err)
	}
	return nil
}

// Start writes the configuration files, starts the nameservers, waits until they accept
// connections, starts the brokers, waits until they accept connections and until every
// nameserver lists every broker. On failure everything started is stopped again.
func (c *Cluster) Start(ctx context.Context) (err error) {
	if err := checkFree(c.Layout.Ports()); err != nil {
		return err
	}
	if err := c.Layout.WriteConfigs(); err != nil {
		return err
	}
	defer func() {
		if err != nil {
			_ = c.Stop()
		}
	}()
	for i, p := range c.namesrvs {
		if err := c.startAndWait(ctx, p, c.Layout.Namesrvs[i].Addr); err != nil {
			return err
		}
	}
	for _, p := range c.brokers {
		if err := p.Start(); err != nil {
			return err
		}
	}
	for i, p := range c.brokers {
		if err := WaitPort(ctx, c.Layout.Brokers[i].Addr, p.Done()); err != nil {
			if errors.Is(err, errExited) {
				return c.procError(p, fmt.Errorf("exited (%s) before listening on %s", exitStatus(p.ExitErr()), c.Layout.Brokers[i].Addr))
			}
			return c.procError(p, err)
		}
	}
	return c.WaitRegistered(ctx, c.Layout.Brokers...)
}

// Registered reports, per nameserver, which of the given brokers its cluster info lists under
// the right cluster, name, id and address.
func (c *Cluster) Registered(ctx context.Context, nsAddr string, brokers ...*BrokerNode) (map[string]bool, error) {
	a, err := admin.New(nil, admin.Options{NameServers: []string{nsAddr}, Timeout: 2 * time.Second})
	if err != nil {
		return nil, err
	}
	defer a.Close()
	ci, err := a.ClusterInfo(ctx)
	if err != nil {
		return nil, err
	}
	out := make(map[string]bool, len(brokers))
	for _, b := range brokers {
		bd, ok := ci.BrokerAddrTable[b.BrokerName]
		out[b.Name] = ok && bd.Cluster == c.Layout.Spec.ClusterName && bd.BrokerAddrs[b.BrokerID] == b.Addr &&
			slices.Contains(ci.ClusterAddrTable[c.Layout.Spec.ClusterName], b.BrokerName)
	}
	return out, nil
}

// WaitRegistered polls every nameserver until it lists the given brokers (all brokers when none
// are given), failing early when a broker process exits.
func (c *Cluster) WaitRegistered(ctx context.Context, brokers ...*BrokerNode) error {
	if len(brokers) == 0 {
		brokers = c.Layout.Brokers
	}
	for _, n := range c.Layout.Namesrvs {
		for {
			got, qerr := c.Registered(ctx, n.Addr, brokers...)
			missing := []string{}
			for _, b := range brokers {
				if qerr != nil || !got[b.Name] {
					missing = append(missing, b.Name)
				}
			}
			if len(missing) == 0 {
				break
			}
			for _, b := range brokers {
				if p := c.BrokerProc(b.Name); p != nil && !p.Running() {
					return c.procError(p, fmt.Errorf("exited (%s) before registering with %s", exitStatus(p.ExitErr()), n.Addr))
				}
			}
			if err := poll(ctx, nil, 100*time.Millisecond); err != nil {
				return fmt.Errorf("launcher: brokers %v not registered with nameserver %s: %w (last query error: %v)", missing, n.Addr, err, errOrNone(qerr))
			}
		}
	}
	return nil
}

func errOrNone(err error) any {
	if err == nil {
		return "none"
	}
	return err
}

// Stop stops the brokers (in parallel, SIGTERM then SIGKILL after Grace) and then the
// nameservers. It returns an error naming the processes that had to be killed or failed.
func (c *Cluster) Stop() error {
	var mu sync.Mutex
	var errs []error
	stopAll := func(ps []*Proc) {
		var wg sync.WaitGroup
		for _, p := range ps {
			wg.Add(1)
			go func() {
				defer wg.Done()
				killed, err := p.Stop(c.grace())
				mu.Lock()
				defer mu.Unlock()
				switch {
				case err != nil:
					errs = append(errs, fmt.Errorf("%s: %w", p.Name, err))
				case killed:
					errs = append(errs, fmt.Errorf("%s did not exit within %v of SIGTERM and was killed", p.Name, c.grace()))
				}
			}()
		}
		wg.Wait()
	}
	stopAll(c.brokers)
	stopAll(c.namesrvs)
	return errors.Join(errs...)
}

// StartBroker starts a stopped broker node and waits until it accepts connections and is
// registered again.
func (c *Cluster) StartBroker(ctx context.Context, name string) error {
	b := c.Layout.Broker(name)
	p := c.BrokerProc(name)
	if b == nil || p == nil {
		return fmt.Errorf("launcher: no broker node %q", name)
	}
	if err := c.startAndWait(ctx, p, b.Addr); err != nil {
		return err
	}
	return c.WaitRegistered(ctx, b)
}

// StopBroker stops a broker node gracefully (SIGTERM, SIGKILL after Grace).
func (c *Cluster) StopBroker(name string) error {
	p := c.BrokerProc(name)
	if p == nil {
		return fmt.Errorf("launcher: no broker node %q", name)
	}
	_, err := p.Stop(c.grace())
	return err
}

// KillBroker SIGKILLs a broker node and waits for it to exit.
func (c *Cluster) KillBroker(name string) error {
	p := c.BrokerProc(name)
	if p == nil {
		return fmt.Errorf("launcher: no broker node %q", name)
	}
	return p.Kill()
}

// SignalBroker sends sig to a broker node without waiting.
func (c *Cluster) SignalBroker(name string, sig syscall.Signal) error {
	p := c.BrokerProc(name)
	if p == nil {
		return fmt.Errorf("launcher: no broker node %q", name)
	}
	return p.Signal(sig)
}

// RestartBroker stops (gracefully) and starts a broker node again.
func (c *Cluster) RestartBroker(ctx context.Context, name string) error {
	if err := c.StopBroker(name); err != nil {
		return err
	}
	return c.StartBroker(ctx, name)
}

// StartNamesrv starts nameserver i again after it was stopped and waits for its port.
func (c *Cluster) StartNamesrv(ctx context.Context, i int) error {
	return c.startAndWait(ctx, c.namesrvs[i], c.Layout.Namesrvs[i].Addr)
}

// StopNamesrv stops nameserver i gracefully.
func (c *Cluster) StopNamesrv(i int) error {
	_, err := c.namesrvs[i].Stop(c.grace())
	return err
}

// KillNamesrv SIGKILLs nameserver i.
func (c *Cluster) KillNamesrv(i int) error { return c.namesrvs[i].Kill() }
