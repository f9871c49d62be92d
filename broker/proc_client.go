package broker

import (
	"context"
	"time"

	"github.com/gorocket/gorocket/broker/client"
	"github.com/gorocket/gorocket/remoting"
	"github.com/gorocket/gorocket/remoting/protocol"
)

// handleHeartbeat serves HEART_BEAT (34): registers producers and consumers (creating the
// subscription group and the group's retry topic) before answering, and notifies the group
// when its membership or topic set changed.
func (s *Server) handleHeartbeat(rc *reqCtx, req *protocol.RemotingCommand) (*protocol.RemotingCommand, error) {
	var hb protocol.HeartbeatData
	if err := protocol.DecodeJSON(req.Body, &hb); err != nil {
		return nil, protocol.Errorf(protocol.RespSystemError, "decode heartbeat: %v", err)
	}
	now := time.Now()
	info := client.Info{ClientID: hb.ClientID, Channel: rc.conn, Language: req.Language.String(), Version: int(req.Version), LastUpdate: now}
	rc.conn.SetValue(clientIDKey{}, hb.ClientID)
	for _, c := range hb.ConsumerDataSet {
		gc, err := s.groups.FindOrCreate(c.GroupName, s.opts.Config.AutoCreateSubscriptionGroup)
		notify := s.opts.Config.NotifyConsumerIDsChangedEnable
		if err == nil {
			notify = notify && gc.NotifyConsumerIdsChangedEnable
			if gc.RetryQueueNums > 0 {
				if _, err := s.createRetryTopic(c.GroupName); err != nil {
					s.log.Warn("create retry topic failed", "group", c.GroupName, "err", err)
				}
			}
		} else {
			s.log.Warn("heartbeat from unknown subscription group", "group", c.GroupName, "clientId", hb.ClientID)
		}
		member, topics := s.clients.RegisterConsumer(c, info)
		if member {
			s.log.Info("consumer registered", "group", c.GroupName, "clientId", hb.ClientID, "addr", rc.conn.RemoteAddr().String())
		}
		if (member || topics) && notify {
			s.notifyConsumerIDsChanged(c.GroupName)
		}
	}
	for _, p := range hb.ProducerDataSet {
		s.clients.RegisterProducer(p.GroupName, info)
	}
	return protocol.NewResponse(protocol.RespSuccess, ""), nil
}

// notifyConsumerIDsChanged sends NOTIFY_CONSUMER_IDS_CHANGED to every connection of a group,
// asynchronously (the Go client does not answer it).
func (s *Server) notifyConsumerIDsChanged(group string) {
	chans := s.clients.ConsumerChannels(group)
	for _, ch := range chans {
		c, ok := ch.(*remoting.Conn)
		if !ok {
			continue
		}
		s.notifyWG.Add(1)
		go func() {
			defer s.notifyWG.Done()
			ctx, cancel := context.WithTimeout(context.Background(), s.opts.NotifyTimeout)
			defer cancel()
			cmd := protocol.NewRequest(protocol.ReqNotifyConsumerIdsChanged, &protocol.ConsumerGroupRequestHeader{ConsumerGroup: group}, nil)
			if err := c.InvokeOneway(ctx, cmd); err != nil {
				s.log.Debug("notify consumer ids changed failed", "group", group, "addr", c.RemoteAddr().String(), "err", err)
			}
		}()
	}
}

// handleUnregisterClient serves UNREGISTER_CLIENT (35) (Java clients on shutdown).
func (s *Server) handleUnregisterClient(rc *reqCtx, req *protocol.RemotingCommand) (*protocol.RemotingCommand, error) {
	var h protocol.UnregisterClientRequestHeader
	if err := req.DecodeHeader(&h); err != nil {
		return nil, protocol.Errorf(protocol.RespSystemError, "decode header: %v", err)
	}
	if h.ProducerGroup != "" {
		s.clients.UnregisterProducer(h.ProducerGroup, h.ClientID)
	}
	if h.ConsumerGroup != "" {
		if s.clients.UnregisterConsumer(h.ConsumerGroup, h.ClientID) {
			s.log.Info("consumer unregistered", "group", h.ConsumerGroup, "clientId", h.ClientID)
			if s.notifyEnabled(h.ConsumerGroup) {
				s.notifyConsumerIDsChanged(h.ConsumerGroup)
			}
		}
	}
	return protocol.NewResponse(protocol.RespSuccess, ""), nil
}

func (s *Server) notifyEnabled(group string) bool {
	if !s.opts.Config.NotifyConsumerIDsChangedEnable {
		return false
	}
	if gc, ok := s.groups.Get(group); ok {
		return gc.NotifyConsumerIdsChangedEnable
	}
	return true
}

// handleGetConsumerList serves GET_CONSUMER_LIST_BY_GROUP (38).
func (s *Server) handleGetConsumerList(rc *reqCtx, req *protocol.RemotingCommand) (*protocol.RemotingCommand, error) {
	var h protocol.ConsumerGroupRequestHeader
	if err := req.DecodeHeader(&h); err != nil {
		return nil, protocol.Errorf(protocol.RespSystemError, "decode header: %v", err)
	}
	ids := s.clients.ConsumerIDs(h.ConsumerGroup)
	if len(ids) == 0 {
		return nil, protocol.Errorf(protocol.RespSystemError, "no consumer for this group, %s", h.ConsumerGroup)
	}
	body, err := protocol.EncodeJSON(protocol.ConsumerListBody{ConsumerIDList: ids})
	if err != nil {
		return nil, err
	}
	resp := protocol.NewResponse(protocol.RespSuccess, "")
	resp.Body = body
	return resp, nil
}

// handleLockBatch serves LOCK_BATCH_MQ (41).
func (s *Server) handleLockBatch(rc *reqCtx, req *protocol.RemotingCommand) (*protocol.RemotingCommand, error) {
	var b protocol.LockBatchRequestBody
	if err := protocol.DecodeJSON(req.Body, &b); err != nil {
		return nil, protocol.Errorf(protocol.RespSystemError, "decode lock body: %v", err)
	}
	locked := s.locks.TryLock(b.ConsumerGroup, b.ClientID, b.MQSet, time.Now())
	body, err := protocol.EncodeJSON(protocol.LockBatchResponseBody{LockOKMQSet: locked})
	if err != nil {
		return nil, err
	}
	resp := protocol.NewResponse(protocol.RespSuccess, "")
	resp.Body = body
	return resp, nil
}

// handleUnlockBatch serves UNLOCK_BATCH_MQ (42).
func (s *Server) handleUnlockBatch(rc *reqCtx, req *protocol.RemotingCommand) (*protocol.RemotingCommand, error) {
	var b protocol.LockBatchRequestBody
	if err := protocol.DecodeJSON(req.Body, &b); err != nil {
		return nil, protocol.Errorf(protocol.RespSystemError, "decode unlock body: %v", err)
	}
	s.locks.Unlock(b.ConsumerGroup, b.ClientID, b.MQSet)
	return protocol.NewResponse(protocol.RespSuccess, ""), nil
}
