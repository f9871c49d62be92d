package cluster

import (
	"context"
	"errors"
	"fmt"
	"os"
	"testing"
	"time"

	"github.com/gorocket/gorocket/client"
	"github.com/gorocket/gorocket/client/admin"
	"github.com/gorocket/gorocket/internal/conf"
)

func TestMain(m *testing.M) { os.Exit(RunMain(m)) }

// registeredIDs returns brokerName -> brokerId -> address from one nameserver.
func registeredIDs(t *testing.T, nsAddr string) (map[string]map[int64]string, error) {
	a, err := admin.New(nil, admin.Options{NameServers: []string{nsAddr}, Timeout: 3 * time.Second})
	if err != nil {
		return nil, err
	}
	defer a.Close()
	ci, err := a.ClusterInfo(context.Background())
	if err != nil {
		return nil, err
	}
	out := map[string]map[int64]string{}
	for name, bd := range ci.BrokerAddrTable {
		out[name] = bd.BrokerAddrs
	}
	return out, nil
}

func TestHarnessMasterSlaveClusterIsRegisteredEverywhere(t *testing.T) {
	c := Start(t, Options{Namesrvs: 2, Masters: 2, Slaves: 1, Mode: "sync"})
	for _, ns := range c.NamesrvAddrs() {
		got, err := registeredIDs(t, ns)
		if err != nil {
			t.Fatal(err)
		}
		for _, b := range c.Layout.Brokers {
			if got[b.BrokerName][b.BrokerID] != b.Addr {
				t.Errorf("nameserver %s: %s id %d = %q, want %s", ns, b.BrokerName, b.BrokerID, got[b.BrokerName][b.BrokerID], b.Addr)
			}
		}
	}
	for _, b := range c.Layout.Brokers {
		want := conf.RoleSyncMaster
		if b.BrokerID > 0 {
			want = conf.RoleSlave
		}
		info, err := c.Admin().BrokerRuntimeInfo(context.Background(), b.Addr)
		if err != nil {
			t.Fatalf("%s runtime info: %v", b.Name, err)
		}
		if info["brokerRole"] != want || info["brokerName"] != b.BrokerName {
			t.Errorf("%s reports role %q name %q, want %s %s", b.Name, info["brokerRole"], info["brokerName"], want, b.BrokerName)
		}
		if !c.BrokerProc(b.Name).Running() {
			t.Errorf("%s not running", b.Name)
		}
	}
}

// produceConsume creates topic on the cluster, sends n messages and reads them back by pulling.
func produceConsume(t *testing.T, c *Cluster, topic string, n int) []*client.SendResult {
	t.Helper()
	ctx := context.Background()
	if _, err := c.Admin().CreateTopic(ctx, admin.TopicSpec{Topic: topic, Cluster: c.ClusterName(), ReadQueues: 2, WriteQueues: 2}); err != nil {
		t.Fatal(err)
	}
	Eventually(t, 10*time.Second, "route of "+topic, func() error {
		_, err := c.Admin().TopicRoute(ctx, topic)
		return err
	})
	p, err := client.NewProducer(nil, client.ProducerOptions{Options: client.Options{NameServers: c.NamesrvAddrs()}})
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	var out []*client.SendResult
	for i := range n {
		res, err := p.Send(ctx, client.NewMessage(topic, []byte(fmt.Sprintf("%s-%d", topic, i))))
		if err != nil {
			t.Fatalf("send %d: %v", i, err)
		}
		out = append(out, res)
	}
	return out
}

func TestHarnessKillAndRestartBroker(t *testing.T) {
	c := Start(t, Options{Namesrvs: 1, Masters: 1, Grace: 5 * time.Second})
	sent := produceConsume(t, c, "KillTopic", 10)
	pid := c.BrokerProc("broker-a-0").Pid()
	c.Kill("broker-a-0")
	if c.BrokerProc("broker-a-0").Running() {
		t.Fatal("broker still running after Kill")
	}
	if _, err := os.Stat(fmt.Sprintf("/proc/%d", pid)); err == nil {
		t.Fatalf("pid %d still exists after Kill", pid)
	}
	// The nameserver drops a broker whose connection closed.
	Eventually(t, 30*time.Second, "nameserver to drop broker-a", func() error {
		got, err := registeredIDs(t, c.NamesrvAddrs()[0])
		if err != nil {
			return err
		}
		if _, ok := got["broker-a"]; ok {
			return errors.New("broker-a still registered")
		}
		return nil
	})
	c.Restart("broker-a-0")
	if c.BrokerProc("broker-a-0").Starts() != 2 {
		t.Fatalf("starts = %d", c.BrokerProc("broker-a-0").Starts())
	}
	// Messages stored before the crash are still there after recovery.
	for _, res := range sent[:3] {
		m, err := c.Admin().QueryMessageByOffset(context.Background(), res.Queue, res.QueueOffset)
		if err != nil {
			t.Fatalf("message %s at %d after restart: %v", client.QueueString(res.Queue), res.QueueOffset, err)
		}
		if m.MsgID != res.MsgID {
			t.Fatalf("message at %s/%d has id %s, want %s", client.QueueString(res.Queue), res.QueueOffset, m.MsgID, res.MsgID)
		}
	}
	produceConsume(t, c, "AfterRestart", 2)
}

func TestHarnessTermStopsGracefully(t *testing.T) {
	c := Start(t, Options{Namesrvs: 1, Masters: 1, Slaves: 1})
	c.Term("broker-a-1")
	p := c.BrokerProc("broker-a-1")
	if p.Running() || p.ExitErr() != nil {
		t.Fatalf("slave after SIGTERM: running %v, exit %v", p.Running(), p.ExitErr())
	}
	Eventually(t, 10*time.Second, "slave unregistered", func() error {
		got, err := registeredIDs(t, c.NamesrvAddrs()[0])
		if err != nil {
			return err
		}
		if _, ok := got["broker-a"][1]; ok {
			return errors.New("slave still registered")
		}
		if got["broker-a"][0] != c.BrokerAddr("broker-a-0") {
			return fmt.Errorf("master missing: %v", got)
		}
		return nil
	})
	c.Restart("broker-a-1")
}
