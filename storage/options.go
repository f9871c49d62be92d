package storage

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/gorocket/gorocket/storage/vfs"
)

// FlushDiskType selects when appends become durable (RocketMQ flushDiskType).
type FlushDiskType int

const (
	// AsyncFlush acknowledges an append once it is in the commit buffer; a background
	// flusher fdatasyncs on an interval or when enough bytes are dirty.
	AsyncFlush FlushDiskType = iota
	// SyncFlush acknowledges an append only when it is durable (group commit).
	SyncFlush
)

func (t FlushDiskType) String() string {
	switch t {
	case AsyncFlush:
		return "ASYNC_FLUSH"
	case SyncFlush:
		return "SYNC_FLUSH"
	}
	return "FlushDiskType(" + strconv.Itoa(int(t)) + ")"
}

// ParseFlushDiskType parses "ASYNC_FLUSH" or "SYNC_FLUSH".
func ParseFlushDiskType(s string) (FlushDiskType, error) {
	switch strings.TrimSpace(s) {
	case "ASYNC_FLUSH":
		return AsyncFlush, nil
	case "SYNC_FLUSH":
		return SyncFlush, nil
	}
	return 0, fmt.Errorf("%w: flushDiskType %q (want ASYNC_FLUSH or SYNC_FLUSH)", ErrInvalidOptions, s)
}

// Options configure a Store. Start from DefaultOptions. Comments name the RocketMQ
// broker.conf key where there is one.
type Options struct {
	// StorePathRootDir holds the lock file and, unless set separately, everything else
	// (storePathRootDir).
	StorePathRootDir string
	// StorePathCommitLog defaults to <root>/commitlog (storePathCommitLog).
	StorePathCommitLog string
	// StorePathConsumeQueue defaults to <root>/consumequeue (storePathConsumeQueue).
	StorePathConsumeQueue string
	// StorePathIndex defaults to <root>/index (storePathIndex).
	StorePathIndex string
	// StoreCheckpoint defaults to <root>/checkpoint (storeCheckpoint).
	StoreCheckpoint string
	// AbortFile defaults to <root>/abort (abortFile).
	AbortFile string

	// MappedFileSizeCommitLog is the commit-log segment size in bytes (mapedFileSizeCommitLog,
	// default 1 GiB). It must be the same on a master and its slaves.
	MappedFileSizeCommitLog int64
	// ConsumeQueueEntriesPerFile is the number of 20-byte entries per consume-queue file
	// (default 300,000). Note: Java RocketMQ reads mapedFileSizeConsumeQueue as bytes.
	ConsumeQueueEntriesPerFile int
	// MessageIndexEnable turns the key index on (messageIndexEnable).
	MessageIndexEnable bool
	// MaxHashSlotNum and MaxIndexNum size an index file (maxHashSlotNum, maxIndexNum).
	MaxHashSlotNum int
	MaxIndexNum    int

	// FlushDiskType is ASYNC_FLUSH or SYNC_FLUSH (flushDiskType).
	FlushDiskType FlushDiskType
	// FlushIntervalCommitLog is the ASYNC_FLUSH interval (flushIntervalCommitLog, 500ms).
	FlushIntervalCommitLog time.Duration
	// FlushCommitLogLeastPages: an ASYNC_FLUSH tick flushes only when at least this many
	// 4 KiB pages are dirty (flushCommitLogLeastPages, 4)...
	FlushCommitLogLeastPages int
	// ...unless FlushCommitLogThoroughInterval passed since the last flush
	// (flushCommitLogThoroughInterval, 10s).
	FlushCommitLogThoroughInterval time.Duration
	// FlushDirtyBytes wakes the ASYNC_FLUSH flusher early when this many bytes are unsynced
	// (0 = only on the interval). Default 64 MiB.
	FlushDirtyBytes int64
	// FlushIntervalConsumeQueue is how often consume queues and the index are synced and the
	// checkpoint is written (flushIntervalConsumeQueue, 1s).
	FlushIntervalConsumeQueue time.Duration
	// SyncFlushTimeout bounds a SYNC_FLUSH append's wait (syncFlushTimeout, 5s).
	SyncFlushTimeout time.Duration
	// CommitBufferSize is the size of each in-memory commit buffer the appender encodes
	// into (default 4 MiB; up to 4 buffers are in flight).
	CommitBufferSize int
	// WarmCommitLogSegments zero-fills new segments so the append path never takes a first
	// write into a fresh file (default true; false creates sparse files, e.g. for tmpfs).
	WarmCommitLogSegments bool

	// FileReservedTime is how many hours commit-log segments are kept (fileReservedTime, 72).
	FileReservedTime int
	// DeleteWhen lists the hours (00-23, ';'-separated) at which expired segments are
	// deleted (deleteWhen, "04").
	DeleteWhen string
	// DiskMaxUsedSpaceRatio (percent): above it expired segments are deleted at once, whatever
	// the hour (diskMaxUsedSpaceRatio, 75).
	DiskMaxUsedSpaceRatio int
	// DiskCleanForciblyRatio (percent): above it the oldest segments are deleted even if not
	// expired (diskSpaceCleanForciblyRatio, 85).
	DiskCleanForciblyRatio int
	// DiskHardLimitRatio (percent): above it appends fail with DISK_FULL
	// (diskSpaceWarningLevelRatio, 90).
	DiskHardLimitRatio int
	// CleanResourceInterval is how often retention runs (cleanResourceInterval, 10s).
	CleanResourceInterval time.Duration
	// MaxMessageSize bounds a message body in bytes (maxMessageSize, 4 MiB).
	MaxMessageSize int
	// CheckCRCOnRecover verifies BODYCRC while recovering (checkCRCOnRecover, true).
	CheckCRCOnRecover bool

	// Pull batching limits (maxTransfer{Bytes,Count}OnMessageIn{Memory,Disk}); a message is
	// "in disk" when it is more than AccessMessageInMemoryMaxRatio percent of
	// TotalPhysicalMemory behind the commit-log end (accessMessageInMemoryMaxRatio, 40).
	MaxTransferBytesOnMessageInMemory int
	MaxTransferCountOnMessageInMemory int
	MaxTransferBytesOnMessageInDisk   int
	MaxTransferCountOnMessageInDisk   int
	AccessMessageInMemoryMaxRatio     int
	// TotalPhysicalMemory in bytes; 0 = ask the OS.
	TotalPhysicalMemory int64

	// ScheduleTopic is the delay topic whose consume-queue tag code is the delivery time
	// (SCHEDULE_TOPIC_XXXX); DelayLevels are the delays of DELAY levels 1..n
	// (messageDelayLevel, see ParseDelayLevels).
	ScheduleTopic string
	DelayLevels   []time.Duration

	// Clock is the store's time source (store timestamps, retention); nil = time.Now.
	Clock func() time.Time
	// FS is the file system; nil = vfs.Default (the OS).
	FS vfs.FS
	// MessageArrived is called after the dispatcher published a consume-queue entry (see
	// Store.SetMessageArrivedHook).
	MessageArrived func(topic string, queueID int32, queueOffset int64, tagsCode int64)
}

// DefaultMessageDelayLevel is RocketMQ's messageDelayLevel default.
const DefaultMessageDelayLevel = "1s 5s 10s 30s 1m 2m 3m 4m 5m 6m 7m 8m 9m 10m 20m 30m 1h 2h"

// DefaultOptions returns RocketMQ's defaults, rooted at $HOME/store.
func DefaultOptions() Options {
	home, err := os.UserHomeDir()
	if err != nil {
		home = "."
	}
	levels, _ := ParseDelayLevels(DefaultMessageDelayLevel)
	return Options{
		StorePathRootDir:                  filepath.Join(home, "store"),
		MappedFileSizeCommitLog:           1 << 30,
		ConsumeQueueEntriesPerFile:        300_000,
		MessageIndexEnable:                true,
		MaxHashSlotNum:                    5_000_000,
		MaxIndexNum:                       20_000_000,
		FlushDiskType:                     AsyncFlush,
		FlushIntervalCommitLog:            500 * time.Millisecond,
		FlushCommitLogLeastPages:          4,
		FlushCommitLogThoroughInterval:    10 * time.Second,
		FlushDirtyBytes:                   64 << 20,
		FlushIntervalConsumeQueue:         time.Second,
		SyncFlushTimeout:                  5 * time.Second,
		CommitBufferSize:                  4 << 20,
		WarmCommitLogSegments:             true,
		FileReservedTime:                  72,
		DeleteWhen:                        "04",
		DiskMaxUsedSpaceRatio:             75,
		DiskCleanForciblyRatio:            85,
		DiskHardLimitRatio:                90,
		CleanResourceInterval:             10 * time.Second,
		MaxMessageSize:                    4 << 20,
		CheckCRCOnRecover:                 true,
		MaxTransferBytesOnMessageInMemory: 256 << 10,
		MaxTransferCountOnMessageInMemory: 32,
		MaxTransferBytesOnMessageInDisk:   64 << 10,
		MaxTransferCountOnMessageInDisk:   8,
		AccessMessageInMemoryMaxRatio:     40,
		ScheduleTopic:                     "SCHEDULE_TOPIC_XXXX",
		DelayLevels:                       levels,
	}
}

// ParseDelayLevels parses a messageDelayLevel string such as "1s 5s 1m 2h 1d".
func ParseDelayLevels(s string) ([]time.Duration, error) {
	var out []time.Duration
	for _, f := range strings.Fields(s) {
		if len(f) < 2 {
			return nil, fmt.Errorf("%w: delay level %q", ErrInvalidOptions, f)
		}
		n, err := strconv.Atoi(f[:len(f)-1])
		if err != nil || n < 0 {
			return nil, fmt.Errorf("%w: delay level %q", ErrInvalidOptions, f)
		}
		var unit time.Duration
		switch f[len(f)-1] {
		case 's':
			unit = time.Second
		case 'm':
			unit = time.Minute
		case 'h':
			unit = time.Hour
		case 'd':
			unit = 24 * time.Hour
		default:
			return nil, fmt.Errorf("%w: delay level %q (unit must be s, m, h or d)", ErrInvalidOptions, f)
		}
		out = append(out, time.Duration(n)*unit)
	}
	return out, nil
}

// withDefaults fills the derived paths and the nil hooks.
func (o Options) withDefaults() Options {
	if o.StorePathCommitLog == "" {
		o.StorePathCommitLog = filepath.Join(o.StorePathRootDir, "commitlog")
	}
	if o.StorePathConsumeQueue == "" {
		o.StorePathConsumeQueue = filepath.Join(o.StorePathRootDir, "consumequeue")
	}
	if o.StorePathIndex == "" {
		o.StorePathIndex = filepath.Join(o.StorePathRootDir, "index")
	}
	if o.StoreCheckpoint == "" {
		o.StoreCheckpoint = filepath.Join(o.StorePathRootDir, "checkpoint")
	}
	if o.AbortFile == "" {
		o.AbortFile = filepath.Join(o.StorePathRootDir, "abort")
	}
	if o.Clock == nil {
		o.Clock = time.Now
	}
	if o.FS == nil {
		o.FS = vfs.Default
	}
	return o
}

// maxRecordOverhead is the largest TOTALSIZE minus the body: IPv6 hosts, a 127-byte topic
// and 32767 bytes of properties.
const maxRecordOverhead = recordFixedV1 + 2*ipv6Extra + maxTopicLen + maxPropertiesLen

// Validate reports every problem with the options at once.
func (o Options) Validate() error {
	var errs []error
	bad := func(format string, args ...any) {
		errs = append(errs, fmt.Errorf("%w: "+format, append([]any{ErrInvalidOptions}, args...)...))
	}
	if o.StorePathRootDir == "" {
		bad("storePathRootDir is empty")
	}
	if o.MaxMessageSize <= 0 {
		bad("maxMessageSize %d must be positive", o.MaxMessageSize)
	}
	if minSeg := int64(o.MaxMessageSize) + maxRecordOverhead + blankRecordLen; o.MappedFileSizeCommitLog < minSeg || o.MappedFileSizeCommitLog > 1<<40 {
		bad("mapedFileSizeCommitLog %d must be in [%d, 2^40] (one largest record plus a blank record)", o.MappedFileSizeCommitLog, minSeg)
	}
	if o.ConsumeQueueEntriesPerFile <= 0 || o.ConsumeQueueEntriesPerFile > 100_000_000 {
		bad("consume-queue entries per file %d must be in [1, 1e8]", o.ConsumeQueueEntriesPerFile)
	}
	if o.MessageIndexEnable {
		if o.MaxHashSlotNum <= 0 || o.MaxIndexNum <= 1 || int64(o.MaxHashSlotNum)*4+int64(o.MaxIndexNum)*indexEntrySize > 1<<32 {
			bad("maxHashSlotNum %d / maxIndexNum %d must be positive and the index file under 4 GiB", o.MaxHashSlotNum, o.MaxIndexNum)
		}
	}
	if o.FlushDiskType != AsyncFlush && o.FlushDiskType != SyncFlush {
		bad("flushDiskType %v", o.FlushDiskType)
	}
	for name, d := range map[string]time.Duration{
		"flushIntervalCommitLog":         o.FlushIntervalCommitLog,
		"flushCommitLogThoroughInterval": o.FlushCommitLogThoroughInterval,
		"flushIntervalConsumeQueue":      o.FlushIntervalConsumeQueue,
		"syncFlushTimeout":               o.SyncFlushTimeout,
		"cleanResourceInterval":          o.CleanResourceInterval,
	} {
		if d <= 0 {
			bad("%s %v must be positive", name, d)
		}
	}
	if o.FlushCommitLogLeastPages < 0 || o.FlushDirtyBytes < 0 {
		bad("flushCommitLogLeastPages %d and flushDirtyBytes %d must not be negative", o.FlushCommitLogLeastPages, o.FlushDirtyBytes)
	}
	if o.CommitBufferSize < 4096 {
		bad("commit buffer size %d must be at least 4096", o.CommitBufferSize)
	}
	if o.FileReservedTime <= 0 {
		bad("fileReservedTime %d hours must be positive", o.FileReservedTime)
	}
	if _, err := parseDeleteWhen(o.DeleteWhen); err != nil {
		errs = append(errs, err)
	}
	for name, r := range map[string]int{
		"diskMaxUsedSpaceRatio":         o.DiskMaxUsedSpaceRatio,
		"diskSpaceCleanForciblyRatio":   o.DiskCleanForciblyRatio,
		"diskSpaceWarningLevelRatio":    o.DiskHardLimitRatio,
		"accessMessageInMemoryMaxRatio": o.AccessMessageInMemoryMaxRatio,
	} {
		if r < 1 || r > 100 {
			bad("%s %d must be a percentage in [1, 100]", name, r)
		}
	}
	if o.MaxTransferBytesOnMessageInMemory <= 0 || o.MaxTransferCountOnMessageInMemory <= 0 ||
		o.MaxTransferBytesOnMessageInDisk <= 0 || o.MaxTransferCountOnMessageInDisk <= 0 {
		bad("maxTransfer{Bytes,Count}OnMessageIn{Memory,Disk} must be positive")
	}
	if o.TotalPhysicalMemory < 0 {
		bad("total physical memory %d must not be negative", o.TotalPhysicalMemory)
	}
	return errors.Join(errs...)
}

// parseDeleteWhen parses "04" or "04;12" into a set of hours.
func parseDeleteWhen(s string) ([24]bool, error) {
	var hours [24]bool
	any := false
	for _, f := range strings.Split(s, ";") {
		f = strings.TrimSpace(f)
		if f == "" {
			continue
		}
		h, err := strconv.Atoi(f)
		if err != nil || h < 0 || h > 23 {
			return hours, fmt.Errorf("%w: deleteWhen %q: hour %q not in 00-23", ErrInvalidOptions, s, f)
		}
		hours[h] = true
		any = true
	}
	if !any {
		return hours, fmt.Errorf("%w: deleteWhen %q names no hour", ErrInvalidOptions, s)
	}
	return hours, nil
}
