package client

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gorocket/gorocket/remoting"
	"github.com/gorocket/gorocket/remoting/protocol"
)

// Defaults of ConsumerOptions.
const (
	DefaultPullBatchSize     = 32
	DefaultLongPoll          = 15 * time.Second
	DefaultCommitInterval    = 5 * time.Second
	DefaultRebalanceInterval = 20 * time.Second
	DefaultHeartbeatInterval = 30 * time.Second
	// pullRPCSlack is added to the long-poll hold for the pull's RPC timeout.
	pullRPCSlack = 10 * time.Second
	maxBackoff   = 3 * time.Second
)

// ConsumerOptions configure a Consumer.
type ConsumerOptions struct {
	Options
	// Group is the consumer group (required); offsets are committed under it.
	Group string
	// Topic is the topic to consume (required).
	Topic string
	// Expression is a TAG subscription: "*" (or "") for everything, or "TagA || TagB".
	Expression string
	// FromFirst starts queues without a committed offset at the oldest message instead of
	// the newest.
	FromFirst bool
	// Queues, when set, are the only queues pulled (no rebalancing).
	Queues []MessageQueue
	// Standalone pulls every queue of the topic without sharing them with other members of the
	// group (no rebalancing); offsets are still committed to the group.
	Standalone bool
	// BatchSize is the maximum messages per pull; 0 means DefaultPullBatchSize.
	BatchSize int
	// LongPoll is how long the broker may hold a pull that finds nothing; 0 means DefaultLongPoll.
	LongPoll time.Duration
	// CommitInterval is the period of offset commits; 0 means DefaultCommitInterval.
	CommitInterval time.Duration
	// RebalanceInterval is the period of clustering rebalances; 0 means DefaultRebalanceInterval.
	RebalanceInterval time.Duration
	// HeartbeatInterval is the period of heartbeats in clustering mode; 0 means the default.
	HeartbeatInterval time.Duration
}

// Handler processes one pulled batch (messages of one queue, in queue order). Returning nil
// consumes them; returning an error redelivers the same batch after a back-off (until the
// consumer closes).
type Handler func(ctx context.Context, msgs []*MessageExt) error

// PullStatus is the outcome of one pull.
type PullStatus int

// Pull statuses (response codes 0, 19, 20, 21).
const (
	PullFound PullStatus = iota
	PullNoNewMsg
	PullNoMatchedMsg
	PullOffsetIllegal
)

func (s PullStatus) String() string {
	return [...]string{"FOUND", "NO_NEW_MSG", "NO_MATCHED_MSG", "OFFSET_ILLEGAL"}[s]
}

// PullResult is the answer to one pull.
type PullResult struct {
	Status               PullStatus
	NextBeginOffset      int64
	MinOffset            int64
	MaxOffset            int64
	SuggestWhichBrokerID int64
	// Messages are the decoded records (tag-filtered on the client); nil unless PullFound.
	Messages []*MessageExt
}

// Consumer pulls one topic; see the package documentation. Create it with NewConsumer, then
// Start; Close stops it and commits the offsets.
type Consumer struct {
	*base
	o        ConsumerOptions
	handler  Handler
	tags     []string
	tagCodes []int32

	ctx    context.Context
	cancel context.CancelFunc
	wg     sync.WaitGroup

	mu      sync.Mutex
	running map[MessageQueue]*queueState
	started bool
	closed  bool

	rebalanceNow chan struct{}
	delivered    atomic.Int64
}

// queueState is one assigned queue.
type queueState struct {
	mq        MessageQueue
	cancel    context.CancelFunc
	done      chan struct{}
	offset    atomic.Int64 // next offset to consume; -1 until known
	committed atomic.Int64 // last offset committed to the broker; -1 none
	suggested atomic.Int64 // broker id the last pull suggested
}

// NewConsumer returns a consumer that calls handler for every pulled batch; logger nil discards
// logs.
func NewConsumer(logger *slog.Logger, o ConsumerOptions, handler Handler) (*Consumer, error) {
	if o.Group == "" {
		return nil, errors.New("client: consumer group is required")
	}
	if err := checkTopic(o.Topic); err != nil {
		return nil, err
	}
	if handler == nil {
		return nil, errors.New("client: consumer handler is required")
	}
	for _, q := range o.Queues {
		if q.Topic != o.Topic {
			return nil, fmt.Errorf("client: queue %s is not of topic %s", QueueString(q), o.Topic)
		}
	}
	b, err := newBase(logger, o.Options)
	if err != nil {
		return nil, err
	}
	if o.Expression == "" {
		o.Expression = "*"
	}
	defaults := []struct {
		v *time.Duration
		d time.Duration
	}{{&o.LongPoll, DefaultLongPoll}, {&o.CommitInterval, DefaultCommitInterval}, {&o.RebalanceInterval, DefaultRebalanceInterval}, {&o.HeartbeatInterval, DefaultHeartbeatInterval}}
	for _, d := range defaults {
		if *d.v <= 0 {
			*d.v = d.d
		}
	}
	if o.BatchSize <= 0 {
		o.BatchSize = DefaultPullBatchSize
	}
	c := &Consumer{base: b, o: o, handler: handler, tags: parseTags(o.Expression),
		running: make(map[MessageQueue]*queueState), rebalanceNow: make(chan struct{}, 1)}
	for _, t := range c.tags {
		c.tagCodes = append(c.tagCodes, TagHashCode(t))
	}
	c.log = c.log.With("group", o.Group, "topic", o.Topic)
	return c, nil
}

func (c *Consumer) clustering() bool { return len(c.o.Queues) == 0 && !c.o.Standalone }

// Start fetches the topic's route (failing when the topic has no route), assigns queues and
// starts pulling. The consumer runs until Close; ctx bounds only the start-up.
func (c *Consumer) Start(ctx context.Context) error {
	c.mu.Lock()
	if c.started || c.closed {
		c.mu.Unlock()
		return errors.New("client: consumer already started or closed")
	}
	c.started = true
	c.ctx, c.cancel = context.WithCancel(context.Background())
	c.mu.Unlock()
	e, err := c.subscribeRoute(ctx, c.o.Topic, true)
	if err != nil {
		return fmt.Errorf("client: start consumer of %s: %w", c.o.Topic, err)
	}
	switch {
	case len(c.o.Queues) > 0:
		c.assign(c.o.Queues)
	case c.o.Standalone:
		c.assign(SubscribeQueues(e.route, c.o.Topic))
	default:
		c.rc.HandleFunc(protocol.ReqNotifyConsumerIdsChanged, func(_ context.Context, req *remoting.Request) (*protocol.RemotingCommand, error) {
			if req.Cmd.ExtField("consumerGroup") == c.o.Group {
				c.triggerRebalance()
			}
			return protocol.NewResponse(protocol.RespSuccess, ""), nil
		})
		c.heartbeat(ctx, e.route)
		if err := c.rebalance(ctx); err != nil {
			c.log.Warn("initial rebalance failed; retrying in the background", "err", err)
		}
		c.wg.Add(1)
		go c.clusterLoop()
	}
	c.wg.Add(1)
	go c.commitLoop()
	return nil
}

// Close stops pulling, waits for in-flight handlers and commits the offsets.
func (c *Consumer) Close() error {
	c.mu.Lock()
	if c.closed {
		c.mu.Unlock()
		return nil
	}
	c.closed = true
	started := c.started
	c.mu.Unlock()
	var err error
	if started {
		c.cancel()
		c.wg.Wait()
		ctx, cancel := context.WithTimeout(context.Background(), c.timeout)
		err = c.commitAll(ctx, true)
		cancel()
	}
	c.base.close()
	return err
}

// Assigned returns the queues this consumer currently pulls, sorted.
func (c *Consumer) Assigned() []MessageQueue {
	c.mu.Lock()
	defer c.mu.Unlock()
	out := make([]MessageQueue, 0, len(c.running))
	for q := range c.running {
		out = append(out, q)
	}
	slices.SortFunc(out, compareQueues)
	return out
}

// Offsets returns the next offset to consume of each assigned queue whose offset is known.
func (c *Consumer) Offsets() map[MessageQueue]int64 {
	c.mu.Lock()
	defer c.mu.Unlock()
	out := make(map[MessageQueue]int64, len(c.running))
	for q, st := range c.running {
		if o := st.offset.Load(); o >= 0 {
			out[q] = o
		}
	}
	return out
}

// Delivered returns how many messages were handed to the handler and consumed.
func (c *Consumer) Delivered() int64 { return c.delivered.Load() }

func (c *Consumer) triggerRebalance() {
	select {
	case c.rebalanceNow <- struct{}{}:
	default:
	}
}

// assign starts pullers for new queues in want and stops (committing) those no longer in it.
func (c *Consumer) assign(want []MessageQueue) {
	keep := make(map[MessageQueue]bool, len(want))
	for _, q := range want {
		keep[q] = true
	}
	c.mu.Lock()
	if c.closed {
		c.mu.Unlock()
		return
	}
	var stopped []*queueState
	for q, st := range c.running {
		if !keep[q] {
			st.cancel()
			stopped = append(stopped, st)
			delete(c.running, q)
		}
	}
	var started []MessageQueue
	for _, q := range want {
		if _, ok := c.running[q]; ok {
			continue
		}
		qctx, cancel := context.WithCancel(c.ctx)
		st := &queueState{mq: q, cancel: cancel, done: make(chan struct{})}
		st.offset.Store(-1)
		st.committed.Store(-1)
		c.running[q] = st
		started = append(started, q)
		c.wg.Add(1)
		go c.pullLoop(qctx, st)
	}
	c.mu.Unlock()
	for _, st := range stopped {
		<-st.done
		ctx, cancel := context.WithTimeout(context.Background(), c.timeout)
		if err := c.commit(ctx, st, true); err != nil {
			c.log.Warn("commit of a released queue failed", "queue", QueueString(st.mq), "err", err)
		}
		cancel()
	}
	if len(started) > 0 || len(stopped) > 0 {
		c.log.Info("queues assigned", "started", len(started), "stopped", len(stopped), "total", len(want))
	}
}

func (c *Consumer) clusterLoop() {
	defer c.wg.Done()
	reb := time.NewTicker(c.o.RebalanceInterval)
	defer reb.Stop()
	hb := time.NewTicker(c.o.HeartbeatInterval)
	defer hb.Stop()
	for {
		select {
		case <-c.ctx.Done():
			return
		case <-hb.C:
			if e, err := c.subscribeRoute(c.ctx, c.o.Topic, false); err == nil {
				c.heartbeat(c.ctx, e.route)
			}
			continue
		case <-reb.C:
		case <-c.rebalanceNow:
		}
		if err := c.rebalance(c.ctx); err != nil && c.ctx.Err() == nil {
			c.log.Warn("rebalance failed", "err", err)
		}
	}
}

// rebalance refreshes the route and the group's member list and applies the allocation.
func (c *Consumer) rebalance(ctx context.Context) error {
	e, err := c.subscribeRoute(ctx, c.o.Topic, true)
	if err != nil {
		return err
	}
	cids, err := c.consumerList(ctx, e.route)
	if err != nil {
		return err
	}
	mine := AllocateAveragely(c.clientID, SubscribeQueues(e.route, c.o.Topic), cids)
	if !slices.Contains(cids, c.clientID) {
		c.log.Warn("this consumer is not in the group's member list yet", "client", c.clientID, "members", len(cids))
	}
	c.assign(mine)
	return nil
}

// consumerList asks a broker of the topic for the group's members.
func (c *Consumer) consumerList(ctx context.Context, route *protocol.TopicRouteData) ([]string, error) {
	var errs []error
	for _, qd := range sortedQueueDatas(route) {
		addr := anyBrokerAddr(route, qd.BrokerName)
		if addr == "" {
			continue
		}
		resp, err := c.invoke(ctx, addr, protocol.NewRequest(protocol.ReqGetConsumerListByGroup,
			&protocol.ConsumerGroupRequestHeader{ConsumerGroup: c.o.Group}, nil))
		if err != nil {
			errs = append(errs, err)
			continue
		}
		if resp.Code != protocol.RespSuccess {
			errs = append(errs, &BrokerError{Addr: addr, Code: resp.Code, Remark: resp.Remark})
			continue
		}
		var body protocol.ConsumerListBody
		if err := json.Unmarshal(resp.Body, &body); err != nil {
			errs = append(errs, fmt.Errorf("consumer list from %s: %w", addr, err))
			continue
		}
		return body.ConsumerIDList, nil
	}
	return nil, fmt.Errorf("client: members of group %s: %w", c.o.Group, errors.Join(errs...))
}

func sortedQueueDatas(route *protocol.TopicRouteData) []protocol.QueueData {
	qds := slices.Clone(route.QueueDatas)
	slices.SortFunc(qds, func(a, b protocol.QueueData) int { return compareStrings(a.BrokerName, b.BrokerName) })
	return qds
}

func compareStrings(a, b string) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

// heartbeat registers the consumer with every broker address of the route.
func (c *Consumer) heartbeat(ctx context.Context, route *protocol.TopicRouteData) {
	from := "CONSUME_FROM_LAST_OFFSET"
	if c.o.FromFirst {
		from = "CONSUME_FROM_FIRST_OFFSET"
	}
	codes := protocol.CodeSet(c.tagCodes)
	tags := c.tags
	if tags == nil {
		tags, codes = []string{}, protocol.CodeSet{}
	}
	hb := protocol.HeartbeatData{
		ClientID:        c.clientID,
		ProducerDataSet: []protocol.HeartbeatProducer{},
		ConsumerDataSet: []protocol.HeartbeatConsumer{{
			GroupName: c.o.Group, ConsumeType: "CONSUME_PASSIVELY", MessageModel: protocol.MessageModelClustering,
			ConsumeFromWhere: from,
			SubscriptionDataSet: []protocol.SubscriptionData{{
				Topic: c.o.Topic, SubString: c.o.Expression, TagsSet: tags, CodeSet: codes,
				SubVersion: time.Now().UnixMilli(), ExpressionType: "TAG",
			}},
		}},
	}
	body, err := json.Marshal(hb)
	if err != nil {
		c.log.Error("encode heartbeat", "err", err)
		return
	}
	for _, bd := range route.BrokerDatas {
		for _, addr := range bd.BrokerAddrs {
			resp, err := c.invoke(ctx, addr, protocol.NewRequest(protocol.ReqHeartBeat, nil, body))
			switch {
			case err != nil:
				c.log.Warn("heartbeat failed", "broker", addr, "err", err)
			case resp.Code != protocol.RespSuccess:
				c.log.Warn("heartbeat refused", "broker", addr, "code", resp.Code, "remark", resp.Remark)
			}
		}
	}
}

// sleepCtx waits d or until ctx ends (reporting false).
func sleepCtx(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-t.C:
		return true
	}
}

// pullLoop is one queue's goroutine: find the start offset, then pull and deliver until ctx ends.
func (c *Consumer) pullLoop(ctx context.Context, st *queueState) {
	defer c.wg.Done()
	defer close(st.done)
	backoff := func(n int) time.Duration { return min(time.Duration(n)*200*time.Millisecond, maxBackoff) }
	log := c.log.With("queue", QueueString(st.mq))
	failures := 0
	for st.offset.Load() < 0 {
		off, err := c.initialOffset(ctx, st.mq)
		if err == nil {
			st.offset.Store(off)
			break
		}
		failures++
		log.Warn("cannot read the queue's start offset", "err", err)
		if !sleepCtx(ctx, backoff(failures)) {
			return
		}
	}
	failures = 0
	for ctx.Err() == nil {
		off := st.offset.Load()
		res, err := c.pullQueue(ctx, st, off, true)
		if err != nil {
			if ctx.Err() != nil {
				return
			}
			failures++
			log.Warn("pull failed", "offset", off, "err", err)
			if failures%3 == 0 {
				_, _ = c.subscribeRoute(ctx, c.o.Topic, true)
			}
			if !sleepCtx(ctx, backoff(failures)) {
				return
			}
			continue
		}
		failures = 0
		st.suggested.Store(res.SuggestWhichBrokerID)
		switch res.Status {
		case PullFound:
			if len(res.Messages) > 0 && !c.deliver(ctx, res.Messages) {
				return
			}
		case PullOffsetIllegal:
			log.Warn("offset out of range, moving", "offset", off, "next", res.NextBeginOffset, "min", res.MinOffset, "max", res.MaxOffset)
		}
		st.offset.Store(res.NextBeginOffset)
	}
}

// deliver calls the handler until it succeeds; false means ctx ended first.
func (c *Consumer) deliver(ctx context.Context, msgs []*MessageExt) bool {
	for attempt := 1; ; attempt++ {
		err := c.handler(ctx, msgs)
		if err == nil {
			c.delivered.Add(int64(len(msgs)))
			return true
		}
		c.log.Warn("handler failed; redelivering the batch", "messages", len(msgs), "first_offset", msgs[0].QueueOffset, "err", err)
		if !sleepCtx(ctx, min(time.Duration(attempt)*time.Second, maxBackoff)) {
			return false
		}
	}
}

// pullAddr chooses the broker to pull st's queue from: the suggested broker if the route has it,
// else the master, else any slave.
func (c *Consumer) pullAddr(ctx context.Context, mq MessageQueue, suggested int64) (string, bool, error) {
	e, err := c.subscribeRoute(ctx, mq.Topic, false)
	if err != nil {
		return "", false, err
	}
	if suggested != protocol.MasterID {
		if a := brokerAddr(e.route, mq.BrokerName, suggested); a != "" {
			return a, false, nil
		}
	}
	if a := brokerAddr(e.route, mq.BrokerName, protocol.MasterID); a != "" {
		return a, true, nil
	}
	if a := anyBrokerAddr(e.route, mq.BrokerName); a != "" {
		return a, false, nil
	}
	return "", false, fmt.Errorf("client: broker %s of %s is not in the route", mq.BrokerName, mq.Topic)
}

func (c *Consumer) pullQueue(ctx context.Context, st *queueState, offset int64, suspend bool) (*PullResult, error) {
	addr, master, err := c.pullAddr(ctx, st.mq, st.suggested.Load())
	if err != nil {
		return nil, err
	}
	commit := int64(0)
	if master {
		commit = st.offset.Load()
	}
	return c.pullFrom(ctx, addr, st.mq, offset, c.o.BatchSize, suspend, commit)
}

// Pull reads up to maxNums messages of queue mq from offset without long polling (a single
// PULL_MESSAGE to the queue's master, or a slave when there is no master). It does not commit
// offsets and may be used on a consumer that was not started.
func (c *Consumer) Pull(ctx context.Context, mq MessageQueue, offset int64, maxNums int) (*PullResult, error) {
	addr, _, err := c.pullAddr(ctx, mq, protocol.MasterID)
	if err != nil {
		return nil, err
	}
	return c.pullFrom(ctx, addr, mq, offset, maxNums, false, 0)
}

// pullFrom sends one PULL_MESSAGE. commitOffset > 0 piggy-backs the consumer's progress.
func (c *Consumer) pullFrom(ctx context.Context, addr string, mq MessageQueue, offset int64, maxNums int, suspend bool, commitOffset int64) (*PullResult, error) {
	sysFlag := protocol.PullFlagSubscription
	hold := time.Duration(0)
	if suspend {
		sysFlag |= protocol.PullFlagSuspend
		hold = c.o.LongPoll
	}
	if commitOffset > 0 {
		sysFlag |= protocol.PullFlagCommitOffset
	}
	cmd := protocol.NewRequest(protocol.ReqPullMessage, &protocol.PullMessageRequestHeader{
		ConsumerGroup: c.o.Group, Topic: mq.Topic, QueueID: mq.QueueID, QueueOffset: offset,
		MaxMsgNums: maxNums, SysFlag: sysFlag, CommitOffset: commitOffset,
		SuspendTimeoutMillis: hold.Milliseconds(), Subscription: c.o.Expression, ExpressionType: "TAG",
	}, nil)
	rctx, cancel := withTimeout(ctx, hold+pullRPCSlack)
	defer cancel()
	resp, err := c.rc.Invoke(rctx, addr, cmd)
	if err != nil {
		return nil, fmt.Errorf("client: pull %s from %s: %w", QueueString(mq), addr, err)
	}
	res := &PullResult{}
	switch resp.Code {
	case protocol.RespSuccess:
		res.Status = PullFound
	case protocol.RespPullNotFound:
		res.Status = PullNoNewMsg
	case protocol.RespPullRetryImmediately:
		res.Status = PullNoMatchedMsg
	case protocol.RespPullOffsetMoved:
		res.Status = PullOffsetIllegal
	default:
		return nil, fmt.Errorf("client: pull %s: %w", QueueString(mq), &BrokerError{Addr: addr, Code: resp.Code, Remark: resp.Remark})
	}
	var h protocol.PullMessageResponseHeader
	if err := resp.DecodeHeader(&h); err != nil {
		return nil, fmt.Errorf("client: pull response from %s: %w", addr, err)
	}
	res.NextBeginOffset, res.MinOffset, res.MaxOffset, res.SuggestWhichBrokerID = h.NextBeginOffset, h.MinOffset, h.MaxOffset, h.SuggestWhichBrokerID
	if res.Status == PullFound {
		msgs, err := DecodeMessages(resp.Body)
		if err != nil {
			return nil, fmt.Errorf("client: pull %s from %s: %w", QueueString(mq), addr, err)
		}
		res.Messages = c.filter(msgs)
	}
	return res, nil
}

// filter drops messages whose tag is not subscribed (brokers filter by hash code only).
func (c *Consumer) filter(msgs []*MessageExt) []*MessageExt {
	if c.tags == nil {
		return msgs
	}
	out := msgs[:0]
	for _, m := range msgs {
		if slices.Contains(c.tags, m.Tag()) {
			out = append(out, m)
		}
	}
	return out
}

// initialOffset reads the group's committed offset of mq, or picks the start per FromFirst.
func (c *Consumer) initialOffset(ctx context.Context, mq MessageQueue) (int64, error) {
	e, err := c.subscribeRoute(ctx, mq.Topic, false)
	if err != nil {
		return 0, err
	}
	addr := brokerAddr(e.route, mq.BrokerName, protocol.MasterID)
	if addr == "" {
		addr = anyBrokerAddr(e.route, mq.BrokerName)
	}
	if addr == "" {
		return 0, fmt.Errorf("client: broker %s of %s is not in the route", mq.BrokerName, mq.Topic)
	}
	resp, err := c.invoke(ctx, addr, protocol.NewRequest(protocol.ReqQueryConsumerOffset,
		&protocol.QueryConsumerOffsetRequestHeader{ConsumerGroup: c.o.Group, Topic: mq.Topic, QueueID: mq.QueueID}, nil))
	if err != nil {
		return 0, fmt.Errorf("client: query offset of %s: %w", QueueString(mq), err)
	}
	switch resp.Code {
	case protocol.RespSuccess:
		var h protocol.OffsetResponseHeader
		if err := resp.DecodeHeader(&h); err != nil {
			return 0, fmt.Errorf("client: query offset of %s: %w", QueueString(mq), err)
		}
		return h.Offset, nil
	case protocol.RespQueryNotFound:
	default:
		return 0, fmt.Errorf("client: query offset of %s: %w", QueueString(mq), &BrokerError{Addr: addr, Code: resp.Code, Remark: resp.Remark})
	}
	code := protocol.ReqGetMaxOffset
	if c.o.FromFirst {
		code = protocol.ReqGetMinOffset
	}
	resp, err = c.invoke(ctx, addr, protocol.NewRequest(code, &protocol.QueueRequestHeader{Topic: mq.Topic, QueueID: mq.QueueID}, nil))
	if err != nil {
		return 0, fmt.Errorf("client: start offset of %s: %w", QueueString(mq), err)
	}
	if resp.Code != protocol.RespSuccess {
		return 0, fmt.Errorf("client: start offset of %s: %w", QueueString(mq), &BrokerError{Addr: addr, Code: resp.Code, Remark: resp.Remark})
	}
	var h protocol.OffsetResponseHeader
	if err := resp.DecodeHeader(&h); err != nil {
		return 0, fmt.Errorf("client: start offset of %s: %w", QueueString(mq), err)
	}
	return max(h.Offset, 0), nil
}

func (c *Consumer) commitLoop() {
	defer c.wg.Done()
	t := time.NewTicker(c.o.CommitInterval)
	defer t.Stop()
	for {
		select {
		case <-c.ctx.Done():
			return
		case <-t.C:
			if err := c.commitAll(c.ctx, false); err != nil && c.ctx.Err() == nil {
				c.log.Warn("offset commit failed", "err", err)
			}
		}
	}
}

// commitAll commits every assigned queue whose offset moved (all known offsets with force).
func (c *Consumer) commitAll(ctx context.Context, force bool) error {
	c.mu.Lock()
	states := make([]*queueState, 0, len(c.running))
	for _, st := range c.running {
		states = append(states, st)
	}
	c.mu.Unlock()
	var errs []error
	for _, st := range states {
		if err := c.commit(ctx, st, force); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// CommitOffsets commits the in-memory offsets of every assigned queue now.
func (c *Consumer) CommitOffsets(ctx context.Context) error { return c.commitAll(ctx, true) }

func (c *Consumer) commit(ctx context.Context, st *queueState, force bool) error {
	off := st.offset.Load()
	if off < 0 || (!force && off == st.committed.Load()) {
		return nil
	}
	e, err := c.subscribeRoute(ctx, st.mq.Topic, false)
	if err != nil {
		return err
	}
	addr := brokerAddr(e.route, st.mq.BrokerName, protocol.MasterID)
	if addr == "" {
		return fmt.Errorf("client: commit %s: broker %s has no master", QueueString(st.mq), st.mq.BrokerName)
	}
	resp, err := c.invoke(ctx, addr, protocol.NewRequest(protocol.ReqUpdateConsumerOffset, &protocol.UpdateConsumerOffsetRequestHeader{
		ConsumerGroup: c.o.Group, Topic: st.mq.Topic, QueueID: st.mq.QueueID, CommitOffset: off,
	}, nil))
	if err != nil {
		return fmt.Errorf("client: commit %s: %w", QueueString(st.mq), err)
	}
	if resp.Code != protocol.RespSuccess {
		return fmt.Errorf("client: commit %s: %w", QueueString(st.mq), &BrokerError{Addr: addr, Code: resp.Code, Remark: resp.Remark})
	}
	st.committed.Store(off)
	return nil
}
