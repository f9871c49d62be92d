package ha

import (
	"container/heap"
	"time"
)

// waiter is one pending WaitForReplica call: it completes when some slave has acknowledged target.
//
// target and index are guarded by Master.mu. done is closed exactly once, by whoever removed the waiter
// from the queue (the reader whose ack covered target, just after releasing Master.mu; or Close); err is
// written before done is closed and read after.
type waiter struct {
	target int64         // the end offset the caller needs replicated
	index  int           // position in the heap; -1 once removed
	done   chan struct{} // closed when the waiter is completed (WaitForReplica)
	err    error         // nil on success; ErrClosed when the master shut down

	// WaitForReplicaFunc waiters have fn instead of done: it is called once with the outcome, by
	// whoever removed the waiter from the queue (an ack, Master.sweepExpired at deadline, or Close).
	fn       func(error, *Batch)
	deadline time.Time // when Master.sweepExpired fails it with ErrSlaveTimeout
}

// waitQueue is a min-heap of waiters ordered by target. An advancing ack pops from the top until the top's
// target is beyond the ack, so waking k satisfied waiters out of n costs O(k log n) and an ack that satisfies
// nobody costs O(1). It is not safe for concurrent use; Master.mu guards it.
type waitQueue []*waiter

func (q waitQueue) Len() int           { return len(q) }
func (q waitQueue) Less(i, j int) bool { return q[i].target < q[j].target }
func (q waitQueue) Swap(i, j int) {
	q[i], q[j] = q[j], q[i]
	q[i].index = i
	q[j].index = j
}

func (q *waitQueue) Push(x any) {
	w := x.(*waiter)
	w.index = len(*q)
	*q = append(*q, w)
}

func (q *waitQueue) Pop() any {
	old := *q
	n := len(old)
	w := old[n-1]
	old[n-1] = nil
	w.index = -1
	*q = old[:n-1]
	return w
}

// add queues w.
func (q *waitQueue) add(w *waiter) { heap.Push(q, w) }

// remove takes w out of the queue if it is still queued and reports whether it was.
func (q *waitQueue) remove(w *waiter) bool {
	if w.index < 0 {
		return false
	}
	heap.Remove(q, w.index)
	return true
}

// popReady removes every waiter whose target is at or below acked and appends it to dst. The caller
// completes them (complete) after releasing the lock, so waking many senders does not extend the
// critical section that new WaitForReplica calls contend on.
func (q *waitQueue) popReady(acked int64, dst []*waiter) []*waiter {
	for q.Len() > 0 && (*q)[0].target <= acked {
		dst = append(dst, heap.Pop(q).(*waiter))
	}
	return dst
}

// complete wakes waiters removed by popReady (with a nil error) and returns ws emptied for reuse.
// WaitForReplica callers are woken; the callbacks of WaitForReplicaFunc/WaitForReplicaBatch
// callers run right here, on the caller (the connection reader that processed the ack), sharing
// one Batch whose deferred work runs after the last of them. Running them here rather than on a
// new goroutine saves a scheduling hop on the latency-critical path of every SYNC_MASTER send;
// the price is the contract that callbacks must not block (the broker's only queue a reply
// and flush it from another goroutine).
func (m *Master) complete(ws []*waiter) []*waiter {
	var fns []*waiter
	for i, w := range ws {
		if w.fn != nil {
			fns = append(fns, w)
		} else {
			w.finish(nil, nil)
		}
		ws[i] = nil
	}
	if len(fns) > 0 {
		var b Batch
		for _, w := range fns {
			w.finish(nil, &b)
		}
		b.run()
	}
	return ws[:0]
}

// finish completes a waiter that was removed from the queue with err. b is the batch the
// callback of a WaitForReplicaFunc waiter joins; nil makes a batch of one.
func (w *waiter) finish(err error, b *Batch) {
	if w.fn != nil {
		if b == nil {
			var one Batch
			w.fn(err, &one)
			one.run()
			return
		}
		w.fn(err, b)
		return
	}
	w.err = err
	close(w.done)
}

// Batch groups the WaitForReplicaBatch callbacks that one event completes together (one
// acknowledgement covers many waiting sends). A callback can defer work to the end of its batch
// with After, e.g. one write for all the replies it queued on one connection.
type Batch struct {
	after []batchFn
}

type batchFn struct {
	key any
	f   func()
}

// After runs f once after every callback of the batch has returned; later calls with the same
// (comparable) key are ignored.
func (b *Batch) After(key any, f func()) {
	for _, a := range b.after {
		if a.key == key {
			return
		}
	}
	b.after = append(b.after, batchFn{key, f})
}

func (b *Batch) run() {
	for _, a := range b.after {
		a.f()
	}
	b.after = nil
}

// popAll removes every queued waiter and appends it to dst (Close completes them with ErrClosed
// after releasing the lock).
func (q *waitQueue) popAll(dst []*waiter) []*waiter {
	for q.Len() > 0 {
		dst = append(dst, heap.Pop(q).(*waiter))
	}
	return dst
}
