// Command gorocket-operator runs the Kubernetes operator for gorocket clusters: it reconciles
// NameServer and BrokerGroup custom resources (gorocket.io/v1alpha1).
package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"time"

	"github.com/go-logr/logr"
	"k8s.io/klog/v2"
	ctrl "sigs.k8s.io/controller-runtime"

	"github.com/gorocket/gorocket/internal/operator/manager"
)

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

// run parses args, builds the manager and runs it until SIGTERM/SIGINT; it returns the exit code.
func run(args []string, stdout, stderr io.Writer) int {
	opts := manager.DefaultOptions()
	var watchNamespaces, logLevel, logFormat string
	var showVersion, registrationChecks bool
	fs := flag.NewFlagSet("gorocket-operator", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.StringVar(&opts.MetricsBindAddress, "metrics-bind-address", opts.MetricsBindAddress, `address of the Prometheus metrics endpoint; "0" disables it`)
	fs.StringVar(&opts.HealthProbeBindAddress, "health-probe-bind-address", opts.HealthProbeBindAddress, `address of /healthz and /readyz; "0" disables them`)
	fs.BoolVar(&opts.LeaderElection, "leader-elect", false, "elect a leader, so that only one operator replica reconciles at a time")
	fs.StringVar(&opts.LeaderElectionID, "leader-election-id", opts.LeaderElectionID, "name of the leader-election Lease")
	fs.StringVar(&opts.LeaderElectionNamespace, "leader-election-namespace", "", "namespace of the Lease (default: the operator's namespace)")
	fs.StringVar(&watchNamespaces, "watch-namespaces", "", "comma-separated namespaces to watch (default: all)")
	fs.StringVar(&opts.NameServerImage, "namesrv-image", opts.NameServerImage, "nameserver image used when a NameServer names none")
	fs.StringVar(&opts.BrokerImage, "broker-image", opts.BrokerImage, "broker image used when a BrokerGroup names none")
	fs.StringVar(&opts.ClusterDomain, "cluster-domain", "", `cluster DNS domain appended to pod DNS names (e.g. "cluster.local"); empty uses "<ns>.svc"`)
	fs.StringVar(&logLevel, "log-level", "info", "log level: debug, info, warn or error")
	fs.StringVar(&logFormat, "log-format", "json", "log format: json or text")
	fs.BoolVar(&registrationChecks, "registration-checks", true, "ask the nameservers which brokers are registered (BrokersRegistered condition; a roll waits for the restarted broker to re-register)")
	fs.BoolVar(&showVersion, "version", false, "print the version and exit")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		return 2
	}
	if showVersion {
		fmt.Fprintln(stdout, "gorocket-operator", manager.Version)
		return 0
	}
	opts.WatchNamespaces = manager.ParseNamespaces(watchNamespaces)

	log, err := newLogger(stderr, logLevel, logFormat)
	if err != nil {
		fmt.Fprintln(stderr, "gorocket-operator:", err)
		return 2
	}
	ctrl.SetLogger(log)
	klog.SetLogger(log)
	setup := log.WithName("setup")

	if registrationChecks {
		opts.AdminClientFactory = newAdminClientFactory(slog.New(logr.ToSlogHandler(log.WithName("admin"))), 5*time.Second)
	}

	cfg, err := ctrl.GetConfig()
	if err != nil {
		setup.Error(err, "Loading the Kubernetes client configuration")
		return 1
	}
	mgr, err := manager.New(cfg, opts)
	if err != nil {
		setup.Error(err, "Creating the manager")
		return 1
	}
	setup.Info("Starting the operator", "version", manager.Version, "watchNamespaces", opts.WatchNamespaces,
		"leaderElection", opts.LeaderElection, "namesrvImage", opts.NameServerImage, "brokerImage", opts.BrokerImage)
	if err := mgr.Start(ctrl.SetupSignalHandler()); err != nil {
		setup.Error(err, "Running the manager")
		return 1
	}
	return 0
}

func newLogger(w io.Writer, level, format string) (logr.Logger, error) {
	var l slog.Level
	switch level {
	case "debug":
		// logr V(1) maps to slog level -1; show it and below.
		l = slog.LevelDebug
	case "info":
		l = slog.LevelInfo
	case "warn":
		l = slog.LevelWarn
	case "error":
		l = slog.LevelError
	default:
		return logr.Logger{}, fmt.Errorf("unknown --log-level %q", level)
	}
	o := &slog.HandlerOptions{Level: l}
	switch format {
	case "json":
		return logr.FromSlogHandler(slog.NewJSONHandler(w, o)), nil
	case "text":
		return logr.FromSlogHandler(slog.NewTextHandler(w, o)), nil
	default:
		return logr.Logger{}, fmt.Errorf("unknown --log-format %q", format)
	}
}
