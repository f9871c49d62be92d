package bench

import (
	"fmt"
	"time"
)

// ms renders a duration in milliseconds with microsecond precision.
func ms(d time.Duration) string { return fmt.Sprintf("%.3fms", float64(d)/float64(time.Millisecond)) }

// LatencyFields renders "avg=… p50=… p99=… max=…" for h.
func LatencyFields(h *Histogram) string {
	return fmt.Sprintf("avg=%s p50=%s p99=%s max=%s", ms(h.Mean()), ms(h.Quantile(0.50)), ms(h.Quantile(0.99)), ms(h.Max()))
}

// ProgressLine is the once-a-second line for one stream ("send" or "consume") over an interval:
// elapsed time since the start, the interval's message rate (msgs messages in interval) and
// latencies, and the cumulative errors.
func ProgressLine(elapsed time.Duration, stream string, interval time.Duration, msgs uint64, h *Histogram, errors uint64) string {
	tps := 0.0
	if interval > 0 {
		tps = float64(msgs) / interval.Seconds()
	}
	return fmt.Sprintf("[%4.0fs] %-8s tps=%-10.1f %s errors=%d", elapsed.Seconds(), stream, tps, LatencyFields(h), errors)
}

// SummaryHeader opens the final report.
// A size of 0 (unknown, e.g. for consumers) is left out.
func SummaryHeader(role, mode string, threads, size int, duration time.Duration) string {
	sz := ""
	if size > 0 {
		sz = fmt.Sprintf(" size=%dB", size)
	}
	return fmt.Sprintf("== %s summary: mode=%s threads=%d%s duration=%.1fs ==", role, mode, threads, sz, duration.Seconds())
}

// SummaryLines renders the totals of one stream: messages, errors and rate, then the latency
// line. latencyName says what was measured ("latency" for send round trips — per request, so per
// batch in batch mode —, "store-to-consume" for the time from the broker's store timestamp to the
// consumer receiving the message).
func SummaryLines(stream, latencyName string, msgs uint64, h *Histogram, errors uint64, duration time.Duration) []string {
	tps := 0.0
	if duration > 0 {
		tps = float64(msgs) / duration.Seconds()
	}
	return []string{
		fmt.Sprintf("%-8s msgs=%d errors=%d tps=%.1f", stream, msgs, errors, tps),
		fmt.Sprintf("%-8s %s %s", stream, latencyName, LatencyFields(h)),
	}
}
