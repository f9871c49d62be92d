package broker

import (
	"errors"
	"net"

	"github.com/gorocket/gorocket/storage"
)

// MessageStore is what the broker needs from the message store. The production implementation
// is the storage package (see storeAdapter); tests of single processors may use smaller fakes,
// but every process-level test runs on the real store.
type MessageStore interface {
	// Put appends one message and assigns its queue offset.
	Put(m *StoreMessage) (PutResult, error)
	// PutBatch appends messages of one topic queue with consecutive queue offsets.
	PutBatch(ms []*StoreMessage) (PutResult, error)
	// Get reads up to maxMsgs messages (and about maxBytes) from a queue starting at offset,
	// skipping consume-queue entries whose tag code fails match (nil = all).
	Get(topic string, queueID int, offset int64, maxMsgs, maxBytes int, match func(tagsCode int64) bool) (GetResult, error)
	// MinOffset and MaxOffset are a queue's logical bounds (max = next offset to be written).
	MinOffset(topic string, queueID int) int64
	MaxOffset(topic string, queueID int) int64
	// OffsetByTime finds the queue offset whose store time is nearest ts (ms).
	OffsetByTime(topic string, queueID int, ts int64) int64
	// EarliestMessageTime is the store time of a queue's first message.
	EarliestMessageTime(topic string, queueID int) (int64, error)
	// CheckInDisk reports whether the message at a queue offset is far behind the commit-log
	// head (no longer "hot"; QUERY_CONSUMER_OFFSET's first-boot rule).
	CheckInDisk(topic string, queueID int, queueOffset int64) bool
	// ReadRecord returns the raw record stored at a commit-log offset.
	ReadRecord(physOffset int64) ([]byte, error)
	// QueryByKey returns raw records indexed under topic#key with store time in [begin, end].
	QueryByKey(topic, key string, maxNum int, begin, end int64) (QueryResult, error)
	// DeleteTopic drops a topic's consume queues.
	DeleteTopic(topic string) error
	// MaxPhysOffset is the commit-log write position; MinPhysOffset its first retained byte.
	MaxPhysOffset() int64
	MinPhysOffset() int64
	// EarliestStoreTime is the store time of the oldest retained message (0 if none).
	EarliestStoreTime() int64
	// DiskUsedRatio is the used fraction (0..1) of the commit log's file system.
	DiskUsedRatio() float64
	// Close flushes and closes the store.
	Close() error
}

// StoreMessage is a message to append.
type StoreMessage struct {
	Topic          string
	QueueID        int
	Flag           int32
	Body           []byte
	Properties     string // encoded property string
	Tags           string // TAGS property (tag code source); ignored when TagsCode is set
	TagsCode       *int64 // explicit consume-queue tag code (delayed messages: deliver time)
	Keys           []string
	UniqKey        string
	SysFlag        int32
	BornTimestamp  int64
	BornHost       *net.TCPAddr
	StoreHost      *net.TCPAddr
	ReconsumeTimes int32
	PreparedTxOff  int64
	// WaitStoreOK is false when the producer set WAIT=false: do not wait for flush/replication.
	WaitStoreOK bool
}

// PutStatus is the outcome of an append.
type PutStatus int

// Put statuses (Java PutMessageStatus subset).
const (
	PutOK PutStatus = iota
	PutFlushDiskTimeout
	PutFlushSlaveTimeout
	PutSlaveNotAvailable
	PutServiceNotAvailable
	PutMessageIllegal
	PutPropertiesSizeExceeded
	PutOSPageCacheBusy
	PutUnknownError
)

// PutResult reports where an append landed. For batches the offsets are those of the first
// message and MsgIDs holds one offsetMsgId per message.
type PutResult struct {
	Status     PutStatus
	PhysOffset int64
	// WroteBytes is the size of every record of the call: PhysOffset+WroteBytes is the commit-log
	// end offset a synchronous master waits to see replicated.
	WroteBytes     int32
	QueueOffset    int64
	MsgIDs         []string
	StoreTimestamp int64
	Count          int
}

// GetStatus is the outcome of a read (Java GetMessageStatus); it is the storage package's type, so
// the adapter passes it through unchanged.
type GetStatus = storage.GetStatus

// Get statuses (see storage.GetMessages for when each is returned).
const (
	GetFound               = storage.GetFound
	GetNoMatchedMessage    = storage.GetNoMatchedMessage
	GetMessageWasRemoving  = storage.GetMessageWasRemoving
	GetOffsetFoundNull     = storage.GetOffsetFoundNull
	GetOffsetOverflowBadly = storage.GetOffsetOverflowBadly
	GetOffsetOverflowOne   = storage.GetOffsetOverflowOne
	GetOffsetTooSmall      = storage.GetOffsetTooSmall
	GetNoMatchedLogicQueue = storage.GetNoMatchedLogicQueue
	GetNoMessageInQueue    = storage.GetNoMessageInQueue
)

// GetResult is a read's answer: complete records concatenated in queue order.
type GetResult struct {
	Status          GetStatus
	Records         [][]byte
	NextBeginOffset int64
	MinOffset       int64
	MaxOffset       int64
	// SuggestSlave is set when the read had to go to disk far behind the head (Java's
	// "consume slowly" hint; used with slaveReadEnable).
	SuggestSlave bool
	// LastPhysOffset is the commit-log offset of the last entry the read reached (-1 if none).
	LastPhysOffset int64
}

// QueryResult is QueryByKey's answer.
type QueryResult struct {
	Records             [][]byte
	IndexLastUpdateTime int64
	IndexLastUpdatePhy  int64
}

// ErrRecordNotFound is returned by ReadRecord adapters for offsets outside the commit log.
var ErrRecordNotFound = errors.New("broker: message not found at offset")
