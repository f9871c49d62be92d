package nameserver

import (
	"log/slog"
	"slices"
	"sync"
	"time"

	"github.com/gorocket/gorocket/remoting"
	"github.com/gorocket/gorocket/remoting/protocol"
)

// RouteInfo is the nameserver's routing registry (Java RouteInfoManager, reference §5):
//
//	topicQueue  topic → brokerName → QueueData      (from masters' topic configs)
//	brokers     brokerName → {cluster, brokerId → addr}
//	clusters    cluster → set of brokerName
//	live        brokerAddr → last registration (time, DataVersion, connection, HA address)
//
// Locking: one sync.RWMutex (mu) guards all four tables, as Java's single read-write lock;
// lookups take it shared, registrations and evictions exclusively. Methods never call out
// (no I/O, no logging of unbounded size, no connection close) while holding it: evictions
// return the connections to close to the caller.
type RouteInfo struct {
	log *slog.Logger
	now func() time.Time

	mu         sync.RWMutex
	topicQueue map[string]map[string]protocol.QueueData
	brokers    map[string]*brokerData
	clusters   map[string]map[string]struct{}
	live       map[string]*brokerLive
}

type brokerData struct {
	cluster string
	name    string
	addrs   map[int64]string
}

// brokerLive is the liveness record of one broker address.
type brokerLive struct {
	lastUpdate   time.Time
	dataVersion  protocol.DataVersion
	conn         *remoting.Conn // the connection it last registered on; nil if unknown
	haServerAddr string
	timeout      time.Duration // 5.x per-broker heartbeatTimeoutMillis; 0 = server default
}

// NewRouteInfo returns an empty registry. logger nil discards; now nil is time.Now.
func NewRouteInfo(logger *slog.Logger, now func() time.Time) *RouteInfo {
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	if now == nil {
		now = time.Now
	}
	return &RouteInfo{
		log:        logger,
		now:        now,
		topicQueue: make(map[string]map[string]protocol.QueueData),
		brokers:    make(map[string]*brokerData),
		clusters:   make(map[string]map[string]struct{}),
		live:       make(map[string]*brokerLive),
	}
}

// Registration is one REGISTER_BROKER request, decoded.
type Registration struct {
	Cluster      string
	BrokerName   string
	BrokerAddr   string
	BrokerID     int64
	HAServerAddr string
	// Topics is the broker's topic table and DataVersion.
	Topics protocol.TopicConfigSerializeWrapper
	// Conn is the connection the registration arrived on; its close evicts the broker.
	Conn *remoting.Conn
	// Timeout overrides the server's broker expiry for this broker (0 = default).
	Timeout time.Duration
}

// RegisterResult tells a slave where its live master is (both empty otherwise).
type RegisterResult struct {
	HAServerAddr string
	MasterAddr   string
	// First reports that this address was not live before (a new registration).
	First bool
	// TopicsUpdated reports that the queue data was (re)written from this registration.
	TopicsUpdated bool
}

// Register applies a broker registration (Java RouteInfoManager.registerBroker).
func (r *RouteInfo) Register(reg Registration) RegisterResult {
	r.mu.Lock()
	defer r.mu.Unlock()
	var res RegisterResult

	names := r.clusters[reg.Cluster]
	if names == nil {
		names = make(map[string]struct{})
		r.clusters[reg.Cluster] = names
	}
	names[reg.BrokerName] = struct{}{}

	registerFirst := false
	bd := r.brokers[reg.BrokerName]
	if bd == nil {
		registerFirst = true
		bd = &brokerData{cluster: reg.Cluster, name: reg.BrokerName, addrs: make(map[int64]string)}
		r.brokers[reg.BrokerName] = bd
	}
	// The same address under a different id: a slave switched to master (or back).
	for id, addr := range bd.addrs {
		if addr == reg.BrokerAddr && id != reg.BrokerID {
			delete(bd.addrs, id)
		}
	}
	old, had := bd.addrs[reg.BrokerID]
	bd.addrs[reg.BrokerID] = reg.BrokerAddr
	registerFirst = registerFirst || !had || old == ""

	// Only a master's topic configs define queue data, and only when its DataVersion
	// changed or this is its first registration.
	if reg.BrokerID == protocol.MasterID && (registerFirst || r.topicConfigChangedLocked(reg.BrokerAddr, reg.Topics.DataVersion)) {
		for _, tc := range reg.Topics.TopicConfigTable {
			r.updateQueueDataLocked(reg.BrokerName, tc)
		}
		res.TopicsUpdated = true
	}

	prev := r.live[reg.BrokerAddr]
	res.First = prev == nil
	r.live[reg.BrokerAddr] = &brokerLive{
		lastUpdate:   r.now(),
		dataVersion:  reg.Topics.DataVersion,
		conn:         reg.Conn,
		haServerAddr: reg.HAServerAddr,
		timeout:      reg.Timeout,
	}

	if reg.BrokerID != protocol.MasterID {
		if masterAddr := bd.addrs[protocol.MasterID]; masterAddr != "" {
			if ml := r.live[masterAddr]; ml != nil {
				res.HAServerAddr = ml.haServerAddr
				res.MasterAddr = masterAddr
			}
		}
	}
	return res
}

func (r *RouteInfo) topicConfigChangedLocked(addr string, dv protocol.DataVersion) bool {
	prev := r.live[addr]
	return prev == nil || !prev.dataVersion.Equal(dv)
}

func (r *RouteInfo) updateQueueDataLocked(brokerName string, tc protocol.TopicConfig) {
	qd := protocol.QueueData{
		BrokerName:     brokerName,
		ReadQueueNums:  tc.ReadQueueNums,
		WriteQueueNums: tc.WriteQueueNums,
		Perm:           tc.Perm,
		TopicSysFlag:   tc.TopicSysFlag,
	}
	m := r.topicQueue[tc.TopicName]
	if m == nil {
		m = make(map[string]protocol.QueueData)
		r.topicQueue[tc.TopicName] = m
	}
	m[brokerName] = qd
}

// Unregister removes one broker address (UNREGISTER_BROKER). It reports whether anything
// was removed. Unlike Java, the id's address must match, so a late unregister of a
// replaced broker cannot remove its successor. The cluster comes from the stored broker
// data, not from the request.
func (r *RouteInfo) Unregister(brokerAddr, brokerName string, brokerID int64) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	_, wasLive := r.live[brokerAddr]
	delete(r.live, brokerAddr)
	removed := wasLive
	if bd := r.brokers[brokerName]; bd != nil && bd.addrs[brokerID] == brokerAddr {
		delete(bd.addrs, brokerID)
		removed = true
		if len(bd.addrs) == 0 {
			r.removeBrokerNameLocked(bd)
		}
	}
	return removed
}

// removeBrokerNameLocked drops a broker name that has no address left: from its cluster
// (and the cluster when empty) and from every topic (and topics left without queues).
func (r *RouteInfo) removeBrokerNameLocked(bd *brokerData) {
	delete(r.brokers, bd.name)
	if names := r.clusters[bd.cluster]; names != nil {
		delete(names, bd.name)
		if len(names) == 0 {
			delete(r.clusters, bd.cluster)
		}
	}
	for topic, m := range r.topicQueue {
		if _, ok := m[bd.name]; ok {
			delete(m, bd.name)
			if len(m) == 0 {
				delete(r.topicQueue, topic)
			}
		}
	}
}

// evictAddrLocked removes a broker address everywhere (Java onChannelDestroy).
func (r *RouteInfo) evictAddrLocked(addr string) {
	delete(r.live, addr)
	for _, bd := range r.brokers {
		for id, a := range bd.addrs {
			if a == addr {
				delete(bd.addrs, id)
			}
		}
		if len(bd.addrs) == 0 {
			r.removeBrokerNameLocked(bd)
		}
	}
}

// Evicted describes a broker removed by expiry or connection close.
type Evicted struct {
	BrokerAddr string
	Conn       *remoting.Conn
	IdleFor    time.Duration
}

// ExpireBrokers evicts every broker whose last registration is older than its timeout
// (defaultTimeout unless the broker sent its own). It returns the evicted brokers; the
// caller closes their connections (outside the lock), as Java does.
func (r *RouteInfo) ExpireBrokers(defaultTimeout time.Duration) []Evicted {
	now := r.now()
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []Evicted
	for addr, bl := range r.live {
		timeout := defaultTimeout
		if bl.timeout > 0 {
			timeout = bl.timeout
		}
		if idle := now.Sub(bl.lastUpdate); idle > timeout {
			out = append(out, Evicted{BrokerAddr: addr, Conn: bl.conn, IdleFor: idle})
		}
	}
	for _, e := range out {
		r.evictAddrLocked(e.BrokerAddr)
	}
	return out
}

// ConnClosed evicts every broker that registered on conn, at once (reference §5.2), and
// returns their addresses.
func (r *RouteInfo) ConnClosed(conn *remoting.Conn) []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	var addrs []string
	for addr, bl := range r.live {
		if bl.conn == conn {
			addrs = append(addrs, addr)
		}
	}
	for _, a := range addrs {
		r.evictAddrLocked(a)
	}
	slices.Sort(addrs)
	return addrs
}

// QueryDataVersion compares a broker's DataVersion with the stored one (QUERY_DATA_VERSION).
// When unchanged it refreshes the broker's liveness. stored is nil when the address is not
// live.
func (r *RouteInfo) QueryDataVersion(brokerAddr string, dv protocol.DataVersion) (changed bool, stored *protocol.DataVersion) {
	r.mu.Lock()
	defer r.mu.Unlock()
	changed = r.topicConfigChangedLocked(brokerAddr, dv)
	bl := r.live[brokerAddr]
	if bl == nil {
		return changed, nil
	}
	if !changed {
		bl.lastUpdate = r.now()
	}
	cp := bl.dataVersion
	return changed, &cp
}

// TopicRoute returns the route of topic, or false when it has no queue data or none of
// its brokers is known (TOPIC_NOT_EXIST). Lists are sorted by broker name.
func (r *RouteInfo) TopicRoute(topic string) (*protocol.TopicRouteData, bool) {
	r.mu.RLock()
	defer r.mu.RUnlock()
	m := r.topicQueue[topic]
	if len(m) == 0 {
		return nil, false
	}
	route := &protocol.TopicRouteData{FilterServerTable: map[string][]string{}}
	for name, qd := range m {
		route.QueueDatas = append(route.QueueDatas, qd)
		if bd := r.brokers[name]; bd != nil {
			route.BrokerDatas = append(route.BrokerDatas, bd.export())
		}
	}
	if len(route.BrokerDatas) == 0 {
		return nil, false
	}
	slices.SortFunc(route.QueueDatas, func(a, b protocol.QueueData) int { return compare(a.BrokerName, b.BrokerName) })
	slices.SortFunc(route.BrokerDatas, func(a, b protocol.BrokerData) int { return compare(a.BrokerName, b.BrokerName) })
	return route, true
}

func compare(a, b string) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

func (bd *brokerData) export() protocol.BrokerData {
	out := protocol.BrokerData{Cluster: bd.cluster, BrokerName: bd.name, BrokerAddrs: make(map[int64]string, len(bd.addrs))}
	for id, a := range bd.addrs {
		out.BrokerAddrs[id] = a
	}
	return out
}

// ClusterInfo returns the GET_BROKER_CLUSTER_INFO body.
func (r *RouteInfo) ClusterInfo() protocol.ClusterInfo {
	r.mu.RLock()
	defer r.mu.RUnlock()
	ci := protocol.ClusterInfo{
		BrokerAddrTable:  make(map[string]protocol.BrokerData, len(r.brokers)),
		ClusterAddrTable: make(map[string][]string, len(r.clusters)),
	}
	for name, bd := range r.brokers {
		ci.BrokerAddrTable[name] = bd.export()
	}
	for c, names := range r.clusters {
		ci.ClusterAddrTable[c] = sortedSet(names)
	}
	return ci
}

func sortedSet(m map[string]struct{}) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	slices.Sort(out)
	return out
}

// AllTopics returns every topic with queue data, sorted.
func (r *RouteInfo) AllTopics() []string {
	r.mu.RLock()
	defer r.mu.RUnlock()
	out := make([]string, 0, len(r.topicQueue))
	for t := range r.topicQueue {
		out = append(out, t)
	}
	slices.Sort(out)
	return out
}

// DeleteTopic removes a topic's queue data (DELETE_TOPIC_IN_NAMESRV). With a non-empty
// cluster only that cluster's brokers lose it (5.x). It reports whether anything changed.
func (r *RouteInfo) DeleteTopic(topic, cluster string) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	m := r.topicQueue[topic]
	if m == nil {
		return false
	}
	if cluster == "" {
		delete(r.topicQueue, topic)
		return true
	}
	changed := false
	for name := range r.clusters[cluster] {
		if _, ok := m[name]; ok {
			delete(m, name)
			changed = true
		}
	}
	if len(m) == 0 {
		delete(r.topicQueue, topic)
	}
	return changed
}

// TopicsByCluster returns the topics with queues on any broker of cluster, sorted.
func (r *RouteInfo) TopicsByCluster(cluster string) []string {
	r.mu.RLock()
	defer r.mu.RUnlock()
	set := map[string]struct{}{}
	for name := range r.clusters[cluster] {
		for topic, m := range r.topicQueue {
			if _, ok := m[name]; ok {
				set[topic] = struct{}{}
			}
		}
	}
	return sortedSet(set)
}

// SystemTopics returns the cluster names and broker names (the topics every Java broker
// creates for them) and one broker address, as GET_SYSTEM_TOPIC_LIST_FROM_NS.
func (r *RouteInfo) SystemTopics() protocol.TopicList {
	r.mu.RLock()
	defer r.mu.RUnlock()
	set := map[string]struct{}{}
	for c, names := range r.clusters {
		set[c] = struct{}{}
		for n := range names {
			set[n] = struct{}{}
		}
	}
	tl := protocol.TopicList{TopicList: sortedSet(set)}
	names := make([]string, 0, len(r.brokers))
	for n := range r.brokers {
		names = append(names, n)
	}
	slices.Sort(names)
	for _, n := range names {
		bd := r.brokers[n]
		if len(bd.addrs) == 0 {
			continue
		}
		ids := make([]int64, 0, len(bd.addrs))
		for id := range bd.addrs {
			ids = append(ids, id)
		}
		slices.Sort(ids)
		tl.BrokerAddr = bd.addrs[ids[0]]
		break
	}
	return tl
}

// TopicsWithSysFlag returns the sorted topics whose first queue data (by broker name)
// satisfies pred (GET_UNIT_TOPIC_LIST and friends).
func (r *RouteInfo) TopicsWithSysFlag(pred func(flag int) bool) []string {
	r.mu.RLock()
	defer r.mu.RUnlock()
	var out []string
	for topic, m := range r.topicQueue {
		first := ""
		for name := range m {
			if first == "" || name < first {
				first = name
			}
		}
		if first != "" && pred(m[first].TopicSysFlag) {
			out = append(out, topic)
		}
	}
	slices.Sort(out)
	return out
}

// SetWritePerm wipes (add=false) or restores (add=true) the write permission of every
// queue of brokerName, as WIPE_/ADD_WRITE_PERM_OF_BROKER. It returns the number of topics
// touched.
func (r *RouteInfo) SetWritePerm(brokerName string, add bool) int {
	r.mu.Lock()
	defer r.mu.Unlock()
	n := 0
	for _, m := range r.topicQueue {
		qd, ok := m[brokerName]
		if !ok {
			continue
		}
		if add {
			qd.Perm = protocol.PermRead | protocol.PermWrite
		} else {
			qd.Perm &^= protocol.PermWrite
		}
		m[brokerName] = qd
		n++
	}
	return n
}

// LiveBroker is a snapshot of one broker's liveness record.
type LiveBroker struct {
	Addr         string
	LastUpdate   time.Time
	DataVersion  protocol.DataVersion
	HAServerAddr string
	Conn         *remoting.Conn
}

// LiveBrokers returns the liveness records, sorted by address.
func (r *RouteInfo) LiveBrokers() []LiveBroker {
	r.mu.RLock()
	defer r.mu.RUnlock()
	out := make([]LiveBroker, 0, len(r.live))
	for addr, bl := range r.live {
		out = append(out, LiveBroker{Addr: addr, LastUpdate: bl.lastUpdate, DataVersion: bl.dataVersion,
			HAServerAddr: bl.haServerAddr, Conn: bl.conn})
	}
	slices.SortFunc(out, func(a, b LiveBroker) int { return compare(a.Addr, b.Addr) })
	return out
}
