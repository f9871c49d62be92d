package replication

import (
	"context"
	"fmt"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gorocket/gorocket/client"
	"github.com/gorocket/gorocket/client/admin"
	"github.com/gorocket/gorocket/test/cluster"
)

// BenchmarkReplicationSend measures SYNC_MASTER against ASYNC_MASTER: one master and one slave
// (real processes, ASYNC_FLUSH), 64 goroutines sending 1 KiB messages through one lean-client
// producer to an 8-queue topic. One op is one acknowledged message; besides ns/op it reports
// msgs/s and the p50/p99 send latency. The SYNC/ASYNC throughput ratio is the quotient of the
// two msgs/s figures.
//
//	go test -run '^$' -bench ReplicationSend -benchtime 100000x ./test/replication/
//
// GOROCKET_BENCH_BROKER_ARGS adds broker flags, e.g. "--cpuprofile /tmp/broker-%p.pprof";
// GOROCKET_BENCH_WORKERS changes the number of sending goroutines.
func BenchmarkReplicationSend(b *testing.B) {
	extra := append(append([]string(nil), fastBrokerArgs...), strings.Fields(os.Getenv("GOROCKET_BENCH_BROKER_ARGS"))...)
	for _, mode := range []string{"async", "sync"} {
		b.Run("mode="+mode, func(b *testing.B) {
			c := cluster.Start(b, cluster.Options{Masters: 1, Slaves: 1, Mode: mode,
				ExtraBrokerArgs: extra, CommitLogFileSize: 1 << 30})
			if _, err := c.Admin().CreateTopic(context.Background(), admin.TopicSpec{Topic: "Bench", Cluster: c.ClusterName(), ReadQueues: 8, WriteQueues: 8}); err != nil {
				b.Fatal(err)
			}
			master := c.Broker("broker-a-0")
			cluster.Eventually(b, 30*time.Second, "slave connected", func() error {
				info, err := rt(c, master.Addr)
				if err != nil {
					return err
				}
				if info["haSlaveCount"] != "1" {
					return fmt.Errorf("haSlaveCount=%s", info["haSlaveCount"])
				}
				return nil
			})
			p, err := client.NewProducer(nil, client.ProducerOptions{Options: client.Options{NameServers: c.NamesrvAddrs(), Timeout: 10 * time.Second}})
			if err != nil {
				b.Fatal(err)
			}
			defer p.Close()
			body := []byte(strings.Repeat("b", 1024))
			ctx := context.Background()
			// Warm up: routes, connections, the first commit-log segment.
			for range 200 {
				if _, err := p.Send(ctx, client.NewMessage("Bench", body)); err != nil {
					b.Fatal(err)
				}
			}
			workers := 64
			if v, err := strconv.Atoi(os.Getenv("GOROCKET_BENCH_WORKERS")); err == nil && v > 0 {
				workers = v
			}
			var (
				next    atomic.Int64
				notOK   atomic.Int64
				mu      sync.Mutex
				lat     = make([]time.Duration, 0, b.N)
				wg      sync.WaitGroup
				firstMu sync.Mutex
				first   error
			)
			b.SetBytes(int64(len(body)))
			b.ResetTimer()
			start := time.Now()
			for range workers {
				wg.Add(1)
				go func() {
					defer wg.Done()
					local := make([]time.Duration, 0, b.N/workers+1)
					for next.Add(1) <= int64(b.N) {
						t0 := time.Now()
						res, err := p.Send(ctx, client.NewMessage("Bench", body))
						local = append(local, time.Since(t0))
						if err != nil || res.Status != client.SendOK {
							notOK.Add(1)
							firstMu.Lock()
							if first == nil {
								first = fmt.Errorf("send: %v %v", res, err)
							}
							firstMu.Unlock()
						}
					}
					mu.Lock()
					lat = append(lat, local...)
					mu.Unlock()
				}()
			}
			wg.Wait()
			elapsed := time.Since(start)
			b.StopTimer()
			if n := notOK.Load(); n > 0 {
				b.Fatalf("%d of %d sends not SEND_OK, first: %v", n, b.N, first)
			}
			slices.Sort(lat)
			pct := func(q float64) float64 { return float64(lat[int(q*float64(len(lat)-1))].Microseconds()) / 1000 }
			b.ReportMetric(float64(b.N)/elapsed.Seconds(), "msgs/s")
			b.ReportMetric(pct(0.50), "p50-ms")
			b.ReportMetric(pct(0.99), "p99-ms")
			info, err := rt(c, master.Addr)
			if err == nil {
				b.Logf("%s: %d msgs in %v; master runtime: haSlaveLagBytes=%s haSlaveLagMillis=%s", mode, b.N, elapsed, info["haSlaveLagBytes"], info["haSlaveLagMillis"])
			}
		})
	}
}
