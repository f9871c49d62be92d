package group

import (
	"errors"
	"path/filepath"
	"testing"

	"github.com/gorocket/gorocket/remoting/protocol"
)

func TestGroupFindOrCreate(t *testing.T) {
	tests := []struct {
		name       string
		group      string
		autoCreate bool
		wantErr    error
	}{
		{"auto-create", "g1", true, nil},
		{"no auto-create", "g2", false, ErrNotFound},
		{"bad name", "bad name", true, ErrInvalidName},
		{"system group exists", "TOOLS_CONSUMER", false, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m, err := Open(nil, filepath.Join(t.TempDir(), "subscriptionGroup.json"))
			if err != nil {
				t.Fatal(err)
			}
			c, err := m.FindOrCreate(tt.group, tt.autoCreate)
			if tt.wantErr != nil {
				if !errors.Is(err, tt.wantErr) {
					t.Fatalf("err = %v, want %v", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if c.GroupName != tt.group || !c.ConsumeEnable || c.RetryQueueNums != 1 || c.RetryMaxTimes != 16 {
				t.Fatalf("defaults wrong: %+v", c)
			}
		})
	}
}

func TestGroupPersistReloadDelete(t *testing.T) {
	p := filepath.Join(t.TempDir(), "config", "subscriptionGroup.json")
	m, err := Open(nil, p)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := m.FindOrCreate("auto", true); err != nil {
		t.Fatal(err)
	}
	c, _ := m.Get("auto")
	c.RetryMaxTimes = 3
	c.ConsumeBroadcastEnable = false
	if err := m.Put(c); err != nil {
		t.Fatal(err)
	}
	if err := m.Put(Config{GroupName: "neg", RetryQueueNums: -1}); !errors.Is(err, ErrInvalidValue) {
		t.Fatalf("negative retry queues: %v", err)
	}
	dv := m.Snapshot().DataVersion
	m2, err := Open(nil, p)
	if err != nil {
		t.Fatal(err)
	}
	got, ok := m2.Get("auto")
	if !ok || got.RetryMaxTimes != 3 || got.ConsumeBroadcastEnable {
		t.Fatalf("reload: %+v", got)
	}
	if m2.Snapshot().DataVersion != dv {
		t.Fatal("data version not persisted")
	}
	if _, err := m2.Delete("CID_RMQ_SYS_TRANS"); !errors.Is(err, ErrSystemGroup) {
		t.Fatalf("system delete: %v", err)
	}
	if ok, err := m2.Delete("auto"); !ok || err != nil {
		t.Fatal(ok, err)
	}
	if ok, _ := m2.Delete("auto"); ok {
		t.Fatal("deleted twice")
	}
}

func TestGroupReplaceAll(t *testing.T) {
	p := filepath.Join(t.TempDir(), "subscriptionGroup.json")
	m, err := Open(nil, p)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := m.FindOrCreate("local", true); err != nil {
		t.Fatal(err)
	}
	c := protocol.DefaultSubscriptionGroupConfig("fromMaster")
	c.RetryMaxTimes = 5
	w := protocol.SubscriptionGroupWrapper{SubscriptionGroupTable: map[string]Config{"fromMaster": c},
		DataVersion: protocol.DataVersion{Timestamp: 42, Counter: 7}}
	changed, err := m.ReplaceAll(w)
	if err != nil || !changed {
		t.Fatalf("ReplaceAll: %v %v", changed, err)
	}
	if changed, _ := m.ReplaceAll(w); changed {
		t.Fatal("same data version replaced again")
	}
	if _, ok := m.Get("local"); ok {
		t.Fatal("a group missing from the master survived")
	}
	if g, ok := m.Get("fromMaster"); !ok || g.RetryMaxTimes != 5 {
		t.Fatalf("master's group: %+v %v", g, ok)
	}
	if _, ok := m.Get("TOOLS_CONSUMER"); !ok {
		t.Fatal("system group dropped")
	}
	m2, err := Open(nil, p)
	if err != nil {
		t.Fatal(err)
	}
	if g, ok := m2.Get("fromMaster"); !ok || g.RetryMaxTimes != 5 || m2.DataVersion() != w.DataVersion {
		t.Fatalf("reloaded: %+v %v version %+v", g, ok, m2.DataVersion())
	}
}
