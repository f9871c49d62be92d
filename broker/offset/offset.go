// Package offset stores consumer-group offsets (config/consumerOffset.json, Java's format:
// {"offsetTable":{"<topic>@<group>":{<queueId>:<nextOffset>}}}).
//
// Commits only touch memory; Persist writes the table atomically when it changed. The broker
// calls Persist every few seconds and on shutdown (Java persists every 5 s as well).
package offset

import (
	"fmt"
	"log/slog"
	"maps"
	"strings"
	"sync"

	"github.com/gorocket/gorocket/broker/internal/fsutil"
	"github.com/gorocket/gorocket/remoting/protocol"
)

const sep = "@"

// Manager owns the offset table. Its mutex is a leaf lock: nothing else is acquired while held,
// except the file write in Persist.
type Manager struct {
	log  *slog.Logger
	path string

	mu      sync.Mutex
	table   map[string]map[int]int64
	dirty   bool
	persist sync.Mutex // serialises Persist calls (taken before mu)
}

// Open loads path (absent = empty).
func Open(logger *slog.Logger, path string) (*Manager, error) {
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	m := &Manager{log: logger, path: path, table: make(map[string]map[int]int64)}
	var w protocol.ConsumerOffsetWrapper
	if _, err := fsutil.ReadJSON(path, &w); err != nil {
		return nil, fmt.Errorf("offset: load: %w", err)
	}
	for k, v := range w.OffsetTable {
		if v != nil {
			m.table[k] = v
		}
	}
	return m, nil
}

func key(group, topic string) string { return topic + sep + group }

// Commit stores the next offset to consume for (group, topic, queueId).
func (m *Manager) Commit(group, topic string, queueID int, offset int64) {
	k := key(group, topic)
	m.mu.Lock()
	defer m.mu.Unlock()
	q := m.table[k]
	if q == nil {
		q = make(map[int]int64)
		m.table[k] = q
	}
	if old, ok := q[queueID]; ok && old == offset {
		return
	}
	q[queueID] = offset
	m.dirty = true
}

// Query returns the committed offset, if any.
func (m *Manager) Query(group, topic string, queueID int) (int64, bool) {
	m.mu.Lock()
	defer m.mu.Unlock()
	off, ok := m.table[key(group, topic)][queueID]
	return off, ok
}

// QueueOffsets returns queueId → offset for (group, topic).
func (m *Manager) QueueOffsets(group, topic string) map[int]int64 {
	m.mu.Lock()
	defer m.mu.Unlock()
	return maps.Clone(m.table[key(group, topic)])
}

// TopicsOfGroup lists the topics the group has offsets for.
func (m *Manager) TopicsOfGroup(group string) []string {
	m.mu.Lock()
	defer m.mu.Unlock()
	var out []string
	for k := range m.table {
		t, g, ok := splitKey(k)
		if ok && g == group {
			out = append(out, t)
		}
	}
	return out
}

// GroupsOfTopic lists the groups that have offsets for topic.
func (m *Manager) GroupsOfTopic(topic string) []string {
	m.mu.Lock()
	defer m.mu.Unlock()
	var out []string
	for k := range m.table {
		t, g, ok := splitKey(k)
		if ok && t == topic {
			out = append(out, g)
		}
	}
	return out
}

// splitKey splits "topic@group" at the last '@' (topic names cannot contain '@').
func splitKey(k string) (topic, group string, ok bool) {
	i := strings.Index(k, sep)
	if i < 0 {
		return "", "", false
	}
	return k[:i], k[i+1:], true
}

// RemoveTopic drops every group's offsets of topic.
func (m *Manager) RemoveTopic(topic string) {
	m.mu.Lock()
	defer m.mu.Unlock()
	for k := range m.table {
		if t, _, ok := splitKey(k); ok && t == topic {
			delete(m.table, k)
			m.dirty = true
		}
	}
}

// RemoveGroup drops every offset of group.
func (m *Manager) RemoveGroup(group string) {
	m.mu.Lock()
	defer m.mu.Unlock()
	for k := range m.table {
		if _, g, ok := splitKey(k); ok && g == group {
			delete(m.table, k)
			m.dirty = true
		}
	}
}

// ReplaceFromMaster makes the table a copy of master (a slave adopting its master's offsets),
// then lays keep over it (the slave's own commits not yet known to the master). The table is
// marked for persistence when it changed.
func (m *Manager) ReplaceFromMaster(master, keep map[string]map[int]int64) {
	next := make(map[string]map[int]int64, len(master))
	for k, v := range master {
		if v != nil {
			next[k] = maps.Clone(v)
		}
	}
	for k, v := range keep {
		q := next[k]
		if q == nil {
			q = make(map[int]int64, len(v))
			next[k] = q
		}
		maps.Copy(q, v)
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if tablesEqual(m.table, next) {
		return
	}
	m.table = next
	m.dirty = true
}

func tablesEqual(a, b map[string]map[int]int64) bool {
	if len(a) != len(b) {
		return false
	}
	for k, qa := range a {
		qb, ok := b[k]
		if !ok || !maps.Equal(qa, qb) {
			return false
		}
	}
	return true
}

// Snapshot returns a deep copy of the table (GET_ALL_CONSUMER_OFFSET).
func (m *Manager) Snapshot() protocol.ConsumerOffsetWrapper {
	m.mu.Lock()
	defer m.mu.Unlock()
	return protocol.ConsumerOffsetWrapper{OffsetTable: m.cloneLocked()}
}

func (m *Manager) cloneLocked() map[string]map[int]int64 {
	out := make(map[string]map[int]int64, len(m.table))
	for k, v := range m.table {
		out[k] = maps.Clone(v)
	}
	return out
}

// Persist writes the table if it changed since the last successful Persist.
func (m *Manager) Persist() error {
	m.persist.Lock()
	defer m.persist.Unlock()
	m.mu.Lock()
	if !m.dirty || m.path == "" {
		m.mu.Unlock()
		return nil
	}
	snap := m.cloneLocked()
	m.dirty = false
	m.mu.Unlock()
	if err := fsutil.WriteJSONAtomic(m.path, protocol.ConsumerOffsetWrapper{OffsetTable: snap}); err != nil {
		m.mu.Lock()
		m.dirty = true
		m.mu.Unlock()
		return fmt.Errorf("offset: persist: %w", err)
	}
	return nil
}
