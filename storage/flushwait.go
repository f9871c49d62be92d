package storage

import (
	"fmt"
	"sync"
	"time"
)

// flushWaiters holds the WaitFlushedFunc calls: the callback form of waitFlushed, for callers
// that answer asynchronously (the broker's SYNC_FLUSH send path). Instead of one parked
// goroutine and one timer per waiting append, the goroutine that makes bytes durable (flushTo:
// the flusher, or close) completes every covered waiter right after the fdatasync, and one timer,
// armed for the oldest waiter, fails those that waited SyncFlushTimeout. Registration order is
// deadline order (every deadline is registration + the same timeout in practice; a waiter with
// a shorter timeout is still found, as the expiry scan looks at every waiter).
type flushWaiters struct {
	mu     sync.Mutex
	list   []*flushWaiter // pending, in registration order
	timer  *time.Timer    // nil until the first waiter
	closed error          // set by failAll: later registrations fail at once
}

type flushWaiter struct {
	target   int64
	deadline time.Time
	timeout  time.Duration
	done     func(error)
}

// waitFlushedFunc calls done exactly once: with nil once every byte below target is durable,
// with an ErrFlushTimeout error after timeout, or with the store's failure / ErrClosed. done
// runs on the flushing goroutine (it must not block) or, when the outcome is known at once,
// before waitFlushedFunc returns.
func (cl *commitLog) waitFlushedFunc(target int64, timeout time.Duration, done func(error)) {
	if cl.flushed.Load() >= target {
		done(nil)
		return
	}
	if err := cl.failure(); err != nil {
		done(err)
		return
	}
	fw := &cl.fw
	fw.mu.Lock()
	if fw.closed != nil {
		err := fw.closed
		fw.mu.Unlock()
		done(err)
		return
	}
	// flushTo publishes flushed before it takes fw.mu to complete waiters, so a waiter added
	// after that check is seen by the next flush, and one added before it by this one.
	if cl.flushed.Load() >= target {
		fw.mu.Unlock()
		done(nil)
		return
	}
	now := time.Now()
	fw.list = append(fw.list, &flushWaiter{target: target, deadline: now.Add(timeout), timeout: timeout, done: done})
	if len(fw.list) == 1 {
		if fw.timer == nil {
			fw.timer = time.AfterFunc(timeout, cl.expireFlushWaiters)
		} else {
			fw.timer.Reset(timeout)
		}
	}
	fw.mu.Unlock()
	if cl.opts.FlushDiskType == AsyncFlush {
		cl.requestFlush(target)
	}
}

// completeFlushWaiters calls the waiters whose target is at or below flushed (after a flush).
func (cl *commitLog) completeFlushWaiters(flushed int64) {
	fw := &cl.fw
	fw.mu.Lock()
	if len(fw.list) == 0 {
		fw.mu.Unlock()
		return
	}
	var ready []*flushWaiter
	keep := fw.list[:0]
	for _, w := range fw.list {
		if w.target <= flushed {
			ready = append(ready, w)
		} else {
			keep = append(keep, w)
		}
	}
	clear(fw.list[len(keep):])
	fw.list = keep
	fw.mu.Unlock()
	for _, w := range ready {
		w.done(nil)
	}
}

// expireFlushWaiters fails the waiters past their deadline and re-arms the timer.
func (cl *commitLog) expireFlushWaiters() {
	fw := &cl.fw
	now := time.Now()
	var expired []*flushWaiter
	fw.mu.Lock()
	keep := fw.list[:0]
	next := time.Time{}
	for _, w := range fw.list {
		if !w.deadline.After(now) {
			expired = append(expired, w)
			continue
		}
		keep = append(keep, w)
		if next.IsZero() || w.deadline.Before(next) {
			next = w.deadline
		}
	}
	clear(fw.list[len(keep):])
	fw.list = keep
	if len(keep) > 0 && fw.closed == nil {
		fw.timer.Reset(next.Sub(now))
	}
	fw.mu.Unlock()
	for _, w := range expired {
		w.done(fmt.Errorf("%w: waited %v for offset %d (flushed %d)", ErrFlushTimeout, w.timeout, w.target, cl.flushed.Load()))
	}
}

// failAllFlushWaiters fails every pending waiter, and every later registration, with err
// (the store failed or closed).
func (cl *commitLog) failAllFlushWaiters(err error) {
	fw := &cl.fw
	fw.mu.Lock()
	if fw.closed == nil {
		fw.closed = err
	}
	pending := fw.list
	fw.list = nil
	if fw.timer != nil {
		fw.timer.Stop()
	}
	fw.mu.Unlock()
	for _, w := range pending {
		w.done(err)
	}
}
