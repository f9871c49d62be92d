// Package compat holds the compatibility tests of gorocket-namesrv against the unmodified
// Apache RocketMQ Go client (github.com/apache/rocketmq-client-go/v2 v2.1.2): the client's
// admin API and producer fetch routes from our nameserver, registered by an in-test broker
// that speaks the protocol like a real one.
package compat
