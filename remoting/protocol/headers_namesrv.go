package protocol

// Custom headers of the nameserver's request codes (reference §3 and §5). Field keys, and
// which fields are required, follow the Java *RequestHeader classes. Encode with NewRequest /
// NewResponseWithHeader / EncodeHeader; decode with (*RemotingCommand).DecodeHeader.
// The broker's headers are in header_broker.go.

// RegisterBrokerRequestHeader is the header of REGISTER_BROKER (103).
type RegisterBrokerRequestHeader struct {
	BrokerName   string `rmq:"brokerName,required"`
	BrokerAddr   string `rmq:"brokerAddr,required"`
	ClusterName  string `rmq:"clusterName,required"`
	HAServerAddr string `rmq:"haServerAddr,required"`
	BrokerID     int64  `rmq:"brokerId,required"`
	// Compressed selects the zlib body form (see DecodeRegisterBrokerBody).
	Compressed bool `rmq:"compressed"`
	// BodyCrc32 is MaskedCRC32 of the body; 0 disables the check.
	BodyCrc32 int32 `rmq:"bodyCrc32"`
	// HeartbeatTimeoutMillis (5.x, optional) overrides the nameserver's expiry for this broker.
	HeartbeatTimeoutMillis *int64 `rmq:"heartbeatTimeoutMillis"`
	// EnableActingMaster (5.x, optional).
	EnableActingMaster *bool `rmq:"enableActingMaster"`
}

// RegisterBrokerResponseHeader answers REGISTER_BROKER. Both fields are set only for a
// slave whose master is registered and alive.
type RegisterBrokerResponseHeader struct {
	HAServerAddr string `rmq:"haServerAddr,omitempty"`
	MasterAddr   string `rmq:"masterAddr,omitempty"`
}

// UnregisterBrokerRequestHeader is the header of UNREGISTER_BROKER (104).
type UnregisterBrokerRequestHeader struct {
	BrokerName  string `rmq:"brokerName,required"`
	BrokerAddr  string `rmq:"brokerAddr,required"`
	ClusterName string `rmq:"clusterName,required"`
	BrokerID    int64  `rmq:"brokerId,required"`
}

// QueryDataVersionRequestHeader is the header of QUERY_DATA_VERSION (322); the body is the
// broker's DataVersion.
type QueryDataVersionRequestHeader struct {
	BrokerName  string `rmq:"brokerName,required"`
	BrokerAddr  string `rmq:"brokerAddr,required"`
	ClusterName string `rmq:"clusterName,required"`
	BrokerID    int64  `rmq:"brokerId,required"`
}

// QueryDataVersionResponseHeader answers QUERY_DATA_VERSION.
type QueryDataVersionResponseHeader struct {
	Changed bool `rmq:"changed"`
}

// GetRouteInfoRequestHeader is the header of GET_ROUTEINFO_BY_TOPIC (105).
type GetRouteInfoRequestHeader struct {
	Topic string `rmq:"topic,required"`
	// AcceptStandardJSONOnly (5.x Java clients). gorocket always answers standard JSON.
	AcceptStandardJSONOnly *bool `rmq:"acceptStandardJsonOnly"`
}

// DeleteTopicFromNamesrvRequestHeader is the header of DELETE_TOPIC_IN_NAMESRV (216).
type DeleteTopicFromNamesrvRequestHeader struct {
	Topic string `rmq:"topic,required"`
	// ClusterName (5.x, optional) restricts the deletion to that cluster's brokers.
	ClusterName string `rmq:"clusterName,omitempty"`
}

// PutKVConfigRequestHeader is the header of PUT_KV_CONFIG (100).
type PutKVConfigRequestHeader struct {
	Namespace string `rmq:"namespace,required"`
	Key       string `rmq:"key,required"`
	Value     string `rmq:"value,required"`
}

// GetKVConfigRequestHeader is the header of GET_KV_CONFIG (101).
type GetKVConfigRequestHeader struct {
	Namespace string `rmq:"namespace,required"`
	Key       string `rmq:"key,required"`
}

// GetKVConfigResponseHeader answers GET_KV_CONFIG.
type GetKVConfigResponseHeader struct {
	Value string `rmq:"value"`
}

// DeleteKVConfigRequestHeader is the header of DELETE_KV_CONFIG (102).
type DeleteKVConfigRequestHeader struct {
	Namespace string `rmq:"namespace,required"`
	Key       string `rmq:"key,required"`
}

// GetKVListByNamespaceRequestHeader is the header of GET_KVLIST_BY_NAMESPACE (219).
type GetKVListByNamespaceRequestHeader struct {
	Namespace string `rmq:"namespace,required"`
}

// GetTopicsByClusterRequestHeader is the header of GET_TOPICS_BY_CLUSTER (224).
type GetTopicsByClusterRequestHeader struct {
	Cluster string `rmq:"cluster,required"`
}

// WipeWritePermOfBrokerRequestHeader is the header of WIPE_WRITE_PERM_OF_BROKER (205).
type WipeWritePermOfBrokerRequestHeader struct {
	BrokerName string `rmq:"brokerName,required"`
}

// WipeWritePermOfBrokerResponseHeader answers WIPE_WRITE_PERM_OF_BROKER.
type WipeWritePermOfBrokerResponseHeader struct {
	WipeTopicCount int32 `rmq:"wipeTopicCount"`
}

// AddWritePermOfBrokerRequestHeader is the header of ADD_WRITE_PERM_OF_BROKER (327).
type AddWritePermOfBrokerRequestHeader struct {
	BrokerName string `rmq:"brokerName,required"`
}

// AddWritePermOfBrokerResponseHeader answers ADD_WRITE_PERM_OF_BROKER.
type AddWritePermOfBrokerResponseHeader struct {
	AddTopicCount int32 `rmq:"addTopicCount"`
}

// allHeaderTypes lists the nameserver header types (TestHeaderTypesRoundTrip checks each
// encodes and decodes, so NewRequest/NewResponseWithHeader can never panic on them).
var allHeaderTypes = []any{
	RegisterBrokerRequestHeader{}, RegisterBrokerResponseHeader{}, UnregisterBrokerRequestHeader{},
	QueryDataVersionRequestHeader{}, QueryDataVersionResponseHeader{}, GetRouteInfoRequestHeader{},
	DeleteTopicFromNamesrvRequestHeader{}, PutKVConfigRequestHeader{}, GetKVConfigRequestHeader{},
	GetKVConfigResponseHeader{}, DeleteKVConfigRequestHeader{}, GetKVListByNamespaceRequestHeader{},
	GetTopicsByClusterRequestHeader{}, WipeWritePermOfBrokerRequestHeader{},
	WipeWritePermOfBrokerResponseHeader{}, AddWritePermOfBrokerRequestHeader{},
	AddWritePermOfBrokerResponseHeader{},
}
