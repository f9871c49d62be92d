package bench

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gorocket/gorocket/client"
)

// Send modes.
const (
	ModeSync  = "sync"
	ModeAsync = "async"
	ModeBatch = "batch"
)

// stream accumulates one direction's statistics from many goroutines. Each worker records
// into its own shard (a mutex nobody else takes except the once-a-second progress printer),
// so recording does not serialise the workers; the shards are merged when read.
type stream struct {
	shards []*shard
	errors atomic.Uint64
}

type shard struct {
	mu       sync.Mutex
	interval Histogram
	total    Histogram
	intMsgs  uint64
	totMsgs  uint64
}

// newStream returns a stream with n shards (n >= 1).
func newStream(n int) *stream {
	s := &stream{shards: make([]*shard, max(n, 1))}
	for i := range s.shards {
		s.shards[i] = &shard{}
	}
	return s
}

// record adds one request of msgs messages with latency d to shard i (a worker's index).
func (s *stream) record(i int, d time.Duration, msgs uint64) {
	sh := s.shards[i%len(s.shards)]
	sh.mu.Lock()
	sh.interval.Record(d)
	sh.total.Record(d)
	sh.intMsgs += msgs
	sh.totMsgs += msgs
	sh.mu.Unlock()
}

// takeInterval returns and resets the interval statistics.
func (s *stream) takeInterval() (Histogram, uint64) {
	var h Histogram
	var n uint64
	for _, sh := range s.shards {
		sh.mu.Lock()
		h.Merge(&sh.interval)
		n += sh.intMsgs
		sh.interval.Reset()
		sh.intMsgs = 0
		sh.mu.Unlock()
	}
	return h, n
}

func (s *stream) totals() (Histogram, uint64) {
	var h Histogram
	var n uint64
	for _, sh := range s.shards {
		sh.mu.Lock()
		h.Merge(&sh.total)
		n += sh.totMsgs
		sh.mu.Unlock()
	}
	return h, n
}

// Result is the outcome of a run.
type Result struct {
	Messages uint64
	Errors   uint64
	Elapsed  time.Duration
	Latency  Histogram
}

// startProgress prints one line per second until the returned function is called; that function
// returns once the printer has stopped, so the caller may write to w afterwards.
func startProgress(w io.Writer, name string, s *stream, start time.Time) (stop func()) {
	quit := make(chan struct{})
	done := make(chan struct{})
	go func() {
		defer close(done)
		progress(w, name, s, start, quit)
	}()
	return func() {
		close(quit)
		<-done
	}
}

// progress prints one line per second until stop closes.
func progress(w io.Writer, name string, s *stream, start time.Time, stop <-chan struct{}) {
	t := time.NewTicker(time.Second)
	defer t.Stop()
	last := start
	for {
		select {
		case <-stop:
			return
		case now := <-t.C:
			h, n := s.takeInterval()
			fmt.Fprintln(w, ProgressLine(now.Sub(start), name, now.Sub(last), n, &h, s.errors.Load()))
			last = now
		}
	}
}

// ProducerConfig configures RunProducer.
type ProducerConfig struct {
	Topic     string
	Threads   int
	Size      int
	Duration  time.Duration
	Mode      string // ModeSync, ModeAsync or ModeBatch
	BatchSize int    // messages per batch (ModeBatch)
	Window    int    // requests in flight per thread (ModeAsync)
	Tag       string
}

// Validate checks the configuration.
func (c ProducerConfig) Validate() error {
	switch {
	case c.Topic == "":
		return errors.New("topic is required (-t)")
	case c.Threads < 1:
		return fmt.Errorf("threads = %d, want >= 1 (-w)", c.Threads)
	case c.Size < 1:
		return fmt.Errorf("message size = %d, want >= 1 (-s)", c.Size)
	case c.Duration <= 0:
		return fmt.Errorf("duration = %v, want > 0 (-d)", c.Duration)
	case c.Mode != ModeSync && c.Mode != ModeAsync && c.Mode != ModeBatch:
		return fmt.Errorf("mode = %q, want sync, async or batch", c.Mode)
	case c.Mode == ModeBatch && c.BatchSize < 1:
		return fmt.Errorf("batch size = %d, want >= 1", c.BatchSize)
	case c.Mode == ModeAsync && c.Window < 1:
		return fmt.Errorf("async window = %d, want >= 1", c.Window)
	}
	return nil
}

// Payload returns a message body of size bytes.
func Payload(size int) []byte {
	b := make([]byte, size)
	for i := range b {
		b[i] = byte('a' + i%26)
	}
	return b
}

// RunProducer sends messages with cfg.Threads goroutines for cfg.Duration (or until ctx ends),
// printing a progress line per second and the summary to w.
func RunProducer(ctx context.Context, w io.Writer, p *client.Producer, cfg ProducerConfig) (*Result, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	body := Payload(cfg.Size)
	newMsg := func() *client.Message {
		m := client.NewMessage(cfg.Topic, body)
		if cfg.Tag != "" {
			m.WithTag(cfg.Tag)
		}
		return m
	}
	s := newStream(cfg.Threads)
	var lastErr atomic.Value
	fail := func(err error) {
		s.errors.Add(1)
		lastErr.Store(err.Error())
	}
	runCtx, cancel := context.WithTimeout(ctx, cfg.Duration)
	defer cancel()
	start := time.Now()
	stopProgress := startProgress(w, "send", s, start)
	var wg sync.WaitGroup
	for worker := range cfg.Threads {
		wg.Add(1)
		go func() {
			defer wg.Done()
			switch cfg.Mode {
			case ModeSync:
				for runCtx.Err() == nil {
					t0 := time.Now()
					if _, err := p.Send(runCtx, newMsg()); err != nil {
						if runCtx.Err() == nil {
							fail(err)
						}
						continue
					}
					s.record(worker, time.Since(t0), 1)
				}
			case ModeBatch:
				batch := make([]*client.Message, cfg.BatchSize)
				for runCtx.Err() == nil {
					for i := range batch {
						batch[i] = newMsg()
					}
					t0 := time.Now()
					if _, err := p.SendBatch(runCtx, batch); err != nil {
						if runCtx.Err() == nil {
							fail(err)
						}
						continue
					}
					s.record(worker, time.Since(t0), uint64(cfg.BatchSize))
				}
			case ModeAsync:
				sem := make(chan struct{}, cfg.Window)
				var inflight sync.WaitGroup
				for runCtx.Err() == nil {
					select {
					case sem <- struct{}{}:
					case <-runCtx.Done():
						continue
					}
					t0 := time.Now()
					inflight.Add(1)
					// The callback's context is not runCtx: requests in flight at the end are
					// still counted, as the acknowledgements arrive.
					err := p.SendAsync(context.Background(), newMsg(), func(_ *client.SendResult, err error) {
						defer inflight.Done()
						defer func() { <-sem }()
						if err != nil {
							fail(err)
							return
						}
						s.record(worker, time.Since(t0), 1)
					})
					if err != nil {
						inflight.Done()
						<-sem
						fail(err)
					}
				}
				inflight.Wait()
			}
		}()
	}
	wg.Wait()
	stopProgress()
	elapsed := time.Since(start)
	total, msgs := s.totals()
	fmt.Fprintln(w, SummaryHeader("producer", cfg.Mode, cfg.Threads, cfg.Size, elapsed))
	for _, l := range SummaryLines("send", "latency", msgs, &total, s.errors.Load(), elapsed) {
		fmt.Fprintln(w, l)
	}
	if cfg.Mode == ModeBatch {
		fmt.Fprintf(w, "send     batch-size=%d (latency is per batch)\n", cfg.BatchSize)
	}
	res := &Result{Messages: msgs, Errors: s.errors.Load(), Elapsed: elapsed, Latency: total}
	if e, ok := lastErr.Load().(string); ok {
		fmt.Fprintf(w, "send     last error: %s\n", e)
	}
	if msgs == 0 {
		return res, errors.New("no message was sent successfully")
	}
	return res, nil
}

// ConsumerConfig configures RunConsumer.
type ConsumerConfig struct {
	Topic     string
	Group     string
	Instances int // consumers in the group (they share the queues)
	Duration  time.Duration
	FromFirst bool
	// Options carries the nameservers and transport settings.
	Options client.Options
}

// RunConsumer consumes cfg.Topic with cfg.Instances consumers of cfg.Group for cfg.Duration,
// measuring the consume rate and the store-to-consume latency (consumer receive time minus the
// broker's store timestamp, millisecond resolution), with a progress line per second.
func RunConsumer(ctx context.Context, w io.Writer, cfg ConsumerConfig, logf func(string, ...any)) (*Result, error) {
	switch {
	case cfg.Topic == "":
		return nil, errors.New("topic is required (-t)")
	case cfg.Group == "":
		return nil, errors.New("group is required (-g)")
	case cfg.Instances < 1:
		return nil, fmt.Errorf("consumers = %d, want >= 1 (-w)", cfg.Instances)
	case cfg.Duration <= 0:
		return nil, fmt.Errorf("duration = %v, want > 0 (-d)", cfg.Duration)
	}
	s := newStream(1)
	handler := func(_ context.Context, msgs []*client.MessageExt) error {
		now := time.Now().UnixMilli()
		for _, m := range msgs {
			s.record(0, time.Duration(now-m.StoreTimestamp)*time.Millisecond, 1)
		}
		return nil
	}
	var consumers []*client.Consumer
	defer func() {
		for _, c := range consumers {
			if err := c.Close(); err != nil && logf != nil {
				logf("consumer close", "err", err)
			}
		}
	}()
	for i := range cfg.Instances {
		o := client.ConsumerOptions{Options: cfg.Options, Group: cfg.Group, Topic: cfg.Topic, FromFirst: cfg.FromFirst}
		o.InstanceName = "bench-" + strconv.Itoa(i) + "-" + strconv.FormatInt(time.Now().UnixNano()%1e6, 36)
		c, err := client.NewConsumer(nil, o, handler)
		if err != nil {
			return nil, err
		}
		consumers = append(consumers, c)
		sctx, cancel := context.WithTimeout(ctx, 30*time.Second)
		err = c.Start(sctx)
		cancel()
		if err != nil {
			return nil, err
		}
	}
	start := time.Now()
	stopProgress := startProgress(w, "consume", s, start)
	t := time.NewTimer(cfg.Duration)
	select {
	case <-ctx.Done():
	case <-t.C:
	}
	t.Stop()
	stopProgress()
	elapsed := time.Since(start)
	total, msgs := s.totals()
	fmt.Fprintln(w, SummaryHeader("consumer", "pull", cfg.Instances, 0, elapsed))
	for _, l := range SummaryLines("consume", "store-to-consume", msgs, &total, s.errors.Load(), elapsed) {
		fmt.Fprintln(w, l)
	}
	return &Result{Messages: msgs, Elapsed: elapsed, Latency: total}, nil
}
