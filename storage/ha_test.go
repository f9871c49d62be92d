package storage

import (
	"bytes"
	"errors"
	"math/rand"
	"testing"
)

// replicate copies master bytes [from, master committed end) into the slave with ReadRaw /
// AppendRaw in chunks of chunk bytes, as the HA service does.
func replicate(t testing.TB, master, slave *Store, from int64, chunk int) int64 {
	t.Helper()
	off := from
	for {
		b, err := master.ReadRaw(off, chunk)
		if err != nil {
			t.Fatalf("ReadRaw(%d): %v", off, err)
		}
		if len(b.Data) == 0 {
			b.Release()
			return off
		}
		if err := slave.AppendRaw(off, b.Data); err != nil {
			t.Fatalf("AppendRaw(%d, %d bytes): %v", off, len(b.Data), err)
		}
		off += int64(len(b.Data))
		b.Release()
	}
}

// sameQueues checks that every queue of a exists in b with the same records.
func sameQueues(t *testing.T, a, b *Store) {
	t.Helper()
	waitDispatched(t, a)
	waitDispatched(t, b)
	for _, topic := range a.Topics() {
		for _, q := range a.QueueIDs(topic) {
			amin, amax, _ := a.QueueOffsets(topic, q)
			bmin, bmax, ok := b.QueueOffsets(topic, q)
			if !ok || bmax != amax || bmin < amin {
				t.Fatalf("%s/%d: master [%d,%d) slave [%d,%d) ok=%v", topic, q, amin, amax, bmin, bmax, ok)
			}
			for off := bmin; off < bmax; {
				ra, _ := a.GetMessages(topic, q, off, 32, 0, nil)
				rb, _ := b.GetMessages(topic, q, off, 32, 0, nil)
				if ra.Status != GetFound || rb.Status != GetFound || len(ra.Messages) != len(rb.Messages) || ra.NextBeginOffset != rb.NextBeginOffset {
					t.Fatalf("%s/%d@%d: master %v/%d slave %v/%d", topic, q, off, ra.Status, len(ra.Messages), rb.Status, len(rb.Messages))
				}
				for i := range ra.Messages {
					if !bytes.Equal(ra.Messages[i].Data, rb.Messages[i].Data) || ra.Messages[i].TagsCode != rb.Messages[i].TagsCode {
						t.Fatalf("%s/%d@%d: record %d differs", topic, q, off, i)
					}
				}
				off = ra.NextBeginOffset
				ra.Release()
				rb.Release()
			}
		}
	}
}

func TestReplicationAppendRaw(t *testing.T) {
	forEachConfig(t, func(t *testing.T, o Options) {
		master := openStore(t, o)
		slaveFS, slaveRoot := newFS(t, memFS)
		so := smallOptions(slaveRoot, slaveFS)
		so.FlushDiskType = o.FlushDiskType
		slave := openStore(t, so)
		rng := rand.New(rand.NewSource(1))
		randomMessages(t, master, rng, 150)
		waitFor(t, "commit", func() bool { return master.CommittedPhyOffset() == master.MaxPhyOffset() })
		// Odd chunk sizes cut records (and blank records) anywhere.
		end := replicate(t, master, slave, 0, 1000+7)
		if end != master.MaxPhyOffset() || slave.MaxPhyOffset() != end {
			t.Fatalf("replicated to %d, master %d, slave %d", end, master.MaxPhyOffset(), slave.MaxPhyOffset())
		}
		sameQueues(t, master, slave)
		// Byte-identical commit logs.
		for off := int64(0); off < end; {
			a, _ := master.ReadRaw(off, 1<<20)
			b, err := slave.ReadRaw(off, 1<<20)
			if err != nil || !bytes.Equal(a.Data, b.Data) {
				t.Fatalf("commit logs differ at %d (%v)", off, err)
			}
			off += int64(len(a.Data))
			a.Release()
			b.Release()
		}
		q, _ := slave.QueryMessages("T1", "U17", 5, 0, 1<<62)
		if qm, _ := master.QueryMessages("T1", "U17", 5, 0, 1<<62); len(q.Messages) != len(qm.Messages) {
			t.Fatalf("index on the slave: %d vs %d hits", len(q.Messages), len(qm.Messages))
		}

		// Refusals leave the slave untouched.
		if err := slave.AppendRaw(end+1, []byte{1, 2, 3}); !errors.Is(err, ErrOffsetMismatch) {
			t.Fatalf("wrong offset: %v", err)
		}
		randomMessages(t, master, rng, 5)
		waitFor(t, "commit", func() bool { return master.CommittedPhyOffset() == master.MaxPhyOffset() })
		b, _ := master.ReadRaw(end, 1<<20)
		bad := append([]byte(nil), b.Data...)
		b.Release()
		bad[len(bad)-1] ^= 0xFF // the last record's properties; BODYCRC still matches...
		bad[100] ^= 0xFF        // ...but this flips a body byte of the first record
		if err := slave.AppendRaw(end, bad); !errors.Is(err, ErrCorrupt) {
			t.Fatalf("corrupt data: %v", err)
		}
		if slave.MaxPhyOffset() != end {
			t.Fatal("refused data was written")
		}

		// The slave restarts and continues where it stopped; then a slave that starts
		// empty at the master's last segment (as RocketMQ's HA does) catches up too.
		if err := slave.Close(); err != nil {
			t.Fatal(err)
		}
		slave = openStore(t, so)
		end = replicate(t, master, slave, slave.MaxPhyOffset(), 4096)
		sameQueues(t, master, slave)

		freshFS, freshRoot := newFS(t, memFS)
		fo := smallOptions(freshRoot, freshFS)
		fresh := openStore(t, fo)
		start := end - end%o.MappedFileSizeCommitLog
		replicate(t, master, fresh, start, 32<<10)
		waitDispatched(t, fresh)
		if fresh.MinPhyOffset() != start {
			t.Fatalf("fresh slave starts at %d, want %d", fresh.MinPhyOffset(), start)
		}
		for _, topic := range fresh.Topics() {
			for _, q := range fresh.QueueIDs(topic) {
				lo, hi, _ := fresh.QueueOffsets(topic, q)
				_, mhi, _ := master.QueueOffsets(topic, q)
				if hi != mhi {
					t.Fatalf("%s/%d: fresh slave max %d, master %d", topic, q, hi, mhi)
				}
				recs := getAll(t, fresh, topic, q)
				if int64(len(recs)) != hi-lo {
					t.Fatalf("%s/%d: %d records in [%d,%d)", topic, q, len(recs), lo, hi)
				}
				for i, r := range recs {
					if r.QueueOffset != lo+int64(i) || r.PhysicalOffset < start {
						t.Fatalf("%s/%d: record %d has qo %d phy %d", topic, q, i, r.QueueOffset, r.PhysicalOffset)
					}
				}
			}
		}
		// A slave promoted to master continues the queue offsets.
		r := mustAppend(t, fresh, msg("T0", 0, "after promotion"))
		if _, mhi, _ := master.QueueOffsets("T0", 0); r.QueueOffset != mhi {
			t.Fatalf("promoted slave assigned %d, want %d", r.QueueOffset, mhi)
		}
	})
}
