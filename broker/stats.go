package broker

import (
	"strconv"
	"sync"
	"sync/atomic"
	"time"
)

// stats counts puts and gets for GET_BROKER_RUNTIME_INFO. Counters are atomics; the day
// boundaries and TPS samples are updated by the housekeeping loop under mu.
type stats struct {
	putTotal, getTotal atomic.Int64
	putBytes, getBytes atomic.Int64

	mu                                       sync.Mutex
	day                                      int
	putTodayMorning, getTodayMorning         int64
	putYesterdayMorning, getYesterdayMorning int64
	lastSample                               time.Time
	lastPut, lastGet                         int64
	putRate, getRate                         float64
}

type statsSnapshot struct {
	putTotal, getTotal                       int64
	putTodayMorning, getTodayMorning         int64
	putYesterdayMorning, getYesterdayMorning int64
	putTPS, getTPS                           string
}

func newStats(now time.Time) *stats {
	return &stats{day: now.YearDay(), lastSample: now}
}

func (s *stats) put(topic string, n, bytes int) {
	s.putTotal.Add(int64(n))
	s.putBytes.Add(int64(bytes))
}

func (s *stats) get(topic string, n, bytes int) {
	s.getTotal.Add(int64(n))
	s.getBytes.Add(int64(bytes))
}

// sample updates the TPS figures and rolls the day counters.
func (s *stats) sample(now time.Time) {
	s.mu.Lock()
	defer s.mu.Unlock()
	put, get := s.putTotal.Load(), s.getTotal.Load()
	if dt := now.Sub(s.lastSample).Seconds(); dt > 0 {
		s.putRate = float64(put-s.lastPut) / dt
		s.getRate = float64(get-s.lastGet) / dt
	}
	s.lastSample, s.lastPut, s.lastGet = now, put, get
	if d := now.YearDay(); d != s.day {
		s.day = d
		s.putYesterdayMorning, s.getYesterdayMorning = s.putTodayMorning, s.getTodayMorning
		s.putTodayMorning, s.getTodayMorning = put, get
	}
}

func (s *stats) getTPS() float64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.getRate
}

func (s *stats) snapshot() statsSnapshot {
	s.mu.Lock()
	defer s.mu.Unlock()
	f := func(v float64) string {
		x := strconv.FormatFloat(v, 'f', 2, 64)
		return x + " " + x + " " + x
	}
	return statsSnapshot{
		putTotal: s.putTotal.Load(), getTotal: s.getTotal.Load(),
		putTodayMorning: s.putTodayMorning, getTodayMorning: s.getTodayMorning,
		putYesterdayMorning: s.putYesterdayMorning, getYesterdayMorning: s.getYesterdayMorning,
		putTPS: f(s.putRate), getTPS: f(s.getRate),
	}
}
