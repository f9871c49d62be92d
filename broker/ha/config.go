package ha

import (
	"context"
	"fmt"
	"net"
	"time"
)

// Defaults, named after the Apache RocketMQ broker properties they mirror (§8 of the protocol reference).
const (
	// DefaultTransferBatchSize is haTransferBatchSize: the largest body of one master → slave frame.
	DefaultTransferBatchSize = 32 << 10
	// DefaultHeartbeatInterval is haSendHeartbeatInterval: the slave reports its offset at least this often
	// and the master sends an empty frame after this long without data.
	DefaultHeartbeatInterval = 5 * time.Second
	// DefaultHousekeepingInterval is haHousekeepingInterval: either side closes a connection that carried
	// nothing for this long.
	DefaultHousekeepingInterval = 20 * time.Second
	// DefaultSlaveTimeout is slaveTimeout: how long WaitForReplica waits for an acknowledgement.
	DefaultSlaveTimeout = 3 * time.Second
	// DefaultSlaveFallbehindMax is haSlaveFallbehindMax: a slave this many bytes (or more) behind does not
	// count as available for synchronous replication.
	DefaultSlaveFallbehindMax = 256 << 20
	// DefaultPollInterval bounds how long the master's per-slave sender sleeps before re-checking the
	// commit log for new data when no append notification arrives (Java waits up to 100 ms).
	DefaultPollInterval = 100 * time.Millisecond
	// DefaultReconnectBackoffMin and DefaultReconnectBackoffMax bound the slave's reconnect backoff, which
	// doubles after each failed attempt and resets after a session that applied data or lasted a heartbeat
	// interval. (Java reconnects every 5 s.)
	DefaultReconnectBackoffMin = 100 * time.Millisecond
	DefaultReconnectBackoffMax = 5 * time.Second
	// DefaultDialTimeout bounds one connection attempt by the slave.
	DefaultDialTimeout = 3 * time.Second
	// DefaultMaxFrameSize bounds the body size the slave accepts in one frame. It is far above any sane
	// haTransferBatchSize and only protects the slave from allocating on a corrupt header.
	DefaultMaxFrameSize = 64 << 20
	// DefaultMaxRecordSize bounds the size of one commit-log record (or end-of-segment blank record) the
	// slave buffers while it arrives in pieces. Records are at most maxMessageSize plus headers (4 MiB +
	// 33 KiB by default), and a blank record is smaller than the record that did not fit.
	DefaultMaxRecordSize = 64 << 20
)

// MasterConfig configures a Master. Zero fields take the defaults above.
type MasterConfig struct {
	// TransferBatchSize is the largest frame body the master sends (haTransferBatchSize).
	TransferBatchSize int
	// HeartbeatInterval: after this long without sending data the master sends an empty heartbeat frame.
	HeartbeatInterval time.Duration
	// HousekeepingInterval: a slave connection that sent no offset report for this long is closed, and
	// so is one whose socket accepts no frame bytes for this long.
	HousekeepingInterval time.Duration
	// SlaveTimeout bounds WaitForReplica (slaveTimeout).
	SlaveTimeout time.Duration
	// SlaveFallbehindMax: a slave whose acknowledged offset is this many bytes or more behind the end
	// offset being waited for makes WaitForReplica fail at once with ErrSlaveNotAvailable.
	SlaveFallbehindMax int64
	// PollInterval: the longest a sender waits for an append notification before re-reading the commit
	// log's max offset. Notifications normally wake it much sooner.
	PollInterval time.Duration
}

// DefaultMasterConfig returns the default master configuration.
func DefaultMasterConfig() MasterConfig {
	return MasterConfig{
		TransferBatchSize:    DefaultTransferBatchSize,
		HeartbeatInterval:    DefaultHeartbeatInterval,
		HousekeepingInterval: DefaultHousekeepingInterval,
		SlaveTimeout:         DefaultSlaveTimeout,
		SlaveFallbehindMax:   DefaultSlaveFallbehindMax,
		PollInterval:         DefaultPollInterval,
	}
}

// withDefaults fills zero fields with their defaults.
func (c MasterConfig) withDefaults() MasterConfig {
	d := DefaultMasterConfig()
	if c.TransferBatchSize == 0 {
		c.TransferBatchSize = d.TransferBatchSize
	}
	if c.HeartbeatInterval == 0 {
		c.HeartbeatInterval = d.HeartbeatInterval
	}
	if c.HousekeepingInterval == 0 {
		c.HousekeepingInterval = d.HousekeepingInterval
	}
	if c.SlaveTimeout == 0 {
		c.SlaveTimeout = d.SlaveTimeout
	}
	if c.SlaveFallbehindMax == 0 {
		c.SlaveFallbehindMax = d.SlaveFallbehindMax
	}
	if c.PollInterval == 0 {
		c.PollInterval = d.PollInterval
	}
	return c
}

// Validate reports a configuration that cannot work. Zero fields are valid (they mean "default").
func (c MasterConfig) Validate() error {
	c = c.withDefaults()
	switch {
	case c.TransferBatchSize < 0:
		return fmt.Errorf("%w: TransferBatchSize %d is negative", ErrInvalidConfig, c.TransferBatchSize)
	case c.HeartbeatInterval < 0:
		return fmt.Errorf("%w: HeartbeatInterval %v is negative", ErrInvalidConfig, c.HeartbeatInterval)
	case c.HousekeepingInterval < 0:
		return fmt.Errorf("%w: HousekeepingInterval %v is negative", ErrInvalidConfig, c.HousekeepingInterval)
	case c.HousekeepingInterval <= c.HeartbeatInterval:
		return fmt.Errorf("%w: HousekeepingInterval %v must exceed HeartbeatInterval %v",
			ErrInvalidConfig, c.HousekeepingInterval, c.HeartbeatInterval)
	case c.SlaveTimeout < 0:
		return fmt.Errorf("%w: SlaveTimeout %v is negative", ErrInvalidConfig, c.SlaveTimeout)
	case c.SlaveFallbehindMax < 0:
		return fmt.Errorf("%w: SlaveFallbehindMax %d is negative", ErrInvalidConfig, c.SlaveFallbehindMax)
	case c.PollInterval < 0:
		return fmt.Errorf("%w: PollInterval %v is negative", ErrInvalidConfig, c.PollInterval)
	}
	return nil
}

// DialFunc opens a connection to the master's HA address. Tests substitute one that wraps the connection
// to inject faults; the default is a net.Dialer bound by DialTimeout.
type DialFunc func(ctx context.Context, addr string) (net.Conn, error)

// SlaveConfig configures a Slave. Zero fields take the defaults above.
type SlaveConfig struct {
	// HeartbeatInterval: the slave reports its max offset at least this often (haSendHeartbeatInterval),
	// besides reporting after every applied frame.
	HeartbeatInterval time.Duration
	// HousekeepingInterval: a connection on which nothing (data or heartbeat) arrived for this long is
	// closed and redialled; so is one whose reports cannot be written for this long.
	HousekeepingInterval time.Duration
	// ReconnectBackoffMin/Max bound the delay between connection attempts.
	ReconnectBackoffMin time.Duration
	ReconnectBackoffMax time.Duration
	// DialTimeout bounds one connection attempt.
	DialTimeout time.Duration
	// MaxFrameSize bounds the accepted frame body size.
	MaxFrameSize int
	// MaxRecordSize bounds one commit-log record; a larger declared size is a protocol error.
	MaxRecordSize int
	// Dial opens connections; nil means a plain TCP dial.
	Dial DialFunc
}

// DefaultSlaveConfig returns the default slave configuration (with a nil Dial, meaning plain TCP).
func DefaultSlaveConfig() SlaveConfig {
	return SlaveConfig{
		HeartbeatInterval:    DefaultHeartbeatInterval,
		HousekeepingInterval: DefaultHousekeepingInterval,
		ReconnectBackoffMin:  DefaultReconnectBackoffMin,
		ReconnectBackoffMax:  DefaultReconnectBackoffMax,
		DialTimeout:          DefaultDialTimeout,
		MaxFrameSize:         DefaultMaxFrameSize,
		MaxRecordSize:        DefaultMaxRecordSize,
	}
}

func (c SlaveConfig) withDefaults() SlaveConfig {
	d := DefaultSlaveConfig()
	if c.HeartbeatInterval == 0 {
		c.HeartbeatInterval = d.HeartbeatInterval
	}
	if c.HousekeepingInterval == 0 {
		c.HousekeepingInterval = d.HousekeepingInterval
	}
	if c.ReconnectBackoffMin == 0 {
		c.ReconnectBackoffMin = d.ReconnectBackoffMin
	}
	if c.ReconnectBackoffMax == 0 {
		c.ReconnectBackoffMax = d.ReconnectBackoffMax
	}
	if c.DialTimeout == 0 {
		c.DialTimeout = d.DialTimeout
	}
	if c.MaxFrameSize == 0 {
		c.MaxFrameSize = d.MaxFrameSize
	}
	if c.MaxRecordSize == 0 {
		c.MaxRecordSize = d.MaxRecordSize
	}
	if c.Dial == nil {
		timeout := c.DialTimeout
		c.Dial = func(ctx context.Context, addr string) (net.Conn, error) {
			d := net.Dialer{Timeout: timeout}
			return d.DialContext(ctx, "tcp", addr)
		}
	}
	return c
}

// Validate reports a configuration that cannot work. Zero fields are valid (they mean "default").
func (c SlaveConfig) Validate() error {
	c = c.withDefaults()
	switch {
	case c.HeartbeatInterval < 0:
		return fmt.Errorf("%w: HeartbeatInterval %v is negative", ErrInvalidConfig, c.HeartbeatInterval)
	case c.HousekeepingInterval <= c.HeartbeatInterval:
		return fmt.Errorf("%w: HousekeepingInterval %v must exceed HeartbeatInterval %v",
			ErrInvalidConfig, c.HousekeepingInterval, c.HeartbeatInterval)
	case c.ReconnectBackoffMin < 0 || c.ReconnectBackoffMax < c.ReconnectBackoffMin:
		return fmt.Errorf("%w: reconnect backoff [%v, %v] is not a valid range",
			ErrInvalidConfig, c.ReconnectBackoffMin, c.ReconnectBackoffMax)
	case c.DialTimeout < 0:
		return fmt.Errorf("%w: DialTimeout %v is negative", ErrInvalidConfig, c.DialTimeout)
	case c.MaxFrameSize < 0:
		return fmt.Errorf("%w: MaxFrameSize %d is negative", ErrInvalidConfig, c.MaxFrameSize)
	case c.MaxRecordSize < minRecordSize:
		return fmt.Errorf("%w: MaxRecordSize %d is below %d", ErrInvalidConfig, c.MaxRecordSize, minRecordSize)
	}
	return nil
}
