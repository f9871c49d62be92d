// Package group is the broker's subscription-group table (config/subscriptionGroup.json).
//
// One mutex guards the table; it is persisted with the mutex held so the file order equals the
// change order.
package group

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

// Errors.
var (
	ErrNotFound     = errors.New("group: subscription group not found")
	ErrInvalidName  = errors.New("group: invalid group name")
	ErrSystemGroup  = errors.New("group: system group")
	ErrInvalidValue = errors.New("group: invalid config")
)

// System groups that may not be deleted.
var systemGroups = map[string]bool{
	"TOOLS_CONSUMER": true, "FILTERSRV_CONSUMER": true, "SELF_TEST_C_GROUP": true,
	"CID_ONS-HTTP-PROXY": true, "CID_ONSAPI_PULL": true, "CID_ONSAPI_PERMISSION": true,
	"CID_ONSAPI_OWNER": true, "CID_RMQ_SYS_TRANS": true,
}

// Config is a group's configuration.
type Config = protocol.SubscriptionGroupConfig

// Manager owns the group table.
type Manager struct {
	log  *slog.Logger
	path string

	mu    sync.RWMutex
	table map[string]Config
	dv    protocol.DataVersion
}

// Open loads path (absent = empty) and adds the built-in system groups.
func Open(logger *slog.Logger, path string) (*Manager, error) {
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	m := &Manager{log: logger, path: path, table: make(map[string]Config)}
	var w protocol.SubscriptionGroupWrapper
	found, err := fsutil.ReadJSON(path, &w)
	if err != nil {
		return nil, fmt.Errorf("group: load: %w", err)
	}
	if found {
		for k, v := range w.SubscriptionGroupTable {
			if v.GroupName == "" {
				v.GroupName = k
			}
			m.table[k] = v
		}
		m.dv = w.DataVersion
	}
	for g := range systemGroups {
		if _, ok := m.table[g]; !ok {
			c := protocol.DefaultSubscriptionGroupConfig(g)
			if g == "TOOLS_CONSUMER" || g == "FILTERSRV_CONSUMER" || g == "SELF_TEST_C_GROUP" {
				c.ConsumeBroadcastEnable = true
			}
			m.table[g] = c
		}
	}
	if m.dv.Timestamp == 0 {
		m.dv.Timestamp = time.Now().UnixMilli()
	}
	return m, nil
}

// ValidateName checks a group name (same character set as topics, at most 255 characters).
func ValidateName(name string) error {
	if strings.TrimSpace(name) == "" || len(name) > 255 {
		return fmt.Errorf("%w: %q", ErrInvalidName, name)
	}
	for i := 0; i < len(name); i++ {
		c := name[i]
		ok := c == '%' || c == '|' || c == '_' || c == '-' ||
			(c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9')
		if !ok {
			return fmt.Errorf("%w: %q contains illegal characters", ErrInvalidName, name)
		}
	}
	return nil
}

// Get returns a group's config.
func (m *Manager) Get(name string) (Config, bool) {
	m.mu.RLock()
	defer m.mu.RUnlock()
	c, ok := m.table[name]
	return c, ok
}

// FindOrCreate returns the group's config, creating it with defaults when autoCreate is set.
// The error wraps ErrNotFound when the group is unknown and autoCreate is false.
func (m *Manager) FindOrCreate(name string, autoCreate bool) (Config, error) {
	if c, ok := m.Get(name); ok {
		return c, nil
	}
	if !autoCreate {
		return Config{}, fmt.Errorf("%w: subscription group [%s] does not exist", ErrNotFound, name)
	}
	if err := ValidateName(name); err != nil {
		return Config{}, err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if c, ok := m.table[name]; ok {
		return c, nil
	}
	c := protocol.DefaultSubscriptionGroupConfig(name)
	m.table[name] = c
	m.log.Info("subscription group auto-created", "group", name)
	return c, m.commitLocked()
}

// Put creates or replaces a group's config.
func (m *Manager) Put(c Config) error {
	if err := ValidateName(c.GroupName); err != nil {
		return err
	}
	if c.RetryQueueNums < 0 || c.RetryQueueNums > 1024 || c.RetryMaxTimes < 0 {
		return fmt.Errorf("%w: retryQueueNums=%d retryMaxTimes=%d", ErrInvalidValue, c.RetryQueueNums, c.RetryMaxTimes)
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	m.table[c.GroupName] = c
	m.log.Info("subscription group updated", "group", c.GroupName)
	return m.commitLocked()
}

// Delete removes a group; system groups are refused. It reports whether it existed.
func (m *Manager) Delete(name string) (bool, error) {
	if systemGroups[name] {
		return false, fmt.Errorf("%w: %s", ErrSystemGroup, name)
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if _, ok := m.table[name]; !ok {
		return false, nil
	}
	delete(m.table, name)
	m.log.Info("subscription group deleted", "group", name)
	return true, m.commitLocked()
}

// Snapshot returns the wrapper served by GET_ALL_SUBSCRIPTIONGROUP_CONFIG.
func (m *Manager) Snapshot() protocol.SubscriptionGroupWrapper {
	m.mu.RLock()
	defer m.mu.RUnlock()
	return protocol.SubscriptionGroupWrapper{SubscriptionGroupTable: maps.Clone(m.table), DataVersion: m.dv}
}

// ReplaceAll adopts another broker's groups and data version (a slave following its master) when
// the version differs; built-in system groups missing from w are kept. It reports whether
// anything was replaced.
func (m *Manager) ReplaceAll(w protocol.SubscriptionGroupWrapper) (bool, error) {
	next := make(map[string]Config, len(w.SubscriptionGroupTable))
	for k, c := range w.SubscriptionGroupTable {
		if c.GroupName == "" {
			c.GroupName = k
		}
		next[c.GroupName] = c
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.dv == w.DataVersion {
		return false, nil
	}
	for g := range systemGroups {
		if _, ok := next[g]; !ok {
			if c, ok := m.table[g]; ok {
				next[g] = c
			}
		}
	}
	m.table = next
	m.dv = w.DataVersion
	m.log.Info("subscription groups replaced", "groups", len(next), "counter", m.dv.Counter)
	if m.path == "" {
		return true, nil
	}
	if err := fsutil.WriteJSONAtomic(m.path, protocol.SubscriptionGroupWrapper{SubscriptionGroupTable: m.table, DataVersion: m.dv}); err != nil {
		return true, fmt.Errorf("group: persist: %w", err)
	}
	return true, nil
}

// DataVersion returns the table's data version.
func (m *Manager) DataVersion() protocol.DataVersion {
	m.mu.RLock()
	defer m.mu.RUnlock()
	return m.dv
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
	w := protocol.SubscriptionGroupWrapper{SubscriptionGroupTable: m.table, DataVersion: m.dv}
	if err := fsutil.WriteJSONAtomic(m.path, w); err != nil {
		return fmt.Errorf("group: persist: %w", err)
	}
	return nil
}
