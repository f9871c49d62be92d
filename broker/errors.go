package broker

import "errors"

// Errors.
var (
	// ErrInvalidOptions reports unusable Options.
	ErrInvalidOptions = errors.New("broker: invalid options")
	// ErrClosed is returned by calls on a closed Server.
	ErrClosed = errors.New("broker: closed")
	// ErrStarted is returned by a second Start.
	ErrStarted = errors.New("broker: already started")
)
