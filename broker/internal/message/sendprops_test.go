package message

import (
	"maps"
	"strconv"
	"strings"
	"testing"
)

// generalSendProperties is the map-based path ScanSendProperties must agree with when ok.
func generalSendProperties(s, cluster string) (map[string]string, bool) {
	props := ParseProperties(s)
	wait := props[PropWaitStoreOK] != "false"
	delete(props, PropWaitStoreOK)
	if _, ok := props[PropCluster]; !ok {
		props[PropCluster] = cluster
	}
	return props, wait
}

func checkScan(t *testing.T, in string) {
	t.Helper()
	sp, ok := ScanSendProperties(in, "DefaultCluster")
	props := ParseProperties(in)
	lvl, _ := strconv.Atoi(props[PropDelayLevel])
	if props[PropTransPrepared] == "true" || lvl > 0 {
		if ok {
			t.Fatalf("%q: fast path taken for a message the broker must rewrite", in)
		}
		return
	}
	if !ok {
		return // the general path handles it; correctness is its business
	}
	want, wait := generalSendProperties(in, "DefaultCluster")
	if got := ParseProperties(sp.Properties); !maps.Equal(got, want) {
		t.Fatalf("%q: stored properties %q parse to %v, want %v", in, sp.Properties, got, want)
	}
	if sp.WaitStoreOK != wait || sp.Tags != want[PropTags] || sp.UniqKey != want[PropUniqKey] || sp.Keys != want[PropKeys] {
		t.Fatalf("%q: got %+v, want wait=%v tags=%q uniq=%q keys=%q", in, sp, wait, want[PropTags], want[PropUniqKey], want[PropKeys])
	}
}

func TestScanSendProperties(t *testing.T) {
	p := func(kv ...string) string {
		var b strings.Builder
		for i := 0; i+1 < len(kv); i += 2 {
			b.WriteString(kv[i] + "\x01" + kv[i+1] + "\x02")
		}
		return b.String()
	}
	cases := []struct {
		name     string
		in       string
		fast     bool
		wantProp string // "" = not checked beyond the general-path comparison
	}{
		{"typical go client", p("UNIQ_KEY", "0A0B", "WAIT", "true", "TAGS", "TagA", "KEYS", "k1 k2"), true, p("UNIQ_KEY", "0A0B", "TAGS", "TagA", "KEYS", "k1 k2", "CLUSTER", "DefaultCluster")},
		{"nothing to change", p("CLUSTER", "c1", "TAGS", "x"), true, p("CLUSTER", "c1", "TAGS", "x")},
		{"empty", "", true, p("CLUSTER", "DefaultCluster")},
		{"wait false", p("WAIT", "false", "TAGS", "t"), true, p("TAGS", "t", "CLUSTER", "DefaultCluster")},
		{"no trailing separator", "TAGS\x01t\x02WAIT\x01true", true, p("TAGS", "t", "CLUSTER", "DefaultCluster")},
		{"no trailing separator, no wait", "TAGS\x01t", true, p("TAGS", "t", "CLUSTER", "DefaultCluster")},
		{"value with name separator", p("TAGS", "a\x01b"), true, ""},
		{"delay 0", p("DELAY", "0", "TAGS", "t"), true, ""},
		{"delay garbage", p("DELAY", "x"), true, ""},
		{"delay negative", p("DELAY", "-3"), true, ""},
		{"delay 3", p("DELAY", "3"), false, ""},
		{"half message", p("TRAN_MSG", "true", "PGROUP", "g"), false, ""},
		{"tran false", p("TRAN_MSG", "false"), true, ""},
		{"repeated tags", p("TAGS", "a", "TAGS", "b"), false, ""},
		{"repeated other key", p("X", "a", "X", "b"), true, ""},
		{"segment without separator", "TAGS\x01a\x02junk\x02", false, ""},
		{"empty key", "\x01v\x02", false, ""},
		{"empty segment", "TAGS\x01a\x02\x02", false, ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			sp, ok := ScanSendProperties(tc.in, "DefaultCluster")
			if ok != tc.fast {
				t.Fatalf("ok = %v, want %v", ok, tc.fast)
			}
			if ok && tc.wantProp != "" && sp.Properties != tc.wantProp {
				t.Fatalf("properties %q, want %q", sp.Properties, tc.wantProp)
			}
			checkScan(t, tc.in)
		})
	}
}

func TestScanSendPropertiesNoRewriteAllocatesNothing(t *testing.T) {
	in := "CLUSTER\x01c\x02UNIQ_KEY\x01abc\x02TAGS\x01t\x02"
	if n := testing.AllocsPerRun(100, func() {
		if sp, ok := ScanSendProperties(in, "c"); !ok || sp.Properties != in {
			t.Fatal("unexpected result")
		}
	}); n != 0 {
		t.Fatalf("%v allocations", n)
	}
}

func FuzzScanSendProperties(f *testing.F) {
	f.Add("UNIQ_KEY\x01a\x02WAIT\x01true\x02TAGS\x01t\x02")
	f.Add("DELAY\x013\x02")
	f.Add("TAGS\x01a\x01b\x02\x02x")
	f.Fuzz(func(t *testing.T, in string) { checkScan(t, in) })
}
