package nameserver

import (
	"errors"
	"fmt"
	"log/slog"
	"net"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gorocket/gorocket/internal/conf"
	"github.com/gorocket/gorocket/remoting"
)

// Sentinel errors of package nameserver.
var (
	// ErrStarted: Start was called twice.
	ErrStarted = errors.New("nameserver: already started")
	// ErrNotStarted: the operation needs a started server.
	ErrNotStarted = errors.New("nameserver: not started")
	// ErrBadOptions: Options do not validate.
	ErrBadOptions = errors.New("nameserver: invalid options")
)

// Options configure a Server.
type Options struct {
	// ListenAddr is the TCP address to listen on ("0.0.0.0:9876"; "127.0.0.1:0" in tests).
	ListenAddr string
	// Listener, when set, is served instead of listening on ListenAddr (for example a
	// remoting.MemNetwork listener). The server closes it.
	Listener net.Listener
	// BrokerExpiry evicts a broker whose last registration is older than this (Java's
	// BROKER_CHANNEL_EXPIRED_TIME, 120 s).
	BrokerExpiry time.Duration
	// ScanInterval is how often expired brokers are looked for (Java: 10 s).
	ScanInterval time.Duration
	// IdleTimeout closes connections without traffic in either direction (120 s); a
	// broker's registration connection closing evicts it at once. Negative disables.
	IdleTimeout time.Duration
	// MaxFrameSize bounds incoming frames (16 MiB).
	MaxFrameSize int
	// MaxConcurrentRequests bounds concurrently running handlers (see remoting).
	MaxConcurrentRequests int
	// KVConfigPath persists the KV config (kvConfig.json); "" keeps it in memory.
	KVConfigPath string
	// OrderMessageEnable adds orderTopicConf (KV namespace ORDER_TOPIC_CONFIG) to routes.
	OrderMessageEnable bool
	// Config is the daemon's full configuration, served by GET_NAMESRV_CONFIG and changed
	// by UPDATE_NAMESRV_CONFIG (persisted to its ConfigStorePath when set). Nil means
	// one derived from the fields above.
	Config *conf.NamesrvConfig
}

// DefaultOptions returns Apache RocketMQ's defaults.
func DefaultOptions() Options {
	d := conf.DefaultNamesrv()
	return Options{
		ListenAddr:   "0.0.0.0:" + strconv.Itoa(d.ListenPort),
		BrokerExpiry: d.BrokerChannelExpiredTime,
		ScanInterval: d.ScanNotActiveBrokerInterval,
		IdleTimeout:  time.Duration(d.ServerChannelMaxIdleTimeSeconds) * time.Second,
	}
}

// OptionsFromConfig maps a nameserver configuration to Options listening on host:listenPort
// ("" host = all interfaces).
func OptionsFromConfig(c conf.NamesrvConfig, host string) Options {
	if host == "" {
		host = "0.0.0.0"
	}
	cp := c
	return Options{
		ListenAddr:         net.JoinHostPort(host, strconv.Itoa(c.ListenPort)),
		BrokerExpiry:       c.BrokerChannelExpiredTime,
		ScanInterval:       c.ScanNotActiveBrokerInterval,
		IdleTimeout:        time.Duration(c.ServerChannelMaxIdleTimeSeconds) * time.Second,
		KVConfigPath:       c.KvConfigPath,
		OrderMessageEnable: c.OrderMessageEnable,
		Config:             &cp,
	}
}

func (o Options) validate() error {
	switch {
	case o.Listener == nil && o.ListenAddr == "":
		return fmt.Errorf("%w: no ListenAddr or Listener", ErrBadOptions)
	case o.BrokerExpiry <= 0:
		return fmt.Errorf("%w: BrokerExpiry %v must be positive", ErrBadOptions, o.BrokerExpiry)
	case o.ScanInterval <= 0:
		return fmt.Errorf("%w: ScanInterval %v must be positive", ErrBadOptions, o.ScanInterval)
	}
	return nil
}

// Server is a RocketMQ-compatible nameserver: the RouteInfo registry and KV config served
// over the remoting protocol. Nameservers never talk to each other; every broker
// registers with all of them.
type Server struct {
	log    *slog.Logger
	opts   Options
	routes *RouteInfo
	kv     *kvConfig
	rs     *remoting.Server

	orderMessage atomic.Bool
	expiry       atomic.Int64 // nanoseconds
	scanReset    chan time.Duration

	cfgMu sync.Mutex
	cfg   conf.NamesrvConfig

	mu      sync.Mutex
	started bool
	closed  bool
	addr    net.Addr
	stop    chan struct{}
	wg      sync.WaitGroup
}

// New returns an unstarted server. logger nil discards logs.
func New(logger *slog.Logger, opts Options) *Server {
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	s := &Server{
		log:       logger,
		opts:      opts,
		routes:    NewRouteInfo(logger, nil),
		kv:        newKVConfig(opts.KVConfigPath),
		scanReset: make(chan time.Duration, 1),
		stop:      make(chan struct{}),
	}
	s.orderMessage.Store(opts.OrderMessageEnable)
	s.expiry.Store(int64(opts.BrokerExpiry))
	if opts.Config != nil {
		s.cfg = *opts.Config
	} else {
		s.cfg = conf.DefaultNamesrv()
		if _, port, err := net.SplitHostPort(opts.ListenAddr); err == nil {
			if p, err := strconv.Atoi(port); err == nil && p > 0 {
				s.cfg.ListenPort = p
			}
		}
		s.cfg.KvConfigPath = opts.KVConfigPath
		s.cfg.OrderMessageEnable = opts.OrderMessageEnable
		s.cfg.BrokerChannelExpiredTime = opts.BrokerExpiry
		s.cfg.ScanNotActiveBrokerInterval = opts.ScanInterval
		if opts.IdleTimeout > 0 {
			s.cfg.ServerChannelMaxIdleTimeSeconds = int(opts.IdleTimeout / time.Second)
		}
	}
	s.rs = remoting.NewServer(logger, remoting.ServerOptions{
		IdleTimeout:           opts.IdleTimeout,
		MaxFrameSize:          opts.MaxFrameSize,
		MaxConcurrentRequests: opts.MaxConcurrentRequests,
	})
	s.registerHandlers()
	s.rs.OnClose(s.connClosed)
	return s
}

// Routes exposes the registry (read-only use: tests, diagnostics).
func (s *Server) Routes() *RouteInfo { return s.routes }

// Start loads the KV config, starts listening and starts the broker-expiry scan.
func (s *Server) Start() error {
	if err := s.opts.validate(); err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.started {
		return ErrStarted
	}
	if s.closed {
		return remoting.ErrServerClosed
	}
	if err := s.kv.load(); err != nil {
		return err
	}
	l := s.opts.Listener
	if l == nil {
		var err error
		if l, err = net.Listen("tcp", s.opts.ListenAddr); err != nil {
			return fmt.Errorf("nameserver: listen %s: %w", s.opts.ListenAddr, err)
		}
	}
	if err := s.rs.Start(l); err != nil {
		l.Close()
		return fmt.Errorf("nameserver: serve %s: %w", l.Addr(), err)
	}
	s.addr = l.Addr()
	s.started = true
	s.wg.Add(1)
	go s.scanLoop(s.opts.ScanInterval)
	s.log.Info("nameserver: started", "addr", s.addr.String(), "broker_expiry", s.opts.BrokerExpiry.String(),
		"scan_interval", s.opts.ScanInterval.String(), "kv_config_path", s.opts.KVConfigPath)
	return nil
}

// Addr returns the listening address ("127.0.0.1:41234"), "" before Start.
func (s *Server) Addr() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.addr == nil {
		return ""
	}
	return s.addr.String()
}

// Close stops the scan, closes the listener and every connection, and waits for the
// server's goroutines. It is safe to call more than once.
func (s *Server) Close() error {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return nil
	}
	s.closed = true
	close(s.stop)
	s.mu.Unlock()
	err := s.rs.Close()
	s.wg.Wait()
	s.log.Info("nameserver: stopped")
	return err
}

// scanLoop evicts brokers whose registration expired, every interval (Java
// scanNotActiveBroker). UPDATE_NAMESRV_CONFIG may change the interval.
func (s *Server) scanLoop(interval time.Duration) {
	defer s.wg.Done()
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-s.stop:
			return
		case d := <-s.scanReset:
			t.Reset(d)
		case <-t.C:
			s.scanOnce()
		}
	}
}

func (s *Server) scanOnce() {
	for _, e := range s.routes.ExpireBrokers(time.Duration(s.expiry.Load())) {
		s.log.Warn("nameserver: broker expired", "broker_addr", e.BrokerAddr, "idle", e.IdleFor.Round(time.Millisecond).String())
		if e.Conn != nil {
			_ = e.Conn.Close()
		}
	}
}

// connClosed evicts the brokers that registered on a closed connection, at once.
func (s *Server) connClosed(c *remoting.Conn) {
	for _, addr := range s.routes.ConnClosed(c) {
		s.log.Info("nameserver: broker connection closed, broker removed", "broker_addr", addr,
			"remote", c.RemoteAddr().String(), "reason", errString(c.Err()))
	}
}

func errString(err error) string {
	if err == nil {
		return ""
	}
	return err.Error()
}
