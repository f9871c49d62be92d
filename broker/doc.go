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
// → Server.waitReplica → response. waitReplica (replication.go) makes a SYNC_MASTER wait until a
// slave acknowledged the appended bytes (broker/ha Master.WaitForReplica) and maps failures to
// SLAVE_NOT_AVAILABLE / FLUSH_SLAVE_TIMEOUT; an ASYNC_MASTER answers at once. A broker whose
// brokerRole is SLAVE refuses writes with SERVICE_NOT_AVAILABLE, replicates its master's commit
// log (broker/ha Slave, pointed at the master by haMasterAddress or the REGISTER_BROKER
// responses) and follows its master's metadata (slavesync.go). See docs/replication.md.
//
// # Lock order
//
// Every mutex in the broker is a leaf: no code path holds two of them at once, and none is held
// while calling the store, the network or a callback. The tables, in the order a request may
// touch them (each lock released before the next is taken):
//
//	topic.Manager.mu → group.Manager.mu → client.Registry.mu → client.Locks.mu →
//	offset.Manager.mu → longpoll.Holder.mu → Server.connMu → Server.regMu → scheduleService.mu →
//	slaveSync.mu
//
// broker/ha's locks (ha.Master.mu, ha.Slave.mu, see broker/ha/doc.go) are never taken while a
// broker lock is held: Server.onRegisterResponse calls Slave.SetMasterAddress before it takes
// Server.regMu, and runtime info reads Master.State / Slave.State without broker locks.
//
// offset.Manager.persist is taken before offset.Manager.mu (Persist only). Callbacks run
// outside every lock: topic change hooks (re-registration) are signalled through a channel, long-
// poll wake-ups run on their own goroutines, NOTIFY_CONSUMER_IDS_CHANGED is sent after the
// registry lock is released.
//
// # Goroutines
//
// Server.Start runs: the remoting server, one registration loop, one housekeeping loop (offset
// persistence, client expiry, lock sweep, statistics), and on a master the schedule loop and the
// HA master (an accept loop and two goroutines per slave connection), on a slave the HA slave
// (connection loop and heartbeat) and the metadata sync loop. Close stops the loops, unregisters
// from the nameservers, wakes parked pulls, stops the remoting server (in-flight sends finish),
// closes replication, persists the tables and closes the store.
package broker
