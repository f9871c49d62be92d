package conf

import (
	"bufio"
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"strings"
	"testing"
)

// The deployment guides' files, as shipped (Chinese comments, U+00A0 blanks).
var guideFiles = []string{
	"broker-a.properties", "broker-a-s.properties", "broker-b.properties", "broker-b-s.properties",
	"broker-demo.properties", "broker-n0.conf",
}

func TestBrokerGuideFiles(t *testing.T) {
	for _, f := range guideFiles {
		t.Run(f, func(t *testing.T) {
			c, warns, err := LoadBroker(filepath.Join("testdata", f))
			if err != nil {
				t.Fatalf("errors: %v", err)
			}
			if len(warns) != 0 {
				t.Fatalf("warnings: %v", warns)
			}
			if err := c.Validate(); err != nil {
				t.Fatalf("Validate: %v", err)
			}
		})
	}

	c, _, _ := LoadBroker("testdata/broker-a-s.properties")
	want := DefaultBroker()
	want.BrokerClusterName = "rocketmq-cluster"
	want.BrokerName = "broker-a"
	want.BrokerID = 1
	want.NamesrvAddr = []string{"192.168.116.128:9876", "192.168.116.132:9876"}
	want.DefaultTopicQueueNums = 4
	want.ListenPort = 11011
	want.DeleteWhen = "04"
	want.FileReservedTime = 120
	want.MapedFileSizeCommitLog = 1073741824
	want.MapedFileSizeConsumeQueue = 300000
	want.DiskMaxUsedSpaceRatio = 88
	want.StorePathRootDir = "/usr/local/rocketmq/slave"
	want.StorePathCommitLog = "/usr/local/rocketmq/slave/commitlog"
	want.StorePathConsumeQueue = "/usr/local/rocketmq/slave/consumequeue"
	want.StorePathIndex = "/usr/local/rocketmq/slave/index"
	want.StoreCheckpoint = "/usr/local/rocketmq/slave/checkpoint"
	want.AbortFile = "/usr/local/rocketmq/slave/abort"
	want.MaxMessageSize = 65536
	want.BrokerRole = RoleSlave
	want.FlushDiskType = FlushAsync
	if !reflect.DeepEqual(c, want) {
		t.Errorf("broker-a-s parsed as\n%+v\nwant\n%+v", c, want)
	}

	d, _, _ := LoadBroker("testdata/broker-n0.conf")
	if d.BrokerClusterName != "RaftCluster" || !d.EnableDLegerCommitLog || d.DLegerSelfID != "n0" ||
		d.SendMessageThreadPoolNums != 16 || d.ListenPort != 30911 {
		t.Errorf("broker-n0 parsed as %+v", d)
	}
	peers, err := d.DLedgerPeers()
	wantPeers := []DLedgerPeer{{"n0", "192.168.56.201:40911"}, {"n1", "192.168.56.202:40912"}, {"n2", "192.168.56.202:40913"}}
	if err != nil || !reflect.DeepEqual(peers, wantPeers) {
		t.Errorf("DLedgerPeers = %v, %v", peers, err)
	}
}

// Every key the guides leave commented out ("#flushCommitLogLeastPages=4")
// must be known too.
func TestBrokerGuideCommentedKeys(t *testing.T) {
	commented := regexp.MustCompile(`^#([a-zA-Z][a-zA-Z0-9]*=.*)$`)
	var b strings.Builder
	seen := map[string]bool{}
	for _, f := range guideFiles {
		fh, err := os.Open(filepath.Join("testdata", f))
		if err != nil {
			t.Fatal(err)
		}
		s := bufio.NewScanner(fh)
		for s.Scan() {
			if m := commented.FindStringSubmatch(s.Text()); m != nil {
				k, _, _ := strings.Cut(m[1], "=")
				if !seen[k] {
					seen[k] = true
					b.WriteString(m[1] + "\n")
				}
			}
		}
		fh.Close()
	}
	for _, k := range []string{"destroyMapedFileIntervalForcibly", "redeleteHangedFileInterval", "flushCommitLogLeastPages",
		"flushConsumeQueueLeastPages", "flushCommitLogThoroughInterval", "flushConsumeQueueThoroughInterval",
		"checkTransactionMessageEnable", "sendMessageThreadPoolNums", "pullMessageThreadPoolNums"} {
		if !seen[k] {
			t.Errorf("expected commented-out key %s in the guides", k)
		}
	}
	c, warns, err := ParseBroker(strings.NewReader(b.String()), "uncommented.properties")
	if err != nil || len(warns) != 0 {
		t.Fatalf("uncommented keys:\n%s\nerr=%v warns=%v", b.String(), err, warns)
	}
	if c.PullMessageThreadPoolNums != 128 || c.CheckTransactionMessageEnable || c.FlushConsumeQueueThoroughInterval != 60000 {
		t.Errorf("uncommented values not applied: %+v", c)
	}
	if err := c.Validate(); err != nil {
		t.Errorf("Validate: %v", err)
	}
}

func TestParseBrokerValueErrors(t *testing.T) {
	const f = "broker.properties"
	tests := []struct{ line, want string }{
		{"brokerRole=MASTR", `broker.properties:2: brokerRole: invalid value "MASTR" (want ASYNC_MASTER, SYNC_MASTER or SLAVE)`},
		{"flushDiskType=SYNC", `broker.properties:2: flushDiskType: invalid value "SYNC" (want ASYNC_FLUSH or SYNC_FLUSH)`},
		{"listenPort=abc", `broker.properties:2: listenPort: invalid value "abc" (want an integer)`},
		{"listenPort=10911x", `broker.properties:2: listenPort: invalid value "10911x" (want an integer)`},
		{"listenPort=0x2A", `broker.properties:2: listenPort: invalid value "0x2A" (want an integer)`},
		{"listenPort=70000", `broker.properties:2: listenPort: 70000 out of range (want 3..65534)`},
		{"listenPort=", `broker.properties:2: listenPort: invalid value "" (want an integer)`},
		{"maxMessageSize=4294967296", `broker.properties:2: maxMessageSize: invalid value "4294967296" (out of the 32-bit integer range)`},
		{"brokerId=-1", `broker.properties:2: brokerId: -1 out of range (want >= 0)`},
		{"brokerId=99999999999999999999", `broker.properties:2: brokerId: invalid value "99999999999999999999" (out of the 64-bit integer range)`},
		{"diskMaxUsedSpaceRatio=99", `broker.properties:2: diskMaxUsedSpaceRatio: 99 out of range (want 10..95)`},
		{"autoCreateTopicEnable=yes", `broker.properties:2: autoCreateTopicEnable: invalid value "yes" (want true or false)`},
		{"slaveReadEnable=1", `broker.properties:2: slaveReadEnable: invalid value "1" (want true or false)`},
		{"namesrvAddr=10.0.0.1:9876;10.0.0.2", `broker.properties:2: namesrvAddr: invalid address "10.0.0.2" (want host:port)`},
		{"namesrvAddr=10.0.0.1:98760", `broker.properties:2: namesrvAddr: invalid address "10.0.0.1:98760" (port must be 1..65535)`},
		{"haMasterAddress=10.0.0.1", `broker.properties:2: haMasterAddress: invalid address "10.0.0.1" (want host:port)`},
		{"brokerIP1=10.0.0.1:10911", `broker.properties:2: brokerIP1: invalid host "10.0.0.1:10911" (want an IP address or host name, without port)`},
		{"brokerName=broker.a", `broker.properties:2: brokerName: invalid value "broker.a" (it is also used as a topic name, so only letters, digits, '-', '_', '%' and '|' are allowed)`},
		{"brokerClusterName=", `broker.properties:2: brokerClusterName: must not be empty`},
		{"deleteWhen=4am", `broker.properties:2: deleteWhen: invalid value "4am" (want hours 00..23, ';'-separated, e.g. 04 or 04;16)`},
		{"deleteWhen=04;24", `broker.properties:2: deleteWhen: invalid value "04;24" (want hours 00..23, ';'-separated, e.g. 04 or 04;16)`},
		{"messageDelayLevel=1s 5x", `broker.properties:2: messageDelayLevel: invalid level "5x" in "1s 5x" (want numbers with unit s, m, h or d, space-separated)`},
		{"mapedFileSizeConsumeQueue=300001", `broker.properties:2: mapedFileSizeConsumeQueue: 300001 is not a multiple of 20 (the consume-queue entry size)`},
		{"dLegerPeers=n0:10.0.0.1:40911", `broker.properties:2: dLegerPeers: invalid peer "n0:10.0.0.1:40911" (want id-host:port, e.g. n0-10.0.0.1:40911)`},
		{"dLegerPeers=n0-a:1;n0-b:2", `broker.properties:2: dLegerPeers: duplicate peer id "n0"`},
		{"brokerPermission=8", `broker.properties:2: brokerPermission: 8 out of range (want 0..7)`},
		{"registerNameServerPeriod=5000", `broker.properties:2: registerNameServerPeriod: 5000 out of range (want 10000..60000)`},
	}
	for _, tc := range tests {
		t.Run(tc.line, func(t *testing.T) {
			in := "# header\n" + tc.line + "\n"
			c, _, err := ParseBroker(strings.NewReader(in), f)
			var list ErrorList
			if !errors.As(err, &list) || len(list) != 1 {
				t.Fatalf("err = %v, want one error", err)
			}
			if got := err.Error(); got != tc.want {
				t.Errorf("got  %s\nwant %s", got, tc.want)
			}
			// The bad value is not applied.
			if !reflect.DeepEqual(c, DefaultBroker()) {
				t.Errorf("config changed by a bad value: %+v", c)
			}
		})
	}
}

func TestParseBrokerValueForms(t *testing.T) {
	c, w, err := ParseBroker(strings.NewReader(
		"brokerRole = sync_master\n"+
			"flushDiskType: Sync_Flush\n"+
			"autoCreateTopicEnable FALSE\n"+
			"brokerId=+2\n"+
			"namesrvAddr= a:1 ; ;b:2;\n"+
			"deleteWhen=04;16\n"+
			"brokerName=\\u0062roker-x\n"+
			"storePathRootDir=/data/中文 dir\n"), "forms")
	if err != nil || len(w) != 0 {
		t.Fatalf("err=%v warns=%v", err, w)
	}
	if c.BrokerRole != RoleSyncMaster || c.FlushDiskType != FlushSync || c.AutoCreateTopicEnable || c.BrokerID != 2 ||
		!reflect.DeepEqual(c.NamesrvAddr, []string{"a:1", "b:2"}) || c.BrokerName != "broker-x" ||
		c.StorePathRootDir != "/data/中文 dir" {
		t.Errorf("parsed %+v", c)
	}
	if got := c.DeleteHours(); !reflect.DeepEqual(got, []int{4, 16}) {
		t.Errorf("DeleteHours = %v", got)
	}
}

func TestParseBrokerCollectsEverything(t *testing.T) {
	in := "brokerName=broker-a\n" + // 1
		"listenPort=abc\n" + // 2
		"brokername=x\n" + // 3: unknown, did you mean
		"fooBar=1\n" + // 4: unknown
		"brokerRole=MASTR\n" + // 5
		"mapedFileSizeCommitLog=1000000\n" + // 6
		"mappedFileSizeCommitLog=2000000\n" + // 7: alias of line 6, wins
		"slaveReadEnable=maybe\n" + // 8
		"fileReservedTime=1\n" + // 9
		"fileReservedTime=48\n" + // 10: duplicate, wins
		"brokerId=x\n" + // 11: bad, but overridden by line 12
		"brokerId=0\n" + // 12
		"a=\\u00zz\n" // 13: syntax error
	c, warns, err := ParseBroker(strings.NewReader(in), "b.properties")
	var list ErrorList
	if !errors.As(err, &list) {
		t.Fatalf("err = %v", err)
	}
	wantErrs := []string{
		`b.properties:13: a: malformed \uXXXX escape "\\u00zz"`,
		`b.properties:2: listenPort: invalid value "abc" (want an integer)`,
		`b.properties:5: brokerRole: invalid value "MASTR" (want ASYNC_MASTER, SYNC_MASTER or SLAVE)`,
		`b.properties:8: slaveReadEnable: invalid value "maybe" (want true or false)`,
	}
	if len(list) != len(wantErrs) {
		t.Fatalf("errors:\n%v", err)
	}
	for i, e := range list {
		if e.Error() != wantErrs[i] {
			t.Errorf("error %d: %s\nwant     %s", i, e, wantErrs[i])
		}
	}
	wantWarns := []string{
		"b.properties:10: fileReservedTime: duplicate key: overrides the value set on line 9",
		"b.properties:12: brokerId: duplicate key: overrides the value set on line 11",
		"b.properties:3: brokername: unknown key (did you mean brokerName?)",
		"b.properties:4: fooBar: unknown key",
		"b.properties:7: mappedFileSizeCommitLog: overrides mapedFileSizeCommitLog set on line 6 (same setting)",
	}
	if len(warns) != len(wantWarns) {
		t.Fatalf("warnings: %v", warns)
	}
	for i, w := range warns {
		if w.String() != wantWarns[i] {
			t.Errorf("warning %d: %s\nwant       %s", i, w, wantWarns[i])
		}
	}
	if c.BrokerName != "broker-a" || c.MapedFileSizeCommitLog != 2000000 || c.FileReservedTime != 48 || c.BrokerID != 0 {
		t.Errorf("valid keys not applied: %+v", c)
	}
	var e *Error
	if !errors.As(err, &e) || e.File != "b.properties" || e.Line != 13 {
		t.Errorf("errors.As = %+v", e)
	}
}

func TestLoadBrokerMissingFile(t *testing.T) {
	_, _, err := LoadBroker("testdata/nope.properties")
	if err == nil || !errors.Is(err, os.ErrNotExist) || !strings.Contains(err.Error(), "testdata/nope.properties") {
		t.Fatalf("err = %v", err)
	}
}

func env(m map[string]string) func(string) (string, bool) {
	return func(k string) (string, bool) { v, ok := m[k]; return v, ok }
}

func TestBrokerApplyEnv(t *testing.T) {
	t.Run("overrides", func(t *testing.T) {
		c, _, _ := ParseBroker(strings.NewReader("brokerName=file\nlistenPort=10911\nnamesrvAddr=f:1\n"), "f")
		warns, err := c.ApplyEnv(env(map[string]string{
			"GOROCKET_BROKER_NAME":                "env-name",
			"GOROCKET_BROKER_IP1":                 "10.1.2.3",
			"GOROCKET_LISTEN_PORT":                "20911",
			"GOROCKET_AUTO_CREATE_TOPIC_ENABLE":   "false",
			"GOROCKET_NAMESRV_ADDR":               "e:1;e:2",
			"GOROCKET_MAPED_FILE_SIZE_COMMIT_LOG": "1", // aliases have no variable
			"NAMESRV_ADDR":                        "n:1",
		}))
		if err != nil {
			t.Fatal(err)
		}
		if c.BrokerName != "env-name" || c.BrokerIP1 != "10.1.2.3" || c.ListenPort != 20911 || c.AutoCreateTopicEnable ||
			!reflect.DeepEqual(c.NamesrvAddr, []string{"e:1", "e:2"}) || c.MapedFileSizeCommitLog != 1<<30 {
			t.Errorf("config %+v", c)
		}
		if len(warns) != 1 || warns[0].String() != "env NAMESRV_ADDR: namesrvAddr: ignored: namesrvAddr is already set by the file or GOROCKET_NAMESRV_ADDR" {
			t.Errorf("warnings %v", warns)
		}
	})
	t.Run("NAMESRV_ADDR fallback", func(t *testing.T) {
		c := DefaultBroker()
		warns, err := c.ApplyEnv(env(map[string]string{"NAMESRV_ADDR": "ns-0:9876;ns-1:9876"}))
		if err != nil || len(warns) != 0 || !reflect.DeepEqual(c.NamesrvAddr, []string{"ns-0:9876", "ns-1:9876"}) {
			t.Errorf("c=%v warns=%v err=%v", c.NamesrvAddr, warns, err)
		}
	})
	t.Run("errors", func(t *testing.T) {
		c := DefaultBroker()
		_, err := c.ApplyEnv(env(map[string]string{
			"GOROCKET_LISTEN_PORT": "x",
			"GOROCKET_BROKER_ROLE": "BOSS",
			"NAMESRV_ADDR":         "nohostport",
		}))
		want := "env GOROCKET_LISTEN_PORT: listenPort: invalid value \"x\" (want an integer)\n" +
			"env GOROCKET_BROKER_ROLE: brokerRole: invalid value \"BOSS\" (want ASYNC_MASTER, SYNC_MASTER or SLAVE)\n" +
			"env NAMESRV_ADDR: namesrvAddr: invalid address \"nohostport\" (want host:port)"
		if err == nil || err.Error() != want {
			t.Errorf("err =\n%v\nwant\n%s", err, want)
		}
	})
}

func TestEnvName(t *testing.T) {
	for key, want := range map[string]string{
		"brokerName":              "GOROCKET_BROKER_NAME",
		"brokerIP1":               "GOROCKET_BROKER_IP1",
		"brokerIP2":               "GOROCKET_BROKER_IP2",
		"haListenPort":            "GOROCKET_HA_LISTEN_PORT",
		"namesrvAddr":             "GOROCKET_NAMESRV_ADDR",
		"checkCRCOnRecover":       "GOROCKET_CHECK_CRC_ON_RECOVER",
		"dLegerPeers":             "GOROCKET_D_LEGER_PEERS",
		"enableDLegerCommitLog":   "GOROCKET_ENABLE_D_LEGER_COMMIT_LOG",
		"mappedFileSizeCommitLog": "GOROCKET_MAPPED_FILE_SIZE_COMMIT_LOG",
		"listenPort":              "GOROCKET_LISTEN_PORT",
	} {
		if got := EnvName(key); got != want {
			t.Errorf("EnvName(%s) = %s, want %s", key, got, want)
		}
	}
}

func TestBrokerKeys(t *testing.T) {
	keys := BrokerKeys()
	if n := reflect.TypeFor[BrokerConfig]().NumField(); len(keys) != n {
		t.Errorf("%d keys for %d BrokerConfig fields", len(keys), n)
	}
	envs := map[string]string{}
	for _, k := range keys {
		if k.Doc == "" || k.Type == "" || k.Env != EnvName(k.Key) {
			t.Errorf("incomplete KeyInfo %+v", k)
		}
		if prev, dup := envs[k.Env]; dup {
			t.Errorf("keys %s and %s share %s", prev, k.Key, k.Env)
		}
		envs[k.Env] = k.Key
		if (k.Type == TypeEnum) != (len(k.Values) > 0) {
			t.Errorf("%s: enum values %v", k.Key, k.Values)
		}
		// Every key is wired to exactly one field: a non-default value
		// changes exactly one field, and Get reads it back.
		v := sampleValue(k)
		c := DefaultBroker()
		if err := c.Set(k.Key, v); err != nil {
			t.Errorf("Set(%s, %q): %v", k.Key, v, err)
			continue
		}
		if got, _ := c.Get(k.Key); got != v {
			t.Errorf("Get(%s) = %q after Set %q", k.Key, got, v)
		}
		if n := changedFields(DefaultBroker(), c); n != 1 {
			t.Errorf("Set(%s) changed %d fields", k.Key, n)
		}
		for _, a := range k.Aliases {
			if got, ok := c.Get(a); !ok || got != v {
				t.Errorf("Get(alias %s) = %q, %v", a, got, ok)
			}
		}
		// Defaults are valid values.
		if k.Default != "" {
			d := DefaultBroker()
			if err := d.Set(k.Key, k.Default); err != nil {
				t.Errorf("%s: default %q does not parse: %v", k.Key, k.Default, err)
			}
		}
	}
	c := DefaultBroker()
	if err := c.Set("nope", "1"); err == nil || err.Error() != "nope: unknown key" {
		t.Errorf("Set(unknown) = %v", err)
	}
	if _, ok := c.Get("nope"); ok {
		t.Error("Get(unknown) found")
	}
	// KeyInfo slices are copies.
	keys[0].Doc = "changed"
	if BrokerKeys()[0].Doc == "changed" {
		t.Error("BrokerKeys exposes internal state")
	}
}

// sampleValue returns a valid non-default value for k.
func sampleValue(k KeyInfo) string {
	switch k.Type {
	case TypeBool:
		if k.Default == "true" {
			return "false"
		}
		return "true"
	case TypeEnum:
		if k.Default == k.Values[0] {
			return k.Values[1]
		}
		return k.Values[0]
	case TypeList:
		return "h1:1;h2:2"
	case TypeDuration:
		return "7s"
	case TypeInt:
		switch k.Key {
		case "mappedFileSizeConsumeQueue":
			return "600000"
		case "mappedFileSizeCommitLog":
			return "1048576"
		case "brokerPermission":
			return "4"
		case "registerNameServerPeriod":
			return "20000"
		case "diskMaxUsedSpaceRatio", "accessMessageInMemoryMaxRatio":
			return "50"
		case "listenPort":
			return "20911"
		}
		if k.Default == "7" {
			return "9"
		}
		return "7"
	}
	switch k.Key {
	case "deleteWhen":
		return "03"
	case "messageDelayLevel":
		return "1s 2m"
	case "dLegerPeers":
		return "n0-h:1"
	case "haMasterAddress":
		return "h:1"
	case "brokerIP1", "brokerIP2":
		return "10.0.0.9"
	}
	return "x-" + k.Key
}

func changedFields(a, b any) int {
	va, vb := reflect.ValueOf(a), reflect.ValueOf(b)
	n := 0
	for i := 0; i < va.NumField(); i++ {
		if !reflect.DeepEqual(va.Field(i).Interface(), vb.Field(i).Interface()) {
			n++
		}
	}
	return n
}

func TestBrokerValidate(t *testing.T) {
	tests := []struct {
		name   string
		mutate func(c *BrokerConfig)
		want   string // "" = valid
	}{
		{"defaults", func(c *BrokerConfig) {}, ""},
		{"slave", func(c *BrokerConfig) { c.BrokerID, c.BrokerRole = 1, RoleSlave }, ""},
		{"slave with id 0", func(c *BrokerConfig) { c.BrokerRole = RoleSlave },
			"brokerRole: SLAVE requires brokerId > 0 (brokerId 0 is the master)"},
		{"master with id 2", func(c *BrokerConfig) { c.BrokerID, c.BrokerRole = 2, RoleSyncMaster },
			"brokerRole: SYNC_MASTER requires brokerId=0 (brokerId 2 is a slave; use brokerRole=SLAVE)"},
		{"negative id", func(c *BrokerConfig) { c.BrokerID = -1 }, "brokerId: -1 out of range (want >= 0)"},
		{"bad enum in struct", func(c *BrokerConfig) { c.FlushDiskType = "sync_flush" },
			`flushDiskType: invalid value "sync_flush" (want ASYNC_FLUSH or SYNC_FLUSH)`},
		{"ratio", func(c *BrokerConfig) { c.DiskMaxUsedSpaceRatio = 5 }, "diskMaxUsedSpaceRatio: 5 out of range (want 10..95)"},
		{"zero sizes", func(c *BrokerConfig) { c.MapedFileSizeCommitLog, c.MaxMessageSize = 0, 0 },
			"maxMessageSize: 0 out of range (want >= 1)\nmappedFileSizeCommitLog: 0 out of range (want >= 4096)"},
		{"cq size", func(c *BrokerConfig) { c.MapedFileSizeConsumeQueue = 30 },
			"mappedFileSizeConsumeQueue: 30 is not a multiple of 20 (the consume-queue entry size)"},
		{"message larger than file", func(c *BrokerConfig) { c.MapedFileSizeCommitLog = 1 << 20; c.MaxMessageSize = 1 << 20 },
			"maxMessageSize: 1048576 must be smaller than mappedFileSizeCommitLog 1048576 (a message never spans commitlog files)"},
		{"port", func(c *BrokerConfig) { c.ListenPort = 65535 }, "listenPort: 65535 out of range (want 3..65534)"},
		{"ha port = listen port", func(c *BrokerConfig) { c.HAListenPort = 10911 },
			"haListenPort: 10911 collides with listenPort 10911 or its VIP port 10909"},
		{"ha port = vip port", func(c *BrokerConfig) { c.HAListenPort = 10909 },
			"haListenPort: 10909 collides with listenPort 10911 or its VIP port 10909"},
		{"explicit ha port", func(c *BrokerConfig) { c.HAListenPort = 20000 }, ""},
		{"empty cluster", func(c *BrokerConfig) { c.BrokerClusterName = "" }, "brokerClusterName: must not be empty"},
		{"bad namesrv", func(c *BrokerConfig) { c.NamesrvAddr = []string{"x"} }, `namesrvAddr: invalid address "x" (want host:port)`},
		{"shared store paths", func(c *BrokerConfig) {
			c.StorePathRootDir = "/s"
			c.StorePathIndex = "/s/consumequeue/"
		}, `storePathIndex: same path "/s/consumequeue/" as storePathConsumeQueue`},
		{"dledger ok, id and role ignored", func(c *BrokerConfig) {
			c.EnableDLegerCommitLog, c.DLegerGroup, c.DLegerPeers, c.DLegerSelfID = true, "g", "n0-a:1;n1-b:2", "n1"
			c.BrokerRole = RoleSlave
		}, ""},
		{"dledger missing all", func(c *BrokerConfig) { c.EnableDLegerCommitLog = true },
			"dLegerGroup: must be set when enableDLegerCommitLog=true\ndLegerPeers: must be set when enableDLegerCommitLog=true"},
		{"dledger missing self", func(c *BrokerConfig) {
			c.EnableDLegerCommitLog, c.DLegerGroup, c.DLegerPeers = true, "g", "n0-a:1"
		}, "dLegerSelfId: must be set when enableDLegerCommitLog=true"},
		{"dledger self not a peer", func(c *BrokerConfig) {
			c.EnableDLegerCommitLog, c.DLegerGroup, c.DLegerPeers, c.DLegerSelfID = true, "g", "n0-a:1", "n3"
		}, `dLegerSelfId: "n3" is not one of the ids in dLegerPeers`},
		{"dledger bad peers reported once", func(c *BrokerConfig) {
			c.EnableDLegerCommitLog, c.DLegerGroup, c.DLegerPeers, c.DLegerSelfID = true, "g", "bad", "n0"
		}, `dLegerPeers: invalid peer "bad" (want id-host:port, e.g. n0-10.0.0.1:40911)`},
		{"many at once", func(c *BrokerConfig) {
			c.ListenPort, c.DeleteWhen, c.MessageDelayLevel = 0, "25", ""
		}, "listenPort: 0 out of range (want 3..65534)\n" +
			"messageDelayLevel: must not be empty\n" +
			`deleteWhen: invalid value "25" (want hours 00..23, ';'-separated, e.g. 04 or 04;16)`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c := DefaultBroker()
			tc.mutate(&c)
			err := c.Validate()
			got := ""
			if err != nil {
				got = err.Error()
				var list ErrorList
				if !errors.As(err, &list) {
					t.Errorf("%T is not an ErrorList", err)
				}
			}
			if got != tc.want {
				t.Errorf("Validate =\n%s\nwant\n%s", got, tc.want)
			}
		})
	}
}

func TestBrokerResolve(t *testing.T) {
	c := DefaultBroker()
	c.BrokerIP1 = "10.0.0.5"
	r := c.Resolve("node-1", "/home/rmq")
	if r.BrokerName != "node-1" || r.StorePathRootDir != "/home/rmq/store" || r.StorePathCommitLog != "/home/rmq/store/commitlog" ||
		r.StorePathConsumeQueue != "/home/rmq/store/consumequeue" || r.StorePathIndex != "/home/rmq/store/index" ||
		r.StoreCheckpoint != "/home/rmq/store/checkpoint" || r.AbortFile != "/home/rmq/store/abort" ||
		r.HAListenPort != 10912 || r.BrokerIP2 != "10.0.0.5" {
		t.Errorf("Resolve = %+v", r)
	}
	c.StorePathRootDir, c.StorePathIndex, c.BrokerName, c.HAListenPort, c.BrokerIP2 = "/data", "/fast/index", "b", 30000, "10.9.9.9"
	r = c.Resolve("node-1", "/home/rmq")
	if r.BrokerName != "b" || r.StorePathCommitLog != "/data/commitlog" || r.StorePathIndex != "/fast/index" ||
		r.HAListenPort != 30000 || r.BrokerIP2 != "10.9.9.9" {
		t.Errorf("Resolve kept explicit values wrongly: %+v", r)
	}
	if c.StorePathCommitLog != "" {
		t.Error("Resolve modified its receiver")
	}
}

func TestBrokerHelpers(t *testing.T) {
	c := DefaultBroker()
	d, err := c.DelayLevels()
	if err != nil || len(d) != 18 || d[0].String() != "1s" || d[17].String() != "2h0m0s" {
		t.Errorf("DelayLevels = %v, %v", d, err)
	}
	c.MessageDelayLevel = "1s 2d"
	if d, _ := c.DelayLevels(); len(d) != 2 || d[1].Hours() != 48 {
		t.Errorf("DelayLevels = %v", d)
	}
	c.MessageDelayLevel = "fast"
	if _, err := c.DelayLevels(); err == nil {
		t.Error("bad DelayLevels accepted")
	}
	if h := DefaultBroker().DeleteHours(); !reflect.DeepEqual(h, []int{4}) {
		t.Errorf("DeleteHours = %v", h)
	}
	c.DLegerPeers = "x"
	if _, err := c.DLedgerPeers(); err == nil {
		t.Error("bad DLedgerPeers accepted")
	}
}

func TestBrokerRenderRoundTrip(t *testing.T) {
	custom := DefaultBroker()
	custom.BrokerName = "broker-b"
	custom.BrokerID = 3
	custom.BrokerRole = RoleSlave
	custom.NamesrvAddr = []string{"ns-0.ns.default.svc:9876", "10.0.0.2:9876"}
	custom.BrokerIP1 = "fe80::1"
	custom.HAListenPort = 20000
	custom.HAMasterAddress = "10.0.0.1:10912"
	custom.StorePathRootDir = " /data/中文 store\\ x "
	custom.StorePathCommitLog = "C:\\store\\commitlog"
	custom.MessageDelayLevel = "1s 5s"
	custom.DeleteWhen = "01;13"
	custom.PullMessageThreadPoolNums = 64
	custom.EnableDLegerCommitLog = true
	custom.DLegerPeers = "n0-a:1"
	custom.RocketmqHome = "#not a comment"

	cases := map[string]BrokerConfig{"default": DefaultBroker(), "custom": custom}
	for _, f := range guideFiles {
		c, _, err := LoadBroker(filepath.Join("testdata", f))
		if err != nil {
			t.Fatal(err)
		}
		cases[f] = c
	}
	for name, c := range cases {
		t.Run(name, func(t *testing.T) {
			text := c.Render()
			if !reflect.DeepEqual(text, c.Render()) {
				t.Fatal("Render is not deterministic")
			}
			got, warns, err := ParseBroker(strings.NewReader(string(text)), "rendered")
			if err != nil || len(warns) != 0 {
				t.Fatalf("err=%v warns=%v\n%s", err, warns, text)
			}
			if !reflect.DeepEqual(got, c) {
				t.Errorf("round trip:\n%+v\nwant\n%+v\ntext:\n%s", got, c, text)
			}
			if string(got.Render()) != string(text) {
				t.Error("Render(Parse(Render(c))) != Render(c)")
			}
		})
	}
	// Auto values are omitted, non-ASCII escaped, order fixed.
	text := string(DefaultBroker().Render())
	for _, k := range []string{"brokerName=", "haListenPort=", "pullMessageThreadPoolNums=", "storePathRootDir=", "namesrvAddr="} {
		if strings.Contains(text, "\n"+k) {
			t.Errorf("default Render contains %s", k)
		}
	}
	if !strings.HasPrefix(text, "# gorocket broker configuration") || !strings.Contains(text, "\nbrokerClusterName=DefaultCluster\nbrokerId=0\nlistenPort=10911\n") {
		t.Errorf("Render order/header:\n%s", text)
	}
	if ct := string(custom.Render()); !strings.Contains(ct, `storePathRootDir=\ /data/\u4E2D\u6587 store\\ x\ `+"\n") {
		t.Errorf("custom Render:\n%s", ct)
	}
}
