package client

import (
	"encoding/hex"
	"testing"
)

func TestUniqKeysAreDistinctHex(t *testing.T) {
	g := newUniqKeyGen()
	seen := make(map[string]bool, 20000)
	for range 20000 {
		k := g.next()
		if len(k) != 32 {
			t.Fatalf("key %q has %d characters, want 32", k, len(k))
		}
		if _, err := hex.DecodeString(k); err != nil {
			t.Fatalf("key %q is not hex: %v", k, err)
		}
		if seen[k] {
			t.Fatalf("duplicate key %q", k)
		}
		seen[k] = true
	}
	if newUniqKeyGen().prefix == "" {
		t.Fatal("empty prefix")
	}
}
