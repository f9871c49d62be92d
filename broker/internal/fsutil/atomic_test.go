package fsutil

import (
	"os"
	"path/filepath"
	"testing"
)

func TestWriteJSONAtomicRoundTripAndBackup(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "config", "x.json")
	type doc struct{ A int }
	var got doc
	found, err := ReadJSON(p, &got)
	if err != nil || found {
		t.Fatalf("missing file: found=%v err=%v", found, err)
	}
	if err := WriteJSONAtomic(p, doc{1}); err != nil {
		t.Fatal(err)
	}
	if err := WriteJSONAtomic(p, doc{2}); err != nil {
		t.Fatal(err)
	}
	if found, err := ReadJSON(p, &got); err != nil || !found || got.A != 2 {
		t.Fatalf("read: %+v %v %v", got, found, err)
	}
	if _, err := os.Stat(p + ".tmp"); !os.IsNotExist(err) {
		t.Fatalf("temp file left behind: %v", err)
	}
	// A torn main file falls back to the .bak copy (previous content).
	if err := os.WriteFile(p, []byte(`{"A":`), 0o644); err != nil {
		t.Fatal(err)
	}
	got = doc{}
	if found, err := ReadJSON(p, &got); err != nil || !found || got.A != 1 {
		t.Fatalf("fallback: %+v %v %v", got, found, err)
	}
	// Both corrupt: error.
	if err := os.WriteFile(p+".bak", []byte(`nope`), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := ReadJSON(p, &got); err == nil {
		t.Fatal("corrupt file accepted")
	}
}
