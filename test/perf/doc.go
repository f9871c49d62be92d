// Package perf holds in-process benchmarks of the send path: a real nameserver and broker
// (temporary store, 127.0.0.1:0) driven by the project's client.Producer from N goroutines.
//
//	go test -run '^$' -bench 'BenchmarkSend' -benchtime 5s ./test/perf/
//	go test -run '^$' -bench 'BenchmarkSend/producers=64/flush=async' -benchtime 200000x \
//	    -cpuprofile cpu.out -blockprofile block.out ./test/perf/
//
// Each benchmark reports msgs/s (wall-clock throughput over the timed part) and the p50/p99
// of the per-request latency, besides the usual ns/op (per message), B/op and allocs/op
// (the whole process: client, nameserver and broker). See docs/benchmarks-send.md.
package perf
