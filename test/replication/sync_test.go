package replication

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/gorocket/gorocket/client"
	"github.com/gorocket/gorocket/internal/conf"
	"github.com/gorocket/gorocket/test/cluster"
)

// TestSyncMasterKillLosesNoAcknowledgedMessage: 1 SYNC_MASTER + 1 slave. 10,000 messages are
// produced (every one SEND_OK: the slave acknowledged it), then a second wave is still being sent
// when the master is SIGKILLed. Every message acknowledged with SEND_OK — in either wave — is
// then consumable from the slave, at the same queue offset and with the same offsetMsgId (same
// commit-log offset: the slave's log is a byte copy), and the route still lists the slave.
func TestSyncMasterKillLosesNoAcknowledgedMessage(t *testing.T) {
	t.Parallel()
	c := startCluster(t, cluster.Options{Masters: 1, Slaves: 1, Mode: "sync"})
	master, slave := c.Broker("broker-a-0"), c.Broker("broker-a-1")
	if info, err := rt(c, master.Addr); err != nil || info["haRole"] != conf.RoleSyncMaster {
		t.Fatalf("master runtime info: %v %v", info, err)
	}
	const topic = "SyncKill"
	createTopic(t, c, topic, 4)
	p := newProducer(t, c)

	acked, failed := produce(context.Background(), p, topic, "m", 10000, 16)
	if failed != 0 || len(acked) != 10000 {
		t.Fatalf("first wave: %d SEND_OK, %d other outcomes; want 10000 SEND_OK", len(acked), failed)
	}

	// Second wave: the master dies while sends are in flight.
	ctx, cancel := context.WithCancel(context.Background())
	type result struct {
		ok     []sent
		failed int
	}
	done := make(chan result, 1)
	go func() {
		r := produceSized(ctx, p, topic, "w", 1_000_000, 16, 0)
		done <- result{r.ok, r.failed + r.aborted}
	}()
	cluster.Eventually(t, 30*time.Second, "second wave under way", func() error {
		info, err := rt(c, master.Addr)
		if err != nil {
			return err
		}
		if n, _ := rtInt(info, "msgPutTotalTodayNow"); n < 10500 {
			return fmt.Errorf("%d messages stored so far", n)
		}
		return nil
	})
	c.Kill(master.Name)
	cancel() // sends fail from now on; stop the wave
	r := <-done
	acked = append(acked, r.ok...)
	t.Logf("acknowledged: 10000 + %d (second wave), %d sends failed or were not acknowledged", len(r.ok), r.failed)

	// The nameserver dropped the master; the route keeps listing the slave.
	cluster.Eventually(t, 20*time.Second, "route without the master", func() error {
		route, err := c.Admin().TopicRoute(context.Background(), topic)
		if err != nil {
			return err
		}
		if len(route.BrokerDatas) != 1 {
			return fmt.Errorf("route has %d broker datas", len(route.BrokerDatas))
		}
		addrs := route.BrokerDatas[0].BrokerAddrs
		if _, ok := addrs[0]; ok || addrs[1] != slave.Addr {
			return fmt.Errorf("route broker addresses %v, want only the slave %s as id 1", addrs, slave.Addr)
		}
		if len(route.QueueDatas) != 1 || route.QueueDatas[0].ReadQueueNums != 4 {
			return fmt.Errorf("route queue datas %+v", route.QueueDatas)
		}
		return nil
	})

	// Consume from the slave through the route (a consumer that pulls; the master is gone).
	cons, err := client.NewConsumer(nil, client.ConsumerOptions{
		Options: client.Options{NameServers: c.NamesrvAddrs(), RouteTTL: 100 * time.Millisecond},
		Group:   "SyncKillVerify", Topic: topic,
	}, func(context.Context, []*client.MessageExt) error { return nil })
	if err != nil {
		t.Fatal(err)
	}
	defer cons.Close()
	// The slave acknowledged every byte before the kill; its consume-queue entries are dispatched
	// right after, so collect until every acknowledged message is there (or the deadline passes).
	collect := func() map[string]*client.MessageExt {
		got := map[string]*client.MessageExt{}
		for q := 0; q < 4; q++ {
			mq := client.MessageQueue{Topic: topic, BrokerName: master.BrokerName, QueueID: q}
			off := int64(0)
			for i := 0; ; i++ {
				if i > 10000 {
					t.Fatalf("queue %d: pulling does not end", q)
				}
				ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
				res, err := cons.Pull(ctx, mq, off, 32)
				cancel()
				if err != nil {
					t.Fatalf("pull %s@%d: %v", client.QueueString(mq), off, err)
				}
				if res.Status != client.PullFound {
					break
				}
				for _, m := range res.Messages {
					if m.StoreHost != master.Addr {
						t.Fatalf("message %s has store host %s, want the master's %s (records are copied byte for byte)", m.Body, m.StoreHost, master.Addr)
					}
					got[string(m.Body)] = m
				}
				off = res.NextBeginOffset
			}
		}
		return got
	}
	var got map[string]*client.MessageExt
	cluster.Eventually(t, 15*time.Second, "every acknowledged message readable on the slave", func() error {
		got = collect()
		for _, s := range acked {
			if _, ok := got[s.body]; !ok {
				return fmt.Errorf("%s not yet on the slave (%d of %d read)", s.body, len(got), len(acked))
			}
		}
		return nil
	})
	var missing []string
	for _, s := range acked {
		m, ok := got[s.body]
		switch {
		case !ok:
			missing = append(missing, s.body)
		case m.OffsetMsgID != s.res.OffsetMsgID || m.QueueOffset != s.res.QueueOffset || int(m.QueueID) != s.res.Queue.QueueID:
			t.Errorf("%s: on the slave at queue %d offset %d id %s; acknowledged at queue %d offset %d id %s", s.body,
				m.QueueID, m.QueueOffset, m.OffsetMsgID, s.res.Queue.QueueID, s.res.QueueOffset, s.res.OffsetMsgID)
		}
	}
	if len(missing) > 0 {
		t.Fatalf("%d of %d acknowledged messages are not on the slave, e.g. %v", len(missing), len(acked), missing[:min(5, len(missing))])
	}
	if len(got) < len(acked) || len(got) > len(acked)+r.failed {
		t.Fatalf("the slave has %d messages; %d were acknowledged and %d more may have been stored", len(got), len(acked), r.failed)
	}
	if info, err := rt(c, slave.Addr); err != nil || info["haConnected"] != "false" {
		t.Fatalf("slave runtime info after the master died: haConnected=%q (%v)", info["haConnected"], err)
	}
}

// TestSyncMasterWithoutSlaveAnswersSlaveNotAvailable: with its slave stopped, a SYNC_MASTER
// still stores every message but answers SLAVE_NOT_AVAILABLE; once the slave is back (it catches
// up first), sends answer SEND_OK again.
func TestSyncMasterWithoutSlaveAnswersSlaveNotAvailable(t *testing.T) {
	t.Parallel()
	c := startCluster(t, cluster.Options{Masters: 1, Slaves: 1, Mode: "sync", Flush: "sync"})
	master := c.Broker("broker-a-0")
	const topic = "SyncNoSlave"
	createTopic(t, c, topic, 2)
	p := newProducer(t, c)
	ctx := context.Background()
	c.Term("broker-a-1")
	waitSlavesCaughtUp(t, c, master.Addr, 0, 20*time.Second)
	res, err := p.Send(ctx, client.NewMessage(topic, []byte("without-slave")))
	if err != nil || res.Status != client.SendSlaveNotAvailable || res.OffsetMsgID == "" {
		t.Fatalf("send without slave: %+v %v, want SLAVE_NOT_AVAILABLE with an id", res, err)
	}
	c.Restart("broker-a-1")
	waitSlavesCaughtUp(t, c, master.Addr, 1, 30*time.Second)
	cluster.Eventually(t, 10*time.Second, "SEND_OK with the slave back", func() error {
		res, err := p.Send(ctx, client.NewMessage(topic, []byte("with-slave")))
		if err != nil {
			return err
		}
		if res.Status != client.SendOK {
			return errors.New(res.Status.String())
		}
		return nil
	})
	// The message sent without the slave reached the slave after it came back.
	cluster.Eventually(t, 10*time.Second, "the message stored while the slave was down reaches it", func() error {
		for q := 0; q < 2; q++ {
			for _, m := range pullQueue(t, c.BrokerAddr("broker-a-1"), topic, q) {
				if string(m.Body) == "without-slave" {
					return nil
				}
			}
		}
		return errors.New("not on the slave")
	})
}
