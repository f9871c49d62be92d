package compat

import (
	"context"
	"crypto/rand"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/apache/rocketmq-client-go/v2/primitive"

	"github.com/gorocket/gorocket/remoting"
	"github.com/gorocket/gorocket/remoting/protocol"
)

// TestCompatBadInputOversizeMessage: a body over maxMessageSize (65536 on the shared broker)
// gets MESSAGE_ILLEGAL with a remark, and the broker keeps serving.
func TestCompatBadInputOversizeMessage(t *testing.T) {
	requireCluster(t)
	defer dumpOnFailure(t, sharedBrk, sharedNS)
	topic := uniq("Oversize")
	createTopic(t, nsAddrs(), brokerAddr(), topic, 1)
	p := newProducer(t, nsAddrs())
	big := make([]byte, 200<<10) // random: the client's zlib compression cannot shrink it
	if _, err := rand.Read(big); err != nil {
		t.Fatal(err)
	}
	_, err := p.SendSync(context.Background(), primitive.NewMessage(topic, big))
	if err == nil || !strings.Contains(err.Error(), "CODE: 13") || !strings.Contains(err.Error(), "max value") {
		t.Fatalf("oversize send: err = %v, want CODE: 13 (MESSAGE_ILLEGAL) with a remark", err)
	}
	res, err := p.SendSync(context.Background(), primitive.NewMessage(topic, []byte("small")))
	if err != nil || res.Status != primitive.SendOK {
		t.Fatalf("broker stopped serving after an oversize message: %v %v", res, err)
	}
}

// TestCompatBadInputIllegalTopic: an illegal topic name is refused (Go client and raw send).
func TestCompatBadInputIllegalTopic(t *testing.T) {
	requireCluster(t)
	defer dumpOnFailure(t, sharedBrk, sharedNS)
	p := newProducer(t, nsAddrs())
	if res, err := p.SendSync(context.Background(), primitive.NewMessage("bad topic!", []byte("x"))); err == nil {
		t.Fatalf("send to an illegal topic succeeded: %+v", res)
	}
	h := protocol.SendMessageRequestHeader{ProducerGroup: "pg", Topic: "bad topic!", DefaultTopic: "TBW102",
		DefaultTopicQueueNums: 4, QueueID: 0, BornTimestamp: time.Now().UnixMilli()}
	resp, err := invoke(brokerAddr(), protocol.NewRequest(protocol.ReqSendMessage, &h, []byte("x")), 3*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	if resp.Code == protocol.RespSuccess || !strings.Contains(resp.Remark, "illegal") {
		t.Fatalf("raw send to illegal topic: code %d remark %q", resp.Code, resp.Remark)
	}
	if brokerHasTopic(t, "bad topic!") {
		t.Fatal("illegal topic was created")
	}
}

// TestCompatBadInputUnknownRequestCode: an unknown code gets REQUEST_CODE_NOT_SUPPORTED.
func TestCompatBadInputUnknownRequestCode(t *testing.T) {
	requireCluster(t)
	resp, err := invoke(brokerAddr(), protocol.NewRequest(9999, nil, nil), 3*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	if resp.Code != protocol.RespRequestCodeNotSupported {
		t.Fatalf("code %d remark %q", resp.Code, resp.Remark)
	}
}

// TestCompatBadInputClientVanishesMidPull: a parked long-poll pull is released when its
// connection closes; the held-pull count returns to the baseline.
func TestCompatBadInputClientVanishesMidPull(t *testing.T) {
	requireCluster(t)
	defer dumpOnFailure(t, sharedBrk, sharedNS)
	topic := uniq("Vanish")
	createTopic(t, nsAddrs(), brokerAddr(), topic, 2)
	held := func() (int, int, error) {
		info, err := runtimeInfo(brokerAddr())
		if err != nil {
			return 0, 0, err
		}
		h, err1 := strconv.Atoi(info["heldPullRequests"])
		g, err2 := strconv.Atoi(info["goroutines"])
		if err1 != nil || err2 != nil {
			return 0, 0, fmt.Errorf("runtime info lacks heldPullRequests/goroutines: %v", info)
		}
		return h, g, nil
	}
	base, baseG, err := held()
	if err != nil {
		t.Fatal(err)
	}
	cl := remoting.NewClient(nil, remoting.ClientOptions{})
	const pulls = 10
	for i := 0; i < pulls; i++ {
		ext := map[string]string{
			"consumerGroup": uniq("CG_vanish"), "topic": topic, "queueId": strconv.Itoa(i % 2), "queueOffset": "0",
			"maxMsgNums": "32", "sysFlag": strconv.Itoa(protocol.PullFlagSuspend | protocol.PullFlagSubscription),
			"commitOffset": "0", "suspendTimeoutMillis": "20000", "subscription": "*", "subVersion": "0", "expressionType": "TAG",
		}
		if err := cl.InvokeAsync(context.Background(), brokerAddr(), protocol.NewRequest(protocol.ReqPullMessage, ext, nil),
			func(*protocol.RemotingCommand, error) {}); err != nil {
			t.Fatal(err)
		}
	}
	if err := waitFor(10*time.Second, 20*time.Millisecond, func() error {
		h, _, err := held()
		if err != nil {
			return err
		}
		if h != base+pulls {
			return fmt.Errorf("held %d, want %d", h, base+pulls)
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	_ = cl.Close() // the client vanishes with its pulls parked
	if err := waitFor(10*time.Second, 20*time.Millisecond, func() error {
		h, _, err := held()
		if err != nil {
			return err
		}
		if h != base {
			return fmt.Errorf("held %d, want baseline %d", h, base)
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	// No goroutine per parked pull may survive (small slack for unrelated activity). The remoting
	// layer keeps a goroutine that served a request for 10 s in case another request comes
	// (remoting/workers.go), and every runtime-info poll hands work to one of them; polling every
	// 3 s lets the idle ones expire (at most 3 stay busy with the polls).
	if err := waitFor(45*time.Second, 3*time.Second, func() error {
		_, g, err := held()
		if err != nil {
			return err
		}
		if g > baseG+5 {
			return fmt.Errorf("goroutines %d, baseline %d", g, baseG)
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
}

// TestCompatGuideConfig: a broker started from the deployment guides' 2m-noslave
// broker-demo.properties, with only the IP, nameserver, port and path lines rewritten, serves
// the client (auto-created topic through TBW102, produce and consume).
func TestCompatGuideConfig(t *testing.T) {
	requireCluster(t)
	// The guide's file as shipped, kept in the repository with the other guide configs.
	src, err := os.ReadFile(filepath.Join(repoRoot, "internal", "conf", "testdata", "broker-demo.properties"))
	if err != nil {
		t.Fatalf("deployment guide config: %v", err)
	}
	dir := t.TempDir()
	ns, err := startNameserver(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = ns.stop() }()
	port, err := freePortPair()
	if err != nil {
		t.Fatal(err)
	}
	store := filepath.Join(dir, "root", "store", "store")
	rewrites := []struct{ re, repl string }{
		{`(?m)^namesrvAddr=.*$`, "namesrvAddr=" + ns.addr},
		{`(?m)^brokerIP1=.*$`, "brokerIP1=127.0.0.1"},
		{`(?m)^listenPort=.*$`, "listenPort=" + strconv.Itoa(port)},
		{`(?m)^(storePathRootDir|storePathCommitLog|storePathConsumeQueue|storePathIndex|storeCheckpoint|abortFile)=/root/store/store`, "${1}=" + store},
	}
	text := string(src)
	for _, rw := range rewrites {
		re := regexp.MustCompile(rw.re)
		if !re.MatchString(text) {
			t.Fatalf("guide config has no line matching %s", rw.re)
		}
		text = re.ReplaceAllString(text, rw.repl)
	}
	name := regexp.MustCompile(`(?m)^brokerName=(.*)$`).FindStringSubmatch(text)[1]
	brk, err := startBroker(dir, name, text, ns.addr, port)
	if err != nil {
		t.Fatal(err)
	}
	defer func() {
		if err := brk.stop(); err != nil {
			t.Errorf("broker stop: %v", err)
		}
	}()
	defer dumpOnFailure(t, brk, ns)
	if brk.logContains("level=ERROR") {
		t.Fatalf("broker logged errors:\n%s", brk.logTail(30))
	}
	nsList := primitive.NamesrvAddr{ns.addr}
	topic := uniq("GuideAuto") // not created: the producer falls back to TBW102, the broker auto-creates
	p := newProducer(t, nsList)
	var want []string
	for i := 0; i < 8; i++ {
		b := "guide-" + strconv.Itoa(i)
		res, err := p.SendSync(context.Background(), primitive.NewMessage(topic, []byte(b)))
		if err != nil || res.Status != primitive.SendOK {
			t.Fatalf("send: %v %v", res, err)
		}
		want = append(want, b)
	}
	// The auto-created topic has defaultTopicQueueNums=4 queues and is registered.
	a := newAdmin(t, nsList)
	waitRoute(t, a, topic, 4)
	r := newReceived()
	newConsumer(t, nsList, uniq("CG_guide"), "guide-c", topic, "*", r)
	r.waitAll(t, want, 60*time.Second)
	// The guide's maxMessageSize=65536 is in force.
	big := make([]byte, 100<<10)
	_, _ = rand.Read(big)
	if _, err := p.SendSync(context.Background(), primitive.NewMessage(topic, big)); err == nil || !strings.Contains(err.Error(), "CODE: 13") {
		t.Fatalf("maxMessageSize from the guide config not applied: %v", err)
	}
}
