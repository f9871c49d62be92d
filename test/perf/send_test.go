package perf

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gorocket/gorocket/client"
	"github.com/gorocket/gorocket/internal/conf"
)

const msgSize = 1024

var flushModes = []struct{ name, conf string }{{"async", conf.FlushAsync}, {"sync", conf.FlushSync}}

// BenchmarkSend: N goroutines share one producer and send 1 KiB messages synchronously
// (Producer.Send), like `gorocketctl bench producer --mode sync -w N`. One op is one message.
func BenchmarkSend(b *testing.B) {
	for _, producers := range []int{1, 64} {
		for _, fm := range flushModes {
			b.Run(fmt.Sprintf("producers=%d/flush=%s", producers, fm.name), func(b *testing.B) {
				c := sharedCluster(b, fm.conf)
				p := c.newProducer(b)
				body := payload(msgSize)
				lat := newLatencies(producers, b.N)
				var next atomic.Int64
				var failed atomic.Int64
				ctx := context.Background()
				b.SetBytes(msgSize)
				b.ReportAllocs()
				b.ResetTimer()
				start, cpu0 := time.Now(), cpuTime()
				var wg sync.WaitGroup
				for w := range producers {
					wg.Add(1)
					go func() {
						defer wg.Done()
						for next.Add(1) <= int64(b.N) {
							t0 := time.Now()
							if _, err := p.Send(ctx, newMsg(body)); err != nil {
								failed.Add(1)
								continue
							}
							lat[w] = append(lat[w], time.Since(t0))
						}
					}()
				}
				wg.Wait()
				elapsed, cpu := time.Since(start), cpuTime()-cpu0
				b.StopTimer()
				if n := failed.Load(); n > 0 {
					b.Fatalf("%d of %d sends failed", n, b.N)
				}
				lat.report(b, b.N, elapsed, cpu)
			})
		}
	}
}

// BenchmarkSendAsync: N goroutines each keep `window` SendAsync calls in flight
// (`gorocketctl bench producer --mode async --window 64`). One op is one message; latency is
// from SendAsync to the callback.
func BenchmarkSendAsync(b *testing.B) {
	const producers, window = 64, 64
	for _, fm := range flushModes {
		b.Run(fmt.Sprintf("producers=%d/window=%d/flush=%s", producers, window, fm.name), func(b *testing.B) {
			c := sharedCluster(b, fm.conf)
			p := c.newProducer(b)
			body := payload(msgSize)
			lat := newLatencies(producers, b.N)
			var next atomic.Int64
			var failed atomic.Int64
			b.SetBytes(msgSize)
			b.ReportAllocs()
			b.ResetTimer()
			start, cpu0 := time.Now(), cpuTime()
			var wg sync.WaitGroup
			for w := range producers {
				wg.Add(1)
				go func() {
					defer wg.Done()
					sem := make(chan struct{}, window)
					var mu sync.Mutex // the callbacks of one worker run concurrently
					var inflight sync.WaitGroup
					for next.Add(1) <= int64(b.N) {
						sem <- struct{}{}
						t0 := time.Now()
						inflight.Add(1)
						err := p.SendAsync(context.Background(), newMsg(body), func(_ *client.SendResult, err error) {
							d := time.Since(t0)
							if err != nil {
								failed.Add(1)
							} else {
								mu.Lock()
								lat[w] = append(lat[w], d)
								mu.Unlock()
							}
							<-sem
							inflight.Done()
						})
						if err != nil {
							failed.Add(1)
							<-sem
							inflight.Done()
						}
					}
					inflight.Wait()
				}()
			}
			wg.Wait()
			elapsed, cpu := time.Since(start), cpuTime()-cpu0
			b.StopTimer()
			if n := failed.Load(); n > 0 {
				b.Fatalf("%d of %d sends failed", n, b.N)
			}
			lat.report(b, b.N, elapsed, cpu)
		})
	}
}

// BenchmarkSendBatch: N goroutines send SEND_BATCH_MESSAGE requests of 16 messages
// (`--mode batch --batch-size 16`). One op is one message; latency is per batch.
func BenchmarkSendBatch(b *testing.B) {
	const producers, batch = 64, 16
	for _, fm := range flushModes {
		b.Run(fmt.Sprintf("producers=%d/batch=%d/flush=%s", producers, batch, fm.name), func(b *testing.B) {
			c := sharedCluster(b, fm.conf)
			p := c.newProducer(b)
			body := payload(msgSize)
			batches := (b.N + batch - 1) / batch
			lat := newLatencies(producers, batches)
			var next atomic.Int64
			var failed atomic.Int64
			ctx := context.Background()
			b.SetBytes(msgSize)
			b.ReportAllocs()
			b.ResetTimer()
			start, cpu0 := time.Now(), cpuTime()
			var wg sync.WaitGroup
			for w := range producers {
				wg.Add(1)
				go func() {
					defer wg.Done()
					msgs := make([]*client.Message, batch)
					for next.Add(1) <= int64(batches) {
						for i := range msgs {
							msgs[i] = newMsg(body)
						}
						t0 := time.Now()
						if _, err := p.SendBatch(ctx, msgs); err != nil {
							failed.Add(1)
							continue
						}
						lat[w] = append(lat[w], time.Since(t0))
					}
				}()
			}
			wg.Wait()
			elapsed, cpu := time.Since(start), cpuTime()-cpu0
			b.StopTimer()
			if n := failed.Load(); n > 0 {
				b.Fatalf("%d of %d batches failed", n, batches)
			}
			lat.report(b, batches*batch, elapsed, cpu)
		})
	}
}

// TestConcurrentSendsAllStored drives the same code paths as the benchmarks briefly (sync sends
// from many goroutines, async sends, batches, all at once) and checks every acknowledgement:
// per queue, the offsets the broker returned cover one contiguous range without duplicates,
// and that range ends at the queue's max offset once the broker has dispatched it.
func TestConcurrentSendsAllStored(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a broker")
	}
	c := sharedCluster(t, conf.FlushAsync)
	p := c.newProducer(t)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	body := payload(msgSize)
	const workers, perWorker, batch = 16, 100, 8

	var mu sync.Mutex
	covered := map[int]map[int64]int{} // queue -> offset -> acknowledgements
	ack := func(res *client.SendResult, n int) {
		mu.Lock()
		defer mu.Unlock()
		m := covered[res.Queue.QueueID]
		if m == nil {
			m = map[int64]int{}
			covered[res.Queue.QueueID] = m
		}
		for i := range n {
			m[res.QueueOffset+int64(i)]++
		}
	}
	var wg sync.WaitGroup
	errs := make(chan error, workers*perWorker*3)
	for range workers {
		wg.Add(3)
		go func() {
			defer wg.Done()
			for range perWorker {
				res, err := p.Send(ctx, newMsg(body))
				if err != nil {
					errs <- err
					continue
				}
				ack(res, 1)
			}
		}()
		go func() {
			defer wg.Done()
			var inflight sync.WaitGroup
			for range perWorker {
				inflight.Add(1)
				if err := p.SendAsync(ctx, newMsg(body), func(res *client.SendResult, err error) {
					defer inflight.Done()
					if err != nil {
						errs <- err
						return
					}
					ack(res, 1)
				}); err != nil {
					errs <- err
					inflight.Done()
				}
			}
			inflight.Wait()
		}()
		go func() {
			defer wg.Done()
			for range perWorker / batch {
				msgs := make([]*client.Message, batch)
				for i := range msgs {
					msgs[i] = newMsg(body)
				}
				res, err := p.SendBatch(ctx, msgs)
				if err != nil {
					errs <- err
					continue
				}
				ack(res, batch)
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	total := 0
	maxOff := map[int]int64{}
	for q, m := range covered {
		lo, hi := int64(-1), int64(-1)
		for off, n := range m {
			if n != 1 {
				t.Errorf("queue %d offset %d acknowledged %d times", q, off, n)
			}
			if lo < 0 || off < lo {
				lo = off
			}
			hi = max(hi, off)
		}
		if int64(len(m)) != hi-lo+1 {
			t.Errorf("queue %d: %d offsets acknowledged in [%d,%d]: not contiguous", q, len(m), lo, hi)
		}
		maxOff[q] = hi + 1
		total += len(m)
	}
	if want := workers * (2*perWorker + perWorker/batch*batch); total != want {
		t.Fatalf("%d messages acknowledged, want %d", total, want)
	}
	// The consume queues reach exactly the acknowledged ranges (nothing else sends meanwhile).
	tick := time.NewTicker(10 * time.Millisecond)
	defer tick.Stop()
	for {
		st := c.queueMaxOffsets(t)
		done := true
		for q, want := range maxOff {
			if st[q] != want {
				done = false
			}
		}
		if done {
			return
		}
		select {
		case <-ctx.Done():
			t.Fatalf("queue max offsets %v, want %v", st, maxOff)
		case <-tick.C:
		}
	}
}

// newMsg is a benchmark message like gorocketctl bench producer's (tag "bench").
func newMsg(body []byte) *client.Message {
	return client.NewMessage(benchTopic, body).WithTag("bench")
}
