package broker

import (
	"fmt"
	"net"
	"strconv"
	"time"

	"github.com/gorocket/gorocket/internal/conf"
)

// Version is the broker version reported in GET_BROKER_RUNTIME_INFO.
const Version = "gorocket-4.9.8"

// Options configure a Server. Build them with OptionsFromConfig and adjust the fields tests
// need (short periods, port 0).
type Options struct {
	// Config is the resolved broker configuration (conf.BrokerConfig.Resolve has run and
	// BrokerIP1 is set).
	Config conf.BrokerConfig
	// ListenAddr is the address to bind ("host:port"; port 0 picks a free port). Default
	// ":<listenPort>".
	ListenAddr string
	// RegisterPeriod is the nameserver re-registration period (registerNameServerPeriod).
	RegisterPeriod time.Duration
	// ClientExpiry removes producers and consumers silent for this long (Java: 120 s).
	ClientExpiry time.Duration
	// HousekeepingInterval is the period of offset persistence, client expiry scans and lock
	// sweeps (Java persists offsets every 5 s and scans clients every 10 s).
	HousekeepingInterval time.Duration
	// LockLease is the orderly-consumption queue lock lifetime (60 s).
	LockLease time.Duration
	// MaxSuspend caps a pull's hold time below the client's RPC timeout (Go: 30 s).
	MaxSuspend time.Duration
	// NotifyTimeout bounds writing one NOTIFY_CONSUMER_IDS_CHANGED.
	NotifyTimeout time.Duration
	// HAListenAddr is where a master listens for slaves ("host:port"). Default: the host of
	// ListenAddr and haListenPort, or port 0 (any free port) when ListenAddr's port is 0. The
	// bound port is advertised as haServerAddr = brokerIP2:port.
	HAListenAddr string
	// SlaveSyncInterval is the period of a slave's metadata sync with its master (topics,
	// subscription groups, consumer and delay offsets; Java's SlaveSynchronize runs every 10 s).
	SlaveSyncInterval time.Duration
	// SlaveReadLagBytes is the "consumer is far behind" threshold for suggesting a pull from the
	// slave (slaveReadEnable): the last message a pull returns is more than this many bytes behind
	// the commit-log end. 0 means Java's rule: accessMessageInMemoryMaxRatio percent of the
	// machine's physical memory (the message is probably no longer in the page cache).
	SlaveReadLagBytes int64
}

// DefaultSlaveSyncInterval is the default Options.SlaveSyncInterval.
const DefaultSlaveSyncInterval = 10 * time.Second

// OptionsFromConfig returns Options for a resolved configuration.
func OptionsFromConfig(c conf.BrokerConfig) Options {
	return Options{
		Config:               c,
		ListenAddr:           net.JoinHostPort("", strconv.Itoa(c.ListenPort)),
		RegisterPeriod:       time.Duration(c.RegisterNameServerPeriod) * time.Millisecond,
		ClientExpiry:         120 * time.Second,
		HousekeepingInterval: 5 * time.Second,
		LockLease:            60 * time.Second,
		MaxSuspend:           25 * time.Second,
		NotifyTimeout:        3 * time.Second,
		SlaveSyncInterval:    DefaultSlaveSyncInterval,
	}
}

func (o *Options) setDefaults() error {
	if o.ListenAddr == "" {
		o.ListenAddr = net.JoinHostPort("", strconv.Itoa(o.Config.ListenPort))
	}
	if o.RegisterPeriod <= 0 {
		o.RegisterPeriod = 30 * time.Second
	}
	if o.ClientExpiry <= 0 {
		o.ClientExpiry = 120 * time.Second
	}
	if o.HousekeepingInterval <= 0 {
		o.HousekeepingInterval = 5 * time.Second
	}
	if o.LockLease <= 0 {
		o.LockLease = 60 * time.Second
	}
	if o.MaxSuspend <= 0 {
		o.MaxSuspend = 25 * time.Second
	}
	if o.NotifyTimeout <= 0 {
		o.NotifyTimeout = 3 * time.Second
	}
	if o.SlaveSyncInterval <= 0 {
		o.SlaveSyncInterval = DefaultSlaveSyncInterval
	}
	if o.SlaveReadLagBytes < 0 {
		return fmt.Errorf("%w: SlaveReadLagBytes %d is negative", ErrInvalidOptions, o.SlaveReadLagBytes)
	}
	if o.HAListenAddr == "" {
		host, port, err := net.SplitHostPort(o.ListenAddr)
		if err != nil {
			return fmt.Errorf("%w: listen address %q: %v", ErrInvalidOptions, o.ListenAddr, err)
		}
		haPort := strconv.Itoa(o.Config.HAListenPort)
		if port == "0" {
			haPort = "0"
		}
		o.HAListenAddr = net.JoinHostPort(host, haPort)
	}
	c := o.Config
	switch {
	case c.BrokerName == "":
		return fmt.Errorf("%w: brokerName is empty (resolve the config first)", ErrInvalidOptions)
	case c.StorePathRootDir == "":
		return fmt.Errorf("%w: storePathRootDir is empty (resolve the config first)", ErrInvalidOptions)
	case c.BrokerIP1 == "":
		return fmt.Errorf("%w: brokerIP1 is empty", ErrInvalidOptions)
	case c.EnableDLegerCommitLog:
		return fmt.Errorf("%w: enableDLegerCommitLog=true: DLedger mode is not implemented", ErrInvalidOptions)
	}
	if _, err := c.DelayLevels(); err != nil {
		return fmt.Errorf("%w: %v", ErrInvalidOptions, err)
	}
	return nil
}
