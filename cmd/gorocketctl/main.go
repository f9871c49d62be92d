// Command gorocketctl administers gorocket (and Apache RocketMQ 4.x) clusters, runs a local
// cluster for development, and benchmarks it.
//
//	gorocketctl -n 127.0.0.1:9876 clusterList            mqadmin verbs under their own names
//	gorocketctl local up --masters 2 --slaves 1 --demo  a local cluster of child processes
//	gorocketctl bench producer -t BenchTopic -w 4       load generator (see docs/cli.md)
//
// The nameserver address comes from -n or the NAMESRV_ADDR environment variable. Results go to
// stdout; gorocketctl's own log goes to stderr. See docs/cli.md for every command.
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/spf13/cobra"

	"github.com/gorocket/gorocket/client"
	"github.com/gorocket/gorocket/client/admin"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

// app holds the global flags and the output streams of one invocation.
type app struct {
	stdout, stderr io.Writer
	namesrv        string
	timeout        time.Duration
	logLevel       string
	log            *slog.Logger
	// localUpFn replaces (*app).localUp in flag-parsing tests.
	localUpFn func(context.Context, localFlags) error
}

// errUsage marks errors that are the user's (exit status 2).
var errUsage = errors.New("usage error")

func usageErr(format string, a ...any) error {
	return fmt.Errorf("%w: %s", errUsage, fmt.Sprintf(format, a...))
}

func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	a := &app{stdout: stdout, stderr: stderr}
	root := a.rootCmd()
	root.SetArgs(args)
	root.SetOut(stdout)
	root.SetErr(stderr)
	root.SetFlagErrorFunc(func(_ *cobra.Command, err error) error { return usageErr("%v", err) })
	err := root.ExecuteContext(ctx)
	if err == nil {
		return 0
	}
	fmt.Fprintln(stderr, "error:", err)
	if errors.Is(err, errUsage) || strings.HasPrefix(err.Error(), "unknown command") {
		return 2
	}
	return 1
}

func (a *app) rootCmd() *cobra.Command {
	root := &cobra.Command{
		Use:           "gorocketctl",
		Short:         "Administer, run and benchmark gorocket (RocketMQ-compatible) clusters",
		SilenceUsage:  true,
		SilenceErrors: true,
		PersistentPreRunE: func(cmd *cobra.Command, _ []string) error {
			var lv slog.Level
			if err := lv.UnmarshalText([]byte(a.logLevel)); err != nil {
				return usageErr("--log-level %q: want debug, info, warn or error", a.logLevel)
			}
			a.log = slog.New(slog.NewTextHandler(a.stderr, &slog.HandlerOptions{Level: lv}))
			return nil
		},
	}
	pf := root.PersistentFlags()
	pf.StringVarP(&a.namesrv, "namesrv", "n", "", "nameserver address(es), ';'-separated (default $NAMESRV_ADDR)")
	pf.DurationVar(&a.timeout, "timeout", 5*time.Second, "timeout of each request")
	pf.StringVar(&a.logLevel, "log-level", "info", "log level of gorocketctl's own log (stderr): debug, info, warn, error")
	root.AddCommand(a.adminCmds()...)
	root.AddCommand(a.localCmd(), a.benchCmd())
	return root
}

// nameServers returns the nameservers from -n or NAMESRV_ADDR.
func (a *app) nameServers() ([]string, error) {
	s := a.namesrv
	if s == "" {
		s = os.Getenv("NAMESRV_ADDR")
	}
	ns := client.ParseNameServers(s)
	if len(ns) == 0 {
		return nil, usageErr("no nameserver: pass -n host:port or set NAMESRV_ADDR")
	}
	return ns, nil
}

// admin returns an admin client for the configured nameservers.
func (a *app) admin() (*admin.Client, error) {
	ns, err := a.nameServers()
	if err != nil {
		return nil, err
	}
	return admin.New(a.log, admin.Options{NameServers: ns, Timeout: a.timeout})
}
