package bench

import (
	"sync"
	"testing"
	"time"
)

// TestStreamShardsMergeExactly: concurrent recorders on their own shards (plus one shared
// shard) lose nothing; intervals reset while totals keep accumulating.
func TestStreamShardsMergeExactly(t *testing.T) {
	const workers, perWorker = 16, 2000
	s := newStream(workers)
	var ref Histogram
	for w := range workers {
		for i := range perWorker {
			ref.Record(time.Duration(w*perWorker+i) * time.Microsecond)
		}
	}
	var wg sync.WaitGroup
	var taken Histogram
	var takenMsgs uint64
	stop := make(chan struct{})
	done := make(chan struct{})
	go func() { // the progress printer, concurrently
		defer close(done)
		for {
			h, n := s.takeInterval()
			taken.Merge(&h)
			takenMsgs += n
			select {
			case <-stop:
				return
			default:
			}
		}
	}()
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range perWorker {
				s.record(w, time.Duration(w*perWorker+i)*time.Microsecond, 2)
			}
		}()
	}
	wg.Wait()
	close(stop)
	<-done
	h, n := s.takeInterval()
	taken.Merge(&h)
	takenMsgs += n
	total, totalMsgs := s.totals()
	for name, got := range map[string]*Histogram{"intervals": &taken, "totals": &total} {
		if got.Count() != ref.Count() || got.Quantile(0.5) != ref.Quantile(0.5) || got.Max() != ref.Max() || got.Min() != ref.Min() || got.Mean() != ref.Mean() {
			t.Errorf("%s: count %d p50 %v max %v, want %d %v %v", name, got.Count(), got.Quantile(0.5), got.Max(), ref.Count(), ref.Quantile(0.5), ref.Max())
		}
	}
	if want := uint64(2 * workers * perWorker); takenMsgs != want || totalMsgs != want {
		t.Errorf("messages: intervals %d, totals %d, want %d", takenMsgs, totalMsgs, want)
	}
	if h, n := s.takeInterval(); h.Count() != 0 || n != 0 {
		t.Errorf("interval not reset: %d observations, %d messages", h.Count(), n)
	}
}
