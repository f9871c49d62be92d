package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"slices"
	"strconv"
	"sync"
	"time"

	"github.com/gorocket/gorocket/client"
	"github.com/gorocket/gorocket/client/admin"
	"github.com/gorocket/gorocket/internal/launcher"
)

// Demo names.
const (
	demoTopic         = "DemoTopic"
	demoConsumerGroup = "demo_consumer_group"
	demoProducerGroup = "demo_producer_group"
	demoRunProperty   = "DEMO_RUN"
	demoQueues        = 4
	demoTimeout       = 60 * time.Second
)

// runDemo creates a topic on the cluster, sends messages with every send mode, consumes them with
// a clustering consumer and reports each step to w. It fails when a step fails or when not every
// message sent is consumed before the deadline.
func runDemo(ctx context.Context, w io.Writer, log *slog.Logger, layout *launcher.Layout) error {
	ctx, cancel := context.WithTimeout(ctx, demoTimeout)
	defer cancel()
	ns := layout.NamesrvAddrs()
	ad, err := admin.New(log, admin.Options{NameServers: ns, Timeout: 5 * time.Second})
	if err != nil {
		return err
	}
	defer ad.Close()

	fmt.Fprintf(w, "\n== demo: topic %s on cluster %s ==\n", demoTopic, layout.Spec.ClusterName)
	created, err := ad.CreateTopic(ctx, admin.TopicSpec{Topic: demoTopic, Cluster: layout.Spec.ClusterName, ReadQueues: demoQueues, WriteQueues: demoQueues})
	if err != nil {
		return fmt.Errorf("create topic: %w", err)
	}
	fmt.Fprintf(w, "created topic %s with %d queues on %v\n", demoTopic, demoQueues, created)
	masters := len(layout.Masters())
	if err := waitRoute(ctx, ns, demoTopic, masters); err != nil {
		return err
	}
	fmt.Fprintf(w, "every nameserver routes %s to %d broker group(s)\n", demoTopic, masters)

	run := strconv.FormatInt(time.Now().UnixNano(), 36)
	var mu sync.Mutex
	seen := map[string]*client.MessageExt{}
	cons, err := client.NewConsumer(log, client.ConsumerOptions{
		Options: client.Options{NameServers: ns}, Group: demoConsumerGroup, Topic: demoTopic, FromFirst: true,
		LongPoll: 5 * time.Second,
	}, func(_ context.Context, msgs []*client.MessageExt) error {
		mu.Lock()
		defer mu.Unlock()
		for _, m := range msgs {
			if m.Property(demoRunProperty) == run {
				seen[string(m.Body)] = m
			}
		}
		return nil
	})
	if err != nil {
		return err
	}
	defer cons.Close()
	if err := cons.Start(ctx); err != nil {
		return fmt.Errorf("start consumer: %w", err)
	}
	fmt.Fprintf(w, "consumer %s (group %s) started\n", cons.ClientID(), demoConsumerGroup)

	prod, err := client.NewProducer(log, client.ProducerOptions{Options: client.Options{NameServers: ns}, Group: demoProducerGroup})
	if err != nil {
		return err
	}
	defer prod.Close()
	var sent []string
	msg := func(kind string, i int) *client.Message {
		body := fmt.Sprintf("%s message %d of run %s", kind, i, run)
		sent = append(sent, body)
		return client.NewMessage(demoTopic, []byte(body)).WithTag(kind).WithKeys(fmt.Sprintf("demo-%s-%s-%d", run, kind, i)).
			SetProperty(demoRunProperty, run)
	}
	t := newTable(w, "Mode", "Message", "Status", "Broker", "QID", "Queue Offset", "Msg ID")
	for i := range 6 {
		m := msg("sync", i)
		res, err := prod.Send(ctx, m)
		if err != nil {
			return fmt.Errorf("sync send %d: %w", i, err)
		}
		t.row("sync", i, res.Status, res.Queue.BrokerName, res.Queue.QueueID, res.QueueOffset, res.MsgID)
	}
	batch := make([]*client.Message, 4)
	for i := range batch {
		batch[i] = msg("batch", i)
	}
	res, err := prod.SendBatch(ctx, batch)
	if err != nil {
		return fmt.Errorf("batch send: %w", err)
	}
	t.row("batch", "0-3", res.Status, res.Queue.BrokerName, res.Queue.QueueID, res.QueueOffset, fmt.Sprintf("%d ids", len(client.BatchIDs(res.OffsetMsgID))))
	type asyncRes struct {
		i   int
		res *client.SendResult
		err error
	}
	results := make(chan asyncRes, 4)
	for i := range 4 {
		if err := prod.SendAsync(ctx, msg("async", i), func(r *client.SendResult, err error) { results <- asyncRes{i, r, err} }); err != nil {
			return fmt.Errorf("async send %d: %w", i, err)
		}
	}
	for range 4 {
		r := <-results
		if r.err != nil {
			return fmt.Errorf("async send %d: %w", r.i, r.err)
		}
		t.row("async", r.i, r.res.Status, r.res.Queue.BrokerName, r.res.Queue.QueueID, r.res.QueueOffset, r.res.MsgID)
	}
	if err := prod.SendOneway(ctx, msg("oneway", 0)); err != nil {
		return fmt.Errorf("oneway send: %w", err)
	}
	t.row("oneway", 0, "-", "-", "-", "-", "(no reply by design)")
	t.flush()
	fmt.Fprintf(w, "sent %d messages (6 sync, 1 batch of 4, 4 async, 1 oneway)\n", len(sent))

	count := func() int {
		mu.Lock()
		defer mu.Unlock()
		return len(seen)
	}
	for count() < len(sent) {
		if ctx.Err() != nil {
			mu.Lock()
			var missing []string
			for _, b := range sent {
				if seen[b] == nil {
					missing = append(missing, b)
				}
			}
			mu.Unlock()
			return fmt.Errorf("consumed %d of %d messages before the deadline; missing %v", count(), len(sent), missing)
		}
		time.Sleep(50 * time.Millisecond) // polling the consumer's progress, bounded by ctx
	}
	mu.Lock()
	var lat []time.Duration
	now := time.Now()
	for _, m := range seen {
		lat = append(lat, now.Sub(time.UnixMilli(m.StoreTimestamp)))
	}
	mu.Unlock()
	slices.Sort(lat)
	fmt.Fprintf(w, "consumed %d/%d messages (from %d queue(s))\n", count(), len(sent), len(cons.Assigned()))

	if err := cons.CommitOffsets(ctx); err != nil {
		return fmt.Errorf("commit offsets: %w", err)
	}
	if p, err := ad.ConsumerProgress(ctx, demoConsumerGroup, demoTopic); err != nil {
		fmt.Fprintf(w, "WARN: consumerProgress: %v\n", err)
	} else {
		fmt.Fprintf(w, "\nconsumerProgress -g %s -t %s:\n", demoConsumerGroup, demoTopic)
		writeProgress(w, p)
	}

	key := fmt.Sprintf("demo-%s-sync-0", run)
	var found []*client.MessageExt
	for ctx.Err() == nil {
		if found, err = ad.QueryMessageByKey(ctx, demoTopic, key, 8, time.Time{}, time.Time{}); err == nil || !errors.Is(err, admin.ErrMessageNotFound) {
			break
		}
		time.Sleep(100 * time.Millisecond) // the broker indexes asynchronously; poll until ctx ends
	}
	if err != nil {
		fmt.Fprintf(w, "WARN: queryMsgByKey %s: %v\n", key, err)
	} else {
		fmt.Fprintf(w, "\nqueryMsgByKey -k %s found %d message(s): %q at %s queue %d offset %d\n",
			key, len(found), found[0].Body, found[0].StoreHost, found[0].QueueID, found[0].QueueOffset)
	}
	fmt.Fprintf(w, "\ndemo OK: sent %d, consumed %d\n", len(sent), count())
	return nil
}

// waitRoute polls every nameserver until topic's route lists want broker groups with a master.
func waitRoute(ctx context.Context, ns []string, topic string, want int) error {
	for _, addr := range ns {
		ad, err := admin.New(nil, admin.Options{NameServers: []string{addr}, Timeout: 2 * time.Second})
		if err != nil {
			return err
		}
		for {
			r, err := ad.TopicRoute(ctx, topic)
			n := 0
			if err == nil {
				for _, bd := range r.BrokerDatas {
					if bd.MasterAddr() != "" {
						n++
					}
				}
			}
			if n >= want {
				break
			}
			if ctx.Err() != nil {
				ad.Close()
				return fmt.Errorf("route of %s on %s lists %d of %d broker groups (last error: %v)", topic, addr, n, want, err)
			}
			time.Sleep(50 * time.Millisecond) // polling the nameserver, bounded by ctx
		}
		ad.Close()
	}
	return nil
}
