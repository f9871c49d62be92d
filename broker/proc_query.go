package broker

import (
	"github.com/gorocket/gorocket/remoting/protocol"
)

// handleQueryMessage serves QUERY_MESSAGE (12): index lookup of topic#key.
func (s *Server) handleQueryMessage(rc *reqCtx, req *protocol.RemotingCommand) (*protocol.RemotingCommand, error) {
	var h protocol.QueryMessageRequestHeader
	if err := req.DecodeHeader(&h); err != nil {
		return nil, protocol.Errorf(protocol.RespSystemError, "decode header: %v", err)
	}
	maxNum := h.MaxNum
	if req.ExtField("_UNIQUE_KEY_QUERY") == "true" || maxNum <= 0 || maxNum > s.opts.Config.DefaultQueryMaxNum {
		maxNum = s.opts.Config.DefaultQueryMaxNum
	}
	res, err := s.store.QueryByKey(h.Topic, h.Key, maxNum, h.BeginTimestamp, h.EndTimestamp)
	if err != nil {
		return nil, protocol.Errorf(protocol.RespSystemError, "query message: %v", err)
	}
	if len(res.Records) == 0 {
		return nil, protocol.Errorf(protocol.RespQueryNotFound, "can not find message, maybe time range not correct")
	}
	n := 0
	for _, r := range res.Records {
		n += len(r)
	}
	body := make([]byte, 0, n)
	for _, r := range res.Records {
		body = append(body, r...)
	}
	return protocol.NewResponseWithHeader(protocol.RespSuccess, &protocol.QueryMessageResponseHeader{
		IndexLastUpdateTimestamp: res.IndexLastUpdateTime, IndexLastUpdatePhyoffset: res.IndexLastUpdatePhy,
	}, body), nil
}

// handleViewMessageByID serves VIEW_MESSAGE_BY_ID (33): one record by commit-log offset.
func (s *Server) handleViewMessageByID(rc *reqCtx, req *protocol.RemotingCommand) (*protocol.RemotingCommand, error) {
	var h protocol.ViewMessageRequestHeader
	if err := req.DecodeHeader(&h); err != nil {
		return nil, protocol.Errorf(protocol.RespSystemError, "decode header: %v", err)
	}
	rec, err := s.store.ReadRecord(h.Offset)
	if err != nil {
		return nil, protocol.Errorf(protocol.RespSystemError, "can not find message by the offset, %d", h.Offset)
	}
	resp := protocol.NewResponse(protocol.RespSuccess, "")
	resp.Body = rec
	return resp, nil
}
