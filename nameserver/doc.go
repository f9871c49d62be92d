// Package nameserver is gorocket's RocketMQ-compatible NameServer: the routing registry
// that brokers register with and clients ask for topic routes (reference §3 and §5).
//
// # What it serves
//
//	REGISTER_BROKER (103)          register/heartbeat; RegisterBrokerBody (plain or zlib), bodyCrc32 checked
//	UNREGISTER_BROKER (104)        clean broker shutdown
//	GET_ROUTEINFO_BY_TOPIC (105)   TopicRouteData with compact brokerAddrs; TOPIC_NOT_EXIST otherwise
//	GET_BROKER_CLUSTER_INFO (106)  ClusterInfo
//	GET_ALL_TOPIC_LIST (206), GET_TOPICS_BY_CLUSTER (224), GET_SYSTEM_TOPIC_LIST_FROM_NS (304),
//	GET_UNIT_TOPIC_LIST (311), GET_HAS_UNIT_SUB_TOPIC_LIST (312), GET_HAS_UNIT_SUB_UNUNIT_TOPIC_LIST (313)
//	DELETE_TOPIC_IN_NAMESRV (216)  (5.x clusterName restriction supported)
//	QUERY_DATA_VERSION (322)       DataVersion comparison; refreshes liveness when unchanged
//	PUT/GET/DELETE_KV_CONFIG (100-102), GET_KVLIST_BY_NAMESPACE (219)  persisted to kvConfigPath
//	WIPE/ADD_WRITE_PERM_OF_BROKER (205, 327)
//	GET/UPDATE_NAMESRV_CONFIG (319, 318)  properties text (internal/conf format)
//
// Anything else is answered REQUEST_CODE_NOT_SUPPORTED (Java's nameserver stays silent).
// Nameservers never talk to each other; a broker registers with every nameserver.
//
// # Registry semantics (RouteInfo, Java RouteInfoManager)
//
// A registration records the broker address under its name and cluster and refreshes its
// liveness record (time, DataVersion, connection, HA address). Only a master (brokerId 0)
// writes queue data, and only on its first registration or when its DataVersion changed;
// topics a broker dropped stay until DELETE_TOPIC_IN_NAMESRV or broker removal (4.x
// behaviour). A slave's response carries its live master's haServerAddr and masterAddr.
//
// A broker is removed when it unregisters, when its last registration is older than
// BrokerExpiry (checked every ScanInterval; its connection is then closed), and at once
// when the connection it registered on closes (peer close, idle timeout, bad frame).
// Removing the last address of a broker name removes the name from its cluster and its
// queue data from every topic; topics left without queues disappear.
//
// # Concurrency and locking
//
// Requests are served concurrently (package remoting runs each in its own goroutine).
// RouteInfo has one RWMutex over all route tables; the KV store has its own mutex; the
// runtime config has cfgMu. No two of them are ever held at once, and none is held while
// doing network I/O: expiry returns the connections to close, and connection-close
// eviction runs from the connection's own close hook.
package nameserver
