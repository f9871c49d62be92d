package broker

import (
	"fmt"
	"log/slog"
	"maps"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/gorocket/gorocket/broker/internal/fsutil"
	"github.com/gorocket/gorocket/broker/internal/message"
	"github.com/gorocket/gorocket/broker/topic"
)

// scheduleService delivers delayed messages: a message sent with DELAY=L is stored in
// SCHEDULE_TOPIC_XXXX queue L-1; when storeTimestamp + delay(L) has passed, this service
// appends it to its REAL_TOPIC/REAL_QID and advances the level's offset
// (config/delayOffset.json, {"offsetTable":{level:offset}}). Retries use the same path.
//
// One goroutine serves every level: it delivers what is due, then sleeps until the earliest
// pending delivery time or until a new schedule message arrives (kick).
type scheduleService struct {
	log    *slog.Logger
	srv    *Server
	delays []time.Duration
	path   string

	mu      sync.Mutex // guards offsets, dirty
	offsets map[int]int64
	dirty   bool

	kick    chan struct{}
	stop    chan struct{}
	done    chan struct{}
	running bool // start was called (a slave never delivers: it follows the master's offsets)
}

type delayOffsetFile struct {
	OffsetTable map[int]int64 `json:"offsetTable"`
}

func newScheduleService(logger *slog.Logger, srv *Server, delays []time.Duration, path string) (*scheduleService, error) {
	ss := &scheduleService{log: logger, srv: srv, delays: delays, path: path, offsets: make(map[int]int64),
		kick: make(chan struct{}, 1), stop: make(chan struct{}), done: make(chan struct{})}
	var f delayOffsetFile
	if _, err := fsutil.ReadJSON(path, &f); err != nil {
		return nil, fmt.Errorf("broker: load delay offsets: %w", err)
	}
	maps.Copy(ss.offsets, f.OffsetTable)
	return ss, nil
}

func (ss *scheduleService) start() {
	ss.running = true
	go ss.run()
}

// close stops the delivery loop (if it runs). start and close are called by Server.Start and
// Server.Close only.
func (ss *scheduleService) close() {
	if !ss.running {
		return
	}
	close(ss.stop)
	<-ss.done
}

// replace adopts the master's per-level offsets (a slave's metadata sync).
func (ss *scheduleService) replace(offsets map[int]int64) {
	ss.mu.Lock()
	defer ss.mu.Unlock()
	if maps.Equal(ss.offsets, offsets) {
		return
	}
	ss.offsets = maps.Clone(offsets)
	if ss.offsets == nil {
		ss.offsets = make(map[int]int64)
	}
	ss.dirty = true
}

// wake asks the loop to look again (a schedule message arrived).
func (ss *scheduleService) wake() {
	select {
	case ss.kick <- struct{}{}:
	default:
	}
}

func (ss *scheduleService) run() {
	defer close(ss.done)
	timer := time.NewTimer(time.Hour)
	defer timer.Stop()
	for {
		var next time.Time
		for lvl := 1; lvl <= len(ss.delays); lvl++ {
			due := ss.deliverLevel(lvl, time.Now())
			if !due.IsZero() && (next.IsZero() || due.Before(next)) {
				next = due
			}
		}
		wait := time.Hour
		if !next.IsZero() {
			wait = max(time.Until(next), time.Millisecond)
		}
		timer.Reset(wait)
		select {
		case <-ss.stop:
			return
		case <-ss.kick:
		case <-timer.C:
		}
		if !timer.Stop() {
			select {
			case <-timer.C:
			default:
			}
		}
	}
}

// deliverLevel delivers every due message of one level and returns the delivery time of the
// first one not yet due (zero when the queue is drained).
func (ss *scheduleService) deliverLevel(lvl int, now time.Time) time.Time {
	q := lvl - 1
	st := ss.srv.store
	ss.mu.Lock()
	off := ss.offsets[lvl]
	ss.mu.Unlock()
	defer func() {
		ss.mu.Lock()
		if ss.offsets[lvl] != off {
			ss.offsets[lvl] = off
			ss.dirty = true
		}
		ss.mu.Unlock()
	}()
	for range 1000 { // bounded per round; the loop comes back immediately via the timer
		res, err := st.Get(topic.ScheduleTopic, q, off, 32, 1<<20, nil)
		if err != nil {
			ss.log.Warn("schedule read failed", "level", lvl, "offset", off, "err", err)
			return now.Add(time.Second)
		}
		switch res.Status {
		case GetFound:
		case GetOffsetTooSmall, GetOffsetOverflowBadly:
			off = res.NextBeginOffset
			continue
		case GetNoMatchedMessage, GetMessageWasRemoving, GetOffsetFoundNull:
			if res.NextBeginOffset > off {
				off = res.NextBeginOffset
				continue
			}
			return time.Time{}
		default:
			return time.Time{}
		}
		for _, raw := range res.Records {
			rec, err := message.DecodeRecord(raw)
			if err != nil {
				ss.log.Error("schedule record undecodable, skipped", "level", lvl, "offset", off, "err", err)
				off++
				continue
			}
			due := time.UnixMilli(rec.StoreTimestamp).Add(ss.delays[q])
			if due.After(now) {
				return due
			}
			if !ss.deliver(rec) {
				return now.Add(time.Second)
			}
			off = rec.QueueOffset + 1
		}
		if res.NextBeginOffset > off {
			off = res.NextBeginOffset
		}
	}
	return now
}

// deliver appends the real message of a due schedule record; false means retry later.
func (ss *scheduleService) deliver(rec message.Record) bool {
	props := message.ParseProperties(rec.Properties)
	realTopic := props[message.PropRealTopic]
	qid, err := strconv.Atoi(props[message.PropRealQueueID])
	if realTopic == "" || err != nil {
		ss.log.Error("schedule message without real topic, dropped", "offset", rec.PhysicalOffset)
		return true
	}
	delete(props, message.PropDelayLevel)
	delete(props, message.PropRealTopic)
	delete(props, message.PropRealQueueID)
	m := &StoreMessage{
		Topic: realTopic, QueueID: qid, Flag: rec.Flag, Body: rec.Body, Properties: message.FormatProperties(props),
		Tags: props[message.PropTags], UniqKey: props[message.PropUniqKey], SysFlag: rec.SysFlag,
		BornTimestamp: rec.BornTimestamp, BornHost: rec.BornHost, StoreHost: rec.StoreHost,
		ReconsumeTimes: rec.ReconsumeTimes, PreparedTxOff: rec.PreparedTxOff,
	}
	if k := props[message.PropKeys]; k != "" {
		m.Keys = strings.Fields(k)
	}
	if _, ok := ss.srv.topics.Get(realTopic); !ok && strings.HasPrefix(realTopic, topic.RetryPrefix) {
		if _, err := ss.srv.createRetryTopic(strings.TrimPrefix(realTopic, topic.RetryPrefix)); err != nil {
			ss.log.Warn("create retry topic failed", "topic", realTopic, "err", err)
		}
	}
	res, err := ss.srv.store.Put(m)
	if err != nil || (res.Status != PutOK && res.Status != PutFlushDiskTimeout && res.Status != PutFlushSlaveTimeout && res.Status != PutSlaveNotAvailable) {
		ss.log.Warn("schedule delivery failed, will retry", "topic", realTopic, "queueId", qid, "status", res.Status, "err", err)
		return false
	}
	ss.srv.stats.put(realTopic, 1, len(m.Body))
	return true
}

func (ss *scheduleService) snapshot() delayOffsetFile {
	ss.mu.Lock()
	defer ss.mu.Unlock()
	return delayOffsetFile{OffsetTable: maps.Clone(ss.offsets)}
}

// persist writes delayOffset.json when it changed.
func (ss *scheduleService) persist() error {
	ss.mu.Lock()
	if !ss.dirty {
		ss.mu.Unlock()
		return nil
	}
	snap := delayOffsetFile{OffsetTable: maps.Clone(ss.offsets)}
	ss.dirty = false
	ss.mu.Unlock()
	if err := fsutil.WriteJSONAtomic(ss.path, snap); err != nil {
		ss.mu.Lock()
		ss.dirty = true
		ss.mu.Unlock()
		return fmt.Errorf("broker: persist delay offsets: %w", err)
	}
	return nil
}
