package main

import (
	"bytes"
	"context"
	"strings"
	"testing"
	"time"

	"github.com/gorocket/gorocket/client"
	"github.com/gorocket/gorocket/client/admin"
	"github.com/gorocket/gorocket/internal/conf"
	"github.com/gorocket/gorocket/internal/launcher"
	"github.com/gorocket/gorocket/remoting/protocol"
)

// runCLI runs gorocketctl in-process and returns the exit code, stdout and stderr.
func runCLI(t *testing.T, args ...string) (int, string, string) {
	t.Helper()
	var out, errb bytes.Buffer
	code := run(context.Background(), args, &out, &errb)
	return code, out.String(), errb.String()
}

func TestUsageErrorsExitTwo(t *testing.T) {
	t.Setenv("NAMESRV_ADDR", "")
	cases := [][]string{
		{"updateTopic", "-n", "127.0.0.1:1", "-c", "C"},                       // no -t
		{"updateTopic", "-n", "127.0.0.1:1", "-t", "T"},                       // neither -c nor -b
		{"updateTopic", "-n", "127.0.0.1:1", "-t", "T", "-c", "C", "-b", "x"}, // both
		{"topicRoute"}, // no -t
		{"topicList"},  // no nameserver at all
		{"updateSubGroup", "-n", "x:1", "-g", "g"},                                // no target
		{"queryMsgByOffset", "-n", "x:1", "-t", "T", "-b", "broker-a", "-i", "0"}, // no -o
		{"bench", "producer", "-n", "x:1", "--mode", "turbo"},
		{"local", "up", "--masters", "0", "--dir", "unused"},
		{"--log-level", "loud", "topicList", "-n", "x:1"},
		{"topicList", "--no-such-flag"},
		{"noSuchVerb"},
		{"updateTopic", "-n", "x:1", "-t", "T", "-c", "C", "-r", "many"},
	}
	for _, args := range cases {
		code, _, stderr := runCLI(t, args...)
		if code != 2 {
			t.Errorf("%v: exit %d, want 2 (stderr %q)", args, code, stderr)
		}
		if !strings.Contains(stderr, "error:") {
			t.Errorf("%v: stderr %q has no error message", args, stderr)
		}
	}
}

func TestNameServerFromEnvironment(t *testing.T) {
	a := &app{}
	t.Setenv("NAMESRV_ADDR", "127.0.0.1:9876;127.0.0.1:9877")
	ns, err := a.nameServers()
	if err != nil || len(ns) != 2 || ns[1] != "127.0.0.1:9877" {
		t.Fatalf("from env: %v %v", ns, err)
	}
	a.namesrv = "10.0.0.1:1"
	if ns, _ := a.nameServers(); len(ns) != 1 || ns[0] != "10.0.0.1:1" {
		t.Fatalf("-n must win over the environment: %v", ns)
	}
}

func TestLocalUpFlagParsing(t *testing.T) {
	var got localFlags
	a := &app{localUpFn: func(_ context.Context, lf localFlags) error { got = lf; return nil }}
	var out, errb bytes.Buffer
	root := a.rootCmd()
	a.stdout, a.stderr = &out, &errb
	root.SetArgs([]string{"local", "up", "--masters", "2", "--slaves", "1", "--mode", "sync", "--flush", "sync",
		"--namesrvs", "3", "--dir", "/tmp/x", "--base-port", "0", "--demo", "--bin-dir", "/opt/bin", "--grace", "3s"})
	if err := root.ExecuteContext(context.Background()); err != nil {
		t.Fatal(err)
	}
	s := got.spec
	if s.Masters != 2 || s.Slaves != 1 || s.Mode != "sync" || s.Flush != "sync" || s.Namesrvs != 3 || s.Dir != "/tmp/x" ||
		s.BasePort != 0 || !got.demo || got.binDir != "/opt/bin" || got.grace != 3*time.Second {
		t.Fatalf("parsed %+v", got)
	}
	// The parsed spec lays out the right roles.
	s.Dir = t.TempDir()
	l, err := launcher.Plan(s)
	if err != nil {
		t.Fatal(err)
	}
	roles := map[string]string{}
	for _, b := range l.Brokers {
		roles[b.Name] = b.Role
	}
	want := map[string]string{"broker-a-0": conf.RoleSyncMaster, "broker-a-1": conf.RoleSlave, "broker-b-0": conf.RoleSyncMaster, "broker-b-1": conf.RoleSlave}
	for k, v := range want {
		if roles[k] != v {
			t.Errorf("%s role %q, want %q", k, roles[k], v)
		}
	}
	// Defaults: the README's `local up --demo --dir DIR`.
	root = a.rootCmd()
	root.SetArgs([]string{"local", "up", "--demo", "--dir", "d"})
	if err := root.ExecuteContext(context.Background()); err != nil {
		t.Fatal(err)
	}
	if got.spec.Masters != 1 || got.spec.Slaves != 0 || got.spec.Namesrvs != 1 || got.spec.BasePort != 9876 ||
		got.spec.Mode != "async" || got.spec.Flush != "async" || got.binDir != "" {
		t.Fatalf("defaults %+v", got.spec)
	}
}

func TestClusterListTable(t *testing.T) {
	ci := &protocol.ClusterInfo{
		BrokerAddrTable: map[string]protocol.BrokerData{
			"broker-b": {Cluster: "C", BrokerName: "broker-b", BrokerAddrs: map[int64]string{0: "127.0.0.1:3"}},
			"broker-a": {Cluster: "C", BrokerName: "broker-a", BrokerAddrs: map[int64]string{1: "127.0.0.1:2", 0: "127.0.0.1:1"}},
			"other":    {Cluster: "D", BrokerName: "other", BrokerAddrs: map[int64]string{0: "127.0.0.1:9"}},
		},
		ClusterAddrTable: map[string][]string{"C": {"broker-b", "broker-a"}, "D": {"other"}},
	}
	rows := clusterRows(ci, "C")
	rows[0].info = map[string]string{"brokerRole": "ASYNC_MASTER", "putTps": "12.50 11.00 10.00", "brokerVersionDesc": "V4_9_8"}
	var out bytes.Buffer
	writeClusterList(&out, rows)
	lines := strings.Split(strings.TrimRight(out.String(), "\n"), "\n")
	if len(lines) != 4 {
		t.Fatalf("table:\n%s", out.String())
	}
	if f := strings.Fields(lines[0]); f[0] != "#Cluster" || !strings.Contains(lines[0], "#InTPS") {
		t.Fatalf("header %q", lines[0])
	}
	want := [][]string{
		{"C", "broker-a", "0", "127.0.0.1:1", "ASYNC_MASTER", "V4_9_8", "12.50", "-"},
		{"C", "broker-a", "1", "127.0.0.1:2", "-"},
		{"C", "broker-b", "0", "127.0.0.1:3", "-"},
	}
	for i, w := range want {
		f := strings.Fields(lines[i+1])
		for j := range w {
			if f[j] != w[j] {
				t.Fatalf("row %d = %v, want prefix %v", i, f, w)
			}
		}
	}
	// Columns are aligned: every row starts its address at the same byte offset.
	col := strings.Index(lines[0], "#Addr")
	for _, l := range lines[1:] {
		if !strings.HasPrefix(l[col:], "127.0.0.1:") {
			t.Fatalf("misaligned row %q (column at %d)", l, col)
		}
	}
}

func TestProgressAndStatusTables(t *testing.T) {
	var out bytes.Buffer
	q := client.MessageQueue{Topic: "T", BrokerName: "broker-a", QueueID: 3}
	writeProgress(&out, &admin.Progress{ConsumeTPS: 2.5, Queues: []admin.QueueProgress{{Queue: q, BrokerOffset: 10, ConsumerOffset: 4}}})
	s := out.String()
	if !strings.Contains(s, "#Diff") || !strings.Contains(s, "Diff Total: 6") || !strings.Contains(s, "Consume TPS: 2.50") {
		t.Fatalf("progress:\n%s", s)
	}
	row := strings.Fields(strings.Split(s, "\n")[1])
	if strings.Join(row, " ") != "T broker-a 3 10 4 6 -" {
		t.Fatalf("progress row %v", row)
	}
	out.Reset()
	writeTopicStatus(&out, []admin.QueueStatus{{Queue: q, MinOffset: 1, MaxOffset: 7, LastUpdate: time.UnixMilli(0).Add(time.Hour)}})
	row = strings.Fields(strings.Split(out.String(), "\n")[1])
	if row[0] != "broker-a" || row[1] != "3" || row[2] != "1" || row[3] != "7" {
		t.Fatalf("status row %v", row)
	}
}
