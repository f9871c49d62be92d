package storage

import (
	"context"
	"log/slog"
	"net/netip"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/gorocket/gorocket/storage/vfs"
)

var (
	testBornHost  = netip.MustParseAddrPort("192.168.0.7:51234")
	testStoreHost = netip.MustParseAddrPort("10.0.0.5:10911")
)

// testLogger logs through t when -v is given, otherwise discards.
func testLogger(t testing.TB) *slog.Logger {
	if testing.Verbose() {
		return slog.New(slog.NewTextHandler(testWriter{t}, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	return slog.New(slog.DiscardHandler)
}

type testWriter struct{ t testing.TB }

func (w testWriter) Write(p []byte) (int, error) {
	w.t.Helper()
	w.t.Log(string(p))
	return len(p), nil
}

// fakeClock is a settable clock for store timestamps and retention.
type fakeClock struct {
	mu  sync.Mutex
	now time.Time
}

func newFakeClock(t time.Time) *fakeClock { return &fakeClock{now: t} }

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *fakeClock) Set(t time.Time) {
	c.mu.Lock()
	c.now = t
	c.mu.Unlock()
}

func (c *fakeClock) Add(d time.Duration) {
	c.mu.Lock()
	c.now = c.now.Add(d)
	c.mu.Unlock()
}

// smallOptions are options for tests: small segments and files, fast intervals.
func smallOptions(root string, fsys vfs.FS) Options {
	o := DefaultOptions()
	o.StorePathRootDir = root
	o.FS = fsys
	o.MaxMessageSize = 4096
	o.MappedFileSizeCommitLog = 64 << 10
	o.ConsumeQueueEntriesPerFile = 64
	o.MaxHashSlotNum = 64
	o.MaxIndexNum = 256
	o.FlushIntervalCommitLog = 5 * time.Millisecond
	o.FlushIntervalConsumeQueue = 20 * time.Millisecond
	o.CleanResourceInterval = time.Hour
	o.SyncFlushTimeout = 5 * time.Second
	o.CommitBufferSize = 8 << 10
	o.TotalPhysicalMemory = 1 << 30
	return o
}

type fsKind string

const (
	memFS fsKind = "mem"
	osFS  fsKind = "os"
)

// newFS returns a file system and a root directory for it.
func newFS(t testing.TB, kind fsKind) (vfs.FS, string) {
	if kind == memFS {
		return vfs.NewMem(), "/store"
	}
	return vfs.Default, filepath.Join(t.TempDir(), "store")
}

func openStore(t testing.TB, o Options) *Store {
	t.Helper()
	s, err := Open(testLogger(t), o)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

// msg builds a test message; props are key/value pairs.
func msg(topic string, qid int32, body string, props ...string) *Message {
	var p []byte
	for i := 0; i+1 < len(props); i += 2 {
		p = AppendProperty(p, props[i], props[i+1])
	}
	return &Message{
		Topic:         topic,
		QueueID:       qid,
		Flag:          7,
		Body:          []byte(body),
		Properties:    p,
		BornTimestamp: 1700000000000,
		BornHost:      testBornHost,
		StoreHost:     testStoreHost,
	}
}

func mustAppend(t testing.TB, s *Store, m *Message) AppendResult {
	t.Helper()
	r := s.Append(context.Background(), m)
	if r.Status != PutOK {
		t.Fatalf("Append(%s/%d): %v %v", m.Topic, m.QueueID, r.Status, r.Err)
	}
	return r
}

// waitFor polls cond until it holds or the deadline passes.
func waitFor(t testing.TB, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(time.Millisecond)
	}
}

// waitFlushed waits until everything appended is durable (asking the flusher to hurry).
func waitFlushed(t testing.TB, s *Store) {
	t.Helper()
	if err := s.WaitFlushed(context.Background(), s.MaxPhyOffset(), 10*time.Second); err != nil {
		t.Fatal(err)
	}
}

// waitDispatched waits until every committed byte has been dispatched.
func waitDispatched(t testing.TB, s *Store) {
	t.Helper()
	waitFor(t, "dispatch", func() bool {
		st := s.Stats()
		return st.CommittedPhyOffset == st.MaxPhyOffset && st.DispatchedPhyOffset == st.CommittedPhyOffset
	})
}

// getAll reads a whole queue and returns the decoded records.
func getAll(t testing.TB, s *Store, topic string, qid int32) []Record {
	t.Helper()
	var out []Record
	off := int64(0)
	for {
		r, err := s.GetMessages(topic, qid, off, 32, 0, nil)
		if err != nil {
			t.Fatal(err)
		}
		if r.Status != GetFound {
			if r.Status == GetOffsetTooSmall {
				off = r.NextBeginOffset
				continue
			}
			return out
		}
		for _, m := range r.Messages {
			rec, _, err := DecodeRecord(m.Data)
			if err != nil {
				t.Fatalf("decode at %d: %v", m.PhysicalOffset, err)
			}
			rec.Body = append([]byte(nil), rec.Body...)
			rec.Properties = append([]byte(nil), rec.Properties...)
			out = append(out, rec)
		}
		r.Release()
		off = r.NextBeginOffset
	}
}
