package v1alpha1

import (
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
)

func TestEffectiveBrokerNameAndRoles(t *testing.T) {
	g := &BrokerGroup{ObjectMeta: metav1.ObjectMeta{Name: "broker-a"}}
	if got := g.EffectiveBrokerName(); got != "broker-a" {
		t.Errorf("default brokerName = %q", got)
	}
	g.Spec.BrokerName = "custom"
	if got := g.EffectiveBrokerName(); got != "custom" {
		t.Errorf("brokerName = %q", got)
	}
	for _, tc := range []struct {
		mode    ReplicationMode
		ordinal int
		want    string
	}{
		{ReplicationAsync, 0, RoleAsyncMaster}, {ReplicationSync, 0, RoleSyncMaster},
		{ReplicationSync, 1, RoleSlave}, {ReplicationAsync, 3, RoleSlave},
	} {
		g.Spec.ReplicationMode = tc.mode
		if got := g.RoleOf(tc.ordinal); got != tc.want {
			t.Errorf("%s ordinal %d: role %s, want %s", tc.mode, tc.ordinal, got, tc.want)
		}
	}
}

func TestSchemeRegistersKinds(t *testing.T) {
	s := runtime.NewScheme()
	if err := AddToScheme(s); err != nil {
		t.Fatal(err)
	}
	for _, kind := range []string{"NameServer", "NameServerList", "BrokerGroup", "BrokerGroupList"} {
		if !s.Recognizes(GroupVersion.WithKind(kind)) {
			t.Errorf("scheme does not know %s", kind)
		}
	}
}
