package broker

import (
	"context"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"strconv"
	"strings"

	"github.com/gorocket/gorocket/broker/internal/message"
	"github.com/gorocket/gorocket/broker/topic"
	"github.com/gorocket/gorocket/internal/conf"
	"github.com/gorocket/gorocket/remoting/protocol"
)

// handleSend serves SEND_MESSAGE (10), SEND_MESSAGE_V2 (310) and SEND_BATCH_MESSAGE (320).
func (s *Server) handleSend(rc *reqCtx, req *protocol.RemotingCommand) (*protocol.RemotingCommand, error) {
	short := req.Code == protocol.ReqSendMessageV2 || req.Code == protocol.ReqSendBatchMessage
	h, err := protocol.DecodeSendMessageHeader(req.ExtFields, short)
	if err != nil {
		return nil, protocol.Errorf(protocol.RespSystemError, "decode send header: %v", err)
	}
	batch := req.Code == protocol.ReqSendBatchMessage
	if batch {
		return s.sendBatch(rc, req, &h)
	}
	return s.sendOne(rc, req, &h)
}

// checkSend runs the checks shared by single and batch sends and returns the topic config,
// creating the topic when allowed. The returned error is a *protocol.ResponseError.
func (s *Server) checkSend(h *protocol.SendMessageRequestHeader) (topic.Config, error) {
	cfg := s.opts.Config
	if s.closing.Load() {
		return topic.Config{}, protocol.Errorf(protocol.RespServiceNotAvailable, "the broker[%s] is shutting down", cfg.BrokerName)
	}
	if cfg.BrokerRole == conf.RoleSlave {
		return topic.Config{}, protocol.Errorf(protocol.RespServiceNotAvailable, "the broker[%s] is a slave, not allowed to write", cfg.BrokerName)
	}
	if cfg.BrokerPermission&protocol.PermWrite == 0 {
		return topic.Config{}, protocol.Errorf(protocol.RespNoPermission, "the broker[%s] sending message is forbidden", cfg.BrokerIP1)
	}
	if err := topic.ValidateName(h.Topic); err != nil {
		return topic.Config{}, protocol.Errorf(protocol.RespSystemError, "%v", err)
	}
	if topic.IsReservedForSend(h.Topic) {
		return topic.Config{}, protocol.Errorf(protocol.RespNoPermission, "sending message to topic[%s] is forbidden", h.Topic)
	}
	tc, ok := s.topics.Get(h.Topic)
	if !ok {
		var err error
		switch {
		case strings.HasPrefix(h.Topic, topic.RetryPrefix):
			tc, err = s.createRetryTopic(strings.TrimPrefix(h.Topic, topic.RetryPrefix))
		case strings.HasPrefix(h.Topic, topic.DLQPrefix):
			tc, err = s.createDLQTopic(strings.TrimPrefix(h.Topic, topic.DLQPrefix))
		default:
			tc, _, err = s.topics.CreateFromDefault(h.Topic, h.DefaultTopic, h.DefaultTopicQueueNums, 0)
		}
		if err != nil {
			return topic.Config{}, protocol.Errorf(protocol.RespTopicNotExist, "topic[%s] not exist, apply first please! %s", h.Topic, helpURL)
		}
	}
	if !topic.Writable(tc) {
		return topic.Config{}, protocol.Errorf(protocol.RespNoPermission, "the topic[%s] sending message is forbidden", h.Topic)
	}
	qn := topic.QueueNums(tc)
	if h.QueueID >= qn {
		return topic.Config{}, protocol.Errorf(protocol.RespSystemError, "request queueId[%d] is illegal, %s Producer: %s", h.QueueID, h.Topic, h.ProducerGroup)
	}
	if h.QueueID < 0 {
		h.QueueID = rand.IntN(max(tc.WriteQueueNums, 1))
	}
	return tc, nil
}

const helpURL = "See https://rocketmq.apache.org/docs/bestPractice/06FAQ for further details."

func (s *Server) sendOne(rc *reqCtx, req *protocol.RemotingCommand, h *protocol.SendMessageRequestHeader) (*protocol.RemotingCommand, error) {
	tc, err := s.checkSend(h)
	if err != nil {
		return nil, err
	}
	if len(req.Body) > s.opts.Config.MaxMessageSize {
		return nil, protocol.Errorf(protocol.RespMessageIllegal, "the message body size over max value, MAX: %d, got %d", s.opts.Config.MaxMessageSize, len(req.Body))
	}
	if len(h.Properties) > message.MaxPropertiesLength {
		return nil, protocol.Errorf(protocol.RespMessageIllegal, "the message properties length %d over max value %d", len(h.Properties), message.MaxPropertiesLength)
	}
	m := &StoreMessage{
		Topic: h.Topic, QueueID: h.QueueID, Flag: int32(h.Flag), Body: req.Body,
		SysFlag: int32(h.SysFlag), BornTimestamp: h.BornTimestamp, BornHost: rc.remote,
		StoreHost: s.storeHost, ReconsumeTimes: int32(h.ReconsumeTimes),
	}
	if tc.TopicFilterType == topic.FilterMultiTag {
		m.SysFlag |= message.SysFlagMultiTags
	}
	// The common message (not retried, delayed or half) keeps its property string with
	// WAIT removed and CLUSTER added, without a map round trip.
	if !strings.HasPrefix(h.Topic, topic.RetryPrefix) {
		if sp, ok := message.ScanSendProperties(h.Properties, s.opts.Config.BrokerClusterName); ok {
			m.WaitStoreOK, m.Tags, m.UniqKey, m.Properties = sp.WaitStoreOK, sp.Tags, sp.UniqKey, sp.Properties
			if sp.Keys != "" {
				m.Keys = strings.Fields(sp.Keys)
			}
			return s.storeAndRespond(rc, h, m)
		}
	}
	props := message.ParseProperties(h.Properties)
	// Retry topics: route to the DLQ once the message was reconsumed too often.
	if strings.HasPrefix(h.Topic, topic.RetryPrefix) {
		grp := strings.TrimPrefix(h.Topic, topic.RetryPrefix)
		gc, err := s.groups.FindOrCreate(grp, s.opts.Config.AutoCreateSubscriptionGroup)
		if err != nil {
			return nil, protocol.Errorf(protocol.RespSubscriptionGroupNotExist, "subscription group not exist, %s %s", grp, helpURL)
		}
		maxTimes := gc.RetryMaxTimes
		if h.HasMaxReconsumeTimes && req.Version >= protocol.VersionV3_4_9 {
			maxTimes = h.MaxReconsumeTimes
		}
		if h.ReconsumeTimes >= maxTimes {
			dlq, err := s.createDLQTopic(grp)
			if err != nil {
				return nil, protocol.Errorf(protocol.RespSystemError, "topic[%s%s] not exist", topic.DLQPrefix, grp)
			}
			m.Topic = dlq.TopicName
			m.QueueID = rand.IntN(max(dlq.WriteQueueNums, 1))
			delete(props, message.PropDelayLevel)
		}
	}
	if props[message.PropTransPrepared] == "true" {
		if s.opts.Config.RejectTransactionMessage {
			return nil, protocol.Errorf(protocol.RespNoPermission, "the broker[%s] sending transaction message is forbidden", s.opts.Config.BrokerIP1)
		}
	}
	s.finishProperties(m, props)
	return s.storeAndRespond(rc, h, m)
}

// storeAndRespond stores m (waiting for the slave on a SYNC_MASTER) and builds the answer.
func (s *Server) storeAndRespond(rc *reqCtx, h *protocol.SendMessageRequestHeader, m *StoreMessage) (*protocol.RemotingCommand, error) {
	if m.WaitStoreOK && s.syncReplication() {
		res, code, remark := s.storeMessage(m)
		if code != protocol.RespSuccess {
			return s.sendResponse(h, m, res, code, remark)
		}
		return s.replyWhenReplicated(rc, res, func(code int32, remark string) (*protocol.RemotingCommand, error) {
			s.stats.put(m.Topic, max(res.Count, 1), len(m.Body))
			return s.sendResponse(h, m, res, code, remark)
		})
	}
	if fs, ok := s.store.(flushCallbackStore); ok && m.WaitStoreOK && fs.syncFlush() {
		return s.replyWhenFlushed(rc, h, m, fs)
	}
	res, code, remark := s.putMessage(rc.ctx, m)
	return s.sendResponse(h, m, res, code, remark)
}

// finishProperties applies the broker's property rules (CLUSTER added, WAIT stripped), routes
// delayed and half messages, and fills the index/tag fields of m.
func (s *Server) finishProperties(m *StoreMessage, props map[string]string) {
	m.WaitStoreOK = props[message.PropWaitStoreOK] != "false"
	delete(props, message.PropWaitStoreOK)
	if _, ok := props[message.PropCluster]; !ok {
		props[message.PropCluster] = s.opts.Config.BrokerClusterName
	}
	tx := m.SysFlag & message.SysFlagTransMask
	if props[message.PropTransPrepared] == "true" && tx == message.SysFlagTransPrepared {
		// Half message: invisible until END_TRANSACTION commits it.
		props[message.PropRealTopic] = m.Topic
		props[message.PropRealQueueID] = strconv.Itoa(m.QueueID)
		m.SysFlag &^= message.SysFlagTransMask
		m.Topic, m.QueueID = topic.TransHalfTopic, 0
		s.ensureSystemTopic(topic.TransHalfTopic, 1)
	} else if lvl := delayLevel(props[message.PropDelayLevel]); lvl > 0 && (tx == 0 || tx == message.SysFlagTransCommit) {
		lvl = min(lvl, len(s.delays))
		props[message.PropRealTopic] = m.Topic
		props[message.PropRealQueueID] = strconv.Itoa(m.QueueID)
		props[message.PropDelayLevel] = strconv.Itoa(lvl)
		m.Topic, m.QueueID = topic.ScheduleTopic, lvl-1
		// The schedule queue's tag code is the delivery time; the store time is assigned at
		// append, so the schedule service recomputes it from the record (storeTimestamp+delay).
		deliver := nowMillis() + s.delays[lvl-1].Milliseconds()
		m.TagsCode = &deliver
	}
	m.Tags = props[message.PropTags]
	m.UniqKey = props[message.PropUniqKey]
	if k := props[message.PropKeys]; k != "" {
		m.Keys = strings.Fields(k)
	}
	m.Properties = message.FormatProperties(props)
}

// storeMessage appends m to the local store and maps the outcome to a response code.
func (s *Server) storeMessage(m *StoreMessage) (PutResult, int32, string) {
	res, err := s.store.Put(m)
	if err != nil {
		s.log.Warn("store put failed", "topic", m.Topic, "queueId", m.QueueID, "err", err)
		return res, protocol.RespSystemError, fmt.Sprintf("store put failed: %v", err)
	}
	code, remark := s.putStatusCode(res.Status)
	if code != protocol.RespSuccess && storedCode(code) {
		s.stats.put(m.Topic, max(res.Count, 1), len(m.Body)) // stored, but the flush timed out
	}
	return res, code, remark
}

// putMessage stores m, waits for the slave when this is a SYNC_MASTER (waitReplica), and maps
// the result to a response code.
func (s *Server) putMessage(ctx context.Context, m *StoreMessage) (PutResult, int32, string) {
	res, err := s.store.Put(m)
	if err != nil {
		s.log.Warn("store put failed", "topic", m.Topic, "queueId", m.QueueID, "err", err)
		return res, protocol.RespSystemError, fmt.Sprintf("store put failed: %v", err)
	}
	code, remark := s.putStatusCode(res.Status)
	if code == protocol.RespSuccess && m.WaitStoreOK {
		code, remark = s.waitReplica(ctx, res)
	}
	if storedCode(code) {
		s.stats.put(m.Topic, max(res.Count, 1), len(m.Body))
	}
	return res, code, remark
}

// storedCode reports the put outcomes that leave the message stored: SUCCESS, and the flush and
// replication timeouts (FLUSH_DISK_TIMEOUT, FLUSH_SLAVE_TIMEOUT, SLAVE_NOT_AVAILABLE).
func storedCode(code int32) bool {
	switch code {
	case protocol.RespSuccess, protocol.RespFlushDiskTimeout, protocol.RespFlushSlaveTimeout, protocol.RespSlaveNotAvailable:
		return true
	}
	return false
}

func (s *Server) putStatusCode(st PutStatus) (int32, string) {
	switch st {
	case PutOK:
		return protocol.RespSuccess, ""
	case PutFlushDiskTimeout:
		return protocol.RespFlushDiskTimeout, "flush disk timeout"
	case PutFlushSlaveTimeout:
		return protocol.RespFlushSlaveTimeout, "flush slave timeout"
	case PutSlaveNotAvailable:
		return protocol.RespSlaveNotAvailable, "slave not available"
	case PutServiceNotAvailable:
		return protocol.RespServiceNotAvailable, "service not available now, maybe disk full or the store is shutting down"
	case PutMessageIllegal, PutPropertiesSizeExceeded:
		return protocol.RespMessageIllegal, "the message is illegal, maybe msg body or properties length not matched"
	case PutOSPageCacheBusy:
		return protocol.RespSystemBusy, "[PC_SYNCHRONIZED]broker busy, start flow control for a while"
	}
	return protocol.RespSystemError, "unknown put result"
}

func (s *Server) sendResponse(h *protocol.SendMessageRequestHeader, m *StoreMessage, res PutResult, code int32, remark string) (*protocol.RemotingCommand, error) {
	if !storedCode(code) {
		return nil, &protocol.ResponseError{Code: code, Remark: remark}
	}
	rh := protocol.SendMessageResponseHeader{
		MsgID:       strings.Join(res.MsgIDs, ","),
		QueueID:     m.QueueID,
		QueueOffset: res.QueueOffset,
		MsgRegion:   "DefaultRegion",
		TraceOn:     "true",
	}
	if m.Topic == topic.TransHalfTopic || m.Topic == topic.ScheduleTopic {
		rh.QueueID = h.QueueID // the client knows the queue it chose
	}
	resp := protocol.NewResponse(code, remark)
	resp.ExtList = rh.ExtList()
	return resp, nil
}

func (s *Server) sendBatch(rc *reqCtx, req *protocol.RemotingCommand, h *protocol.SendMessageRequestHeader) (*protocol.RemotingCommand, error) {
	if len(h.Topic) > topic.MaxNameLength {
		return nil, protocol.Errorf(protocol.RespMessageIllegal, "message topic length too long %d", len(h.Topic))
	}
	tc, err := s.checkSend(h)
	if err != nil {
		return nil, err
	}
	wrapper := message.ParseProperties(h.Properties)
	if h.SysFlag&message.SysFlagTransMask != 0 || wrapper[message.PropTransPrepared] == "true" {
		return nil, protocol.Errorf(protocol.RespMessageIllegal, "batch message does not support transaction")
	}
	if delayLevel(wrapper[message.PropDelayLevel]) > 0 {
		return nil, protocol.Errorf(protocol.RespMessageIllegal, "batch message does not support delay message")
	}
	if strings.HasPrefix(h.Topic, topic.RetryPrefix) {
		return nil, protocol.Errorf(protocol.RespMessageIllegal, "batch message does not support retry group")
	}
	items, err := message.DecodeBatch(req.Body)
	if err != nil {
		return nil, protocol.Errorf(protocol.RespMessageIllegal, "%v", err)
	}
	msgs := make([]*StoreMessage, 0, len(items))
	for i, it := range items {
		if len(it.Body) > s.opts.Config.MaxMessageSize {
			return nil, protocol.Errorf(protocol.RespMessageIllegal, "the message body size over max value, MAX: %d, message %d has %d", s.opts.Config.MaxMessageSize, i, len(it.Body))
		}
		props := message.ParseProperties(it.Properties)
		for k, v := range wrapper {
			if _, ok := props[k]; !ok {
				props[k] = v
			}
		}
		m := &StoreMessage{
			Topic: h.Topic, QueueID: h.QueueID, Flag: it.Flag, Body: it.Body,
			SysFlag: int32(h.SysFlag), BornTimestamp: h.BornTimestamp, BornHost: rc.remote,
			StoreHost: s.storeHost, ReconsumeTimes: int32(h.ReconsumeTimes),
		}
		if tc.TopicFilterType == topic.FilterMultiTag {
			m.SysFlag |= message.SysFlagMultiTags
		}
		delete(props, message.PropDelayLevel)
		s.finishProperties(m, props)
		if len(m.Properties) > message.MaxPropertiesLength {
			return nil, protocol.Errorf(protocol.RespMessageIllegal, "the message properties length %d over max value %d", len(m.Properties), message.MaxPropertiesLength)
		}
		msgs = append(msgs, m)
	}
	res, err := s.store.PutBatch(msgs)
	if err != nil {
		s.log.Warn("store batch put failed", "topic", h.Topic, "queueId", h.QueueID, "err", err)
		return nil, protocol.Errorf(protocol.RespSystemError, "store put failed: %v", err)
	}
	code, remark := s.putStatusCode(res.Status)
	total := 0
	for _, m := range msgs {
		total += len(m.Body)
	}
	if code == protocol.RespSuccess && msgs[0].WaitStoreOK && s.syncReplication() {
		return s.replyWhenReplicated(rc, res, func(code int32, remark string) (*protocol.RemotingCommand, error) {
			s.stats.put(h.Topic, len(msgs), total)
			return s.sendResponse(h, msgs[0], res, code, remark)
		})
	}
	if storedCode(code) {
		s.stats.put(h.Topic, len(msgs), total)
	}
	return s.sendResponse(h, msgs[0], res, code, remark)
}

// createRetryTopic creates %RETRY%<group> with the group's retryQueueNums queues, perm 6.
func (s *Server) createRetryTopic(grp string) (topic.Config, error) {
	n := 1
	if gc, ok := s.groups.Get(grp); ok && gc.RetryQueueNums > 0 {
		n = gc.RetryQueueNums
	}
	tc, _, err := s.topics.PutIfAbsent(topic.Config{TopicName: topic.RetryPrefix + grp, ReadQueueNums: n, WriteQueueNums: n, Perm: protocol.PermRead | protocol.PermWrite})
	return tc, err
}

// createDLQTopic creates %DLQ%<group> with 1 queue, perm 6.
func (s *Server) createDLQTopic(grp string) (topic.Config, error) {
	tc, _, err := s.topics.PutIfAbsent(topic.Config{TopicName: topic.DLQPrefix + grp, ReadQueueNums: 1, WriteQueueNums: 1, Perm: protocol.PermRead | protocol.PermWrite})
	return tc, err
}

// ensureSystemTopic creates a system topic that is missing.
func (s *Server) ensureSystemTopic(name string, queues int) {
	if _, ok := s.topics.Get(name); ok {
		return
	}
	if _, _, err := s.topics.PutIfAbsent(topic.Config{TopicName: name, ReadQueueNums: queues, WriteQueueNums: queues, Perm: protocol.PermRead | protocol.PermWrite}); err != nil {
		s.log.Error("create system topic failed", "topic", name, "err", err)
	}
}

// handleSendMsgBack serves CONSUMER_SEND_MSG_BACK (36).
func (s *Server) handleSendMsgBack(rc *reqCtx, req *protocol.RemotingCommand) (*protocol.RemotingCommand, error) {
	var h protocol.ConsumerSendMsgBackRequestHeader
	if err := req.DecodeHeader(&h); err != nil {
		return nil, protocol.Errorf(protocol.RespSystemError, "decode header: %v", err)
	}
	if s.opts.Config.BrokerRole == conf.RoleSlave {
		return nil, protocol.Errorf(protocol.RespServiceNotAvailable, "the broker is a slave, not allowed to write")
	}
	gc, err := s.groups.FindOrCreate(h.Group, s.opts.Config.AutoCreateSubscriptionGroup)
	if err != nil {
		return nil, protocol.Errorf(protocol.RespSubscriptionGroupNotExist, "subscription group not exist, %s %s", h.Group, helpURL)
	}
	if gc.RetryQueueNums <= 0 {
		return protocol.NewResponse(protocol.RespSuccess, ""), nil
	}
	raw, err := s.store.ReadRecord(h.Offset)
	if err != nil {
		return nil, protocol.Errorf(protocol.RespSystemError, "look message by offset failed, %d", h.Offset)
	}
	rec, err := message.DecodeRecord(raw)
	if err != nil {
		return nil, protocol.Errorf(protocol.RespSystemError, "decode message at offset %d: %v", h.Offset, err)
	}
	props := message.ParseProperties(rec.Properties)
	if _, ok := props[message.PropRetryTopic]; !ok {
		props[message.PropRetryTopic] = rec.Topic
	}
	maxTimes := gc.RetryMaxTimes
	if h.MaxReconsumeTimes != nil && req.Version >= protocol.VersionV3_4_9 {
		maxTimes = *h.MaxReconsumeTimes
	}
	m := &StoreMessage{
		Flag: rec.Flag, Body: rec.Body, SysFlag: rec.SysFlag, BornTimestamp: rec.BornTimestamp,
		BornHost: rec.BornHost, StoreHost: s.storeHost, ReconsumeTimes: rec.ReconsumeTimes + 1,
	}
	delay := h.DelayLevel
	if int(rec.ReconsumeTimes) >= maxTimes || delay < 0 {
		dlq, err := s.createDLQTopic(h.Group)
		if err != nil {
			return nil, protocol.Errorf(protocol.RespSystemError, "topic[%s%s] not exist", topic.DLQPrefix, h.Group)
		}
		m.Topic, m.QueueID = dlq.TopicName, rand.IntN(max(dlq.WriteQueueNums, 1))
		delete(props, message.PropDelayLevel)
		s.log.Info("message moved to DLQ", "group", h.Group, "topic", rec.Topic, "reconsumeTimes", rec.ReconsumeTimes)
	} else {
		rt, err := s.createRetryTopic(h.Group)
		if err != nil {
			return nil, protocol.Errorf(protocol.RespSystemError, "topic[%s%s] not exist", topic.RetryPrefix, h.Group)
		}
		m.Topic, m.QueueID = rt.TopicName, rand.IntN(max(rt.WriteQueueNums, 1))
		if delay == 0 {
			delay = 3 + int(rec.ReconsumeTimes)
		}
		props[message.PropDelayLevel] = strconv.Itoa(delay)
	}
	if _, ok := props[message.PropOriginMessageID]; !ok {
		origin := h.OriginMsgID
		if origin == "" {
			origin = message.OffsetMsgID(rec.StoreHost, rec.PhysicalOffset)
		}
		props[message.PropOriginMessageID] = origin
	}
	s.finishProperties(m, props)
	_, code, remark := s.putMessage(rc.ctx, m)
	if !storedCode(code) {
		return nil, &protocol.ResponseError{Code: protocol.RespSystemError, Remark: remark}
	}
	s.log.Debug("message sent back", slog.String("group", h.Group), slog.String("topic", m.Topic), slog.Int("reconsumeTimes", int(m.ReconsumeTimes)))
	return protocol.NewResponse(protocol.RespSuccess, ""), nil
}

// delayLevel parses a DELAY property; absent or malformed is 0 (no delay).
func delayLevel(v string) int {
	if v == "" {
		return 0
	}
	lvl, _ := strconv.Atoi(v)
	return lvl
}
