// Package fsutil holds the broker's durable-file helpers.
package fsutil

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
)

// WriteFileAtomic replaces path with data so that a crash leaves either the old or the new
// content, never a torn file. The order is the one place where it is spelled out:
//
//  1. write data to path+".tmp" (created 0644, truncated);
//  2. fsync the temp file, close it;
//  3. copy the current file (if any) to path+".bak" (best effort, as Java keeps *.bak);
//  4. rename temp → path (atomic on POSIX);
//  5. fsync the directory so the rename itself is durable.
func WriteFileAtomic(path string, data []byte) error {
	dir := filepath.Dir(path)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("create %s: %w", dir, err)
	}
	tmp := path + ".tmp"
	f, err := os.OpenFile(tmp, os.O_CREATE|os.O_TRUNC|os.O_WRONLY, 0o644)
	if err != nil {
		return fmt.Errorf("create %s: %w", tmp, err)
	}
	if _, err := f.Write(data); err != nil {
		f.Close()
		return fmt.Errorf("write %s: %w", tmp, err)
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return fmt.Errorf("fsync %s: %w", tmp, err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("close %s: %w", tmp, err)
	}
	if old, err := os.ReadFile(path); err == nil {
		_ = os.WriteFile(path+".bak", old, 0o644)
	}
	if err := os.Rename(tmp, path); err != nil {
		return fmt.Errorf("rename %s: %w", tmp, err)
	}
	return SyncDir(dir)
}

// SyncDir fsyncs a directory so that entries created or renamed in it are durable.
func SyncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return fmt.Errorf("open dir %s: %w", dir, err)
	}
	defer d.Close()
	if err := d.Sync(); err != nil {
		return fmt.Errorf("fsync dir %s: %w", dir, err)
	}
	return nil
}

// WriteJSONAtomic marshals v (indented, like Java's pretty config files) and writes it with
// WriteFileAtomic.
func WriteJSONAtomic(path string, v any) error {
	b, err := json.MarshalIndent(v, "", "\t")
	if err != nil {
		return fmt.Errorf("encode %s: %w", path, err)
	}
	return WriteFileAtomic(path, b)
}

// ReadJSON loads path into v. A missing file is not an error (found=false). A corrupt file
// falls back to path+".bak" when that parses; otherwise the decode error is returned.
func ReadJSON(path string, v any) (found bool, err error) {
	b, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		b, err = os.ReadFile(path + ".bak")
		if errors.Is(err, fs.ErrNotExist) {
			return false, nil
		}
	}
	if err != nil {
		return false, fmt.Errorf("read %s: %w", path, err)
	}
	if len(b) == 0 {
		return false, nil
	}
	if jerr := json.Unmarshal(b, v); jerr != nil {
		bak, berr := os.ReadFile(path + ".bak")
		if berr == nil && json.Unmarshal(bak, v) == nil {
			return true, nil
		}
		return false, fmt.Errorf("decode %s: %w", path, jerr)
	}
	return true, nil
}
