package ha

import "sync"

// broadcast is a level-free "something changed" signal for any number of waiters: wait returns a channel
// that is closed by the next notify. Taking the channel before re-checking the condition makes the
// check-then-wait race free: a notify between the check and the select still closes the channel already
// held. notify is cheap when nobody waits (no allocation, no close).
type broadcast struct {
	mu      sync.Mutex
	ch      chan struct{}
	waiting bool // someone holds ch; the next notify must close it
}

func newBroadcast() *broadcast { return &broadcast{ch: make(chan struct{})} }

// wait returns the channel the next notify closes.
func (b *broadcast) wait() <-chan struct{} {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.waiting = true
	return b.ch
}

// notify wakes everyone holding a channel from wait.
func (b *broadcast) notify() {
	b.mu.Lock()
	defer b.mu.Unlock()
	if !b.waiting {
		return
	}
	close(b.ch)
	b.ch = make(chan struct{})
	b.waiting = false
}
