package client

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gorocket/gorocket/remoting"
	"github.com/gorocket/gorocket/remoting/protocol"
)

// Defaults of Options.
const (
	DefaultTimeout  = 3 * time.Second
	DefaultRouteTTL = 30 * time.Second
	// CreateTopicKey is the auto-create template topic whose route is used for unknown topics.
	CreateTopicKey = "TBW102"
)

// Options are shared by producers and consumers.
type Options struct {
	// NameServers are the nameserver addresses ("host:port"); at least one is required.
	NameServers []string
	// Timeout bounds each request that is not a long poll; 0 means DefaultTimeout.
	Timeout time.Duration
	// RouteTTL is how long a fetched topic route is used before it is fetched again;
	// 0 means DefaultRouteTTL.
	RouteTTL time.Duration
	// InstanceName distinguishes clients in one process (part of the client id);
	// "" means a random one.
	InstanceName string
	// Remoting is an existing transport to share; nil creates one owned by this client (and
	// closed by Close). RemotingOptions configure the created one. A clustering Consumer
	// registers its NOTIFY_CONSUMER_IDS_CHANGED handler on the transport, so share one
	// transport with at most one clustering consumer.
	Remoting        *remoting.Client
	RemotingOptions remoting.ClientOptions
}

// ParseNameServers splits a "host:port;host:port" list (';' or ',' separated), as accepted by
// -n flags and NAMESRV_ADDR.
func ParseNameServers(s string) []string {
	var out []string
	for _, f := range strings.FieldsFunc(s, func(r rune) bool { return r == ';' || r == ',' || r == ' ' }) {
		out = append(out, f)
	}
	return out
}

// base is the nameserver/route/transport part shared by Producer and Consumer.
type base struct {
	log      *slog.Logger
	rc       *remoting.Client
	ownRC    bool
	ns       []string
	nsNext   atomic.Uint32
	timeout  time.Duration
	routeTTL time.Duration
	clientID string

	mu     sync.RWMutex
	routes map[string]*routeEntry
}

type routeEntry struct {
	route   *protocol.TopicRouteData
	publish []MessageQueue
	fetched time.Time
	// viaTemplate is set when the topic had no route and TBW102's route stands in for it.
	viaTemplate bool
}

var instanceSeq atomic.Uint32

func newBase(log *slog.Logger, o Options) (*base, error) {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	if len(o.NameServers) == 0 {
		return nil, ErrNoNameServer
	}
	b := &base{log: log, rc: o.Remoting, ns: append([]string(nil), o.NameServers...),
		timeout: o.Timeout, routeTTL: o.RouteTTL, routes: make(map[string]*routeEntry)}
	if b.timeout <= 0 {
		b.timeout = DefaultTimeout
	}
	if b.routeTTL <= 0 {
		b.routeTTL = DefaultRouteTTL
	}
	inst := o.InstanceName
	if inst == "" {
		inst = strconv.Itoa(os.Getpid()) + "#" + strconv.FormatUint(uint64(instanceSeq.Add(1)), 10) + "#" +
			strconv.FormatInt(time.Now().UnixNano()%1e9, 36)
	}
	b.clientID = localIPv4().String() + "@" + inst
	if b.rc == nil {
		ro := o.RemotingOptions
		if ro.RequestTimeout == 0 {
			ro.RequestTimeout = b.timeout
		}
		b.rc = remoting.NewClient(log, ro)
		b.ownRC = true
	}
	return b, nil
}

// ClientID returns the id this client reports in heartbeats ("ip@instance").
func (b *base) ClientID() string { return b.clientID }

func (b *base) close() {
	if b.ownRC {
		_ = b.rc.Close()
	}
}

// withTimeout bounds ctx by d unless it already ends sooner.
func withTimeout(ctx context.Context, d time.Duration) (context.Context, context.CancelFunc) {
	if dl, ok := ctx.Deadline(); ok && time.Until(dl) <= d {
		return context.WithCancel(ctx)
	}
	return context.WithTimeout(ctx, d)
}

// invoke sends cmd to addr with the client timeout.
func (b *base) invoke(ctx context.Context, addr string, cmd *protocol.RemotingCommand) (*protocol.RemotingCommand, error) {
	return b.rc.InvokeTimeout(ctx, addr, cmd, b.timeout)
}

// invokeNameServer sends a request to the nameservers in turn until one answers (with any code).
func (b *base) invokeNameServer(ctx context.Context, mk func() *protocol.RemotingCommand) (*protocol.RemotingCommand, string, error) {
	start := int(b.nsNext.Load())
	var errs []error
	for i := range b.ns {
		addr := b.ns[(start+i)%len(b.ns)]
		resp, err := b.invoke(ctx, addr, mk())
		if err == nil {
			return resp, addr, nil
		}
		errs = append(errs, err)
		b.nsNext.Store(uint32((start + i + 1) % len(b.ns)))
		if ctx.Err() != nil {
			break
		}
	}
	return nil, "", fmt.Errorf("client: no nameserver answered: %w", errors.Join(errs...))
}

// FetchRoute asks the nameservers for topic's route. A topic without a route returns an error
// wrapping ErrTopicNotExist.
func (b *base) FetchRoute(ctx context.Context, topic string) (*protocol.TopicRouteData, error) {
	resp, addr, err := b.invokeNameServer(ctx, func() *protocol.RemotingCommand {
		return protocol.NewRequest(protocol.ReqGetRouteInfoByTopic, &protocol.GetRouteInfoRequestHeader{Topic: topic}, nil)
	})
	if err != nil {
		return nil, fmt.Errorf("client: route of %s: %w", topic, err)
	}
	switch resp.Code {
	case protocol.RespSuccess:
	case protocol.RespTopicNotExist:
		return nil, fmt.Errorf("%w: %s (%s)", ErrTopicNotExist, topic, resp.Remark)
	default:
		return nil, fmt.Errorf("client: route of %s: %w", topic, &BrokerError{Addr: addr, Code: resp.Code, Remark: resp.Remark})
	}
	if len(resp.Body) == 0 {
		return nil, fmt.Errorf("client: route of %s: nameserver %s sent an empty body", topic, addr)
	}
	var r protocol.TopicRouteData
	if err := protocol.DecodeJSON(resp.Body, &r); err != nil {
		return nil, fmt.Errorf("client: route of %s from %s: %w", topic, addr, err)
	}
	return &r, nil
}

// publishRoute returns the cached route entry of topic, fetching it when missing, stale or
// when refresh is set. A topic without a route uses the TBW102 template route (auto-create).
func (b *base) publishRoute(ctx context.Context, topic string, defaultQueueNums int, refresh bool) (*routeEntry, error) {
	return b.route(ctx, topic, refresh, defaultQueueNums)
}

// subscribeRoute is publishRoute without the template fallback: consumers need the real route.
func (b *base) subscribeRoute(ctx context.Context, topic string, refresh bool) (*routeEntry, error) {
	return b.route(ctx, topic, refresh, 0)
}

// route implements publishRoute (templateQueueNums > 0) and subscribeRoute (0).
func (b *base) route(ctx context.Context, topic string, refresh bool, templateQueueNums int) (*routeEntry, error) {
	b.mu.RLock()
	e := b.routes[topic]
	b.mu.RUnlock()
	if e != nil && !refresh && time.Since(e.fetched) < b.routeTTL && (templateQueueNums > 0 || !e.viaTemplate) {
		return e, nil
	}
	route, err := b.FetchRoute(ctx, topic)
	template := false
	if errors.Is(err, ErrTopicNotExist) && templateQueueNums > 0 {
		tmpl, terr := b.FetchRoute(ctx, CreateTopicKey)
		if terr != nil {
			return nil, fmt.Errorf("%w (and the auto-create template %s: %v)", err, CreateTopicKey, terr)
		}
		route, err, template = clampRoute(tmpl, templateQueueNums), nil, true
	}
	if err != nil {
		if e != nil && !errors.Is(err, ErrTopicNotExist) && (templateQueueNums > 0 || !e.viaTemplate) {
			b.log.Warn("route refresh failed, using the cached route", "topic", topic, "err", err)
			return e, nil
		}
		return nil, err
	}
	ne := &routeEntry{route: route, publish: PublishQueues(route, topic), fetched: time.Now(), viaTemplate: template}
	b.mu.Lock()
	b.routes[topic] = ne
	b.mu.Unlock()
	return ne, nil
}

// brokerAddr returns the address of brokerName's brokerID in route ("" if absent).
func brokerAddr(route *protocol.TopicRouteData, brokerName string, brokerID int64) string {
	bd, ok := findBroker(route, brokerName)
	if !ok {
		return ""
	}
	return bd.BrokerAddrs[brokerID]
}

// anyBrokerAddr returns the master of brokerName, or else the lowest-id slave.
func anyBrokerAddr(route *protocol.TopicRouteData, brokerName string) string {
	bd, ok := findBroker(route, brokerName)
	if !ok {
		return ""
	}
	if a := bd.MasterAddr(); a != "" {
		return a
	}
	best := int64(-1)
	for id := range bd.BrokerAddrs {
		if best < 0 || id < best {
			best = id
		}
	}
	return bd.BrokerAddrs[best]
}
