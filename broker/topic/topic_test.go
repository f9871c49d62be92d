package topic

import (
	"errors"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
)

func TestTopicValidateName(t *testing.T) {
	tests := []struct {
		name string
		ok   bool
	}{
		{"TopicTest", true},
		{"%RETRY%group-1_a", true},
		{"a|b", true},
		{"", false},
		{"   ", false},
		{"bad topic", false},
		{"bad/topic", false},
		{"中文", false},
		{strings.Repeat("a", 127), true},
		{strings.Repeat("a", 128), false},
	}
	for _, tt := range tests {
		err := ValidateName(tt.name)
		if (err == nil) != tt.ok {
			t.Errorf("ValidateName(%q) = %v, want ok=%v", tt.name, err, tt.ok)
		}
		if err != nil && !errors.Is(err, ErrInvalidName) {
			t.Errorf("error %v does not wrap ErrInvalidName", err)
		}
	}
}

func TestTopicCreateFromDefault(t *testing.T) {
	tests := []struct {
		name      string
		def       *Config
		reqQueues int
		wantQ     int
		wantPerm  int
		wantErr   bool
	}{
		{"inherit clamps to request", &Config{TopicName: AutoCreateTopicKey, ReadQueueNums: 8, WriteQueueNums: 8, Perm: 7}, 4, 4, 6, false},
		{"inherit clamps to default", &Config{TopicName: AutoCreateTopicKey, ReadQueueNums: 2, WriteQueueNums: 2, Perm: 7}, 4, 2, 6, false},
		{"no inherit bit", &Config{TopicName: AutoCreateTopicKey, ReadQueueNums: 8, WriteQueueNums: 8, Perm: 6}, 4, 0, 0, true},
		{"no default", nil, 4, 0, 0, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var fired atomic.Int32
			m, err := Open(nil, filepath.Join(t.TempDir(), "topics.json"), func() { fired.Add(1) })
			if err != nil {
				t.Fatal(err)
			}
			if tt.def != nil {
				if _, err := m.Put(*tt.def); err != nil {
					t.Fatal(err)
				}
			}
			before := fired.Load()
			c, created, err := m.CreateFromDefault("NewTopic", AutoCreateTopicKey, tt.reqQueues, 0)
			if tt.wantErr {
				if err == nil || !errors.Is(err, ErrNotFound) {
					t.Fatalf("err = %v", err)
				}
				return
			}
			if err != nil || !created {
				t.Fatalf("created=%v err=%v", created, err)
			}
			if c.ReadQueueNums != tt.wantQ || c.WriteQueueNums != tt.wantQ || c.Perm != tt.wantPerm {
				t.Fatalf("got %+v", c)
			}
			if fired.Load() != before+1 {
				t.Fatal("change hook not fired")
			}
			if _, created, _ := m.CreateFromDefault("NewTopic", AutoCreateTopicKey, 4, 0); created {
				t.Fatal("created twice")
			}
		})
	}
}

func TestTopicPersistReloadDelete(t *testing.T) {
	p := filepath.Join(t.TempDir(), "config", "topics.json")
	m, err := Open(nil, p, nil)
	if err != nil {
		t.Fatal(err)
	}
	dv0 := m.DataVersion()
	if changed, err := m.Put(Config{TopicName: "A", ReadQueueNums: 3, WriteQueueNums: 3, Perm: 6}); err != nil || !changed {
		t.Fatal(changed, err)
	}
	if changed, _ := m.Put(Config{TopicName: "A", ReadQueueNums: 3, WriteQueueNums: 3, Perm: 6, TopicFilterType: FilterSingleTag}); changed {
		t.Fatal("identical put reported a change")
	}
	if _, err := m.Put(Config{TopicName: "B", ReadQueueNums: 1, WriteQueueNums: 1, Perm: 6}); err != nil {
		t.Fatal(err)
	}
	dv1 := m.DataVersion()
	if dv1.Counter != dv0.Counter+2 || dv1.Timestamp <= dv0.Timestamp {
		t.Fatalf("data version not bumped: %+v -> %+v", dv0, dv1)
	}
	if ok, err := m.Delete("B"); !ok || err != nil {
		t.Fatal(ok, err)
	}
	m2, err := Open(nil, p, nil)
	if err != nil {
		t.Fatal(err)
	}
	a, ok := m2.Get("A")
	if !ok || a.ReadQueueNums != 3 || a.TopicFilterType != FilterSingleTag {
		t.Fatalf("reload: %+v %v", a, ok)
	}
	if _, ok := m2.Get("B"); ok {
		t.Fatal("deleted topic came back")
	}
	if m2.DataVersion() != m.DataVersion() {
		t.Fatalf("data version not persisted: %+v vs %+v", m2.DataVersion(), m.DataVersion())
	}
	if _, err := m2.Put(Config{TopicName: "bad name", Perm: 6}); !errors.Is(err, ErrInvalidName) {
		t.Fatalf("bad name: %v", err)
	}
	if _, err := m2.Put(Config{TopicName: "x", Perm: 6, TopicFilterType: "SQL"}); !errors.Is(err, ErrInvalidConfig) {
		t.Fatalf("bad filter: %v", err)
	}
}

func TestTopicReservedAndSystem(t *testing.T) {
	for _, n := range []string{ScheduleTopic, TransHalfTopic, SelfTestTopic, OffsetMovedEvent} {
		if !IsReservedForSend(n) || !IsSystemTopic(n) {
			t.Errorf("%s should be reserved", n)
		}
	}
	if IsReservedForSend("TopicTest") || IsSystemTopic("TopicTest") || !IsSystemTopic(AutoCreateTopicKey) {
		t.Error("classification wrong")
	}
}

func TestTopicReplaceAll(t *testing.T) {
	p := filepath.Join(t.TempDir(), "topics.json")
	fired := 0
	m, err := Open(nil, p, func() { fired++ })
	if err != nil {
		t.Fatal(err)
	}
	if _, err := m.Put(Config{TopicName: "Local", ReadQueueNums: 1, WriteQueueNums: 1, Perm: 6}); err != nil {
		t.Fatal(err)
	}
	dv := DataVersion{Timestamp: 1234, Counter: 9}
	table := map[string]Config{"M": {ReadQueueNums: 4, WriteQueueNums: 4, Perm: 6}}
	fired = 0
	changed, err := m.ReplaceAll(table, dv)
	if err != nil || !changed || fired != 1 {
		t.Fatalf("ReplaceAll: changed %v err %v fired %d", changed, err, fired)
	}
	if changed, _ := m.ReplaceAll(table, dv); changed {
		t.Fatal("same data version replaced again")
	}
	if _, ok := m.Get("Local"); ok {
		t.Fatal("a topic missing from the master survived")
	}
	if c, ok := m.Get("M"); !ok || c.TopicName != "M" || c.TopicFilterType != FilterSingleTag || m.DataVersion() != dv {
		t.Fatalf("adopted %+v %v version %+v", c, ok, m.DataVersion())
	}
	if _, err := m.ReplaceAll(map[string]Config{"bad name": {}}, DataVersion{Counter: 10}); err == nil {
		t.Fatal("an invalid table was adopted")
	}
	m2, err := Open(nil, p, nil)
	if err != nil {
		t.Fatal(err)
	}
	if c, ok := m2.Get("M"); !ok || c.ReadQueueNums != 4 || m2.DataVersion() != dv {
		t.Fatalf("reloaded %+v %v version %+v", c, ok, m2.DataVersion())
	}
}
