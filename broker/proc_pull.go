package broker

import (
	"time"

	"github.com/gorocket/gorocket/broker/client"
	"github.com/gorocket/gorocket/broker/longpoll"
	"github.com/gorocket/gorocket/broker/topic"
	"github.com/gorocket/gorocket/internal/conf"
	"github.com/gorocket/gorocket/remoting"
	"github.com/gorocket/gorocket/remoting/protocol"
)

// handlePull serves PULL_MESSAGE (11). When nothing is available and the request allows
// suspension, the request is parked in the long-poll holder without a goroutine and answered
// later (remoting.ErrReplyLater) on an arrival, the suspend timeout or broker shutdown; a
// connection close drops it unanswered.
func (s *Server) handlePull(rc *reqCtx, req *protocol.RemotingCommand) (*protocol.RemotingCommand, error) {
	var h protocol.PullMessageRequestHeader
	if err := req.DecodeHeader(&h); err != nil {
		return nil, protocol.Errorf(protocol.RespSystemError, "decode pull header: %v", err)
	}
	sub, gc, err := s.checkPull(&h)
	if err != nil {
		return nil, err
	}
	// Commit-offset piggyback: stored on the first pass, even when the pull is parked.
	if h.SysFlag&protocol.PullFlagCommitOffset != 0 && s.opts.Config.BrokerRole != conf.RoleSlave && h.CommitOffset >= 0 {
		s.offsets.Commit(h.ConsumerGroup, h.Topic, h.QueueID, h.CommitOffset)
	}
	resp := s.pullOnce(&h, sub, gc.WhichBrokerWhenConsumeSlowly)
	if resp.Code != protocol.RespPullNotFound || h.SysFlag&protocol.PullFlagSuspend == 0 {
		return resp, nil
	}
	hold := time.Duration(h.SuspendTimeoutMillis) * time.Millisecond
	if !s.opts.Config.LongPollingEnable {
		hold = time.Duration(s.opts.Config.ShortPollingTimeMills) * time.Millisecond
	}
	if hold <= 0 {
		return resp, nil
	}
	hold = min(hold, s.opts.MaxSuspend)
	conn, r := rc.conn, rc.req
	s.polls.Hold(&longpoll.Request{
		Topic: h.Topic, QueueID: h.QueueID, Offset: h.QueueOffset, Channel: conn,
		Match: sub.MatchCode,
		Ready: func() bool { return s.store.MaxOffset(h.Topic, h.QueueID) > h.QueueOffset },
		Wake: func(bool) {
			select {
			case <-conn.Done():
				return // nobody to answer
			default:
			}
			if err := r.Reply(s.pullOnce(&h, sub, gc.WhichBrokerWhenConsumeSlowly)); err != nil {
				s.log.Debug("pull reply failed", "topic", h.Topic, "queueId", h.QueueID, "err", err)
			}
		},
	}, hold)
	// A close that raced with Hold would leave the request parked until its timeout.
	select {
	case <-conn.Done():
		s.polls.ReleaseChannel(conn)
	default:
	}
	return nil, remoting.ErrReplyLater
}

// checkPull validates a pull and resolves its subscription.
func (s *Server) checkPull(h *protocol.PullMessageRequestHeader) (*client.Subscription, protocol.SubscriptionGroupConfig, error) {
	cfg := s.opts.Config
	var gc protocol.SubscriptionGroupConfig
	if cfg.BrokerPermission&protocol.PermRead == 0 {
		return nil, gc, protocol.Errorf(protocol.RespNoPermission, "the broker[%s] pulling message is forbidden", cfg.BrokerIP1)
	}
	gc, err := s.groups.FindOrCreate(h.ConsumerGroup, cfg.AutoCreateSubscriptionGroup)
	if err != nil {
		return nil, gc, protocol.Errorf(protocol.RespSubscriptionGroupNotExist, "subscription group [%s] does not exist, %s", h.ConsumerGroup, helpURL)
	}
	if !gc.ConsumeEnable {
		return nil, gc, protocol.Errorf(protocol.RespNoPermission, "subscription group no permission, %s", h.ConsumerGroup)
	}
	tc, ok := s.topics.Get(h.Topic)
	if !ok {
		return nil, gc, protocol.Errorf(protocol.RespTopicNotExist, "topic[%s] not exist, apply first please! %s", h.Topic, helpURL)
	}
	if !topic.Readable(tc) {
		return nil, gc, protocol.Errorf(protocol.RespNoPermission, "the topic[%s] pulling message is forbidden", h.Topic)
	}
	if h.QueueID < 0 || h.QueueID >= tc.ReadQueueNums {
		return nil, gc, protocol.Errorf(protocol.RespSystemError, "queueId[%d] is illegal, topic:[%s] topicConfig.readQueueNums:[%d]", h.QueueID, h.Topic, tc.ReadQueueNums)
	}
	if h.SysFlag&protocol.PullFlagSubscription != 0 {
		return client.ParseSubscription(h.Topic, h.Subscription, h.ExpressionType), gc, nil
	}
	sub, model, found := s.clients.Subscription(h.ConsumerGroup, h.Topic)
	if !found {
		return nil, gc, protocol.Errorf(protocol.RespSubscriptionNotExist, "the consumer's group info not exist %s", helpURL)
	}
	if model == protocol.MessageModelBroadcasting && !gc.ConsumeBroadcastEnable {
		return nil, gc, protocol.Errorf(protocol.RespNoPermission, "the consumer group[%s] can not consume by broadcast way", h.ConsumerGroup)
	}
	if sub == nil {
		return nil, gc, protocol.Errorf(protocol.RespSubscriptionNotExist, "the consumer's subscription not exist %s", helpURL)
	}
	if sub.SubVersion < h.SubVersion {
		return nil, gc, protocol.Errorf(protocol.RespSubscriptionNotLatest, "the consumer's subscription not latest")
	}
	return sub, gc, nil
}

// pullOnce reads the queue and maps the store status to the response (reference §4.4 table).
func (s *Server) pullOnce(h *protocol.PullMessageRequestHeader, sub *client.Subscription, slowBrokerID int64) *protocol.RemotingCommand {
	maxMsgs := h.MaxMsgNums
	if maxMsgs <= 0 {
		maxMsgs = 1
	}
	maxBytes := s.opts.Config.MaxTransferBytesOnMessageInMemory
	if h.MaxMsgBytes > 0 && h.MaxMsgBytes < maxBytes {
		maxBytes = h.MaxMsgBytes
	}
	var match func(int64) bool
	if !sub.MatchesAll() {
		match = sub.MatchCode
	}
	res, err := s.store.Get(h.Topic, h.QueueID, h.QueueOffset, maxMsgs, maxBytes, match)
	if err != nil {
		s.log.Warn("store get failed", "topic", h.Topic, "queueId", h.QueueID, "offset", h.QueueOffset, "err", err)
		return s.pullResponse(protocol.RespSystemError, "store get failed: "+err.Error(), GetResult{NextBeginOffset: h.QueueOffset}, h, 0)
	}
	var code int32
	switch res.Status {
	case GetFound:
		code = protocol.RespSuccess
	case GetNoMatchedMessage, GetMessageWasRemoving:
		code = protocol.RespPullRetryImmediately
	case GetNoMatchedLogicQueue, GetNoMessageInQueue:
		code = protocol.RespPullNotFound
		if h.QueueOffset != 0 {
			code = protocol.RespPullOffsetMoved
		}
	case GetOffsetFoundNull, GetOffsetOverflowOne:
		code = protocol.RespPullNotFound
	case GetOffsetOverflowBadly, GetOffsetTooSmall:
		code = protocol.RespPullOffsetMoved
	default:
		code = protocol.RespSystemError
	}
	suggest := int64(protocol.MasterID)
	if s.opts.Config.SlaveReadEnable && s.consumingSlowly(res) {
		suggest = slowBrokerID
	}
	if code == protocol.RespPullOffsetMoved {
		s.log.Info("pull offset moved", "group", h.ConsumerGroup, "topic", h.Topic, "queueId", h.QueueID,
			"requestOffset", h.QueueOffset, "suggestOffset", res.NextBeginOffset, "status", res.Status.String())
	}
	resp := s.pullResponse(code, res.Status.String(), res, h, suggest)
	if code == protocol.RespSuccess {
		n := 0
		for _, r := range res.Records {
			n += len(r)
		}
		body := make([]byte, 0, n)
		for _, r := range res.Records {
			body = append(body, r...)
		}
		resp.Body = body
		s.stats.get(h.Topic, len(res.Records), n)
	}
	return resp
}

// consumingSlowly is Java's "suggest pulling from the slave" test: the last message read is far
// behind the commit-log end. The distance is Options.SlaveReadLagBytes when set, else the store's
// own rule (accessMessageInMemoryMaxRatio percent of physical memory: no longer in the page cache).
func (s *Server) consumingSlowly(res GetResult) bool {
	if s.opts.SlaveReadLagBytes <= 0 {
		return res.SuggestSlave
	}
	return res.LastPhysOffset >= 0 && s.store.MaxPhysOffset()-res.LastPhysOffset > s.opts.SlaveReadLagBytes
}

func (s *Server) pullResponse(code int32, remark string, res GetResult, h *protocol.PullMessageRequestHeader, suggest int64) *protocol.RemotingCommand {
	rh := protocol.PullMessageResponseHeader{
		SuggestWhichBrokerID: suggest,
		NextBeginOffset:      res.NextBeginOffset,
		MinOffset:            res.MinOffset,
		MaxOffset:            res.MaxOffset,
	}
	resp := protocol.NewResponseWithHeader(code, &rh, nil)
	resp.Remark = remark
	return resp
}
