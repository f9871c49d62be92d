// Copy of github.com/gorocket/gorocket/cmd/gorocketctl/internal/bench/hist.go (this is a separate
// module and cannot import it). Keep the two in step: the report format must match gorocketctl bench.

package main

import (
	"math"
	"math/bits"
	"time"
)

// subBits sets the histogram precision: each power-of-two range of nanoseconds is split into
// 2^subBits linear buckets, so a quantile is within 1/64 (~1.6%) of the true value.
const subBits = 6

// numBuckets covers every int64 nanosecond value.
const numBuckets = (64 - subBits) << subBits

// Histogram is a log-linear latency histogram with exact count, sum, min and max. It is not safe
// for concurrent use; give each worker its own and Merge them.
type Histogram struct {
	counts [numBuckets]uint64
	n      uint64
	sum    float64 // ns
	min    int64
	max    int64
}

func bucketOf(v uint64) int {
	if v < 1<<subBits {
		return int(v)
	}
	e := bits.Len64(v) - subBits - 1 // v>>e is in [2^subBits, 2^(subBits+1))
	return (e+1)<<subBits + int(v>>e) - 1<<subBits
}

// bucketRange returns the smallest and largest value mapped to bucket i.
func bucketRange(i int) (lo, hi uint64) {
	if i < 1<<subBits {
		return uint64(i), uint64(i)
	}
	e := i>>subBits - 1
	sub := uint64(i&(1<<subBits-1)) + 1<<subBits
	lo = sub << e
	return lo, lo + (1 << e) - 1
}

// Record adds one observation; negative durations count as zero.
func (h *Histogram) Record(d time.Duration) {
	v := max(int64(d), 0)
	h.counts[bucketOf(uint64(v))]++
	if h.n == 0 || v < h.min {
		h.min = v
	}
	if v > h.max {
		h.max = v
	}
	h.n++
	h.sum += float64(v)
}

// Merge adds o's observations to h.
func (h *Histogram) Merge(o *Histogram) {
	if o.n == 0 {
		return
	}
	for i, c := range o.counts {
		h.counts[i] += c
	}
	if h.n == 0 || o.min < h.min {
		h.min = o.min
	}
	h.max = max(h.max, o.max)
	h.n += o.n
	h.sum += o.sum
}

// Reset empties h.
func (h *Histogram) Reset() { *h = Histogram{} }

// Count returns the number of observations.
func (h *Histogram) Count() uint64 { return h.n }

// Mean returns the average observation (0 when empty).
func (h *Histogram) Mean() time.Duration {
	if h.n == 0 {
		return 0
	}
	return time.Duration(math.Round(h.sum / float64(h.n)))
}

// Max returns the largest observation.
func (h *Histogram) Max() time.Duration { return time.Duration(h.max) }

// Min returns the smallest observation.
func (h *Histogram) Min() time.Duration { return time.Duration(h.min) }

// Quantile returns the q-quantile (0 < q <= 1): the midpoint of the bucket holding the
// ceil(q*n)-th smallest observation, clamped to the observed min and max.
func (h *Histogram) Quantile(q float64) time.Duration {
	if h.n == 0 {
		return 0
	}
	rank := uint64(math.Ceil(q * float64(h.n)))
	rank = min(max(rank, 1), h.n)
	var seen uint64
	for i, c := range h.counts {
		seen += c
		if seen >= rank {
			lo, hi := bucketRange(i)
			mid := int64(lo + (hi-lo)/2)
			return time.Duration(min(max(mid, h.min), h.max))
		}
	}
	return time.Duration(h.max)
}
