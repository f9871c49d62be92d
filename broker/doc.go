// Package broker is gorocket's message broker: an Apache RocketMQ 4.x compatible broker that
// the unmodified rocketmq-client-go v2 (and Java clients) produce to and consume from.
//
// # Structure
//
//	Server                 wiring: options, remoting server, store, managers, timers
//	proc_send.go           SEND_MESSAGE (10), SEND_MESSAGE_V2 (310), SEND_BATCH_MESSAGE (320),
//	                       CONSUMER_SEND_MSG_BACK (36)
//	proc_pull.go           PULL_MESSAGE (11) with long polling (package longpoll)
//	proc_offset.go         QUERY/UPDATE_CONSUMER_OFFSET, GET_MAX/MIN_OFFSET, SEARCH_OFFSET_BY_TIMESTAMP,
//	                       GET_EARLIEST_MSG_STORETIME
//	proc_client.go         HEART_BEAT, UNREGISTER_CLIENT, GET_CONSUMER_LIST_BY_GROUP, LOCK/UNLOCK_BATCH_MQ,
//	                       NOTIFY_CONSUMER_IDS_CHANGED (server-initiated)
//	proc_admin.go          topic / subscription-group / runtime-info / stats admin codes
//	proc_query.go          QUERY_MESSAGE, VIEW_MESSAGE_BY_ID
//	register.go            REGISTER_BROKER / UNREGISTER_BROKER to every nameserver
//	schedule.go            delay levels (SCHEDULE_TOPIC_XXXX) → real topic
//	topic/, group/, offset/ persisted tables (config/*.json, atomic writes)
//	client/                producer/consumer registry and orderly-consumption locks
//	longpoll/              parked pulls
//
// # Send path and replication
//
// A send is: decode → checks (role, permission, topic, size) → build StoreMessage → store.Put
// → Server.waitReplica (today: masters answer at once; the HA issue inserts the wait for the
// slave acknowledgement there and maps it to SLAVE_NOT_AVAILABLE / FLUSH_SLAVE_TIMEOUT) →
// response. A broker whose brokerRole is SLAVE refuses writes with SERVICE_NOT_AVAILABLE.
//
// # Lock order
//
// Every mutex in the broker is a leaf: no code path holds two of them at once, and none is held
// while calling the store, the network or a callback. The tables, in the order a request may
// touch them (each lock released before the next is taken):
//
//	topic.Manager.mu → group.Manager.mu → client.Registry.mu → client.Locks.mu →
//	offset.Manager.mu → longpoll.Holder.mu → Server.connMu → Server.regMu → scheduleService.mu
//
// offset.Manager.persist is taken before offset.Manager.mu (Persist only). Callbacks run
// outside every lock: topic change hooks (re-registration) are signalled through a channel, long-
// poll wake-ups run on their own goroutines, NOTIFY_CONSUMER_IDS_CHANGED is sent after the
// registry lock is released.
//
// # Goroutines
//
// Server.Start runs: the remoting server, one registration loop, one housekeeping loop (offset
// persistence, client expiry, lock sweep, statistics), and the schedule loop. Close stops them in
// reverse order, wakes parked pulls, unregisters from the nameservers, persists the tables and
// closes the store.
package broker
