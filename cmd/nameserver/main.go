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
	"strconv"
	"strings"
	"syscall"

	"github.com/gorocket/gorocket/internal/conf"
	"github.com/gorocket/gorocket/nameserver"
)

func main() {
	sig := make(chan os.Signal, 1)
	signal.Notify(sig, syscall.SIGTERM, syscall.SIGINT)
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr, sig))
}

type options struct {
	listen      string
	config      string
	checkConfig bool
	printConfig bool
	logFormat   string
	logLevel    string
}

func parseFlags(args []string, stderr io.Writer) (options, bool, error) {
	var o options
	fs := flag.NewFlagSet("gorocket-namesrv", flag.ContinueOnError)
	fs.SetOutput(stderr)
	for _, name := range []string{"n", "listen"} {
		fs.StringVar(&o.listen, name, "", "listen address host:port or port (default 0.0.0.0:<listenPort>, listenPort 9876)")
	}
	for _, name := range []string{"c", "config"} {
		fs.StringVar(&o.config, name, "", "RocketMQ-style namesrv properties file")
	}
	fs.BoolVar(&o.checkConfig, "check-config", false, "validate the configuration and exit")
	for _, name := range []string{"p", "print-config"} {
		fs.BoolVar(&o.printConfig, name, false, "print the effective configuration (properties) and exit")
	}
	fs.StringVar(&o.logFormat, "log-format", "text", "log format: text or json")
	fs.StringVar(&o.logLevel, "log-level", "info", "log level: debug, info, warn or error")
	if err := fs.Parse(args); err != nil {
		return o, false, err
	}
	if fs.NArg() > 0 {
		return o, false, fmt.Errorf("unexpected arguments: %s", strings.Join(fs.Args(), " "))
	}
	explicitListen := false
	fs.Visit(func(f *flag.Flag) {
		if f.Name == "n" || f.Name == "listen" {
			explicitListen = true
		}
	})
	return o, explicitListen, nil
}

func newLogger(w io.Writer, format, level string) (*slog.Logger, error) {
	var lv slog.Level
	if err := lv.UnmarshalText([]byte(level)); err != nil {
		return nil, fmt.Errorf("--log-level %q: want debug, info, warn or error", level)
	}
	ho := &slog.HandlerOptions{Level: lv}
	switch format {
	case "text":
		return slog.New(slog.NewTextHandler(w, ho)), nil
	case "json":
		return slog.New(slog.NewJSONHandler(w, ho)), nil
	}
	return nil, fmt.Errorf("--log-format %q: want text or json", format)
}

// listenAddr normalises -n: "9876" and ":9876" listen on all interfaces.
func listenAddr(v string) (string, int, error) {
	if !strings.Contains(v, ":") {
		v = ":" + v
	}
	host, port, err := net.SplitHostPort(v)
	if err != nil {
		return "", 0, fmt.Errorf("-n/--listen %q: %w", v, err)
	}
	p, err := strconv.Atoi(port)
	if err != nil || p < 0 || p > 65535 {
		return "", 0, fmt.Errorf("-n/--listen %q: bad port %q", v, port)
	}
	if host == "" {
		host = "0.0.0.0"
	}
	return net.JoinHostPort(host, port), p, nil
}

// loadConfig reads defaults, the -c file, the environment, resolves paths and validates.
func loadConfig(path string, log *slog.Logger) (conf.NamesrvConfig, error) {
	cfg := conf.DefaultNamesrv()
	if path != "" {
		var warns []conf.Warning
		var err error
		cfg, warns, err = conf.LoadNamesrv(path)
		for _, w := range warns {
			log.Warn("namesrv: config warning", "warning", w.String())
		}
		if err != nil {
			return cfg, err
		}
	}
	warns, err := cfg.ApplyEnv(os.LookupEnv)
	for _, w := range warns {
		log.Warn("namesrv: config warning", "warning", w.String())
	}
	if err != nil {
		return cfg, err
	}
	home, err := os.UserHomeDir()
	if err != nil {
		home = "."
	}
	cfg = cfg.Resolve(home)
	return cfg, cfg.Validate()
}

func run(args []string, stdout, stderr io.Writer, sig <-chan os.Signal) int {
	o, explicitListen, err := parseFlags(args, stderr)
	if errors.Is(err, flag.ErrHelp) {
		return 0
	}
	if err != nil {
		fmt.Fprintln(stderr, "gorocket-namesrv:", err)
		return 2
	}
	log, err := newLogger(stderr, o.logFormat, o.logLevel)
	if err != nil {
		fmt.Fprintln(stderr, "gorocket-namesrv:", err)
		return 2
	}
	cfg, err := loadConfig(o.config, log)
	if err != nil {
		fmt.Fprintln(stderr, "gorocket-namesrv: invalid configuration:")
		fmt.Fprintln(stderr, err)
		return 2
	}
	addr := net.JoinHostPort("0.0.0.0", strconv.Itoa(cfg.ListenPort))
	if explicitListen {
		a, port, err := listenAddr(o.listen)
		if err != nil {
			fmt.Fprintln(stderr, "gorocket-namesrv:", err)
			return 2
		}
		addr = a
		if port > 0 {
			cfg.ListenPort = port
		}
	}
	if o.printConfig {
		_, _ = stdout.Write(cfg.Render())
		return 0
	}
	if o.checkConfig {
		fmt.Fprintf(stdout, "configuration OK (listen %s, kvConfigPath %s)\n", addr, cfg.KvConfigPath)
		return 0
	}

	opts := nameserver.OptionsFromConfig(cfg, "")
	opts.ListenAddr = addr
	srv := nameserver.New(log, opts)
	if err := srv.Start(); err != nil {
		log.Error("namesrv: start failed", "err", err)
		return 1
	}
	s := <-sig
	log.Info("namesrv: shutting down", "signal", s.String())
	if err := srv.Close(); err != nil {
		log.Error("namesrv: shutdown failed", "err", err)
		return 1
	}
	return 0
}
