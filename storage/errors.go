package storage

import "errors"

// Sentinel errors. Errors returned by the store wrap one of these with context; test them
// with errors.Is.
var (
	// ErrClosed is returned by every call on a closed Store.
	ErrClosed = errors.New("storage: store is closed")
	// ErrLocked is returned by Open when another process (or another Store in this process)
	// holds the store's lock file. The message names the path and the holder.
	ErrLocked = errors.New("storage: store directory is locked by another process")
	// ErrInvalidOptions is returned by Options.Validate and Open for unusable options.
	ErrInvalidOptions = errors.New("storage: invalid options")
	// ErrCorrupt reports data that fails its format checks (magic, lengths, CRC).
	ErrCorrupt = errors.New("storage: corrupt data")
	// ErrMessageTooLarge: the body is longer than maxMessageSize.
	ErrMessageTooLarge = errors.New("storage: message body exceeds maxMessageSize")
	// ErrPropertiesTooLarge: the properties are longer than 32767 bytes.
	ErrPropertiesTooLarge = errors.New("storage: message properties exceed 32767 bytes")
	// ErrMessageIllegal: a message that can't be encoded (topic length, empty batch, ...).
	ErrMessageIllegal = errors.New("storage: illegal message")
	// ErrDiskFull: disk usage is above DiskHardLimitRatio; appends are refused until
	// retention frees space.
	ErrDiskFull = errors.New("storage: disk usage above the hard limit, writes refused")
	// ErrFlushTimeout: a SYNC_FLUSH append was written but not confirmed durable within
	// SyncFlushTimeout (or its context ended first).
	ErrFlushTimeout = errors.New("storage: flush not confirmed in time")
	// ErrFailed: an earlier write or fsync failed; the store refuses writes until reopened
	// (after a failed fsync the page cache can't be trusted).
	ErrFailed = errors.New("storage: store failed after an I/O error, writes refused")
	// ErrOffsetMismatch: AppendRaw was called at an offset other than the commit-log end.
	ErrOffsetMismatch = errors.New("storage: raw append offset is not the commit-log end")
	// ErrNotFound: no message at the requested offset (or it was deleted by retention).
	ErrNotFound = errors.New("storage: message not found")
)
