package nameserver

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"maps"
	"os"
	"path/filepath"
	"sync"
)

// kvConfig is the nameserver's namespaced key/value store (Java KVConfigManager), used
// for ORDER_TOPIC_CONFIG. With a path it is loaded at start and persisted on every change
// in Java's kvConfig.json format ({"configTable":{namespace:{key:value}}}).
//
// Locking: mu guards table. A change is written to disk (tmp file, fsync, rename, fsync of
// the directory) before it becomes visible, while mu is held, so the file and memory
// never disagree; changes are rare admin operations.
type kvConfig struct {
	path string

	mu    sync.RWMutex
	table map[string]map[string]string
}

type kvConfigFile struct {
	ConfigTable map[string]map[string]string `json:"configTable"`
}

func newKVConfig(path string) *kvConfig {
	return &kvConfig{path: path, table: make(map[string]map[string]string)}
}

// load reads the file; a missing file is an empty store.
func (k *kvConfig) load() error {
	if k.path == "" {
		return nil
	}
	data, err := os.ReadFile(k.path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("nameserver: load kv config: %w", err)
	}
	if len(data) == 0 {
		return nil
	}
	var f kvConfigFile
	if err := json.Unmarshal(data, &f); err != nil {
		return fmt.Errorf("nameserver: load kv config %s: %w", k.path, err)
	}
	k.mu.Lock()
	defer k.mu.Unlock()
	for ns, m := range f.ConfigTable {
		if len(m) > 0 {
			k.table[ns] = maps.Clone(m)
		}
	}
	return nil
}

func (k *kvConfig) put(ns, key, value string) error {
	k.mu.Lock()
	defer k.mu.Unlock()
	next := k.cloneLocked()
	if next[ns] == nil {
		next[ns] = make(map[string]string)
	}
	next[ns][key] = value
	return k.commitLocked(next)
}

func (k *kvConfig) delete(ns, key string) error {
	k.mu.Lock()
	defer k.mu.Unlock()
	if _, ok := k.table[ns][key]; !ok {
		return nil
	}
	next := k.cloneLocked()
	delete(next[ns], key)
	if len(next[ns]) == 0 {
		delete(next, ns)
	}
	return k.commitLocked(next)
}

func (k *kvConfig) get(ns, key string) (string, bool) {
	k.mu.RLock()
	defer k.mu.RUnlock()
	v, ok := k.table[ns][key]
	return v, ok
}

// list returns a copy of one namespace, or false when it is empty.
func (k *kvConfig) list(ns string) (map[string]string, bool) {
	k.mu.RLock()
	defer k.mu.RUnlock()
	m := k.table[ns]
	if len(m) == 0 {
		return nil, false
	}
	return maps.Clone(m), true
}

func (k *kvConfig) cloneLocked() map[string]map[string]string {
	out := make(map[string]map[string]string, len(k.table)+1)
	for ns, m := range k.table {
		out[ns] = maps.Clone(m)
	}
	return out
}

// commitLocked persists next, then makes it current.
func (k *kvConfig) commitLocked(next map[string]map[string]string) error {
	if k.path != "" {
		data, err := json.MarshalIndent(kvConfigFile{ConfigTable: next}, "", "\t")
		if err != nil {
			return fmt.Errorf("nameserver: encode kv config: %w", err)
		}
		if err := writeFileAtomic(k.path, data); err != nil {
			return fmt.Errorf("nameserver: persist kv config: %w", err)
		}
	}
	k.table = next
	return nil
}

// writeFileAtomic replaces path with data: write a temporary file in the same directory,
// fsync it, rename it over path, fsync the directory.
func writeFileAtomic(path string, data []byte) error {
	dir := filepath.Dir(path)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	tmp, err := os.CreateTemp(dir, filepath.Base(path)+".tmp-*")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name()) // no-op after a successful rename
	if _, err := tmp.Write(data); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Sync(); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		return err
	}
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	return d.Sync()
}
