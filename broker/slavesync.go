package broker

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/gorocket/gorocket/remoting/protocol"
)

// slaveSync is a slave's metadata follower (Java's SlaveSynchronize, reference §5.5): every
// SlaveSyncInterval, and at once when the master's address becomes known, it reads from the
// master's main port
//
//	GET_ALL_TOPIC_CONFIG (21)               replaces the topic table when the data version differs
//	GET_ALL_CONSUMER_OFFSET (43)            replaces the consumer offsets (see below)
//	GET_ALL_DELAY_OFFSET (45)               replaces the delay-level offsets
//	GET_ALL_SUBSCRIPTIONGROUP_CONFIG (201)  replaces the subscription groups when the version differs
//
// Consumer offsets committed to the slave (UPDATE_CONSUMER_OFFSET while the master is down, as a
// Java client does) are kept as pending. On each round the slave first reads the master's table,
// then forwards every pending commit that is ahead of the master's value for that queue with an
// UPDATE_CONSUMER_OFFSET to the master, and only then adopts the master's table (with the commits
// that could not be forwarded laid over it). So the master's offsets win, except that progress made
// on the slave while the master was away is never thrown back: when the master returns it learns
// that progress instead of consumers re-reading everything since it went down. A commit behind the
// master's value is dropped (the master has seen more progress since).
type slaveSync struct {
	srv  *Server
	kick chan struct{}

	mu      sync.Mutex // leaf; guards the fields below
	pending map[string]map[int]int64
	lastOK  time.Time
	lastErr string
}

func newSlaveSync(s *Server) *slaveSync {
	return &slaveSync{srv: s, kick: make(chan struct{}, 1), pending: make(map[string]map[int]int64)}
}

// kickSlaveSync asks the sync loop to run now (bursts coalesce).
func (s *Server) kickSlaveSync() {
	if s.slaveSync == nil {
		return
	}
	select {
	case s.slaveSync.kick <- struct{}{}:
	default:
	}
}

// notePending records a consumer offset committed on the slave.
func (ss *slaveSync) notePending(group, topic string, queueID int, off int64) {
	if ss == nil {
		return
	}
	k := topic + "@" + group
	ss.mu.Lock()
	defer ss.mu.Unlock()
	q := ss.pending[k]
	if q == nil {
		q = make(map[int]int64)
		ss.pending[k] = q
	}
	q[queueID] = off
}

// pendingSnapshot returns a copy of the pending commits.
func (ss *slaveSync) pendingSnapshot() map[string]map[int]int64 {
	ss.mu.Lock()
	defer ss.mu.Unlock()
	out := make(map[string]map[int]int64, len(ss.pending))
	for k, q := range ss.pending {
		c := make(map[int]int64, len(q))
		for id, off := range q {
			c[id] = off
		}
		out[k] = c
	}
	return out
}

// resolve drops a pending commit unless a newer commit replaced it meanwhile.
func (ss *slaveSync) resolve(key string, queueID int, off int64) {
	ss.mu.Lock()
	defer ss.mu.Unlock()
	if q := ss.pending[key]; q != nil && q[queueID] == off {
		delete(q, queueID)
		if len(q) == 0 {
			delete(ss.pending, key)
		}
	}
}

// status returns the time of the last successful round and the last round's error.
func (ss *slaveSync) status() (time.Time, string) {
	if ss == nil {
		return time.Time{}, ""
	}
	ss.mu.Lock()
	defer ss.mu.Unlock()
	return ss.lastOK, ss.lastErr
}

func (ss *slaveSync) record(err error) {
	ss.mu.Lock()
	defer ss.mu.Unlock()
	if err != nil {
		ss.lastErr = err.Error()
		return
	}
	ss.lastOK, ss.lastErr = time.Now(), ""
}

// loop runs the rounds until the server quits.
func (ss *slaveSync) loop() {
	s := ss.srv
	defer s.wg.Done()
	t := time.NewTicker(s.opts.SlaveSyncInterval)
	defer t.Stop()
	failing := false
	for {
		select {
		case <-s.quit:
			return
		case <-t.C:
		case <-ss.kick:
		}
		err := ss.round()
		ss.record(err)
		switch {
		case err != nil && !failing:
			s.log.Warn("slave metadata sync failed", "masterAddr", s.MasterAddr(), "err", err)
		case err != nil:
			s.log.Debug("slave metadata sync failed", "masterAddr", s.MasterAddr(), "err", err)
		case failing:
			s.log.Info("slave metadata sync recovered", "masterAddr", s.MasterAddr())
		}
		failing = err != nil
	}
}

// errNoMasterAddr: no nameserver answered with the master's address yet.
var errNoMasterAddr = errors.New("broker: master address unknown (not yet learnt from a nameserver)")

// round synchronises once. Each table is synchronised independently; the errors are joined.
func (ss *slaveSync) round() error {
	s := ss.srv
	addr := s.MasterAddr()
	if addr == "" {
		return errNoMasterAddr
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go func() {
		select {
		case <-s.quit:
			cancel()
		case <-ctx.Done():
		}
	}()
	var errs []error
	if err := ss.syncTopics(ctx, addr); err != nil {
		errs = append(errs, err)
	}
	if err := ss.syncOffsets(ctx, addr); err != nil {
		errs = append(errs, err)
	}
	if err := ss.syncDelayOffsets(ctx, addr); err != nil {
		errs = append(errs, err)
	}
	if err := ss.syncGroups(ctx, addr); err != nil {
		errs = append(errs, err)
	}
	return errors.Join(errs...)
}

// syncRequestTimeout bounds one request to the master.
const syncRequestTimeout = 5 * time.Second

// fetch sends a body-less request to the master and decodes its JSON body into v.
func (ss *slaveSync) fetch(ctx context.Context, addr string, code int32, v any) error {
	cctx, cancel := context.WithTimeout(ctx, syncRequestTimeout)
	defer cancel()
	resp, err := ss.srv.nsClient.Invoke(cctx, addr, protocol.NewRequest(code, nil, nil))
	if err == nil {
		err = resp.Err()
	}
	if err != nil {
		return fmt.Errorf("%s from master %s: %w", protocol.RequestCodeName(code), addr, err)
	}
	if err := protocol.DecodeJSON(resp.Body, v); err != nil {
		return fmt.Errorf("%s from master %s: decode body: %w", protocol.RequestCodeName(code), addr, err)
	}
	return nil
}

func (ss *slaveSync) syncTopics(ctx context.Context, addr string) error {
	var w protocol.TopicConfigSerializeWrapper
	if err := ss.fetch(ctx, addr, protocol.ReqGetAllTopicConfig, &w); err != nil {
		return err
	}
	changed, err := ss.srv.topics.ReplaceAll(w.TopicConfigTable, w.DataVersion)
	if err != nil {
		return fmt.Errorf("adopt the master's topics: %w", err)
	}
	if changed {
		ss.srv.log.Info("topic table synchronised from master", "masterAddr", addr, "topics", len(w.TopicConfigTable))
	}
	return nil
}

func (ss *slaveSync) syncGroups(ctx context.Context, addr string) error {
	var w protocol.SubscriptionGroupWrapper
	if err := ss.fetch(ctx, addr, protocol.ReqGetAllSubscriptionGroupConfig, &w); err != nil {
		return err
	}
	changed, err := ss.srv.groups.ReplaceAll(w)
	if err != nil {
		return fmt.Errorf("adopt the master's subscription groups: %w", err)
	}
	if changed {
		ss.srv.log.Info("subscription groups synchronised from master", "masterAddr", addr, "groups", len(w.SubscriptionGroupTable))
	}
	return nil
}

func (ss *slaveSync) syncDelayOffsets(ctx context.Context, addr string) error {
	var f delayOffsetFile
	if err := ss.fetch(ctx, addr, protocol.ReqGetAllDelayOffset, &f); err != nil {
		return err
	}
	ss.srv.sched.replace(f.OffsetTable)
	return nil
}

// syncOffsets forwards the slave's pending commits that are ahead of the master, then adopts the
// master's table (see slaveSync).
func (ss *slaveSync) syncOffsets(ctx context.Context, addr string) error {
	var w protocol.ConsumerOffsetWrapper
	if err := ss.fetch(ctx, addr, protocol.ReqGetAllConsumerOffset, &w); err != nil {
		return err
	}
	if w.OffsetTable == nil {
		w.OffsetTable = make(map[string]map[int]int64)
	}
	var errs []error
	for key, queues := range ss.pendingSnapshot() {
		topic, group, ok := strings.Cut(key, "@")
		if !ok {
			continue
		}
		for qid, off := range queues {
			if m, ok := w.OffsetTable[key][qid]; ok && m >= off {
				ss.resolve(key, qid, off) // the master is at least as far
				continue
			}
			if err := ss.forwardCommit(ctx, addr, group, topic, qid, off); err != nil {
				errs = append(errs, err)
				continue
			}
			if w.OffsetTable[key] == nil {
				w.OffsetTable[key] = make(map[int]int64)
			}
			w.OffsetTable[key][qid] = off
			ss.resolve(key, qid, off)
			ss.srv.log.Info("consumer offset committed on the slave forwarded to the master",
				"group", group, "topic", topic, "queueId", qid, "offset", off)
		}
	}
	ss.srv.offsets.ReplaceFromMaster(w.OffsetTable, ss.pendingSnapshot())
	return errors.Join(errs...)
}

func (ss *slaveSync) forwardCommit(ctx context.Context, addr, group, topic string, qid int, off int64) error {
	cctx, cancel := context.WithTimeout(ctx, syncRequestTimeout)
	defer cancel()
	resp, err := ss.srv.nsClient.Invoke(cctx, addr, protocol.NewRequest(protocol.ReqUpdateConsumerOffset,
		&protocol.UpdateConsumerOffsetRequestHeader{ConsumerGroup: group, Topic: topic, QueueID: qid, CommitOffset: off}, nil))
	if err == nil {
		err = resp.Err()
	}
	if err != nil {
		return fmt.Errorf("forward offset %s@%s:%d=%d to master %s: %w", topic, group, qid, off, addr, err)
	}
	return nil
}
