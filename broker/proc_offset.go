package broker

import (
	"github.com/gorocket/gorocket/remoting/protocol"
)

func offsetResponse(off int64) *protocol.RemotingCommand {
	return protocol.NewResponseWithHeader(protocol.RespSuccess, &protocol.OffsetResponseHeader{Offset: off}, nil)
}

// handleQueryConsumerOffset serves QUERY_CONSUMER_OFFSET (14), including the "first boot" rule:
// a group with no stored offset on a queue whose first message is still in memory starts at 0.
func (s *Server) handleQueryConsumerOffset(rc *reqCtx, req *protocol.RemotingCommand) (*protocol.RemotingCommand, error) {
	var h protocol.QueryConsumerOffsetRequestHeader
	if err := req.DecodeHeader(&h); err != nil {
		return nil, protocol.Errorf(protocol.RespSystemError, "decode header: %v", err)
	}
	if off, ok := s.offsets.Query(h.ConsumerGroup, h.Topic, h.QueueID); ok {
		return offsetResponse(off), nil
	}
	minOff := s.store.MinOffset(h.Topic, h.QueueID)
	if h.SetZeroIfNotFound || (minOff <= 0 && !s.store.CheckInDisk(h.Topic, h.QueueID, 0)) {
		return offsetResponse(0), nil
	}
	return nil, protocol.Errorf(protocol.RespQueryNotFound, "Not found, V3_0_6_SNAPSHOT maybe this group consumer boot first")
}

// handleUpdateConsumerOffset serves UPDATE_CONSUMER_OFFSET (15).
func (s *Server) handleUpdateConsumerOffset(rc *reqCtx, req *protocol.RemotingCommand) (*protocol.RemotingCommand, error) {
	var h protocol.UpdateConsumerOffsetRequestHeader
	if err := req.DecodeHeader(&h); err != nil {
		return nil, protocol.Errorf(protocol.RespSystemError, "decode header: %v", err)
	}
	s.offsets.Commit(h.ConsumerGroup, h.Topic, h.QueueID, h.CommitOffset)
	// A slave keeps the commit (a Java client commits to the slave while the master is down) and
	// forwards it to the master when the master is reachable again (slaveSync).
	s.slaveSync.notePending(h.ConsumerGroup, h.Topic, h.QueueID, h.CommitOffset)
	return protocol.NewResponse(protocol.RespSuccess, ""), nil
}

// handleGetMaxOffset serves GET_MAX_OFFSET (30): always code 0 with an offset.
func (s *Server) handleGetMaxOffset(rc *reqCtx, req *protocol.RemotingCommand) (*protocol.RemotingCommand, error) {
	var h protocol.QueueRequestHeader
	if err := req.DecodeHeader(&h); err != nil {
		return nil, protocol.Errorf(protocol.RespSystemError, "decode header: %v", err)
	}
	return offsetResponse(s.store.MaxOffset(h.Topic, h.QueueID)), nil
}

// handleGetMinOffset serves GET_MIN_OFFSET (31).
func (s *Server) handleGetMinOffset(rc *reqCtx, req *protocol.RemotingCommand) (*protocol.RemotingCommand, error) {
	var h protocol.QueueRequestHeader
	if err := req.DecodeHeader(&h); err != nil {
		return nil, protocol.Errorf(protocol.RespSystemError, "decode header: %v", err)
	}
	return offsetResponse(s.store.MinOffset(h.Topic, h.QueueID)), nil
}

// handleSearchOffset serves SEARCH_OFFSET_BY_TIMESTAMP (29).
func (s *Server) handleSearchOffset(rc *reqCtx, req *protocol.RemotingCommand) (*protocol.RemotingCommand, error) {
	var h protocol.SearchOffsetRequestHeader
	if err := req.DecodeHeader(&h); err != nil {
		return nil, protocol.Errorf(protocol.RespSystemError, "decode header: %v", err)
	}
	return offsetResponse(s.store.OffsetByTime(h.Topic, h.QueueID, h.Timestamp)), nil
}

// handleEarliestMsgStoreTime serves GET_EARLIEST_MSG_STORETIME (32).
func (s *Server) handleEarliestMsgStoreTime(rc *reqCtx, req *protocol.RemotingCommand) (*protocol.RemotingCommand, error) {
	var h protocol.QueueRequestHeader
	if err := req.DecodeHeader(&h); err != nil {
		return nil, protocol.Errorf(protocol.RespSystemError, "decode header: %v", err)
	}
	ts, err := s.store.EarliestMessageTime(h.Topic, h.QueueID)
	if err != nil {
		ts = -1
	}
	return protocol.NewResponseWithHeader(protocol.RespSuccess, &protocol.EarliestMsgStoretimeResponseHeader{Timestamp: ts}, nil), nil
}
