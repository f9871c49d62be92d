// Command natsbench measures NATS JetStream publish throughput and latency on file storage, and
// prints the same report as `gorocketctl bench producer`, so the two can be compared on one box.
//
// By default it starts nats-server (embedded in this binary, run as a separate child process so
// the server and the load generator are separate processes as with gorocket) with JetStream file
// storage in a temporary directory, creates a stream, runs N publishers for the duration and
// prints a progress line each second and a summary.
//
//	natsbench -w 4 -s 1024 -d 10s --mode sync  --sync default
//	natsbench -w 4 -s 1024 -d 10s --mode async --sync always --window 256
//	natsbench --url nats://127.0.0.1:4222 ...   # against a server you started
//	natsbench --replicas 2 ...                   # a 2-server JetStream cluster, stream R2
//
// --sync default keeps nats-server's sync_interval (2m: writes reach the OS page cache and are
// fsynced periodically, like gorocket's ASYNC_FLUSH); --sync always fsyncs every write (like
// SYNC_FLUSH). A duration (e.g. 100ms) sets sync_interval.
//
// --replicas N (2 or 3) starts N servers (child processes) as one JetStream cluster and creates the
// stream with N replicas: a publish is acknowledged once a quorum of replicas stored it (for R2 both),
// the NATS counterpart of a SYNC_MASTER broker with its slave.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"net"
	"os"
	"os/exec"
	"os/signal"
	"strconv"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

type config struct {
	url        string
	publishers int
	size       int
	duration   time.Duration
	mode       string
	window     int
	sync       string
	dir        string
	embedded   bool
	connPerPub bool
	replicas   int
}

func main() {
	if len(os.Args) > 1 && os.Args[1] == "serve" {
		if err := serve(os.Args[2:]); err != nil {
			fmt.Fprintln(os.Stderr, "natsbench serve:", err)
			os.Exit(1)
		}
		return
	}
	var c config
	fs := flag.NewFlagSet("natsbench", flag.ExitOnError)
	fs.StringVar(&c.url, "url", "", "connect to this NATS server instead of starting one")
	fs.IntVar(&c.publishers, "w", 4, "publishers (goroutines)")
	fs.IntVar(&c.size, "s", 1024, "message size in bytes")
	fs.DurationVar(&c.duration, "d", 10*time.Second, "duration")
	fs.StringVar(&c.mode, "mode", "sync", "sync (PublishMsg, await each ack) or async (PublishMsgAsync with --window acks in flight per publisher)")
	fs.IntVar(&c.window, "window", 256, "async: unacknowledged publishes allowed per publisher")
	fs.StringVar(&c.sync, "sync", "default", "server sync_interval: default (2m), always, or a duration")
	fs.StringVar(&c.dir, "dir", "", "JetStream store directory (default: a temporary directory, removed afterwards)")
	fs.BoolVar(&c.embedded, "embedded", false, "run nats-server inside this process instead of a child process")
	fs.BoolVar(&c.connPerPub, "conn-per-publisher", false, "give every publisher its own connection (default: one shared connection)")
	fs.IntVar(&c.replicas, "replicas", 1, "1: one server; 2 or 3: a JetStream cluster of that many servers (child processes) and a stream with as many replicas")
	_ = fs.Parse(os.Args[1:])
	log := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelInfo}))
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, log, c); err != nil {
		log.Error("natsbench failed", "err", err)
		os.Exit(1)
	}
}

func validate(c config) error {
	switch {
	case c.publishers < 1:
		return errors.New("-w must be >= 1")
	case c.size < 1:
		return errors.New("-s must be >= 1")
	case c.duration <= 0:
		return errors.New("-d must be > 0")
	case c.mode != "sync" && c.mode != "async":
		return fmt.Errorf("--mode %q: want sync or async", c.mode)
	case c.window < 1:
		return errors.New("--window must be >= 1")
	case c.replicas < 1 || c.replicas > 3:
		return errors.New("--replicas must be 1, 2 or 3")
	case c.replicas > 1 && (c.embedded || c.url != ""):
		return errors.New("--replicas > 1 starts its own child servers: not with --embedded or --url")
	}
	_, _, err := parseSync(c.sync)
	return err
}

func parseSync(s string) (interval time.Duration, always bool, err error) {
	switch s {
	case "default", "":
		return 0, false, nil
	case "always":
		return 0, true, nil
	}
	d, err := time.ParseDuration(s)
	if err != nil || d <= 0 {
		return 0, false, fmt.Errorf("--sync %q: want default, always or a positive duration", s)
	}
	return d, false, nil
}

func serverOptions(port int, dir, sync string) (*server.Options, error) {
	interval, always, err := parseSync(sync)
	if err != nil {
		return nil, err
	}
	return &server.Options{
		Host: "127.0.0.1", Port: port, NoSigs: true, NoLog: true,
		JetStream: true, StoreDir: dir, SyncInterval: interval, SyncAlways: always,
		JetStreamMaxStore: 8 << 30,
	}, nil
}

// clusterOptions makes opts one member of a JetStream cluster: name, cluster port and the routes to
// every member (its own route is ignored by the server).
func clusterOptions(opts *server.Options, name string, clusterPort int, routes string) {
	opts.ServerName = name
	opts.Cluster = server.ClusterOpts{Name: "natsbench", Host: "127.0.0.1", Port: clusterPort}
	opts.Routes = server.RoutesFromStr(routes)
}

// serve runs nats-server in this process until SIGTERM: `natsbench serve PORT DIR SYNC`, or as a
// cluster member: `natsbench serve PORT DIR SYNC NAME CLUSTERPORT ROUTES`.
func serve(args []string) error {
	if len(args) != 3 && len(args) != 6 {
		return errors.New("usage: natsbench serve PORT DIR SYNC [NAME CLUSTERPORT ROUTES]")
	}
	port, err := strconv.Atoi(args[0])
	if err != nil {
		return err
	}
	opts, err := serverOptions(port, args[1], args[2])
	if err != nil {
		return err
	}
	if len(args) == 6 {
		cport, err := strconv.Atoi(args[4])
		if err != nil {
			return err
		}
		clusterOptions(opts, args[3], cport, args[5])
	}
	s, err := server.NewServer(opts)
	if err != nil {
		return err
	}
	go s.Start()
	if !s.ReadyForConnections(30 * time.Second) {
		return errors.New("nats-server not ready after 30s")
	}
	sig := make(chan os.Signal, 1)
	signal.Notify(sig, syscall.SIGTERM, os.Interrupt)
	<-sig
	s.Shutdown()
	s.WaitForShutdown()
	return nil
}

func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

// startServer starts nats-server (a child process, or embedded) and returns its URL and a stop func.
func startServer(ctx context.Context, log *slog.Logger, c config) (string, func(), error) {
	dir := c.dir
	cleanupDir := func() {}
	if dir == "" {
		d, err := os.MkdirTemp("", "natsbench-")
		if err != nil {
			return "", nil, err
		}
		dir = d
		cleanupDir = func() { os.RemoveAll(d) }
	}
	port, err := freePort()
	if err != nil {
		cleanupDir()
		return "", nil, err
	}
	url := fmt.Sprintf("nats://127.0.0.1:%d", port)
	if c.embedded {
		opts, err := serverOptions(port, dir, c.sync)
		if err != nil {
			cleanupDir()
			return "", nil, err
		}
		s, err := server.NewServer(opts)
		if err != nil {
			cleanupDir()
			return "", nil, err
		}
		go s.Start()
		if !s.ReadyForConnections(30 * time.Second) {
			s.Shutdown()
			cleanupDir()
			return "", nil, errors.New("embedded nats-server not ready after 30s")
		}
		return url, func() { s.Shutdown(); s.WaitForShutdown(); cleanupDir() }, nil
	}
	self, err := os.Executable()
	if err != nil {
		cleanupDir()
		return "", nil, err
	}
	if c.replicas <= 1 {
		stop, err := startChild(ctx, self, port, dir, c.sync, nil)
		if err != nil {
			cleanupDir()
			return "", nil, err
		}
		log.Info("nats-server started", "url", url, "store", dir, "sync", c.sync)
		return url, func() { stop(); cleanupDir() }, nil
	}
	// A cluster: client and cluster ports for every member, each member routes to all.
	ports, cports := []int{port}, make([]int, c.replicas)
	for i := range 2*c.replicas - 1 {
		p, err := freePort()
		if err != nil {
			cleanupDir()
			return "", nil, err
		}
		if i < c.replicas-1 {
			ports = append(ports, p)
		} else {
			cports[i-(c.replicas-1)] = p
		}
	}
	routes, urls := "", ""
	for i := range c.replicas {
		if i > 0 {
			routes += ","
			urls += ","
		}
		routes += fmt.Sprintf("nats-route://127.0.0.1:%d", cports[i])
		urls += fmt.Sprintf("nats://127.0.0.1:%d", ports[i])
	}
	var stops []func()
	stopAll := func() {
		for _, st := range stops {
			st()
		}
		cleanupDir()
	}
	for i := range c.replicas {
		name := fmt.Sprintf("n%d", i+1)
		st, err := startChild(ctx, self, ports[i], fmt.Sprintf("%s/%s", dir, name), c.sync,
			[]string{name, strconv.Itoa(cports[i]), routes})
		if err != nil {
			stopAll()
			return "", nil, err
		}
		stops = append(stops, st)
	}
	log.Info("nats-server cluster started", "urls", urls, "replicas", c.replicas, "store", dir, "sync", c.sync)
	return urls, stopAll, nil
}

// startChild runs `natsbench serve` as a child process and waits until it accepts connections.
func startChild(ctx context.Context, self string, port int, dir, sync string, cluster []string) (func(), error) {
	args := append([]string{"serve", strconv.Itoa(port), dir, sync}, cluster...)
	cmd := exec.Command(self, args...)
	cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("start nats-server child: %w", err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	stop := func() {
		_ = cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-exited:
		case <-time.After(10 * time.Second):
			_ = cmd.Process.Kill()
			<-exited
		}
	}
	deadline := time.Now().Add(30 * time.Second)
	for {
		conn, err := net.DialTimeout("tcp", fmt.Sprintf("127.0.0.1:%d", port), time.Second)
		if err == nil {
			conn.Close()
			return stop, nil
		}
		select {
		case err := <-exited:
			return nil, fmt.Errorf("nats-server child exited before listening: %v", err)
		case <-ctx.Done():
			stop()
			return nil, ctx.Err()
		case <-time.After(50 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			stop()
			return nil, errors.New("nats-server child not listening after 30s")
		}
	}
}

// worker holds one publisher's interval and total statistics.
type worker struct {
	mu       sync.Mutex
	interval Histogram
	total    Histogram
	errors   atomic.Uint64
}

func (w *worker) record(d time.Duration) {
	w.mu.Lock()
	w.interval.Record(d)
	w.total.Record(d)
	w.mu.Unlock()
}

func run(ctx context.Context, log *slog.Logger, c config) error {
	if err := validate(c); err != nil {
		return err
	}
	url := c.url
	if url == "" {
		u, stop, err := startServer(ctx, log, c)
		if err != nil {
			return err
		}
		defer stop()
		url = u
	}
	conns := make([]*nats.Conn, 0, c.publishers)
	defer func() {
		for _, nc := range conns {
			nc.Close()
		}
	}()
	jss := make([]jetstream.JetStream, c.publishers)
	for i := range c.publishers {
		if i == 0 || c.connPerPub {
			nc, err := nats.Connect(url, nats.Name("natsbench"))
			if err != nil {
				return fmt.Errorf("connect %s: %w", url, err)
			}
			conns = append(conns, nc)
		}
		js, err := jetstream.New(conns[len(conns)-1], jetstream.WithPublishAsyncMaxPending(c.window*c.publishers))
		if err != nil {
			return fmt.Errorf("jetstream: %w", err)
		}
		jss[i] = js
	}
	setup, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	if c.replicas <= 1 {
		_ = jss[0].DeleteStream(setup, "BENCH")
	}
	// A fresh cluster needs a moment to elect its meta leader: retry until the stream exists (a
	// request sent before that waits for its own timeout, so each attempt gets 3 s).
	attemptTimeout := 30 * time.Second
	if c.replicas > 1 {
		attemptTimeout = 3 * time.Second
	}
	for {
		attempt, cancelAttempt := context.WithTimeout(setup, attemptTimeout)
		_, err := jss[0].CreateStream(attempt, jetstream.StreamConfig{
			Name: "BENCH", Subjects: []string{"bench.>"}, Storage: jetstream.FileStorage, Replicas: max(c.replicas, 1),
			MaxBytes: 4 << 30, Discard: jetstream.DiscardOld,
		})
		cancelAttempt()
		if err == nil {
			break
		}
		if c.replicas <= 1 || setup.Err() != nil {
			return fmt.Errorf("create stream: %w", err)
		}
		log.Info("stream not created yet, retrying", "err", err)
		time.Sleep(200 * time.Millisecond)
	}
	payload := make([]byte, c.size)
	for i := range payload {
		payload[i] = byte('a' + i%26)
	}
	workers := make([]*worker, c.publishers)
	runCtx, stopRun := context.WithTimeout(ctx, c.duration)
	defer stopRun()
	var wg sync.WaitGroup
	start := time.Now()
	for i := range c.publishers {
		w := &worker{}
		workers[i] = w
		subject := fmt.Sprintf("bench.%d", i)
		wg.Add(1)
		go func() {
			defer wg.Done()
			if c.mode == "sync" {
				publishSync(runCtx, jss[i], subject, payload, w)
			} else {
				publishAsync(runCtx, jss[i], subject, payload, c.window, w)
			}
		}()
	}
	done := make(chan struct{})
	go func() { wg.Wait(); close(done) }()
	ticker := time.NewTicker(time.Second)
	defer ticker.Stop()
	last := start
	var interval Histogram
loop:
	for {
		select {
		case <-done:
			break loop
		case now := <-ticker.C:
			interval.Reset()
			var errs uint64
			for _, w := range workers {
				w.mu.Lock()
				interval.Merge(&w.interval)
				w.interval.Reset()
				w.mu.Unlock()
				errs += w.errors.Load()
			}
			fmt.Println(ProgressLine(now.Sub(start), "send", now.Sub(last), interval.Count(), &interval, errs))
			last = now
		}
	}
	elapsed := time.Since(start)
	var total Histogram
	var errs uint64
	for _, w := range workers {
		total.Merge(&w.total)
		errs += w.errors.Load()
	}
	fmt.Println(SummaryHeader("natsbench producer", c.mode, c.publishers, c.size, elapsed))
	for _, l := range SummaryLines("send", "latency", total.Count(), &total, errs, elapsed) {
		fmt.Println(l)
	}
	fmt.Printf("server   sync=%s storage=file replicas=%d url=%s\n", c.sync, max(c.replicas, 1), url)
	if total.Count() == 0 {
		return errors.New("no message was acknowledged")
	}
	return nil
}

func publishSync(ctx context.Context, js jetstream.JetStream, subject string, payload []byte, w *worker) {
	for ctx.Err() == nil {
		t0 := time.Now()
		pctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		_, err := js.PublishMsg(pctx, &nats.Msg{Subject: subject, Data: payload})
		cancel()
		if err != nil {
			w.errors.Add(1)
			continue
		}
		w.record(time.Since(t0))
	}
}

type inflight struct {
	t0  time.Time
	fut jetstream.PubAckFuture
}

func publishAsync(ctx context.Context, js jetstream.JetStream, subject string, payload []byte, window int, w *worker) {
	pending := make(chan inflight, window)
	collected := make(chan struct{})
	go func() {
		defer close(collected)
		for p := range pending {
			select {
			case <-p.fut.Ok():
				w.record(time.Since(p.t0))
			case <-p.fut.Err():
				w.errors.Add(1)
			case <-time.After(10 * time.Second):
				w.errors.Add(1)
			}
		}
	}()
	for ctx.Err() == nil {
		t0 := time.Now()
		fut, err := js.PublishMsgAsync(&nats.Msg{Subject: subject, Data: payload})
		if err != nil {
			w.errors.Add(1)
			continue
		}
		pending <- inflight{t0, fut} // blocks while `window` publishes await their acks
	}
	close(pending)
	<-collected
}
