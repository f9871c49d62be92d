package client

import (
	"bytes"
	"compress/zlib"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/gorocket/gorocket/remoting/protocol"
)

// Defaults of ProducerOptions.
const (
	DefaultProducerGroup         = "gorocket_producer"
	DefaultRetryTimes            = 2
	DefaultTopicQueueNums        = 4
	DefaultCompressOver          = 4096
	compressLevel                = 5
	maxTopicLength               = 127
	sysFlagCompressedForProducer = SysFlagCompressed
)

// ProducerOptions configure a Producer.
type ProducerOptions struct {
	Options
	// Group is the producer group; "" means DefaultProducerGroup.
	Group string
	// RetryTimes is how many times a failed synchronous send is retried; 0 means
	// DefaultRetryTimes, negative means no retry.
	RetryTimes int
	// DefaultTopicQueueNums is the queue count per broker of auto-created topics; 0 means 4.
	DefaultTopicQueueNums int
	// CompressOver compresses bodies of at least this many bytes; 0 means DefaultCompressOver,
	// negative disables compression.
	CompressOver int
}

// SendStatus is the outcome of a send that the broker stored.
type SendStatus int

// Send statuses (response codes 0, 10, 12, 11).
const (
	SendOK SendStatus = iota
	SendFlushDiskTimeout
	SendFlushSlaveTimeout
	SendSlaveNotAvailable
)

func (s SendStatus) String() string {
	switch s {
	case SendOK:
		return "SEND_OK"
	case SendFlushDiskTimeout:
		return "FLUSH_DISK_TIMEOUT"
	case SendFlushSlaveTimeout:
		return "FLUSH_SLAVE_TIMEOUT"
	case SendSlaveNotAvailable:
		return "SLAVE_NOT_AVAILABLE"
	}
	return fmt.Sprintf("SendStatus(%d)", int(s))
}

// SendResult describes a stored message (or batch).
type SendResult struct {
	Status SendStatus
	// MsgID is the UNIQ_KEY the producer set (for a batch: the members' ids joined by ',').
	MsgID string
	// OffsetMsgID is the broker's id (§6.5); for a batch the members' ids joined by ','.
	OffsetMsgID string
	Queue       MessageQueue
	// QueueOffset is the consume-queue offset of the (first) message.
	QueueOffset int64
	// BrokerAddr is the address the message was sent to.
	BrokerAddr string
}

// Producer sends messages. It is safe for concurrent use.
type Producer struct {
	*base
	group        string
	retries      int
	queueNums    int
	compressOver int
	uniq         *uniqKeyGen

	selectors sync.Map // topic -> *roundRobin

	closeOnce sync.Once
	closed    chan struct{}
}

// NewProducer returns a producer; logger nil discards logs. It makes no network call until the
// first send.
func NewProducer(logger *slog.Logger, o ProducerOptions) (*Producer, error) {
	b, err := newBase(logger, o.Options)
	if err != nil {
		return nil, err
	}
	p := &Producer{base: b, group: o.Group, retries: o.RetryTimes, queueNums: o.DefaultTopicQueueNums,
		compressOver: o.CompressOver, uniq: newUniqKeyGen(), closed: make(chan struct{})}
	if p.group == "" {
		p.group = DefaultProducerGroup
	}
	switch {
	case p.retries == 0:
		p.retries = DefaultRetryTimes
	case p.retries < 0:
		p.retries = 0
	}
	if p.queueNums <= 0 {
		p.queueNums = DefaultTopicQueueNums
	}
	if p.compressOver == 0 {
		p.compressOver = DefaultCompressOver
	}
	return p, nil
}

// Close releases the producer's connections (when it owns its transport).
func (p *Producer) Close() error {
	p.closeOnce.Do(func() {
		close(p.closed)
		p.base.close()
	})
	return nil
}

func (p *Producer) isClosed() bool {
	select {
	case <-p.closed:
		return true
	default:
		return false
	}
}

func (p *Producer) selector(topic string) *roundRobin {
	if s, ok := p.selectors.Load(topic); ok {
		return s.(*roundRobin)
	}
	s, _ := p.selectors.LoadOrStore(topic, &roundRobin{})
	return s.(*roundRobin)
}

func checkTopic(topic string) error {
	switch {
	case topic == "":
		return &InvalidMessageError{Reason: "empty topic"}
	case len(topic) > maxTopicLength:
		return &InvalidMessageError{Reason: fmt.Sprintf("topic %q longer than %d bytes", topic, maxTopicLength)}
	}
	for i := 0; i < len(topic); i++ {
		c := topic[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_' || c == '-' || c == '%' || c == '|') {
			return &InvalidMessageError{Reason: fmt.Sprintf("topic %q has character %q (allowed: letters, digits, %%|_-)", topic, c)}
		}
	}
	return nil
}

// prepared is an encoded single-message request, independent of the target queue.
type prepared struct {
	topic   string
	body    []byte
	sysFlag int
	flag    int32
	props   string
	uniq    string
}

func (p *Producer) prepare(m *Message) (*prepared, error) {
	if m == nil {
		return nil, &InvalidMessageError{Reason: "nil message"}
	}
	if err := checkTopic(m.Topic); err != nil {
		return nil, err
	}
	if len(m.Body) == 0 {
		return nil, &InvalidMessageError{Reason: "empty body"}
	}
	if err := validateProperties(m.Properties); err != nil {
		return nil, err
	}
	uniq := m.Properties[PropertyUniqClientKey]
	var encoded string
	if uniq != "" {
		encoded = EncodeProperties(m.Properties)
	} else {
		uniq = p.uniq.next()
		encoded = encodePropertiesWith(m.Properties, PropertyUniqClientKey, uniq)
	}
	pr := &prepared{topic: m.Topic, body: m.Body, flag: m.Flag, props: encoded, uniq: uniq}
	if len(pr.props) > MaxPropertiesLength {
		return nil, &InvalidMessageError{Reason: "properties longer than 32767 bytes"}
	}
	if p.compressOver > 0 && len(m.Body) >= p.compressOver {
		var buf bytes.Buffer
		zw, _ := zlib.NewWriterLevel(&buf, compressLevel)
		_, _ = zw.Write(m.Body)
		if err := zw.Close(); err == nil {
			pr.body, pr.sysFlag = buf.Bytes(), sysFlagCompressedForProducer
		}
	}
	return pr, nil
}

func (p *Producer) sendCommand(pr *prepared, q MessageQueue) *protocol.RemotingCommand {
	return sendRequest(&protocol.SendMessageRequestHeader{
		ProducerGroup:         p.group,
		Topic:                 pr.topic,
		DefaultTopic:          CreateTopicKey,
		DefaultTopicQueueNums: p.queueNums,
		QueueID:               q.QueueID,
		SysFlag:               pr.sysFlag,
		BornTimestamp:         time.Now().UnixMilli(),
		Flag:                  int(pr.flag),
		Properties:            pr.props,
	}, pr.body)
}

// sendRequest builds the SEND_MESSAGE_V2 request of h, the form the Java and Go clients send
// (short keys a..n, so a smaller header to write and parse). Its ext fields are those of
// protocol.EncodeSendMessageHeaderV2(h), built without reflection and without a map, as an
// ExtList in key order (the send path builds one per message; TestSendRequestMatchesGenericEncoding
// pins them).
func sendRequest(h *protocol.SendMessageRequestHeader, body []byte) *protocol.RemotingCommand {
	ext := make([]protocol.ExtPair, 13, 14)
	ext[0] = protocol.ExtPair{Key: "a", Value: h.ProducerGroup}
	ext[1] = protocol.ExtPair{Key: "b", Value: h.Topic}
	ext[2] = protocol.ExtPair{Key: "c", Value: h.DefaultTopic}
	ext[3] = protocol.ExtPair{Key: "d", Value: strconv.Itoa(h.DefaultTopicQueueNums)}
	ext[4] = protocol.ExtPair{Key: "e", Value: strconv.Itoa(h.QueueID)}
	ext[5] = protocol.ExtPair{Key: "f", Value: strconv.Itoa(h.SysFlag)}
	ext[6] = protocol.ExtPair{Key: "g", Value: strconv.FormatInt(h.BornTimestamp, 10)}
	ext[7] = protocol.ExtPair{Key: "h", Value: strconv.Itoa(h.Flag)}
	ext[8] = protocol.ExtPair{Key: "i", Value: h.Properties}
	ext[9] = protocol.ExtPair{Key: "j", Value: strconv.Itoa(h.ReconsumeTimes)}
	ext[10] = protocol.ExtPair{Key: "k", Value: strconv.FormatBool(h.UnitMode)}
	ext[11] = protocol.ExtPair{Key: "l", Value: strconv.Itoa(h.MaxReconsumeTimes)}
	ext[12] = protocol.ExtPair{Key: "m", Value: strconv.FormatBool(h.Batch)}
	if h.BrokerName != "" {
		ext = append(ext, protocol.ExtPair{Key: "n", Value: h.BrokerName})
	}
	return &protocol.RemotingCommand{
		Code: protocol.ReqSendMessageV2, Language: protocol.DefaultLanguage, Version: protocol.CurrentVersion,
		ExtList: ext, Body: body,
	}
}

// retryable reports whether a send answered with code should be tried again (§4.3.3).
func retryable(code int32) bool {
	switch code {
	case protocol.RespTopicNotExist, protocol.RespServiceNotAvailable, protocol.RespSystemError, protocol.RespNoPermission:
		return true
	}
	return false
}

// sendResult maps a send response to a result, or to an error for non-stored codes.
func sendResult(resp *protocol.RemotingCommand, addr string, q MessageQueue, uniq string) (*SendResult, error) {
	var st SendStatus
	switch resp.Code {
	case protocol.RespSuccess:
		st = SendOK
	case protocol.RespFlushDiskTimeout:
		st = SendFlushDiskTimeout
	case protocol.RespFlushSlaveTimeout:
		st = SendFlushSlaveTimeout
	case protocol.RespSlaveNotAvailable:
		st = SendSlaveNotAvailable
	default:
		return nil, &BrokerError{Addr: addr, Code: resp.Code, Remark: resp.Remark}
	}
	h, err := decodeSendResponse(resp.ExtFields)
	if err != nil {
		return nil, fmt.Errorf("client: send response from %s: %w", addr, err)
	}
	q.QueueID = h.QueueID
	return &SendResult{Status: st, MsgID: uniq, OffsetMsgID: h.MsgID, Queue: q, QueueOffset: h.QueueOffset, BrokerAddr: addr}, nil
}

// decodeSendResponse decodes the fields of a send response header the producer uses
// (msgId, queueId, queueOffset) like protocol.DecodeHeader into a
// protocol.SendMessageResponseHeader, without reflection (TestDecodeSendResponseMatchesGeneric).
func decodeSendResponse(ext map[string]string) (protocol.SendMessageResponseHeader, error) {
	h := protocol.SendMessageResponseHeader{MsgID: ext["msgId"]}
	if s := ext["queueId"]; s != "" {
		n, err := strconv.ParseInt(strings.TrimSpace(s), 10, strconv.IntSize)
		if err != nil {
			return h, fmt.Errorf("%w: decode SendMessageResponseHeader: field %q: %q is not an int", protocol.ErrBadField, "queueId", s)
		}
		h.QueueID = int(n)
	}
	if s := ext["queueOffset"]; s != "" {
		n, err := strconv.ParseInt(strings.TrimSpace(s), 10, 64)
		if err != nil {
			return h, fmt.Errorf("%w: decode SendMessageResponseHeader: field %q: %q is not an int64", protocol.ErrBadField, "queueOffset", s)
		}
		h.QueueOffset = n
	}
	return h, nil
}

// pick chooses a queue of topic and its master address.
func (p *Producer) pick(ctx context.Context, topic string, refresh bool, avoid string) (MessageQueue, string, error) {
	e, err := p.publishRoute(ctx, topic, p.queueNums, refresh)
	if err != nil {
		return MessageQueue{}, "", err
	}
	q, ok := p.selector(topic).pick(e.publish, avoid)
	if !ok {
		return MessageQueue{}, "", fmt.Errorf("%w: %s", ErrNoWritableQueue, topic)
	}
	addr := brokerAddr(e.route, q.BrokerName, protocol.MasterID)
	if addr == "" {
		return MessageQueue{}, "", fmt.Errorf("%w: %s has no master for %s", ErrNoWritableQueue, q.BrokerName, topic)
	}
	return q, addr, nil
}

// Send sends m synchronously, retrying on another broker on retryable failures (see the
// package documentation).
func (p *Producer) Send(ctx context.Context, m *Message) (*SendResult, error) {
	if p.isClosed() {
		return nil, ErrClosed
	}
	pr, err := p.prepare(m)
	if err != nil {
		return nil, err
	}
	return p.sendWithRetry(ctx, pr.topic, func(q MessageQueue) *protocol.RemotingCommand { return p.sendCommand(pr, q) }, pr.uniq)
}

func (p *Producer) sendWithRetry(ctx context.Context, topic string, mk func(MessageQueue) *protocol.RemotingCommand, uniq string) (*SendResult, error) {
	var lastErr error
	avoid := ""
	for attempt := 0; attempt <= p.retries; attempt++ {
		if attempt > 0 && ctx.Err() != nil {
			break
		}
		q, addr, err := p.pick(ctx, topic, attempt > 0, avoid)
		if err != nil {
			lastErr = err
			if errors.Is(err, ErrTopicNotExist) || errors.Is(err, ErrNoWritableQueue) {
				break
			}
			continue
		}
		resp, err := p.invoke(ctx, addr, mk(q))
		if err != nil {
			lastErr = fmt.Errorf("client: send to %s (%s): %w", addr, QueueString(q), err)
			avoid = q.BrokerName
			p.log.Debug("send attempt failed", "topic", topic, "broker", addr, "attempt", attempt, "err", err)
			continue
		}
		res, err := sendResult(resp, addr, q, uniq)
		if err == nil {
			return res, nil
		}
		lastErr = err
		if !retryable(resp.Code) {
			break
		}
		avoid = q.BrokerName
		p.log.Debug("send attempt refused", "topic", topic, "broker", addr, "attempt", attempt, "code", resp.Code, "remark", resp.Remark)
	}
	return nil, lastErr
}

// SendToQueue sends m synchronously to queue q (no queue selection, no retry on another queue).
func (p *Producer) SendToQueue(ctx context.Context, q MessageQueue, m *Message) (*SendResult, error) {
	if p.isClosed() {
		return nil, ErrClosed
	}
	pr, err := p.prepare(m)
	if err != nil {
		return nil, err
	}
	if q.Topic != m.Topic {
		return nil, &InvalidMessageError{Reason: fmt.Sprintf("queue topic %q differs from message topic %q", q.Topic, m.Topic)}
	}
	e, err := p.publishRoute(ctx, m.Topic, p.queueNums, false)
	if err != nil {
		return nil, err
	}
	addr := brokerAddr(e.route, q.BrokerName, protocol.MasterID)
	if addr == "" {
		return nil, fmt.Errorf("%w: broker %s has no master for %s", ErrNoWritableQueue, q.BrokerName, m.Topic)
	}
	resp, err := p.invoke(ctx, addr, p.sendCommand(pr, q))
	if err != nil {
		return nil, fmt.Errorf("client: send to %s (%s): %w", addr, QueueString(q), err)
	}
	return sendResult(resp, addr, q, pr.uniq)
}

// SendAsync sends m and returns once the request is written; cb then runs exactly once, on
// another goroutine, with the result or the error. One attempt is made (no retry). An error
// returned by SendAsync itself means cb will not run.
func (p *Producer) SendAsync(ctx context.Context, m *Message, cb func(*SendResult, error)) error {
	if p.isClosed() {
		return ErrClosed
	}
	pr, err := p.prepare(m)
	if err != nil {
		return err
	}
	q, addr, err := p.pick(ctx, pr.topic, false, "")
	if err != nil {
		return err
	}
	err = p.rc.InvokeAsyncTimeout(ctx, addr, p.sendCommand(pr, q), p.timeout, func(resp *protocol.RemotingCommand, err error) {
		if err != nil {
			cb(nil, fmt.Errorf("client: async send to %s (%s): %w", addr, QueueString(q), err))
			return
		}
		cb(sendResult(resp, addr, q, pr.uniq))
	})
	if err != nil {
		return fmt.Errorf("client: async send to %s: %w", addr, err)
	}
	return nil
}

// SendOneway sends m without waiting for (or getting) an answer: the request carries the oneway
// flag, so the broker does not reply and failures after the write are not reported.
func (p *Producer) SendOneway(ctx context.Context, m *Message) error {
	if p.isClosed() {
		return ErrClosed
	}
	pr, err := p.prepare(m)
	if err != nil {
		return err
	}
	q, addr, err := p.pick(ctx, pr.topic, false, "")
	if err != nil {
		return err
	}
	if err := p.rc.InvokeOneway(ctx, addr, p.sendCommand(pr, q)); err != nil {
		return fmt.Errorf("client: oneway send to %s: %w", addr, err)
	}
	return nil
}

// SendBatch sends msgs (all to the same topic, none delayed) as one SEND_BATCH_MESSAGE to one
// queue; the broker stores them at consecutive offsets. Batch members carry no UNIQ_KEY (as
// with the reference clients), so each member's id is its offset message id.
func (p *Producer) SendBatch(ctx context.Context, msgs []*Message) (*SendResult, error) {
	if p.isClosed() {
		return nil, ErrClosed
	}
	if len(msgs) == 0 {
		return nil, &InvalidMessageError{Reason: "empty batch"}
	}
	topic := msgs[0].Topic
	if err := checkTopic(topic); err != nil {
		return nil, err
	}
	for i, m := range msgs {
		switch {
		case m == nil:
			return nil, &InvalidMessageError{Reason: fmt.Sprintf("batch member %d is nil", i)}
		case m.Topic != topic:
			return nil, &InvalidMessageError{Reason: fmt.Sprintf("batch member %d has topic %q, want %q", i, m.Topic, topic)}
		case len(m.Body) == 0:
			return nil, &InvalidMessageError{Reason: fmt.Sprintf("batch member %d has an empty body", i)}
		case m.Property(PropertyDelayLevel) != "":
			return nil, &InvalidMessageError{Reason: "delayed messages cannot be batched"}
		}
	}
	body, err := EncodeBatch(msgs)
	if err != nil {
		return nil, err
	}
	mk := func(q MessageQueue) *protocol.RemotingCommand {
		return protocol.NewRequest(protocol.ReqSendBatchMessage, protocol.EncodeSendMessageHeaderV2(protocol.SendMessageRequestHeader{
			ProducerGroup:         p.group,
			Topic:                 topic,
			DefaultTopic:          CreateTopicKey,
			DefaultTopicQueueNums: p.queueNums,
			QueueID:               q.QueueID,
			BornTimestamp:         time.Now().UnixMilli(),
			Batch:                 true,
		}), body)
	}
	res, err := p.sendWithRetry(ctx, topic, mk, "")
	if err != nil {
		return nil, err
	}
	res.MsgID = res.OffsetMsgID // members have no UNIQ_KEY
	return res, nil
}

// BatchIDs splits a batch result's comma-joined ids.
func BatchIDs(ids string) []string {
	if ids == "" {
		return nil
	}
	return strings.Split(ids, ",")
}
