package bench

import (
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
	"time"
)

func TestBucketRangeCoversValue(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	for range 100000 {
		v := r.Uint64N(1 << 62)
		if r.IntN(4) == 0 {
			v = r.Uint64N(300)
		}
		lo, hi := bucketRange(bucketOf(v))
		if v < lo || v > hi {
			t.Fatalf("value %d in bucket %d with range [%d,%d]", v, bucketOf(v), lo, hi)
		}
		if hi-lo > lo/32+1 {
			t.Fatalf("bucket [%d,%d] wider than 1/32 of its lower bound", lo, hi)
		}
	}
	if bucketOf(1<<63-1) >= numBuckets {
		t.Fatal("max int64 out of range")
	}
}

func TestQuantilesMatchExactWithinPrecision(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 4))
	var h Histogram
	var vals []time.Duration
	for range 50000 {
		d := time.Duration(r.ExpFloat64() * float64(time.Millisecond))
		vals = append(vals, d)
		h.Record(d)
	}
	slices.Sort(vals)
	for _, q := range []float64{0.5, 0.9, 0.99, 0.999} {
		exact := vals[int(q*float64(len(vals)))-1]
		got := h.Quantile(q)
		if diff := float64(got-exact) / float64(exact); diff > 0.02 || diff < -0.02 {
			t.Errorf("q%.3f = %v, exact %v (%.1f%% off)", q, got, exact, diff*100)
		}
	}
	var sum time.Duration
	for _, v := range vals {
		sum += v
	}
	if mean := sum / time.Duration(len(vals)); (h.Mean() - mean).Abs() > time.Microsecond {
		t.Errorf("mean %v, want %v", h.Mean(), mean)
	}
	if h.Max() != vals[len(vals)-1] || h.Min() != vals[0] || h.Count() != uint64(len(vals)) {
		t.Errorf("max/min/count = %v/%v/%d", h.Max(), h.Min(), h.Count())
	}
}

func TestMergeAndReset(t *testing.T) {
	var a, b, all Histogram
	for i := 1; i <= 100; i++ {
		d := time.Duration(i) * time.Microsecond
		all.Record(d)
		if i%2 == 0 {
			a.Record(d)
		} else {
			b.Record(d)
		}
	}
	a.Merge(&b)
	if a.Count() != all.Count() || a.Quantile(0.5) != all.Quantile(0.5) || a.Max() != all.Max() || a.Min() != all.Min() || a.Mean() != all.Mean() {
		t.Fatalf("merged %v/%v/%v, want %v/%v/%v", a.Count(), a.Quantile(0.5), a.Max(), all.Count(), all.Quantile(0.5), all.Max())
	}
	a.Reset()
	if a.Count() != 0 || a.Quantile(0.99) != 0 || a.Mean() != 0 {
		t.Fatal("reset histogram not empty")
	}
}

func TestReportFormat(t *testing.T) {
	var h Histogram
	for _, v := range []time.Duration{1 * time.Millisecond, 2 * time.Millisecond, 3 * time.Millisecond, 10 * time.Millisecond} {
		h.Record(v)
	}
	line := ProgressLine(3*time.Second, "send", 2*time.Second, h.Count(), &h, 1)
	want := "[   3s] send     tps=2.0        avg=4.000ms p50=2.000ms p99=10.000ms max=10.000ms errors=1"
	if !approxLine(line, want) {
		t.Errorf("progress line\n got %q\nwant %q", line, want)
	}
	sum := SummaryLines("send", "latency", h.Count(), &h, 0, 2*time.Second)
	if sum[0] != "send     msgs=4 errors=0 tps=2.0" {
		t.Errorf("summary count line %q", sum[0])
	}
	if !strings.HasPrefix(sum[1], "send     latency avg=4.000ms p50=") || !strings.HasSuffix(sum[1], "max=10.000ms") {
		t.Errorf("summary latency line %q", sum[1])
	}
	if got := SummaryHeader("producer", "sync", 4, 1024, 10*time.Second); got != "== producer summary: mode=sync threads=4 size=1024B duration=10.0s ==" {
		t.Errorf("header %q", got)
	}
}

// approxLine compares two report lines, tolerating the histogram's bucket rounding in p50.
func approxLine(got, want string) bool {
	gf, wf := strings.Fields(got), strings.Fields(want)
	if len(gf) != len(wf) {
		return false
	}
	for i := range gf {
		if gf[i] != wf[i] && !strings.HasPrefix(gf[i], "p50=") {
			return false
		}
	}
	return true
}
