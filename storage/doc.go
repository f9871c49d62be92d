// Package storage is gorocket's message store: an Apache RocketMQ 4.x style commit log with
// consume queues, a key index, a checkpoint and crash recovery. It imports nothing of the
// project except its own sub-package storage/vfs (the file-system seam used by the crash
// tests).
//
// This comment is the specification of the on-disk format. Code follows it; when they
// disagree, the code is wrong.
//
// # Directory layout
//
//	<storePathRootDir>/
//	  lock                               exclusive flock; content names the holder (pid, host, time)
//	  abort                              exists while a Store is open; present at Open = crash
//	  checkpoint                         recovery hints (format below), replaced atomically
//	  commitlog/                         storePathCommitLog
//	    00000000000000000000             segments named by their 20-digit start offset
//	    00000000001073741824
//	    00000000001073741824.broken      bytes cut off by recovery (kept, never read back)
//	  consumequeue/<topic>/<queueId>/    storePathConsumeQueue
//	    00000000000000000000             named by the 20-digit start byte in the queue's
//	    00000000000006000000             logical space (entry n lives at byte n*20)
//	  index/                             storePathIndex
//	    20240101120000000                named by creation time yyyyMMddHHmmssSSS
//
// Every path can be set individually (storePathCommitLog, storePathConsumeQueue,
// storePathIndex, storeCheckpoint, abortFile: the RocketMQ keys); the lock always lives in
// the root directory. All integers on disk are big-endian. The constants are in record.go
// (record, blank), consumequeue.go (entry), index.go (index file), checkpoint.go.
//
// # Commit log
//
// The commit log is one logical byte space cut into segments of MappedFileSizeCommitLog bytes
// (default 1 GiB). A segment file always has exactly that size: it is created and zero-filled
// ("warmed") by a background allocator before the appender needs it. Bytes past the write
// position are zero, an invariant recovery restores after a crash.
//
// A record is RocketMQ's MessageExt encoding, byte for byte what a pull response carries:
//
//	off  size  field
//	  0     4  TOTALSIZE        whole record, including this field
//	  4     4  MAGICCODE        0xDAA320A7 (V1, 1-byte topic length; the only one written)
//	  8     4  BODYCRC          crc32 IEEE of BODY & 0x7FFFFFFF
//	 12     4  QUEUEID
//	 16     4  FLAG
//	 20     8  QUEUEOFFSET      logical offset in the consume queue (0 for prepared/rollback)
//	 28     8  PHYSICALOFFSET   commit-log offset of this record (checked by recovery)
//	 36     4  SYSFLAG          0x10: born host is IPv6; 0x20: store host is IPv6
//	 40     8  BORNTIMESTAMP
//	 48   8|20 BORNHOST         4|16-byte address + int32 port
//	  .     8  STORETIMESTAMP   stamped by the appender, never decreasing
//	  .   8|20 STOREHOST
//	  .     4  RECONSUMETIMES
//	  .     8  PREPAREDTRANSACTIONOFFSET
//	  .     4  BODYLENGTH  B
//	  .     B  BODY
//	  .     1  TOPICLENGTH T   (<= 127)
//	  .     T  TOPIC
//	  .     2  PROPERTIESLENGTH P (<= 32767)
//	  .     P  PROPERTIES       key 0x01 value 0x02 ...
//
// TOTALSIZE = 91 + B + T + P, plus 12 for each IPv6 host. A record never spans segments: when
// TOTALSIZE + 8 does not fit in the rest of the segment, the appender writes an 8-byte blank
// record (int32 remaining bytes of the segment, int32 0xCBD43194) and continues at the start
// of the next segment. The zeros after the blank header belong to the blank record, so a
// segment is always covered exactly by records. A batch is written as consecutive records in
// one segment.
//
// # Consume queue
//
// One queue per (topic, queueId). Each entry is 20 bytes: int64 commit-log offset, int32
// record size, int64 tag code (Java String.hashCode of the TAGS property, sign-extended; for
// the schedule topic the delivery time = store time + delay of the DELAY level). A file holds
// ConsumeQueueEntriesPerFile entries (default 300,000 = 6,000,000 bytes) and is created at full
// size (sparse). An entry with size 0 is empty. Entries are written only by the dispatcher,
// which reads committed records from the commit log, so every consume queue can be rebuilt
// from the commit log. Prepared and rollback transaction records get no entry and no queue
// offset. minOffset is the first entry whose record is still in the commit log; maxOffset is
// the next entry to be written.
//
// # Index
//
// RocketMQ's IndexFile layout, with configurable sizes (defaults 5,000,000 slots and
// 20,000,000 entries, 420,000,040 bytes):
//
//	0    40 bytes header: int64 beginTimestamp, int64 endTimestamp, int64 beginPhyOffset,
//	                      int64 endPhyOffset, int32 hashSlotCount, int32 indexCount
//	40   slots × int32      newest entry number of the bucket (0 = empty)
//	..   entries × 20 bytes int32 keyHash, int64 phyOffset, int32 timeDiff (s since
//	                        beginTimestamp), int32 prevIndex (older entry in the bucket)
//
// keyHash = |javaHashCode(topic + "#" + key)| (0 when negative), bucket = keyHash mod slots.
// Keys are the UNIQ_KEY property and every space-separated token of KEYS; rollback records
// are not indexed. Entry 0 is unused. The entry area is append-only: the dispatcher writes
// new entries and the header at the end of each dispatch round. The slot table of the newest
// ("active") file lives in memory and is written into the file when the file is sealed (full)
// and at a clean Close; a new file is created at full size (sparse) and fdatasynced before
// its name is. After a crash the newest file is cut back to its entries for records below
// the checkpoint's logicsOffset (entries never change once written, so their prevIndex
// chains stay valid), its slot table is rebuilt from them and it is sealed; newer files are
// removed and redispatch re-indexes the rest into a fresh file. Lookups verify every hit
// against the commit-log record (topic, key, store time), so hash collisions never leak.
//
// # Checkpoint
//
//	off  size  field
//	  0     4  magic 0x47524350 ("GRCP")
//	  4     4  version (1)
//	  8     8  commit-log segment size   } the store refuses to open with different options
//	 16     8  consume-queue file bytes  }
//	 24     8  physicOffset   every commit-log byte below is durable and was verified
//	 32     8  logicsOffset   every record below has its consume-queue and index entries durable
//	 40     8  writtenAt      store clock (ms) when the checkpoint was made
//	 48     4  queue count Q
//	 52     .  Q × { int16 topic length, topic, int32 queueId, int64 maxOffset at logicsOffset }
//	  .     4  crc32 (Castagnoli) of everything before
//
// logicsOffset <= physicOffset always holds. The file is replaced atomically (see the order).
//
// # Lock and abort files
//
// Open takes a non-blocking exclusive flock on <root>/lock and writes the holder into it; a
// second Open of the same root fails at once with an error naming the path and the holder
// (ErrLocked) — the "master and slave on one host share a store path" mistake. Open then
// creates <abortFile>; Close removes it last. Finding it at Open means the previous process
// did not close cleanly.
//
// # Write → fsync → commit order
//
// This is the only place the order is spelled out; the code refers here.
//
//  1. Append (under the appender lock): assign the queue offset, stamp the store time, encode
//     the record into an in-memory commit buffer. Nothing is visible to readers yet.
//  2. Commit: write whole buffers to the segment file (pwrite), then publish committedOffset.
//     Readers, ReadRaw and the dispatcher see bytes below it. Under ASYNC_FLUSH the committer
//     goroutine does this when it is woken, after yielding twice so that the appenders ready
//     to run add their records to the same pwrite; under SYNC_FLUSH the flusher does it itself
//     right before step 3, so a group commit costs one goroutine hop.
//  3. Flush (flusher goroutine): fdatasync every segment holding bytes in
//     [flushedOffset, target), then publish flushedOffset = target, wake the appends
//     waiting for durability and call the WaitFlushedFunc callbacks the flush covers
//     (SYNC_FLUSH group commit: one fdatasync for all waiters).
//     ASYNC_FLUSH flushes on an interval, when enough bytes are dirty, or on request.
//  4. Dispatch (dispatcher goroutine): read committed records, write consume-queue entries
//     and index entries (pwrite per touched file per round), publish the queues' maxOffset,
//     then call the message-arrived hook outside every lock.
//  5. Checkpoint (checkpointer goroutine, every flushIntervalConsumeQueue): take D =
//     dispatched offset and the queue table under the dispatch lock; wait until
//     flushedOffset >= D (commit-log data is durable before the entries that point at it are
//     declared durable); fsync the directories that gained files; fdatasync the consume-queue
//     files holding entries below the table's offsets and the active index file; write
//     checkpoint.tmp, fdatasync it, rename it over checkpoint, fsync the directory.
//  6. New files (segments, consume-queue files, index files) are created at full size and
//     their directory is fsynced before any offset inside them is declared durable.
//     A new segment is zero-filled (and, under SYNC_FLUSH, fdatasynced) by the allocator,
//     off the append path, at full speed right after the previous roll: pwrite into a hole
//     measured 5-20x slower than into written pages, and group commits into a synced,
//     zero-filled file ran about twice as fast as into a sparse or fallocated one. The price
//     is writing every segment twice; spreading the zero-fill out was measured to be worse
//     than the short burst (every fdatasync waits for in-flight writes).
//
// What survives what: under SYNC_FLUSH an acknowledged append survives power loss. Under
// ASYNC_FLUSH a committed append survives a process crash (it is in the page cache) and a
// flushed one survives power loss; appends still in the commit buffers (normally for
// microseconds, at most 4 buffers) are lost if the process dies.
//
// # Recovery
//
// Open always runs recovery; a clean shutdown only makes it short.
//
//  1. Commit log: scan from the checkpoint's physicOffset (or the first segment when the
//     checkpoint is missing or fails its magic/version/CRC check). A record is valid when its
//     magic is V1/V2, its lengths are consistent, its PHYSICALOFFSET equals its position and
//     (with CheckCRCOnRecover) its BODYCRC matches. A blank record must end exactly at the
//     segment end. The first invalid position is the end of the log. After a crash (or when
//     the bytes at the end are not zero) every non-zero byte after it is copied to
//     <commitlog>/<20-digit offset>.broken and then zeroed; later segments are copied and
//     removed. RecoveryReport says how much was cut and where the copy is.
//  2. Consume queues: each queue's durable length comes from the checkpoint's table and is
//     verified against the commit log (the last entry must point at the record with that
//     topic, queue and offset); entries pointing past the recovered end are dropped. A queue
//     that is missing or damaged, a record that does not continue its queue, or a missing
//     checkpoint triggers a full rebuild from the first retained commit-log byte.
//  3. Index: as described above.
//  4. Redispatch: every record from logicsOffset (or the first retained byte on a rebuild) to
//     the end is dispatched again. Consume-queue writes are idempotent (an entry that is
//     already there is skipped); entries past each queue's end are zeroed afterwards.
//  5. The queue-offset table of the appender is taken from the consume queues; a fresh
//     checkpoint is written before Open returns.
//
// # Reads
//
// Segments and consume-queue files are mapped read-only (mmap, MAP_SHARED) for their whole
// size; reads return sub-slices of the mapping without copying or a system call. Writes use
// pwrite from the commit buffers instead of stores into a writable mapping: on this class of
// machine write+fdatasync measured about twice as fast as mmap+msync, a writable mapping
// takes a page fault on every page after each writeback, and keeping writes behind the
// vfs.File interface lets the crash tests observe exactly what was synced. Because Linux has
// one page cache, the read-only mapping sees pwrite data at once. A mapping stays valid while
// a reader holds a reference (GetResult.Release, Buffer.Release); retention unmaps a deleted
// segment only after the last reference is gone. pread into pooled buffers would cost a
// system call and a copy per record on every pull.
//
// # Lock order
//
// A lock may be taken while holding the ones above it on its path, never the reverse. A
// function whose name ends in "Locked" expects the lock named in its comment to be held.
//
//	Store.cpMu (checkpoint, DeleteTopic)
//	  → Store.dispatchMu (dispatch round, checkpoint snapshot, DeleteTopic, resetEmpty)
//	      → Store.cqMu (registry) → consumeQueue.mu (one queue's files)
//	      → indexService.mu
//	      → commitLog.commitMu (commit) → commitLog.mu (appender) → commitLog.segMu
//	Store.cleanMu (retention) → commitLog.segMu, consumeQueue.mu, indexService.mu
//
// No storage lock is held while the message-arrived hook runs, so the hook may call back
// into the Store. Readers take no lock on the data path: they find a file under a read lock,
// take a reference, and read the mapping.
package storage
