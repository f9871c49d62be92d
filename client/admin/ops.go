package admin

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/gorocket/gorocket/client"
	"github.com/gorocket/gorocket/remoting/protocol"
)

// ToolsConsumerGroup is the group admin reads (query by offset) use, as mqadmin does.
const ToolsConsumerGroup = "TOOLS_CONSUMER"

// ClusterInfo returns the nameserver's GET_BROKER_CLUSTER_INFO answer.
func (c *Client) ClusterInfo(ctx context.Context) (*protocol.ClusterInfo, error) {
	resp, addr, err := c.callNameServer(ctx, func() *protocol.RemotingCommand {
		return protocol.NewRequest(protocol.ReqGetBrokerClusterInfo, nil, nil)
	})
	if err != nil {
		return nil, err
	}
	if err := resp.Err(); err != nil {
		return nil, fmt.Errorf("admin: cluster info from %s: %w", addr, err)
	}
	var ci protocol.ClusterInfo
	if err := protocol.DecodeJSON(resp.Body, &ci); err != nil {
		return nil, fmt.Errorf("admin: cluster info from %s: %w", addr, err)
	}
	if ci.BrokerAddrTable == nil {
		ci.BrokerAddrTable = map[string]protocol.BrokerData{}
	}
	if ci.ClusterAddrTable == nil {
		ci.ClusterAddrTable = map[string][]string{}
	}
	return &ci, nil
}

// TopicRoute returns topic's route.
func (c *Client) TopicRoute(ctx context.Context, topic string) (*protocol.TopicRouteData, error) {
	resp, addr, err := c.callNameServer(ctx, func() *protocol.RemotingCommand {
		return protocol.NewRequest(protocol.ReqGetRouteInfoByTopic, &protocol.GetRouteInfoRequestHeader{Topic: topic}, nil)
	})
	if err != nil {
		return nil, err
	}
	switch resp.Code {
	case protocol.RespSuccess:
	case protocol.RespTopicNotExist:
		return nil, fmt.Errorf("%w: %s", ErrTopicNotFound, topic)
	default:
		return nil, fmt.Errorf("admin: route of %s from %s: %w", topic, addr, resp.Err())
	}
	var r protocol.TopicRouteData
	if err := protocol.DecodeJSON(resp.Body, &r); err != nil {
		return nil, fmt.Errorf("admin: route of %s from %s: %w", topic, addr, err)
	}
	return &r, nil
}

// TopicList returns the topics known to the nameserver (only cluster's when cluster is set).
func (c *Client) TopicList(ctx context.Context, cluster string) ([]string, error) {
	resp, addr, err := c.callNameServer(ctx, func() *protocol.RemotingCommand {
		if cluster != "" {
			return protocol.NewRequest(protocol.ReqGetTopicsByCluster, &protocol.GetTopicsByClusterRequestHeader{Cluster: cluster}, nil)
		}
		return protocol.NewRequest(protocol.ReqGetAllTopicListFromNameserver, nil, nil)
	})
	if err != nil {
		return nil, err
	}
	if err := resp.Err(); err != nil {
		return nil, fmt.Errorf("admin: topic list from %s: %w", addr, err)
	}
	var tl protocol.TopicList
	if len(resp.Body) > 0 {
		if err := protocol.DecodeJSON(resp.Body, &tl); err != nil {
			return nil, fmt.Errorf("admin: topic list from %s: %w", addr, err)
		}
	}
	slices.Sort(tl.TopicList)
	return slices.Compact(tl.TopicList), nil
}

// masters returns brokerName → master address for cluster ("" = every cluster).
func (c *Client) masters(ctx context.Context, cluster string) (map[string]string, error) {
	ci, err := c.ClusterInfo(ctx)
	if err != nil {
		return nil, err
	}
	var names []string
	if cluster == "" {
		for name := range ci.BrokerAddrTable {
			names = append(names, name)
		}
	} else {
		var ok bool
		if names, ok = ci.ClusterAddrTable[cluster]; !ok {
			return nil, fmt.Errorf("%w: cluster %q is not registered", ErrNoBroker, cluster)
		}
	}
	out := make(map[string]string, len(names))
	for _, n := range names {
		if a := ci.BrokerAddrTable[n].MasterAddr(); a != "" {
			out[n] = a
		}
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("%w: no master registered in cluster %q", ErrNoBroker, cluster)
	}
	return out, nil
}

// targets resolves "cluster or broker address" to broker addresses, sorted.
func (c *Client) targets(ctx context.Context, cluster, brokerAddr string) ([]string, error) {
	switch {
	case cluster != "" && brokerAddr != "":
		return nil, errors.New("admin: give a cluster or a broker address, not both")
	case brokerAddr != "":
		return []string{brokerAddr}, nil
	case cluster == "":
		return nil, errors.New("admin: a cluster or a broker address is required")
	}
	m, err := c.masters(ctx, cluster)
	if err != nil {
		return nil, err
	}
	return sortedValues(m), nil
}

func sortedValues(m map[string]string) []string {
	out := make([]string, 0, len(m))
	for _, v := range m {
		out = append(out, v)
	}
	slices.Sort(out)
	return out
}

// CreateTopic creates or updates spec.Topic on its target brokers (UPDATE_AND_CREATE_TOPIC).
func (c *Client) CreateTopic(ctx context.Context, spec TopicSpec) ([]string, error) {
	if spec.Topic == "" {
		return nil, errors.New("admin: topic name is required")
	}
	spec.ReadQueues = cmp.Or(spec.ReadQueues, 8)
	spec.WriteQueues = cmp.Or(spec.WriteQueues, 8)
	spec.Perm = cmp.Or(spec.Perm, protocol.PermRead|protocol.PermWrite)
	if spec.ReadQueues < 1 || spec.WriteQueues < 1 || spec.ReadQueues > 1024 || spec.WriteQueues > 1024 {
		return nil, fmt.Errorf("admin: queue numbers %d/%d out of range 1..1024", spec.ReadQueues, spec.WriteQueues)
	}
	if spec.Perm&^(protocol.PermRead|protocol.PermWrite|protocol.PermInherit) != 0 {
		return nil, fmt.Errorf("admin: perm %d: want a combination of 2 (write), 4 (read) and 1 (inherit)", spec.Perm)
	}
	addrs, err := c.targets(ctx, spec.Cluster, spec.BrokerAddr)
	if err != nil {
		return nil, err
	}
	var errs []error
	var done []string
	for _, addr := range addrs {
		_, err := c.callOK(ctx, addr, protocol.NewRequest(protocol.ReqUpdateAndCreateTopic, &protocol.CreateTopicRequestHeader{
			Topic: spec.Topic, DefaultTopic: client.CreateTopicKey, ReadQueueNums: spec.ReadQueues, WriteQueueNums: spec.WriteQueues,
			Perm: spec.Perm, TopicFilterType: protocol.TopicFilterSingleTag, Order: spec.Order,
		}, nil))
		if err != nil {
			errs = append(errs, err)
			continue
		}
		done = append(done, addr)
	}
	return done, errors.Join(errs...)
}

// DeleteTopic deletes topic from the masters (of cluster, or every master hosting it) and then
// from every nameserver.
func (c *Client) DeleteTopic(ctx context.Context, topic, cluster string) error {
	if topic == "" {
		return errors.New("admin: topic name is required")
	}
	var addrs []string
	if cluster != "" {
		m, err := c.masters(ctx, cluster)
		if err != nil {
			return err
		}
		addrs = sortedValues(m)
	} else {
		r, err := c.TopicRoute(ctx, topic)
		if err != nil {
			return err
		}
		for _, bd := range r.BrokerDatas {
			if a := bd.MasterAddr(); a != "" {
				addrs = append(addrs, a)
			}
		}
		slices.Sort(addrs)
	}
	var errs []error
	for _, addr := range addrs {
		if _, err := c.callOK(ctx, addr, protocol.NewRequest(protocol.ReqDeleteTopicInBroker, &protocol.TopicRequestHeader{Topic: topic}, nil)); err != nil {
			errs = append(errs, err)
		}
	}
	for _, ns := range c.ns {
		if _, err := c.callOK(ctx, ns, protocol.NewRequest(protocol.ReqDeleteTopicInNamesrv,
			&protocol.DeleteTopicFromNamesrvRequestHeader{Topic: topic, ClusterName: cluster}, nil)); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// routeMasters returns brokerName → master address for the brokers of a topic's route.
func (c *Client) routeMasters(ctx context.Context, topic string) (map[string]string, *protocol.TopicRouteData, error) {
	r, err := c.TopicRoute(ctx, topic)
	if err != nil {
		return nil, nil, err
	}
	out := map[string]string{}
	for _, bd := range r.BrokerDatas {
		if a := bd.MasterAddr(); a != "" {
			out[bd.BrokerName] = a
		}
	}
	if len(out) == 0 {
		return nil, nil, fmt.Errorf("%w: no master hosts topic %s", ErrNoBroker, topic)
	}
	return out, r, nil
}

func msTime(ms int64) time.Time {
	if ms <= 0 {
		return time.Time{}
	}
	return time.UnixMilli(ms)
}

// TopicStatus asks every master hosting topic for its queue offsets (GET_TOPIC_STATS_INFO).
func (c *Client) TopicStatus(ctx context.Context, topic string) ([]QueueStatus, error) {
	ms, _, err := c.routeMasters(ctx, topic)
	if err != nil {
		return nil, err
	}
	var out []QueueStatus
	var errs []error
	for _, addr := range sortedValues(ms) {
		resp, err := c.callOK(ctx, addr, protocol.NewRequest(protocol.ReqGetTopicStatsInfo, &protocol.TopicRequestHeader{Topic: topic}, nil))
		if err != nil {
			errs = append(errs, err)
			continue
		}
		var st protocol.TopicStatsTable
		if err := st.Decode(resp.Body); err != nil {
			errs = append(errs, fmt.Errorf("admin: topic stats from %s: %w", addr, err))
			continue
		}
		for q, o := range st.OffsetTable {
			out = append(out, QueueStatus{Queue: q, BrokerAddr: addr, MinOffset: o.MinOffset, MaxOffset: o.MaxOffset, LastUpdate: msTime(o.LastUpdateTimestamp)})
		}
	}
	slices.SortFunc(out, func(a, b QueueStatus) int { return compareQueue(a.Queue, b.Queue) })
	return out, errors.Join(errs...)
}

func compareQueue(a, b client.MessageQueue) int {
	return cmp.Or(cmp.Compare(a.Topic, b.Topic), cmp.Compare(a.BrokerName, b.BrokerName), cmp.Compare(a.QueueID, b.QueueID))
}

// BrokerRuntimeInfo returns brokerAddr's runtime table (GET_BROKER_RUNTIME_INFO).
func (c *Client) BrokerRuntimeInfo(ctx context.Context, brokerAddr string) (map[string]string, error) {
	resp, err := c.callOK(ctx, brokerAddr, protocol.NewRequest(protocol.ReqGetBrokerRuntimeInfo, nil, nil))
	if err != nil {
		return nil, err
	}
	var kv protocol.KVTable
	if err := protocol.DecodeJSON(resp.Body, &kv); err != nil {
		return nil, fmt.Errorf("admin: runtime info from %s: %w", brokerAddr, err)
	}
	if kv.Table == nil {
		kv.Table = map[string]string{}
	}
	return kv.Table, nil
}

// UpdateSubscriptionGroup writes cfg to the masters of cluster or to brokerAddr.
func (c *Client) UpdateSubscriptionGroup(ctx context.Context, cluster, brokerAddr string, cfg protocol.SubscriptionGroupConfig) ([]string, error) {
	if cfg.GroupName == "" {
		return nil, errors.New("admin: group name is required")
	}
	addrs, err := c.targets(ctx, cluster, brokerAddr)
	if err != nil {
		return nil, err
	}
	body, err := protocol.EncodeJSON(cfg)
	if err != nil {
		return nil, fmt.Errorf("admin: encode subscription group: %w", err)
	}
	var errs []error
	var done []string
	for _, addr := range addrs {
		if _, err := c.callOK(ctx, addr, protocol.NewRequest(protocol.ReqUpdateAndCreateSubscriptionGroup, nil, body)); err != nil {
			errs = append(errs, err)
			continue
		}
		done = append(done, addr)
	}
	return done, errors.Join(errs...)
}

// ConsumerProgress gathers GET_CONSUME_STATS from the masters hosting topic (every master when
// topic is "").
func (c *Client) ConsumerProgress(ctx context.Context, group, topic string) (*Progress, error) {
	if group == "" {
		return nil, errors.New("admin: consumer group is required")
	}
	var ms map[string]string
	var err error
	if topic != "" {
		ms, _, err = c.routeMasters(ctx, topic)
	} else {
		ms, err = c.masters(ctx, "")
	}
	if err != nil {
		return nil, err
	}
	p := &Progress{}
	var errs []error
	for _, addr := range sortedValues(ms) {
		resp, err := c.callOK(ctx, addr, protocol.NewRequest(protocol.ReqGetConsumeStats,
			&protocol.GetConsumeStatsRequestHeader{ConsumerGroup: group, Topic: topic}, nil))
		if err != nil {
			errs = append(errs, err)
			continue
		}
		var cs protocol.ConsumeStats
		if err := cs.Decode(resp.Body); err != nil {
			errs = append(errs, fmt.Errorf("admin: consume stats from %s: %w", addr, err))
			continue
		}
		p.ConsumeTPS += cs.ConsumeTps
		for q, o := range cs.OffsetTable {
			p.Queues = append(p.Queues, QueueProgress{Queue: q, BrokerOffset: o.BrokerOffset, ConsumerOffset: o.ConsumerOffset, LastTimestamp: msTime(o.LastTimestamp)})
		}
	}
	slices.SortFunc(p.Queues, func(a, b QueueProgress) int { return compareQueue(a.Queue, b.Queue) })
	return p, errors.Join(errs...)
}

// queueBrokerAddr returns the master (or else any) address of q's broker.
func (c *Client) queueBrokerAddr(ctx context.Context, q client.MessageQueue) (string, error) {
	r, err := c.TopicRoute(ctx, q.Topic)
	if err != nil {
		return "", err
	}
	for _, bd := range r.BrokerDatas {
		if bd.BrokerName != q.BrokerName {
			continue
		}
		if a := bd.MasterAddr(); a != "" {
			return a, nil
		}
		ids := make([]int64, 0, len(bd.BrokerAddrs))
		for id := range bd.BrokerAddrs {
			ids = append(ids, id)
		}
		slices.Sort(ids)
		if len(ids) > 0 {
			return bd.BrokerAddrs[ids[0]], nil
		}
	}
	return "", fmt.Errorf("%w: broker %s does not host %s", ErrNoBroker, q.BrokerName, q.Topic)
}

// QueryMessageByOffset pulls the single message at offset of queue q (group TOOLS_CONSUMER, no
// offset commit), as mqadmin queryMsgByOffset does.
func (c *Client) QueryMessageByOffset(ctx context.Context, q client.MessageQueue, offset int64) (*client.MessageExt, error) {
	addr, err := c.queueBrokerAddr(ctx, q)
	if err != nil {
		return nil, err
	}
	resp, err := c.call(ctx, addr, protocol.NewRequest(protocol.ReqPullMessage, &protocol.PullMessageRequestHeader{
		ConsumerGroup: ToolsConsumerGroup, Topic: q.Topic, QueueID: q.QueueID, QueueOffset: offset, MaxMsgNums: 1,
		SysFlag: protocol.PullFlagSubscription, Subscription: "*", ExpressionType: "TAG",
	}, nil))
	if err != nil {
		return nil, err
	}
	switch resp.Code {
	case protocol.RespSuccess:
	case protocol.RespPullNotFound, protocol.RespPullRetryImmediately, protocol.RespPullOffsetMoved:
		var h protocol.PullMessageResponseHeader
		_ = resp.DecodeHeader(&h)
		return nil, fmt.Errorf("%w: %s offset %d (queue offsets %d..%d)", ErrMessageNotFound, client.QueueString(q), offset, h.MinOffset, h.MaxOffset)
	default:
		return nil, fmt.Errorf("admin: pull %s from %s: %w", client.QueueString(q), addr, resp.Err())
	}
	msgs, err := client.DecodeMessages(resp.Body)
	if err != nil {
		return nil, fmt.Errorf("admin: pull %s from %s: %w", client.QueueString(q), addr, err)
	}
	for _, m := range msgs {
		if m.QueueOffset == offset {
			return m, nil
		}
	}
	return nil, fmt.Errorf("%w: %s offset %d", ErrMessageNotFound, client.QueueString(q), offset)
}

// queryIndex sends QUERY_MESSAGE for topic#key to every master hosting topic.
func (c *Client) queryIndex(ctx context.Context, topic, key string, maxNum int, begin, end time.Time, unique bool) ([]*client.MessageExt, error) {
	ms, _, err := c.routeMasters(ctx, topic)
	if err != nil {
		return nil, err
	}
	if maxNum <= 0 {
		maxNum = 32
	}
	if end.IsZero() {
		end = time.Now().Add(time.Minute)
	}
	var out []*client.MessageExt
	var errs []error
	for _, addr := range sortedValues(ms) {
		cmd := protocol.NewRequest(protocol.ReqQueryMessage, &protocol.QueryMessageRequestHeader{
			Topic: topic, Key: key, MaxNum: maxNum, BeginTimestamp: max(begin.UnixMilli(), 0), EndTimestamp: end.UnixMilli(),
		}, nil)
		if unique {
			cmd.SetExtField("_UNIQUE_KEY_QUERY", "true")
		}
		resp, err := c.call(ctx, addr, cmd)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		switch resp.Code {
		case protocol.RespSuccess:
		case protocol.RespQueryNotFound:
			continue
		default:
			errs = append(errs, fmt.Errorf("admin: query %s#%s on %s: %w", topic, key, addr, resp.Err()))
			continue
		}
		msgs, err := client.DecodeMessages(resp.Body)
		if err != nil {
			errs = append(errs, fmt.Errorf("admin: query %s#%s on %s: %w", topic, key, addr, err))
			continue
		}
		out = append(out, msgs...)
	}
	slices.SortFunc(out, func(a, b *client.MessageExt) int {
		return cmp.Or(cmp.Compare(a.StoreTimestamp, b.StoreTimestamp), cmp.Compare(a.StoreHost, b.StoreHost), cmp.Compare(a.CommitLogOffset, b.CommitLogOffset))
	})
	if len(out) > 0 {
		return out, nil // partial answers are useful; errors are logged
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	return nil, fmt.Errorf("%w: key %q in topic %s", ErrMessageNotFound, key, topic)
}

// QueryMessageByKey looks messages up by a KEYS value (QUERY_MESSAGE on every master of topic).
func (c *Client) QueryMessageByKey(ctx context.Context, topic, key string, maxNum int, begin, end time.Time) ([]*client.MessageExt, error) {
	msgs, err := c.queryIndex(ctx, topic, key, maxNum, begin, end, false)
	if err != nil {
		return nil, err
	}
	var out []*client.MessageExt
	for _, m := range msgs {
		if m.Topic == topic && slices.Contains(m.Keys(), key) {
			out = append(out, m)
		}
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("%w: key %q in topic %s", ErrMessageNotFound, key, topic)
	}
	return out, nil
}

// QueryMessageByUniqueKey finds messages whose UNIQ_KEY is id through the index; when that finds
// nothing and id is a broker offset message id, it reads the message from the broker it names
// (VIEW_MESSAGE_BY_ID).
func (c *Client) QueryMessageByUniqueKey(ctx context.Context, topic, id string) ([]*client.MessageExt, error) {
	var out []*client.MessageExt
	msgs, err := c.queryIndex(ctx, topic, id, 32, time.Time{}, time.Time{}, true)
	if err == nil {
		for _, m := range msgs {
			if m.Topic == topic && (m.UniqKey() == id || m.OffsetMsgID == id) {
				out = append(out, m)
			}
		}
	}
	if len(out) > 0 {
		return out, nil
	}
	addr, offset, perr := client.ParseOffsetMsgID(strings.ToUpper(id))
	if perr != nil {
		if err != nil && !errors.Is(err, ErrMessageNotFound) {
			return nil, err
		}
		return nil, fmt.Errorf("%w: id %q in topic %s", ErrMessageNotFound, id, topic)
	}
	resp, verr := c.callOK(ctx, addr, protocol.NewRequest(protocol.ReqViewMessageByID, &protocol.ViewMessageRequestHeader{Offset: offset, Topic: topic}, nil))
	if verr != nil {
		return nil, fmt.Errorf("%w: id %q: %v", ErrMessageNotFound, id, verr)
	}
	msgs, derr := client.DecodeMessages(resp.Body)
	if derr != nil {
		return nil, fmt.Errorf("admin: view message %s on %s: %w", id, addr, derr)
	}
	for _, m := range msgs {
		if m.Topic == topic {
			out = append(out, m)
		}
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("%w: id %q in topic %s", ErrMessageNotFound, id, topic)
	}
	return out, nil
}
