package broker

import (
	"context"
	"errors"
	"fmt"
	"net"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gorocket/gorocket/broker/ha"
	"github.com/gorocket/gorocket/internal/conf"
	"github.com/gorocket/gorocket/remoting"
	"github.com/gorocket/gorocket/remoting/protocol"
)

// replicaLog is the commit log as broker/ha needs it: read by a master's senders, appended to by
// a slave. *storage.Store implements both sides.
type replicaLog interface {
	ha.MasterLog
	ha.SlaveLog
}

// replicable is implemented by stores that can take part in replication (the storage adapter).
type replicable interface {
	replicaLog() replicaLog
}

func msDuration(v int) time.Duration { return time.Duration(v) * time.Millisecond }

// isMaster reports brokerRole ASYNC_MASTER or SYNC_MASTER.
func (s *Server) isMaster() bool { return s.opts.Config.BrokerRole != conf.RoleSlave }

// startHA starts the replication side of the broker's role: masters listen for slaves on the HA
// address; slaves start the replication client, pointed at haMasterAddress when it is set (else at
// the haServerAddr of the first REGISTER_BROKER response that carries one).
func (s *Server) startHA() error {
	rs, ok := s.store.(replicable)
	if !ok {
		return fmt.Errorf("%w: the message store does not support replication", ErrInvalidOptions)
	}
	c := s.opts.Config
	logger := s.log.With("component", "ha")
	if s.isMaster() {
		m, err := ha.ListenMaster(logger, rs.replicaLog(), s.opts.HAListenAddr, ha.MasterConfig{
			TransferBatchSize:    c.HATransferBatchSize,
			HeartbeatInterval:    msDuration(c.HASendHeartbeatInterval),
			HousekeepingInterval: msDuration(c.HAHousekeepingInterval),
			SlaveTimeout:         msDuration(c.SlaveTimeout),
			SlaveFallbehindMax:   int64(c.HASlaveFallbehindMax),
		})
		if err != nil {
			return fmt.Errorf("broker: start HA master: %w", err)
		}
		s.haMaster = m
		port := strconv.Itoa(m.Addr().(*net.TCPAddr).Port)
		s.haAdvertised = net.JoinHostPort(c.BrokerIP2, port)
		return nil
	}
	sl, err := ha.NewSlave(logger, rs.replicaLog(), ha.SlaveConfig{
		HeartbeatInterval:    msDuration(c.HASendHeartbeatInterval),
		HousekeepingInterval: msDuration(c.HAHousekeepingInterval),
	})
	if err != nil {
		return fmt.Errorf("broker: start HA slave: %w", err)
	}
	s.haSlave = sl
	if c.HAMasterAddress != "" {
		sl.SetMasterAddress(c.HAMasterAddress)
	}
	return nil
}

// closeHA stops replication; it runs after the remoting server stopped and before the store
// closes. Sends still waiting for a slave acknowledgement answer SLAVE_NOT_AVAILABLE.
func (s *Server) closeHA() {
	if s.haMaster != nil {
		if err := s.haMaster.Close(); err != nil {
			s.log.Warn("close HA master failed", "err", err)
		}
	}
	if s.haSlave != nil {
		if err := s.haSlave.Close(); err != nil {
			s.log.Warn("close HA slave failed", "err", err)
		}
	}
}

// haAddr is the HA address advertised in REGISTER_BROKER (haServerAddr): brokerIP2 and the bound
// HA port for a master, brokerIP2:haListenPort otherwise.
func (s *Server) haAddr() string {
	if s.haAdvertised != "" {
		return s.haAdvertised
	}
	c := s.opts.Config
	return net.JoinHostPort(c.BrokerIP2, strconv.Itoa(c.HAListenPort))
}

// waitReplica is the replication step of the send path, after a successful local append. A
// SYNC_MASTER waits until a slave acknowledged the end of the appended records; failures map to
// the statuses the clients know (the message is stored either way):
//
//	no slave connected, or the best one haSlaveFallbehindMax behind  SLAVE_NOT_AVAILABLE (11)
//	no acknowledgement within slaveTimeout (or the request ended)     FLUSH_SLAVE_TIMEOUT (12)
//	broker shutting down                                               SLAVE_NOT_AVAILABLE (11)
//
// ASYNC_MASTER answers at once; its slaves follow in the background. SEND_MESSAGE and
// SEND_BATCH_MESSAGE use the asynchronous form (replyWhenReplicated); this blocking form serves
// CONSUMER_SEND_MSG_BACK and END_TRANSACTION.
func (s *Server) waitReplica(ctx context.Context, res PutResult) (int32, string) {
	if !s.syncReplication() {
		return protocol.RespSuccess, ""
	}
	end := res.PhysOffset + int64(res.WroteBytes)
	return s.replicaOutcome(end, s.haMaster.WaitForReplica(ctx, end))
}

// syncReplication reports a SYNC_MASTER (whose sends wait for a slave).
func (s *Server) syncReplication() bool {
	return s.opts.Config.BrokerRole == conf.RoleSyncMaster && s.haMaster != nil
}

// replicaOutcome maps a WaitForReplica result to a response code and remark.
func (s *Server) replicaOutcome(end int64, err error) (int32, string) {
	switch {
	case err == nil:
		return protocol.RespSuccess, ""
	case errors.Is(err, ha.ErrSlaveNotAvailable), errors.Is(err, ha.ErrClosed):
		if n, ok := s.replicaWarn.allow(time.Now()); ok {
			s.log.Warn("sync replication failed: slave not available", "endOffset", end, "err", err, "suppressed", n)
		}
		return protocol.RespSlaveNotAvailable, "slave not available"
	default: // ha.ErrSlaveTimeout or the request's context ended
		if n, ok := s.replicaWarn.allow(time.Now()); ok {
			s.log.Warn("sync replication failed: slave acknowledgement timed out", "endOffset", end, "err", err, "suppressed", n)
		}
		return protocol.RespFlushSlaveTimeout, "flush slave timeout"
	}
}

// replyWhenReplicated answers a send stored on a SYNC_MASTER once a slave acknowledged it (or
// replication failed): the handler returns at once (remoting.ErrReplyLater) and the response is
// written when the acknowledgement arrives, by the HA connection reader (ha.WaitForReplicaFunc),
// as Java completes its send future on the HA thread. Nothing waits per message: one
// acknowledgement answers every send it covers without waking a goroutine per send. answer builds
// the response from the outcome.
func (s *Server) replyWhenReplicated(rc *reqCtx, res PutResult, answer func(code int32, remark string) (*protocol.RemotingCommand, error)) (*protocol.RemotingCommand, error) {
	end := res.PhysOffset + int64(res.WroteBytes)
	req := rc.req
	s.pendingReplies.add()
	s.haMaster.WaitForReplicaBatch(end, func(err error, b *ha.Batch) {
		defer s.pendingReplies.done()
		code, remark := s.replicaOutcome(end, err)
		resp, rerr := answer(code, remark)
		s.queueReply(req, resp, rerr)
		// The replies one acknowledgement releases go out in one write per connection, made
		// on another goroutine.
		conn := req.Conn
		b.After(conn, conn.FlushAsync) // never blocks the HA reader that runs this callback
	})
	return nil, remoting.ErrReplyLater
}

// queueReply queues the answer (or the error as a response) of a request answered later; the
// caller makes sure req.Conn is flushed (FlushAsync) afterwards.
func (s *Server) queueReply(req *remoting.Request, resp *protocol.RemotingCommand, rerr error) {
	if rerr != nil {
		var re *protocol.ResponseError
		if !errors.As(rerr, &re) {
			re = &protocol.ResponseError{Code: protocol.RespSystemError, Remark: rerr.Error()}
		}
		resp = protocol.NewResponse(re.Code, re.Remark)
	}
	if err := req.ReplyDeferred(resp); err != nil && !errors.Is(err, remoting.ErrConnClosed) {
		s.log.Debug("send reply failed", "err", err)
	}
}

// replyWhenFlushed stores m without waiting and answers the send once the SYNC_FLUSH flusher
// has made it durable (or the flush timed out): like replyWhenReplicated, no goroutine waits
// per send; the flusher completes every send its fdatasync covers, and their replies share one
// write per connection (FlushAsync coalesces the replies queued before its goroutine runs).
func (s *Server) replyWhenFlushed(rc *reqCtx, h *protocol.SendMessageRequestHeader, m *StoreMessage, fs flushCallbackStore) (*protocol.RemotingCommand, error) {
	res, err := fs.putNoWait(m)
	if err != nil {
		s.log.Warn("store put failed", "topic", m.Topic, "queueId", m.QueueID, "err", err)
		return nil, protocol.Errorf(protocol.RespSystemError, "store put failed: %v", err)
	}
	if code, remark := s.putStatusCode(res.Status); code != protocol.RespSuccess {
		if storedCode(code) {
			s.stats.put(m.Topic, max(res.Count, 1), len(m.Body))
		}
		return s.sendResponse(h, m, res, code, remark)
	}
	req := rc.req
	s.pendingReplies.add()
	fs.waitFlushedFunc(res.PhysOffset+int64(res.WroteBytes), func(st PutStatus) {
		defer s.pendingReplies.done()
		code, remark := s.putStatusCode(st)
		if storedCode(code) {
			s.stats.put(m.Topic, max(res.Count, 1), len(m.Body))
		}
		resp, rerr := s.sendResponse(h, m, res, code, remark)
		s.queueReply(req, resp, rerr)
		req.Conn.FlushAsync() // never blocks the flusher that runs this callback
	})
	return nil, remoting.ErrReplyLater
}

// replyTracker counts answers still owed (SYNC_MASTER sends waiting for the slave) so that
// Close can let them be written before it closes the connections.
type replyTracker struct {
	mu   sync.Mutex
	n    int
	zero chan struct{} // closed when n drops to 0; nil unless someone waits
}

func (r *replyTracker) add() {
	r.mu.Lock()
	r.n++
	r.mu.Unlock()
}

func (r *replyTracker) done() {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.n--
	if r.n == 0 && r.zero != nil {
		close(r.zero)
		r.zero = nil
	}
}

// wait waits up to d for the count to drop to 0 and reports whether it did.
func (r *replyTracker) wait(d time.Duration) bool {
	r.mu.Lock()
	if r.n == 0 {
		r.mu.Unlock()
		return true
	}
	if r.zero == nil {
		r.zero = make(chan struct{})
	}
	ch := r.zero
	r.mu.Unlock()
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ch:
		return true
	case <-t.C:
		return false
	}
}

// logLimiter lets one message through per interval and counts the ones it held back: every send
// of a SYNC_MASTER whose slave is gone fails the same way.
type logLimiter struct {
	last       atomic.Int64 // unix nanos of the last message let through
	suppressed atomic.Int64
}

const replicaWarnInterval = time.Second

// allow reports whether to log now, and how many messages were suppressed since the last one.
func (l *logLimiter) allow(now time.Time) (int64, bool) {
	last := l.last.Load()
	if now.UnixNano()-last < int64(replicaWarnInterval) || !l.last.CompareAndSwap(last, now.UnixNano()) {
		l.suppressed.Add(1)
		return 0, false
	}
	return l.suppressed.Swap(0), true
}

// onRegisterResponse applies what a nameserver told a slave about its master: the master's HA
// address (unless haMasterAddress pins it) and its main address, used by the metadata sync.
// Empty values are ignored: a nameserver that does not (yet) know the master must not disconnect
// a working replication.
func (s *Server) onRegisterResponse(haServerAddr, masterAddr string) {
	if s.haSlave == nil {
		return
	}
	if haServerAddr != "" && s.opts.Config.HAMasterAddress == "" {
		s.haSlave.SetMasterAddress(haServerAddr)
	}
	if masterAddr == "" {
		return
	}
	s.regMu.Lock()
	changed := s.masterAddr != masterAddr
	s.masterAddr = masterAddr
	s.regMu.Unlock()
	if changed {
		s.log.Info("master address learnt from nameserver", "masterAddr", masterAddr, "haServerAddr", haServerAddr)
		s.kickSlaveSync()
	}
}

// MasterAddr is the master's main address a slave learnt from the nameservers ("" if none yet).
func (s *Server) MasterAddr() string {
	s.regMu.Lock()
	defer s.regMu.Unlock()
	return s.masterAddr
}

// haRuntimeInfo adds the replication keys of GET_BROKER_RUNTIME_INFO (docs/replication.md).
func (s *Server) haRuntimeInfo(t map[string]string) {
	i64 := func(v int64) string { return strconv.FormatInt(v, 10) }
	t["haRole"] = s.opts.Config.BrokerRole
	t["masterAddr"] = ""
	if s.haMaster != nil {
		st := s.haMaster.State()
		reported := 0
		parts := make([]string, 0, len(st.Slaves))
		for _, sl := range st.Slaves {
			if !sl.Reported {
				continue
			}
			reported++
			parts = append(parts, fmt.Sprintf("%s:%d:%d:%d", sl.Addr, sl.AckedOffset, sl.LagBytes, sl.LagTime.Milliseconds()))
		}
		t["haServerAddr"] = s.haAddr()
		t["haMasterMaxOffset"] = i64(st.MaxPhyOffset)
		t["haReplicatedOffset"] = i64(st.ReplicatedOffset)
		t["haConnectionCount"] = strconv.Itoa(len(st.Slaves))
		t["haSlaveCount"] = strconv.Itoa(reported)
		t["haSlaves"] = strings.Join(parts, ";")
		ack, lagBytes, lagMillis, lagSec := "-1", "-1", "-1", "-1"
		if best, ok := st.BestSlave(); ok {
			ack, lagBytes, lagMillis = i64(best.AckedOffset), i64(best.LagBytes), i64(best.LagTime.Milliseconds())
			lagSec = strconv.FormatFloat(best.LagTime.Seconds(), 'f', 3, 64)
		}
		t["haSlaveAckOffset"] = ack
		t["haSlaveLagBytes"] = lagBytes
		t["haSlaveLagMillis"] = lagMillis
		t["haSlaveLagSeconds"] = lagSec
		t["slaveFallBehindMuch"] = lagBytes
		return
	}
	if s.haSlave == nil {
		return
	}
	st := s.haSlave.State()
	t["masterAddr"] = s.MasterAddr()
	t["haMasterAddress"] = st.MasterAddr
	t["haConnected"] = strconv.FormatBool(st.Connected)
	conns := "0"
	if st.Connected {
		conns = "1"
	}
	t["haConnectionCount"] = conns
	t["haMaxPhyOffset"] = i64(st.MaxPhyOffset)
	t["haLastReportedOffset"] = i64(st.LastReported)
	last := int64(0)
	if !st.LastReceived.IsZero() {
		last = st.LastReceived.UnixMilli()
	}
	t["haLastReceivedTimestamp"] = i64(last)
	t["haLastError"] = st.LastError
	t["haConnects"] = i64(st.Connects)
	t["haPendingBytes"] = strconv.Itoa(st.PendingBytes)
	syncAt, syncErr := s.slaveSync.status()
	ts := int64(0)
	if !syncAt.IsZero() {
		ts = syncAt.UnixMilli()
	}
	t["slaveSyncTimestamp"] = i64(ts)
	t["slaveSyncError"] = syncErr
}
