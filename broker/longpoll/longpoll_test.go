package longpoll

import (
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

type result struct {
	timedOut bool
	at       time.Time
}

func newReq(topic string, qid int, off int64, ch any, out chan result) *Request {
	return &Request{Topic: topic, QueueID: qid, Offset: off, Channel: ch,
		Wake: func(to bool) { out <- result{to, time.Now()} }}
}

func waitResult(t *testing.T, out chan result) result {
	t.Helper()
	select {
	case r := <-out:
		return r
	case <-time.After(5 * time.Second):
		t.Fatal("request not woken")
		return result{}
	}
}

func TestLongPollWakeOnArrival(t *testing.T) {
	tests := []struct {
		name      string
		reqOffset int64
		notifyMax int64
		match     func(int64) bool
		code      int64
		wakes     bool
	}{
		{"arrival past offset", 5, 6, nil, 0, true},
		{"arrival not past offset", 5, 5, nil, 0, false},
		{"tag filter matches", 5, 6, func(c int64) bool { return c == 42 }, 42, true},
		{"tag filter rejects", 5, 6, func(c int64) bool { return c == 42 }, 7, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := New()
			out := make(chan result, 1)
			r := newReq("T", 1, tt.reqOffset, "c", out)
			r.Match = tt.match
			h.Hold(r, time.Hour)
			h.Notify("T", 2, 100, tt.code) // other queue: never wakes
			h.Notify("T", 1, tt.notifyMax, tt.code)
			if tt.wakes {
				if res := waitResult(t, out); res.timedOut {
					t.Fatal("woken as timed out")
				}
				if h.Count() != 0 {
					t.Fatal("woken request still held")
				}
			} else if h.Count() != 1 {
				t.Fatalf("count = %d", h.Count())
			}
			h.Close()
		})
	}
}

func TestLongPollTimeout(t *testing.T) {
	h := New()
	out := make(chan result, 1)
	start := time.Now()
	h.Hold(newReq("T", 0, 0, nil, out), 50*time.Millisecond)
	res := waitResult(t, out)
	if !res.timedOut || res.at.Sub(start) < 50*time.Millisecond {
		t.Fatalf("timeout result %+v after %v", res, res.at.Sub(start))
	}
	// A late arrival after the timeout must not wake it twice.
	h.Notify("T", 0, 10, 0)
	select {
	case <-out:
		t.Fatal("woken twice")
	default:
	}
}

func TestLongPollReadyClosesRace(t *testing.T) {
	h := New()
	out := make(chan result, 1)
	r := newReq("T", 0, 0, nil, out)
	r.Ready = func() bool { return true }
	h.Hold(r, time.Hour)
	if res := waitResult(t, out); res.timedOut {
		t.Fatal("ready request reported timeout")
	}
	if h.Count() != 0 {
		t.Fatal("ready request still held")
	}
}

func TestLongPollReleaseChannelLeaksNothing(t *testing.T) {
	h := New()
	var woke atomic.Int32
	for i := 0; i < 100; i++ {
		ch := "conn-a"
		if i%2 == 1 {
			ch = "conn-b"
		}
		h.Hold(&Request{Topic: "T", QueueID: i % 4, Channel: ch, Wake: func(bool) { woke.Add(1) }}, time.Hour)
	}
	if h.Count() != 100 {
		t.Fatalf("count = %d", h.Count())
	}
	if n := h.ReleaseChannel("conn-a"); n != 50 {
		t.Fatalf("released %d", n)
	}
	if h.Count() != 50 || len(h.byChan) != 1 {
		t.Fatalf("count = %d chans = %d", h.Count(), len(h.byChan))
	}
	h.ReleaseChannel("conn-b")
	if h.Count() != 0 || len(h.byQueue) != 0 || len(h.byChan) != 0 {
		t.Fatal("tables not empty")
	}
	h.Notify("T", 0, 1000, 0)
	h.Close()
	if woke.Load() != 0 {
		t.Fatalf("released requests were woken %d times", woke.Load())
	}
}

func TestLongPollConcurrentWakeExactlyOnce(t *testing.T) {
	h := New()
	const n = 200
	var woke atomic.Int32
	var wg sync.WaitGroup
	for i := 0; i < n; i++ {
		h.Hold(&Request{Topic: "T", QueueID: 0, Channel: i % 3, Wake: func(bool) { woke.Add(1) }}, time.Duration(i%5)*time.Millisecond+time.Millisecond)
	}
	wg.Add(3)
	go func() { defer wg.Done(); h.Notify("T", 0, 1, 0) }()
	go func() { defer wg.Done(); h.ReleaseChannel(1) }()
	go func() { defer wg.Done(); h.Notify("T", 0, 2, 0) }()
	wg.Wait()
	h.Close()
	released := n - int(woke.Load())
	if woke.Load() > n || released < 0 || h.Count() != 0 {
		t.Fatalf("woke=%d count=%d", woke.Load(), h.Count())
	}
}

func TestLongPollCloseWakesAndRefuses(t *testing.T) {
	h := New()
	out := make(chan result, 2)
	h.Hold(newReq("T", 0, 0, nil, out), time.Hour)
	h.Close()
	if res := waitResult(t, out); !res.timedOut {
		t.Fatal("close must wake as timed out")
	}
	h.Hold(newReq("T", 0, 0, nil, out), time.Hour)
	if res := waitResult(t, out); !res.timedOut {
		t.Fatal("hold after close must answer at once")
	}
}
