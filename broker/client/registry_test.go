package client

import (
	"net"
	"slices"
	"testing"
	"time"

	"github.com/gorocket/gorocket/remoting/protocol"
)

type fakeChan struct{ addr string }

func (f *fakeChan) RemoteAddr() net.Addr {
	return &net.TCPAddr{IP: net.IPv4(127, 0, 0, 1), Port: len(f.addr)}
}

func TestClientTagHashMatchesJava(t *testing.T) {
	tests := []struct {
		tag  string
		want int32
	}{
		{"", 0},
		{"TagA", 2598919},
		{"TagB", 2598920},
		{"a", 97},
		{"hello world, this overflows", 161437415}, // values from an independent UTF-16 reference computation
		{"中", 20013},
		{"😀", 1772899}, // surrogate pair 0xD83D 0xDE00
	}
	for _, tt := range tests {
		if got := TagHash(tt.tag); got != tt.want {
			t.Errorf("TagHash(%q) = %d want %d", tt.tag, got, tt.want)
		}
	}
}

func TestClientParseSubscription(t *testing.T) {
	tests := []struct {
		expr    string
		all     bool
		tags    []string
		match   string
		nomatch string
	}{
		{"*", true, nil, "x", ""},
		{"", true, nil, "x", ""},
		{"TagA || TagC", false, []string{"TagA", "TagC"}, "TagC", "TagB"},
		{"TagA||TagB ||  ", false, []string{"TagA", "TagB"}, "TagB", "TagC"},
		{"Single", false, []string{"Single"}, "Single", "single"},
	}
	for _, tt := range tests {
		s := ParseSubscription("T", tt.expr, "")
		if s.MatchesAll() != tt.all || !slices.Equal(s.Tags, tt.tags) {
			t.Errorf("%q: all=%v tags=%v", tt.expr, s.MatchesAll(), s.Tags)
		}
		if !s.MatchCode(int64(TagHash(tt.match))) {
			t.Errorf("%q should match %q", tt.expr, tt.match)
		}
		if !tt.all && s.MatchCode(int64(TagHash(tt.nomatch))) {
			t.Errorf("%q should not match %q", tt.expr, tt.nomatch)
		}
	}
}

func consumer(group string, topics ...string) protocol.HeartbeatConsumer {
	c := protocol.HeartbeatConsumer{GroupName: group, ConsumeType: "CONSUME_PASSIVELY", MessageModel: "CLUSTERING"}
	for _, t := range topics {
		c.SubscriptionDataSet = append(c.SubscriptionDataSet, protocol.SubscriptionData{
			Topic: t, SubString: "TagA", TagsSet: []string{"TagA"}, CodeSet: protocol.CodeSet{12345}, SubVersion: 1,
		})
	}
	return c
}

func TestClientRegistryMembership(t *testing.T) {
	r := NewRegistry()
	c1, c2 := &fakeChan{"1.1.1.1:1"}, &fakeChan{"1.1.1.1:2"}
	now := time.Now()
	steps := []struct {
		name       string
		do         func() (bool, bool)
		wantMember bool
		wantTopics bool
		wantIDs    []string
	}{
		{"first join", func() (bool, bool) {
			return r.RegisterConsumer(consumer("g", "T"), Info{ClientID: "a", Channel: c1, LastUpdate: now})
		}, true, true, []string{"a"}},
		{"refresh", func() (bool, bool) {
			return r.RegisterConsumer(consumer("g", "T"), Info{ClientID: "a", Channel: c1, LastUpdate: now})
		}, false, false, []string{"a"}},
		{"second joins", func() (bool, bool) {
			return r.RegisterConsumer(consumer("g", "T"), Info{ClientID: "b", Channel: c2, LastUpdate: now})
		}, true, false, []string{"a", "b"}},
		{"topic added", func() (bool, bool) {
			return r.RegisterConsumer(consumer("g", "T", "U"), Info{ClientID: "b", Channel: c2, LastUpdate: now})
		}, false, true, []string{"a", "b"}},
		{"topic removed", func() (bool, bool) {
			return r.RegisterConsumer(consumer("g", "U"), Info{ClientID: "b", Channel: c2, LastUpdate: now})
		}, false, true, []string{"a", "b"}},
	}
	for _, s := range steps {
		m, tc := s.do()
		if m != s.wantMember || tc != s.wantTopics {
			t.Errorf("%s: membership=%v topics=%v", s.name, m, tc)
		}
		if ids := r.ConsumerIDs("g"); !slices.Equal(ids, s.wantIDs) {
			t.Errorf("%s: ids=%v", s.name, ids)
		}
	}
	sub, model, ok := r.Subscription("g", "U")
	if !ok || model != "CLUSTERING" || sub == nil || !slices.Equal(sub.Codes, []int32{TagHash("TagA")}) {
		t.Fatalf("codes must be recomputed from tags, got %+v", sub)
	}
	if changed := r.RemoveChannel(c1); !slices.Equal(changed, []string{"g"}) {
		t.Fatalf("RemoveChannel = %v", changed)
	}
	if ids := r.ConsumerIDs("g"); !slices.Equal(ids, []string{"b"}) {
		t.Fatalf("after close: %v", ids)
	}
	if !r.UnregisterConsumer("g", "b") {
		t.Fatal("unregister reported no change")
	}
	if gs := r.ConsumerGroups(); len(gs) != 0 {
		t.Fatalf("empty group kept: %v", gs)
	}
}

func TestClientRegistryExpiry(t *testing.T) {
	r := NewRegistry()
	old, fresh := &fakeChan{"old"}, &fakeChan{"fresh"}
	now := time.Now()
	r.RegisterConsumer(consumer("g", "T"), Info{ClientID: "old", Channel: old, LastUpdate: now.Add(-121 * time.Second)})
	r.RegisterConsumer(consumer("g", "T"), Info{ClientID: "fresh", Channel: fresh, LastUpdate: now})
	r.RegisterProducer("p", Info{ClientID: "old", Channel: old, LastUpdate: now.Add(-121 * time.Second)})
	exp := r.ScanExpired(now.Add(-120 * time.Second))
	if len(exp) != 1 || exp[0].Group != "g" || exp[0].Channel != old {
		t.Fatalf("expired = %+v", exp)
	}
	if ids := r.ConsumerIDs("g"); !slices.Equal(ids, []string{"fresh"}) {
		t.Fatalf("ids = %v", ids)
	}
	if p := r.Producers("p"); len(p) != 0 {
		t.Fatalf("stale producer kept: %v", p)
	}
}

func TestClientLocks(t *testing.T) {
	l := NewLocks(60 * time.Second)
	q0 := protocol.BrokerMessageQueue{Topic: "T", BrokerName: "b", QueueID: 0}
	q1 := protocol.BrokerMessageQueue{Topic: "T", BrokerName: "b", QueueID: 1}
	now := time.Now()
	tests := []struct {
		name   string
		client string
		at     time.Duration
		mqs    []protocol.BrokerMessageQueue
		want   []protocol.BrokerMessageQueue
	}{
		{"a locks q0", "a", 0, []protocol.BrokerMessageQueue{q0}, []protocol.BrokerMessageQueue{q0}},
		{"b denied q0, gets q1", "b", time.Second, []protocol.BrokerMessageQueue{q0, q1}, []protocol.BrokerMessageQueue{q1}},
		{"a renews q0", "a", 30 * time.Second, []protocol.BrokerMessageQueue{q0}, []protocol.BrokerMessageQueue{q0}},
		{"b still denied before expiry", "b", 89 * time.Second, []protocol.BrokerMessageQueue{q0}, []protocol.BrokerMessageQueue{}},
		{"b takes q0 after expiry", "b", 91 * time.Second, []protocol.BrokerMessageQueue{q0}, []protocol.BrokerMessageQueue{q0}},
	}
	for _, tt := range tests {
		got := l.TryLock("g", tt.client, tt.mqs, now.Add(tt.at))
		if !slices.Equal(got, tt.want) {
			t.Errorf("%s: got %v want %v", tt.name, got, tt.want)
		}
	}
	l.Unlock("g", "a", []protocol.BrokerMessageQueue{q0}) // not a's any more: no effect
	if h, ok := l.Holder("g", q0, now.Add(92*time.Second)); !ok || h != "b" {
		t.Fatalf("holder = %q %v", h, ok)
	}
	l.Unlock("g", "b", []protocol.BrokerMessageQueue{q0})
	if _, ok := l.Holder("g", q0, now.Add(92*time.Second)); ok {
		t.Fatal("unlock did not release")
	}
	if got := l.TryLock("other", "c", []protocol.BrokerMessageQueue{q1}, now.Add(2*time.Second)); len(got) != 1 {
		t.Fatal("locks must be per group")
	}
	l.Sweep(now.Add(10 * time.Minute))
	if len(l.table) != 0 {
		t.Fatalf("sweep left %d", len(l.table))
	}
}
