package launcher

import (
	"context"
	"errors"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

func shProc(t *testing.T, name, script string) *Proc {
	t.Helper()
	dir := t.TempDir()
	p := NewProc(nil, name, "/bin/sh", []string{"-c", script}, dir, filepath.Join(dir, name+".log"))
	t.Cleanup(func() { _ = p.Kill() })
	return p
}

func waitClosed(t *testing.T, c <-chan struct{}, d time.Duration, what string) {
	t.Helper()
	select {
	case <-c:
	case <-time.After(d):
		t.Fatalf("timed out waiting for %s", what)
	}
}

// pidAlive reports whether pid exists and is not a zombie.
func pidAlive(pid int) bool {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return false
	}
	// state is the field after the ")" closing the command name.
	s := string(b)
	i := strings.LastIndexByte(s, ')')
	return i >= 0 && i+2 < len(s) && s[i+2] != 'Z'
}

func TestProcStopGracefulAndLog(t *testing.T) {
	p := shProc(t, "graceful", `echo started; trap 'echo got-term; exit 0' TERM; while :; do sleep 0.05; done`)
	if err := p.Start(); err != nil {
		t.Fatal(err)
	}
	if err := p.Start(); err == nil {
		t.Fatal("second Start of a running process succeeded")
	}
	deadline := time.Now().Add(10 * time.Second)
	for !strings.Contains(p.LogTail(1024), "started") {
		if time.Now().After(deadline) {
			t.Fatal("child output never reached the log")
		}
		time.Sleep(10 * time.Millisecond) // polling the log file, bounded by the deadline
	}
	killed, err := p.Stop(10 * time.Second)
	if err != nil || killed {
		t.Fatalf("Stop = killed %v, %v", killed, err)
	}
	if p.Running() {
		t.Fatal("still running after Stop")
	}
	if !strings.Contains(p.LogTail(1024), "got-term") {
		t.Fatalf("SIGTERM handler did not run; log: %q", p.LogTail(1024))
	}
	if err := p.Signal(syscall.SIGTERM); !errors.Is(err, ErrNotRunning) {
		t.Fatalf("Signal after exit = %v, want ErrNotRunning", err)
	}
}

func TestProcStopKillsAfterGraceAndReapsGroup(t *testing.T) {
	dir := t.TempDir()
	pidFile := filepath.Join(dir, "grandchild.pid")
	// The shell ignores SIGTERM and starts a grandchild that ignores it too.
	p := shProc(t, "stubborn", `trap '' TERM; (trap '' TERM; echo $$ >/dev/null; exec sleep 300) & echo $! > `+pidFile+`; wait`)
	if err := p.Start(); err != nil {
		t.Fatal(err)
	}
	var grandchild int
	deadline := time.Now().Add(10 * time.Second)
	for grandchild == 0 {
		if b, err := os.ReadFile(pidFile); err == nil {
			grandchild, _ = strconv.Atoi(strings.TrimSpace(string(b)))
		}
		if time.Now().After(deadline) {
			t.Fatal("grandchild pid never written")
		}
		time.Sleep(10 * time.Millisecond)
	}
	start := time.Now()
	killed, err := p.Stop(300 * time.Millisecond)
	if err != nil || !killed {
		t.Fatalf("Stop = killed %v, %v; want killed", killed, err)
	}
	if time.Since(start) < 300*time.Millisecond {
		t.Fatal("SIGKILL sent before the grace period ended")
	}
	deadline = time.Now().Add(10 * time.Second)
	for pidAlive(grandchild) {
		if time.Now().After(deadline) {
			t.Fatalf("grandchild %d survived the group kill", grandchild)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func TestProcRestart(t *testing.T) {
	p := shProc(t, "restart", `exec sleep 300`)
	for i := 1; i <= 2; i++ {
		if err := p.Start(); err != nil {
			t.Fatalf("start %d: %v", i, err)
		}
		pid := p.Pid()
		if err := p.Kill(); err != nil {
			t.Fatal(err)
		}
		waitClosed(t, p.Done(), 5*time.Second, "exit")
		if pidAlive(pid) {
			t.Fatalf("pid %d alive after Kill", pid)
		}
		if p.ExitErr() == nil {
			t.Fatal("killed process reported a clean exit")
		}
	}
	if p.Starts() != 2 {
		t.Fatalf("Starts = %d", p.Starts())
	}
}

func TestProcStartFailsForMissingBinary(t *testing.T) {
	dir := t.TempDir()
	p := NewProc(nil, "missing", filepath.Join(dir, "nope"), nil, dir, filepath.Join(dir, "log"))
	if err := p.Start(); err == nil {
		t.Fatal("started a missing binary")
	}
}

func TestWaitPort(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := WaitPort(ctx, l.Addr().String(), nil); err != nil {
		t.Fatalf("WaitPort on a listening port: %v", err)
	}
	// A port nobody listens on fails when the watched process exits...
	port, err := NewPortAllocator().Block(0, 0)
	if err != nil {
		t.Fatal(err)
	}
	exited := make(chan struct{})
	close(exited)
	if err := WaitPort(ctx, hostPort(port), exited); !errors.Is(err, errExited) {
		t.Fatalf("WaitPort with exited process = %v", err)
	}
	// ...or when the context ends.
	short, cancel2 := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel2()
	if err := WaitPort(short, hostPort(port), nil); err == nil {
		t.Fatal("WaitPort on a closed port succeeded")
	}
}

func TestPortAllocatorBlocksAreFreeAndDistinct(t *testing.T) {
	a := NewPortAllocator()
	seen := map[int]bool{}
	for range 20 {
		p, err := a.Block(brokerBlockLow, brokerBlockHigh)
		if err != nil {
			t.Fatal(err)
		}
		for q := p + brokerBlockLow; q <= p+brokerBlockHigh; q++ {
			if seen[q] {
				t.Fatalf("port %d handed out twice", q)
			}
			seen[q] = true
			if !portFree(q) {
				t.Fatalf("port %d not free", q)
			}
		}
	}
}
