package perf

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/gorocket/gorocket/broker"
	"github.com/gorocket/gorocket/client"
	"github.com/gorocket/gorocket/client/admin"
	"github.com/gorocket/gorocket/internal/conf"
	"github.com/gorocket/gorocket/nameserver"
)

// benchTopic is created with benchQueues queues on every cluster, like
// `gorocketctl bench producer -c DefaultCluster --queues 8`.
const (
	benchTopic  = "BenchTopic"
	benchQueues = 8
	clusterName = "DefaultCluster"
)

// cluster is an in-process nameserver and one master broker with a temporary store.
type cluster struct {
	dir    string
	ns     *nameserver.Server
	br     *broker.Server
	nsAddr string
}

// Clusters are shared by every benchmark of one flush mode (a sub-benchmark body runs several
// times with growing b.N; starting a broker each time would dominate short runs). TestMain
// closes them.
var (
	clustersMu sync.Mutex
	clusters   = map[string]*cluster{}
)

func TestMain(m *testing.M) {
	code := m.Run()
	clustersMu.Lock()
	for _, c := range clusters {
		c.close()
	}
	clustersMu.Unlock()
	os.Exit(code)
}

// sharedCluster returns the cluster of flush mode conf.FlushAsync or conf.FlushSync,
// starting it on first use.
func sharedCluster(tb testing.TB, flush string) *cluster {
	tb.Helper()
	clustersMu.Lock()
	defer clustersMu.Unlock()
	if c := clusters[flush]; c != nil {
		return c
	}
	c, err := startCluster(flush)
	if err != nil {
		tb.Fatal(err)
	}
	clusters[flush] = c
	return c
}

func startCluster(flush string) (c *cluster, err error) {
	dir, err := os.MkdirTemp("", "gorocket-perf-")
	if err != nil {
		return nil, err
	}
	c = &cluster{dir: dir}
	defer func() {
		if err != nil {
			c.close()
		}
	}()
	nsOpts := nameserver.DefaultOptions()
	nsOpts.ListenAddr = "127.0.0.1:0"
	c.ns = nameserver.New(nil, nsOpts)
	if err := c.ns.Start(); err != nil {
		return c, fmt.Errorf("nameserver: %w", err)
	}
	c.nsAddr = c.ns.Addr()

	bc := conf.DefaultBroker()
	bc.BrokerClusterName = clusterName
	bc.BrokerName = "broker-perf"
	bc.BrokerIP1 = "127.0.0.1"
	bc.BrokerIP2 = "127.0.0.1"
	bc.NamesrvAddr = []string{c.nsAddr}
	bc.FlushDiskType = flush
	bc.AutoCreateTopicEnable = true
	bc.AutoCreateSubscriptionGroup = true
	bc.StorePathRootDir = filepath.Join(dir, "store")
	bc = bc.Resolve("perf", dir)
	opts := broker.OptionsFromConfig(bc)
	opts.ListenAddr = "127.0.0.1:0"
	c.br, err = broker.New(nil, opts)
	if err != nil {
		return c, fmt.Errorf("broker: %w", err)
	}
	if err := c.br.Start(); err != nil {
		return c, fmt.Errorf("broker start: %w", err)
	}
	if err := c.createTopic(); err != nil {
		return c, err
	}
	return c, nil
}

// createTopic creates benchTopic on the cluster and waits until the nameserver serves its
// full route (the broker re-registers after a topic change).
func (c *cluster) createTopic() error {
	ad, err := admin.New(nil, admin.Options{NameServers: []string{c.nsAddr}, Timeout: 5 * time.Second})
	if err != nil {
		return err
	}
	defer ad.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if _, err := ad.CreateTopic(ctx, admin.TopicSpec{Topic: benchTopic, Cluster: clusterName, ReadQueues: benchQueues, WriteQueues: benchQueues}); err != nil {
		return fmt.Errorf("create topic: %w", err)
	}
	tick := time.NewTicker(10 * time.Millisecond)
	defer tick.Stop()
	for {
		r, err := ad.TopicRoute(ctx, benchTopic)
		if err == nil && len(r.QueueDatas) == 1 && r.QueueDatas[0].WriteQueueNums == benchQueues {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("route of %s not served: %v", benchTopic, err)
		case <-tick.C:
		}
	}
}

func (c *cluster) close() {
	if c.br != nil {
		_ = c.br.Close()
	}
	if c.ns != nil {
		_ = c.ns.Close()
	}
	_ = os.RemoveAll(c.dir)
}

// newProducer returns a producer on c with the route of benchTopic already fetched.
func (c *cluster) newProducer(tb testing.TB) *client.Producer {
	tb.Helper()
	p, err := client.NewProducer(nil, client.ProducerOptions{Options: client.Options{NameServers: []string{c.nsAddr}}, Group: "perf_producer_group"})
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { _ = p.Close() })
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if _, err := p.Send(ctx, client.NewMessage(benchTopic, payload(1024))); err != nil {
		tb.Fatalf("warm-up send: %v", err)
	}
	return p
}

// queueMaxOffsets returns the max offset of each queue of benchTopic.
func (c *cluster) queueMaxOffsets(tb testing.TB) map[int]int64 {
	tb.Helper()
	ad, err := admin.New(nil, admin.Options{NameServers: []string{c.nsAddr}, Timeout: 5 * time.Second})
	if err != nil {
		tb.Fatal(err)
	}
	defer ad.Close()
	st, err := ad.TopicStatus(context.Background(), benchTopic)
	if err != nil {
		tb.Fatal(err)
	}
	out := map[int]int64{}
	for _, q := range st {
		out[q.Queue.QueueID] = q.MaxOffset
	}
	return out
}

func payload(size int) []byte {
	b := make([]byte, size)
	for i := range b {
		b[i] = byte('a' + i%26)
	}
	return b
}

// latencies collects per-worker samples without locking; merged at the end.
type latencies [][]time.Duration

func newLatencies(workers, expect int) latencies {
	l := make(latencies, workers)
	for i := range l {
		l[i] = make([]time.Duration, 0, expect/workers+1)
	}
	return l
}

// cpuTime returns the user+system CPU time the process has used so far.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// report adds p50 and p99 (µs), msgs/s, and the process CPU time per message (client,
// nameserver and broker together: the figure that decides throughput once the cores are
// saturated, and much less sensitive to other load on the machine than msgs/s) to b.
func (l latencies) report(b *testing.B, msgs int, elapsed, cpu time.Duration) {
	var all []time.Duration
	for _, w := range l {
		all = append(all, w...)
	}
	if len(all) == 0 || elapsed <= 0 {
		return
	}
	slices.Sort(all)
	q := func(p float64) float64 {
		i := min(int(p*float64(len(all))), len(all)-1)
		return float64(all[i]) / float64(time.Microsecond)
	}
	b.ReportMetric(float64(msgs)/elapsed.Seconds(), "msgs/s")
	b.ReportMetric(q(0.50), "p50-µs")
	b.ReportMetric(q(0.99), "p99-µs")
	b.ReportMetric(float64(cpu)/float64(time.Microsecond)/float64(msgs), "cpu-µs/msg")
}
