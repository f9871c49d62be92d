package nameserver

import (
	"bytes"
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/gorocket/gorocket/internal/conf"
	"github.com/gorocket/gorocket/remoting"
	"github.com/gorocket/gorocket/remoting/protocol"
)

// faqSuffix is what Java's FAQUrl.suggestTodo(APPLY_TOPIC_URL) appends to the remark.
const faqSuffix = "\nSee http://rocketmq.apache.org/docs/faq/ for further details."

type handlerFunc = func(ctx context.Context, req *remoting.Request) (*protocol.RemotingCommand, error)

func (s *Server) registerHandlers() {
	for code, h := range map[int32]handlerFunc{
		protocol.ReqRegisterBroker:                s.registerBroker,
		protocol.ReqUnregisterBroker:              s.unregisterBroker,
		protocol.ReqGetRouteInfoByTopic:           s.getRouteInfo,
		protocol.ReqGetBrokerClusterInfo:          s.getClusterInfo,
		protocol.ReqGetAllTopicListFromNameserver: s.getAllTopicList,
		protocol.ReqDeleteTopicInNamesrv:          s.deleteTopic,
		protocol.ReqQueryDataVersion:              s.queryDataVersion,
		protocol.ReqPutKVConfig:                   s.putKVConfig,
		protocol.ReqGetKVConfig:                   s.getKVConfig,
		protocol.ReqDeleteKVConfig:                s.deleteKVConfig,
		protocol.ReqGetKVListByNamespace:          s.getKVList,
		protocol.ReqGetTopicsByCluster:            s.getTopicsByCluster,
		protocol.ReqGetSystemTopicListFromNS:      s.getSystemTopicList,
		protocol.ReqGetUnitTopicList:              s.unitTopics(func(f int) bool { return f&protocol.TopicSysFlagUnit != 0 }),
		protocol.ReqGetHasUnitSubTopicList:        s.unitTopics(func(f int) bool { return f&protocol.TopicSysFlagUnitSub != 0 }),
		protocol.ReqGetHasUnitSubUnUnitTopicList:  s.unitTopics(func(f int) bool { return f&protocol.TopicSysFlagUnit == 0 && f&protocol.TopicSysFlagUnitSub != 0 }),
		protocol.ReqWipeWritePermOfBroker:         s.writePerm(false),
		protocol.ReqAddWritePermOfBroker:          s.writePerm(true),
		protocol.ReqGetNamesrvConfig:              s.getNamesrvConfig,
		protocol.ReqUpdateNamesrvConfig:           s.updateNamesrvConfig,
	} {
		s.rs.HandleFunc(code, h)
	}
}

func success(body []byte) *protocol.RemotingCommand {
	r := protocol.NewResponse(protocol.RespSuccess, "")
	r.Body = body
	return r
}

func jsonBody(v any) (*protocol.RemotingCommand, error) {
	b, err := protocol.EncodeJSON(v)
	if err != nil {
		return nil, err
	}
	return success(b), nil
}

// registerBroker handles REGISTER_BROKER (reference §5.1).
func (s *Server) registerBroker(_ context.Context, req *remoting.Request) (*protocol.RemotingCommand, error) {
	var h protocol.RegisterBrokerRequestHeader
	if err := req.Cmd.DecodeHeader(&h); err != nil {
		return nil, err
	}
	if h.BodyCrc32 != 0 {
		if got := protocol.MaskedCRC32(req.Cmd.Body); got != h.BodyCrc32 {
			s.log.Warn("nameserver: register broker body crc32 mismatch", "broker_addr", h.BrokerAddr,
				"remote", req.Conn.RemoteAddr().String(), "header_crc32", h.BodyCrc32, "body_crc32", got)
			return protocol.NewResponse(protocol.RespSystemError, "crc32 not match"), nil
		}
	}
	var topics protocol.TopicConfigSerializeWrapper
	if req.Cmd.Version >= protocol.VersionV3_0_11 {
		body, err := protocol.DecodeRegisterBrokerBody(req.Cmd.Body, h.Compressed)
		if err != nil {
			return nil, fmt.Errorf("nameserver: register %s: %w", h.BrokerAddr, err)
		}
		topics = body.TopicConfigSerializeWrapper
	} else if len(req.Cmd.Body) > 0 {
		if err := protocol.DecodeJSON(req.Cmd.Body, &topics); err != nil {
			return nil, fmt.Errorf("nameserver: register %s: topic config wrapper: %w", h.BrokerAddr, err)
		}
	}
	reg := Registration{
		Cluster:      h.ClusterName,
		BrokerName:   h.BrokerName,
		BrokerAddr:   h.BrokerAddr,
		BrokerID:     h.BrokerID,
		HAServerAddr: h.HAServerAddr,
		Topics:       topics,
		Conn:         req.Conn,
	}
	if h.HeartbeatTimeoutMillis != nil && *h.HeartbeatTimeoutMillis > 0 {
		reg.Timeout = time.Duration(*h.HeartbeatTimeoutMillis) * time.Millisecond
	}
	res := s.routes.Register(reg)
	if res.First {
		s.log.Info("nameserver: broker registered", "cluster", h.ClusterName, "broker_name", h.BrokerName,
			"broker_id", h.BrokerID, "broker_addr", h.BrokerAddr, "ha_addr", h.HAServerAddr,
			"topics", len(topics.TopicConfigTable), "remote", req.Conn.RemoteAddr().String())
	}
	resp := protocol.NewResponseWithHeader(protocol.RespSuccess,
		&protocol.RegisterBrokerResponseHeader{HAServerAddr: res.HAServerAddr, MasterAddr: res.MasterAddr}, nil)
	if table, ok := s.kv.list(protocol.NamespaceOrderTopicConfig); ok {
		body, err := protocol.EncodeJSON(protocol.KVTable{Table: table})
		if err != nil {
			return nil, err
		}
		resp.Body = body
	}
	return resp, nil
}

// unregisterBroker handles UNREGISTER_BROKER (reference §5.3).
func (s *Server) unregisterBroker(_ context.Context, req *remoting.Request) (*protocol.RemotingCommand, error) {
	var h protocol.UnregisterBrokerRequestHeader
	if err := req.Cmd.DecodeHeader(&h); err != nil {
		return nil, err
	}
	if s.routes.Unregister(h.BrokerAddr, h.BrokerName, h.BrokerID) {
		s.log.Info("nameserver: broker unregistered", "cluster", h.ClusterName, "broker_name", h.BrokerName,
			"broker_id", h.BrokerID, "broker_addr", h.BrokerAddr)
	}
	return success(nil), nil
}

// getRouteInfo handles GET_ROUTEINFO_BY_TOPIC (reference §3.1).
func (s *Server) getRouteInfo(_ context.Context, req *remoting.Request) (*protocol.RemotingCommand, error) {
	var h protocol.GetRouteInfoRequestHeader
	if err := req.Cmd.DecodeHeader(&h); err != nil {
		return nil, err
	}
	route, ok := s.routes.TopicRoute(h.Topic)
	if !ok {
		return protocol.NewResponse(protocol.RespTopicNotExist,
			"No topic route info in name server for the topic: "+h.Topic+faqSuffix), nil
	}
	if s.orderMessage.Load() {
		if orderConf, ok := s.kv.get(protocol.NamespaceOrderTopicConfig, h.Topic); ok {
			route.OrderTopicConf = orderConf
		}
	}
	body, err := route.Encode()
	if err != nil {
		return nil, fmt.Errorf("nameserver: route %s: %w", h.Topic, err)
	}
	return success(body), nil
}

func (s *Server) getClusterInfo(context.Context, *remoting.Request) (*protocol.RemotingCommand, error) {
	return jsonBody(s.routes.ClusterInfo())
}

func (s *Server) getAllTopicList(context.Context, *remoting.Request) (*protocol.RemotingCommand, error) {
	return jsonBody(protocol.TopicList{TopicList: s.routes.AllTopics()})
}

// deleteTopic handles DELETE_TOPIC_IN_NAMESRV (reference §3.4).
func (s *Server) deleteTopic(_ context.Context, req *remoting.Request) (*protocol.RemotingCommand, error) {
	var h protocol.DeleteTopicFromNamesrvRequestHeader
	if err := req.Cmd.DecodeHeader(&h); err != nil {
		return nil, err
	}
	if s.routes.DeleteTopic(h.Topic, h.ClusterName) {
		s.log.Info("nameserver: topic deleted", "topic", h.Topic, "cluster", h.ClusterName)
	}
	return success(nil), nil
}

// queryDataVersion handles QUERY_DATA_VERSION (reference §5.4).
func (s *Server) queryDataVersion(_ context.Context, req *remoting.Request) (*protocol.RemotingCommand, error) {
	var h protocol.QueryDataVersionRequestHeader
	if err := req.Cmd.DecodeHeader(&h); err != nil {
		return nil, err
	}
	var dv protocol.DataVersion
	if err := protocol.DecodeJSON(req.Cmd.Body, &dv); err != nil {
		return nil, fmt.Errorf("nameserver: query data version of %s: %w", h.BrokerAddr, err)
	}
	changed, stored := s.routes.QueryDataVersion(h.BrokerAddr, dv)
	resp := protocol.NewResponseWithHeader(protocol.RespSuccess, &protocol.QueryDataVersionResponseHeader{Changed: changed}, nil)
	if stored != nil {
		body, err := protocol.EncodeJSON(stored)
		if err != nil {
			return nil, err
		}
		resp.Body = body
	}
	return resp, nil
}

func (s *Server) putKVConfig(_ context.Context, req *remoting.Request) (*protocol.RemotingCommand, error) {
	var h protocol.PutKVConfigRequestHeader
	if err := req.Cmd.DecodeHeader(&h); err != nil {
		return nil, err
	}
	if err := s.kv.put(h.Namespace, h.Key, h.Value); err != nil {
		return nil, err
	}
	s.log.Info("nameserver: kv config put", "namespace", h.Namespace, "key", h.Key, "value", h.Value)
	return success(nil), nil
}

func (s *Server) getKVConfig(_ context.Context, req *remoting.Request) (*protocol.RemotingCommand, error) {
	var h protocol.GetKVConfigRequestHeader
	if err := req.Cmd.DecodeHeader(&h); err != nil {
		return nil, err
	}
	v, ok := s.kv.get(h.Namespace, h.Key)
	if !ok {
		return protocol.NewResponse(protocol.RespQueryNotFound,
			"No config item, Namespace: "+h.Namespace+" Key: "+h.Key), nil
	}
	return protocol.NewResponseWithHeader(protocol.RespSuccess, &protocol.GetKVConfigResponseHeader{Value: v}, nil), nil
}

func (s *Server) deleteKVConfig(_ context.Context, req *remoting.Request) (*protocol.RemotingCommand, error) {
	var h protocol.DeleteKVConfigRequestHeader
	if err := req.Cmd.DecodeHeader(&h); err != nil {
		return nil, err
	}
	if err := s.kv.delete(h.Namespace, h.Key); err != nil {
		return nil, err
	}
	s.log.Info("nameserver: kv config deleted", "namespace", h.Namespace, "key", h.Key)
	return success(nil), nil
}

func (s *Server) getKVList(_ context.Context, req *remoting.Request) (*protocol.RemotingCommand, error) {
	var h protocol.GetKVListByNamespaceRequestHeader
	if err := req.Cmd.DecodeHeader(&h); err != nil {
		return nil, err
	}
	table, ok := s.kv.list(h.Namespace)
	if !ok {
		return protocol.NewResponse(protocol.RespQueryNotFound, "No config item, Namespace: "+h.Namespace), nil
	}
	return jsonBody(protocol.KVTable{Table: table})
}

func (s *Server) getTopicsByCluster(_ context.Context, req *remoting.Request) (*protocol.RemotingCommand, error) {
	var h protocol.GetTopicsByClusterRequestHeader
	if err := req.Cmd.DecodeHeader(&h); err != nil {
		return nil, err
	}
	return jsonBody(protocol.TopicList{TopicList: s.routes.TopicsByCluster(h.Cluster)})
}

func (s *Server) getSystemTopicList(context.Context, *remoting.Request) (*protocol.RemotingCommand, error) {
	return jsonBody(s.routes.SystemTopics())
}

func (s *Server) unitTopics(pred func(int) bool) handlerFunc {
	return func(context.Context, *remoting.Request) (*protocol.RemotingCommand, error) {
		return jsonBody(protocol.TopicList{TopicList: s.routes.TopicsWithSysFlag(pred)})
	}
}

// writePerm handles WIPE_WRITE_PERM_OF_BROKER (add=false) and ADD_WRITE_PERM_OF_BROKER.
func (s *Server) writePerm(add bool) handlerFunc {
	return func(_ context.Context, req *remoting.Request) (*protocol.RemotingCommand, error) {
		var name string
		if add {
			var h protocol.AddWritePermOfBrokerRequestHeader
			if err := req.Cmd.DecodeHeader(&h); err != nil {
				return nil, err
			}
			name = h.BrokerName
		} else {
			var h protocol.WipeWritePermOfBrokerRequestHeader
			if err := req.Cmd.DecodeHeader(&h); err != nil {
				return nil, err
			}
			name = h.BrokerName
		}
		n := s.routes.SetWritePerm(name, add)
		s.log.Info("nameserver: broker write permission changed", "broker_name", name, "write", add, "topics", n)
		if add {
			return protocol.NewResponseWithHeader(protocol.RespSuccess, &protocol.AddWritePermOfBrokerResponseHeader{AddTopicCount: int32(n)}, nil), nil
		}
		return protocol.NewResponseWithHeader(protocol.RespSuccess, &protocol.WipeWritePermOfBrokerResponseHeader{WipeTopicCount: int32(n)}, nil), nil
	}
}

// getNamesrvConfig returns the configuration as properties text.
func (s *Server) getNamesrvConfig(context.Context, *remoting.Request) (*protocol.RemotingCommand, error) {
	s.cfgMu.Lock()
	defer s.cfgMu.Unlock()
	return success(s.cfg.Render()), nil
}

// Keys UPDATE_NAMESRV_CONFIG refuses (Java's configBlackList) and keys it applies live;
// every other known key is stored (and persisted) but takes effect at the next start.
var (
	configBlackList = map[string]bool{"kvConfigPath": true, "configStorePath": true, "configBlackList": true}
	configLive      = map[string]bool{"orderMessageEnable": true, "brokerChannelExpiredTime": true, "scanNotActiveBrokerInterval": true}
)

// updateNamesrvConfig applies a properties body to the configuration.
func (s *Server) updateNamesrvConfig(_ context.Context, req *remoting.Request) (*protocol.RemotingCommand, error) {
	props, err := conf.ParseProperties(bytes.NewReader(req.Cmd.Body), "UPDATE_NAMESRV_CONFIG body")
	if err != nil {
		return nil, err
	}
	for _, k := range props.Keys() {
		if configBlackList[k] {
			return protocol.NewResponse(protocol.RespNoPermission, "Can not update config in black list."), nil
		}
	}
	s.cfgMu.Lock()
	defer s.cfgMu.Unlock()
	next := s.cfg
	for _, e := range props.Entries() {
		if err := next.Set(e.Key, e.Value); err != nil {
			return nil, fmt.Errorf("nameserver: update config: %w", err)
		}
	}
	if err := next.Validate(); err != nil {
		return nil, fmt.Errorf("nameserver: update config: %w", err)
	}
	if next.ConfigStorePath != "" {
		if err := writeFileAtomic(next.ConfigStorePath, next.Render()); err != nil {
			return nil, fmt.Errorf("nameserver: persist config: %w", err)
		}
	}
	s.cfg = next
	s.orderMessage.Store(next.OrderMessageEnable)
	s.expiry.Store(int64(next.BrokerChannelExpiredTime))
	select {
	case <-s.scanReset:
	default:
	}
	s.scanReset <- next.ScanNotActiveBrokerInterval
	var restart []string
	for _, k := range props.Keys() {
		if !configLive[k] {
			restart = append(restart, k)
		}
	}
	s.log.Info("nameserver: config updated", "keys", strings.Join(props.Keys(), ","), "restart_needed", strings.Join(restart, ","))
	return success(nil), nil
}
