package conf

import (
	"errors"
	"reflect"
	"strings"
	"testing"
	"time"
)

func TestParseNamesrv(t *testing.T) {
	c, warns, err := ParseNamesrv(strings.NewReader(
		"# namesrv.properties\n"+
			"listenPort=19876\n"+
			"orderMessageEnable=true\n"+
			"kvConfigPath=/data/namesrv/kv.json\n"+
			"scanNotActiveBrokerInterval=5s\n"+
			"brokerChannelExpiredTime=30000\n"+ // bare integer = ms
			"serverWorkerThreads=16\n"), "namesrv.properties")
	if err != nil || len(warns) != 0 {
		t.Fatalf("err=%v warns=%v", err, warns)
	}
	want := DefaultNamesrv()
	want.ListenPort = 19876
	want.OrderMessageEnable = true
	want.KvConfigPath = "/data/namesrv/kv.json"
	want.ScanNotActiveBrokerInterval = 5 * time.Second
	want.BrokerChannelExpiredTime = 30 * time.Second
	want.ServerWorkerThreads = 16
	if !reflect.DeepEqual(c, want) {
		t.Errorf("got %+v\nwant %+v", c, want)
	}
	if err := c.Validate(); err != nil {
		t.Error(err)
	}
}

func TestParseNamesrvErrors(t *testing.T) {
	_, warns, err := ParseNamesrv(strings.NewReader(
		"listenPort=0\n"+
			"brokerName=a\n"+
			"scanNotActiveBrokerInterval=soon\n"+
			"brokerChannelExpiredTime=-1s\n"+
			"orderMessageEnable=on\n"), "ns.properties")
	want := "ns.properties:1: listenPort: 0 out of range (want 1..65535)\n" +
		"ns.properties:3: scanNotActiveBrokerInterval: invalid value \"soon\" (want a duration such as 10s or 2m, or milliseconds)\n" +
		"ns.properties:4: brokerChannelExpiredTime: -1s out of range (want >= 1ms)\n" +
		"ns.properties:5: orderMessageEnable: invalid value \"on\" (want true or false)"
	if err == nil || err.Error() != want {
		t.Errorf("err =\n%v\nwant\n%s", err, want)
	}
	if len(warns) != 1 || warns[0].String() != "ns.properties:2: brokerName: unknown key" {
		t.Errorf("warns = %v", warns)
	}
}

func TestNamesrvValidate(t *testing.T) {
	tests := []struct {
		name   string
		mutate func(*NamesrvConfig)
		want   string
	}{
		{"defaults", func(*NamesrvConfig) {}, ""},
		{"scan longer than expiry", func(c *NamesrvConfig) { c.ScanNotActiveBrokerInterval = 3 * time.Minute },
			"scanNotActiveBrokerInterval: 3m0s is longer than brokerChannelExpiredTime 2m0s"},
		{"zero durations", func(c *NamesrvConfig) { c.ScanNotActiveBrokerInterval, c.BrokerChannelExpiredTime = 0, 0 },
			"scanNotActiveBrokerInterval: 0s out of range (want >= 1ms)\nbrokerChannelExpiredTime: 0s out of range (want >= 1ms)"},
		{"threads", func(c *NamesrvConfig) { c.ServerWorkerThreads = 0 }, "serverWorkerThreads: 0 out of range (want 1..1024)"},
		{"same files", func(c *NamesrvConfig) { c.KvConfigPath, c.ConfigStorePath = "/a/x", "/a//x" },
			`configStorePath: same path "/a//x" as kvConfigPath`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c := DefaultNamesrv()
			tc.mutate(&c)
			got := ""
			if err := c.Validate(); err != nil {
				got = err.Error()
			}
			if got != tc.want {
				t.Errorf("Validate =\n%s\nwant\n%s", got, tc.want)
			}
		})
	}
}

func TestNamesrvApplyEnv(t *testing.T) {
	c := DefaultNamesrv()
	_, err := c.ApplyEnv(env(map[string]string{
		"GOROCKET_LISTEN_PORT":                     "9877",
		"GOROCKET_SCAN_NOT_ACTIVE_BROKER_INTERVAL": "2s",
		"GOROCKET_BROKER_CHANNEL_EXPIRED_TIME":     "1m",
		"ROCKETMQ_HOME":                            "/opt/rocketmq",
	}))
	if err != nil || c.ListenPort != 9877 || c.ScanNotActiveBrokerInterval != 2*time.Second ||
		c.BrokerChannelExpiredTime != time.Minute || c.RocketmqHome != "/opt/rocketmq" {
		t.Errorf("c=%+v err=%v", c, err)
	}
	c = DefaultNamesrv()
	c.RocketmqHome = "/file"
	_, err = c.ApplyEnv(env(map[string]string{"ROCKETMQ_HOME": "/env", "GOROCKET_SERVER_WORKER_THREADS": "many"}))
	var e *Error
	if c.RocketmqHome != "/file" || !errors.As(err, &e) ||
		err.Error() != `env GOROCKET_SERVER_WORKER_THREADS: serverWorkerThreads: invalid value "many" (want an integer)` {
		t.Errorf("c=%+v err=%v", c, err)
	}
}

func TestNamesrvKeysAndRoundTrip(t *testing.T) {
	keys := NamesrvKeys()
	if n := reflect.TypeFor[NamesrvConfig]().NumField(); len(keys) != n {
		t.Errorf("%d keys for %d fields", len(keys), n)
	}
	ext := 0
	for _, k := range keys {
		c := DefaultNamesrv()
		v := sampleValue(k)
		if err := c.Set(k.Key, v); err != nil {
			t.Errorf("Set(%s, %q): %v", k.Key, v, err)
		}
		if n := changedFields(DefaultNamesrv(), c); n != 1 {
			t.Errorf("Set(%s) changed %d fields", k.Key, n)
		}
		if k.Extension {
			ext++
		}
	}
	if ext != 2 {
		t.Errorf("%d extension keys, want 2", ext)
	}
	custom := DefaultNamesrv()
	custom.ListenPort = 1
	custom.RocketmqHome = "/opt/rmq"
	custom.KvConfigPath = "/d/kv.json"
	custom.OrderMessageEnable = true
	custom.ServerCallbackExecutorThreads = 4
	custom.ScanNotActiveBrokerInterval = 1500 * time.Millisecond
	custom.BrokerChannelExpiredTime = 90 * time.Minute
	for _, c := range []NamesrvConfig{DefaultNamesrv(), custom} {
		text := c.Render()
		got, warns, err := ParseNamesrv(strings.NewReader(string(text)), "rendered")
		if err != nil || len(warns) != 0 || !reflect.DeepEqual(got, c) {
			t.Errorf("round trip: err=%v warns=%v\n%+v\nwant %+v\n%s", err, warns, got, c, text)
		}
	}
	want := "# gorocket nameserver configuration (generated; keys: internal/conf NamesrvKeys)\n" +
		"listenPort=9876\norderMessageEnable=false\nserverWorkerThreads=8\nserverSelectorThreads=3\n" +
		"serverChannelMaxIdleTimeSeconds=120\nscanNotActiveBrokerInterval=10s\nbrokerChannelExpiredTime=2m0s\n"
	if got := string(DefaultNamesrv().Render()); got != want {
		t.Errorf("Render =\n%s\nwant\n%s", got, want)
	}
	r := DefaultNamesrv().Resolve("/home/u")
	if r.KvConfigPath != "/home/u/namesrv/kvConfig.json" || r.ConfigStorePath != "/home/u/namesrv/namesrv.properties" {
		t.Errorf("Resolve = %+v", r)
	}
}
