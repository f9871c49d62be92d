package vfs

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"math/rand"
	"os"
	"path"
	"sort"
	"strings"
	"sync"
	"time"
)

// MemFS is an in-memory FS that models what survives a crash:
//
//   - a file's content becomes durable only through File.Sync (the whole file, including
//     its size, as fdatasync does);
//   - a name (creation, removal, rename) becomes durable only through SyncDir of its parent;
//   - CrashClone returns a new MemFS holding exactly the durable state, without locks.
//
// Paths are slash-separated and interpreted from a single root. Memory mappings alias the
// file's buffer, so a mapped file can't be resized. All methods are safe for concurrent use.
type MemFS struct {
	mu        sync.Mutex
	root      *memNode
	locks     map[string]bool
	now       func() time.Time
	usage     func() Usage
	syncHook  func(name string) error
	writeHook func(name string, off int64, n int) error
}

type memNode struct {
	isDir bool

	// Directories; guarded by MemFS.mu.
	children map[string]*memNode
	durable  map[string]*memNode

	// Files; guarded by mu.
	mu      sync.RWMutex
	data    []byte
	synced  []byte
	mapped  int
	modTime time.Time
}

// NewMem returns an empty MemFS whose root directory is durable.
func NewMem() *MemFS {
	return &MemFS{
		root:  newDir(),
		locks: map[string]bool{},
		now:   time.Now,
	}
}

func newDir() *memNode {
	return &memNode{isDir: true, children: map[string]*memNode{}, durable: map[string]*memNode{}}
}

// SetClock sets the clock used for modification times.
func (m *MemFS) SetClock(now func() time.Time) {
	m.mu.Lock()
	m.now = now
	m.mu.Unlock()
}

// SetUsage overrides DiskUsage (nil restores the default: 1 TiB minus the bytes stored).
func (m *MemFS) SetUsage(fn func() Usage) {
	m.mu.Lock()
	m.usage = fn
	m.mu.Unlock()
}

// SetSyncHook installs fn, called before every File.Sync and SyncDir with the path; an error
// it returns is returned by the sync, which then has no effect. fn may block (to model a
// slow disk). nil removes the hook.
func (m *MemFS) SetSyncHook(fn func(name string) error) {
	m.mu.Lock()
	m.syncHook = fn
	m.mu.Unlock()
}

// SetWriteHook installs fn, called before every File.WriteAt with the path, offset and
// length; an error it returns fails the write. fn may block (a slow disk). nil removes it.
func (m *MemFS) SetWriteHook(fn func(name string, off int64, n int) error) {
	m.mu.Lock()
	m.writeHook = fn
	m.mu.Unlock()
}

func (m *MemFS) hook() func(string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.syncHook
}

func splitPath(name string) []string {
	p := path.Clean("/" + strings.ReplaceAll(name, "\\", "/"))
	if p == "/" {
		return nil
	}
	return strings.Split(p[1:], "/")
}

func cleanPath(name string) string { return path.Clean("/" + name) }

// walkLocked returns the node at name. m.mu must be held.
func (m *MemFS) walkLocked(name string) (*memNode, error) {
	n := m.root
	for _, c := range splitPath(name) {
		if !n.isDir {
			return nil, &os.PathError{Op: "open", Path: name, Err: errNotDir}
		}
		child, ok := n.children[c]
		if !ok {
			return nil, &os.PathError{Op: "open", Path: name, Err: fs.ErrNotExist}
		}
		n = child
	}
	return n, nil
}

// parentLocked returns the directory holding name and the base name. m.mu must be held.
func (m *MemFS) parentLocked(name string) (*memNode, string, error) {
	parts := splitPath(name)
	if len(parts) == 0 {
		return nil, "", &os.PathError{Op: "open", Path: name, Err: fs.ErrInvalid}
	}
	dir, err := m.walkLocked(strings.Join(parts[:len(parts)-1], "/"))
	if err != nil {
		return nil, "", err
	}
	if !dir.isDir {
		return nil, "", &os.PathError{Op: "open", Path: name, Err: errNotDir}
	}
	return dir, parts[len(parts)-1], nil
}

var errNotDir = errors.New("not a directory")

// OpenFile implements FS.
func (m *MemFS) OpenFile(name string, flag int, perm os.FileMode) (File, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	dir, base, err := m.parentLocked(name)
	if err != nil {
		return nil, err
	}
	n, ok := dir.children[base]
	switch {
	case ok && flag&os.O_CREATE != 0 && flag&os.O_EXCL != 0:
		return nil, &os.PathError{Op: "open", Path: name, Err: fs.ErrExist}
	case ok && n.isDir:
		return nil, &os.PathError{Op: "open", Path: name, Err: errors.New("is a directory")}
	case !ok && flag&os.O_CREATE == 0:
		return nil, &os.PathError{Op: "open", Path: name, Err: fs.ErrNotExist}
	case !ok:
		n = &memNode{modTime: m.now()}
		dir.children[base] = n
	}
	writable := flag&(os.O_RDWR|os.O_WRONLY) != 0
	if flag&os.O_TRUNC != 0 && writable {
		n.mu.Lock()
		if n.mapped > 0 {
			n.mu.Unlock()
			return nil, &os.PathError{Op: "open", Path: name, Err: errors.New("truncating a mapped file")}
		}
		n.data = nil
		n.modTime = m.now()
		n.mu.Unlock()
	}
	return &memFile{fs: m, n: n, name: name, writable: writable}, nil
}

// Remove implements FS.
func (m *MemFS) Remove(name string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	dir, base, err := m.parentLocked(name)
	if err != nil {
		return err
	}
	n, ok := dir.children[base]
	if !ok {
		return &os.PathError{Op: "remove", Path: name, Err: fs.ErrNotExist}
	}
	if n.isDir && len(n.children) > 0 {
		return &os.PathError{Op: "remove", Path: name, Err: errors.New("directory not empty")}
	}
	delete(dir.children, base)
	return nil
}

// RemoveAll implements FS.
func (m *MemFS) RemoveAll(name string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	dir, base, err := m.parentLocked(name)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return nil
		}
		return err
	}
	delete(dir.children, base)
	return nil
}

// Rename implements FS.
func (m *MemFS) Rename(oldname, newname string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	od, ob, err := m.parentLocked(oldname)
	if err != nil {
		return err
	}
	n, ok := od.children[ob]
	if !ok {
		return &os.LinkError{Op: "rename", Old: oldname, New: newname, Err: fs.ErrNotExist}
	}
	nd, nb, err := m.parentLocked(newname)
	if err != nil {
		return err
	}
	if t, ok := nd.children[nb]; ok && t.isDir {
		return &os.LinkError{Op: "rename", Old: oldname, New: newname, Err: errors.New("target is a directory")}
	}
	delete(od.children, ob)
	nd.children[nb] = n
	return nil
}

// MkdirAll implements FS.
func (m *MemFS) MkdirAll(dir string, perm os.FileMode) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	n := m.root
	for _, c := range splitPath(dir) {
		child, ok := n.children[c]
		if !ok {
			child = newDir()
			n.children[c] = child
		} else if !child.isDir {
			return &os.PathError{Op: "mkdir", Path: dir, Err: errNotDir}
		}
		n = child
	}
	return nil
}

// ReadDir implements FS.
func (m *MemFS) ReadDir(dir string) ([]DirEntry, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	n, err := m.walkLocked(dir)
	if err != nil {
		return nil, err
	}
	if !n.isDir {
		return nil, &os.PathError{Op: "readdir", Path: dir, Err: errNotDir}
	}
	out := make([]DirEntry, 0, len(n.children))
	for name, c := range n.children {
		out = append(out, DirEntry{Name: name, IsDir: c.isDir})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out, nil
}

// Stat implements FS.
func (m *MemFS) Stat(name string) (FileInfo, error) {
	m.mu.Lock()
	n, err := m.walkLocked(name)
	m.mu.Unlock()
	if err != nil {
		return FileInfo{}, err
	}
	fi := FileInfo{Name: path.Base(cleanPath(name)), IsDir: n.isDir}
	if !n.isDir {
		n.mu.RLock()
		fi.Size = int64(len(n.data))
		fi.ModTime = n.modTime
		n.mu.RUnlock()
	}
	return fi, nil
}

// SyncDir implements FS.
func (m *MemFS) SyncDir(dir string) error {
	if h := m.hook(); h != nil {
		if err := h(dir); err != nil {
			return err
		}
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	n, err := m.walkLocked(dir)
	if err != nil {
		return err
	}
	if !n.isDir {
		return &os.PathError{Op: "fsync", Path: dir, Err: errNotDir}
	}
	n.durable = make(map[string]*memNode, len(n.children))
	for k, v := range n.children {
		n.durable[k] = v
	}
	return nil
}

type memLock struct {
	m    *MemFS
	path string
	once sync.Once
}

func (l *memLock) Close() error {
	l.once.Do(func() {
		l.m.mu.Lock()
		delete(l.m.locks, l.path)
		l.m.mu.Unlock()
	})
	return nil
}

// Lock implements FS.
func (m *MemFS) Lock(name, holder string) (io.Closer, error) {
	p := cleanPath(name)
	m.mu.Lock()
	held := m.locks[p]
	m.mu.Unlock()
	if held {
		var h []byte
		if f, err := m.OpenFile(name, os.O_RDONLY, 0); err == nil {
			mf := f.(*memFile)
			mf.n.mu.RLock()
			h = append(h, mf.n.data...)
			mf.n.mu.RUnlock()
			f.Close()
		}
		return nil, &LockError{Path: name, Holder: strings.TrimSpace(string(h))}
	}
	f, err := m.OpenFile(name, os.O_RDWR|os.O_CREATE|os.O_TRUNC, 0o644)
	if err != nil {
		return nil, err
	}
	if _, err := f.WriteAt([]byte(holder+"\n"), 0); err != nil {
		return nil, err
	}
	f.Close()
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.locks[p] {
		return nil, &LockError{Path: name, Holder: "a concurrent Lock call"}
	}
	m.locks[p] = true
	return &memLock{m: m, path: p}, nil
}

// DiskUsage implements FS.
func (m *MemFS) DiskUsage(string) (Usage, error) {
	m.mu.Lock()
	fn := m.usage
	m.mu.Unlock()
	if fn != nil {
		return fn(), nil
	}
	const total = 1 << 40
	used := uint64(m.BytesStored())
	return Usage{Total: total, Free: total - min(used, total)}, nil
}

// BytesStored is the sum of the sizes of all files reachable from the root.
func (m *MemFS) BytesStored() int64 {
	m.mu.Lock()
	defer m.mu.Unlock()
	var sum int64
	var walk func(n *memNode)
	walk = func(n *memNode) {
		for _, c := range n.children {
			if c.isDir {
				walk(c)
				continue
			}
			c.mu.RLock()
			sum += int64(len(c.data))
			c.mu.RUnlock()
		}
	}
	walk(m.root)
	return sum
}

// CrashClone returns the file system a machine would find after losing power now: only
// synced file contents under durable names. Locks are not carried over. The receiver stays
// usable.
func (m *MemFS) CrashClone() *MemFS {
	m.mu.Lock()
	defer m.mu.Unlock()
	c := NewMem()
	c.now = m.now
	var clone func(src *memNode) *memNode
	clone = func(src *memNode) *memNode {
		if src.isDir {
			d := newDir()
			for name, ch := range src.durable {
				d.children[name] = clone(ch)
			}
			for k, v := range d.children {
				d.durable[k] = v
			}
			return d
		}
		src.mu.RLock()
		defer src.mu.RUnlock()
		return &memNode{data: append([]byte(nil), src.synced...), synced: append([]byte(nil), src.synced...), modTime: src.modTime}
	}
	c.root = clone(m.root)
	return c
}

// CrashCloneRandom is CrashClone for a kernel that had written back an arbitrary subset of
// the dirty pages when the power went: every 4 KiB page whose content differs from the
// synced one survives with probability 1/2 (and a grown size with probability 1/2). Writes
// can thus be torn at page boundaries and persisted out of order, as on a real disk. Names
// stay strict: only synced directory entries survive.
func (m *MemFS) CrashCloneRandom(rng *rand.Rand) *MemFS {
	m.mu.Lock()
	defer m.mu.Unlock()
	c := NewMem()
	c.now = m.now
	const page = 4096
	var clone func(src *memNode) *memNode
	clone = func(src *memNode) *memNode {
		if src.isDir {
			d := newDir()
			for name, ch := range src.durable {
				d.children[name] = clone(ch)
			}
			for k, v := range d.children {
				d.durable[k] = v
			}
			return d
		}
		src.mu.RLock()
		defer src.mu.RUnlock()
		out := append([]byte(nil), src.synced...)
		if len(src.data) > len(out) && rng.Intn(2) == 0 {
			out = append(out, make([]byte, len(src.data)-len(out))...)
		}
		for off := 0; off < len(out); off += page {
			end := min(off+page, len(out))
			if end > len(src.data) {
				continue
			}
			if string(out[off:end]) != string(src.data[off:end]) && rng.Intn(2) == 0 {
				copy(out[off:end], src.data[off:end])
			}
		}
		return &memNode{data: out, synced: append([]byte(nil), out...), modTime: src.modTime}
	}
	c.root = clone(m.root)
	return c
}

type memFile struct {
	fs       *MemFS
	n        *memNode
	name     string
	writable bool
	mu       sync.Mutex
	closed   bool
}

func (f *memFile) check() error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.closed {
		return &os.PathError{Op: "use", Path: f.name, Err: os.ErrClosed}
	}
	return nil
}

func (f *memFile) Name() string { return f.name }

func (f *memFile) ReadAt(p []byte, off int64) (int, error) {
	if err := f.check(); err != nil {
		return 0, err
	}
	if off < 0 {
		return 0, &os.PathError{Op: "read", Path: f.name, Err: fs.ErrInvalid}
	}
	f.n.mu.RLock()
	defer f.n.mu.RUnlock()
	if off >= int64(len(f.n.data)) {
		return 0, io.EOF
	}
	n := copy(p, f.n.data[off:])
	if n < len(p) {
		return n, io.EOF
	}
	return n, nil
}

func (f *memFile) WriteAt(p []byte, off int64) (int, error) {
	if err := f.check(); err != nil {
		return 0, err
	}
	if !f.writable {
		return 0, &os.PathError{Op: "write", Path: f.name, Err: errors.New("file opened read-only")}
	}
	if off < 0 {
		return 0, &os.PathError{Op: "write", Path: f.name, Err: fs.ErrInvalid}
	}
	f.fs.mu.Lock()
	wh := f.fs.writeHook
	f.fs.mu.Unlock()
	if wh != nil {
		if err := wh(f.name, off, len(p)); err != nil {
			return 0, err
		}
	}
	now := f.fs.clock()
	f.n.mu.Lock()
	defer f.n.mu.Unlock()
	end := off + int64(len(p))
	if end > int64(len(f.n.data)) {
		if f.n.mapped > 0 {
			return 0, &os.PathError{Op: "write", Path: f.name, Err: errors.New("growing a mapped file")}
		}
		f.n.data = growZero(f.n.data, end)
	}
	copy(f.n.data[off:], p)
	f.n.modTime = now
	return len(p), nil
}

func growZero(b []byte, size int64) []byte {
	if size <= int64(cap(b)) {
		old := len(b)
		b = b[:size]
		clear(b[old:])
		return b
	}
	nb := make([]byte, size)
	copy(nb, b)
	return nb
}

func (m *MemFS) clock() time.Time {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.now()
}

func (f *memFile) Sync() error {
	if err := f.check(); err != nil {
		return err
	}
	if h := f.fs.hook(); h != nil {
		if err := h(f.name); err != nil {
			return err
		}
	}
	f.n.mu.Lock()
	f.n.synced = append(f.n.synced[:0], f.n.data...)
	f.n.mu.Unlock()
	return nil
}

func (f *memFile) Truncate(size int64) error {
	if err := f.check(); err != nil {
		return err
	}
	if !f.writable {
		return &os.PathError{Op: "truncate", Path: f.name, Err: errors.New("file opened read-only")}
	}
	if size < 0 {
		return &os.PathError{Op: "truncate", Path: f.name, Err: fs.ErrInvalid}
	}
	now := f.fs.clock()
	f.n.mu.Lock()
	defer f.n.mu.Unlock()
	if size == int64(len(f.n.data)) {
		return nil
	}
	if f.n.mapped > 0 {
		return &os.PathError{Op: "truncate", Path: f.name, Err: errors.New("resizing a mapped file")}
	}
	if size < int64(len(f.n.data)) {
		f.n.data = f.n.data[:size]
	} else {
		f.n.data = growZero(f.n.data, size)
	}
	f.n.modTime = now
	return nil
}

func (f *memFile) Size() (int64, error) {
	if err := f.check(); err != nil {
		return 0, err
	}
	f.n.mu.RLock()
	defer f.n.mu.RUnlock()
	return int64(len(f.n.data)), nil
}

func (f *memFile) Mmap(length int) ([]byte, error) {
	if err := f.check(); err != nil {
		return nil, err
	}
	if length == 0 {
		return nil, nil
	}
	f.n.mu.Lock()
	defer f.n.mu.Unlock()
	if length < 0 || length > len(f.n.data) {
		return nil, &os.PathError{Op: "mmap", Path: f.name, Err: fmt.Errorf("length %d outside file of %d bytes", length, len(f.n.data))}
	}
	f.n.mapped++
	return f.n.data[:length:length], nil
}

func (f *memFile) Munmap(b []byte) error {
	if len(b) == 0 {
		return nil
	}
	f.n.mu.Lock()
	defer f.n.mu.Unlock()
	if f.n.mapped == 0 {
		return &os.PathError{Op: "munmap", Path: f.name, Err: errors.New("not mapped")}
	}
	f.n.mapped--
	return nil
}

func (f *memFile) Close() error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.closed {
		return &os.PathError{Op: "close", Path: f.name, Err: os.ErrClosed}
	}
	f.closed = true
	return nil
}
