package ha

import (
	"context"
	"fmt"
	"path/filepath"
	"runtime"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/gorocket/gorocket/storage"
)

// Benchmarks: 64 concurrent senders appending 1 KiB messages to a real store, with and without waiting
// for a slave (a second real store, over loopback) to acknowledge each message: the SYNC_MASTER send
// path against the ASYNC_MASTER one.
//
//	go test -run '^$' -bench . -benchtime 20000x ./broker/ha/

const benchSenders = 64

func benchOpen(b *testing.B, dir string) *storage.Store {
	b.Helper()
	o := storeOptions(dir)
	o.MappedFileSizeCommitLog = 256 << 20
	o.ConsumeQueueEntriesPerFile = 300_000
	o.MaxHashSlotNum = 50_000
	o.MaxIndexNum = 200_000
	o.FlushIntervalCommitLog = 500 * time.Millisecond
	o.FlushIntervalConsumeQueue = time.Second
	o.CommitBufferSize = 4 << 20
	s, err := storage.Open(nil, o)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { _ = s.Close() })
	return s
}

// BenchmarkAppendNoReplication: appends only (a master without slaves).
func BenchmarkAppendNoReplication(b *testing.B) { benchSend(b, false, false) }

// BenchmarkAsyncReplication: appends with a slave replicating alongside (ASYNC_MASTER); senders do not
// wait for it.
func BenchmarkAsyncReplication(b *testing.B) { benchSend(b, true, false) }

// BenchmarkSyncReplication: every append waits for the slave's acknowledgement (SYNC_MASTER).
func BenchmarkSyncReplication(b *testing.B) { benchSend(b, true, true) }

func benchSend(b *testing.B, replicate, wait bool) {
	root := b.TempDir()
	mstore := benchOpen(b, filepath.Join(root, "master"))
	var master *Master
	if replicate {
		sstore := benchOpen(b, filepath.Join(root, "slave"))
		m, err := NewMaster(nil, mstore, listenLoopback(b), MasterConfig{})
		if err != nil {
			b.Fatal(err)
		}
		s, err := NewSlave(nil, sstore, SlaveConfig{})
		if err != nil {
			b.Fatal(err)
		}
		// Cleanups run last-in first-out: slave, master, then the stores.
		b.Cleanup(func() { _ = m.Close() })
		b.Cleanup(func() { _ = s.Close() })
		s.SetMasterAddress(m.Addr().String())
		waitFor(b, 5*time.Second, "slave handshake", func() bool {
			st := m.State()
			return len(st.Slaves) == 1 && st.Slaves[0].Reported
		})
		master = m
	}
	body := make([]byte, 1024)
	for i := range body {
		body[i] = byte(i)
	}
	props := storage.EncodeProperties(map[string]string{"TAGS": "bench"})

	var mu sync.Mutex
	var lat []time.Duration
	var firstErr error
	b.SetBytes(int64(len(body)))
	b.ReportAllocs()
	b.SetParallelism((benchSenders + runtime.GOMAXPROCS(0) - 1) / runtime.GOMAXPROCS(0))
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		local := make([]time.Duration, 0, 1024)
		m := storage.Message{Topic: "BenchTopic", Body: body, Properties: props, BornHost: testBornHost, StoreHost: testStoreHost}
		var err error
		q := int32(0)
		for pb.Next() {
			start := time.Now()
			m.QueueID = q % 8
			q++
			res := mstore.Append(context.Background(), &m)
			err = res.Err
			if err == nil && wait {
				err = master.WaitForReplica(context.Background(), res.PhysicalOffset+int64(res.WroteBytes))
			}
			if err != nil {
				break
			}
			local = append(local, time.Since(start))
		}
		mu.Lock()
		lat = append(lat, local...)
		if err != nil && firstErr == nil {
			firstErr = err
		}
		mu.Unlock()
	})
	b.StopTimer()
	if firstErr != nil {
		b.Fatalf("send failed: %v", firstErr)
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "msgs/s")
	if len(lat) > 0 {
		slices.Sort(lat)
		b.ReportMetric(float64(lat[len(lat)/2].Microseconds()), "p50-µs")
		b.ReportMetric(float64(lat[len(lat)*99/100].Microseconds()), "p99-µs")
	}
	if master != nil {
		if st := master.State(); len(st.Slaves) != 1 {
			b.Fatalf("slave gone during the benchmark: %s", fmt.Sprint(st))
		}
		if !wait {
			// The slave must really have been replicating: it catches up once the senders stop.
			end := mstore.MaxPhyOffset()
			waitFor(b, 30*time.Second, "slave catches up", func() bool { return master.State().ReplicatedOffset == end })
		}
	}
}
