// Package longpoll parks PULL_MESSAGE requests that found no new message until a message
// arrives in their queue or their suspend time runs out.
//
// Every held request is in exactly one of two states: held (in the tables, timer armed) or
// finished (removed, Wake called once or dropped). Transitions happen under Holder.mu, so a
// request is woken at most once even when an arrival, its timer and a connection close race.
// Wake callbacks run on their own goroutine, never under the mutex and never on the caller's
// (storage's) goroutine.
package longpoll

import (
	"sync"
	"time"
)

// Request is one parked pull.
type Request struct {
	Topic   string
	QueueID int
	// Offset is the offset the pull asked for; an arrival wakes the request once the queue's
	// max offset exceeds it.
	Offset int64
	// Channel identifies the connection; ReleaseChannel drops its requests. Must be comparable.
	Channel any
	// Match filters arrivals by consume-queue tag code (nil = every message matches).
	Match func(tagsCode int64) bool
	// Ready, if set, is evaluated right after the request is parked, to close the race with an
	// arrival between the caller's empty read and Hold.
	Ready func() bool
	// Wake is called exactly once, on its own goroutine, unless the request is dropped by
	// ReleaseChannel. timedOut reports a suspend timeout (or Close).
	Wake func(timedOut bool)
}

type queueKey struct {
	topic string
	qid   int
}

type entry struct {
	req   *Request
	timer *time.Timer
}

// Holder is the table of parked pulls.
type Holder struct {
	mu      sync.Mutex
	byQueue map[queueKey]map[*entry]struct{}
	byChan  map[any]map[*entry]struct{}
	closed  bool
	running int        // Wake callbacks in flight (guarded by mu)
	idle    *sync.Cond // signalled when running drops to 0 (uses mu)
}

// New returns an empty holder.
func New() *Holder {
	h := &Holder{byQueue: make(map[queueKey]map[*entry]struct{}), byChan: make(map[any]map[*entry]struct{})}
	h.idle = sync.NewCond(&h.mu)
	return h
}

// Hold parks r for at most timeout. If the holder is closed, r is woken at once as timed out.
func (h *Holder) Hold(r *Request, timeout time.Duration) {
	e := &entry{req: r}
	h.mu.Lock()
	if h.closed {
		h.mu.Unlock()
		h.spawn(r, true)
		return
	}
	k := queueKey{r.Topic, r.QueueID}
	if h.byQueue[k] == nil {
		h.byQueue[k] = make(map[*entry]struct{})
	}
	h.byQueue[k][e] = struct{}{}
	if r.Channel != nil {
		if h.byChan[r.Channel] == nil {
			h.byChan[r.Channel] = make(map[*entry]struct{})
		}
		h.byChan[r.Channel][e] = struct{}{}
	}
	e.timer = time.AfterFunc(timeout, func() { h.finish(e, true, true) })
	h.mu.Unlock()
	if r.Ready != nil && r.Ready() {
		h.finish(e, false, true)
	}
}

// finish removes e if it is still held and, when wake is set, runs its Wake callback.
func (h *Holder) finish(e *entry, timedOut, wake bool) {
	h.mu.Lock()
	if !h.removeLocked(e) {
		h.mu.Unlock()
		return
	}
	h.mu.Unlock()
	if wake {
		h.spawn(e.req, timedOut)
	}
}

// removeLocked unlinks e; it reports false when e was already finished. Lock must be held.
func (h *Holder) removeLocked(e *entry) bool {
	k := queueKey{e.req.Topic, e.req.QueueID}
	set := h.byQueue[k]
	if _, ok := set[e]; !ok {
		return false
	}
	delete(set, e)
	if len(set) == 0 {
		delete(h.byQueue, k)
	}
	if ch := e.req.Channel; ch != nil {
		if cs := h.byChan[ch]; cs != nil {
			delete(cs, e)
			if len(cs) == 0 {
				delete(h.byChan, ch)
			}
		}
	}
	e.timer.Stop()
	return true
}

func (h *Holder) spawn(r *Request, timedOut bool) {
	h.mu.Lock()
	h.running++
	h.mu.Unlock()
	go func() {
		defer func() {
			h.mu.Lock()
			h.running--
			if h.running == 0 {
				h.idle.Broadcast()
			}
			h.mu.Unlock()
		}()
		r.Wake(timedOut)
	}()
}

// Notify reports that a message with tagsCode was appended to (topic, queueID) and the queue's
// max offset is now maxOffset. Matching requests whose offset is below maxOffset are woken.
func (h *Holder) Notify(topic string, queueID int, maxOffset, tagsCode int64) {
	var woken []*entry
	h.mu.Lock()
	for e := range h.byQueue[queueKey{topic, queueID}] {
		if maxOffset <= e.req.Offset {
			continue
		}
		if e.req.Match != nil && !e.req.Match(tagsCode) {
			continue
		}
		woken = append(woken, e)
	}
	for _, e := range woken {
		h.removeLocked(e)
	}
	h.mu.Unlock()
	for _, e := range woken {
		h.spawn(e.req, false)
	}
}

// ReleaseChannel drops every request of a closed connection without waking it (there is nobody
// to answer). It returns the number dropped.
func (h *Holder) ReleaseChannel(ch any) int {
	h.mu.Lock()
	defer h.mu.Unlock()
	n := 0
	for e := range h.byChan[ch] {
		if h.removeLocked(e) {
			n++
		}
	}
	return n
}

// Count returns the number of parked requests.
func (h *Holder) Count() int {
	h.mu.Lock()
	defer h.mu.Unlock()
	n := 0
	for _, s := range h.byQueue {
		n += len(s)
	}
	return n
}

// Close wakes every parked request as timed out, refuses new ones (they are woken at once) and
// waits for running Wake callbacks to return.
func (h *Holder) Close() {
	h.mu.Lock()
	h.closed = true
	var all []*entry
	for _, s := range h.byQueue {
		for e := range s {
			all = append(all, e)
		}
	}
	for _, e := range all {
		h.removeLocked(e)
	}
	h.mu.Unlock()
	for _, e := range all {
		h.spawn(e.req, true)
	}
	h.mu.Lock()
	for h.running > 0 {
		h.idle.Wait()
	}
	h.mu.Unlock()
}
