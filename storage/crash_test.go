package storage

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gorocket/gorocket/storage/vfs"
)

const (
	helperModeEnv = "GOROCKET_STORAGE_HELPER"
	helperRootEnv = "GOROCKET_STORAGE_ROOT"
	helperTagEnv  = "GOROCKET_STORAGE_TAG"
)

// crashOptions are the options parent and child use for the process-level tests.
func crashOptions(root string) Options {
	o := smallOptions(root, vfs.Default)
	o.FlushDiskType = SyncFlush
	o.MappedFileSizeCommitLog = 256 << 10 // several segment rolls per run
	o.FlushIntervalConsumeQueue = 50 * time.Millisecond
	return o
}

// TestHelperProcess is not a test: it is the child process of TestCrashSIGKILL and
// TestLockAcrossProcesses (re-executed test binary, selected by an environment variable).
func TestHelperProcess(t *testing.T) {
	mode := os.Getenv(helperModeEnv)
	if mode == "" {
		t.Skip("helper process for the process-level tests")
	}
	o := crashOptions(os.Getenv(helperRootEnv))
	s, err := Open(nil, o)
	if err != nil {
		fmt.Printf("ERR %v\n", err)
		os.Exit(2)
	}
	switch mode {
	case "append":
		// Append forever with SYNC_FLUSH from several goroutines; print one line per
		// acknowledged append: ACK <phy> <queueId> <queueOffset> <id>.
		tag := os.Getenv(helperTagEnv)
		var mu sync.Mutex
		out := bufio.NewWriter(os.Stdout)
		fmt.Fprintln(out, "READY")
		out.Flush()
		var wg sync.WaitGroup
		for w := 0; w < 8; w++ {
			wg.Add(1)
			go func(w int) {
				defer wg.Done()
				rng := rand.New(rand.NewSource(int64(w)))
				for i := 0; ; i++ {
					id := fmt.Sprintf("%s-w%d-%d", tag, w, i)
					m := msg("Crash", int32(w%4), id+"|"+strings.Repeat("p", rng.Intn(4000)), PropertyUniqKey, id)
					r := s.Append(context.Background(), m)
					if r.Status != PutOK {
						fmt.Printf("ERR append %v %v\n", r.Status, r.Err)
						os.Exit(3)
					}
					mu.Lock()
					fmt.Fprintf(out, "ACK %d %d %d %s\n", r.PhysicalOffset, m.QueueID, r.QueueOffset, id)
					out.Flush() // the ack leaves the process only after the append is durable
					mu.Unlock()
				}
			}(w)
		}
		wg.Wait()
	case "lock":
		fmt.Println("LOCKED")
		io.Copy(io.Discard, os.Stdin) // hold the store until the parent closes stdin
		if err := s.Close(); err != nil {
			fmt.Printf("ERR close %v\n", err)
			os.Exit(4)
		}
		os.Exit(0)
	}
}

type ack struct {
	phy, qo int64
	qid     int32
	id      string
}

// runAppender starts a child appending to root, reads at least n acks, SIGKILLs it and
// returns every ack it printed.
func runAppender(t *testing.T, root, tag string, n int) []ack {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^TestHelperProcess$")
	cmd.Env = append(os.Environ(), helperModeEnv+"=append", helperRootEnv+"="+root, helperTagEnv+"="+tag)
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	lines := make(chan string, 1024)
	go func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			lines <- sc.Text()
		}
		close(lines)
	}()
	var acks []ack
	parse := func(l string) {
		f := strings.Fields(l)
		if len(f) == 5 && f[0] == "ACK" {
			phy, _ := strconv.ParseInt(f[1], 10, 64)
			qid, _ := strconv.Atoi(f[2])
			qo, _ := strconv.ParseInt(f[3], 10, 64)
			acks = append(acks, ack{phy: phy, qid: int32(qid), qo: qo, id: f[4]})
		} else if strings.HasPrefix(l, "ERR") {
			t.Errorf("child: %s", l)
		}
	}
	deadline := time.After(90 * time.Second)
	for len(acks) < n {
		select {
		case l, ok := <-lines:
			if !ok {
				t.Fatalf("child exited after %d acks: %v", len(acks), cmd.Wait())
			}
			parse(l)
		case <-deadline:
			cmd.Process.Kill()
			t.Fatalf("only %d acks before the deadline", len(acks))
		}
	}
	if err := cmd.Process.Kill(); err != nil { // SIGKILL: no deferred code, no Close
		t.Fatal(err)
	}
	for l := range lines { // acks already in the pipe count too
		parse(l)
	}
	err = cmd.Wait()
	var ee *exec.ExitError
	if !errors.As(err, &ee) || ee.ExitCode() != -1 {
		t.Fatalf("child did not die from the signal: %v", err)
	}
	return acks
}

// TestCrashSIGKILL kills a child appending with SYNC_FLUSH, reopens the store and checks
// that every acknowledged append is present and intact and the tail is consistent; twice,
// the second child working on the recovered store.
func TestCrashSIGKILL(t *testing.T) {
	root := filepath.Join(t.TempDir(), "store")
	o := crashOptions(root)
	var all []ack
	for round := 0; round < 2; round++ {
		acks := runAppender(t, root, fmt.Sprintf("r%d", round), 300)
		all = append(all, acks...)
		s, err := Open(testLogger(t), o)
		if err != nil {
			t.Fatalf("round %d: reopen: %v", round, err)
		}
		rep := s.RecoveryReport()
		if rep.CleanShutdown {
			t.Fatalf("round %d: a killed store looked cleanly closed", round)
		}
		t.Logf("round %d: %d acks; recovery: end %d, %d bytes truncated, %d entries redispatched, took %v",
			round, len(acks), rep.CommitLogEnd, rep.TruncatedBytes, rep.RedispatchedEntries, rep.Duration)
		var maxEnd int64
		for _, a := range all {
			b, err := s.ReadMessage(a.phy)
			if err != nil {
				t.Fatalf("acked %s at %d: %v", a.id, a.phy, err)
			}
			rec, n, err := DecodeRecord(b.Data)
			if err != nil || !strings.HasPrefix(string(rec.Body), a.id+"|") || rec.QueueID != a.qid || rec.QueueOffset != a.qo || BodyCRC(rec.Body) != rec.BodyCRC {
				t.Fatalf("acked %s at %d: got %.20q qid %d qo %d (%v)", a.id, a.phy, rec.Body, rec.QueueID, rec.QueueOffset, err)
			}
			maxEnd = max(maxEnd, a.phy+int64(n))
			b.Release()
			r, _ := s.GetMessages("Crash", a.qid, a.qo, 1, 0, nil)
			if r.Status != GetFound || r.Messages[0].PhysicalOffset != a.phy {
				t.Fatalf("acked %s: consume queue %d@%d answers %v", a.id, a.qid, a.qo, r.Status)
			}
			r.Release()
		}
		if s.MaxPhyOffset() < maxEnd {
			t.Fatalf("recovered end %d below the last acked record end %d", s.MaxPhyOffset(), maxEnd)
		}
		checkConsistency(t, s)
		if err := s.Close(); err != nil {
			t.Fatal(err)
		}
	}
}

// TestLockAcrossProcesses: a second process opening the same store fails at once with an
// error naming the path and the holder (the shared-store-path pitfall of the deployment
// guides).
func TestLockAcrossProcesses(t *testing.T) {
	root := filepath.Join(t.TempDir(), "store")
	cmd := exec.Command(os.Args[0], "-test.run=^TestHelperProcess$")
	cmd.Env = append(os.Environ(), helperModeEnv+"=lock", helperRootEnv+"="+root)
	stdin, _ := cmd.StdinPipe()
	stdout, _ := cmd.StdoutPipe()
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	sc := bufio.NewScanner(stdout)
	if !sc.Scan() || sc.Text() != "LOCKED" {
		t.Fatalf("child: %q", sc.Text())
	}
	start := time.Now()
	_, err := Open(nil, crashOptions(root))
	if !errors.Is(err, ErrLocked) || !strings.Contains(err.Error(), filepath.Join(root, "lock")) ||
		!strings.Contains(err.Error(), fmt.Sprintf("pid=%d", cmd.Process.Pid)) || !strings.Contains(err.Error(), "storePathRootDir") {
		t.Fatalf("Open while another process holds the store: %v", err)
	}
	if time.Since(start) > 5*time.Second {
		t.Fatalf("refusal took %v; it must not wait for the lock", time.Since(start))
	}
	t.Logf("refusal: %v", err)
	stdin.Close()
	if err := cmd.Wait(); err != nil {
		t.Fatalf("child: %v", err)
	}
	s, err := Open(nil, crashOptions(root))
	if err != nil {
		t.Fatalf("Open after the holder exited: %v", err)
	}
	if !s.RecoveryReport().CleanShutdown {
		t.Fatal("the holder's Close was not clean")
	}
	s.Close()
}
