package replication

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gorocket/gorocket/client"
	"github.com/gorocket/gorocket/client/admin"
	"github.com/gorocket/gorocket/remoting"
	"github.com/gorocket/gorocket/remoting/protocol"
	"github.com/gorocket/gorocket/test/cluster"
)

// fastBrokerArgs make brokers re-register every second and slaves synchronise their metadata
// every 300 ms (the defaults are 30 s and 10 s).
var fastBrokerArgs = []string{"--register-period", "1s", "--slave-sync-period", "300ms"}

// startCluster starts a cluster with fast registration and metadata sync and waits until every
// master has all its slaves connected and caught up.
func startCluster(t *testing.T, o cluster.Options) *cluster.Cluster {
	t.Helper()
	o.ExtraBrokerArgs = append(append([]string(nil), fastBrokerArgs...), o.ExtraBrokerArgs...)
	if o.Grace == 0 {
		o.Grace = 10 * time.Second
	}
	c := cluster.Start(t, o)
	for _, m := range c.Layout.Masters() {
		waitSlavesCaughtUp(t, c, m.Addr, o.Slaves, 30*time.Second)
	}
	return c
}

// rt returns a broker's GET_BROKER_RUNTIME_INFO table.
func rt(c *cluster.Cluster, addr string) (map[string]string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	return c.Admin().BrokerRuntimeInfo(ctx, addr)
}

func rtInt(info map[string]string, key string) (int64, error) {
	v, ok := info[key]
	if !ok {
		return 0, fmt.Errorf("runtime info has no %s", key)
	}
	n, err := strconv.ParseInt(v, 10, 64)
	if err != nil {
		return 0, fmt.Errorf("runtime info %s=%q: %w", key, v, err)
	}
	return n, nil
}

// waitSlavesCaughtUp waits until the master at addr reports n slaves and, with n > 0, a best
// slave without lag.
func waitSlavesCaughtUp(t *testing.T, c *cluster.Cluster, addr string, n int, d time.Duration) {
	t.Helper()
	cluster.Eventually(t, d, "slaves of "+addr+" connected and caught up", func() error {
		info, err := rt(c, addr)
		if err != nil {
			return err
		}
		if info["haSlaveCount"] != strconv.Itoa(n) {
			return fmt.Errorf("haSlaveCount=%s, want %d", info["haSlaveCount"], n)
		}
		if n > 0 && info["haSlaveLagBytes"] != "0" {
			return fmt.Errorf("haSlaveLagBytes=%s (max %s, acked %s)", info["haSlaveLagBytes"], info["haMasterMaxOffset"], info["haSlaveAckOffset"])
		}
		return nil
	})
}

var (
	rawOnce sync.Once
	rawCl   *remoting.Client
)

// raw is a plain remoting client for requests to one specific broker.
func raw() *remoting.Client {
	rawOnce.Do(func() { rawCl = remoting.NewClient(nil, remoting.ClientOptions{}) })
	return rawCl
}

func invoke(addr string, cmd *protocol.RemotingCommand) (*protocol.RemotingCommand, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	return raw().Invoke(ctx, addr, cmd)
}

// createTopic creates topic on every master of the cluster and waits until its route exists and
// every slave received it through the metadata sync.
func createTopic(t *testing.T, c *cluster.Cluster, topic string, queues int) {
	t.Helper()
	ctx := context.Background()
	if _, err := c.Admin().CreateTopic(ctx, admin.TopicSpec{Topic: topic, Cluster: c.ClusterName(), ReadQueues: queues, WriteQueues: queues}); err != nil {
		t.Fatalf("create topic %s: %v", topic, err)
	}
	cluster.Eventually(t, 15*time.Second, "route of "+topic, func() error {
		_, err := c.Admin().TopicRoute(ctx, topic)
		return err
	})
	for _, b := range c.Layout.Brokers {
		if b.IsMaster() {
			continue
		}
		cluster.Eventually(t, 15*time.Second, topic+" on slave "+b.Name, func() error {
			ok, err := brokerHasTopic(b.Addr, topic)
			if err != nil {
				return err
			}
			if !ok {
				return errors.New("not yet synchronised")
			}
			return nil
		})
	}
}

func brokerHasTopic(addr, topic string) (bool, error) {
	resp, err := invoke(addr, protocol.NewRequest(protocol.ReqGetAllTopicConfig, nil, nil))
	if err != nil {
		return false, err
	}
	if err := resp.Err(); err != nil {
		return false, err
	}
	var w protocol.TopicConfigSerializeWrapper
	if err := protocol.DecodeJSON(resp.Body, &w); err != nil {
		return false, err
	}
	_, ok := w.TopicConfigTable[topic]
	return ok, nil
}

// pullQueue reads queue qid of topic from the broker at addr, from offset 0 to the queue's end,
// with plain PULL_MESSAGE requests (no long polling).
func pullQueue(t *testing.T, addr, topic string, qid int) []*client.MessageExt {
	t.Helper()
	var out []*client.MessageExt
	off := int64(0)
	for i := 0; i < 100000; i++ {
		resp, err := invoke(addr, protocol.NewRequest(protocol.ReqPullMessage, &protocol.PullMessageRequestHeader{
			ConsumerGroup: "replication-verify", Topic: topic, QueueID: qid, QueueOffset: off, MaxMsgNums: 32,
			SysFlag: protocol.PullFlagSubscription, Subscription: "*", ExpressionType: "TAG",
		}, nil))
		if err != nil {
			t.Fatalf("pull %s:%d@%d from %s: %v", topic, qid, off, addr, err)
		}
		switch resp.Code {
		case protocol.RespSuccess:
		case protocol.RespPullNotFound:
			return out
		default:
			t.Fatalf("pull %s:%d@%d from %s: code %d %s", topic, qid, off, addr, resp.Code, resp.Remark)
		}
		msgs, err := client.DecodeMessages(resp.Body)
		if err != nil {
			t.Fatalf("decode pull body from %s: %v", addr, err)
		}
		out = append(out, msgs...)
		var h protocol.PullMessageResponseHeader
		if err := resp.DecodeHeader(&h); err != nil {
			t.Fatal(err)
		}
		off = h.NextBeginOffset
	}
	t.Fatalf("pull %s:%d from %s did not end", topic, qid, addr)
	return nil
}

// newProducer returns a lean-client producer for the cluster (closed at cleanup).
func newProducer(t *testing.T, c *cluster.Cluster) *client.Producer {
	t.Helper()
	p, err := client.NewProducer(nil, client.ProducerOptions{Options: client.Options{NameServers: c.NamesrvAddrs(), Timeout: 10 * time.Second}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { p.Close() })
	return p
}

// sent is one acknowledged send.
type sent struct {
	body string
	res  *client.SendResult
}

// produce sends n messages "<prefix>-<i>" from workers goroutines and returns the results of the
// sends the broker acknowledged with SEND_OK, plus the number of other outcomes (errors and
// non-OK statuses).
func produce(ctx context.Context, p *client.Producer, topic, prefix string, n, workers int) (ok []sent, failed int) {
	r := produceSized(ctx, p, topic, prefix, n, workers, 0)
	return r.ok, r.failed
}

// produced is the outcome of produceSized.
type produced struct {
	ok       []sent
	failed   int
	aborted  int    // sends cut short because ctx ended (their messages may still be stored)
	firstErr string // the first failure, for messages
}

// produceSized is produce with bodies padded to at least size bytes.
func produceSized(ctx context.Context, p *client.Producer, topic, prefix string, n, workers, size int) (r produced) {
	var (
		mu   sync.Mutex
		wg   sync.WaitGroup
		next = make(chan int)
	)
	for range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range next {
				body := fmt.Sprintf("%s-%05d", prefix, i)
				if len(body) < size {
					body += strings.Repeat(".", size-len(body))
				}
				res, err := p.Send(ctx, client.NewMessage(topic, []byte(body)))
				mu.Lock()
				switch {
				case err == nil && res.Status == client.SendOK:
					r.ok = append(r.ok, sent{body: body, res: res})
				case ctx.Err() != nil:
					r.aborted++ // the caller stopped the load; a send cut short is not a failure
				default:
					r.failed++
					if r.firstErr == "" {
						r.firstErr = fmt.Sprintf("%s: status %v err %v", body, res, err)
					}
				}
				mu.Unlock()
			}
		}()
	}
	for i := range n {
		if ctx.Err() != nil {
			break
		}
		next <- i
	}
	close(next)
	wg.Wait()
	return r
}
