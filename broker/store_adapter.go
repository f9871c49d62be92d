package broker

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"time"

	"github.com/gorocket/gorocket/internal/conf"
	"github.com/gorocket/gorocket/storage"
)

// storeAdapter runs the broker on the storage package.
type storeAdapter struct {
	st           *storage.Store
	sync         bool          // SYNC_FLUSH
	flushTimeout time.Duration // syncFlushTimeout
}

// storageOptions maps the broker configuration to storage options.
func storageOptions(c conf.BrokerConfig, delays []time.Duration, hook func(string, int32, int64, int64)) (storage.Options, error) {
	o := storage.DefaultOptions()
	ms := func(v int) time.Duration { return time.Duration(v) * time.Millisecond }
	ft, err := storage.ParseFlushDiskType(c.FlushDiskType)
	if err != nil {
		return o, err
	}
	o.StorePathRootDir = c.StorePathRootDir
	o.StorePathCommitLog = c.StorePathCommitLog
	o.StorePathConsumeQueue = c.StorePathConsumeQueue
	o.StorePathIndex = c.StorePathIndex
	o.StoreCheckpoint = c.StoreCheckpoint
	o.AbortFile = c.AbortFile
	o.MappedFileSizeCommitLog = c.MapedFileSizeCommitLog
	o.ConsumeQueueEntriesPerFile = int(c.MapedFileSizeConsumeQueue / conf.ConsumeQueueUnitSize)
	o.MessageIndexEnable = c.MessageIndexEnable
	o.MaxHashSlotNum = c.MaxHashSlotNum
	o.MaxIndexNum = c.MaxIndexNum
	o.FlushDiskType = ft
	o.FlushIntervalCommitLog = ms(c.FlushIntervalCommitLog)
	o.FlushCommitLogLeastPages = c.FlushCommitLogLeastPages
	o.FlushCommitLogThoroughInterval = ms(c.FlushCommitLogThoroughInterval)
	o.FlushIntervalConsumeQueue = ms(c.FlushIntervalConsumeQueue)
	o.SyncFlushTimeout = ms(c.SyncFlushTimeout)
	// Java's warmMapedFileEnable defaults to false: do not zero-fill 1 GiB segments ahead.
	o.WarmCommitLogSegments = false
	o.FileReservedTime = c.FileReservedTime
	o.DeleteWhen = c.DeleteWhen
	o.DiskMaxUsedSpaceRatio = c.DiskMaxUsedSpaceRatio
	o.CleanResourceInterval = ms(c.CleanResourceInterval)
	o.MaxMessageSize = c.MaxMessageSize
	o.CheckCRCOnRecover = c.CheckCRCOnRecover
	o.MaxTransferBytesOnMessageInMemory = c.MaxTransferBytesOnMessageInMemory
	o.MaxTransferCountOnMessageInMemory = c.MaxTransferCountOnMessageInMemory
	o.MaxTransferBytesOnMessageInDisk = c.MaxTransferBytesOnMessageInDisk
	o.MaxTransferCountOnMessageInDisk = c.MaxTransferCountOnMessageInDisk
	o.AccessMessageInMemoryMaxRatio = c.AccessMessageInMemoryMaxRatio
	o.DelayLevels = delays
	o.MessageArrived = hook
	return o, nil
}

func openStore(logger *slog.Logger, c conf.BrokerConfig, delays []time.Duration, hook func(string, int32, int64, int64)) (MessageStore, error) {
	o, err := storageOptions(c, delays, hook)
	if err != nil {
		return nil, err
	}
	st, err := storage.Open(logger, o)
	if err != nil {
		return nil, err
	}
	return &storeAdapter{st: st, sync: o.FlushDiskType == storage.SyncFlush, flushTimeout: o.SyncFlushTimeout}, nil
}

func addrPort(a *net.TCPAddr) netip.AddrPort {
	if a == nil {
		return netip.AddrPortFrom(netip.IPv4Unspecified(), 0)
	}
	ip, ok := netip.AddrFromSlice(a.IP)
	if !ok {
		ip = netip.IPv4Unspecified()
	}
	if ip.Is4In6() {
		ip = ip.Unmap()
	}
	return netip.AddrPortFrom(ip, uint16(a.Port))
}

func toStorage(m *StoreMessage) storage.Message {
	return storage.Message{
		Topic: m.Topic, QueueID: int32(m.QueueID), Flag: m.Flag, Body: m.Body, Properties: []byte(m.Properties),
		SysFlag: m.SysFlag, BornTimestamp: m.BornTimestamp, BornHost: addrPort(m.BornHost), StoreHost: addrPort(m.StoreHost),
		ReconsumeTimes: m.ReconsumeTimes, PreparedTransactionOffset: m.PreparedTxOff, NoWait: !m.WaitStoreOK,
	}
}

func fromAppend(r storage.AppendResult) (PutResult, error) {
	out := PutResult{PhysOffset: r.PhysicalOffset, WroteBytes: r.WroteBytes, QueueOffset: r.QueueOffset, StoreTimestamp: r.StoreTimestamp, Count: int(r.MsgNum)}
	switch r.Status {
	case storage.PutOK:
		out.Status = PutOK
	case storage.PutFlushDiskTimeout:
		out.Status = PutFlushDiskTimeout
	case storage.PutMessageIllegal:
		out.Status = PutMessageIllegal
	case storage.PutPropertiesSizeExceeded:
		out.Status = PutPropertiesSizeExceeded
	case storage.PutServiceNotAvailable, storage.PutCreateMappedFileFailed, storage.PutDiskFull:
		out.Status = PutServiceNotAvailable
	default:
		out.Status = PutUnknownError
	}
	if out.Status == PutOK || out.Status == PutFlushDiskTimeout {
		out.MsgIDs = r.MsgIDs()
		return out, nil
	}
	if r.Err != nil && out.Status == PutUnknownError {
		return out, r.Err
	}
	return out, nil
}

func (a *storeAdapter) Put(m *StoreMessage) (PutResult, error) {
	sm := toStorage(m)
	return fromAppend(a.st.Append(context.Background(), &sm))
}

// flushCallbackStore is a store that can report durability by callback (the storage
// package's WaitFlushedFunc); the SYNC_FLUSH send path uses it when the store offers it.
type flushCallbackStore interface {
	// syncFlush reports whether appends are SYNC_FLUSH.
	syncFlush() bool
	// putNoWait appends m without waiting for the flush.
	putNoWait(m *StoreMessage) (PutResult, error)
	// waitFlushedFunc calls done once with PutOK when every byte below end is durable, or
	// with PutFlushDiskTimeout / PutServiceNotAvailable. done must not block.
	waitFlushedFunc(end int64, done func(PutStatus))
}

func (a *storeAdapter) syncFlush() bool { return a.sync }

func (a *storeAdapter) putNoWait(m *StoreMessage) (PutResult, error) {
	sm := toStorage(m)
	sm.NoWait = true
	return fromAppend(a.st.Append(context.Background(), &sm))
}

func (a *storeAdapter) waitFlushedFunc(end int64, done func(PutStatus)) {
	a.st.WaitFlushedFunc(end, a.flushTimeout, func(err error) {
		switch {
		case err == nil:
			done(PutOK)
		case errors.Is(err, storage.ErrFlushTimeout):
			done(PutFlushDiskTimeout)
		default:
			done(PutServiceNotAvailable)
		}
	})
}

func (a *storeAdapter) PutBatch(ms []*StoreMessage) (PutResult, error) {
	batch := make([]storage.Message, len(ms))
	for i, m := range ms {
		batch[i] = toStorage(m)
	}
	return fromAppend(a.st.AppendBatch(context.Background(), batch))
}

// Get copies the records out of the store's mappings into one buffer and releases them.
func (a *storeAdapter) Get(topic string, queueID int, offset int64, maxMsgs, maxBytes int, match func(int64) bool) (GetResult, error) {
	r, err := a.st.GetMessages(topic, int32(queueID), offset, maxMsgs, maxBytes, match)
	if err != nil {
		return GetResult{}, err
	}
	defer r.Release()
	out := GetResult{
		Status: r.Status, NextBeginOffset: r.NextBeginOffset, MinOffset: r.MinOffset, MaxOffset: r.MaxOffset,
		SuggestSlave: r.SuggestPullingFromSlave, LastPhysOffset: -1,
	}
	if len(r.Messages) > 0 {
		out.LastPhysOffset = r.Messages[len(r.Messages)-1].PhysicalOffset
		n := 0
		for _, m := range r.Messages {
			n += len(m.Data)
		}
		buf := make([]byte, 0, n)
		out.Records = make([][]byte, len(r.Messages))
		for i, m := range r.Messages {
			start := len(buf)
			buf = append(buf, m.Data...)
			out.Records[i] = buf[start:len(buf):len(buf)]
		}
	}
	return out, nil
}

func (a *storeAdapter) MinOffset(topic string, queueID int) int64 {
	return a.st.MinOffsetInQueue(topic, int32(queueID))
}

func (a *storeAdapter) MaxOffset(topic string, queueID int) int64 {
	return a.st.MaxOffsetInQueue(topic, int32(queueID))
}

func (a *storeAdapter) OffsetByTime(topic string, queueID int, ts int64) int64 {
	return a.st.GetOffsetInQueueByTime(topic, int32(queueID), ts)
}

func (a *storeAdapter) EarliestMessageTime(topic string, queueID int) (int64, error) {
	return a.st.GetEarliestMessageTime(topic, int32(queueID))
}

func (a *storeAdapter) CheckInDisk(topic string, queueID int, queueOffset int64) bool {
	return a.st.CheckInDiskByConsumeOffset(topic, int32(queueID), queueOffset)
}

// ReadRecord returns a copy of the record at phys. A record appended but not yet committed to
// its segment (the committer runs asynchronously) is waited for briefly.
func (a *storeAdapter) ReadRecord(phys int64) ([]byte, error) {
	if phys >= 0 && phys < a.st.MaxPhyOffset() && phys >= a.st.CommittedPhyOffset() {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		_ = a.st.WaitCommitted(ctx, phys)
		cancel()
	}
	b, err := a.st.ReadMessage(phys)
	if err != nil {
		if errors.Is(err, storage.ErrNotFound) {
			return nil, fmt.Errorf("%w: %d", ErrRecordNotFound, phys)
		}
		return nil, err
	}
	defer b.Release()
	return append([]byte(nil), b.Data...), nil
}

func (a *storeAdapter) QueryByKey(topic, key string, maxNum int, begin, end int64) (QueryResult, error) {
	r, err := a.st.QueryMessages(topic, key, maxNum, begin, end)
	if err != nil {
		return QueryResult{}, err
	}
	defer r.Release()
	out := QueryResult{IndexLastUpdateTime: r.IndexLastUpdateTimestamp, IndexLastUpdatePhy: r.IndexLastUpdatePhyOffset}
	for _, m := range r.Messages {
		out.Records = append(out.Records, append([]byte(nil), m.Data...))
	}
	return out, nil
}

// replicaLog returns the commit log as broker/ha reads (master) and appends (slave) it.
func (a *storeAdapter) replicaLog() replicaLog { return a.st }

func (a *storeAdapter) DeleteTopic(topic string) error { return a.st.DeleteTopic(topic) }
func (a *storeAdapter) MaxPhysOffset() int64           { return a.st.MaxPhyOffset() }
func (a *storeAdapter) MinPhysOffset() int64           { return a.st.MinPhyOffset() }
func (a *storeAdapter) DiskUsedRatio() float64         { return a.st.DiskUsedRatio() }
func (a *storeAdapter) Close() error                   { return a.st.Close() }

func (a *storeAdapter) EarliestStoreTime() int64 {
	ts, err := a.st.EarliestMessageTime()
	if err != nil {
		return 0
	}
	return ts
}
