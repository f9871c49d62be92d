package main

import (
	"bytes"
	"context"
	"net"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/gorocket/gorocket/remoting"
	"github.com/gorocket/gorocket/remoting/protocol"
)

type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

func writeFile(t *testing.T, content string) string {
	p := filepath.Join(t.TempDir(), "namesrv.properties")
	if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestCheckConfig(t *testing.T) {
	home := t.TempDir()
	t.Setenv("HOME", home)
	tests := []struct {
		name   string
		file   string
		args   []string
		code   int
		stdout string
		stderr string
	}{
		{"defaults", "", nil, 0, "configuration OK (listen 0.0.0.0:9876, kvConfigPath " + filepath.Join(home, "namesrv", "kvConfig.json") + ")", ""},
		{"java keys accepted", "rocketmqHome=/opt/rocketmq\nlistenPort=19876\nkvConfigPath=/data/kv.json\norderMessageEnable=true\nserverWorkerThreads=16\n", nil, 0,
			"configuration OK (listen 0.0.0.0:19876, kvConfigPath /data/kv.json)", ""},
		{"unknown key warned", "listenPort=9877\nfooBar=1\n", nil, 0, "listen 0.0.0.0:9877", "namesrv.properties:2: fooBar: "},
		{"bad value rejected with file:line", "listenPort=9876\norderMessageEnable=yes\n", nil, 2, "", "namesrv.properties:2: orderMessageEnable: "},
		{"-n overrides listenPort", "listenPort=19876\n", []string{"-n", "127.0.0.1:7777"}, 0, "listen 127.0.0.1:7777", ""},
		{"--listen with a bare port", "", []string{"--listen", "7778"}, 0, "listen 0.0.0.0:7778", ""},
		{"bad -n", "", []string{"-n", "host:notaport"}, 2, "", "bad port"},
		{"bad log format", "", []string{"--log-format", "xml"}, 2, "", "--log-format"},
		{"stray argument", "", []string{"extra"}, 2, "", "unexpected arguments: extra"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			args := append([]string{"--check-config"}, tt.args...)
			if tt.file != "" {
				args = append(args, "-c", writeFile(t, tt.file))
			}
			var stdout, stderr bytes.Buffer
			code := run(args, &stdout, &stderr, nil)
			if code != tt.code || !strings.Contains(stdout.String(), tt.stdout) || !strings.Contains(stderr.String(), tt.stderr) {
				t.Fatalf("exit %d (want %d)\nstdout: %s\nstderr: %s", code, tt.code, stdout.String(), stderr.String())
			}
		})
	}
}

func TestPrintConfig(t *testing.T) {
	t.Setenv("HOME", t.TempDir())
	t.Setenv("GOROCKET_ORDER_MESSAGE_ENABLE", "true")
	var stdout, stderr bytes.Buffer
	if code := run([]string{"-p", "-n", "9999"}, &stdout, &stderr, nil); code != 0 {
		t.Fatalf("exit %d: %s", code, stderr.String())
	}
	for _, want := range []string{"listenPort=9999", "orderMessageEnable=true"} {
		if !strings.Contains(stdout.String(), want) {
			t.Fatalf("missing %q in:\n%s", want, stdout.String())
		}
	}
}

// TestRunServesAndShutsDown starts the daemon on a random loopback port, talks to it, and
// stops it with SIGTERM.
func TestRunServesAndShutsDown(t *testing.T) {
	t.Setenv("HOME", t.TempDir())
	stderr := &syncBuffer{}
	sig := make(chan os.Signal, 1)
	done := make(chan int, 1)
	go func() {
		done <- run([]string{"-n", "127.0.0.1:0", "--log-format", "json"}, &bytes.Buffer{}, stderr, sig)
	}()

	re := regexp.MustCompile(`"msg":"nameserver: started","addr":"([^"]+)"`)
	var addr string
	deadline := time.Now().Add(10 * time.Second)
	for addr == "" {
		if m := re.FindStringSubmatch(stderr.String()); m != nil {
			addr = m[1]
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("no start log line: %s", stderr.String())
		}
		time.Sleep(5 * time.Millisecond)
	}
	if host, _, _ := net.SplitHostPort(addr); host != "127.0.0.1" {
		t.Fatalf("addr %s", addr)
	}
	cli := remoting.NewClient(nil, remoting.ClientOptions{})
	defer cli.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	resp, err := cli.Invoke(ctx, addr, protocol.NewRequest(protocol.ReqGetRouteInfoByTopic, &protocol.GetRouteInfoRequestHeader{Topic: "T"}, nil))
	if err != nil || resp.Code != protocol.RespTopicNotExist {
		t.Fatalf("route: %v %v", resp, err)
	}
	sig <- syscall.SIGTERM
	select {
	case code := <-done:
		if code != 0 {
			t.Fatalf("exit %d: %s", code, stderr.String())
		}
	case <-time.After(10 * time.Second):
		t.Fatal("no shutdown after SIGTERM")
	}
	if !strings.Contains(stderr.String(), `"msg":"namesrv: shutting down","signal":"terminated"`) {
		t.Fatalf("shutdown not logged: %s", stderr.String())
	}
}
