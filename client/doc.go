// Package client is gorocket's lean Go client for Apache-RocketMQ-4.x-compatible clusters: a
// producer (sync, async, oneway and batch sends) and a pull-based consumer, built directly on
// package remoting. It is the project's test client and the engine of `gorocketctl bench`, so it
// does little work per message: one connection per broker address shared by every call, no
// per-message goroutines, no reflection on the hot path beyond header encoding.
//
// # Routes
//
// Routes come from the nameservers (GET_ROUTEINFO_BY_TOPIC, tried in turn) and are cached for
// RouteTTL. A producer sending to a topic without a route falls back to the route of the
// auto-create template TBW102, clamped to DefaultTopicQueueNums queues per broker; the broker
// then creates the topic on the first send and registers it (rocketmq-protocol.md §3.1).
//
// # Producer
//
// Queues are chosen round-robin per topic over the route's writable queues on brokers that have
// a master (§9.2); sends go to the master. A failed attempt (transport error, or SYSTEM_ERROR,
// SERVICE_NOT_AVAILABLE, NO_PERMISSION or TOPIC_NOT_EXIST) is retried up to RetryTimes times on
// another broker when there is one, after refreshing the route. FLUSH_DISK_TIMEOUT,
// FLUSH_SLAVE_TIMEOUT and SLAVE_NOT_AVAILABLE count as sent with a non-OK SendStatus. Async sends
// make one attempt; oneway sends set the oneway flag and get no answer. Single messages use
// SEND_MESSAGE (10) with the full-name header and get a UNIQ_KEY; batches use SEND_BATCH_MESSAGE
// (320) with the a..n header and the §6.7 body. Bodies of CompressOver bytes or more are
// zlib-compressed (sysFlag bit 0), as the reference Go client does.
//
// # Consumer
//
// A Consumer pulls one topic with long polling (PULL_MESSAGE with the SUSPEND and SUBSCRIPTION
// flags), one goroutine per assigned queue, and hands each batch to the handler. Tags are
// filtered by the broker and again on the client. Progress is kept in memory, piggy-backed on
// pulls (COMMIT_OFFSET flag) and committed with UPDATE_CONSUMER_OFFSET every CommitInterval and
// on Close. A queue without a committed offset starts at the newest message (or the oldest with
// FromFirst) — except that the broker itself answers offset 0 for a young queue (the "first boot"
// rule, §4.5). In clustering mode (the default) the consumer heartbeats the brokers and the group's
// members share the queues (AllocateMessageQueueAveragely, §9.3), rebalancing every
// RebalanceInterval and when a broker sends NOTIFY_CONSUMER_IDS_CHANGED. With explicit Queues it
// pulls exactly those.
//
// DecodeMessages decodes pull, query and view bodies (stored records, §6.1) for this package and
// for client/admin; the client never imports the broker or storage packages.
package client
