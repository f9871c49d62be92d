package conf

import (
	"fmt"
	"io"
	"net"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

// Broker roles (brokerRole) and flush types (flushDiskType).
const (
	RoleAsyncMaster = "ASYNC_MASTER"
	RoleSyncMaster  = "SYNC_MASTER"
	RoleSlave       = "SLAVE"

	FlushAsync = "ASYNC_FLUSH"
	FlushSync  = "SYNC_FLUSH"
)

// ConsumeQueueUnitSize is the size in bytes of one consume-queue entry;
// mappedFileSizeConsumeQueue must be a multiple of it.
const ConsumeQueueUnitSize = 20

// DefaultMessageDelayLevel is RocketMQ's messageDelayLevel default (18 levels).
const DefaultMessageDelayLevel = "1s 5s 10s 30s 1m 2m 3m 4m 5m 6m 7m 8m 9m 10m 20m 30m 1h 2h"

// BrokerConfig is the broker's configuration: Apache RocketMQ 4.9
// BrokerConfig, MessageStoreConfig and NettyServerConfig keys, under the
// same names. Field comments give the key; BrokerKeys documents each key.
// "auto" values (empty strings, zero HAListenPort and thread-pool sizes) are
// filled at startup by Resolve or by the daemon.
type BrokerConfig struct {
	// Identity and addressing.
	BrokerClusterName string   // brokerClusterName
	BrokerName        string   // brokerName; "" = host name (Resolve)
	BrokerID          int64    // brokerId; 0 master, >0 slave
	NamesrvAddr       []string // namesrvAddr; ';'-separated host:port list
	RocketmqHome      string   // rocketmqHome
	ListenPort        int      // listenPort
	BrokerIP1         string   // brokerIP1; "" = first non-loopback IPv4, found by the daemon
	BrokerIP2         string   // brokerIP2; HA address, "" = BrokerIP1 (Resolve)
	HAListenPort      int      // haListenPort; 0 = ListenPort+1 (Resolve)
	HAMasterAddress   string   // haMasterAddress; host:port, "" = learnt from the nameserver
	BrokerRole        string   // brokerRole; RoleAsyncMaster, RoleSyncMaster or RoleSlave
	FlushDiskType     string   // flushDiskType; FlushAsync or FlushSync
	BrokerPermission  int      // brokerPermission; 6 = read+write

	// Nameserver registration.
	RegisterNameServerPeriod   int  // registerNameServerPeriod, ms
	RegisterBrokerTimeoutMills int  // registerBrokerTimeoutMills, ms
	ForceRegister              bool // forceRegister
	CompressedRegister         bool // compressedRegister

	// Topics, groups and messages.
	AutoCreateTopicEnable          bool   // autoCreateTopicEnable
	AutoCreateSubscriptionGroup    bool   // autoCreateSubscriptionGroup
	DefaultTopicQueueNums          int    // defaultTopicQueueNums
	ClusterTopicEnable             bool   // clusterTopicEnable
	BrokerTopicEnable              bool   // brokerTopicEnable
	TraceTopicEnable               bool   // traceTopicEnable
	MsgTraceTopicName              string // msgTraceTopicName
	StoreReplyMessageEnable        bool   // storeReplyMessageEnable
	MaxMessageSize                 int    // maxMessageSize, bytes
	MessageDelayLevel              string // messageDelayLevel; see DelayLevels
	DefaultQueryMaxNum             int    // defaultQueryMaxNum
	NotifyConsumerIDsChangedEnable bool   // notifyConsumerIdsChangedEnable
	EnablePropertyFilter           bool   // enablePropertyFilter (SQL92)
	FilterSupportRetry             bool   // filterSupportRetry

	// Pull.
	LongPollingEnable                 bool // longPollingEnable
	ShortPollingTimeMills             int  // shortPollingTimeMills, ms
	SlaveReadEnable                   bool // slaveReadEnable
	AccessMessageInMemoryMaxRatio     int  // accessMessageInMemoryMaxRatio, percent
	MaxTransferBytesOnMessageInMemory int  // maxTransferBytesOnMessageInMemory
	MaxTransferCountOnMessageInMemory int  // maxTransferCountOnMessageInMemory
	MaxTransferBytesOnMessageInDisk   int  // maxTransferBytesOnMessageInDisk
	MaxTransferCountOnMessageInDisk   int  // maxTransferCountOnMessageInDisk

	// Transactions.
	TransactionTimeOut            int  // transactionTimeOut, ms
	TransactionCheckMax           int  // transactionCheckMax
	TransactionCheckInterval      int  // transactionCheckInterval, ms
	CheckTransactionMessageEnable bool // checkTransactionMessageEnable (RocketMQ 3.x key)
	RejectTransactionMessage      bool // rejectTransactionMessage

	// Request processing.
	SendMessageThreadPoolNums       int // sendMessageThreadPoolNums
	PullMessageThreadPoolNums       int // pullMessageThreadPoolNums; 0 = auto
	QueryMessageThreadPoolNums      int // queryMessageThreadPoolNums; 0 = auto
	AdminBrokerThreadPoolNums       int // adminBrokerThreadPoolNums
	ClientManageThreadPoolNums      int // clientManageThreadPoolNums
	ConsumerManageThreadPoolNums    int // consumerManageThreadPoolNums
	HeartbeatThreadPoolNums         int // heartbeatThreadPoolNums; 0 = auto
	EndTransactionThreadPoolNums    int // endTransactionThreadPoolNums; 0 = auto
	SendThreadPoolQueueCapacity     int // sendThreadPoolQueueCapacity
	PullThreadPoolQueueCapacity     int // pullThreadPoolQueueCapacity
	WaitTimeMillsInSendQueue        int // waitTimeMillsInSendQueue, ms
	ServerChannelMaxIdleTimeSeconds int // serverChannelMaxIdleTimeSeconds, s

	// Store paths; "" = derived from StorePathRootDir (Resolve).
	StorePathRootDir      string // storePathRootDir; "" = $HOME/store
	StorePathCommitLog    string // storePathCommitLog
	StorePathConsumeQueue string // storePathConsumeQueue
	StorePathIndex        string // storePathIndex
	StoreCheckpoint       string // storeCheckpoint
	AbortFile             string // abortFile

	// Store files and flushing.
	MapedFileSizeCommitLog            int64 // mappedFileSizeCommitLog (alias mapedFileSizeCommitLog), bytes
	MapedFileSizeConsumeQueue         int64 // mappedFileSizeConsumeQueue (alias mapedFileSizeConsumeQueue), bytes
	FlushIntervalCommitLog            int   // flushIntervalCommitLog, ms
	FlushCommitLogLeastPages          int   // flushCommitLogLeastPages
	FlushCommitLogThoroughInterval    int   // flushCommitLogThoroughInterval, ms
	FlushIntervalConsumeQueue         int   // flushIntervalConsumeQueue, ms
	FlushConsumeQueueLeastPages       int   // flushConsumeQueueLeastPages
	FlushConsumeQueueThoroughInterval int   // flushConsumeQueueThoroughInterval, ms
	SyncFlushTimeout                  int   // syncFlushTimeout, ms
	CheckCRCOnRecover                 bool  // checkCRCOnRecover
	MessageIndexEnable                bool  // messageIndexEnable
	MessageIndexSafe                  bool  // messageIndexSafe
	MaxHashSlotNum                    int   // maxHashSlotNum
	MaxIndexNum                       int   // maxIndexNum

	// Retention.
	DeleteWhen                       string // deleteWhen; ';'-separated hours, see DeleteHours
	FileReservedTime                 int    // fileReservedTime, hours
	DiskMaxUsedSpaceRatio            int    // diskMaxUsedSpaceRatio, percent
	CleanResourceInterval            int    // cleanResourceInterval, ms
	DeleteCommitLogFilesInterval     int    // deleteCommitLogFilesInterval, ms
	DeleteConsumeQueueFilesInterval  int    // deleteConsumeQueueFilesInterval, ms
	DestroyMapedFileIntervalForcibly int    // destroyMapedFileIntervalForcibly, ms
	RedeleteHangedFileInterval       int    // redeleteHangedFileInterval, ms
	CleanFileForciblyEnable          bool   // cleanFileForciblyEnable

	// Master/slave replication.
	SlaveTimeout            int // slaveTimeout, ms (SYNC_MASTER wait for the slave)
	HASendHeartbeatInterval int // haSendHeartbeatInterval, ms
	HAHousekeepingInterval  int // haHousekeepingInterval, ms
	HATransferBatchSize     int // haTransferBatchSize, bytes
	HASlaveFallbehindMax    int // haSlaveFallbehindMax, bytes

	// DLedger (Raft) commit log.
	EnableDLegerCommitLog bool   // enableDLegerCommitLog
	DLegerGroup           string // dLegerGroup
	DLegerPeers           string // dLegerPeers; "n0-host:port;n1-host:port;..." (see DLedgerPeers)
	DLegerSelfID          string // dLegerSelfId
}

// DefaultBroker returns the defaults: Apache RocketMQ 4.9's, except that
// machine-dependent values are left "auto" (see BrokerConfig and Resolve), so
// the result is the same on every machine.
func DefaultBroker() BrokerConfig {
	return BrokerConfig{
		BrokerClusterName: "DefaultCluster",
		ListenPort:        10911,
		BrokerRole:        RoleAsyncMaster,
		FlushDiskType:     FlushAsync,
		BrokerPermission:  6,

		RegisterNameServerPeriod:   30000,
		RegisterBrokerTimeoutMills: 6000,
		ForceRegister:              true,

		AutoCreateTopicEnable:          true,
		AutoCreateSubscriptionGroup:    true,
		DefaultTopicQueueNums:          8,
		ClusterTopicEnable:             true,
		BrokerTopicEnable:              true,
		MsgTraceTopicName:              "RMQ_SYS_TRACE_TOPIC",
		StoreReplyMessageEnable:        true,
		MaxMessageSize:                 4 << 20,
		MessageDelayLevel:              DefaultMessageDelayLevel,
		DefaultQueryMaxNum:             32,
		NotifyConsumerIDsChangedEnable: true,

		LongPollingEnable:                 true,
		ShortPollingTimeMills:             1000,
		AccessMessageInMemoryMaxRatio:     40,
		MaxTransferBytesOnMessageInMemory: 256 << 10,
		MaxTransferCountOnMessageInMemory: 32,
		MaxTransferBytesOnMessageInDisk:   64 << 10,
		MaxTransferCountOnMessageInDisk:   8,

		TransactionTimeOut:            6000,
		TransactionCheckMax:           15,
		TransactionCheckInterval:      60000,
		CheckTransactionMessageEnable: true,

		SendMessageThreadPoolNums:       1,
		AdminBrokerThreadPoolNums:       16,
		ClientManageThreadPoolNums:      32,
		ConsumerManageThreadPoolNums:    32,
		SendThreadPoolQueueCapacity:     10000,
		PullThreadPoolQueueCapacity:     100000,
		WaitTimeMillsInSendQueue:        200,
		ServerChannelMaxIdleTimeSeconds: 120,

		MapedFileSizeCommitLog:            1 << 30,
		MapedFileSizeConsumeQueue:         300000 * ConsumeQueueUnitSize,
		FlushIntervalCommitLog:            500,
		FlushCommitLogLeastPages:          4,
		FlushCommitLogThoroughInterval:    10000,
		FlushIntervalConsumeQueue:         1000,
		FlushConsumeQueueLeastPages:       2,
		FlushConsumeQueueThoroughInterval: 60000,
		SyncFlushTimeout:                  5000,
		CheckCRCOnRecover:                 true,
		MessageIndexEnable:                true,
		MaxHashSlotNum:                    5000000,
		MaxIndexNum:                       5000000 * 4,

		DeleteWhen:                       "04",
		FileReservedTime:                 72,
		DiskMaxUsedSpaceRatio:            75,
		CleanResourceInterval:            10000,
		DeleteCommitLogFilesInterval:     100,
		DeleteConsumeQueueFilesInterval:  100,
		DestroyMapedFileIntervalForcibly: 120000,
		RedeleteHangedFileInterval:       120000,
		CleanFileForciblyEnable:          true,

		SlaveTimeout:            3000,
		HASendHeartbeatInterval: 5000,
		HAHousekeepingInterval:  20000,
		HATransferBatchSize:     32 << 10,
		HASlaveFallbehindMax:    256 << 20,
	}
}

// Value checks shared by keys.

func checkHostPort(s string) error {
	host, port, err := net.SplitHostPort(s)
	if err != nil || host == "" || strings.ContainsAny(host, " \t/") {
		return fmt.Errorf("invalid address %q (want host:port)", s)
	}
	if n, err := strconv.Atoi(port); err != nil || n < 1 || n > 65535 {
		return fmt.Errorf("invalid address %q (port must be 1..65535)", s)
	}
	return nil
}

func checkOptHostPort(s string) error {
	if s == "" {
		return nil
	}
	return checkHostPort(s)
}

// checkHost accepts "" (auto), an IP address or a host name (no port).
func checkHost(s string) error {
	if s == "" {
		return nil
	}
	if strings.Contains(s, ":") {
		if net.ParseIP(s) == nil {
			return fmt.Errorf("invalid host %q (want an IP address or host name, without port)", s)
		}
		return nil
	}
	for _, c := range s {
		if !(c == '.' || c == '-' || c == '_' || '0' <= c && c <= '9' || 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z') {
			return fmt.Errorf("invalid host %q (want an IP address or host name, without port)", s)
		}
	}
	return nil
}

// checkTopicName: brokerName and brokerClusterName are also topic names,
// so they follow RocketMQ's topic rules.
func checkTopicName(s string) error {
	if len(s) > 127 {
		return fmt.Errorf("%q is longer than 127 characters (it is also used as a topic name)", s)
	}
	for _, c := range s {
		if !(c == '%' || c == '|' || c == '-' || c == '_' || '0' <= c && c <= '9' || 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z') {
			return fmt.Errorf("invalid value %q (it is also used as a topic name, so only letters, digits, '-', '_', '%%' and '|' are allowed)", s)
		}
	}
	return nil
}

func checkNonEmptyTopicName(s string) error {
	if s == "" {
		return fmt.Errorf("must not be empty")
	}
	return checkTopicName(s)
}

func checkDeleteWhen(s string) error {
	_, err := parseDeleteWhen(s)
	return err
}

func parseDeleteWhen(s string) ([]int, error) {
	var hours []int
	for _, h := range splitList(s) {
		n, err := strconv.Atoi(h)
		if err != nil || n < 0 || n > 23 {
			return nil, fmt.Errorf("invalid value %q (want hours 00..23, ';'-separated, e.g. 04 or 04;16)", s)
		}
		hours = append(hours, n)
	}
	if len(hours) == 0 {
		return nil, fmt.Errorf("invalid value %q (want hours 00..23, ';'-separated, e.g. 04 or 04;16)", s)
	}
	return hours, nil
}

func parseDelayLevels(s string) ([]time.Duration, error) {
	var out []time.Duration
	for _, f := range strings.Fields(s) {
		bad := fmt.Errorf("invalid level %q in %q (want numbers with unit s, m, h or d, space-separated)", f, s)
		if len(f) < 2 {
			return nil, bad
		}
		n, err := strconv.ParseInt(f[:len(f)-1], 10, 32)
		if err != nil || n <= 0 {
			return nil, bad
		}
		unit := map[byte]time.Duration{'s': time.Second, 'm': time.Minute, 'h': time.Hour, 'd': 24 * time.Hour}[f[len(f)-1]]
		if unit == 0 {
			return nil, bad
		}
		out = append(out, time.Duration(n)*unit)
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("must not be empty")
	}
	return out, nil
}

func checkDelayLevels(s string) error { _, err := parseDelayLevels(s); return err }

func checkDLedgerPeers(s string) error { _, err := parseDLedgerPeers(s); return err }

// DLedgerPeer is one member of a DLedger group: dLegerPeers lists them as
// "id-host:port", ';'-separated.
type DLedgerPeer struct {
	ID   string // e.g. "n0"
	Addr string // host:port of the peer's DLedger port
}

func parseDLedgerPeers(s string) ([]DLedgerPeer, error) {
	var out []DLedgerPeer
	seen := map[string]bool{}
	for _, p := range splitList(s) {
		id, addr, ok := strings.Cut(p, "-")
		if !ok || id == "" {
			return nil, fmt.Errorf("invalid peer %q (want id-host:port, e.g. n0-10.0.0.1:40911)", p)
		}
		if err := checkHostPort(addr); err != nil {
			return nil, fmt.Errorf("invalid peer %q: %v", p, err)
		}
		if seen[id] {
			return nil, fmt.Errorf("duplicate peer id %q", id)
		}
		seen[id] = true
		out = append(out, DLedgerPeer{ID: id, Addr: addr})
	}
	return out, nil
}

const unlimited = maxInt32

// brokerRegistry is the broker key table, in Render order.
var brokerRegistry = newRegistry(DefaultBroker(), []keyDef[BrokerConfig]{
	// Identity and addressing.
	strCheck("brokerClusterName", func(c *BrokerConfig) *string { return &c.BrokerClusterName }, checkNonEmptyTopicName,
		"Cluster the broker belongs to; also a topic name."),
	strCheck("brokerName", func(c *BrokerConfig) *string { return &c.BrokerName }, checkTopicName,
		"Broker group name shared by a master and its slaves; empty = host name. Also a topic name."),
	int64Key("brokerId", func(c *BrokerConfig) *int64 { return &c.BrokerID }, 0, maxInt64,
		"0 = master, >0 = slave (ignored in DLedger mode)."),
	listKey("namesrvAddr", func(c *BrokerConfig) *[]string { return &c.NamesrvAddr }, checkHostPort,
		"Nameserver addresses, host:port;host:port. The broker registers with all of them. Falls back to $NAMESRV_ADDR."),
	strKey("rocketmqHome", func(c *BrokerConfig) *string { return &c.RocketmqHome },
		"Installation directory (Java: $ROCKETMQ_HOME); informational for gorocket."),
	intKey("listenPort", func(c *BrokerConfig) *int { return &c.ListenPort }, 3, 65534,
		"Main remoting port; the VIP channel listens on listenPort-2."),
	strCheck("brokerIP1", func(c *BrokerConfig) *string { return &c.BrokerIP1 }, checkHost,
		"Address advertised to clients (brokerIP1:listenPort); empty = first non-loopback IPv4, chosen at startup."),
	strCheck("brokerIP2", func(c *BrokerConfig) *string { return &c.BrokerIP2 }, checkHost,
		"Address advertised for HA (brokerIP2:haListenPort); empty = brokerIP1."),
	intKey("haListenPort", func(c *BrokerConfig) *int { return &c.HAListenPort }, 0, 65535,
		"Master/slave replication port; 0 = listenPort+1. Java always forces listenPort+1; gorocket honours an explicit value.").auto(),
	strCheck("haMasterAddress", func(c *BrokerConfig) *string { return &c.HAMasterAddress }, checkOptHostPort,
		"Slave only: master HA address host:port; empty = learnt from the nameserver registration."),
	enumKey("brokerRole", func(c *BrokerConfig) *string { return &c.BrokerRole }, []string{RoleAsyncMaster, RoleSyncMaster, RoleSlave},
		"ASYNC_MASTER replicates asynchronously, SYNC_MASTER waits for the slave before answering a send, SLAVE replicates from the master."),
	enumKey("flushDiskType", func(c *BrokerConfig) *string { return &c.FlushDiskType }, []string{FlushAsync, FlushSync},
		"ASYNC_FLUSH flushes in the background; SYNC_FLUSH flushes before answering a send."),
	intKey("brokerPermission", func(c *BrokerConfig) *int { return &c.BrokerPermission }, 0, 7,
		"Permission bits 4 read, 2 write, 1 inherit; 6 = read+write, 4 = read-only (no new sends)."),

	// Registration.
	intKey("registerNameServerPeriod", func(c *BrokerConfig) *int { return &c.RegisterNameServerPeriod }, 10000, 60000,
		"Interval between registrations with the nameservers, 10000..60000 (Java clamps; gorocket rejects).").unit("ms"),
	intKey("registerBrokerTimeoutMills", func(c *BrokerConfig) *int { return &c.RegisterBrokerTimeoutMills }, 1, unlimited,
		"Timeout of one REGISTER_BROKER call.").unit("ms"),
	boolKey("forceRegister", func(c *BrokerConfig) *bool { return &c.ForceRegister },
		"Always send a full registration; false = ask QUERY_DATA_VERSION first."),
	boolKey("compressedRegister", func(c *BrokerConfig) *bool { return &c.CompressedRegister },
		"Send the registration body zlib-compressed."),

	// Topics, groups and messages.
	boolKey("autoCreateTopicEnable", func(c *BrokerConfig) *bool { return &c.AutoCreateTopicEnable },
		"Create unknown topics on first send (through the TBW102 template topic). Recommended off in production."),
	boolKey("autoCreateSubscriptionGroup", func(c *BrokerConfig) *bool { return &c.AutoCreateSubscriptionGroup },
		"Create unknown consumer groups on first use."),
	intKey("defaultTopicQueueNums", func(c *BrokerConfig) *int { return &c.DefaultTopicQueueNums }, 1, 1024,
		"Queue count of auto-created topics."),
	boolKey("clusterTopicEnable", func(c *BrokerConfig) *bool { return &c.ClusterTopicEnable },
		"The <brokerClusterName> topic is writable (perm 7); false = perm 1."),
	boolKey("brokerTopicEnable", func(c *BrokerConfig) *bool { return &c.BrokerTopicEnable },
		"The <brokerName> topic is writable (perm 7); false = perm 1."),
	boolKey("traceTopicEnable", func(c *BrokerConfig) *bool { return &c.TraceTopicEnable },
		"Create the message-trace topic msgTraceTopicName at startup."),
	strCheck("msgTraceTopicName", func(c *BrokerConfig) *string { return &c.MsgTraceTopicName }, checkNonEmptyTopicName,
		"Name of the message-trace topic."),
	boolKey("storeReplyMessageEnable", func(c *BrokerConfig) *bool { return &c.StoreReplyMessageEnable },
		"Store request/reply reply messages in <cluster>_REPLY_TOPIC as well as pushing them."),
	intKey("maxMessageSize", func(c *BrokerConfig) *int { return &c.MaxMessageSize }, 1, unlimited,
		"Largest accepted message body, bytes (4 MiB; the guides use 65536); must be smaller than a commitlog file.").unit("bytes"),
	strCheck("messageDelayLevel", func(c *BrokerConfig) *string { return &c.MessageDelayLevel }, checkDelayLevels,
		"Delay of each delay level 1..N, space-separated numbers with unit s, m, h or d."),
	intKey("defaultQueryMaxNum", func(c *BrokerConfig) *int { return &c.DefaultQueryMaxNum }, 1, unlimited,
		"Maximum results of a message query by key or unique key."),
	boolKey("notifyConsumerIdsChangedEnable", func(c *BrokerConfig) *bool { return &c.NotifyConsumerIDsChangedEnable },
		"Tell a group's consumers when its membership changes, so they rebalance at once."),
	boolKey("enablePropertyFilter", func(c *BrokerConfig) *bool { return &c.EnablePropertyFilter },
		"Allow SQL92 property filters in subscriptions."),
	boolKey("filterSupportRetry", func(c *BrokerConfig) *bool { return &c.FilterSupportRetry },
		"Apply SQL92 filters to retry topics too."),

	// Pull.
	boolKey("longPollingEnable", func(c *BrokerConfig) *bool { return &c.LongPollingEnable },
		"Hold pulls that find no message until one arrives or the client's suspend timeout passes; false = shortPollingTimeMills."),
	intKey("shortPollingTimeMills", func(c *BrokerConfig) *int { return &c.ShortPollingTimeMills }, 1, unlimited,
		"Hold time of a pull when long polling is off.").unit("ms"),
	boolKey("slaveReadEnable", func(c *BrokerConfig) *bool { return &c.SlaveReadEnable },
		"Let a master redirect consumers to a slave when the data is no longer in memory, and let slaves serve pulls."),
	intKey("accessMessageInMemoryMaxRatio", func(c *BrokerConfig) *int { return &c.AccessMessageInMemoryMaxRatio }, 0, 100,
		"Share of memory under which pulled data counts as 'in memory' for the transfer limits.").unit("percent"),
	intKey("maxTransferBytesOnMessageInMemory", func(c *BrokerConfig) *int { return &c.MaxTransferBytesOnMessageInMemory }, 1, unlimited,
		"Maximum bytes per pull response when the data is in memory.").unit("bytes"),
	intKey("maxTransferCountOnMessageInMemory", func(c *BrokerConfig) *int { return &c.MaxTransferCountOnMessageInMemory }, 1, unlimited,
		"Maximum messages per pull response when the data is in memory."),
	intKey("maxTransferBytesOnMessageInDisk", func(c *BrokerConfig) *int { return &c.MaxTransferBytesOnMessageInDisk }, 1, unlimited,
		"Maximum bytes per pull response when the data is on disk.").unit("bytes"),
	intKey("maxTransferCountOnMessageInDisk", func(c *BrokerConfig) *int { return &c.MaxTransferCountOnMessageInDisk }, 1, unlimited,
		"Maximum messages per pull response when the data is on disk."),

	// Transactions.
	intKey("transactionTimeOut", func(c *BrokerConfig) *int { return &c.TransactionTimeOut }, 0, unlimited,
		"Age after which an unresolved half message is checked back with its producer.").unit("ms"),
	intKey("transactionCheckMax", func(c *BrokerConfig) *int { return &c.TransactionCheckMax }, 1, unlimited,
		"Check-backs of one half message before it is discarded."),
	intKey("transactionCheckInterval", func(c *BrokerConfig) *int { return &c.TransactionCheckInterval }, 1, unlimited,
		"Interval between scans for half messages to check back.").unit("ms"),
	boolKey("checkTransactionMessageEnable", func(c *BrokerConfig) *bool { return &c.CheckTransactionMessageEnable },
		"RocketMQ 3.x key kept by the guides: false disables transaction check-back (Java 4.x ignores it; gorocket honours it).").ext(),
	boolKey("rejectTransactionMessage", func(c *BrokerConfig) *bool { return &c.RejectTransactionMessage },
		"Refuse transactional (half) messages."),

	// Request processing.
	intKey("sendMessageThreadPoolNums", func(c *BrokerConfig) *int { return &c.SendMessageThreadPoolNums }, 1, 1024,
		"Concurrent send handlers (Java 4.9 default 1; the guides use 128, DLedger 16)."),
	intKey("pullMessageThreadPoolNums", func(c *BrokerConfig) *int { return &c.PullMessageThreadPoolNums }, 0, 1024,
		"Concurrent pull handlers; 0 = 16 + 2 x CPUs (Java's formula).").auto(),
	intKey("queryMessageThreadPoolNums", func(c *BrokerConfig) *int { return &c.QueryMessageThreadPoolNums }, 0, 1024,
		"Concurrent query handlers; 0 = 8 + CPUs.").auto(),
	intKey("adminBrokerThreadPoolNums", func(c *BrokerConfig) *int { return &c.AdminBrokerThreadPoolNums }, 1, 1024,
		"Concurrent admin-request handlers."),
	intKey("clientManageThreadPoolNums", func(c *BrokerConfig) *int { return &c.ClientManageThreadPoolNums }, 1, 1024,
		"Concurrent client-management handlers (unregister, check config)."),
	intKey("consumerManageThreadPoolNums", func(c *BrokerConfig) *int { return &c.ConsumerManageThreadPoolNums }, 1, 1024,
		"Concurrent consumer-management handlers (offsets, consumer lists)."),
	intKey("heartbeatThreadPoolNums", func(c *BrokerConfig) *int { return &c.HeartbeatThreadPoolNums }, 0, 1024,
		"Concurrent heartbeat handlers; 0 = min(32, CPUs).").auto(),
	intKey("endTransactionThreadPoolNums", func(c *BrokerConfig) *int { return &c.EndTransactionThreadPoolNums }, 0, 1024,
		"Concurrent END_TRANSACTION handlers; 0 = 8 + 2 x CPUs.").auto(),
	intKey("sendThreadPoolQueueCapacity", func(c *BrokerConfig) *int { return &c.SendThreadPoolQueueCapacity }, 1, unlimited,
		"Send requests that may wait for a handler; beyond it the broker answers SYSTEM_BUSY."),
	intKey("pullThreadPoolQueueCapacity", func(c *BrokerConfig) *int { return &c.PullThreadPoolQueueCapacity }, 1, unlimited,
		"Pull requests that may wait for a handler."),
	intKey("waitTimeMillsInSendQueue", func(c *BrokerConfig) *int { return &c.WaitTimeMillsInSendQueue }, 1, unlimited,
		"A send that waited longer than this for a handler is answered SYSTEM_BUSY.").unit("ms"),
	intKey("serverChannelMaxIdleTimeSeconds", func(c *BrokerConfig) *int { return &c.ServerChannelMaxIdleTimeSeconds }, 1, unlimited,
		"Close connections idle in both directions for this long.").unit("s"),

	// Store paths.
	strKey("storePathRootDir", func(c *BrokerConfig) *string { return &c.StorePathRootDir },
		"Store root; empty = $HOME/store. Each broker on a host needs its own."),
	strKey("storePathCommitLog", func(c *BrokerConfig) *string { return &c.StorePathCommitLog },
		"CommitLog directory; empty = <storePathRootDir>/commitlog (Java 4.x: $HOME/store/commitlog whatever the root)."),
	strKey("storePathConsumeQueue", func(c *BrokerConfig) *string { return &c.StorePathConsumeQueue },
		"ConsumeQueue directory; empty = <storePathRootDir>/consumequeue (Java 4.x ignores this key).").ext(),
	strKey("storePathIndex", func(c *BrokerConfig) *string { return &c.StorePathIndex },
		"Index directory; empty = <storePathRootDir>/index (Java 4.x ignores this key).").ext(),
	strKey("storeCheckpoint", func(c *BrokerConfig) *string { return &c.StoreCheckpoint },
		"Checkpoint file; empty = <storePathRootDir>/checkpoint (Java 4.x ignores this key).").ext(),
	strKey("abortFile", func(c *BrokerConfig) *string { return &c.AbortFile },
		"Abort marker file; empty = <storePathRootDir>/abort (Java 4.x ignores this key).").ext(),

	// Store files and flushing.
	int64Key("mappedFileSizeCommitLog", func(c *BrokerConfig) *int64 { return &c.MapedFileSizeCommitLog }, 4096, maxInt32,
		"Size of each commitlog file, bytes (1 GiB). The guides' spelling mapedFileSizeCommitLog is accepted (Java 4.9 ignores it).").
		alias("mapedFileSizeCommitLog").unit("bytes"),
	int64Key("mappedFileSizeConsumeQueue", func(c *BrokerConfig) *int64 { return &c.MapedFileSizeConsumeQueue }, ConsumeQueueUnitSize, maxInt32,
		"Size of each consume-queue file in BYTES, a multiple of 20 (one entry): default 6000000 = 300,000 entries. "+
			"The guides' mapedFileSizeConsumeQueue=300000 means 300000 bytes = 15,000 entries.").
		alias("mapedFileSizeConsumeQueue").unit("bytes").
		validate(func(c *BrokerConfig) error {
			if c.MapedFileSizeConsumeQueue%ConsumeQueueUnitSize != 0 {
				return fmt.Errorf("%d is not a multiple of %d (the consume-queue entry size)", c.MapedFileSizeConsumeQueue, ConsumeQueueUnitSize)
			}
			return nil
		}),
	intKey("flushIntervalCommitLog", func(c *BrokerConfig) *int { return &c.FlushIntervalCommitLog }, 1, unlimited,
		"ASYNC_FLUSH: interval of the commitlog flusher.").unit("ms"),
	intKey("flushCommitLogLeastPages", func(c *BrokerConfig) *int { return &c.FlushCommitLogLeastPages }, 0, unlimited,
		"ASYNC_FLUSH: flush the commitlog only when at least this many 4 KiB pages are dirty (0 = any)."),
	intKey("flushCommitLogThoroughInterval", func(c *BrokerConfig) *int { return &c.FlushCommitLogThoroughInterval }, 0, unlimited,
		"Flush the commitlog regardless of flushCommitLogLeastPages at least this often.").unit("ms"),
	intKey("flushIntervalConsumeQueue", func(c *BrokerConfig) *int { return &c.FlushIntervalConsumeQueue }, 1, unlimited,
		"Interval of the consume-queue flusher.").unit("ms"),
	intKey("flushConsumeQueueLeastPages", func(c *BrokerConfig) *int { return &c.FlushConsumeQueueLeastPages }, 0, unlimited,
		"Flush consume queues only when at least this many 4 KiB pages are dirty (0 = any)."),
	intKey("flushConsumeQueueThoroughInterval", func(c *BrokerConfig) *int { return &c.FlushConsumeQueueThoroughInterval }, 0, unlimited,
		"Flush consume queues regardless of flushConsumeQueueLeastPages at least this often.").unit("ms"),
	intKey("syncFlushTimeout", func(c *BrokerConfig) *int { return &c.SyncFlushTimeout }, 1, unlimited,
		"SYNC_FLUSH: longest wait for the flush before answering FLUSH_DISK_TIMEOUT.").unit("ms"),
	boolKey("checkCRCOnRecover", func(c *BrokerConfig) *bool { return &c.CheckCRCOnRecover },
		"Verify body CRCs during abnormal recovery."),
	boolKey("messageIndexEnable", func(c *BrokerConfig) *bool { return &c.MessageIndexEnable },
		"Build the key/unique-key index files."),
	boolKey("messageIndexSafe", func(c *BrokerConfig) *bool { return &c.MessageIndexSafe },
		"Include the index checkpoint when choosing the recovery start point."),
	intKey("maxHashSlotNum", func(c *BrokerConfig) *int { return &c.MaxHashSlotNum }, 1, unlimited,
		"Hash slots per index file."),
	intKey("maxIndexNum", func(c *BrokerConfig) *int { return &c.MaxIndexNum }, 1, unlimited,
		"Entries per index file."),

	// Retention.
	strCheck("deleteWhen", func(c *BrokerConfig) *string { return &c.DeleteWhen }, checkDeleteWhen,
		"Hours of day (00..23, ';'-separated, e.g. 04 or 04;16) at which expired files are deleted."),
	intKey("fileReservedTime", func(c *BrokerConfig) *int { return &c.FileReservedTime }, 1, unlimited,
		"Hours a commitlog file is kept after its last write (Java 4.x 72; the guides use 48 or 120).").unit("hours"),
	intKey("diskMaxUsedSpaceRatio", func(c *BrokerConfig) *int { return &c.DiskMaxUsedSpaceRatio }, 10, 95,
		"Disk usage above which files are deleted early whatever the time, 10..95 (Java clamps; gorocket rejects). The guides use 88.").unit("percent"),
	intKey("cleanResourceInterval", func(c *BrokerConfig) *int { return &c.CleanResourceInterval }, 1, unlimited,
		"Interval of the expired-file cleaner.").unit("ms"),
	intKey("deleteCommitLogFilesInterval", func(c *BrokerConfig) *int { return &c.DeleteCommitLogFilesInterval }, 0, unlimited,
		"Pause between deleting two commitlog files.").unit("ms"),
	intKey("deleteConsumeQueueFilesInterval", func(c *BrokerConfig) *int { return &c.DeleteConsumeQueueFilesInterval }, 0, unlimited,
		"Pause between deleting two consume-queue files.").unit("ms"),
	intKey("destroyMapedFileIntervalForcibly", func(c *BrokerConfig) *int { return &c.DestroyMapedFileIntervalForcibly }, 0, unlimited,
		"A file still in use this long after deletion was requested is deleted anyway.").unit("ms"),
	intKey("redeleteHangedFileInterval", func(c *BrokerConfig) *int { return &c.RedeleteHangedFileInterval }, 0, unlimited,
		"Retry interval for a file whose deletion is stuck.").unit("ms"),
	boolKey("cleanFileForciblyEnable", func(c *BrokerConfig) *bool { return &c.CleanFileForciblyEnable },
		"When the disk is over diskMaxUsedSpaceRatio, delete files even if not yet expired."),

	// Replication.
	intKey("slaveTimeout", func(c *BrokerConfig) *int { return &c.SlaveTimeout }, 1, unlimited,
		"SYNC_MASTER: longest wait for the slave before answering FLUSH_SLAVE_TIMEOUT (Java >= 4.9.3; earlier used syncFlushTimeout).").unit("ms"),
	intKey("haSendHeartbeatInterval", func(c *BrokerConfig) *int { return &c.HASendHeartbeatInterval }, 1, unlimited,
		"Slave: report interval when idle; master: heartbeat-frame interval.").unit("ms"),
	intKey("haHousekeepingInterval", func(c *BrokerConfig) *int { return &c.HAHousekeepingInterval }, 1, unlimited,
		"Close an HA connection silent for this long.").unit("ms"),
	intKey("haTransferBatchSize", func(c *BrokerConfig) *int { return &c.HATransferBatchSize }, 1, unlimited,
		"Largest HA data frame body.").unit("bytes"),
	intKey("haSlaveFallbehindMax", func(c *BrokerConfig) *int { return &c.HASlaveFallbehindMax }, 0, unlimited,
		"SYNC_MASTER: a slave further behind than this counts as unavailable (SLAVE_NOT_AVAILABLE).").unit("bytes"),

	// DLedger.
	boolKey("enableDLegerCommitLog", func(c *BrokerConfig) *bool { return &c.EnableDLegerCommitLog },
		"DLedger (Raft) mode: the group elects its master; brokerId and brokerRole are ignored."),
	strKey("dLegerGroup", func(c *BrokerConfig) *string { return &c.DLegerGroup },
		"DLedger group name, normally = brokerName."),
	strCheck("dLegerPeers", func(c *BrokerConfig) *string { return &c.DLegerPeers }, checkDLedgerPeers,
		"DLedger group members, id-host:port;... e.g. n0-10.0.0.1:40911;n1-10.0.0.2:40911;n2-10.0.0.3:40911."),
	strKey("dLegerSelfId", func(c *BrokerConfig) *string { return &c.DLegerSelfID },
		"This node's id in dLegerPeers."),
})

// BrokerKeys returns every accepted broker key with its default, type, unit,
// environment variable and documentation, in Render order.
func BrokerKeys() []KeyInfo { return brokerRegistry.infos() }

// ParseBroker parses a broker properties file over DefaultBroker(). Unknown
// and duplicate keys are returned as warnings. Invalid values are all
// collected into an ErrorList with file:line; the returned config then has
// every valid key applied. ParseBroker does not run Validate (call it after
// ApplyEnv).
func ParseBroker(r io.Reader, filename string) (BrokerConfig, []Warning, error) {
	c := DefaultBroker()
	w, err := brokerRegistry.parse(&c, r, filename)
	return c, w, err
}

// LoadBroker is ParseBroker on the file at path. A file that cannot be
// opened or read yields the I/O error itself (errors.Is(err, fs.ErrNotExist)
// works), not an ErrorList.
func LoadBroker(path string) (BrokerConfig, []Warning, error) {
	c := DefaultBroker()
	w, err := brokerRegistry.load(&c, path)
	return c, w, err
}

// Set assigns one key (canonical name or alias) from its properties-syntax
// value, with the same checks as ParseBroker. The error is a *Error with Key
// set and no position; an unknown key is an error here.
func (c *BrokerConfig) Set(key, value string) error {
	if err := brokerRegistry.set(c, key, value); err != nil {
		return err
	}
	return nil
}

// Get returns the value of key (canonical name or alias) in properties syntax.
func (c *BrokerConfig) Get(key string) (string, bool) { return brokerRegistry.get(c, key) }

// ApplyEnv applies container overrides: for every key, the variable
// EnvName(key) (GOROCKET_ + UPPER_SNAKE key, see KeyInfo.Env) overrides the
// file. Then, as in Apache RocketMQ, NAMESRV_ADDR is used only when
// namesrvAddr is still empty; when it is ignored a Warning says so. Pass
// os.LookupEnv. All invalid values are collected in an ErrorList whose
// entries name the variable.
func (c *BrokerConfig) ApplyEnv(lookup func(string) (string, bool)) ([]Warning, error) {
	err := brokerRegistry.applyEnv(c, lookup)
	var warns []Warning
	if v, ok := lookup("NAMESRV_ADDR"); ok && strings.TrimSpace(v) != "" {
		if len(c.NamesrvAddr) == 0 {
			if e := brokerRegistry.set(c, "namesrvAddr", v); e != nil {
				e.File = "env NAMESRV_ADDR"
				l, _ := err.(ErrorList)
				err = append(l, e)
			}
		} else {
			warns = append(warns, Warning{File: "env NAMESRV_ADDR", Key: "namesrvAddr",
				Msg: "ignored: namesrvAddr is already set by the file or " + EnvName("namesrvAddr")})
		}
	}
	return warns, err
}

// Validate checks every value and the cross-field rules; it returns an
// ErrorList of all problems, or nil. It does not need Resolve to have run.
func (c BrokerConfig) Validate() error {
	errs := brokerRegistry.checkAll(&c)
	add := func(key, format string, a ...any) {
		errs = append(errs, &Error{Key: key, Msg: fmt.Sprintf(format, a...)})
	}
	if c.EnableDLegerCommitLog {
		if c.DLegerGroup == "" {
			add("dLegerGroup", "must be set when enableDLegerCommitLog=true")
		}
		peers, err := parseDLedgerPeers(c.DLegerPeers)
		switch {
		case err != nil: // already reported
		case len(peers) == 0:
			add("dLegerPeers", "must be set when enableDLegerCommitLog=true")
		case c.DLegerSelfID == "":
			add("dLegerSelfId", "must be set when enableDLegerCommitLog=true")
		default:
			found := false
			for _, p := range peers {
				found = found || p.ID == c.DLegerSelfID
			}
			if !found {
				add("dLegerSelfId", "%q is not one of the ids in dLegerPeers", c.DLegerSelfID)
			}
		}
	} else {
		master := c.BrokerRole == RoleAsyncMaster || c.BrokerRole == RoleSyncMaster
		switch {
		case c.BrokerID == 0 && c.BrokerRole == RoleSlave:
			add("brokerRole", "SLAVE requires brokerId > 0 (brokerId 0 is the master)")
		case c.BrokerID > 0 && master:
			add("brokerRole", "%s requires brokerId=0 (brokerId %d is a slave; use brokerRole=SLAVE)", c.BrokerRole, c.BrokerID)
		}
	}
	if c.ListenPort >= 3 && c.ListenPort <= 65534 {
		ha := c.HAListenPort
		if ha == 0 {
			ha = c.ListenPort + 1
		}
		if ha == c.ListenPort || ha == c.ListenPort-2 {
			add("haListenPort", "%d collides with listenPort %d or its VIP port %d", ha, c.ListenPort, c.ListenPort-2)
		}
	}
	if int64(c.MaxMessageSize) >= c.MapedFileSizeCommitLog && c.MapedFileSizeCommitLog > 0 {
		add("maxMessageSize", "%d must be smaller than mappedFileSizeCommitLog %d (a message never spans commitlog files)",
			c.MaxMessageSize, c.MapedFileSizeCommitLog)
	}
	r := c.Resolve("host", "/home")
	paths := []struct{ key, path string }{
		{"storePathCommitLog", r.StorePathCommitLog}, {"storePathConsumeQueue", r.StorePathConsumeQueue},
		{"storePathIndex", r.StorePathIndex}, {"storeCheckpoint", r.StoreCheckpoint}, {"abortFile", r.AbortFile},
	}
	for i := range paths {
		for j := 0; j < i; j++ {
			if filepath.Clean(paths[i].path) == filepath.Clean(paths[j].path) {
				add(paths[i].key, "same path %q as %s", paths[i].path, paths[j].key)
			}
		}
	}
	return errs.Err()
}

// Resolve returns a copy with the automatic values filled in:
// BrokerName = hostname, StorePathRootDir = homeDir/store, the other store
// paths under the root (commitlog, consumequeue, index, checkpoint, abort),
// HAListenPort = ListenPort+1 and BrokerIP2 = BrokerIP1. BrokerIP1 and the
// automatic thread-pool sizes are left to the daemon; set BrokerIP1 before
// calling Resolve so BrokerIP2 follows it. Values set explicitly are kept.
func (c BrokerConfig) Resolve(hostname, homeDir string) BrokerConfig {
	if c.BrokerName == "" {
		c.BrokerName = hostname
	}
	if c.StorePathRootDir == "" {
		c.StorePathRootDir = filepath.Join(homeDir, "store")
	}
	fill := func(p *string, name string) {
		if *p == "" {
			*p = filepath.Join(c.StorePathRootDir, name)
		}
	}
	fill(&c.StorePathCommitLog, "commitlog")
	fill(&c.StorePathConsumeQueue, "consumequeue")
	fill(&c.StorePathIndex, "index")
	fill(&c.StoreCheckpoint, "checkpoint")
	fill(&c.AbortFile, "abort")
	if c.HAListenPort == 0 {
		c.HAListenPort = c.ListenPort + 1
	}
	if c.BrokerIP2 == "" {
		c.BrokerIP2 = c.BrokerIP1
	}
	return c
}

// DeleteHours returns the hours of deleteWhen (nil if invalid; see Validate).
func (c BrokerConfig) DeleteHours() []int {
	h, _ := parseDeleteWhen(c.DeleteWhen)
	return h
}

// DelayLevels returns the delay of each level of messageDelayLevel; level
// L (1-based) is element L-1.
func (c BrokerConfig) DelayLevels() ([]time.Duration, error) {
	d, err := parseDelayLevels(c.MessageDelayLevel)
	if err != nil {
		return nil, &Error{Key: "messageDelayLevel", Msg: err.Error()}
	}
	return d, nil
}

// DLedgerPeers parses dLegerPeers.
func (c BrokerConfig) DLedgerPeers() ([]DLedgerPeer, error) {
	p, err := parseDLedgerPeers(c.DLegerPeers)
	if err != nil {
		return nil, &Error{Key: "dLegerPeers", Msg: err.Error()}
	}
	return p, nil
}

// Render writes c as properties text that ParseBroker reads back to an equal
// config. Keys come in the fixed BrokerKeys order, one per line, canonical
// spelling; keys whose value is empty or automatic (and so is their default)
// are omitted. The output is deterministic.
func (c BrokerConfig) Render() []byte {
	return brokerRegistry.render(&c, "# gorocket broker configuration (generated; keys: internal/conf BrokerKeys)\n")
}
