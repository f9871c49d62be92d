// Package client keeps the broker's registry of producer and consumer clients (from HEART_BEAT)
// and the orderly-consumption queue locks (LOCK_BATCH_MQ).
//
// A client is keyed by its connection (a Channel) within a group. The registry is pure
// bookkeeping: it never sends anything; callers act on the returned "changed" results (for
// example by sending NOTIFY_CONSUMER_IDS_CHANGED).
//
// Lock order: Registry.mu and Locks.mu are leaf locks and are never held together.
package client

import (
	"net"
	"slices"
	"sort"
	"sync"
	"time"

	"github.com/gorocket/gorocket/remoting/protocol"
)

// Channel identifies one client connection. Implementations must be comparable (pointers);
// the broker uses *remoting.Conn.
type Channel interface {
	RemoteAddr() net.Addr
}

// Info describes one registered client connection.
type Info struct {
	ClientID   string
	Channel    Channel
	Language   string
	Version    int
	LastUpdate time.Time
}

// Subscription is a consumer group's subscription to one topic, with tag codes recomputed by
// the broker from the tag strings.
type Subscription struct {
	Topic          string
	SubString      string
	ExpressionType string
	Tags           []string
	Codes          []int32
	SubVersion     int64
	ClassFilter    bool
}

// MatchesAll reports a subscription that accepts every tag ("*" or no tags).
func (s *Subscription) MatchesAll() bool {
	return s.SubString == "" || s.SubString == "*" || len(s.Codes) == 0
}

// MatchCode reports whether a consume-queue tag code passes the subscription.
func (s *Subscription) MatchCode(code int64) bool {
	if s.MatchesAll() {
		return true
	}
	return slices.Contains(s.Codes, int32(code))
}

// ToProtocol converts back to the wire form (for connection-list answers).
func (s *Subscription) ToProtocol() protocol.SubscriptionData {
	return protocol.SubscriptionData{
		ClassFilterMode: s.ClassFilter, Topic: s.Topic, SubString: s.SubString,
		TagsSet: slices.Clone(s.Tags), CodeSet: protocol.CodeSet(slices.Clone(s.Codes)),
		SubVersion: s.SubVersion, ExpressionType: s.ExpressionType,
	}
}

// TagHash is Java's String.hashCode over UTF-16 code units: the consume-queue tag code.
func TagHash(tag string) int32 {
	var h int32
	for _, r := range tag {
		if r >= 0x10000 {
			r -= 0x10000
			h = 31*h + int32(0xD800+(r>>10))
			h = 31*h + int32(0xDC00+(r&0x3FF))
			continue
		}
		h = 31*h + int32(r)
	}
	return h
}

// ParseSubscription builds a Subscription from a TAG expression ("*", "", "A || B").
func ParseSubscription(topic, expr, expType string) *Subscription {
	s := &Subscription{Topic: topic, SubString: expr, ExpressionType: expType}
	if s.ExpressionType == "" {
		s.ExpressionType = "TAG"
	}
	if expr == "" || expr == "*" {
		s.SubString = "*"
		return s
	}
	for _, part := range splitTags(expr) {
		s.Tags = append(s.Tags, part)
		s.Codes = append(s.Codes, TagHash(part))
	}
	return s
}

func splitTags(expr string) []string {
	var out []string
	start := 0
	for i := 0; i+1 < len(expr); i++ {
		if expr[i] == '|' && expr[i+1] == '|' {
			out = appendTrimmed(out, expr[start:i])
			start = i + 2
			i++
		}
	}
	return appendTrimmed(out, expr[start:])
}

func appendTrimmed(out []string, s string) []string {
	i, j := 0, len(s)
	for i < j && (s[i] == ' ' || s[i] == '\t') {
		i++
	}
	for j > i && (s[j-1] == ' ' || s[j-1] == '\t') {
		j--
	}
	if i < j {
		out = append(out, s[i:j])
	}
	return out
}

func fromProtocol(d protocol.SubscriptionData) *Subscription {
	s := &Subscription{Topic: d.Topic, SubString: d.SubString, ExpressionType: d.ExpressionType,
		SubVersion: d.SubVersion, ClassFilter: d.ClassFilterMode}
	if s.ExpressionType == "" {
		s.ExpressionType = "TAG"
	}
	if s.SubString == "" || s.SubString == "*" {
		return s
	}
	// Recompute the codes from the tags; the client's codeSet may use another hash (Go hashes
	// UTF-8 bytes) or another encoding (strings vs numbers).
	for _, t := range d.TagsSet {
		s.Tags = append(s.Tags, t)
		s.Codes = append(s.Codes, TagHash(t))
	}
	if len(s.Tags) == 0 && s.ExpressionType == "TAG" {
		p := ParseSubscription(d.Topic, d.SubString, s.ExpressionType)
		s.Tags, s.Codes = p.Tags, p.Codes
	}
	return s
}

// ConsumerGroup is one consumer group's registration.
type ConsumerGroup struct {
	Name             string
	ConsumeType      string
	MessageModel     string
	ConsumeFromWhere string
	Subscriptions    map[string]*Subscription
	Clients          map[Channel]*Info
	LastUpdate       time.Time
}

// Registry holds producer and consumer registrations.
type Registry struct {
	mu        sync.Mutex
	consumers map[string]*ConsumerGroup
	producers map[string]map[Channel]*Info
}

// NewRegistry returns an empty registry.
func NewRegistry() *Registry {
	return &Registry{consumers: make(map[string]*ConsumerGroup), producers: make(map[string]map[Channel]*Info)}
}

// RegisterConsumer records a consumer heartbeat. It reports whether the group's membership
// (set of connections) changed or a topic was added to or removed from its subscription; both
// require NOTIFY_CONSUMER_IDS_CHANGED.
func (r *Registry) RegisterConsumer(c protocol.HeartbeatConsumer, info Info) (membershipChanged, topicsChanged bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	g := r.consumers[c.GroupName]
	if g == nil {
		g = &ConsumerGroup{Name: c.GroupName, Subscriptions: map[string]*Subscription{}, Clients: map[Channel]*Info{}}
		r.consumers[c.GroupName] = g
	}
	g.ConsumeType, g.MessageModel, g.ConsumeFromWhere = c.ConsumeType, c.MessageModel, c.ConsumeFromWhere
	g.LastUpdate = info.LastUpdate
	old, ok := g.Clients[info.Channel]
	if !ok || old.ClientID != info.ClientID {
		membershipChanged = true
	}
	ci := info
	g.Clients[info.Channel] = &ci

	subs := make(map[string]*Subscription, len(c.SubscriptionDataSet))
	for _, sd := range c.SubscriptionDataSet {
		subs[sd.Topic] = fromProtocol(sd)
	}
	for t := range subs {
		if _, ok := g.Subscriptions[t]; !ok {
			topicsChanged = true
		}
	}
	for t, s := range g.Subscriptions {
		ns, ok := subs[t]
		if !ok {
			topicsChanged = true
			continue
		}
		if ns.SubVersion < s.SubVersion { // keep the newer one
			subs[t] = s
		}
	}
	g.Subscriptions = subs
	return membershipChanged, topicsChanged
}

// RegisterProducer records a producer heartbeat.
func (r *Registry) RegisterProducer(group string, info Info) {
	r.mu.Lock()
	defer r.mu.Unlock()
	m := r.producers[group]
	if m == nil {
		m = make(map[Channel]*Info)
		r.producers[group] = m
	}
	ci := info
	m[info.Channel] = &ci
}

// UnregisterConsumer removes one client (by clientID) from a group; it reports whether the
// membership changed.
func (r *Registry) UnregisterConsumer(group, clientID string) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	g := r.consumers[group]
	if g == nil {
		return false
	}
	changed := false
	for ch, ci := range g.Clients {
		if ci.ClientID == clientID {
			delete(g.Clients, ch)
			changed = true
		}
	}
	if len(g.Clients) == 0 {
		delete(r.consumers, group)
	}
	return changed
}

// UnregisterProducer removes one client (by clientID) from a producer group.
func (r *Registry) UnregisterProducer(group, clientID string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	for ch, ci := range r.producers[group] {
		if ci.ClientID == clientID {
			delete(r.producers[group], ch)
		}
	}
	if len(r.producers[group]) == 0 {
		delete(r.producers, group)
	}
}

// RemoveChannel drops every registration of a closed connection and returns the consumer
// groups whose membership changed.
func (r *Registry) RemoveChannel(ch Channel) []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	var changed []string
	for name, g := range r.consumers {
		if _, ok := g.Clients[ch]; ok {
			delete(g.Clients, ch)
			changed = append(changed, name)
			if len(g.Clients) == 0 {
				delete(r.consumers, name)
			}
		}
	}
	for name, m := range r.producers {
		delete(m, ch)
		if len(m) == 0 {
			delete(r.producers, name)
		}
	}
	sort.Strings(changed)
	return changed
}

// Expired is one registration removed by ScanExpired.
type Expired struct {
	Group   string
	Channel Channel
}

// ScanExpired removes registrations not refreshed since before deadline. It returns the removed
// consumer registrations (so the caller can notify the groups and close the channels).
func (r *Registry) ScanExpired(deadline time.Time) []Expired {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []Expired
	for name, g := range r.consumers {
		for ch, ci := range g.Clients {
			if ci.LastUpdate.Before(deadline) {
				delete(g.Clients, ch)
				out = append(out, Expired{Group: name, Channel: ch})
			}
		}
		if len(g.Clients) == 0 {
			delete(r.consumers, name)
		}
	}
	for name, m := range r.producers {
		for ch, ci := range m {
			if ci.LastUpdate.Before(deadline) {
				delete(m, ch)
			}
		}
		if len(m) == 0 {
			delete(r.producers, name)
		}
	}
	return out
}

// ConsumerIDs returns the sorted client IDs of a group's live connections.
func (r *Registry) ConsumerIDs(group string) []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	g := r.consumers[group]
	if g == nil {
		return nil
	}
	ids := make([]string, 0, len(g.Clients))
	seen := make(map[string]bool)
	for _, ci := range g.Clients {
		if !seen[ci.ClientID] {
			seen[ci.ClientID] = true
			ids = append(ids, ci.ClientID)
		}
	}
	sort.Strings(ids)
	return ids
}

// ConsumerChannels returns a group's connections.
func (r *Registry) ConsumerChannels(group string) []Channel {
	r.mu.Lock()
	defer r.mu.Unlock()
	g := r.consumers[group]
	if g == nil {
		return nil
	}
	out := make([]Channel, 0, len(g.Clients))
	for ch := range g.Clients {
		out = append(out, ch)
	}
	return out
}

// Subscription returns a group's subscription to topic and the group's message model.
func (r *Registry) Subscription(group, topic string) (sub *Subscription, messageModel string, groupFound bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	g := r.consumers[group]
	if g == nil {
		return nil, "", false
	}
	return g.Subscriptions[topic], g.MessageModel, true
}

// ConsumerGroup returns a copy of a group's registration.
func (r *Registry) ConsumerGroup(group string) (ConsumerGroup, bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	g := r.consumers[group]
	if g == nil {
		return ConsumerGroup{}, false
	}
	cp := *g
	cp.Clients = make(map[Channel]*Info, len(g.Clients))
	for ch, ci := range g.Clients {
		c := *ci
		cp.Clients[ch] = &c
	}
	cp.Subscriptions = make(map[string]*Subscription, len(g.Subscriptions))
	for t, s := range g.Subscriptions {
		c := *s
		cp.Subscriptions[t] = &c
	}
	return cp, true
}

// ConsumerGroups lists registered consumer group names.
func (r *Registry) ConsumerGroups() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := make([]string, 0, len(r.consumers))
	for g := range r.consumers {
		out = append(out, g)
	}
	sort.Strings(out)
	return out
}

// GroupsSubscribing lists the groups subscribed to topic.
func (r *Registry) GroupsSubscribing(topic string) []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []string
	for name, g := range r.consumers {
		if _, ok := g.Subscriptions[topic]; ok {
			out = append(out, name)
		}
	}
	sort.Strings(out)
	return out
}

// Producers returns copies of a producer group's connections.
func (r *Registry) Producers(group string) []Info {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := make([]Info, 0, len(r.producers[group]))
	for _, ci := range r.producers[group] {
		out = append(out, *ci)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].ClientID < out[j].ClientID })
	return out
}

// Counts returns the number of consumer and producer connections (for runtime info).
func (r *Registry) Counts() (consumers, producers int) {
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, g := range r.consumers {
		consumers += len(g.Clients)
	}
	for _, m := range r.producers {
		producers += len(m)
	}
	return consumers, producers
}
