package nameserver

import (
	"reflect"
	"testing"
	"time"

	"github.com/gorocket/gorocket/remoting"
	"github.com/gorocket/gorocket/remoting/protocol"
)

type fakeClock struct{ t time.Time }

func (c *fakeClock) now() time.Time          { return c.t }
func (c *fakeClock) advance(d time.Duration) { c.t = c.t.Add(d) }

func topics(dv int64, tcs ...protocol.TopicConfig) protocol.TopicConfigSerializeWrapper {
	w := protocol.TopicConfigSerializeWrapper{
		DataVersion:      protocol.DataVersion{Timestamp: 1700000000000, Counter: dv},
		TopicConfigTable: map[string]protocol.TopicConfig{},
	}
	for _, tc := range tcs {
		w.TopicConfigTable[tc.TopicName] = tc
	}
	return w
}

func tc(name string, queues, perm int) protocol.TopicConfig {
	return protocol.TopicConfig{TopicName: name, ReadQueueNums: queues, WriteQueueNums: queues, Perm: perm, TopicFilterType: protocol.TopicFilterSingleTag}
}

var (
	tbw102 = tc("TBW102", 8, 7)
	topicA = tc("TopicA", 4, 6)
)

func reg(name, addr string, id int64, w protocol.TopicConfigSerializeWrapper) Registration {
	return Registration{Cluster: "DefaultCluster", BrokerName: name, BrokerAddr: addr, BrokerID: id,
		HAServerAddr: addr + "-ha", Topics: w}
}

// routeOf summarises a route as brokerName → (perm, queues, addrs).
type routeSummary map[string]struct {
	Perm, Queues int
	Addrs        map[int64]string
}

func summarize(r *RouteInfo, topic string) routeSummary {
	route, ok := r.TopicRoute(topic)
	if !ok {
		return nil
	}
	out := routeSummary{}
	addrs := map[string]map[int64]string{}
	for _, bd := range route.BrokerDatas {
		addrs[bd.BrokerName] = bd.BrokerAddrs
	}
	for _, qd := range route.QueueDatas {
		out[qd.BrokerName] = struct {
			Perm, Queues int
			Addrs        map[int64]string
		}{qd.Perm, qd.WriteQueueNums, addrs[qd.BrokerName]}
	}
	return out
}

func entry(perm, queues int, addrs map[int64]string) struct {
	Perm, Queues int
	Addrs        map[int64]string
} {
	return struct {
		Perm, Queues int
		Addrs        map[int64]string
	}{perm, queues, addrs}
}

// TestRouteInfoTransitions walks the registry through the transitions of reference §5 and
// checks the route clients would get after each step.
func TestRouteInfoTransitions(t *testing.T) {
	connA, connB := &remoting.Conn{}, &remoting.Conn{}
	type step struct {
		name  string
		do    func(r *RouteInfo, clk *fakeClock) any
		want  any // expected return of do (nil = don't care)
		topic string
		route routeSummary // expected route of topic after the step (nil = TOPIC_NOT_EXIST)
	}
	tests := []struct {
		name  string
		steps []step
	}{
		{"master then slave", []step{
			{name: "register master", do: func(r *RouteInfo, _ *fakeClock) any {
				x := reg("broker-a", "10.0.0.5:10911", 0, topics(1, tbw102, topicA))
				x.Conn = connA
				res := r.Register(x)
				return [2]bool{res.First, res.TopicsUpdated}
			}, want: [2]bool{true, true},
				topic: "TopicA", route: routeSummary{"broker-a": entry(6, 4, map[int64]string{0: "10.0.0.5:10911"})}},
			{name: "TBW102 is routable for auto-create", do: func(*RouteInfo, *fakeClock) any { return nil },
				topic: "TBW102", route: routeSummary{"broker-a": entry(7, 8, map[int64]string{0: "10.0.0.5:10911"})}},
			{name: "register slave: gets the live master's addresses, queue data untouched", do: func(r *RouteInfo, _ *fakeClock) any {
				x := reg("broker-a", "10.0.0.6:10911", 1, topics(99, tc("TopicA", 1, 2)))
				x.Conn = connB
				res := r.Register(x)
				return [2]string{res.MasterAddr, res.HAServerAddr}
			}, want: [2]string{"10.0.0.5:10911", "10.0.0.5:10911-ha"},
				topic: "TopicA", route: routeSummary{"broker-a": entry(6, 4, map[int64]string{0: "10.0.0.5:10911", 1: "10.0.0.6:10911"})}},
			{name: "master connection closes: evicted at once, slave keeps the route", do: func(r *RouteInfo, _ *fakeClock) any {
				return r.ConnClosed(connA)
			}, want: []string{"10.0.0.5:10911"},
				topic: "TopicA", route: routeSummary{"broker-a": entry(6, 4, map[int64]string{1: "10.0.0.6:10911"})}},
			{name: "slave re-registers without a live master", do: func(r *RouteInfo, _ *fakeClock) any {
				res := r.Register(reg("broker-a", "10.0.0.6:10911", 1, topics(99)))
				return [2]string{res.MasterAddr, res.HAServerAddr}
			}, want: [2]string{"", ""},
				topic: "TopicA", route: routeSummary{"broker-a": entry(6, 4, map[int64]string{1: "10.0.0.6:10911"})}},
			{name: "last address gone: broker name and its topics disappear", do: func(r *RouteInfo, _ *fakeClock) any {
				return r.Unregister("10.0.0.6:10911", "broker-a", 1)
			}, want: true, topic: "TopicA", route: nil},
			{name: "cluster emptied", do: func(r *RouteInfo, _ *fakeClock) any {
				return len(r.ClusterInfo().ClusterAddrTable)
			}, want: 0, topic: "TBW102", route: nil},
		}},
		{"data version decides queue updates", []step{
			{name: "first registration", do: func(r *RouteInfo, _ *fakeClock) any {
				return r.Register(reg("broker-a", "a:1", 0, topics(1, topicA))).TopicsUpdated
			}, want: true, topic: "TopicA", route: routeSummary{"broker-a": entry(6, 4, map[int64]string{0: "a:1"})}},
			{name: "same data version, different configs: ignored", do: func(r *RouteInfo, _ *fakeClock) any {
				return r.Register(reg("broker-a", "a:1", 0, topics(1, tc("TopicA", 16, 4)))).TopicsUpdated
			}, want: false, topic: "TopicA", route: routeSummary{"broker-a": entry(6, 4, map[int64]string{0: "a:1"})}},
			{name: "new data version: applied", do: func(r *RouteInfo, _ *fakeClock) any {
				return r.Register(reg("broker-a", "a:1", 0, topics(2, tc("TopicA", 16, 4)))).TopicsUpdated
			}, want: true, topic: "TopicA", route: routeSummary{"broker-a": entry(4, 16, map[int64]string{0: "a:1"})}},
			{name: "topic dropped by the broker stays (4.x)", do: func(r *RouteInfo, _ *fakeClock) any {
				return r.Register(reg("broker-a", "a:1", 0, topics(3, tbw102))).TopicsUpdated
			}, want: true, topic: "TopicA", route: routeSummary{"broker-a": entry(4, 16, map[int64]string{0: "a:1"})}},
			{name: "second master of another name adds its queues", do: func(r *RouteInfo, _ *fakeClock) any {
				return r.Register(reg("broker-b", "b:1", 0, topics(1, topicA))).First
			}, want: true, topic: "TopicA", route: routeSummary{
				"broker-a": entry(4, 16, map[int64]string{0: "a:1"}),
				"broker-b": entry(6, 4, map[int64]string{0: "b:1"})}},
			{name: "delete topic in namesrv", do: func(r *RouteInfo, _ *fakeClock) any {
				return r.DeleteTopic("TopicA", "")
			}, want: true, topic: "TopicA", route: nil},
			{name: "unchanged re-registration does not resurrect it", do: func(r *RouteInfo, _ *fakeClock) any {
				return r.Register(reg("broker-b", "b:1", 0, topics(1, topicA))).TopicsUpdated
			}, want: false, topic: "TopicA", route: nil},
		}},
		{"slave promoted to master", []step{
			{name: "slave", do: func(r *RouteInfo, _ *fakeClock) any {
				return r.Register(reg("broker-a", "s:1", 1, topics(1, topicA))).TopicsUpdated
			}, want: false, topic: "TopicA", route: nil},
			{name: "same address as master: id 1 entry replaced by id 0", do: func(r *RouteInfo, _ *fakeClock) any {
				return r.Register(reg("broker-a", "s:1", 0, topics(1, topicA))).TopicsUpdated
			}, want: true, topic: "TopicA", route: routeSummary{"broker-a": entry(6, 4, map[int64]string{0: "s:1"})}},
			{name: "stale unregister of a different address is ignored", do: func(r *RouteInfo, _ *fakeClock) any {
				return r.Unregister("old:1", "broker-a", 0)
			}, want: false, topic: "TopicA", route: routeSummary{"broker-a": entry(6, 4, map[int64]string{0: "s:1"})}},
		}},
		{"heartbeat expiry", []step{
			{name: "two brokers", do: func(r *RouteInfo, _ *fakeClock) any {
				r.Register(reg("broker-a", "a:1", 0, topics(1, topicA)))
				x := reg("broker-b", "b:1", 0, topics(1, topicA))
				x.Timeout = 10 * time.Second // 5.x per-broker heartbeatTimeoutMillis
				r.Register(x)
				return nil
			}, topic: "TopicA", route: routeSummary{
				"broker-a": entry(6, 4, map[int64]string{0: "a:1"}), "broker-b": entry(6, 4, map[int64]string{0: "b:1"})}},
			{name: "at its own timeout nothing expires yet", do: func(r *RouteInfo, clk *fakeClock) any {
				clk.advance(10 * time.Second)
				return len(r.ExpireBrokers(120 * time.Second))
			}, want: 0, topic: "TopicA", route: routeSummary{
				"broker-a": entry(6, 4, map[int64]string{0: "a:1"}), "broker-b": entry(6, 4, map[int64]string{0: "b:1"})}},
			{name: "past its own timeout the silent one is evicted", do: func(r *RouteInfo, clk *fakeClock) any {
				clk.advance(time.Millisecond)
				var addrs []string
				for _, e := range r.ExpireBrokers(120 * time.Second) {
					addrs = append(addrs, e.BrokerAddr)
				}
				return addrs
			}, want: []string{"b:1"}, topic: "TopicA", route: routeSummary{"broker-a": entry(6, 4, map[int64]string{0: "a:1"})}},
			{name: "QUERY_DATA_VERSION with an equal version is a heartbeat", do: func(r *RouteInfo, clk *fakeClock) any {
				clk.advance(110 * time.Second)
				changed, stored := r.QueryDataVersion("a:1", protocol.DataVersion{Timestamp: 1700000000000, Counter: 1})
				clk.advance(100 * time.Second) // 210 s after registering, 100 s after the heartbeat
				return [3]any{changed, stored.Counter, len(r.ExpireBrokers(120 * time.Second))}
			}, want: [3]any{false, int64(1), 0}, topic: "TopicA", route: routeSummary{"broker-a": entry(6, 4, map[int64]string{0: "a:1"})}},
			{name: "a changed data version does not refresh liveness", do: func(r *RouteInfo, clk *fakeClock) any {
				changed, _ := r.QueryDataVersion("a:1", protocol.DataVersion{Counter: 2})
				clk.advance(121 * time.Second)
				return [2]any{changed, len(r.ExpireBrokers(120 * time.Second))}
			}, want: [2]any{true, 1}, topic: "TopicA", route: nil},
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			clk := &fakeClock{t: time.Unix(1700000000, 0)}
			r := NewRouteInfo(nil, clk.now)
			for _, st := range tt.steps {
				got := st.do(r, clk)
				if st.want != nil && !reflect.DeepEqual(got, st.want) {
					t.Fatalf("%s: returned %#v, want %#v", st.name, got, st.want)
				}
				if route := summarize(r, st.topic); !reflect.DeepEqual(route, st.route) {
					t.Fatalf("%s: route of %s = %+v, want %+v", st.name, st.topic, route, st.route)
				}
			}
		})
	}
}

func TestRouteInfoQueries(t *testing.T) {
	r := NewRouteInfo(nil, nil)
	unit := tc("UnitTopic", 1, 6)
	unit.TopicSysFlag = protocol.TopicSysFlagUnit
	unitSub := tc("UnitSubTopic", 1, 6)
	unitSub.TopicSysFlag = protocol.TopicSysFlagUnitSub
	r.Register(reg("broker-a", "a:1", 0, topics(1, tbw102, topicA, unit, unitSub)))
	x := reg("broker-b", "b:1", 0, topics(1, topicA, tc("OnlyB", 2, 6)))
	x.Cluster = "OtherCluster"
	r.Register(x)
	r.Register(reg("broker-a", "a2:1", 1, topics(1)))

	if got, want := r.AllTopics(), []string{"OnlyB", "TBW102", "TopicA", "UnitSubTopic", "UnitTopic"}; !reflect.DeepEqual(got, want) {
		t.Fatalf("AllTopics = %v", got)
	}
	if got, want := r.TopicsByCluster("OtherCluster"), []string{"OnlyB", "TopicA"}; !reflect.DeepEqual(got, want) {
		t.Fatalf("TopicsByCluster = %v", got)
	}
	if got := r.TopicsByCluster("NoSuchCluster"); len(got) != 0 {
		t.Fatalf("unknown cluster: %v", got)
	}
	sys := r.SystemTopics()
	if want := []string{"DefaultCluster", "OtherCluster", "broker-a", "broker-b"}; !reflect.DeepEqual(sys.TopicList, want) || sys.BrokerAddr != "a:1" {
		t.Fatalf("SystemTopics = %+v", sys)
	}
	ci := r.ClusterInfo()
	if !reflect.DeepEqual(ci.ClusterAddrTable, map[string][]string{"DefaultCluster": {"broker-a"}, "OtherCluster": {"broker-b"}}) ||
		!reflect.DeepEqual(ci.BrokerAddrTable["broker-a"].BrokerAddrs, map[int64]string{0: "a:1", 1: "a2:1"}) {
		t.Fatalf("ClusterInfo = %+v", ci)
	}
	if got := r.TopicsWithSysFlag(func(f int) bool { return f&protocol.TopicSysFlagUnit != 0 }); !reflect.DeepEqual(got, []string{"UnitTopic"}) {
		t.Fatalf("unit topics %v", got)
	}
	// Deleting in one cluster keeps the other cluster's queues.
	if !r.DeleteTopic("TopicA", "OtherCluster") {
		t.Fatal("delete by cluster")
	}
	if got := summarize(r, "TopicA"); len(got) != 1 || got["broker-a"].Perm != 6 {
		t.Fatalf("after cluster delete %+v", got)
	}
	// Wipe and restore write permission.
	if n := r.SetWritePerm("broker-a", false); n != 5-1 { // TBW102, TopicA, UnitTopic, UnitSubTopic
		t.Fatalf("wiped %d topics", n)
	}
	if got := summarize(r, "TBW102")["broker-a"].Perm; got != 5 { // 7 &^ 2
		t.Fatalf("wiped perm %d", got)
	}
	if n := r.SetWritePerm("broker-a", true); n != 4 || summarize(r, "TBW102")["broker-a"].Perm != 6 {
		t.Fatalf("restored %d topics, perm %d", n, summarize(r, "TBW102")["broker-a"].Perm)
	}
	if r.SetWritePerm("nobody", false) != 0 {
		t.Fatal("unknown broker")
	}
}
