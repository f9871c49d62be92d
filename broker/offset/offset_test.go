package offset

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

func TestOffsetCommitQueryPersist(t *testing.T) {
	p := filepath.Join(t.TempDir(), "config", "consumerOffset.json")
	m, err := Open(nil, p)
	if err != nil {
		t.Fatal(err)
	}
	steps := []struct {
		group, topic string
		qid          int
		off          int64
	}{
		{"g1", "T", 0, 5},
		{"g1", "T", 1, 7},
		{"g1", "T", 0, 9}, // overwrite (offsets may move back, e.g. reset)
		{"g2", "T", 0, 1},
		{"g1", "%RETRY%g1", 0, 3},
	}
	for _, s := range steps {
		m.Commit(s.group, s.topic, s.qid, s.off)
	}
	tests := []struct {
		group, topic string
		qid          int
		want         int64
		ok           bool
	}{
		{"g1", "T", 0, 9, true},
		{"g1", "T", 1, 7, true},
		{"g2", "T", 0, 1, true},
		{"g2", "T", 1, 0, false},
		{"g3", "T", 0, 0, false},
	}
	for _, tt := range tests {
		got, ok := m.Query(tt.group, tt.topic, tt.qid)
		if got != tt.want || ok != tt.ok {
			t.Errorf("Query(%s,%s,%d) = %d,%v want %d,%v", tt.group, tt.topic, tt.qid, got, ok, tt.want, tt.ok)
		}
	}
	if err := m.Persist(); err != nil {
		t.Fatal(err)
	}
	raw, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(raw), `"T@g1"`) || !strings.Contains(string(raw), `"offsetTable"`) {
		t.Fatalf("unexpected file format: %s", raw)
	}
	m2, err := Open(nil, p)
	if err != nil {
		t.Fatal(err)
	}
	if got, ok := m2.Query("g1", "T", 0); !ok || got != 9 {
		t.Fatalf("reload: %d %v", got, ok)
	}
	groups := m2.GroupsOfTopic("T")
	slices.Sort(groups)
	if !slices.Equal(groups, []string{"g1", "g2"}) {
		t.Fatalf("GroupsOfTopic = %v", groups)
	}
	topics := m2.TopicsOfGroup("g1")
	slices.Sort(topics)
	if !slices.Equal(topics, []string{"%RETRY%g1", "T"}) {
		t.Fatalf("TopicsOfGroup = %v", topics)
	}
	m2.RemoveTopic("T")
	if _, ok := m2.Query("g2", "T", 0); ok {
		t.Fatal("RemoveTopic left offsets")
	}
	m2.RemoveGroup("g1")
	if len(m2.Snapshot().OffsetTable) != 0 {
		t.Fatalf("RemoveGroup left %v", m2.Snapshot().OffsetTable)
	}
}

func TestOffsetPersistOnlyWhenDirty(t *testing.T) {
	p := filepath.Join(t.TempDir(), "consumerOffset.json")
	m, err := Open(nil, p)
	if err != nil {
		t.Fatal(err)
	}
	if err := m.Persist(); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(p); !os.IsNotExist(err) {
		t.Fatal("clean table written")
	}
	m.Commit("g", "T", 0, 1)
	if err := m.Persist(); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(p); err != nil {
		t.Fatal("dirty table not written")
	}
}

func TestOffsetReplaceFromMaster(t *testing.T) {
	p := filepath.Join(t.TempDir(), "consumerOffset.json")
	m, err := Open(nil, p)
	if err != nil {
		t.Fatal(err)
	}
	m.Commit("g", "T", 0, 3)
	m.Commit("old", "T", 0, 1) // gone from the master: dropped
	master := map[string]map[int]int64{"T@g": {0: 10, 1: 4}}
	keep := map[string]map[int]int64{"T@g": {1: 7}, "U@g": {0: 2}}
	m.ReplaceFromMaster(master, keep)
	want := map[string]map[int]int64{"T@g": {0: 10, 1: 7}, "U@g": {0: 2}}
	if got := m.Snapshot().OffsetTable; !tablesEqual(got, want) {
		t.Fatalf("table %v, want %v", got, want)
	}
	master["T@g"][0] = 99 // the manager keeps its own copy
	if off, _ := m.Query("g", "T", 0); off != 10 {
		t.Fatalf("aliased the master's map: %d", off)
	}
	if err := m.Persist(); err != nil {
		t.Fatal(err)
	}
	m2, err := Open(nil, p)
	if err != nil {
		t.Fatal(err)
	}
	if got := m2.Snapshot().OffsetTable; !tablesEqual(got, want) {
		t.Fatalf("persisted %v, want %v", got, want)
	}
}
