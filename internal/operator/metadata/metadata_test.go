package metadata_test

import (
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/gorocket/gorocket/api/v1alpha1"
	"github.com/gorocket/gorocket/internal/operator/metadata"
)

func TestPodOrdinal(t *testing.T) {
	for _, tc := range []struct {
		pod  string
		want int
		ok   bool
	}{
		{"broker-a-0", 0, true}, {"broker-a-12", 12, true}, {"broker-a-", 0, false},
		{"broker-a-01", 0, false}, {"broker-a-x", 0, false}, {"broker-b-1", 0, false}, {"broker-a-1-2", 0, false},
	} {
		got, ok := metadata.PodOrdinal("broker-a", tc.pod)
		if got != tc.want || ok != tc.ok {
			t.Errorf("PodOrdinal(broker-a, %q) = %d, %v; want %d, %v", tc.pod, got, ok, tc.want, tc.ok)
		}
	}
}

func TestNameServerAddresses(t *testing.T) {
	n := int32(3)
	ns := &v1alpha1.NameServer{ObjectMeta: metav1.ObjectMeta{Name: "ns", Namespace: "mq"}, Spec: v1alpha1.NameServerSpec{Replicas: &n, ListenPort: 9000}}
	got := metadata.NameServerAddresses(ns, "")
	want := []string{"ns-0.ns-headless.mq.svc:9000", "ns-1.ns-headless.mq.svc:9000", "ns-2.ns-headless.mq.svc:9000"}
	if len(got) != len(want) {
		t.Fatalf("got %v, want %v", got, want)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Errorf("address %d = %q, want %q", i, got[i], want[i])
		}
	}
	if got := metadata.NameServerAddresses(ns, "cluster.local.")[0]; got != "ns-0.ns-headless.mq.svc.cluster.local:9000" {
		t.Errorf("with cluster domain: %q", got)
	}
}
