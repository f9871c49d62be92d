package client

import (
	"errors"
	"fmt"
)

// Sentinel errors. Wrapped errors returned by this package match them with errors.Is.
var (
	// ErrTopicNotExist means neither the topic nor the auto-create template (TBW102) has a route.
	ErrTopicNotExist = errors.New("client: topic route not found")
	// ErrNoWritableQueue means the topic's route has no writable queue on a broker with a master.
	ErrNoWritableQueue = errors.New("client: no writable queue in topic route")
	// ErrClosed means the producer or consumer was shut down.
	ErrClosed = errors.New("client: closed")
	// ErrCorruptRecord means a pulled message record could not be decoded.
	ErrCorruptRecord = errors.New("client: corrupt message record")
	// ErrNoNameServer means no nameserver address was configured.
	ErrNoNameServer = errors.New("client: no nameserver address configured")
)

// InvalidMessageError reports a message that cannot be sent as given.
type InvalidMessageError struct{ Reason string }

func (e *InvalidMessageError) Error() string { return "client: invalid message: " + e.Reason }

// BrokerError is a non-success response code from a broker or nameserver.
type BrokerError struct {
	Addr   string
	Code   int32
	Remark string
}

func (e *BrokerError) Error() string {
	return fmt.Sprintf("client: %s answered code %d: %s", e.Addr, e.Code, e.Remark)
}
