// Package topic is the broker's topic configuration table (config/topics.json).
//
// The table is guarded by one mutex; persistence happens with the mutex held so that the file
// order equals the change order (changes are rare: admin calls, auto-create). The on-change hook
// runs after the mutex is released.
package topic

import (
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"strings"
	"sync"
	"time"

	"github.com/gorocket/gorocket/broker/internal/fsutil"
	"github.com/gorocket/gorocket/remoting/protocol"
)

// Permission bits.
const (
	PermInherit  = protocol.PermInherit
	PermWrite    = protocol.PermWrite
	PermRead     = protocol.PermRead
	PermPriority = protocol.PermPriority
)

// Topic filter types.
const (
	FilterSingleTag = protocol.TopicFilterSingleTag
	FilterMultiTag  = protocol.TopicFilterMultiTag
)

// Well-known topics.
const (
	AutoCreateTopicKey = "TBW102"
	SelfTestTopic      = "SELF_TEST_TOPIC"
	BenchmarkTopic     = "BenchmarkTest"
	OffsetMovedEvent   = "OFFSET_MOVED_EVENT"
	ScheduleTopic      = "SCHEDULE_TOPIC_XXXX"
	TransHalfTopic     = "RMQ_SYS_TRANS_HALF_TOPIC"
	TransOpHalfTopic   = "RMQ_SYS_TRANS_OP_HALF_TOPIC"
	TransCheckMaxTopic = "TRANS_CHECK_MAX_TIME_TOPIC"
	RetryPrefix        = "%RETRY%"
	DLQPrefix          = "%DLQ%"
	MaxNameLength      = 127
)

// Errors.
var (
	ErrInvalidName   = errors.New("topic: invalid topic name")
	ErrSystemTopic   = errors.New("topic: system topic")
	ErrNotFound      = errors.New("topic: not found")
	ErrInvalidConfig = errors.New("topic: invalid config")
)

// Config is one topic's configuration, in topics.json / TopicConfigSerializeWrapper form.
type Config = protocol.TopicConfig

// Readable reports PERM_READ.
func Readable(c Config) bool { return c.Perm&PermRead != 0 }

// Writable reports PERM_WRITE.
func Writable(c Config) bool { return c.Perm&PermWrite != 0 }

// QueueNums is max(read, write): the number of queues that may hold data.
func QueueNums(c Config) int { return max(c.ReadQueueNums, c.WriteQueueNums) }

func equal(a, b Config) bool {
	return a.TopicName == b.TopicName && a.ReadQueueNums == b.ReadQueueNums && a.WriteQueueNums == b.WriteQueueNums &&
		a.Perm == b.Perm && a.TopicFilterType == b.TopicFilterType && a.TopicSysFlag == b.TopicSysFlag &&
		a.Order == b.Order && maps.Equal(a.Attributes, b.Attributes)
}

// DataVersion stamps the table: timestamp of the last change and a change counter.
type DataVersion = protocol.DataVersion

// file is the topics.json document.
type file = protocol.TopicConfigSerializeWrapper

// ValidateName checks a topic name: non-blank, at most 127 characters of [%|a-zA-Z0-9_-].
func ValidateName(name string) error {
	if strings.TrimSpace(name) == "" {
		return fmt.Errorf("%w: the specified topic is blank", ErrInvalidName)
	}
	if len(name) > MaxNameLength {
		return fmt.Errorf("%w: the specified topic is longer than topic max length %d", ErrInvalidName, MaxNameLength)
	}
	for i := 0; i < len(name); i++ {
		c := name[i]
		ok := c == '%' || c == '|' || c == '_' || c == '-' ||
			(c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9')
		if !ok {
			return fmt.Errorf("%w: the specified topic[%s] contains illegal characters, allowing only ^[%%|a-zA-Z0-9_-]+$", ErrInvalidName, name)
		}
	}
	return nil
}

// IsReservedForSend reports topics producers may not send to directly.
func IsReservedForSend(name string) bool {
	switch name {
	case ScheduleTopic, TransHalfTopic, TransOpHalfTopic, TransCheckMaxTopic, SelfTestTopic, OffsetMovedEvent:
		return true
	}
	return false
}

// IsSystemTopic reports topics an admin may not create or delete.
func IsSystemTopic(name string) bool {
	return IsReservedForSend(name) || name == AutoCreateTopicKey || strings.HasPrefix(name, "rmq_sys_")
}

// Manager owns the topic table.
type Manager struct {
	log      *slog.Logger
	path     string
	onChange func()

	mu    sync.RWMutex
	table map[string]Config
	dv    DataVersion
}

// Open loads path (config/topics.json; absent = empty). onChange (may be nil) is called after
// every change, outside the lock; the broker uses it to re-register with the nameservers.
func Open(logger *slog.Logger, path string, onChange func()) (*Manager, error) {
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	m := &Manager{log: logger, path: path, onChange: onChange, table: make(map[string]Config)}
	var f file
	found, err := fsutil.ReadJSON(path, &f)
	if err != nil {
		return nil, fmt.Errorf("topic: load: %w", err)
	}
	if found {
		for k, v := range f.TopicConfigTable {
			if v.TopicName == "" {
				v.TopicName = k
			}
			m.table[k] = v
		}
		m.dv = f.DataVersion
	}
	if m.dv.Timestamp == 0 {
		m.dv.Timestamp = time.Now().UnixMilli()
	}
	return m, nil
}

// Get returns a topic's config.
func (m *Manager) Get(name string) (Config, bool) {
	m.mu.RLock()
	defer m.mu.RUnlock()
	c, ok := m.table[name]
	return c, ok
}

// Snapshot returns a copy of the table and its data version.
func (m *Manager) Snapshot() (map[string]Config, DataVersion) {
	m.mu.RLock()
	defer m.mu.RUnlock()
	return maps.Clone(m.table), m.dv
}

// DataVersion returns the current data version.
func (m *Manager) DataVersion() DataVersion {
	m.mu.RLock()
	defer m.mu.RUnlock()
	return m.dv
}

func normalize(c Config) (Config, error) {
	if err := ValidateName(c.TopicName); err != nil {
		return c, err
	}
	if c.ReadQueueNums < 0 || c.WriteQueueNums < 0 || c.ReadQueueNums > 1024*16 || c.WriteQueueNums > 1024*16 {
		return c, fmt.Errorf("%w: queue numbers %d/%d out of range", ErrInvalidConfig, c.ReadQueueNums, c.WriteQueueNums)
	}
	if c.Perm < 0 || c.Perm > 15 {
		return c, fmt.Errorf("%w: perm %d out of range", ErrInvalidConfig, c.Perm)
	}
	switch c.TopicFilterType {
	case "":
		c.TopicFilterType = FilterSingleTag
	case FilterSingleTag, FilterMultiTag:
	default:
		return c, fmt.Errorf("%w: topicFilterType %q", ErrInvalidConfig, c.TopicFilterType)
	}
	return c, nil
}

// Put creates or replaces a topic config, persists the table and fires the change hook when
// anything changed. It reports whether the table changed.
func (m *Manager) Put(c Config) (bool, error) {
	c, err := normalize(c)
	if err != nil {
		return false, err
	}
	m.mu.Lock()
	if old, ok := m.table[c.TopicName]; ok && equal(old, c) {
		m.mu.Unlock()
		return false, nil
	}
	m.table[c.TopicName] = c
	err = m.commitLocked()
	m.mu.Unlock()
	m.log.Info("topic config updated", "topic", c.TopicName, "read", c.ReadQueueNums, "write", c.WriteQueueNums, "perm", c.Perm)
	m.fire()
	return true, err
}

// PutIfAbsent creates c unless the topic exists; it returns the config in force and whether it
// was created.
func (m *Manager) PutIfAbsent(c Config) (Config, bool, error) {
	c, err := normalize(c)
	if err != nil {
		return c, false, err
	}
	m.mu.Lock()
	if old, ok := m.table[c.TopicName]; ok {
		m.mu.Unlock()
		return old, false, nil
	}
	m.table[c.TopicName] = c
	err = m.commitLocked()
	m.mu.Unlock()
	m.log.Info("topic created", "topic", c.TopicName, "read", c.ReadQueueNums, "write", c.WriteQueueNums, "perm", c.Perm)
	m.fire()
	return c, true, err
}

// CreateFromDefault implements send-time auto-creation: if topic is missing and defaultTopic
// exists with PERM_INHERIT, create topic with min(reqQueueNums, default's write queues) queues and
// the default's perm without INHERIT. The second result reports creation. When the topic cannot
// be created the error wraps ErrNotFound.
func (m *Manager) CreateFromDefault(name, defaultTopic string, reqQueueNums, topicSysFlag int) (Config, bool, error) {
	if c, ok := m.Get(name); ok {
		return c, false, nil
	}
	def, ok := m.Get(defaultTopic)
	if !ok || def.Perm&PermInherit == 0 {
		return Config{}, false, fmt.Errorf("%w: topic[%s] not exist, apply first please!", ErrNotFound, name)
	}
	n := reqQueueNums
	if n <= 0 || n > def.WriteQueueNums {
		n = def.WriteQueueNums
	}
	if n <= 0 {
		return Config{}, false, fmt.Errorf("%w: default topic %s has no write queues", ErrNotFound, defaultTopic)
	}
	return m.PutIfAbsent(Config{
		TopicName: name, ReadQueueNums: n, WriteQueueNums: n, Perm: def.Perm &^ PermInherit,
		TopicFilterType: def.TopicFilterType, TopicSysFlag: topicSysFlag,
	})
}

// Delete removes a topic. It reports whether it existed.
func (m *Manager) Delete(name string) (bool, error) {
	m.mu.Lock()
	if _, ok := m.table[name]; !ok {
		m.mu.Unlock()
		return false, nil
	}
	delete(m.table, name)
	err := m.commitLocked()
	m.mu.Unlock()
	m.log.Info("topic deleted", "topic", name)
	m.fire()
	return true, err
}

// ReplaceAll adopts another broker's table and data version (a slave following its master) when
// dv differs from the current version: the table is replaced wholesale, persisted, and the change
// hook fires. It reports whether anything was replaced.
func (m *Manager) ReplaceAll(table map[string]Config, dv DataVersion) (bool, error) {
	next := make(map[string]Config, len(table))
	for k, c := range table {
		if c.TopicName == "" {
			c.TopicName = k
		}
		nc, err := normalize(c)
		if err != nil {
			return false, fmt.Errorf("topic: replace: %s: %w", k, err)
		}
		next[nc.TopicName] = nc
	}
	m.mu.Lock()
	if m.dv == dv {
		m.mu.Unlock()
		return false, nil
	}
	m.table = next
	m.dv = dv
	var err error
	if m.path != "" {
		if werr := fsutil.WriteJSONAtomic(m.path, file{DataVersion: m.dv, TopicConfigTable: m.table}); werr != nil {
			err = fmt.Errorf("topic: persist: %w", werr)
		}
	}
	m.mu.Unlock()
	m.log.Info("topic table replaced", "topics", len(next), "counter", dv.Counter, "timestamp", dv.Timestamp)
	m.fire()
	return true, err
}

// commitLocked bumps the data version and persists. Lock must be held.
func (m *Manager) commitLocked() error {
	now := time.Now().UnixMilli()
	if now <= m.dv.Timestamp {
		now = m.dv.Timestamp + 1
	}
	m.dv.Timestamp = now
	m.dv.Counter++
	if m.path == "" {
		return nil
	}
	if err := fsutil.WriteJSONAtomic(m.path, file{DataVersion: m.dv, TopicConfigTable: m.table}); err != nil {
		return fmt.Errorf("topic: persist: %w", err)
	}
	return nil
}

func (m *Manager) fire() {
	if m.onChange != nil {
		m.onChange()
	}
}
