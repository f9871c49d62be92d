package remoting

import (
	"sync"
	"time"

	"github.com/gorocket/gorocket/remoting/protocol"
)

// Handlers and async callbacks run on the endpoint's goroutines: a goroutine that finished
// its task waits up to workerIdle for the next one before it exits. Reusing goroutines keeps
// the stacks they grew (a broker send handler needs more than a new goroutine's stack, and
// growing it by copying cost ~8% of the send path's CPU) and spares a goroutine start per
// request. The number of goroutines still follows the load: a task that finds no idle
// goroutine starts a new one, so handlers never wait for each other. Idle goroutines are
// reused last-in first-out, so under a light load the same few serve every task and the
// others time out (a FIFO would keep every one of them alive).

// workerIdle is how long an idle goroutine waits for a task before it exits.
const workerIdle = 2 * time.Second

// task is a request to serve (req) or an async callback to run (cb).
type task struct {
	req  *Request
	cb   func(*protocol.RemotingCommand, error)
	resp *protocol.RemotingCommand
	err  error
}

// worker is an idle goroutine's mailbox.
type worker struct {
	ch chan task // buffered(1): whoever takes the worker off the idle stack sends one task
}

// workerPool is the endpoint's stack of idle goroutines.
type workerPool struct {
	mu      sync.Mutex
	idle    []*worker
	stopped bool
}

// run hands t to the most recently idle goroutine, or starts one.
func (e *endpoint) run(t task) {
	p := &e.workers
	p.mu.Lock()
	if n := len(p.idle); n > 0 && !p.stopped {
		w := p.idle[n-1]
		p.idle[n-1] = nil
		p.idle = p.idle[:n-1]
		p.mu.Unlock()
		w.ch <- t
		return
	}
	p.mu.Unlock()
	e.wg.Add(1)
	e.workersStarted.Add(1)
	go e.worker(t)
}

func (e *endpoint) worker(t task) {
	defer e.wg.Done()
	w := &worker{ch: make(chan task, 1)}
	var idle *time.Timer
	for {
		if t.req != nil {
			t.req.Conn.serve(t.req)
			<-e.sem
		} else {
			t.cb(t.resp, t.err)
		}
		t = task{} // do not keep the request (and its body) while idle
		if !e.workers.push(w) {
			return // stopped
		}
		if idle == nil {
			idle = time.NewTimer(workerIdle)
		} else {
			idle.Reset(workerIdle)
		}
		select {
		case t = <-w.ch:
			continue
		case <-idle.C:
		case <-e.stopWork:
			idle.Stop()
		}
		if e.workers.remove(w) {
			return
		}
		// Taken off the stack meanwhile: a task is on its way.
		t = <-w.ch
	}
}

// push puts w on the idle stack; false once the pool is stopped.
func (p *workerPool) push(w *worker) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.stopped {
		return false
	}
	p.idle = append(p.idle, w)
	return true
}

// remove takes w off the idle stack; false when it was no longer there (someone took it
// and sends it a task).
func (p *workerPool) remove(w *worker) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	for i, x := range p.idle {
		if x == w {
			n := len(p.idle)
			copy(p.idle[i:], p.idle[i+1:])
			p.idle[n-1] = nil
			p.idle = p.idle[:n-1]
			return true
		}
	}
	return false
}

// stopWorkers makes idle goroutines exit (Server.Shutdown, Client.Close); goroutines busy
// with a task exit when it is done, and later tasks each get a goroutine of their own.
func (e *endpoint) stopWorkers() {
	e.stopOnce.Do(func() {
		e.workers.mu.Lock()
		e.workers.stopped = true
		e.workers.mu.Unlock()
		close(e.stopWork)
	})
}
