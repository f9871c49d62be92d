// Package vfs is the storage package's file-system seam: every byte the store reads or writes
// goes through FS and File, so tests can swap the operating system for MemFS, an in-memory
// file system that can simulate a crash (CrashClone keeps only what was synced).
//
// The interface is deliberately small: positional reads and writes, fdatasync, truncate,
// read-only memory mappings, directory fsync, an exclusive lock and a disk-usage probe.
package vfs

import (
	"errors"
	"fmt"
	"io"
	"os"
	"time"
)

// ErrLocked is returned (wrapped in a *LockError) when Lock finds the file held by someone
// else.
var ErrLocked = errors.New("vfs: file is locked by another holder")

// LockError describes a failed Lock: the path and what the holder wrote into the lock file.
type LockError struct {
	Path   string
	Holder string
}

func (e *LockError) Error() string {
	h := e.Holder
	if h == "" {
		h = "unknown holder"
	}
	return fmt.Sprintf("vfs: %s is locked by another process (%s)", e.Path, h)
}

// Unwrap makes errors.Is(err, ErrLocked) true.
func (e *LockError) Unwrap() error { return ErrLocked }

// DirEntry is one name in a directory.
type DirEntry struct {
	Name  string
	IsDir bool
}

// FileInfo is what Stat reports.
type FileInfo struct {
	Name    string
	Size    int64
	IsDir   bool
	ModTime time.Time
}

// Usage is a file system's capacity, in bytes.
type Usage struct {
	Total uint64
	Free  uint64
}

// UsedRatio is the used fraction of the file system, in [0, 1].
func (u Usage) UsedRatio() float64 {
	if u.Total == 0 {
		return 0
	}
	used := u.Total - min(u.Free, u.Total)
	return float64(used) / float64(u.Total)
}

// FS is a file system.
type FS interface {
	// OpenFile opens a file; flag takes os.O_RDONLY, os.O_RDWR, os.O_CREATE, os.O_EXCL and
	// os.O_TRUNC.
	OpenFile(name string, flag int, perm os.FileMode) (File, error)
	// Remove removes a file or an empty directory.
	Remove(name string) error
	// RemoveAll removes a path and everything below it; a missing path is not an error.
	RemoveAll(name string) error
	// Rename renames a file, replacing newname.
	Rename(oldname, newname string) error
	// MkdirAll creates a directory and its parents.
	MkdirAll(dir string, perm os.FileMode) error
	// ReadDir lists a directory, sorted by name.
	ReadDir(dir string) ([]DirEntry, error)
	// Stat describes a path. A missing path returns an error satisfying
	// errors.Is(err, fs.ErrNotExist).
	Stat(name string) (FileInfo, error)
	// SyncDir makes the directory's entries (creations, removals, renames) durable.
	SyncDir(dir string) error
	// Lock takes an exclusive, non-blocking lock on name (creating it) and records holder in
	// it. It fails at once with a *LockError when someone else holds the lock.
	Lock(name, holder string) (io.Closer, error)
	// DiskUsage reports the capacity of the file system holding path.
	DiskUsage(path string) (Usage, error)
}

// File is an open file.
type File interface {
	io.ReaderAt
	io.WriterAt
	io.Closer
	// Name is the path the file was opened with.
	Name() string
	// Sync makes the file's data and size durable (fdatasync).
	Sync() error
	// Truncate changes the size; growing fills with zeros.
	Truncate(size int64) error
	// Size is the current size.
	Size() (int64, error)
	// Mmap maps [0, length) read-only and shared: the mapping shows later writes made
	// through WriteAt. length must not exceed the size, and the file must not shrink while
	// it is mapped. Callers must never write into the returned slice.
	Mmap(length int) ([]byte, error)
	// Munmap releases a mapping returned by Mmap.
	Munmap(b []byte) error
}
