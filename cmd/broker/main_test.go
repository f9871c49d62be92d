package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/gorocket/gorocket/internal/conf"
)

func writeFile(t *testing.T, name, text string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(p, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestBrokerCmdCheckConfig(t *testing.T) {
	good := writeFile(t, "good.properties", "brokerName=b1\nnamesrvAddr=127.0.0.1:9876;127.0.0.2:9876\nstorePathRootDir=/tmp/x\nfoo=bar\n")
	bad := writeFile(t, "bad.properties", "brokerName=b1\n\nbrokerRole=MASTR\nlistenPort=notanumber\n")
	tests := []struct {
		name     string
		args     []string
		code     int
		contains string
	}{
		{"valid with unknown key", []string{"-c", good, "--check-config"}, 0, "configuration OK (1 warnings)"},
		{"invalid values located", []string{"-c", bad, "--check-config"}, 1, "bad.properties:3: brokerRole"},
		{"second error too", []string{"-c", bad, "--check-config"}, 1, "bad.properties:4: listenPort"},
		{"missing file", []string{"-c", filepath.Join(t.TempDir(), "none"), "--check-config"}, 1, "none"},
		{"bad flag", []string{"--nope"}, 2, "flag provided but not defined"},
		{"extra args", []string{"x"}, 2, "unexpected arguments"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var out, errb bytes.Buffer
			code := run(tt.args, &out, &errb)
			if code != tt.code || !strings.Contains(out.String()+errb.String(), tt.contains) {
				t.Fatalf("code %d, stdout %q, stderr %q; want code %d containing %q", code, out.String(), errb.String(), tt.code, tt.contains)
			}
		})
	}
}

func TestBrokerCmdLoadConfigOrder(t *testing.T) {
	p := writeFile(t, "b.properties", "brokerName=fromfile\nnamesrvAddr=10.0.0.1:9876\nlistenPort=10911\nstorePathRootDir=/data/store\n")
	env := map[string]string{"GOROCKET_LISTEN_PORT": "20911", "GOROCKET_BROKER_IP1": "10.1.1.1"}
	lookup := func(k string) (string, bool) { v, ok := env[k]; return v, ok }
	cfg, _, err := loadConfig(flags{configPath: p, namesrv: "1.1.1.1:9876;2.2.2.2:9876"}, lookup)
	if err != nil {
		t.Fatal(err)
	}
	if cfg.BrokerName != "fromfile" || cfg.ListenPort != 20911 || cfg.BrokerIP1 != "10.1.1.1" {
		t.Fatalf("file/env order wrong: %+v", cfg)
	}
	if len(cfg.NamesrvAddr) != 2 || cfg.NamesrvAddr[1] != "2.2.2.2:9876" {
		t.Fatalf("-n not applied: %v", cfg.NamesrvAddr)
	}
	if cfg.StorePathCommitLog != "/data/store/commitlog" || cfg.HAListenPort != 20912 {
		t.Fatalf("automatic values not resolved: %s %d", cfg.StorePathCommitLog, cfg.HAListenPort)
	}
}

func TestBrokerCmdPodIdentity(t *testing.T) {
	tests := []struct {
		env     map[string]string
		id      int64
		role    string
		wantErr bool
	}{
		{map[string]string{}, 0, conf.RoleAsyncMaster, false},
		{map[string]string{"GOROCKET_POD_ORDINAL_AS_BROKER_ID": "true", "POD_NAME": "rmq-broker-a-0"}, 0, conf.RoleAsyncMaster, false},
		{map[string]string{"GOROCKET_POD_ORDINAL_AS_BROKER_ID": "true", "POD_NAME": "rmq-broker-a-2"}, 2, conf.RoleSlave, false},
		{map[string]string{"GOROCKET_POD_ORDINAL_AS_BROKER_ID": "true", "POD_NAME": "noordinal"}, 0, "", true},
	}
	for _, tt := range tests {
		cfg := conf.DefaultBroker()
		err := applyPodIdentity(&cfg, func(k string) (string, bool) { v, ok := tt.env[k]; return v, ok })
		if (err != nil) != tt.wantErr {
			t.Fatalf("%v: err %v", tt.env, err)
		}
		if err == nil && (cfg.BrokerID != tt.id || cfg.BrokerRole != tt.role) {
			t.Fatalf("%v: id %d role %s", tt.env, cfg.BrokerID, cfg.BrokerRole)
		}
	}
}

func TestBrokerCmdGuideConfigsLoad(t *testing.T) {
	// The deployment guides' files as shipped (byte-identical copies in internal/conf/testdata).
	paths, _ := filepath.Glob(filepath.Join("..", "..", "internal", "conf", "testdata", "*.properties"))
	if len(paths) < 5 {
		t.Fatalf("guide configs missing: found %v", paths)
	}
	for _, p := range paths {
		var out, errb bytes.Buffer
		if code := run([]string{"-c", p, "--check-config"}, &out, &errb); code != 0 {
			t.Errorf("%s: code %d: %s", p, code, errb.String())
		}
	}
}
