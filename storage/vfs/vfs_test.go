package vfs

import (
	"errors"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func readAll(t *testing.T, fsys FS, name string) string {
	t.Helper()
	f, err := fsys.OpenFile(name, os.O_RDONLY, 0)
	if err != nil {
		t.Fatalf("open %s: %v", name, err)
	}
	defer f.Close()
	n, _ := f.Size()
	b := make([]byte, n)
	if _, err := f.ReadAt(b, 0); err != nil && err != io.EOF {
		t.Fatal(err)
	}
	return string(b)
}

func writeFile(t *testing.T, fsys FS, name, data string, sync bool) File {
	t.Helper()
	f, err := fsys.OpenFile(name, os.O_RDWR|os.O_CREATE|os.O_TRUNC, 0o644)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.WriteAt([]byte(data), 0); err != nil {
		t.Fatal(err)
	}
	if sync {
		if err := f.Sync(); err != nil {
			t.Fatal(err)
		}
	}
	return f
}

// TestFSConformance runs the same checks on the OS and the in-memory file system.
func TestFSConformance(t *testing.T) {
	for _, kind := range []string{"os", "mem"} {
		t.Run(kind, func(t *testing.T) {
			var fsys FS = NewMem()
			root := "/r"
			if kind == "os" {
				fsys, root = Default, t.TempDir()
			}
			dir := filepath.Join(root, "a", "b")
			if err := fsys.MkdirAll(dir, 0o755); err != nil {
				t.Fatal(err)
			}
			p := filepath.Join(dir, "f")
			f := writeFile(t, fsys, p, "hello", false)
			if _, err := f.WriteAt([]byte("XY"), 7); err != nil {
				t.Fatal(err)
			}
			if got := readAll(t, fsys, p); got != "hello\x00\x00XY" {
				t.Fatalf("content %q", got)
			}
			m, err := f.Mmap(9)
			if err != nil {
				t.Fatal(err)
			}
			if _, err := f.WriteAt([]byte("J"), 0); err != nil {
				t.Fatal(err)
			}
			if m[0] != 'J' || string(m[7:9]) != "XY" {
				t.Fatalf("mapping does not show writes: %q", m)
			}
			if err := f.Munmap(m); err != nil {
				t.Fatal(err)
			}
			if err := f.Truncate(4); err != nil {
				t.Fatal(err)
			}
			if n, _ := f.Size(); n != 4 {
				t.Fatalf("size %d", n)
			}
			if err := f.Sync(); err != nil {
				t.Fatal(err)
			}
			f.Close()
			if _, err := fsys.OpenFile(p, os.O_RDWR|os.O_CREATE|os.O_EXCL, 0o644); !errors.Is(err, fs.ErrExist) {
				t.Fatalf("O_EXCL on existing file: %v", err)
			}
			if _, err := fsys.Stat(filepath.Join(dir, "missing")); !errors.Is(err, fs.ErrNotExist) {
				t.Fatalf("Stat missing: %v", err)
			}
			q := filepath.Join(dir, "g")
			if err := fsys.Rename(p, q); err != nil {
				t.Fatal(err)
			}
			ents, err := fsys.ReadDir(dir)
			if err != nil || len(ents) != 1 || ents[0].Name != "g" || ents[0].IsDir {
				t.Fatalf("ReadDir = %v %v", ents, err)
			}
			if fi, err := fsys.Stat(q); err != nil || fi.Size != 4 || fi.IsDir {
				t.Fatalf("Stat = %+v %v", fi, err)
			}
			if err := fsys.SyncDir(dir); err != nil {
				t.Fatal(err)
			}
			if err := fsys.Remove(filepath.Join(root, "a")); err == nil {
				t.Fatal("removed a non-empty directory")
			}
			if err := fsys.RemoveAll(filepath.Join(root, "a")); err != nil {
				t.Fatal(err)
			}
			if err := fsys.RemoveAll(filepath.Join(root, "a")); err != nil {
				t.Fatalf("RemoveAll of a missing path: %v", err)
			}
			u, err := fsys.DiskUsage(root)
			if err != nil || u.Total == 0 || u.UsedRatio() < 0 || u.UsedRatio() > 1 {
				t.Fatalf("DiskUsage = %+v %v", u, err)
			}

			// Locks: a second holder fails at once and learns who holds it.
			lp := filepath.Join(root, "lock")
			l1, err := fsys.Lock(lp, "holder-one")
			if err != nil {
				t.Fatal(err)
			}
			_, err = fsys.Lock(lp, "holder-two")
			var le *LockError
			if !errors.As(err, &le) || !errors.Is(err, ErrLocked) || le.Holder != "holder-one" || !strings.Contains(err.Error(), lp) {
				t.Fatalf("second Lock: %v", err)
			}
			l1.Close()
			l2, err := fsys.Lock(lp, "holder-two")
			if err != nil {
				t.Fatalf("Lock after release: %v", err)
			}
			l2.Close()
		})
	}
}

func TestMemCrashCloneKeepsOnlySynced(t *testing.T) {
	m := NewMem()
	m.MkdirAll("/d", 0o755)
	m.SyncDir("/")
	tests := []struct {
		name    string
		setup   func(t *testing.T)
		path    string
		want    string
		present bool
	}{
		{"synced file and dir entry", func(t *testing.T) {
			writeFile(t, m, "/d/a", "data", true).Close()
			m.SyncDir("/d")
		}, "/d/a", "data", true},
		{"unsynced write lost", func(t *testing.T) {
			f := writeFile(t, m, "/d/b", "old", true)
			m.SyncDir("/d")
			f.WriteAt([]byte("NEW!"), 0)
			f.Close()
		}, "/d/b", "old", true},
		{"synced data, name not synced", func(t *testing.T) {
			writeFile(t, m, "/d/c", "x", true).Close()
		}, "/d/c", "", false},
		{"rename not synced keeps old name", func(t *testing.T) {
			writeFile(t, m, "/d/e", "e", true).Close()
			m.SyncDir("/d")
			m.Rename("/d/e", "/d/e2")
		}, "/d/e", "e", true},
		{"removal synced", func(t *testing.T) {
			writeFile(t, m, "/d/g", "g", true).Close()
			m.SyncDir("/d")
			m.Remove("/d/g")
			m.SyncDir("/d")
		}, "/d/g", "", false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			tc.setup(t)
			c := m.CrashClone()
			_, err := c.Stat(tc.path)
			if (err == nil) != tc.present {
				t.Fatalf("present = %v, want %v", err == nil, tc.present)
			}
			if tc.present {
				if got := readAll(t, c, tc.path); got != tc.want {
					t.Fatalf("content %q, want %q", got, tc.want)
				}
			}
		})
	}
	// A directory made but never synced into its parent is gone after a crash.
	m.MkdirAll("/new/sub", 0o755)
	if _, err := m.CrashClone().Stat("/new"); err == nil {
		t.Fatal("unsynced directory survived")
	}
}

func TestMemSyncHookAndMappedGrowth(t *testing.T) {
	m := NewMem()
	boom := errors.New("disk on fire")
	m.SetSyncHook(func(name string) error {
		if strings.HasSuffix(name, "bad") {
			return boom
		}
		return nil
	})
	f := writeFile(t, m, "/bad", "abc", false)
	m.SyncDir("/")
	if err := f.Sync(); !errors.Is(err, boom) {
		t.Fatalf("Sync = %v", err)
	}
	if got := readAll(t, m.CrashClone(), "/bad"); got != "" {
		t.Fatal("a failed sync made data durable")
	}
	mp, err := f.Mmap(3)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.WriteAt([]byte("toolong"), 0); err == nil {
		t.Fatal("grew a mapped file")
	}
	if err := f.Truncate(10); err == nil {
		t.Fatal("resized a mapped file")
	}
	f.Munmap(mp)
	if _, err := f.Mmap(4); err == nil {
		t.Fatal("mapped past the end")
	}
	f.Close()
	if _, err := f.ReadAt(make([]byte, 1), 0); !errors.Is(err, os.ErrClosed) {
		t.Fatalf("read after close: %v", err)
	}
}
