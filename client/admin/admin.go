// Package admin is gorocket's administration API over the RocketMQ remoting protocol: cluster
// and route inspection, topic and subscription-group management, statistics and message
// queries — the operations behind mqadmin's verbs and gorocketctl, and the seam through which
// the Kubernetes operator reaches a cluster (it depends on the Admin interface).
//
// Cluster-wide operations resolve brokers through the nameservers' cluster info
// (GET_BROKER_CLUSTER_INFO) and act on the masters (brokerId 0): brokers reject topic and
// group changes on slaves. Creating a topic on a broker makes the broker re-register with every
// nameserver, so the route appears without any nameserver call; deleting one removes it from the
// brokers first and then from every nameserver (the brokers would otherwise register it again).
package admin

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/gorocket/gorocket/client"
	"github.com/gorocket/gorocket/remoting"
	"github.com/gorocket/gorocket/remoting/protocol"
)

// DefaultTimeout bounds each request when Options.Timeout is zero.
const DefaultTimeout = 5 * time.Second

// Admin is the administration API. *Client implements it; tests and the operator may fake it.
type Admin interface {
	// ClusterInfo returns every registered broker by name and the broker names of each cluster.
	ClusterInfo(ctx context.Context) (*protocol.ClusterInfo, error)
	// TopicRoute returns a topic's route; a topic without a route wraps ErrTopicNotFound.
	TopicRoute(ctx context.Context, topic string) (*protocol.TopicRouteData, error)
	// TopicList returns every topic the nameserver knows, sorted; with cluster set, only that
	// cluster's topics.
	TopicList(ctx context.Context, cluster string) ([]string, error)
	// CreateTopic creates or updates a topic on the masters of spec.Cluster or on the broker
	// spec.BrokerAddr and returns the broker addresses it was created on.
	CreateTopic(ctx context.Context, spec TopicSpec) ([]string, error)
	// DeleteTopic deletes a topic from the masters of cluster (every master hosting it when
	// cluster is "") and then from every nameserver.
	DeleteTopic(ctx context.Context, topic, cluster string) error
	// TopicStatus returns the offsets of every queue of a topic, from each master hosting it.
	TopicStatus(ctx context.Context, topic string) ([]QueueStatus, error)
	// BrokerRuntimeInfo returns a broker's GET_BROKER_RUNTIME_INFO table.
	BrokerRuntimeInfo(ctx context.Context, brokerAddr string) (map[string]string, error)
	// UpdateSubscriptionGroup creates or updates a consumer group's configuration on the masters
	// of cluster or on brokerAddr and returns the broker addresses it was written to.
	UpdateSubscriptionGroup(ctx context.Context, cluster, brokerAddr string, cfg protocol.SubscriptionGroupConfig) ([]string, error)
	// ConsumerProgress returns a group's per-queue broker and consumer offsets (topic "" = all
	// topics of the group), from every master of the cluster(s).
	ConsumerProgress(ctx context.Context, group, topic string) (*Progress, error)
	// QueryMessageByOffset reads the message at a queue offset.
	QueryMessageByOffset(ctx context.Context, q client.MessageQueue, offset int64) (*client.MessageExt, error)
	// QueryMessageByKey looks up messages of a topic by a KEYS value on every master.
	QueryMessageByKey(ctx context.Context, topic, key string, maxNum int, begin, end time.Time) ([]*client.MessageExt, error)
	// QueryMessageByUniqueKey finds a message by its id: a client UNIQ_KEY (index lookup) or a
	// broker offset message id (read directly from the broker it names).
	QueryMessageByUniqueKey(ctx context.Context, topic, id string) ([]*client.MessageExt, error)
	// Close releases the connections.
	Close() error
}

// Sentinel errors.
var (
	// ErrTopicNotFound: the nameservers have no route for the topic.
	ErrTopicNotFound = errors.New("admin: topic not found")
	// ErrNoBroker: the target cluster or broker has no (master) broker registered.
	ErrNoBroker = errors.New("admin: no matching broker")
	// ErrMessageNotFound: a query found no message.
	ErrMessageNotFound = errors.New("admin: message not found")
	// ErrNoNameServer: Options.NameServers is empty.
	ErrNoNameServer = errors.New("admin: no nameserver address configured")
)

// Options configure a Client.
type Options struct {
	// NameServers are the nameserver addresses; at least one is required.
	NameServers []string
	// Timeout bounds each request; 0 means DefaultTimeout.
	Timeout time.Duration
	// RemotingOptions configure the transport (tests plug an in-memory dialer in here).
	RemotingOptions remoting.ClientOptions
}

// TopicSpec describes a topic to create or update.
type TopicSpec struct {
	Topic string
	// Cluster selects every master of the cluster; BrokerAddr selects one broker. Exactly one
	// must be set.
	Cluster    string
	BrokerAddr string
	// ReadQueues and WriteQueues default to 8; Perm defaults to 6 (read+write).
	ReadQueues  int
	WriteQueues int
	Perm        int
	// Order marks the topic as ordered.
	Order bool
}

// QueueStatus is one queue of a topic: its offsets on the broker.
type QueueStatus struct {
	Queue      client.MessageQueue
	BrokerAddr string
	MinOffset  int64
	MaxOffset  int64
	// LastUpdate is the store time of the newest message (zero when the queue is empty).
	LastUpdate time.Time
}

// QueueProgress is one queue's consumption progress.
type QueueProgress struct {
	Queue          client.MessageQueue
	BrokerOffset   int64
	ConsumerOffset int64
	// LastTimestamp is the store time of the last consumed message (zero if none).
	LastTimestamp time.Time
}

// Diff is the number of messages not consumed yet.
func (q QueueProgress) Diff() int64 { return max(q.BrokerOffset-q.ConsumerOffset, 0) }

// Progress is a consumer group's progress over all its queues.
type Progress struct {
	Queues     []QueueProgress
	ConsumeTPS float64
}

// TotalDiff sums the per-queue differences.
func (p *Progress) TotalDiff() int64 {
	var n int64
	for _, q := range p.Queues {
		n += q.Diff()
	}
	return n
}

// Client implements Admin over a remoting client.
type Client struct {
	log     *slog.Logger
	rc      *remoting.Client
	ns      []string
	timeout time.Duration
}

var _ Admin = (*Client)(nil)

// New returns an admin client; logger nil discards logs. No connection is made until a call.
func New(logger *slog.Logger, o Options) (*Client, error) {
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	if len(o.NameServers) == 0 {
		return nil, ErrNoNameServer
	}
	if o.Timeout <= 0 {
		o.Timeout = DefaultTimeout
	}
	ro := o.RemotingOptions
	if ro.RequestTimeout == 0 {
		ro.RequestTimeout = o.Timeout
	}
	return &Client{log: logger, rc: remoting.NewClient(logger, ro), ns: append([]string(nil), o.NameServers...), timeout: o.Timeout}, nil
}

// NameServers returns the configured nameserver addresses.
func (c *Client) NameServers() []string { return append([]string(nil), c.ns...) }

// Close releases the connections.
func (c *Client) Close() error { return c.rc.Close() }

func (c *Client) call(ctx context.Context, addr string, cmd *protocol.RemotingCommand) (*protocol.RemotingCommand, error) {
	ctx, cancel := context.WithTimeout(ctx, c.timeout)
	defer cancel()
	resp, err := c.rc.Invoke(ctx, addr, cmd)
	if err != nil {
		return nil, fmt.Errorf("admin: %s to %s: %w", protocol.RequestCodeName(cmd.Code), addr, err)
	}
	return resp, nil
}

// callOK is call that also turns a non-SUCCESS code into an error.
func (c *Client) callOK(ctx context.Context, addr string, cmd *protocol.RemotingCommand) (*protocol.RemotingCommand, error) {
	code := cmd.Code
	resp, err := c.call(ctx, addr, cmd)
	if err != nil {
		return nil, err
	}
	if err := resp.Err(); err != nil {
		return nil, fmt.Errorf("admin: %s to %s: %w", protocol.RequestCodeName(code), addr, err)
	}
	return resp, nil
}

// callNameServer asks the nameservers in order until one answers (with any code).
func (c *Client) callNameServer(ctx context.Context, mk func() *protocol.RemotingCommand) (*protocol.RemotingCommand, string, error) {
	var errs []error
	for _, addr := range c.ns {
		resp, err := c.call(ctx, addr, mk())
		if err == nil {
			return resp, addr, nil
		}
		errs = append(errs, err)
		if ctx.Err() != nil {
			break
		}
	}
	return nil, "", fmt.Errorf("admin: no nameserver answered: %w", errors.Join(errs...))
}
