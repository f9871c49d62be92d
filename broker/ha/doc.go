// Package ha is gorocket's master/slave replication: Apache RocketMQ 4.x's "DefaultHAService" protocol
// (brokerRole ASYNC_MASTER, SYNC_MASTER and SLAVE). A slave keeps a byte-identical copy of its master's
// commit log at the same physical offsets; its own store then builds consume queues and the index from
// those bytes with the same dispatcher that handles local writes.
//
// The package imports the standard library and storage (for storage.Buffer). It reaches the commit log
// through two small interfaces, MasterLog and SlaveLog, which *storage.Store satisfies; and the network
// through a net.Listener (master) and a DialFunc (slave), so tests can inject faults at the socket (stall
// writes, cut a connection in the middle of a frame), as hashicorp/raft's transports allow.
//
// # Wire protocol
//
// One plain TCP connection per slave, opened by the slave to the master's HA address (haListenPort, by
// default listenPort+1). There is no remoting framing, no handshake other than the first report and no
// version field: this is the wire format of Java 4.x brokers (and 5.x outside controller mode), so a Java
// slave can follow a gorocket master and the reverse. All integers are big-endian.
//
// Slave → master, an offset report (8 bytes):
//
//	 0               8
//	+---------------+
//	| int64 offset  |   the slave's commit-log end: it holds every byte below it
//	+---------------+
//
// Master → slave, a transfer frame (12-byte header + body):
//
//	 0               8        12                       12+size
//	+---------------+--------+--------------------------+
//	| int64 phyOff  | int32  | size bytes, a copy of    |
//	|               | size   | commitlog[phyOff,        |
//	|               |        |           phyOff+size)   |
//	+---------------+--------+--------------------------+
//
// A frame with size 0 is a heartbeat; its phyOff is the offset the master will send next.
//
// Conversation:
//
//  1. The slave connects and at once reports its end R. The master sends nothing before that.
//  2. The master picks the start offset S (rules below) and pushes frames [S, S+n1), [S+n1, ...): each
//     body at most TransferBatchSize (32 KiB), never crossing a commit-log segment end, as fast as the
//     socket takes them. It does not wait for acknowledgements; TCP is the flow control. Having sent
//     everything committed, it waits for the next commit (storage's WaitCommitted) and sends a heartbeat
//     after HeartbeatInterval (5 s) without data.
//  3. The slave uses a frame only once it has read all of it, checks phyOff == its end (store end plus
//     the bytes it holds back, below), appends, and reports its new end. Reports are coalesced while more
//     frames are already buffered (at most 256 KiB of progress between reports) and sent at least every
//     HeartbeatInterval. A frame at any other offset is not applied: the slave closes the connection, and
//     the next connection's first report restarts the transfer from the slave's real end.
//
// Start offset rules, for the first report R and the master's retained range [m, M):
//
//	R > M            the slave has bytes the master lacks (ErrSlaveAhead): log, close. Needs an operator.
//	R == 0, m > 0    an empty slave while retention already deleted the master's beginning: start at m,
//	                 the oldest retained segment; the empty slave's store adopts m as its base.
//	0 < R < m        the slave's next byte is gone (ErrSlaveTooFarBehind): log, close. Wipe the slave.
//	otherwise        start at R.
//
// (Java starts an empty slave at the master's newest segment instead; we copy everything retained, so
// the slave can serve the same reads as the master.)
//
// Housekeeping: the master drops a connection that sent no report for HousekeepingInterval (20 s), the
// slave one that delivered no frame for as long; writes on both sides carry the same deadline. The slave
// redials with exponential backoff (ReconnectBackoffMin..Max), reset after a session that applied data or
// lasted a heartbeat interval. Within a connection a slave's reports never decrease (a decrease is
// ErrProtocol); the master acts on the newest report already buffered.
//
// # Whole records only, on the slave
//
// Frames are cut at TransferBatchSize, not at record boundaries. The slave follows record boundaries
// (every record, including the blank record that pads a segment's end, starts with its int32 TOTALSIZE)
// and passes only whole records to AppendRaw; the start of a record still arriving waits in memory
// (SlaveState.PendingBytes). So the slave's store end, and every report, is always a record boundary:
// a slave that stops, cleanly or not, never leaves a torn record in its commit log, and the held-back
// bytes are simply resent after the reconnect. A connection cut mid-frame adds nothing at all.
//
// # Acknowledgement semantics
//
// A report R means "my commit log holds the master's bytes below R at the same offsets". Like Java, the
// slave reports after AppendRaw (written to its commit buffer, readable) and not after fsync; durability
// on the slave follows its own flushDiskType. SYNC_MASTER therefore guarantees that an acknowledged
// message exists on two machines, not on two disks.
//
// Master.WaitForReplica(ctx, end) waits for any slave's report ≥ end, where end is one past the message
// (wroteOffset + wroteBytes). It fails at once with ErrSlaveNotAvailable when no slave has sent its first
// report, or when the best such slave is SlaveFallbehindMax (256 MiB) or more behind end, and with
// ErrSlaveTimeout after SlaveTimeout (3 s). The broker answers SLAVE_NOT_AVAILABLE (11) and
// FLUSH_SLAVE_TIMEOUT (12); the message stays stored either way. The replicated offset (highest report
// of any slave since the master started) only grows. A slave disconnecting does not fail pending waits
// (a slave that reconnects in time still acknowledges them), but new calls see "no slave" at once.
//
// # Threading
//
// Master: one accept goroutine, and per slave connection a reader (reports → acknowledgements) and a
// sender (frames; blocks in the store's WaitCommitted when idle). WaitForReplica runs on the caller's
// goroutine: it puts a waiter in a min-heap ordered by end offset and blocks on the waiter's channel and
// a timer. WaitForReplicaFunc/WaitForReplicaBatch queue the same waiter with a callback instead, and
// return at once: the broker answers SYNC_MASTER sends from the callback, so no handler goroutine waits
// per send (as Java completes its send futures on the HA thread). Their timeouts need no timer each:
// the waiters also sit in a FIFO in arrival (= deadline) order, and one timer armed for the oldest
// fails the expired ones. The reader that processes an advancing report pops every covered waiter and,
// after releasing Master.mu, wakes the blocked callers and runs the callbacks of the batch itself
// (group commit: one report completes every send it covers; no goroutine hop on the latency-critical
// path, so callbacks must not block). The callbacks share a Batch: the broker queues each reply without
// writing it and flushes each client connection once after the batch (one write for all the replies
// one acknowledgement releases). No goroutine is parked per callback and nothing polls. A fast path
// answers calls whose offset is already acknowledged without any lock.
//
// Slave: one goroutine runs the connect/backoff loop and, while connected, the receive loop (read frame,
// append whole records, report); a second goroutine per connection sends the periodic reports. Both
// writers serialise on the session's write mutex.
//
// # Lock order
//
//	Master.mu      leaf: slave registry, per-connection acknowledgement state, replicated offset, waiters.
//	broadcast.mu   leaf: the "store grew" signal (Master.Notify); never held with Master.mu.
//	session.wmu    serialises report writes (the store's max offset is read under it, so reports never
//	               go backwards); Slave.mu is taken inside it to record the report.
//	Slave.mu       leaf otherwise: address, connection, observable state.
//
// Master.mu and Slave.mu are never held while calling into the store (session.wmu is, for one
// MaxPhyOffset read), and the store never calls back into this package.
//
// # Lag
//
// MasterState reports per slave LagBytes = master max offset − acknowledged offset, and LagTime = now − T,
// where T is the latest moment such that everything the master held at T is acknowledged by the slave
// (so LagTime is about the age of the oldest byte the slave lacks). The master learns lower bounds of T
// from samples (M, t) = "at time t it held nothing beyond M", proven by a report ≥ M:
//
//   - at every report it samples (its max offset, now); the next report ≥ that offset proves the sample
//     and re-arms it, and a report ≥ the current max offset proves T = now;
//   - when a sender that had sent everything committed wakes up (new data or a timer) it samples
//     (its send offset, now): the committed log did not grow before just now. This keeps an idle,
//     caught-up slave at T ≈ the moment new data arrives, instead of its last heartbeat report.
//
// LagTime is 0 while the slave is caught up and grows one-for-one with wall time while it is stalled.
// Under steady load it overstates the truth by at most one report round trip; it understates it by at
// most a sender's wake-up latency. A slave that connects behind starts with T = its connection time (the
// true age of its missing data is unknown, so this is a lower bound).
//
// # Limits
//
// Like Java 4.x's HA, the protocol has no epochs: a slave that followed a master which then lost
// unreplicated data and wrote new data at the same offsets cannot detect the divergence unless it is
// ahead of the new end (ErrSlaveAhead). Re-seed such slaves (wipe their store). Controller mode
// (AutoSwitchHAService, 5.x) solves this with epochs and is out of scope.
package ha
