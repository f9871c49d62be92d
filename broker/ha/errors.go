package ha

import "errors"

// Sentinel errors. Callers match them with errors.Is; returned errors may wrap them with context.
var (
	// ErrSlaveNotAvailable is returned by Master.WaitForReplica at once when no slave is connected (has
	// completed its first offset report) or the best connected slave is HASlaveFallbehindMax or more behind
	// the message's end offset. The message is stored on the master; the broker answers SLAVE_NOT_AVAILABLE
	// (11).
	ErrSlaveNotAvailable = errors.New("ha: slave not available")

	// ErrSlaveTimeout is returned by Master.WaitForReplica when no slave acknowledged the message's end
	// offset within SlaveTimeout. The message is stored on the master; the broker answers
	// FLUSH_SLAVE_TIMEOUT (12).
	ErrSlaveTimeout = errors.New("ha: timed out waiting for slave acknowledgement")

	// ErrClosed is returned by calls on a Master or Slave after Close, and to WaitForReplica callers that
	// were still waiting when the master was closed.
	ErrClosed = errors.New("ha: closed")

	// ErrProtocol reports a malformed or inconsistent HA stream (bad frame header, offset regression). The
	// connection is closed; the slave reconnects and resumes from its own max offset.
	ErrProtocol = errors.New("ha: protocol violation")

	// ErrOffsetMismatch reports a transfer frame whose phyOffset is not the slave's own max offset. The slave
	// drops the connection without applying the frame and reconnects; on reconnect it reports its max
	// offset again and the master restarts the transfer from there.
	ErrOffsetMismatch = errors.New("ha: frame offset does not match slave max offset")

	// ErrSlaveAhead reports a slave whose reported max offset is beyond the master's max offset: the slave
	// holds data the master does not (for example the master lost unreplicated data, or the slave belongs to
	// another master). The master closes the connection and logs it; an operator must reconcile the two
	// stores (usually by wiping the slave).
	ErrSlaveAhead = errors.New("ha: slave offset beyond master max offset")

	// ErrSlaveTooFarBehind reports a non-empty slave whose next needed byte has already been deleted by the
	// master's retention. The master closes the connection and logs it; the slave cannot catch up until its
	// store is wiped (an empty slave starts from the master's oldest retained segment).
	ErrSlaveTooFarBehind = errors.New("ha: slave offset older than master min offset")

	// ErrInvalidConfig reports an invalid MasterConfig or SlaveConfig.
	ErrInvalidConfig = errors.New("ha: invalid config")
)
