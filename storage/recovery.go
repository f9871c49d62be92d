package storage

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"time"
)

// RecoveryReport says what Open found and did. It is also logged.
type RecoveryReport struct {
	// CleanShutdown: no abort file was found (the previous Close completed).
	CleanShutdown bool
	// CheckpointValid: the checkpoint passed its magic, version and CRC checks.
	CheckpointValid bool
	// CheckpointError explains an invalid checkpoint ("" if valid or absent).
	CheckpointError string
	// ScanFrom is where the commit-log scan started; CommitLogEnd is the recovered end.
	ScanFrom     int64
	CommitLogEnd int64
	MinPhyOffset int64
	// ScannedRecords is the number of records the scan validated.
	ScannedRecords int64
	// LostDurableBytes > 0 means the log ended below an offset the checkpoint recorded as
	// durable: the disk lost synced data.
	LostDurableBytes int64
	// TruncatedBytes non-zero bytes were cut off after the end; BrokenFile holds them.
	TruncatedBytes int64
	BrokenFile     string
	// RemovedSegments are segment files removed because they lay after the end.
	RemovedSegments []string
	// FullRebuild: the consume queues were rebuilt from the first retained commit-log byte,
	// for FullRebuildReason.
	FullRebuild       bool
	FullRebuildReason string
	// RedispatchFrom is the commit-log offset redispatch started at; RedispatchedRecords
	// records were read and RedispatchedEntries consume-queue entries written.
	RedispatchFrom      int64
	RedispatchedRecords int64
	RedispatchedEntries int64
	// DroppedQueueEntries consume-queue entries past the recovered end were removed.
	DroppedQueueEntries int64
	// RemovedIndexFiles were rebuilt by redispatch (or dropped with a missing checkpoint).
	RemovedIndexFiles []string
	Duration          time.Duration
}

func (s *Store) recover(clean bool) error {
	t0 := time.Now()
	rep := &s.report
	rep.CleanShutdown = clean
	cp, err := readCheckpoint(s.fs, s.opts.StoreCheckpoint)
	if err != nil {
		if !errors.Is(err, ErrCorrupt) {
			return err
		}
		rep.CheckpointError = err.Error()
		s.log.Warn("checkpoint unusable, consume queues will be rebuilt", "path", s.opts.StoreCheckpoint, "err", err)
		cp = nil
	}
	cqFileBytes := int64(s.opts.ConsumeQueueEntriesPerFile) * cqEntrySize
	if cp != nil && (cp.segSize != s.opts.MappedFileSizeCommitLog || cp.cqFileLen != cqFileBytes) {
		return fmt.Errorf("%w: the store at %s was written with mapedFileSizeCommitLog=%d and %d consume-queue entries per file; the options say %d and %d",
			ErrInvalidOptions, s.opts.StorePathRootDir, cp.segSize, cp.cqFileLen/cqEntrySize, s.opts.MappedFileSizeCommitLog, s.opts.ConsumeQueueEntriesPerFile)
	}
	rep.CheckpointValid = cp != nil
	if err := s.recoverCommitLog(cp, clean); err != nil {
		return err
	}
	if err := s.recoverLogics(cp, clean); err != nil {
		return err
	}
	rep.Duration = time.Since(t0)
	lvl := "store recovered"
	attrs := []any{"clean", rep.CleanShutdown, "checkpointValid", rep.CheckpointValid, "scanFrom", rep.ScanFrom,
		"end", rep.CommitLogEnd, "scannedRecords", rep.ScannedRecords, "truncatedBytes", rep.TruncatedBytes,
		"brokenFile", rep.BrokenFile, "removedSegments", len(rep.RemovedSegments), "fullRebuild", rep.FullRebuild,
		"fullRebuildReason", rep.FullRebuildReason, "redispatchFrom", rep.RedispatchFrom,
		"redispatchedRecords", rep.RedispatchedRecords, "redispatchedEntries", rep.RedispatchedEntries,
		"droppedQueueEntries", rep.DroppedQueueEntries, "removedIndexFiles", len(rep.RemovedIndexFiles),
		"lostDurableBytes", rep.LostDurableBytes, "took", rep.Duration}
	if rep.TruncatedBytes > 0 || rep.LostDurableBytes > 0 || rep.FullRebuild {
		s.log.Warn(lvl, attrs...)
	} else {
		s.log.Info(lvl, attrs...)
	}
	return nil
}

// ---- commit log ----

func (s *Store) recoverCommitLog(cp *checkpoint, clean bool) error {
	cl, rep := s.cl, &s.report
	ents, err := s.fs.ReadDir(cl.dir)
	if err != nil {
		return fmt.Errorf("storage: list %s: %w", cl.dir, err)
	}
	var segs []*mappedFile
	fail := func(err error) error {
		for _, sg := range segs {
			sg.destroy(false)
		}
		return err
	}
	for _, e := range ents {
		start, ok := parseSegmentName(e.Name)
		if e.IsDir || !ok {
			continue
		}
		if start%cl.segSize != 0 {
			return fail(fmt.Errorf("%w: segment %s is not a multiple of mapedFileSizeCommitLog=%d", ErrCorrupt, filepath.Join(cl.dir, e.Name), cl.segSize))
		}
		if n := len(segs); n > 0 && segs[n-1].end() != start {
			return fail(fmt.Errorf("%w: commit-log segments are not contiguous: [%d,%d) is missing before %s", ErrCorrupt, segs[n-1].end(), start, filepath.Join(cl.dir, e.Name)))
		}
		sg, err := openMappedFile(s.fs, filepath.Join(cl.dir, e.Name), start, cl.segSize)
		if err != nil {
			return fail(err)
		}
		segs = append(segs, sg)
	}
	if len(segs) == 0 {
		sg, err := cl.createSegment(0, cl.fillMode())
		if err != nil {
			return err
		}
		segs = append(segs, sg)
	}
	first := segs[0].start
	scanFrom := first
	if cp != nil && cp.physic >= first && cp.physic <= segs[len(segs)-1].end() {
		scanFrom = cp.physic
	}
	rep.ScanFrom = scanFrom
	end, lastTs, n := s.scanCommitLog(segs, scanFrom)
	rep.ScannedRecords = n
	rep.CommitLogEnd = end
	rep.MinPhyOffset = first
	if cp != nil && end < cp.physic {
		rep.LostDurableBytes = cp.physic - end
		s.log.Error("commit log ends below the checkpoint's durable offset", "end", end, "checkpointPhysic", cp.physic)
	}

	k := int((end - first) / cl.segSize)
	if k == len(segs) {
		k-- // the end is the end of the last segment
	}
	act := segs[k]
	var broken brokenWriter
	defer broken.close()
	junk := !clean
	if end < act.end() && !bytes.Equal(act.data[end-act.start:end-act.start+min(8, act.end()-end)], zeros[:min(8, act.end()-end)]) {
		junk = true
	}
	if junk && end < act.end() {
		tail := act.data[end-act.start:]
		if nz := lastNonZero(tail); nz >= 0 {
			if err := broken.add(s, end, tail[:nz+1]); err != nil {
				return fail(err)
			}
			if err := zeroRange(act, end-act.start, int64(nz+1)); err != nil {
				return fail(err)
			}
		}
	}
	var next *mappedFile
	for _, sg := range segs[k+1:] {
		if !junk && !bytes.Equal(sg.data[:8], zeros[:8]) {
			junk = true
		}
		nz := -1
		if junk {
			nz = lastNonZero(sg.data)
		}
		if nz < 0 && next == nil && sg.start == act.end() {
			next = sg // a prepared, still empty segment: keep it warm for the appender
			continue
		}
		if nz >= 0 {
			if err := broken.add(s, sg.start, sg.data[:nz+1]); err != nil {
				return fail(err)
			}
		}
		if err := sg.destroy(true); err != nil {
			return fail(fmt.Errorf("storage: remove %s: %w", sg.path, err))
		}
		rep.RemovedSegments = append(rep.RemovedSegments, sg.path)
	}
	if err := broken.close(); err != nil {
		return fail(err)
	}
	if len(rep.RemovedSegments) > 0 {
		if err := s.fs.SyncDir(cl.dir); err != nil {
			return fail(err)
		}
	}
	rep.TruncatedBytes, rep.BrokenFile = broken.n, broken.path
	if broken.n > 0 {
		s.log.Warn("commit-log tail truncated", "end", end, "bytes", broken.n, "copy", broken.path)
	}
	segs = segs[:k+1]
	cl.segs = segs
	cl.active = act
	cl.next = next
	cl.writePos = end
	cl.committed.Store(end)
	cl.flushed.Store(end)
	cl.raw = rawParser{pos: end}
	cl.lastTs = lastTs
	return nil
}

// scanCommitLog validates records from pos and returns the end of the valid log, the last
// record's store time and the number of records.
func (s *Store) scanCommitLog(segs []*mappedFile, pos int64) (end, lastTs, n int64) {
	first := segs[0].start
	segSize := s.cl.segSize
	for {
		k := (pos - first) / segSize
		if k >= int64(len(segs)) {
			return pos, lastTs, n
		}
		sg := segs[k]
		rel := pos - sg.start
		left := sg.size - rel
		if left < 8 {
			return pos, lastTs, n
		}
		size := int32(binary.BigEndian.Uint32(sg.data[rel:]))
		if int32(binary.BigEndian.Uint32(sg.data[rel+4:])) == BlankMagicCode {
			if int64(size) != left {
				return pos, lastTs, n
			}
			pos = sg.end()
			continue
		}
		v, err := parseRecord(sg.data[rel:])
		if err != nil || v.phy != pos {
			return pos, lastTs, n
		}
		if s.opts.CheckCRCOnRecover && BodyCRC(v.body) != v.bodyCRC {
			s.log.Warn("commit-log record fails its body CRC", "offset", pos)
			return pos, lastTs, n
		}
		pos += int64(v.size)
		lastTs = v.storeTs
		n++
	}
}

// lastNonZero returns the index of the last non-zero byte of b, or -1.
func lastNonZero(b []byte) int {
	const chunk = 64 << 10
	for end := len(b); end > 0; {
		start := max(0, end-chunk)
		c := b[start:end]
		if !bytes.Equal(c, zeros[:len(c)]) {
			for i := len(c) - 1; i >= 0; i-- {
				if c[i] != 0 {
					return start + i
				}
			}
		}
		end = start
	}
	return -1
}

// zeroRange writes n zeros at off and syncs the file.
func zeroRange(m *mappedFile, off, n int64) error {
	for n > 0 {
		c := min(n, int64(len(zeros)))
		if err := m.writeAt(zeros[:c], off); err != nil {
			return err
		}
		off += c
		n -= c
	}
	return m.sync()
}

// brokenWriter collects the bytes recovery cuts off into <commitlog>/<offset>.broken.
type brokenWriter struct {
	f interface {
		WriteAt([]byte, int64) (int, error)
	}
	file interface {
		Sync() error
		Close() error
	}
	path string
	n    int64
}

func (b *brokenWriter) add(s *Store, at int64, data []byte) error {
	if b.f == nil {
		base := filepath.Join(s.cl.dir, segmentName(at)+".broken")
		p := base
		for i := 1; ; i++ {
			if _, err := s.fs.Stat(p); errors.Is(err, fs.ErrNotExist) {
				break
			}
			p = base + "." + strconv.Itoa(i)
		}
		f, err := s.fs.OpenFile(p, os.O_RDWR|os.O_CREATE|os.O_EXCL, 0o644)
		if err != nil {
			return fmt.Errorf("storage: create %s: %w", p, err)
		}
		b.f, b.file, b.path = f, f, p
	}
	if _, err := b.f.WriteAt(data, b.n); err != nil {
		return fmt.Errorf("storage: write %s: %w", b.path, err)
	}
	b.n += int64(len(data))
	return nil
}

func (b *brokenWriter) close() error {
	if b.file == nil {
		return nil
	}
	f := b.file
	b.file, b.f = nil, nil
	err := f.Sync()
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	return err
}

// ---- consume queues and index ----

func (s *Store) loadConsumeQueues() error {
	root := s.opts.StorePathConsumeQueue
	topics, err := s.fs.ReadDir(root)
	if err != nil {
		return fmt.Errorf("storage: list %s: %w", root, err)
	}
	for _, t := range topics {
		if !t.IsDir {
			continue
		}
		qs, err := s.fs.ReadDir(filepath.Join(root, t.Name))
		if err != nil {
			return err
		}
		for _, q := range qs {
			id, err := strconv.ParseInt(q.Name, 10, 32)
			if !q.IsDir || err != nil || id < 0 || strconv.Itoa(int(id)) != q.Name {
				continue
			}
			cq := s.cqFor([]byte(t.Name), int32(id), true)
			if err := cq.load(); err != nil {
				return err
			}
		}
	}
	return nil
}

type qState struct {
	next  int64
	empty bool
}

func (s *Store) recoverLogics(cp *checkpoint, clean bool) error {
	rep := &s.report
	cl := s.cl
	end := cl.writePos
	clMin := cl.segs[0].start
	if err := s.loadConsumeQueues(); err != nil {
		return err
	}
	// A store without a checkpoint is rebuilt, unless there is nothing to rebuild (new store).
	full := cp == nil && (end > clMin || len(s.allCQs()) > 0)
	reason := "no valid checkpoint"
	from := clMin
	marks := map[queueKey]int64{}
	if cp != nil {
		from = max(min(cp.logics, end), clMin)
		for _, q := range cp.queues {
			marks[queueKey{q.topic, q.qid}] = q.max
			if !full && s.findCQ(q.topic, q.qid) == nil && q.max > 0 {
				full, reason = true, fmt.Sprintf("consume queue %s/%d is missing", q.topic, q.qid)
			}
		}
	}
	if !full {
		for _, cq := range s.allCQs() {
			if err := s.checkQueue(cq, marks, end, clMin); err != nil {
				full, reason = true, err.Error()
				break
			}
		}
	}
	if !full {
		if err := s.verifyRedispatch(from, end); err != nil {
			full, reason = true, err.Error()
		}
	}
	if full {
		rep.FullRebuild, rep.FullRebuildReason = true, reason
		s.log.Warn("rebuilding consume queues from the commit log", "reason", reason, "from", clMin)
		for _, cq := range s.allCQs() {
			old, ok := marks[queueKey{cq.topic, cq.qid}]
			if !ok {
				old = s.scanQueueEnd(cq, end)
			}
			if err := cq.destroyAll(true); err != nil {
				return err
			}
			cq.minOff.Store(old)
			cq.maxOff.Store(old)
			cq.synced.Store(old)
			cq.writeNext = old
		}
		from = clMin
	}
	rep.RedispatchFrom = from

	// The index keeps entries below the checkpoint's logics offset.
	if s.idx != nil {
		idxFrom := clMin
		if cp != nil {
			idxFrom = max(min(cp.logics, end), clMin)
		}
		removed, err := s.idx.load(clean, cp != nil, idxFrom)
		rep.RemovedIndexFiles = removed
		if err != nil {
			return err
		}
		s.indexFrom = idxFrom
	}

	mode := dispatchRecover
	if full {
		mode = dispatchRebuild
	}
	s.dispatchMu.Lock()
	s.dispatched.Store(from)
	s.redispatch = &rep.RedispatchedRecords
	s.redispatchEntries = &rep.RedispatchedEntries
	var err error
	for {
		var progressed bool
		if progressed, err = s.dispatchRoundLocked(end, mode); err != nil || !progressed {
			break
		}
	}
	s.redispatch, s.redispatchEntries = nil, nil
	s.dispatchMu.Unlock()
	if err != nil {
		return fmt.Errorf("storage: redispatch: %w", err)
	}

	for _, cq := range s.allCQs() {
		if !clean || full {
			n, err := cq.trimAfterMax()
			rep.DroppedQueueEntries += n
			if err != nil {
				return err
			}
		}
		cq.correctMin(clMin)
	}
	cl.mu.Lock()
	for _, cq := range s.allCQs() {
		*cl.queueOffsetLocked(cq.topic, cq.qid) = cq.maxOff.Load()
	}
	cl.mu.Unlock()
	if full {
		if err := s.syncQueueDirs(); err != nil {
			return err
		}
	}
	return s.checkpointNow(true)
}

// checkQueue sets a queue's recovered length from the checkpoint mark, verifying the last
// entry against the commit log; entries pointing past the recovered end are dropped.
func (s *Store) checkQueue(cq *consumeQueue, marks map[queueKey]int64, end, clMin int64) error {
	cq.mu.RLock()
	first, last := cq.firstPosLocked(), cq.endPosLocked()
	cq.mu.RUnlock()
	k, ok := marks[queueKey{cq.topic, cq.qid}]
	if !ok {
		k = first // created after the checkpoint: nothing in it is known durable
	}
	if len(cq.files) == 0 {
		first, last = k, k
	}
	if k < first || k > last {
		return fmt.Errorf("consume queue %s/%d: checkpoint says %d entries, files cover [%d,%d)", cq.topic, cq.qid, k, first, last)
	}
	if k > first {
		cq.mu.RLock()
		e, _ := cq.rawEntryLocked(k - 1)
		cq.mu.RUnlock()
		switch {
		case e.size <= 0:
			return fmt.Errorf("consume queue %s/%d: entry %d is empty", cq.topic, cq.qid, k-1)
		case e.phy+int64(e.size) > end:
			// The commit log lost its tail: keep the entries whose records survived.
			lo, hi := first, k
			cq.mu.RLock()
			for lo < hi {
				mid := lo + (hi-lo)/2
				if me, _ := cq.rawEntryLocked(mid); me.size > 0 && me.phy+int64(me.size) <= end {
					lo = mid + 1
				} else {
					hi = mid
				}
			}
			cq.mu.RUnlock()
			s.log.Warn("consume queue points past the recovered commit log", "topic", cq.topic, "queueId", cq.qid, "entries", k, "kept", lo)
			k = lo
		case e.phy >= clMin:
			if err := s.verifyEntry(cq, k-1, e); err != nil {
				return err
			}
		}
	}
	cq.minOff.Store(first)
	cq.maxOff.Store(k)
	cq.synced.Store(k)
	cq.writeNext = k
	return nil
}

// verifyEntry checks that entry i of cq points at a record of that queue with offset i.
func (s *Store) verifyEntry(cq *consumeQueue, i int64, e cqEntry) error {
	data, seg, err := s.cl.recordAt(e.phy)
	if err != nil {
		return fmt.Errorf("consume queue %s/%d entry %d: %w", cq.topic, cq.qid, i, err)
	}
	defer seg.release()
	v, err := parseRecord(data)
	if err != nil || v.size != e.size || v.qo != i || v.qid != cq.qid || string(v.topic) != cq.topic {
		return fmt.Errorf("consume queue %s/%d entry %d does not match the record at %d", cq.topic, cq.qid, i, e.phy)
	}
	return nil
}

// verifyRedispatch reads the records to redispatch and checks that each continues its
// queue; a record that does not means the consume queue lost entries.
func (s *Store) verifyRedispatch(from, end int64) error {
	state := map[*consumeQueue]*qState{}
	pos := from
	for pos < end {
		seg := s.cl.segmentFor(pos)
		if seg == nil {
			return fmt.Errorf("no segment at %d", pos)
		}
		rel := pos - seg.start
		avail := min(end, seg.end()) - pos
		if avail < 8 {
			seg.release()
			break
		}
		if int32(binary.BigEndian.Uint32(seg.data[rel+4:])) == BlankMagicCode {
			pos = seg.end()
			seg.release()
			continue
		}
		v, err := parseRecord(seg.data[rel : rel+avail])
		seg.release()
		if err != nil {
			break // partial raw tail; the dispatcher stops there too
		}
		if dispatchable(v.sysFlag) {
			if cq := s.cqFor(v.topic, v.qid, false); cq != nil {
				st := state[cq]
				if st == nil {
					st = &qState{next: cq.maxOff.Load(), empty: cq.maxOff.Load() == cq.minOff.Load()}
					state[cq] = st
				}
				if st.empty && v.qo >= st.next {
					st.next, st.empty = v.qo, false
				}
				if v.qo != st.next {
					return fmt.Errorf("record at %d has queue offset %d but consume queue %s/%d continues at %d", pos, v.qo, cq.topic, cq.qid, st.next)
				}
				st.next++
			}
		}
		pos += int64(v.size)
	}
	return nil
}

// scanQueueEnd finds the end of a queue's valid entries by reading its files (used when the
// checkpoint has no mark for it during a full rebuild).
func (s *Store) scanQueueEnd(cq *consumeQueue, end int64) int64 {
	cq.mu.RLock()
	defer cq.mu.RUnlock()
	first, last := cq.firstPosLocked(), cq.endPosLocked()
	prev := int64(-1)
	i := first
	for ; i < last; i++ {
		e, _ := cq.rawEntryLocked(i)
		if e.size <= 0 || e.phy < prev || e.phy+int64(e.size) > end {
			if i == first && e.size <= 0 {
				continue // a queue that starts inside its first file
			}
			break
		}
		prev = e.phy
	}
	return i
}

// trimAfterMax zeroes entries past maxOffset in the last kept file and removes files that
// start at or after it. It returns the number of non-empty entries removed.
func (cq *consumeQueue) trimAfterMax() (int64, error) {
	maxByte := cq.maxOff.Load() * cqEntrySize
	cq.mu.Lock()
	var drop []*mappedFile
	keep := cq.files[:0]
	for _, f := range cq.files {
		if f.start >= maxByte {
			drop = append(drop, f)
			continue
		}
		keep = append(keep, f)
	}
	cq.files = keep
	var lastF *mappedFile
	if len(keep) > 0 {
		lastF = keep[len(keep)-1]
	}
	cq.mu.Unlock()
	var dropped int64
	for _, f := range drop {
		dropped += countEntries(f.data)
		if err := f.destroy(true); err != nil {
			return dropped, err
		}
	}
	if lastF != nil && maxByte < lastF.end() {
		tail := lastF.data[maxByte-lastF.start:]
		if nz := lastNonZero(tail); nz >= 0 {
			dropped += countEntries(tail[:nz+1])
			if err := zeroRange(lastF, maxByte-lastF.start, int64(nz+1)); err != nil {
				return dropped, err
			}
		}
	}
	return dropped, nil
}

func countEntries(b []byte) int64 {
	var n int64
	for i := 0; i+cqEntrySize <= len(b); i += cqEntrySize {
		if !bytes.Equal(b[i:i+cqEntrySize], zeros[:cqEntrySize]) {
			n++
		}
	}
	return n
}

// syncQueueDirs fsyncs the consume-queue root and every topic directory (after a rebuild
// removed and re-created directories).
func (s *Store) syncQueueDirs() error {
	root := s.opts.StorePathConsumeQueue
	topics, err := s.fs.ReadDir(root)
	if err != nil {
		return err
	}
	for _, t := range topics {
		if t.IsDir {
			if err := s.fs.SyncDir(filepath.Join(root, t.Name)); err != nil {
				return err
			}
		}
	}
	return s.fs.SyncDir(root)
}
