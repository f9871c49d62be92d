//go:build !linux

package storage

// totalMemory is unknown off Linux; assume 8 GiB.
func totalMemory() int64 { return 8 << 30 }
