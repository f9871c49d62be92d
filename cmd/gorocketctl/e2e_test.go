package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/gorocket/gorocket/client"
	"github.com/gorocket/gorocket/internal/launcher"
	"github.com/gorocket/gorocket/test/cluster"
)

func TestMain(m *testing.M) { os.Exit(cluster.RunMain(m)) }

// processesMentioning returns the pids of live processes whose command line contains s.
func processesMentioning(s string) []int {
	var out []int
	entries, _ := os.ReadDir("/proc")
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil || pid == os.Getpid() {
			continue
		}
		b, err := os.ReadFile(filepath.Join("/proc", e.Name(), "cmdline"))
		if err != nil || !bytes.Contains(b, []byte(s)) {
			continue
		}
		if st, err := os.ReadFile(filepath.Join("/proc", e.Name(), "stat")); err == nil {
			if i := bytes.LastIndexByte(st, ')'); i > 0 && i+2 < len(st) && st[i+2] == 'Z' {
				continue // a zombie waiting for its parent's wait is already gone
			}
		}
		out = append(out, pid)
	}
	return out
}

// assertNoProcesses fails t when any process still mentions dir, polling briefly because the
// kernel may need a moment to reap Pdeathsig victims.
func assertNoProcesses(t *testing.T, dir string) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		left := processesMentioning(dir)
		if len(left) == 0 {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("processes still running for %s: %v", dir, left)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// ctl returns an exec.Cmd running the built gorocketctl.
func ctl(t *testing.T, args ...string) *exec.Cmd {
	t.Helper()
	bin := cluster.BinDir(t)
	cmd := exec.Command(filepath.Join(bin, "gorocketctl"), args...)
	cmd.Env = append(os.Environ(), "NAMESRV_ADDR=")
	return cmd
}

func TestLocalUpDemoEndToEnd(t *testing.T) {
	if testing.Short() {
		t.Skip("process-level test skipped in -short mode")
	}
	for _, tc := range []struct {
		name string
		args []string
	}{
		{"single master", nil},
		{"two masters with sync slaves", []string{"--masters", "2", "--slaves", "1", "--mode", "sync", "--flush", "sync", "--namesrvs", "2"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := filepath.Join(t.TempDir(), "lc")
			args := append([]string{"local", "up", "--demo", "--dir", dir, "--base-port", "0", "--commitlog-size", strconv.Itoa(64 << 20)}, tc.args...)
			cmd := ctl(t, args...)
			var stdout, stderr bytes.Buffer
			cmd.Stdout, cmd.Stderr = &stdout, &stderr
			done := make(chan error, 1)
			if err := cmd.Start(); err != nil {
				t.Fatal(err)
			}
			go func() { done <- cmd.Wait() }()
			select {
			case err := <-done:
				if err != nil {
					t.Fatalf("local up --demo: %v\nstdout:\n%s\nstderr:\n%s", err, stdout.String(), stderr.String())
				}
			case <-time.After(3 * time.Minute):
				cmd.Process.Kill()
				t.Fatalf("local up --demo did not finish\nstdout:\n%s", stdout.String())
			}
			out := stdout.String()
			for _, want := range []string{"nameserver: 127.0.0.1:", "registered brokers (clusterList):", "consumed 15/15 messages",
				"demo OK: sent 15, consumed 15", "every child process exited"} {
				if !strings.Contains(out, want) {
					t.Errorf("stdout lacks %q:\n%s", want, out)
				}
			}
			if n := strings.Count(out, "SEND_OK"); n != 11 {
				t.Errorf("%d SEND_OK rows, want 11 (6 sync, 1 batch, 4 async):\n%s", n, out)
			}
			assertNoProcesses(t, dir)
			if _, err := os.Stat(filepath.Join(dir, launcher.StateFile)); !os.IsNotExist(err) {
				t.Errorf("state file left behind: %v", err)
			}
			for _, sub := range []string{"namesrv-0/namesrv.properties", "broker-a-0/broker.properties", "broker-a-0/store"} {
				if _, err := os.Stat(filepath.Join(dir, sub)); err != nil {
					t.Errorf("missing %s: %v", sub, err)
				}
			}
		})
	}
}

// startLocalUp starts `local up` (no demo) and returns once it reports it is running.
func startLocalUp(t *testing.T, dir string) (*exec.Cmd, <-chan error, *syncBuffer) {
	t.Helper()
	cmd := ctl(t, "local", "up", "--dir", dir, "--base-port", "0", "--slaves", "1", "--grace", "5s", "--status-interval", "0",
		"--commitlog-size", strconv.Itoa(64<<20))
	pr, pw := io.Pipe()
	cmd.Stdout = pw
	var stderr syncBuffer
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { err := cmd.Wait(); pw.Close(); done <- err }()
	out := &syncBuffer{}
	ready := make(chan struct{})
	go func() {
		sc := bufio.NewScanner(pr)
		signalled := false
		for sc.Scan() {
			out.Write([]byte(sc.Text() + "\n"))
			if !signalled && strings.Contains(sc.Text(), "press Ctrl-C to stop") {
				close(ready)
				signalled = true
			}
		}
	}()
	t.Cleanup(func() {
		if cmd.ProcessState == nil {
			cmd.Process.Kill()
		}
	})
	select {
	case <-ready:
	case err := <-done:
		t.Fatalf("local up exited early: %v\n%s\n%s", err, out.String(), stderr.String())
	case <-time.After(2 * time.Minute):
		t.Fatalf("local up not running after 2m:\n%s", out.String())
	}
	return cmd, done, out
}

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

func readState(t *testing.T, dir string) launcher.State {
	t.Helper()
	st, err := launcher.ReadState(dir)
	if err != nil {
		t.Fatal(err)
	}
	if len(st.Procs) != 3 {
		t.Fatalf("state lists %d processes, want 3: %+v", len(st.Procs), st)
	}
	return st
}

func TestLocalUpStopsChildrenOnSIGTERM(t *testing.T) {
	if testing.Short() {
		t.Skip("process-level test skipped in -short mode")
	}
	dir := filepath.Join(t.TempDir(), "lc")
	cmd, done, out := startLocalUp(t, dir)
	st := readState(t, dir)
	if procs := processesMentioning(dir); len(procs) != 4 { // gorocketctl and its 3 children
		t.Fatalf("want gorocketctl and 3 children, found %v", procs)
	}
	for _, p := range st.Procs {
		if !slices.Contains(processesMentioning(dir), p.Pid) {
			t.Fatalf("%s (pid %d) from the state file is not running", p.Name, p.Pid)
		}
	}
	// The nameserver address printed works for the admin verbs.
	m := regexp.MustCompile(`nameserver: (\S+)`).FindStringSubmatch(out.String())
	if m == nil {
		t.Fatalf("no nameserver line:\n%s", out.String())
	}
	code, list, _ := runCLI(t, "clusterList", "-n", m[1])
	if code != 0 || !strings.Contains(list, "broker-a") || strings.Count(list, "broker-a") != 2 {
		t.Fatalf("clusterList exit %d:\n%s", code, list)
	}
	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("local up after SIGTERM: %v\n%s", err, out.String())
		}
	case <-time.After(time.Minute):
		t.Fatal("local up did not exit after SIGTERM")
	}
	assertNoProcesses(t, dir)
	for _, p := range st.Procs {
		if _, err := os.Stat(fmt.Sprintf("/proc/%d", p.Pid)); err == nil {
			t.Errorf("%s (pid %d) survived", p.Name, p.Pid)
		}
	}
	if !strings.Contains(out.String(), "every child process exited") {
		t.Errorf("no stop report:\n%s", out.String())
	}
}

func TestLocalUpChildrenDieWithKilledLauncher(t *testing.T) {
	if testing.Short() {
		t.Skip("process-level test skipped in -short mode")
	}
	dir := filepath.Join(t.TempDir(), "lc")
	cmd, done, _ := startLocalUp(t, dir)
	readState(t, dir)
	cmd.Process.Kill() // no chance to clean up: Pdeathsig must take the children down
	<-done
	assertNoProcesses(t, dir)
}

func TestLocalDownStopsARunningCluster(t *testing.T) {
	if testing.Short() {
		t.Skip("process-level test skipped in -short mode")
	}
	dir := filepath.Join(t.TempDir(), "lc")
	_, done, _ := startLocalUp(t, dir)
	// A second `local up` on the same directory is refused while the first runs.
	code, _, stderr := runCLI(t, "local", "up", "--dir", dir, "--base-port", "0")
	if code != 2 || !strings.Contains(stderr, "still running") {
		t.Fatalf("second local up: exit %d, %s", code, stderr)
	}
	down := ctl(t, "local", "down", "--dir", dir, "--grace", "5s")
	b, err := down.CombinedOutput()
	if err != nil {
		t.Fatalf("local down: %v\n%s", err, b)
	}
	if !strings.Contains(string(b), "stopped 3 process(es)") {
		t.Fatalf("local down output: %s", b)
	}
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("local up exit after local down: %v", err)
		}
	case <-time.After(time.Minute):
		t.Fatal("local up still running after local down")
	}
	assertNoProcesses(t, dir)
	code, out, _ := runCLI(t, "local", "down", "--dir", dir)
	if code != 0 || !strings.Contains(out, "no local cluster") {
		t.Fatalf("second local down: %d %q", code, out)
	}
}

func TestAdminVerbsAgainstCluster(t *testing.T) {
	c := cluster.Start(t, cluster.Options{Namesrvs: 2, Masters: 2})
	ns := c.NamesrvAddr()
	mustRun := func(args ...string) string {
		t.Helper()
		code, out, stderr := runCLI(t, append(args, "-n", ns)...)
		if code != 0 {
			t.Fatalf("%v: exit %d\nstdout: %s\nstderr: %s", args, code, out, stderr)
		}
		return out
	}
	out := mustRun("clusterList")
	for _, b := range c.Layout.Brokers {
		if !strings.Contains(out, b.Addr) || !strings.Contains(out, b.BrokerName) {
			t.Errorf("clusterList lacks %s %s:\n%s", b.BrokerName, b.Addr, out)
		}
	}
	if !strings.Contains(out, "ASYNC_MASTER") {
		t.Errorf("clusterList has no runtime info:\n%s", out)
	}
	out = mustRun("updateTopic", "-c", c.ClusterName(), "-t", "CliTopic", "-r", "3", "-w", "3")
	if strings.Count(out, "success") != 2 {
		t.Errorf("updateTopic:\n%s", out)
	}
	cluster.Eventually(t, 10*time.Second, "CliTopic in topicList", func() error {
		if out := mustRun("topicList"); !strings.Contains(out, "CliTopic\n") {
			return fmt.Errorf("topicList:\n%s", out)
		}
		return nil
	})
	var route struct {
		QueueDatas []struct {
			BrokerName     string
			WriteQueueNums int
		}
		BrokerDatas []struct{ BrokerName string }
	}
	// Each broker registers its new topic with the name servers on its own; the route
	// names both brokers only once both registrations have landed, so poll.
	cluster.Eventually(t, 10*time.Second, "CliTopic route on both brokers", func() error {
		route.QueueDatas, route.BrokerDatas = nil, nil
		if err := json.Unmarshal([]byte(mustRun("topicRoute", "-t", "CliTopic")), &route); err != nil {
			return err
		}
		if len(route.QueueDatas) != 2 || route.QueueDatas[0].WriteQueueNums != 3 || len(route.BrokerDatas) != 2 {
			return fmt.Errorf("route %+v", route)
		}
		return nil
	})
	// Messages to look up.
	p, err := client.NewProducer(nil, client.ProducerOptions{Options: client.Options{NameServers: c.NamesrvAddrs()}})
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	var last *client.SendResult
	for i := range 6 {
		last, err = p.Send(context.Background(), client.NewMessage("CliTopic", []byte(fmt.Sprintf("body-%d", i))).WithKeys(fmt.Sprintf("key-%d", i)))
		if err != nil {
			t.Fatal(err)
		}
	}
	out = mustRun("topicStatus", "-t", "CliTopic")
	if n := strings.Count(out, "broker-"); n != 6 {
		t.Errorf("topicStatus has %d queue rows, want 6:\n%s", n, out)
	}
	// A send is acknowledged once it is in the commit log; the consume-queue entry that
	// queryMsgByOffset reads is dispatched asynchronously right after, so poll.
	cluster.Eventually(t, 10*time.Second, "queryMsgByOffset", func() error {
		code, out, stderr := runCLI(t, "queryMsgByOffset", "-n", ns, "-t", "CliTopic", "-b", last.Queue.BrokerName,
			"-i", strconv.Itoa(last.Queue.QueueID), "-o", strconv.FormatInt(last.QueueOffset, 10))
		if code != 0 || !strings.Contains(out, `"body-5"`) || !strings.Contains(out, last.MsgID) {
			return fmt.Errorf("exit %d: %s %s", code, out, stderr)
		}
		return nil
	})
	cluster.Eventually(t, 10*time.Second, "queryMsgByKey", func() error {
		code, out, stderr := runCLI(t, "queryMsgByKey", "-t", "CliTopic", "-k", "key-5", "-n", ns)
		if code != 0 || !strings.Contains(out, last.MsgID) {
			return fmt.Errorf("exit %d: %s %s", code, out, stderr)
		}
		return nil
	})
	out = mustRun("queryMsgByUniqueKey", "-t", "CliTopic", "-i", last.MsgID)
	if !strings.Contains(out, `"body-5"`) {
		t.Errorf("queryMsgByUniqueKey:\n%s", out)
	}
	out = mustRun("updateSubGroup", "-c", c.ClusterName(), "-g", "cli_group", "-r", "3")
	if strings.Count(out, "success") != 2 || !strings.Contains(out, `"retryMaxTimes": 3`) {
		t.Errorf("updateSubGroup:\n%s", out)
	}
	// A consumer that reads everything, then consumerProgress shows no lag.
	cons, err := client.NewConsumer(nil, client.ConsumerOptions{Options: client.Options{NameServers: c.NamesrvAddrs()},
		Group: "cli_group", Topic: "CliTopic", FromFirst: true, LongPoll: time.Second}, func(context.Context, []*client.MessageExt) error { return nil })
	if err != nil {
		t.Fatal(err)
	}
	if err := cons.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	cluster.Eventually(t, 20*time.Second, "consumer to read 6 messages", func() error {
		if n := cons.Delivered(); n != 6 {
			return fmt.Errorf("delivered %d", n)
		}
		return nil
	})
	if err := cons.Close(); err != nil {
		t.Fatal(err)
	}
	out = mustRun("consumerProgress", "-g", "cli_group", "-t", "CliTopic")
	if !strings.Contains(out, "Diff Total: 0") || strings.Count(out, "CliTopic") != 6 {
		t.Errorf("consumerProgress:\n%s", out)
	}
	out = mustRun("brokerStatus", "-b", c.BrokerAddr("broker-a-0"))
	if !strings.Contains(out, "brokerName") || !strings.Contains(out, "msgPutTotalTodayNow") {
		t.Errorf("brokerStatus:\n%s", out)
	}
	out = mustRun("deleteTopic", "-t", "CliTopic", "-c", c.ClusterName())
	if !strings.Contains(out, "success") {
		t.Errorf("deleteTopic:\n%s", out)
	}
	if out := mustRun("topicList"); strings.Contains(out, "CliTopic\n") {
		t.Errorf("topicList after deleteTopic:\n%s", out)
	}
	if code, _, stderr := runCLI(t, "topicRoute", "-t", "CliTopic", "-n", ns); code != 1 || !strings.Contains(stderr, "not found") {
		t.Errorf("topicRoute after delete: exit %d %s", code, stderr)
	}
	// The deletion sticks: creating another topic makes the brokers register their whole topic
	// table again, and CliTopic is not in it any more.
	mustRun("updateTopic", "-c", c.ClusterName(), "-t", "ProbeTopic")
	cluster.Eventually(t, 10*time.Second, "ProbeTopic in topicList", func() error {
		if out := mustRun("topicList"); !strings.Contains(out, "ProbeTopic\n") {
			return fmt.Errorf("topicList:\n%s", out)
		}
		return nil
	})
	if out := mustRun("topicList"); strings.Contains(out, "CliTopic\n") {
		t.Errorf("topic came back after the brokers re-registered:\n%s", out)
	}
}

func TestBenchAgainstCluster(t *testing.T) {
	c := cluster.Start(t, cluster.Options{Masters: 1})
	ns := c.NamesrvAddr()
	summary := regexp.MustCompile(`(?m)^(send|consume)\s+msgs=(\d+) errors=(\d+) tps=`)
	for _, mode := range []string{"sync", "async", "batch"} {
		code, out, stderr := runCLI(t, "bench", "producer", "-n", ns, "-t", "BenchTopic", "-c", c.ClusterName(), "--queues", "4",
			"-w", "2", "-s", "256", "-d", "1500ms", "--mode", mode, "--batch-size", "8", "--window", "16")
		if code != 0 {
			t.Fatalf("bench producer %s: exit %d\n%s\n%s", mode, code, out, stderr)
		}
		m := summary.FindStringSubmatch(out)
		if m == nil || m[2] == "0" || m[3] != "0" {
			t.Fatalf("bench producer %s summary:\n%s", mode, out)
		}
		if !strings.Contains(out, "[   1s] send") || !strings.Contains(out, "latency avg=") || !strings.Contains(out, "p99=") {
			t.Fatalf("bench producer %s output:\n%s", mode, out)
		}
	}
	// A consumer bench reading while a producer bench writes.
	var wg sync.WaitGroup
	var cCode int
	var cOut, cErr string
	wg.Add(1)
	go func() {
		defer wg.Done()
		cCode, cOut, cErr = runCLI(t, "bench", "consumer", "-n", ns, "-t", "BenchTopic", "-g", "bench_test_group", "-d", "4s")
	}()
	code, out, _ := runCLI(t, "bench", "producer", "-n", ns, "-t", "BenchTopic", "-w", "1", "-s", "128", "-d", "2s")
	wg.Wait()
	if code != 0 || cCode != 0 {
		t.Fatalf("producer exit %d, consumer exit %d\n%s\n%s\n%s", code, cCode, out, cOut, cErr)
	}
	m := summary.FindStringSubmatch(cOut)
	if m == nil || m[1] != "consume" || m[2] == "0" {
		t.Fatalf("consumer summary:\n%s", cOut)
	}
	if !strings.Contains(cOut, "consume  store-to-consume avg=") {
		t.Fatalf("consumer output:\n%s", cOut)
	}
}
