package broker

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"path/filepath"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gorocket/gorocket/broker/client"
	"github.com/gorocket/gorocket/broker/group"
	"github.com/gorocket/gorocket/broker/ha"
	"github.com/gorocket/gorocket/broker/longpoll"
	"github.com/gorocket/gorocket/broker/offset"
	"github.com/gorocket/gorocket/broker/topic"
	"github.com/gorocket/gorocket/internal/conf"
	"github.com/gorocket/gorocket/remoting"
	"github.com/gorocket/gorocket/remoting/protocol"
)

// Server is one broker.
type Server struct {
	log  *slog.Logger
	opts Options

	store   MessageStore
	topics  *topic.Manager
	groups  *group.Manager
	offsets *offset.Manager
	clients *client.Registry
	locks   *client.Locks
	polls   *longpoll.Holder
	sched   *scheduleService
	stats   *stats
	delays  []time.Duration

	rs       *remoting.Server
	nsClient *remoting.Client // nameservers, and a slave's metadata sync with its master

	// Replication (replication.go): set by start before the server accepts requests, then
	// read-only. A master has haMaster, a slave haSlave and slaveSync.
	haMaster     *ha.Master
	haSlave      *ha.Slave
	haAdvertised string // master: brokerIP2:bound HA port
	slaveSync    *slaveSync
	replicaWarn  logLimiter // SYNC_MASTER wait failures

	closing        atomic.Bool  // Close has begun
	pendingReplies replyTracker // SYNC_MASTER sends stored and not answered yet

	bootTime   time.Time
	storeHost  *net.TCPAddr
	regKick    chan struct{}
	quit       chan struct{}
	wg         sync.WaitGroup // register + housekeeping loops
	notifyWG   sync.WaitGroup // NOTIFY_CONSUMER_IDS_CHANGED senders
	startOnce  sync.Once
	closeOnce  sync.Once
	started    bool
	listenAddr net.Addr

	regMu      sync.Mutex // guards registered, masterAddr, advertised
	registered map[string]bool
	masterAddr string
	advertised string
}

// reqCtx is what a processor gets besides the command.
type reqCtx struct {
	ctx    context.Context
	req    *remoting.Request
	conn   *remoting.Conn
	remote *net.TCPAddr
}

// clientIDKey tags a connection with the clientID of its last heartbeat.
type clientIDKey struct{}

// New opens the broker's store and tables and prepares (but does not start) the server.
func New(logger *slog.Logger, opts Options) (*Server, error) {
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	if err := opts.setDefaults(); err != nil {
		return nil, err
	}
	delays, _ := opts.Config.DelayLevels()
	s := &Server{
		log: logger, opts: opts, delays: delays,
		clients: client.NewRegistry(), locks: client.NewLocks(opts.LockLease), polls: longpoll.New(),
		stats: newStats(time.Now()), bootTime: time.Now(),
		regKick: make(chan struct{}, 1), quit: make(chan struct{}), registered: make(map[string]bool),
	}
	cfgDir := filepath.Join(opts.Config.StorePathRootDir, "config")
	var err error
	if s.topics, err = topic.Open(logger, filepath.Join(cfgDir, "topics.json"), s.kickRegister); err != nil {
		return nil, fmt.Errorf("broker: %w", err)
	}
	if s.groups, err = group.Open(logger, filepath.Join(cfgDir, "subscriptionGroup.json")); err != nil {
		return nil, fmt.Errorf("broker: %w", err)
	}
	if s.offsets, err = offset.Open(logger, filepath.Join(cfgDir, "consumerOffset.json")); err != nil {
		return nil, fmt.Errorf("broker: %w", err)
	}
	if s.sched, err = newScheduleService(logger, s, delays, filepath.Join(cfgDir, "delayOffset.json")); err != nil {
		return nil, err
	}
	if err := s.initSystemTopics(); err != nil {
		return nil, err
	}
	if s.store, err = openStore(logger, opts.Config, delays, s.messageArrived); err != nil {
		return nil, fmt.Errorf("broker: open store: %w", err)
	}
	s.rs = remoting.NewServer(logger.With("component", "remoting"), remoting.ServerOptions{
		IdleTimeout: time.Duration(opts.Config.ServerChannelMaxIdleTimeSeconds) * time.Second,
	})
	s.nsClient = remoting.NewClient(logger.With("component", "nsclient"), remoting.ClientOptions{})
	if !s.isMaster() {
		s.slaveSync = newSlaveSync(s)
	}
	s.routes()
	return s, nil
}

// initSystemTopics creates the topics a 4.9 broker creates at startup (reference §7.10).
func (s *Server) initSystemTopics() error {
	c := s.opts.Config
	rw := protocol.PermRead | protocol.PermWrite
	sys := []topic.Config{
		{TopicName: topic.SelfTestTopic, ReadQueueNums: 1, WriteQueueNums: 1, Perm: rw},
		{TopicName: topic.OffsetMovedEvent, ReadQueueNums: 1, WriteQueueNums: 1, Perm: rw},
		{TopicName: topic.ScheduleTopic, ReadQueueNums: len(s.delays), WriteQueueNums: len(s.delays), Perm: rw},
		{TopicName: c.BrokerClusterName + "_REPLY_TOPIC", ReadQueueNums: 1, WriteQueueNums: 1, Perm: rw},
	}
	if c.AutoCreateTopicEnable {
		sys = append(sys, topic.Config{TopicName: topic.AutoCreateTopicKey, ReadQueueNums: c.DefaultTopicQueueNums,
			WriteQueueNums: c.DefaultTopicQueueNums, Perm: rw | protocol.PermInherit})
	}
	clusterPerm, brokerPerm := protocol.PermInherit, protocol.PermInherit
	if c.ClusterTopicEnable {
		clusterPerm |= rw
	}
	if c.BrokerTopicEnable {
		brokerPerm |= rw
	}
	sys = append(sys,
		topic.Config{TopicName: c.BrokerClusterName, ReadQueueNums: 16, WriteQueueNums: 16, Perm: clusterPerm},
		topic.Config{TopicName: c.BrokerName, ReadQueueNums: 1, WriteQueueNums: 1, Perm: brokerPerm})
	if c.TraceTopicEnable && c.MsgTraceTopicName != "" {
		sys = append(sys, topic.Config{TopicName: c.MsgTraceTopicName, ReadQueueNums: 1, WriteQueueNums: 1, Perm: rw})
	}
	for _, tc := range sys {
		if topic.ValidateName(tc.TopicName) != nil {
			s.log.Warn("system topic name invalid, not created", "topic", tc.TopicName)
			continue
		}
		if _, _, err := s.topics.PutIfAbsent(tc); err != nil {
			return fmt.Errorf("broker: create system topic %s: %w", tc.TopicName, err)
		}
	}
	if tc, ok := s.topics.Get(topic.AutoCreateTopicKey); ok && c.AutoCreateTopicEnable && tc.Perm&protocol.PermInherit == 0 {
		tc.Perm |= protocol.PermInherit
		if _, err := s.topics.Put(tc); err != nil {
			return fmt.Errorf("broker: update %s: %w", topic.AutoCreateTopicKey, err)
		}
	}
	return nil
}

// routes registers every request processor.
func (s *Server) routes() {
	h := func(code int32, f func(*reqCtx, *protocol.RemotingCommand) (*protocol.RemotingCommand, error)) {
		s.rs.HandleFunc(code, func(ctx context.Context, r *remoting.Request) (*protocol.RemotingCommand, error) {
			rc := &reqCtx{ctx: ctx, req: r, conn: r.Conn, remote: tcpAddr(r.Conn.RemoteAddr())}
			return f(rc, r.Cmd)
		})
	}
	h(protocol.ReqSendMessage, s.handleSend)
	h(protocol.ReqSendMessageV2, s.handleSend)
	h(protocol.ReqSendBatchMessage, s.handleSend)
	h(protocol.ReqConsumerSendMsgBack, s.handleSendMsgBack)
	h(protocol.ReqPullMessage, s.handlePull)
	h(protocol.ReqQueryConsumerOffset, s.handleQueryConsumerOffset)
	h(protocol.ReqUpdateConsumerOffset, s.handleUpdateConsumerOffset)
	h(protocol.ReqGetMaxOffset, s.handleGetMaxOffset)
	h(protocol.ReqGetMinOffset, s.handleGetMinOffset)
	h(protocol.ReqSearchOffsetByTimestamp, s.handleSearchOffset)
	h(protocol.ReqGetEarliestMsgStoreTime, s.handleEarliestMsgStoreTime)
	h(protocol.ReqHeartBeat, s.handleHeartbeat)
	h(protocol.ReqUnregisterClient, s.handleUnregisterClient)
	h(protocol.ReqGetConsumerListByGroup, s.handleGetConsumerList)
	h(protocol.ReqLockBatchMQ, s.handleLockBatch)
	h(protocol.ReqUnlockBatchMQ, s.handleUnlockBatch)
	h(protocol.ReqUpdateAndCreateTopic, s.handleCreateTopic)
	h(protocol.ReqDeleteTopicInBroker, s.handleDeleteTopic)
	h(protocol.ReqGetAllTopicConfig, s.handleGetAllTopicConfig)
	h(protocol.ReqGetBrokerRuntimeInfo, s.handleGetRuntimeInfo)
	h(protocol.ReqGetTopicStatsInfo, s.handleGetTopicStats)
	h(protocol.ReqGetConsumeStats, s.handleGetConsumeStats)
	h(protocol.ReqUpdateAndCreateSubscriptionGroup, s.handleUpdateSubscriptionGroup)
	h(protocol.ReqGetAllSubscriptionGroupConfig, s.handleGetAllSubscriptionGroup)
	h(protocol.ReqDeleteSubscriptionGroup, s.handleDeleteSubscriptionGroup)
	h(protocol.ReqGetBrokerConfig, s.handleGetBrokerConfig)
	h(protocol.ReqGetConsumerConnectionList, s.handleGetConsumerConnectionList)
	h(protocol.ReqGetProducerConnectionList, s.handleGetProducerConnectionList)
	h(protocol.ReqQueryTopicConsumeByWho, s.handleQueryTopicConsumeByWho)
	h(protocol.ReqGetAllConsumerOffset, s.handleGetAllConsumerOffset)
	h(protocol.ReqGetAllDelayOffset, s.handleGetAllDelayOffset)
	h(protocol.ReqQueryMessage, s.handleQueryMessage)
	h(protocol.ReqViewMessageByID, s.handleViewMessageByID)
	h(protocol.ReqEndTransaction, s.handleEndTransaction)
	s.rs.OnClose(s.connClosed)
}

func tcpAddr(a net.Addr) *net.TCPAddr {
	if t, ok := a.(*net.TCPAddr); ok {
		return t
	}
	if a != nil {
		if ap, err := net.ResolveTCPAddr("tcp", a.String()); err == nil {
			return ap
		}
	}
	return &net.TCPAddr{IP: net.IPv4(127, 0, 0, 1)}
}

// Start listens, registers with the nameservers and starts the background loops.
func (s *Server) Start() error {
	err := ErrStarted
	s.startOnce.Do(func() { err = s.start() })
	return err
}

func (s *Server) start() error {
	ln, err := net.Listen("tcp", s.opts.ListenAddr)
	if err != nil {
		return fmt.Errorf("broker: listen %s: %w", s.opts.ListenAddr, err)
	}
	s.listenAddr = ln.Addr()
	port := ln.Addr().(*net.TCPAddr).Port
	s.regMu.Lock()
	s.advertised = net.JoinHostPort(s.opts.Config.BrokerIP1, strconv.Itoa(port))
	s.regMu.Unlock()
	s.storeHost = s.resolveStoreHost(port)
	if err := s.startHA(); err != nil {
		ln.Close()
		return err
	}
	if err := s.rs.Start(ln); err != nil {
		ln.Close()
		s.closeHA()
		return fmt.Errorf("broker: serve: %w", err)
	}
	s.started = true
	if s.isMaster() {
		// A slave never delivers delayed messages itself: the master's deliveries reach it
		// through replication, and its level offsets follow the master's (slaveSync).
		s.sched.start()
	}
	if err := s.registerAll(); err != nil {
		s.log.Warn("initial registration incomplete", "err", err)
	}
	s.wg.Add(2)
	go s.registerLoop()
	go s.housekeeping()
	if s.slaveSync != nil {
		s.wg.Add(1)
		go s.slaveSync.loop()
	}
	s.log.Info("broker started", "brokerName", s.opts.Config.BrokerName, "brokerId", s.opts.Config.BrokerID,
		"cluster", s.opts.Config.BrokerClusterName, "listen", s.listenAddr.String(), "advertised", s.AdvertisedAddr(),
		"role", s.opts.Config.BrokerRole, "flush", s.opts.Config.FlushDiskType, "haAddr", s.haAddr(),
		"haMasterAddress", s.opts.Config.HAMasterAddress, "nameservers", s.opts.Config.NamesrvAddr)
	return nil
}

// resolveStoreHost returns the IP:port written as STOREHOST into records. brokerIP1 may be a
// DNS name (the operator advertises the pod's name); records need an address.
func (s *Server) resolveStoreHost(port int) *net.TCPAddr {
	host := s.opts.Config.BrokerIP1
	if ip := net.ParseIP(host); ip != nil {
		return &net.TCPAddr{IP: ip, Port: port}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	ips, err := net.DefaultResolver.LookupIP(ctx, "ip", host)
	if err == nil && len(ips) > 0 {
		for _, ip := range ips {
			if ip.To4() != nil {
				return &net.TCPAddr{IP: ip, Port: port}
			}
		}
		return &net.TCPAddr{IP: ips[0], Port: port}
	}
	s.log.Warn("brokerIP1 does not resolve, using the listen address as store host", "brokerIP1", host, "err", err)
	if t, ok := s.listenAddr.(*net.TCPAddr); ok && !t.IP.IsUnspecified() {
		return &net.TCPAddr{IP: t.IP, Port: port}
	}
	return &net.TCPAddr{IP: net.IPv4(127, 0, 0, 1), Port: port}
}

// Addr is the bound listen address (nil before Start).
func (s *Server) Addr() net.Addr { return s.listenAddr }

// AdvertisedAddr is brokerIP1:port, the address registered with the nameservers.
func (s *Server) AdvertisedAddr() string {
	s.regMu.Lock()
	defer s.regMu.Unlock()
	return s.advertised
}

// Registered reports whether the last registration with every nameserver succeeded at least once.
func (s *Server) Registered() bool {
	s.regMu.Lock()
	defer s.regMu.Unlock()
	for _, a := range s.opts.Config.NamesrvAddr {
		if !s.registered[a] {
			return false
		}
	}
	return true
}

// HeldPulls is the number of parked long-poll pulls.
func (s *Server) HeldPulls() int { return s.polls.Count() }

// messageArrived is the store's hook, called after a consume-queue entry is published.
func (s *Server) messageArrived(t string, qid int32, queueOffset, tagsCode int64) {
	s.polls.Notify(t, int(qid), queueOffset+1, tagsCode)
	if t == topic.ScheduleTopic {
		s.sched.wake()
	}
}

// connClosed drops everything bound to a closed client connection.
func (s *Server) connClosed(c *remoting.Conn) {
	if n := s.polls.ReleaseChannel(c); n > 0 {
		s.log.Debug("released held pulls of closed connection", "addr", c.RemoteAddr().String(), "count", n)
	}
	for _, g := range s.clients.RemoveChannel(c) {
		s.log.Info("consumer connection closed", "group", g, "addr", c.RemoteAddr().String())
		if s.notifyEnabled(g) {
			s.notifyConsumerIDsChanged(g)
		}
	}
}

// housekeeping persists offsets, expires silent clients, sweeps locks and samples statistics.
func (s *Server) housekeeping() {
	defer s.wg.Done()
	t := time.NewTicker(s.opts.HousekeepingInterval)
	defer t.Stop()
	for {
		select {
		case <-s.quit:
			return
		case now := <-t.C:
			s.persistTables()
			for _, e := range s.clients.ScanExpired(now.Add(-s.opts.ClientExpiry)) {
				s.log.Info("consumer expired", "group", e.Group, "addr", e.Channel.RemoteAddr().String())
				if c, ok := e.Channel.(*remoting.Conn); ok {
					_ = c.Close()
				}
				if s.notifyEnabled(e.Group) {
					s.notifyConsumerIDsChanged(e.Group)
				}
			}
			s.locks.Sweep(now)
			s.stats.sample(now)
		}
	}
}

func (s *Server) persistTables() {
	if err := s.offsets.Persist(); err != nil {
		s.log.Error("persist consumer offsets failed", "err", err)
	}
	if err := s.sched.persist(); err != nil {
		s.log.Error("persist delay offsets failed", "err", err)
	}
}

// Close shuts the broker down: stops the loops, unregisters from the nameservers, answers parked
// pulls, closes client connections, persists the tables and closes the store.
func (s *Server) Close() error {
	var err error
	s.closeOnce.Do(func() { err = s.close() })
	return err
}

func (s *Server) close() error {
	s.closing.Store(true) // new sends answer SERVICE_NOT_AVAILABLE: clients retry elsewhere
	close(s.quit)
	s.wg.Wait() // register + housekeeping loops
	if s.started {
		s.unregisterAll()
	}
	s.polls.Close()
	// Sends stored but not answered yet (SYNC_MASTER waiting for the slave, SYNC_FLUSH waiting
	// for the flusher) get their answer (at most slaveTimeout).
	if !s.pendingReplies.wait(msDuration(s.opts.Config.SlaveTimeout) + time.Second) {
		s.log.Warn("shutdown: sends still waiting for the slave are cut off")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	_ = s.rs.Shutdown(ctx) // in-flight requests finish
	cancel()
	s.notifyWG.Wait()
	if s.started {
		s.closeHA() // before the store: replication reads and appends it
		s.sched.close()
	}
	s.persistTables()
	var errs []error
	if err := s.offsets.Persist(); err != nil {
		errs = append(errs, err)
	}
	if err := s.store.Close(); err != nil {
		errs = append(errs, fmt.Errorf("broker: close store: %w", err))
	}
	_ = s.nsClient.Close()
	s.log.Info("broker stopped", "brokerName", s.opts.Config.BrokerName)
	return errors.Join(errs...)
}

// brokerIsSlave reports brokerRole=SLAVE.
func (s *Server) brokerIsSlave() bool { return s.opts.Config.BrokerRole == conf.RoleSlave }
