package storage

import (
	"context"
	"fmt"
	"math"
	"time"
)

// checkpointLoop is order step 5 for a running store.
func (s *Store) checkpointLoop() {
	defer s.wg.Done()
	t := time.NewTicker(s.opts.FlushIntervalConsumeQueue)
	defer t.Stop()
	for {
		select {
		case <-t.C:
			if err := s.checkpointNow(false); err != nil {
				s.log.Error("checkpoint failed", "err", err)
			}
		case <-s.stop:
			return
		}
	}
}

// checkpointNow makes the consume queues and the index durable up to the dispatched offset
// and records it (order step 5). final is set by Open and Close, when nothing runs
// concurrently and the commit log is flushed.
func (s *Store) checkpointNow(final bool) error {
	s.cpMu.Lock()
	defer s.cpMu.Unlock()
	s.dispatchMu.Lock()
	d := s.dispatched.Load()
	cqs := s.allCQs()
	marks := make([]queueMark, len(cqs))
	for i, cq := range cqs {
		marks[i] = queueMark{topic: cq.topic, qid: cq.qid, max: cq.maxOff.Load()}
	}
	var dirs []string
	newDirs := false
	for cq := range s.newCQFiles {
		dirs = append(dirs, cq.dir)
		if cq.newDir {
			newDirs = true
			cq.newDir = false
		}
	}
	clear(s.newCQFiles)
	s.dispatchMu.Unlock()

	if !final && d == s.lastCP.logics && len(dirs) == 0 && s.cl.flushed.Load() == s.lastCP.physic && len(marks) == len(s.lastCP.queues) {
		return nil
	}
	restore := func(err error) error {
		s.dispatchMu.Lock()
		for _, cq := range cqs {
			for _, d := range dirs {
				if cq.dir == d {
					s.newCQFiles[cq] = true
				}
			}
		}
		s.dispatchMu.Unlock()
		return err
	}
	// Commit-log data first: the entries declared durable must point at durable records.
	if s.cl.flushed.Load() < d {
		ctx, cancel := context.WithCancel(context.Background())
		go func() {
			select {
			case <-s.stop:
				cancel()
			case <-ctx.Done():
			}
		}()
		err := s.cl.waitFlushed(ctx, d, 10*s.opts.SyncFlushTimeout)
		cancel()
		if err != nil {
			return restore(fmt.Errorf("storage: checkpoint: commit log not flushed to %d: %w", d, err))
		}
	}
	for _, dir := range dirs {
		if err := s.fs.SyncDir(dir); err != nil {
			return restore(fmt.Errorf("storage: checkpoint: sync dir %s: %w", dir, err))
		}
	}
	if newDirs {
		if err := s.syncQueueDirs(); err != nil {
			return restore(fmt.Errorf("storage: checkpoint: %w", err))
		}
	}
	for i, cq := range cqs {
		if err := cq.syncTo(marks[i].max); err != nil {
			return fmt.Errorf("storage: checkpoint: %w", err)
		}
	}
	if s.idx != nil {
		if err := s.idx.sync(); err != nil {
			return fmt.Errorf("storage: checkpoint: %w", err)
		}
	}
	cp := checkpoint{
		segSize:   s.opts.MappedFileSizeCommitLog,
		cqFileLen: int64(s.opts.ConsumeQueueEntriesPerFile) * cqEntrySize,
		physic:    s.cl.flushed.Load(),
		logics:    d,
		writtenAt: s.opts.Clock().UnixMilli(),
		queues:    marks,
	}
	if cp.physic < cp.logics {
		cp.physic = cp.logics // flushed moved on meanwhile; never record less than logics
	}
	if err := writeCheckpoint(s.fs, s.opts.StoreCheckpoint, &cp); err != nil {
		return err
	}
	s.lastCP = cp
	return nil
}

// ---- retention ----

func (s *Store) cleanerLoop() {
	defer s.wg.Done()
	t := time.NewTicker(s.opts.CleanResourceInterval)
	defer t.Stop()
	for {
		select {
		case <-t.C:
			s.runRetention(false)
		case <-s.stop:
			return
		}
	}
}

// refreshDisk measures the commit log's file system and updates the disk-full flag.
func (s *Store) refreshDisk() float64 {
	u, err := s.fs.DiskUsage(s.opts.StorePathCommitLog)
	if err != nil {
		s.log.Warn("disk usage unavailable", "path", s.opts.StorePathCommitLog, "err", err)
		return s.DiskUsedRatio()
	}
	r := u.UsedRatio()
	s.diskRatio.Store(math.Float64bits(r))
	full := r*100 >= float64(s.opts.DiskHardLimitRatio)
	if was := s.diskFull.Swap(full); was != full {
		if full {
			s.log.Error("disk above the hard limit, refusing appends", "usedPercent", 100*r, "limit", s.opts.DiskHardLimitRatio)
		} else {
			s.log.Info("disk below the hard limit again, accepting appends", "usedPercent", 100*r)
		}
	}
	return r
}

// RetentionReport lists what a retention run removed.
type RetentionReport struct {
	DeletedSegments   []string
	DeletedIndexFiles []string
	DiskUsedRatio     float64
}

// DeleteExpiredFiles runs retention now, deleting expired segments whatever the hour (the
// admin DELETE_EXPIRED_COMMITLOG request). The background run does the same at deleteWhen,
// or at once above diskMaxUsedSpaceRatio.
func (s *Store) DeleteExpiredFiles() (RetentionReport, error) {
	if s.closed.Load() {
		return RetentionReport{}, ErrClosed
	}
	return s.runRetention(true), nil
}

// runRetention deletes whole segments, oldest first, never the active one and never one
// that is not yet flushed and dispatched: expired ones (older than fileReservedTime) at
// deleteWhen, on manual request, or above diskMaxUsedSpaceRatio; above
// diskSpaceCleanForciblyRatio also unexpired ones until usage drops below it.
func (s *Store) runRetention(manual bool) RetentionReport {
	s.cleanMu.Lock()
	defer s.cleanMu.Unlock()
	var rep RetentionReport
	ratio := s.refreshDisk()
	now := s.opts.Clock()
	atHour := s.deleteHours[now.Hour()]
	reserved := time.Duration(s.opts.FileReservedTime) * time.Hour
	for {
		over := ratio*100 >= float64(s.opts.DiskMaxUsedSpaceRatio)
		forcibly := ratio*100 >= float64(s.opts.DiskCleanForciblyRatio)
		if !(atHour || manual || over || forcibly) {
			break
		}
		s.cl.segMu.RLock()
		if len(s.cl.segs) < 2 {
			s.cl.segMu.RUnlock()
			break
		}
		cand, next := s.cl.segs[0], s.cl.segs[1]
		s.cl.segMu.RUnlock()
		if cand.end() > min(s.dispatched.Load(), s.cl.flushed.Load()) {
			break
		}
		expired := false
		if ts, err := s.storeTimeAt(next.start); err == nil {
			// Every record of cand is older than the first record of the next segment.
			expired = time.UnixMilli(ts).Add(reserved).Before(now) || time.UnixMilli(ts).Add(reserved).Equal(now)
		}
		if !expired && !forcibly {
			break
		}
		s.cl.segMu.Lock()
		if len(s.cl.segs) < 2 || s.cl.segs[0] != cand {
			s.cl.segMu.Unlock()
			break
		}
		s.cl.segs = s.cl.segs[1:]
		s.cl.segMu.Unlock()
		if err := cand.destroy(true); err != nil {
			s.log.Error("segment removal failed", "path", cand.path, "err", err)
		}
		s.log.Info("commit-log segment deleted", "path", cand.path, "expired", expired, "diskUsedPercent", 100*ratio)
		rep.DeletedSegments = append(rep.DeletedSegments, cand.path)
		if forcibly {
			ratio = s.refreshDisk()
		}
	}
	if len(rep.DeletedSegments) > 0 {
		if err := s.fs.SyncDir(s.cl.dir); err != nil {
			s.log.Warn("sync dir failed", "dir", s.cl.dir, "err", err)
		}
		clMin := s.cl.minOffset()
		for _, cq := range s.allCQs() {
			cq.correctMin(clMin)
		}
		if s.idx != nil {
			rep.DeletedIndexFiles = s.idx.deleteBefore(clMin)
		}
		ratio = s.refreshDisk()
	}
	rep.DiskUsedRatio = ratio
	return rep
}
