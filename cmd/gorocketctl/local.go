package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/gorocket/gorocket/client/admin"
	"github.com/gorocket/gorocket/internal/launcher"
)

// localFlags are the options of `local up`.
type localFlags struct {
	spec         launcher.Spec
	binDir       string
	demo         bool
	grace        time.Duration
	startTimeout time.Duration
	statusEvery  time.Duration
	fresh        bool
}

func (a *app) localCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "local",
		Short: "Run a local cluster of nameservers and brokers as child processes",
	}
	cmd.AddCommand(a.localUpCmd(), a.localDownCmd())
	return cmd
}

func defaultLocalFlags() localFlags {
	return localFlags{
		spec: launcher.Spec{Dir: ".local-cluster", ClusterName: "DefaultCluster", Namesrvs: 1, Masters: 1, Slaves: 0,
			Mode: launcher.ModeAsync, Flush: launcher.FlushAsync, BasePort: launcher.DefaultBasePort,
			CommitLogFileSize: 256 << 20},
		grace: launcher.DefaultGrace, startTimeout: 60 * time.Second, statusEvery: 30 * time.Second,
	}
}

func (a *app) localUpCmd() *cobra.Command {
	lf := defaultLocalFlags()
	cmd := &cobra.Command{
		Use:   "up [--masters 1] [--slaves 0] [--namesrvs 1] [--mode async|sync] [--flush async|sync] [--dir DIR] [--demo]",
		Short: "Start a local cluster; with --demo run a produce/consume demo and exit",
		Long: `Starts nameservers and brokers as child processes on 127.0.0.1, each with its own port and
store directory under --dir, prints the nameserver address and a status, and runs until Ctrl-C
or SIGTERM, then stops every child (SIGTERM, SIGKILL after --grace). Brokers of a master/slave
group share a brokerName; masters are SYNC_MASTER with --mode sync (ASYNC_MASTER otherwise) and
slaves SLAVE with brokerId 1..N. With --demo it creates a topic, sends and consumes sample
messages, prints what happened, stops the cluster and exits non-zero if the demo failed.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if a.localUpFn != nil {
				return a.localUpFn(cmd.Context(), lf)
			}
			return a.localUp(cmd.Context(), lf)
		},
	}
	f := cmd.Flags()
	f.IntVar(&lf.spec.Namesrvs, "namesrvs", lf.spec.Namesrvs, "nameservers")
	f.IntVar(&lf.spec.Masters, "masters", lf.spec.Masters, "broker groups (masters)")
	f.IntVar(&lf.spec.Slaves, "slaves", lf.spec.Slaves, "slaves per master")
	f.StringVar(&lf.spec.Mode, "mode", lf.spec.Mode, "replication of masters with slaves: async (ASYNC_MASTER) or sync (SYNC_MASTER)")
	f.StringVar(&lf.spec.Flush, "flush", lf.spec.Flush, "disk flush: async (ASYNC_FLUSH) or sync (SYNC_FLUSH)")
	f.StringVar(&lf.spec.Dir, "dir", lf.spec.Dir, "directory for configs, stores and logs (one subdirectory per process)")
	f.StringVar(&lf.spec.ClusterName, "cluster", lf.spec.ClusterName, "brokerClusterName")
	f.IntVar(&lf.spec.BasePort, "base-port", lf.spec.BasePort, "first nameserver port; brokers from base+1035 in steps of 10 (0 = random free ports)")
	f.StringVar(&lf.binDir, "bin-dir", "", "directory of gorocket-namesrv and gorocket-broker (default: next to gorocketctl, else PATH)")
	f.BoolVar(&lf.demo, "demo", false, "run the produce/consume demo, then stop the cluster and exit")
	f.DurationVar(&lf.grace, "grace", lf.grace, "how long to wait after SIGTERM before killing a child")
	f.DurationVar(&lf.startTimeout, "start-timeout", lf.startTimeout, "how long to wait for the cluster to be up")
	f.DurationVar(&lf.statusEvery, "status-interval", lf.statusEvery, "period of the status line while running (0 = only on changes)")
	f.Int64Var(&lf.spec.CommitLogFileSize, "commitlog-size", lf.spec.CommitLogFileSize, "commit-log segment size in bytes (mapedFileSizeCommitLog; RocketMQ's default is 1 GiB)")
	f.BoolVar(&lf.fresh, "fresh", false, "delete the previous contents of --dir (stores included) before starting")
	return cmd
}

// checkDir refuses a directory whose state file names a still-running launcher, and with fresh
// deletes what a previous run left.
func checkDir(dir string, fresh bool) error {
	st, err := launcher.ReadState(dir)
	if err == nil && st.LauncherRunning() {
		return usageErr("a local cluster started from %s is still running (pid %d); run `gorocketctl local down --dir %s` first", dir, st.LauncherPid, dir)
	}
	if !fresh {
		return nil
	}
	entries, err := os.ReadDir(dir)
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("--fresh: %w", err)
	}
	for _, e := range entries {
		n := e.Name()
		if strings.HasPrefix(n, "namesrv-") || strings.HasPrefix(n, "broker-") || n == launcher.StateFile {
			if err := os.RemoveAll(filepath.Join(dir, n)); err != nil {
				return fmt.Errorf("--fresh: %w", err)
			}
		}
	}
	return nil
}

func (a *app) localUp(ctx context.Context, lf localFlags) error {
	layout, err := launcher.Plan(lf.spec)
	if err != nil {
		return usageErr("%v", err)
	}
	if err := checkDir(layout.Spec.Dir, lf.fresh); err != nil {
		return err
	}
	bins, err := launcher.FindBinaries(lf.binDir)
	if err != nil {
		return err
	}
	cl := launcher.NewCluster(a.log, layout, bins)
	cl.Grace = lf.grace
	fmt.Fprintf(a.stdout, "starting %d nameserver(s) and %d broker(s) in %s\n", len(layout.Namesrvs), len(layout.Brokers), layout.Spec.Dir)
	sctx, cancel := context.WithTimeout(ctx, lf.startTimeout)
	err = cl.Start(sctx)
	cancel()
	if err != nil {
		return fmt.Errorf("local cluster did not start: %w", err)
	}
	stopped := false
	stop := func() error {
		if stopped {
			return nil
		}
		stopped = true
		fmt.Fprintln(a.stdout, "stopping the local cluster ...")
		err := cl.Stop()
		_ = launcher.RemoveState(layout.Spec.Dir)
		if err != nil {
			return fmt.Errorf("stopping the local cluster: %w", err)
		}
		fmt.Fprintln(a.stdout, "local cluster stopped; every child process exited")
		return nil
	}
	defer stop()
	if err := launcher.WriteState(layout.Spec.Dir, cl.State()); err != nil {
		a.log.Warn("cannot write the state file; local down will not find this cluster", "err", err)
	}
	fmt.Fprintf(a.stdout, "\nnameserver: %s\n  export NAMESRV_ADDR=%q\n\n", layout.NamesrvAddrList(), layout.NamesrvAddrList())
	a.printStatus(ctx, cl)
	if lf.demo {
		demoErr := runDemo(ctx, a.stdout, a.log, layout)
		stopErr := stop()
		if demoErr != nil {
			return fmt.Errorf("demo failed: %w", demoErr)
		}
		return stopErr
	}
	fmt.Fprintln(a.stdout, "\nrunning; press Ctrl-C to stop")
	a.monitor(ctx, cl, lf.statusEvery)
	return stop()
}

// printStatus writes the process table and the brokers each nameserver has registered.
func (a *app) printStatus(ctx context.Context, cl *launcher.Cluster) {
	t := newTable(a.stdout, "Process", "PID", "Address", "Role", "Up", "Log")
	for i, n := range cl.Layout.Namesrvs {
		p := cl.NamesrvProc(i)
		t.row(n.Name, p.Pid(), n.Addr, "NAMESRV", p.Running(), n.LogPath)
	}
	for _, b := range cl.Layout.Brokers {
		p := cl.BrokerProc(b.Name)
		t.row(b.Name, p.Pid(), b.Addr, b.Role, p.Running(), b.LogPath)
	}
	t.flush()
	ad, err := admin.New(nil, admin.Options{NameServers: cl.Layout.NamesrvAddrs(), Timeout: 3 * time.Second})
	if err != nil {
		return
	}
	defer ad.Close()
	rows, err := fetchClusterRows(ctx, a, ad, "")
	if err != nil {
		fmt.Fprintf(a.stdout, "\nclusterList: %v\n", err)
		return
	}
	fmt.Fprintln(a.stdout, "\nregistered brokers (clusterList):")
	writeClusterList(a.stdout, rows)
}

// monitor prints a status line on changes (a child exiting, registrations changing) and every
// interval, until ctx ends.
func (a *app) monitor(ctx context.Context, cl *launcher.Cluster, every time.Duration) {
	last := ""
	lastPrint := time.Now()
	tick := time.NewTicker(time.Second)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
		line := statusLine(ctx, cl)
		if line != last || (every > 0 && time.Since(lastPrint) >= every) {
			fmt.Fprintf(a.stdout, "[%s] %s\n", time.Now().Format("15:04:05"), line)
			last, lastPrint = line, time.Now()
		}
	}
}

func statusLine(ctx context.Context, cl *launcher.Cluster) string {
	up, total := 0, 0
	var down []string
	for _, p := range cl.Procs() {
		total++
		if p.Running() {
			up++
		} else {
			down = append(down, p.Name)
		}
	}
	reg := 0
	qctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	got, err := cl.Registered(qctx, cl.Layout.Namesrvs[0].Addr, cl.Layout.Brokers...)
	cancel()
	for _, ok := range got {
		if ok {
			reg++
		}
	}
	s := fmt.Sprintf("%d/%d processes up, %d/%d brokers registered with %s", up, total, reg, len(cl.Layout.Brokers), cl.Layout.Namesrvs[0].Addr)
	if err != nil {
		s += " (nameserver query failed: " + err.Error() + ")"
	}
	if len(down) > 0 {
		slices.Sort(down)
		s += "; exited: " + strings.Join(down, ", ")
	}
	return s
}

func (a *app) localDownCmd() *cobra.Command {
	dir := ".local-cluster"
	grace := launcher.DefaultGrace
	cmd := &cobra.Command{
		Use:   "down [--dir DIR]",
		Short: "Stop a local cluster started by `local up` from another terminal",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			st, err := launcher.ReadState(dir)
			if errors.Is(err, os.ErrNotExist) {
				fmt.Fprintf(a.stdout, "no local cluster recorded in %s\n", dir)
				return nil
			}
			if err != nil {
				return err
			}
			running, err := launcher.StopState(cmd.Context(), st, grace)
			if err != nil {
				return err
			}
			_ = launcher.RemoveState(dir)
			fmt.Fprintf(a.stdout, "stopped %d process(es): %s\n", len(running), strings.Join(running, ", "))
			return nil
		},
	}
	cmd.Flags().StringVar(&dir, "dir", dir, "directory given to local up")
	cmd.Flags().DurationVar(&grace, "grace", grace, "how long to wait after SIGTERM before killing")
	return cmd
}
