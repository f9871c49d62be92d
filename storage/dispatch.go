package storage

import (
	"encoding/binary"
	"errors"
	"fmt"
	"path/filepath"
	"strconv"
	"time"
)

// dispatchRoundBytes bounds one dispatch round: entries are written and published at the
// end of each round.
const dispatchRoundBytes = 1 << 20

type arrival struct {
	cq   *consumeQueue
	qo   int64
	tags int64
}

// dispatchMode tells a round how to treat consume-queue inconsistencies.
type dispatchMode int

const (
	dispatchLive    dispatchMode = iota // running store: log and repair
	dispatchRecover                     // incremental recovery: verified beforehand
	dispatchRebuild                     // full rebuild: the later sequence wins
)

// cqFor returns the consume queue of (topic, qid), creating it when create is set.
func (s *Store) cqFor(topic []byte, qid int32, create bool) *consumeQueue {
	s.cqMu.RLock()
	cq := s.cqs[string(topic)][qid]
	s.cqMu.RUnlock()
	if cq != nil || !create {
		return cq
	}
	s.cqMu.Lock()
	defer s.cqMu.Unlock()
	qs := s.cqs[string(topic)]
	if qs == nil {
		qs = map[int32]*consumeQueue{}
		s.cqs[string(topic)] = qs
	}
	if cq = qs[qid]; cq == nil {
		cq = newConsumeQueue(s.fs, s.opts.StorePathConsumeQueue, string(topic), qid, s.opts.ConsumeQueueEntriesPerFile)
		qs[qid] = cq
	}
	return cq
}

func (s *Store) findCQ(topic string, qid int32) *consumeQueue {
	s.cqMu.RLock()
	defer s.cqMu.RUnlock()
	return s.cqs[topic][qid]
}

// allCQs lists every consume queue.
func (s *Store) allCQs() []*consumeQueue {
	s.cqMu.RLock()
	defer s.cqMu.RUnlock()
	var out []*consumeQueue
	for _, qs := range s.cqs {
		for _, cq := range qs {
			out = append(out, cq)
		}
	}
	return out
}

// tagsCodeOf computes the consume-queue tag code of a record: the Java hash of TAGS, or on
// the schedule topic the delivery time (store time + delay of the DELAY level).
func (s *Store) tagsCodeOf(v *recordView) int64 {
	if len(s.opts.DelayLevels) > 0 && string(v.topic) == s.opts.ScheduleTopic {
		if d, ok := PropertyValue(v.props, PropertyDelayLevel); ok {
			if lvl, err := strconv.Atoi(string(d)); err == nil && lvl > 0 {
				lvl = min(lvl, len(s.opts.DelayLevels))
				return v.storeTs + s.opts.DelayLevels[lvl-1].Milliseconds()
			}
		}
	}
	t, _ := PropertyValue(v.props, PropertyTags)
	return TagsCode(t)
}

// dispatchRoundLocked dispatches committed records from the dispatched offset up to end
// (at most dispatchRoundBytes), writes the entries, publishes them, and returns whether it
// advanced. s.dispatchMu must be held.
func (s *Store) dispatchRoundLocked(end int64, mode dispatchMode) (bool, error) {
	pos := s.dispatched.Load()
	start := pos
	if pos >= end {
		return false, nil
	}
	var err error
	var seg *mappedFile
	defer func() {
		if seg != nil {
			seg.release()
		}
	}()
	for pos < end && pos-start < dispatchRoundBytes {
		if seg == nil || pos >= seg.end() {
			if seg != nil {
				seg.release()
			}
			if seg = s.cl.segmentFor(pos); seg == nil {
				err = fmt.Errorf("storage: dispatch: no segment holds offset %d", pos)
				break
			}
		}
		rel := pos - seg.start
		avail := min(end, seg.end()) - pos
		if avail < 8 {
			break // a raw append stopped mid-header; wait for the rest
		}
		size := int32(binary.BigEndian.Uint32(seg.data[rel:]))
		if int32(binary.BigEndian.Uint32(seg.data[rel+4:])) == BlankMagicCode {
			pos = seg.end()
			continue
		}
		v, perr := parseRecord(seg.data[rel : rel+avail])
		if errors.Is(perr, errShortRecord) && int64(size) <= seg.end()-pos {
			break // partial raw record
		}
		if perr != nil {
			err = fmt.Errorf("storage: dispatch at %d: %w", pos, perr)
			break
		}
		if err = s.dispatchRecordLocked(&v, pos, mode); err != nil {
			break
		}
		pos += int64(v.size)
	}
	if ferr := s.finishRoundLocked(); ferr != nil && err == nil {
		err = ferr
	}
	if err == nil || pos > start {
		s.dispatched.Store(pos)
	}
	return pos > start, err
}

// dispatchRecordLocked adds one record's consume-queue entry and index keys.
// s.dispatchMu must be held.
func (s *Store) dispatchRecordLocked(v *recordView, pos int64, mode dispatchMode) error {
	if dispatchable(v.sysFlag) {
		cq := s.cqFor(v.topic, v.qid, true)
		tags := s.tagsCodeOf(v)
		e := cqEntry{phy: pos, size: v.size, tags: tags}
		var err error
		before := cq.writeNext
		if mode == dispatchRebuild && v.qo < cq.writeNext {
			err = errQueueGap // a queue that went backwards (topic deleted and re-created)
		} else {
			err = cq.put(v.qo, e)
		}
		if errors.Is(err, errQueueGap) {
			switch mode {
			case dispatchRecover:
				return err
			case dispatchRebuild:
				s.log.Warn("consume queue restarted during rebuild", "topic", cq.topic, "queueId", cq.qid, "expected", cq.writeNext, "got", v.qo)
			default:
				s.log.Error("consume queue gap, restarting queue", "topic", cq.topic, "queueId", cq.qid, "expected", cq.writeNext, "got", v.qo, "offset", pos)
			}
			if ferr := s.flushCQLocked(cq); ferr != nil {
				return ferr
			}
			cq.restartAt(v.qo)
			err = cq.put(v.qo, e)
		}
		if err != nil {
			return err
		}
		if s.redispatchEntries != nil && cq.writeNext != before {
			*s.redispatchEntries++
		}
		if !cq.touched {
			cq.touched = true
			s.touched = append(s.touched, cq)
		}
		if mode == dispatchLive {
			s.arrivals = append(s.arrivals, arrival{cq: cq, qo: v.qo, tags: tags})
		}
	}
	if s.redispatch != nil {
		*s.redispatch++
	}
	if s.idx != nil && TransactionType(v.sysFlag) != TransactionRollbackType && pos >= s.indexFrom {
		if err := s.indexRecordLocked(v, pos); err != nil {
			return err
		}
	}
	return nil
}

// indexRecordLocked adds the record's UNIQ_KEY and KEYS to the index. s.dispatchMu must be
// held.
func (s *Store) indexRecordLocked(v *recordView, pos int64) error {
	uniq, hasUniq := PropertyValue(v.props, PropertyUniqKey)
	keys, hasKeys := PropertyValue(v.props, PropertyKeys)
	if !hasUniq && !hasKeys {
		return nil
	}
	s.idx.mu.Lock()
	defer s.idx.mu.Unlock()
	if hasUniq && len(uniq) > 0 {
		if err := s.idx.putLocked(v.topic, uniq, pos, v.storeTs); err != nil {
			return err
		}
	}
	for len(keys) > 0 {
		i := indexByte(keys, ' ')
		k := keys
		if i >= 0 {
			k, keys = keys[:i], keys[i+1:]
		} else {
			keys = nil
		}
		if len(k) > 0 {
			if err := s.idx.putLocked(v.topic, k, pos, v.storeTs); err != nil {
				return err
			}
		}
	}
	return nil
}

// flushCQLocked writes one queue's pending entries. s.dispatchMu must be held.
func (s *Store) flushCQLocked(cq *consumeQueue) error {
	created, err := cq.flushPending()
	if created {
		s.newCQFiles[cq] = true
	}
	return err
}

// finishRoundLocked writes and publishes everything the round produced.
// s.dispatchMu must be held.
func (s *Store) finishRoundLocked() error {
	var err error
	for _, cq := range s.touched {
		if e := s.flushCQLocked(cq); e != nil && err == nil {
			err = e
		}
		cq.touched = false
	}
	clear(s.touched)
	s.touched = s.touched[:0]
	if s.idx != nil {
		s.idx.mu.Lock()
		if e := s.idx.flushPendingLocked(); e != nil && err == nil {
			err = e
		}
		s.idx.mu.Unlock()
	}
	return err
}

// dispatcherLoop is order step 4 for a running store.
func (s *Store) dispatcherLoop() {
	defer s.wg.Done()
	tick := time.NewTicker(100 * time.Millisecond)
	defer tick.Stop()
	var calls []arrival
	var last time.Time
	pause := time.NewTimer(time.Hour)
	defer pause.Stop()
	for {
		for {
			s.dispatchMu.Lock()
			progressed, err := s.dispatchRoundLocked(s.cl.committed.Load(), dispatchLive)
			calls = append(calls[:0], s.arrivals...)
			clear(s.arrivals)
			s.arrivals = s.arrivals[:0]
			s.dispatchMu.Unlock()
			s.callArrivals(calls)
			clear(calls)
			if err != nil {
				s.log.Error("dispatch failed", "offset", s.dispatched.Load(), "err", err)
				s.cl.fail(err)
				return
			}
			if !progressed {
				break
			}
		}
		select {
		case <-s.dispatchWake:
		case <-tick.C:
		case <-s.stop:
			return
		}
		// Coalesce wake-ups (one per commit under SYNC_FLUSH group commit) into rounds at
		// most every dispatchCoalesce, as RocketMQ's reput service polls every millisecond:
		// bigger rounds, fewer syscalls, and the CPU stays with the appenders.
		if d := time.Since(last); d < dispatchCoalesce {
			pause.Reset(dispatchCoalesce - d)
			select {
			case <-pause.C:
			case <-s.stop:
				return
			}
		}
		last = time.Now()
	}
}

// dispatchCoalesce is the shortest interval between two dispatcher wake-ups.
const dispatchCoalesce = time.Millisecond

// callArrivals runs the message-arrived hook outside every storage lock.
func (s *Store) callArrivals(calls []arrival) {
	if len(calls) == 0 {
		return
	}
	h := s.hook.Load()
	if h == nil || *h == nil {
		return
	}
	fn := *h
	for _, a := range calls {
		fn(a.cq.topic, a.cq.qid, a.qo, a.tags)
	}
}

// queueDir is the directory of a topic's queue.
func (s *Store) queueDir(topic string, qid int32) string {
	return filepath.Join(s.opts.StorePathConsumeQueue, topic, strconv.Itoa(int(qid)))
}
