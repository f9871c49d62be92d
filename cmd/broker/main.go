// Command gorocket-broker runs a gorocket broker.
//
//	gorocket-broker -c broker.properties [-n "ns1:9876;ns2:9876"] [--check-config] [-p]
//
// The configuration file uses Apache RocketMQ's broker keys (internal/conf); GOROCKET_<KEY>
// environment variables override it (see docs/broker.md), -n overrides namesrvAddr.
// SIGTERM or SIGINT shuts down gracefully: unregister from the nameservers, answer parked
// pulls, persist the tables, flush and close the store.
package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"os/signal"
	"runtime/pprof"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/gorocket/gorocket/broker"
	"github.com/gorocket/gorocket/internal/conf"
)

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

type flags struct {
	configPath     string
	namesrv        string
	checkConfig    bool
	printConfig    bool
	listenHost     string
	registerPeriod time.Duration
	slaveSync      time.Duration
	slaveReadLag   int64
	cpuProfile     string
	logLevel       string
	logFormat      string
}

func parseFlags(args []string, stderr io.Writer) (flags, error) {
	var f flags
	fs := flag.NewFlagSet("gorocket-broker", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.StringVar(&f.configPath, "c", "", "broker configuration file (Apache RocketMQ broker.properties keys)")
	fs.StringVar(&f.namesrv, "n", "", "nameserver addresses, ';'-separated (overrides namesrvAddr)")
	fs.BoolVar(&f.checkConfig, "check-config", false, "validate the configuration and exit")
	fs.BoolVar(&f.printConfig, "p", false, "print the effective configuration and exit")
	fs.StringVar(&f.listenHost, "listen-host", envOr("GOROCKET_LISTEN_HOST", ""), "interface to bind (default all; env GOROCKET_LISTEN_HOST)")
	fs.DurationVar(&f.registerPeriod, "register-period", 0, "nameserver re-registration period (default registerNameServerPeriod; tests use short values)")
	fs.DurationVar(&f.slaveSync, "slave-sync-period", broker.DefaultSlaveSyncInterval, "slave: period of the metadata sync with the master (topics, groups, consumer and delay offsets)")
	fs.Int64Var(&f.slaveReadLag, "slave-read-lag", 0, "with slaveReadEnable: suggest pulling from the slave when the consumer is more than this many bytes behind the commit-log end (0 = accessMessageInMemoryMaxRatio percent of RAM, as Java)")
	fs.StringVar(&f.cpuProfile, "cpuprofile", "", "write a CPU profile to this file until shutdown (%p is replaced by the process id)")
	fs.StringVar(&f.logLevel, "log-level", envOr("GOROCKET_LOG_LEVEL", "info"), "debug, info, warn or error (env GOROCKET_LOG_LEVEL)")
	fs.StringVar(&f.logFormat, "log-format", envOr("GOROCKET_LOG_FORMAT", "text"), "text or json (env GOROCKET_LOG_FORMAT)")
	if err := fs.Parse(args); err != nil {
		return f, err
	}
	if fs.NArg() > 0 {
		return f, fmt.Errorf("unexpected arguments: %s", strings.Join(fs.Args(), " "))
	}
	return f, nil
}

func envOr(k, def string) string {
	if v, ok := os.LookupEnv(k); ok && v != "" {
		return v
	}
	return def
}

func newLogger(w io.Writer, level, format string) (*slog.Logger, error) {
	var lv slog.Level
	if err := lv.UnmarshalText([]byte(level)); err != nil {
		return nil, fmt.Errorf("log level %q: %w", level, err)
	}
	o := &slog.HandlerOptions{Level: lv}
	switch format {
	case "text":
		return slog.New(slog.NewTextHandler(w, o)), nil
	case "json":
		return slog.New(slog.NewJSONHandler(w, o)), nil
	}
	return nil, fmt.Errorf("log format %q: want text or json", format)
}

// loadConfig builds the effective configuration: defaults, file, environment, -n, automatic
// values, then validation. Warnings are returned for logging.
func loadConfig(f flags, lookup func(string) (string, bool)) (conf.BrokerConfig, []conf.Warning, error) {
	var (
		cfg   conf.BrokerConfig
		warns []conf.Warning
		err   error
	)
	if f.configPath != "" {
		cfg, warns, err = conf.LoadBroker(f.configPath)
		if err != nil {
			return cfg, warns, err
		}
	} else {
		cfg = conf.DefaultBroker()
	}
	ew, err := cfg.ApplyEnv(lookup)
	warns = append(warns, ew...)
	if err != nil {
		return cfg, warns, err
	}
	if err := applyPodIdentity(&cfg, lookup); err != nil {
		return cfg, warns, err
	}
	if f.namesrv != "" {
		if err := cfg.Set("namesrvAddr", f.namesrv); err != nil {
			return cfg, warns, fmt.Errorf("-n: %w", err)
		}
	}
	if cfg.BrokerIP1 == "" {
		cfg.BrokerIP1 = firstIPv4()
	}
	host, _ := os.Hostname()
	home, err := os.UserHomeDir()
	if err != nil {
		home = "."
	}
	cfg = cfg.Resolve(host, home)
	if err := cfg.Validate(); err != nil {
		return cfg, warns, err
	}
	if cfg.EnableDLegerCommitLog {
		return cfg, warns, errors.New("enableDLegerCommitLog=true: DLedger mode is not implemented by gorocket-broker")
	}
	return cfg, warns, nil
}

// applyPodIdentity implements the operator's per-pod contract (docs/operator.md): when
// GOROCKET_POD_ORDINAL_AS_BROKER_ID=true and the pod name ends in -<n>, brokerId = n (0 is
// the master, n>0 a slave, whose role defaults to SLAVE).
func applyPodIdentity(cfg *conf.BrokerConfig, lookup func(string) (string, bool)) error {
	if v, _ := lookup("GOROCKET_POD_ORDINAL_AS_BROKER_ID"); v != "true" {
		return nil
	}
	pod, _ := lookup("POD_NAME")
	if pod == "" {
		pod, _ = os.Hostname()
	}
	i := strings.LastIndexByte(pod, '-')
	n, err := strconv.Atoi(pod[i+1:])
	if i < 0 || err != nil || n < 0 {
		return fmt.Errorf("GOROCKET_POD_ORDINAL_AS_BROKER_ID: pod name %q has no ordinal", pod)
	}
	cfg.BrokerID = int64(n)
	if n > 0 {
		cfg.BrokerRole = conf.RoleSlave
	}
	return nil
}

// startCPUProfile profiles the process into path until the returned function is called.
func startCPUProfile(path string) (func(), error) {
	f, err := os.Create(path)
	if err != nil {
		return nil, err
	}
	if err := pprof.StartCPUProfile(f); err != nil {
		f.Close()
		return nil, err
	}
	return func() {
		pprof.StopCPUProfile()
		f.Close()
	}, nil
}

// firstIPv4 returns the first non-loopback IPv4 address (127.0.0.1 if there is none).
func firstIPv4() string {
	ifs, err := net.InterfaceAddrs()
	if err == nil {
		for _, a := range ifs {
			if n, ok := a.(*net.IPNet); ok && !n.IP.IsLoopback() && n.IP.To4() != nil {
				return n.IP.String()
			}
		}
	}
	return "127.0.0.1"
}

func run(args []string, stdout, stderr io.Writer) int {
	f, err := parseFlags(args, stderr)
	if err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		fmt.Fprintln(stderr, "gorocket-broker:", err)
		return 2
	}
	log, err := newLogger(stderr, f.logLevel, f.logFormat)
	if err != nil {
		fmt.Fprintln(stderr, "gorocket-broker:", err)
		return 2
	}
	cfg, warns, err := loadConfig(f, os.LookupEnv)
	for _, w := range warns {
		log.Warn("config warning", "warning", w.String())
	}
	if err != nil {
		fmt.Fprintf(stderr, "gorocket-broker: invalid configuration:\n%v\n", err)
		return 1
	}
	if f.printConfig {
		_, _ = stdout.Write(cfg.Render())
		return 0
	}
	if f.checkConfig {
		fmt.Fprintf(stdout, "configuration OK (%d warnings)\n", len(warns))
		return 0
	}
	opts := broker.OptionsFromConfig(cfg)
	opts.ListenAddr = net.JoinHostPort(f.listenHost, strconv.Itoa(cfg.ListenPort))
	if f.registerPeriod > 0 {
		opts.RegisterPeriod = f.registerPeriod
	}
	opts.SlaveSyncInterval = f.slaveSync
	opts.SlaveReadLagBytes = f.slaveReadLag
	if f.cpuProfile != "" {
		stop, err := startCPUProfile(strings.ReplaceAll(f.cpuProfile, "%p", strconv.Itoa(os.Getpid())))
		if err != nil {
			fmt.Fprintf(stderr, "gorocket-broker: --cpuprofile: %v\n", err)
			return 2
		}
		defer stop()
	}
	srv, err := broker.New(log, opts)
	if err != nil {
		log.Error("broker init failed", "err", err)
		fmt.Fprintf(stderr, "gorocket-broker: %v\n", err)
		return 1
	}
	if err := srv.Start(); err != nil {
		log.Error("broker start failed", "err", err)
		fmt.Fprintf(stderr, "gorocket-broker: %v\n", err)
		_ = srv.Close()
		return 1
	}
	sig := make(chan os.Signal, 1)
	signal.Notify(sig, syscall.SIGTERM, syscall.SIGINT)
	got := <-sig
	log.Info("shutting down", "signal", got.String())
	signal.Stop(sig)
	if err := srv.Close(); err != nil {
		log.Error("shutdown incomplete", "err", err)
		return 1
	}
	return 0
}
