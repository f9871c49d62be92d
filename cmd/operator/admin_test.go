package main

import (
	"context"
	"testing"
	"time"

	"github.com/gorocket/gorocket/nameserver"
	"github.com/gorocket/gorocket/remoting"
	"github.com/gorocket/gorocket/remoting/protocol"
)

// TestAdminClientFactoryReadsRegistrations registers a master and a slave with a real
// nameserver over the wire and checks the operator's adapter reports exactly them.
func TestAdminClientFactoryReadsRegistrations(t *testing.T) {
	opts := nameserver.DefaultOptions()
	opts.ListenAddr = "127.0.0.1:0"
	ns := nameserver.New(nil, opts)
	if err := ns.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ns.Close() })

	rc := remoting.NewClient(nil, remoting.ClientOptions{})
	t.Cleanup(func() { rc.Close() })
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	for _, b := range []struct {
		id   int64
		addr string
	}{{0, "10.1.0.1:10911"}, {1, "10.1.0.2:10911"}} {
		body, err := protocol.EncodeRegisterBrokerBody(&protocol.RegisterBrokerBody{}, false)
		if err != nil {
			t.Fatal(err)
		}
		req := protocol.NewRequest(protocol.ReqRegisterBroker, &protocol.RegisterBrokerRequestHeader{
			BrokerName: "broker-a", BrokerAddr: b.addr, ClusterName: "ProdCluster",
			HAServerAddr: "10.1.0.1:10912", BrokerID: b.id, BodyCrc32: protocol.MaskedCRC32(body),
		}, body)
		resp, err := rc.Invoke(ctx, ns.Addr(), req)
		if err != nil {
			t.Fatal(err)
		}
		if err := resp.Err(); err != nil {
			t.Fatal(err)
		}
	}

	a, err := newAdminClientFactory(nil, 3*time.Second)()
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	ci, err := a.ClusterInfo(ctx, []string{ns.Addr()})
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		cluster, name string
		id            int64
		want          bool
	}{
		{"ProdCluster", "broker-a", 0, true},
		{"ProdCluster", "broker-a", 1, true},
		{"ProdCluster", "broker-a", 2, false},
		{"OtherCluster", "broker-a", 0, false},
		{"ProdCluster", "broker-b", 0, false},
	} {
		if got := ci.Registered(tc.cluster, tc.name, tc.id); got != tc.want {
			t.Errorf("Registered(%s, %s, %d) = %v, want %v", tc.cluster, tc.name, tc.id, got, tc.want)
		}
	}
	if got := ci.BrokerAddrs["broker-a"][1]; got != "10.1.0.2:10911" {
		t.Errorf("slave address = %q", got)
	}

	// An unreachable nameserver is an error (the controller reports it; it never counts as registered).
	ctx2, cancel2 := context.WithTimeout(context.Background(), 3*time.Second)
	defer cancel2()
	if _, err := a.ClusterInfo(ctx2, []string{"127.0.0.1:1"}); err == nil {
		t.Fatal("ClusterInfo against a closed port succeeded")
	}
}
