package protocol

// MQVersion ordinals (Java MQVersion.Version) that matter on the wire (reference §1.7).
const (
	// VersionV3_0_11 is the first version whose REGISTER_BROKER carries a RegisterBrokerBody
	// (older senders send a bare TopicConfigSerializeWrapper).
	VersionV3_0_11 int32 = 37
	// VersionV3_4_9 is the first version whose send requests may carry maxReconsumeTimes.
	VersionV3_4_9 int32 = 121
	// VersionV4_1_0 is 4.1.0.
	VersionV4_1_0 int32 = 233
	// VersionV4_5_2 is hard-coded into every request of rocketmq-client-go v2.
	VersionV4_5_2 int32 = 317
	// VersionV4_9_4 is the first client version to which Java nameservers send standard JSON routes.
	VersionV4_9_4 int32 = 401
	// VersionV4_9_8 is 4.9.8, the version gorocket claims.
	VersionV4_9_8 int32 = 409
	// VersionV5_0_0 is 5.0.0.
	VersionV5_0_0 int32 = 413
	// VersionV5_3_3 is 5.3.3.
	VersionV5_3_3 int32 = 479

	// CurrentVersion is stamped into every command gorocket servers and clients send.
	CurrentVersion = VersionV4_9_8
)
