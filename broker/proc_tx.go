package broker

import (
	"strconv"
	"strings"

	"github.com/gorocket/gorocket/broker/internal/message"
	"github.com/gorocket/gorocket/broker/topic"
	"github.com/gorocket/gorocket/remoting/protocol"
)

// EndTransactionRequestHeader is the END_TRANSACTION (37) header.
type endTransactionHeader struct {
	ProducerGroup        string `rmq:"producerGroup,required"`
	TranStateTableOffset int64  `rmq:"tranStateTableOffset,required"`
	CommitLogOffset      int64  `rmq:"commitLogOffset,required"`
	CommitOrRollback     int    `rmq:"commitOrRollback,required"`
	FromTransactionCheck bool   `rmq:"fromTransactionCheck"`
	MsgID                string `rmq:"msgId,required"`
	TransactionID        string `rmq:"transactionId"`
}

// Transaction states of END_TRANSACTION.
const (
	txNotType  = 0
	txCommit   = message.SysFlagTransCommit
	txRollback = message.SysFlagTransRollback
)

// handleEndTransaction serves END_TRANSACTION (37): commit re-stores the half message in its
// real topic (transaction type COMMIT, prepared offset = half offset); rollback drops it.
// Check-back (CHECK_TRANSACTION_STATE) of undecided half messages is not implemented.
func (s *Server) handleEndTransaction(rc *reqCtx, req *protocol.RemotingCommand) (*protocol.RemotingCommand, error) {
	if s.brokerIsSlave() {
		return nil, protocol.Errorf(protocol.RespSlaveNotAvailable, "the broker is a slave, END_TRANSACTION refused")
	}
	var h endTransactionHeader
	if err := req.DecodeHeader(&h); err != nil {
		return nil, protocol.Errorf(protocol.RespSystemError, "decode header: %v", err)
	}
	switch h.CommitOrRollback {
	case txNotType, txRollback:
		return protocol.NewResponse(protocol.RespSuccess, ""), nil
	case txCommit:
	default:
		return nil, protocol.Errorf(protocol.RespSystemError, "unknown commitOrRollback %d", h.CommitOrRollback)
	}
	raw, err := s.store.ReadRecord(h.CommitLogOffset)
	if err != nil {
		return nil, protocol.Errorf(protocol.RespSystemError, "find prepared transaction message failed")
	}
	rec, err := message.DecodeRecord(raw)
	if err != nil {
		return nil, protocol.Errorf(protocol.RespSystemError, "decode prepared message: %v", err)
	}
	props := message.ParseProperties(rec.Properties)
	switch {
	case rec.Topic != topic.TransHalfTopic:
		return nil, protocol.Errorf(protocol.RespSystemError, "the message at offset %d is not a half message", h.CommitLogOffset)
	case props[message.PropProducerGroup] != h.ProducerGroup:
		return nil, protocol.Errorf(protocol.RespSystemError, "the producer group wrong")
	case rec.QueueOffset != h.TranStateTableOffset:
		return nil, protocol.Errorf(protocol.RespSystemError, "the transaction state table offset wrong")
	case rec.PhysicalOffset != h.CommitLogOffset:
		return nil, protocol.Errorf(protocol.RespSystemError, "the commit log offset wrong")
	}
	realTopic := props[message.PropRealTopic]
	qid, _ := strconv.Atoi(props[message.PropRealQueueID])
	delete(props, message.PropRealTopic)
	delete(props, message.PropRealQueueID)
	delete(props, message.PropTransPrepared)
	m := &StoreMessage{
		Topic: realTopic, QueueID: qid, Flag: rec.Flag, Body: rec.Body, Properties: message.FormatProperties(props),
		Tags: props[message.PropTags], UniqKey: props[message.PropUniqKey],
		SysFlag:       (rec.SysFlag &^ message.SysFlagTransMask) | message.SysFlagTransCommit,
		BornTimestamp: rec.BornTimestamp, BornHost: rec.BornHost, StoreHost: s.storeHost,
		ReconsumeTimes: rec.ReconsumeTimes, PreparedTxOff: h.CommitLogOffset, WaitStoreOK: true,
	}
	if k := props[message.PropKeys]; k != "" {
		m.Keys = strings.Fields(k)
	}
	// As Java: the committed message is stored even when the flush or the slave timed out.
	_, code, remark := s.putMessage(rc.ctx, m)
	if !storedCode(code) {
		return nil, &protocol.ResponseError{Code: code, Remark: remark}
	}
	return protocol.NewResponse(protocol.RespSuccess, ""), nil
}
