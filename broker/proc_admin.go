package broker

import (
	"errors"
	"fmt"
	"runtime"
	"sort"
	"strconv"
	"time"

	"github.com/gorocket/gorocket/broker/group"
	"github.com/gorocket/gorocket/broker/topic"
	"github.com/gorocket/gorocket/internal/conf"
	"github.com/gorocket/gorocket/remoting/protocol"
)

func bodyResponse(v any) (*protocol.RemotingCommand, error) {
	b, err := protocol.EncodeJSON(v)
	if err != nil {
		return nil, protocol.Errorf(protocol.RespSystemError, "encode body: %v", err)
	}
	resp := protocol.NewResponse(protocol.RespSuccess, "")
	resp.Body = b
	return resp, nil
}

func (s *Server) refuseSlave() error {
	if s.opts.Config.BrokerRole == conf.RoleSlave {
		return protocol.Errorf(protocol.RespSystemError, "Can't modify topic or subscription group from slave broker, please execute it from master broker.")
	}
	return nil
}

// handleCreateTopic serves UPDATE_AND_CREATE_TOPIC (17).
func (s *Server) handleCreateTopic(rc *reqCtx, req *protocol.RemotingCommand) (*protocol.RemotingCommand, error) {
	if err := s.refuseSlave(); err != nil {
		return nil, err
	}
	var h protocol.CreateTopicRequestHeader
	if err := req.DecodeHeader(&h); err != nil {
		return nil, protocol.Errorf(protocol.RespSystemError, "decode header: %v", err)
	}
	if err := topic.ValidateName(h.Topic); err != nil {
		return nil, protocol.Errorf(protocol.RespSystemError, "%v", err)
	}
	if h.Topic == s.opts.Config.BrokerClusterName || topic.IsSystemTopic(h.Topic) {
		return nil, protocol.Errorf(protocol.RespSystemError, "The topic[%s] is conflict with system topic.", h.Topic)
	}
	tc := topic.Config{
		TopicName: h.Topic, ReadQueueNums: h.ReadQueueNums, WriteQueueNums: h.WriteQueueNums,
		Perm: h.Perm, TopicFilterType: h.TopicFilterType, TopicSysFlag: h.TopicSysFlag, Order: h.Order,
	}
	if _, err := s.topics.Put(tc); err != nil {
		return nil, protocol.Errorf(protocol.RespSystemError, "%v", err)
	}
	return protocol.NewResponse(protocol.RespSuccess, ""), nil
}

// handleDeleteTopic serves DELETE_TOPIC_IN_BROKER (215).
func (s *Server) handleDeleteTopic(rc *reqCtx, req *protocol.RemotingCommand) (*protocol.RemotingCommand, error) {
	if err := s.refuseSlave(); err != nil {
		return nil, err
	}
	var h protocol.TopicRequestHeader
	if err := req.DecodeHeader(&h); err != nil {
		return nil, protocol.Errorf(protocol.RespSystemError, "decode header: %v", err)
	}
	if topic.IsSystemTopic(h.Topic) {
		return nil, protocol.Errorf(protocol.RespSystemError, "The topic[%s] is conflict with system topic.", h.Topic)
	}
	if _, err := s.topics.Delete(h.Topic); err != nil {
		return nil, protocol.Errorf(protocol.RespSystemError, "%v", err)
	}
	s.offsets.RemoveTopic(h.Topic)
	if err := s.store.DeleteTopic(h.Topic); err != nil {
		return nil, protocol.Errorf(protocol.RespSystemError, "delete topic %s from store: %v", h.Topic, err)
	}
	return protocol.NewResponse(protocol.RespSuccess, ""), nil
}

// topicWrapper returns the registration / GET_ALL_TOPIC_CONFIG view of the topic table. When the
// broker itself is not read-write, every topic's perm is replaced by the broker's (Java's
// "wipe write perm").
func (s *Server) topicWrapper() protocol.TopicConfigSerializeWrapper {
	table, dv := s.topics.Snapshot()
	if bp := s.opts.Config.BrokerPermission; bp&(protocol.PermRead|protocol.PermWrite) != protocol.PermRead|protocol.PermWrite {
		for k, v := range table {
			v.Perm = bp
			table[k] = v
		}
	}
	return protocol.TopicConfigSerializeWrapper{TopicConfigTable: table, DataVersion: dv}
}

// handleGetAllTopicConfig serves GET_ALL_TOPIC_CONFIG (21).
func (s *Server) handleGetAllTopicConfig(rc *reqCtx, req *protocol.RemotingCommand) (*protocol.RemotingCommand, error) {
	return bodyResponse(s.topicWrapper())
}

// handleGetTopicStats serves GET_TOPIC_STATS_INFO (202).
func (s *Server) handleGetTopicStats(rc *reqCtx, req *protocol.RemotingCommand) (*protocol.RemotingCommand, error) {
	var h protocol.TopicRequestHeader
	if err := req.DecodeHeader(&h); err != nil {
		return nil, protocol.Errorf(protocol.RespSystemError, "decode header: %v", err)
	}
	tc, ok := s.topics.Get(h.Topic)
	if !ok {
		return nil, protocol.Errorf(protocol.RespTopicNotExist, "topic[%s] not exist", h.Topic)
	}
	st := protocol.TopicStatsTable{OffsetTable: make(map[protocol.BrokerMessageQueue]protocol.TopicOffset)}
	for q := 0; q < tc.WriteQueueNums; q++ {
		off := protocol.TopicOffset{MinOffset: max(s.store.MinOffset(h.Topic, q), 0), MaxOffset: s.store.MaxOffset(h.Topic, q)}
		if off.MaxOffset > 0 {
			if ts, err := s.lastStoreTime(h.Topic, q, off.MaxOffset-1); err == nil {
				off.LastUpdateTimestamp = ts
			}
		}
		st.OffsetTable[protocol.BrokerMessageQueue{Topic: h.Topic, BrokerName: s.opts.Config.BrokerName, QueueID: q}] = off
	}
	b, err := st.Encode()
	if err != nil {
		return nil, protocol.Errorf(protocol.RespSystemError, "encode: %v", err)
	}
	resp := protocol.NewResponse(protocol.RespSuccess, "")
	resp.Body = b
	return resp, nil
}

// lastStoreTime returns the store timestamp of the message at a queue offset.
func (s *Server) lastStoreTime(t string, q int, off int64) (int64, error) {
	res, err := s.store.Get(t, q, off, 1, 1<<20, nil)
	if err != nil {
		return 0, err
	}
	if res.Status != GetFound || len(res.Records) == 0 {
		return 0, fmt.Errorf("broker: no message at %s:%d:%d", t, q, off)
	}
	r := res.Records[0]
	// STORETIMESTAMP follows the born host (IPv4 or IPv6).
	sys := int32(uint32(r[36])<<24 | uint32(r[37])<<16 | uint32(r[38])<<8 | uint32(r[39]))
	p := 56
	if sys&0x10 != 0 {
		p = 68
	}
	if len(r) < p+8 {
		return 0, fmt.Errorf("broker: short record")
	}
	var ts int64
	for i := 0; i < 8; i++ {
		ts = ts<<8 | int64(r[p+i])
	}
	return ts, nil
}

// handleGetConsumeStats serves GET_CONSUME_STATS (208).
func (s *Server) handleGetConsumeStats(rc *reqCtx, req *protocol.RemotingCommand) (*protocol.RemotingCommand, error) {
	var h protocol.GetConsumeStatsRequestHeader
	if err := req.DecodeHeader(&h); err != nil {
		return nil, protocol.Errorf(protocol.RespSystemError, "decode header: %v", err)
	}
	topics := []string{h.Topic}
	if h.Topic == "" {
		topics = s.offsets.TopicsOfGroup(h.ConsumerGroup)
		sort.Strings(topics)
	}
	cs := protocol.ConsumeStats{OffsetTable: make(map[protocol.BrokerMessageQueue]protocol.OffsetWrapper)}
	for _, t := range topics {
		tc, ok := s.topics.Get(t)
		if !ok {
			continue
		}
		for q := 0; q < tc.ReadQueueNums; q++ {
			w := protocol.OffsetWrapper{BrokerOffset: s.store.MaxOffset(t, q)}
			if off, ok := s.offsets.Query(h.ConsumerGroup, t, q); ok {
				w.ConsumerOffset = off
				if off > 0 {
					if ts, err := s.lastStoreTime(t, q, off-1); err == nil {
						w.LastTimestamp = ts
					}
				}
			}
			cs.OffsetTable[protocol.BrokerMessageQueue{Topic: t, BrokerName: s.opts.Config.BrokerName, QueueID: q}] = w
		}
	}
	cs.ConsumeTps = s.stats.getTPS()
	b, err := cs.Encode()
	if err != nil {
		return nil, protocol.Errorf(protocol.RespSystemError, "encode: %v", err)
	}
	resp := protocol.NewResponse(protocol.RespSuccess, "")
	resp.Body = b
	return resp, nil
}

// handleUpdateSubscriptionGroup serves UPDATE_AND_CREATE_SUBSCRIPTIONGROUP (200).
func (s *Server) handleUpdateSubscriptionGroup(rc *reqCtx, req *protocol.RemotingCommand) (*protocol.RemotingCommand, error) {
	if err := s.refuseSlave(); err != nil {
		return nil, err
	}
	var c protocol.SubscriptionGroupConfig
	if err := protocol.DecodeJSON(req.Body, &c); err != nil {
		return nil, protocol.Errorf(protocol.RespSystemError, "decode subscription group: %v", err)
	}
	if err := s.groups.Put(c); err != nil {
		return nil, protocol.Errorf(protocol.RespSystemError, "%v", err)
	}
	return protocol.NewResponse(protocol.RespSuccess, ""), nil
}

// handleGetAllSubscriptionGroup serves GET_ALL_SUBSCRIPTIONGROUP_CONFIG (201).
func (s *Server) handleGetAllSubscriptionGroup(rc *reqCtx, req *protocol.RemotingCommand) (*protocol.RemotingCommand, error) {
	return bodyResponse(s.groups.Snapshot())
}

// handleDeleteSubscriptionGroup serves DELETE_SUBSCRIPTIONGROUP (207).
func (s *Server) handleDeleteSubscriptionGroup(rc *reqCtx, req *protocol.RemotingCommand) (*protocol.RemotingCommand, error) {
	if err := s.refuseSlave(); err != nil {
		return nil, err
	}
	var h protocol.DeleteSubscriptionGroupRequestHeader
	if err := req.DecodeHeader(&h); err != nil {
		return nil, protocol.Errorf(protocol.RespSystemError, "decode header: %v", err)
	}
	if _, err := s.groups.Delete(h.GroupName); err != nil {
		if errors.Is(err, group.ErrSystemGroup) {
			return nil, protocol.Errorf(protocol.RespSystemError, "%v", err)
		}
		return nil, protocol.Errorf(protocol.RespSystemError, "%v", err)
	}
	if h.CleanOffset {
		s.offsets.RemoveGroup(h.GroupName)
	}
	return protocol.NewResponse(protocol.RespSuccess, ""), nil
}

// handleGetBrokerConfig serves GET_BROKER_CONFIG (26): the configuration as properties text.
func (s *Server) handleGetBrokerConfig(rc *reqCtx, req *protocol.RemotingCommand) (*protocol.RemotingCommand, error) {
	dv := s.topics.DataVersion()
	v, _ := protocol.EncodeJSON(dv)
	resp := protocol.NewResponseWithHeader(protocol.RespSuccess, &protocol.GetBrokerConfigResponseHeader{Version: string(v)}, s.opts.Config.Render())
	return resp, nil
}

// handleGetConsumerConnectionList serves GET_CONSUMER_CONNECTION_LIST (203).
func (s *Server) handleGetConsumerConnectionList(rc *reqCtx, req *protocol.RemotingCommand) (*protocol.RemotingCommand, error) {
	var h protocol.ConsumerGroupRequestHeader
	if err := req.DecodeHeader(&h); err != nil {
		return nil, protocol.Errorf(protocol.RespSystemError, "decode header: %v", err)
	}
	g, ok := s.clients.ConsumerGroup(h.ConsumerGroup)
	if !ok || len(g.Clients) == 0 {
		return nil, protocol.Errorf(protocol.RespConsumerNotOnline, "the consumer group[%s] not online", h.ConsumerGroup)
	}
	cc := protocol.ConsumerConnection{
		SubscriptionTable: make(map[string]protocol.SubscriptionData),
		ConsumeType:       g.ConsumeType, MessageModel: g.MessageModel, ConsumeFromWhere: g.ConsumeFromWhere,
	}
	for _, ci := range g.Clients {
		cc.ConnectionSet = append(cc.ConnectionSet, protocol.Connection{ClientID: ci.ClientID, ClientAddr: ci.Channel.RemoteAddr().String(), Language: ci.Language, Version: ci.Version})
	}
	sort.Slice(cc.ConnectionSet, func(i, j int) bool { return cc.ConnectionSet[i].ClientID < cc.ConnectionSet[j].ClientID })
	for t, sub := range g.Subscriptions {
		cc.SubscriptionTable[t] = sub.ToProtocol()
	}
	return bodyResponse(cc)
}

// handleGetProducerConnectionList serves GET_PRODUCER_CONNECTION_LIST (204).
func (s *Server) handleGetProducerConnectionList(rc *reqCtx, req *protocol.RemotingCommand) (*protocol.RemotingCommand, error) {
	var h protocol.ProducerGroupRequestHeader
	if err := req.DecodeHeader(&h); err != nil {
		return nil, protocol.Errorf(protocol.RespSystemError, "decode header: %v", err)
	}
	pc := protocol.ProducerConnection{ConnectionSet: []protocol.Connection{}}
	for _, ci := range s.clients.Producers(h.ProducerGroup) {
		pc.ConnectionSet = append(pc.ConnectionSet, protocol.Connection{ClientID: ci.ClientID, ClientAddr: ci.Channel.RemoteAddr().String(), Language: ci.Language, Version: ci.Version})
	}
	return bodyResponse(pc)
}

// handleQueryTopicConsumeByWho serves QUERY_TOPIC_CONSUME_BY_WHO (300).
func (s *Server) handleQueryTopicConsumeByWho(rc *reqCtx, req *protocol.RemotingCommand) (*protocol.RemotingCommand, error) {
	var h protocol.TopicRequestHeader
	if err := req.DecodeHeader(&h); err != nil {
		return nil, protocol.Errorf(protocol.RespSystemError, "decode header: %v", err)
	}
	set := map[string]bool{}
	for _, g := range s.clients.GroupsSubscribing(h.Topic) {
		set[g] = true
	}
	for _, g := range s.offsets.GroupsOfTopic(h.Topic) {
		set[g] = true
	}
	gl := protocol.GroupList{GroupList: []string{}}
	for g := range set {
		gl.GroupList = append(gl.GroupList, g)
	}
	sort.Strings(gl.GroupList)
	return bodyResponse(gl)
}

// handleGetAllConsumerOffset serves GET_ALL_CONSUMER_OFFSET (43).
func (s *Server) handleGetAllConsumerOffset(rc *reqCtx, req *protocol.RemotingCommand) (*protocol.RemotingCommand, error) {
	return bodyResponse(s.offsets.Snapshot())
}

// handleGetAllDelayOffset serves GET_ALL_DELAY_OFFSET (45).
func (s *Server) handleGetAllDelayOffset(rc *reqCtx, req *protocol.RemotingCommand) (*protocol.RemotingCommand, error) {
	return bodyResponse(s.sched.snapshot())
}

// handleGetRuntimeInfo serves GET_BROKER_RUNTIME_INFO (28).
func (s *Server) handleGetRuntimeInfo(rc *reqCtx, req *protocol.RemotingCommand) (*protocol.RemotingCommand, error) {
	return bodyResponse(protocol.KVTable{Table: s.runtimeInfo()})
}

// runtimeInfo builds the GET_BROKER_RUNTIME_INFO table; replication keys come from
// haRuntimeInfo (docs/replication.md).
func (s *Server) runtimeInfo() map[string]string {
	st := s.stats.snapshot()
	i64 := func(v int64) string { return strconv.FormatInt(v, 10) }
	consumers, producers := s.clients.Counts()
	c := s.opts.Config
	t := map[string]string{
		"brokerVersionDesc":                    "V4_9_8",
		"brokerVersion":                        strconv.Itoa(int(protocol.CurrentVersion)),
		"gorocketVersion":                      Version,
		"brokerName":                           c.BrokerName,
		"brokerId":                             i64(c.BrokerID),
		"brokerRole":                           c.BrokerRole,
		"brokerAddr":                           s.AdvertisedAddr(),
		"clusterName":                          c.BrokerClusterName,
		"bootTimestamp":                        i64(s.bootTime.UnixMilli()),
		"runtime":                              runtimeString(time.Since(s.bootTime)),
		"msgPutTotalTodayNow":                  i64(st.putTotal),
		"msgGetTotalTodayNow":                  i64(st.getTotal),
		"msgPutTotalTodayMorning":              i64(st.putTodayMorning),
		"msgGetTotalTodayMorning":              i64(st.getTodayMorning),
		"msgPutTotalYesterdayMorning":          i64(st.putYesterdayMorning),
		"msgGetTotalYesterdayMorning":          i64(st.getYesterdayMorning),
		"putTps":                               st.putTPS,
		"getTransferedTps":                     st.getTPS,
		"getFoundTps":                          st.getTPS,
		"commitLogMaxOffset":                   i64(s.store.MaxPhysOffset()),
		"commitLogMinOffset":                   i64(s.store.MinPhysOffset()),
		"commitLogDiskRatio":                   strconv.FormatFloat(s.store.DiskUsedRatio(), 'f', 4, 64),
		"earliestMessageTimeStamp":             i64(s.store.EarliestStoreTime()),
		"dispatchMaxBuffer":                    "0",
		"sendThreadPoolQueueSize":              "0",
		"sendThreadPoolQueueCapacity":          strconv.Itoa(c.SendThreadPoolQueueCapacity),
		"pullThreadPoolQueueSize":              "0",
		"pullThreadPoolQueueCapacity":          strconv.Itoa(c.PullThreadPoolQueueCapacity),
		"sendThreadPoolQueueHeadWaitTimeMills": "0",
		"pullThreadPoolQueueHeadWaitTimeMills": "0",
		"pageCacheLockTimeMills":               "0",
		"heldPullRequests":                     strconv.Itoa(s.polls.Count()),
		"goroutines":                           strconv.Itoa(runtime.NumGoroutine()),
		"consumerConnections":                  strconv.Itoa(consumers),
		"producerConnections":                  strconv.Itoa(producers),
		"topicCount":                           strconv.Itoa(len(s.topicWrapper().TopicConfigTable)),
	}
	s.haRuntimeInfo(t)
	return t
}

func runtimeString(d time.Duration) string {
	sec := int64(d.Seconds())
	return fmt.Sprintf("[ %d days, %d hours, %d minutes, %d seconds ]", sec/86400, sec%86400/3600, sec%3600/60, sec%60)
}
