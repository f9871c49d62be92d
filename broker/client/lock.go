package client

import (
	"sync"
	"time"

	"github.com/gorocket/gorocket/remoting/protocol"
)

// DefaultLockLease is how long a queue lock lives without renewal (Java's
// rocketmq.broker.rebalance.lockMaxLiveTime).
const DefaultLockLease = 60 * time.Second

type lockKey struct {
	group string
	mq    protocol.BrokerMessageQueue
}

type lockEntry struct {
	clientID string
	expires  time.Time
}

// Locks is the orderly-consumption queue lock table: (group, queue) → clientID with a lease.
type Locks struct {
	lease time.Duration
	mu    sync.Mutex
	table map[lockKey]lockEntry
}

// NewLocks returns a lock table whose leases last lease (DefaultLockLease if ≤ 0).
func NewLocks(lease time.Duration) *Locks {
	if lease <= 0 {
		lease = DefaultLockLease
	}
	return &Locks{lease: lease, table: make(map[lockKey]lockEntry)}
}

// TryLock grants each queue that is free, expired, or already held by clientID, renews those
// leases, and returns the queues clientID now holds.
func (l *Locks) TryLock(group, clientID string, mqs []protocol.BrokerMessageQueue, now time.Time) []protocol.BrokerMessageQueue {
	l.mu.Lock()
	defer l.mu.Unlock()
	out := make([]protocol.BrokerMessageQueue, 0, len(mqs))
	for _, mq := range mqs {
		k := lockKey{group, mq}
		e, ok := l.table[k]
		if ok && e.clientID != clientID && now.Before(e.expires) {
			continue
		}
		l.table[k] = lockEntry{clientID: clientID, expires: now.Add(l.lease)}
		out = append(out, mq)
	}
	return out
}

// Unlock releases the queues held by clientID.
func (l *Locks) Unlock(group, clientID string, mqs []protocol.BrokerMessageQueue) {
	l.mu.Lock()
	defer l.mu.Unlock()
	for _, mq := range mqs {
		k := lockKey{group, mq}
		if e, ok := l.table[k]; ok && e.clientID == clientID {
			delete(l.table, k)
		}
	}
}

// Holder returns the live holder of a queue lock.
func (l *Locks) Holder(group string, mq protocol.BrokerMessageQueue, now time.Time) (string, bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	e, ok := l.table[lockKey{group, mq}]
	if !ok || !now.Before(e.expires) {
		return "", false
	}
	return e.clientID, true
}

// Sweep drops expired entries so the table does not grow without bound.
func (l *Locks) Sweep(now time.Time) {
	l.mu.Lock()
	defer l.mu.Unlock()
	for k, e := range l.table {
		if !now.Before(e.expires) {
			delete(l.table, k)
		}
	}
}
