package remoting

import (
	"context"
	"fmt"
	"net"
	"os"
	"runtime"
	"strconv"
	"strings"
	"testing"

	"github.com/gorocket/gorocket/remoting/protocol"
)

// writeSyscalls returns the number of write-type syscalls (write, writev, ...) the process
// made so far (Linux /proc/self/io "syscw"); ok is false elsewhere.
func writeSyscalls() (n int64, ok bool) {
	b, err := os.ReadFile("/proc/self/io")
	if err != nil {
		return 0, false
	}
	for _, line := range strings.Split(string(b), "\n") {
		if v, found := strings.CutPrefix(line, "syscw: "); found {
			n, err := strconv.ParseInt(strings.TrimSpace(v), 10, 64)
			return n, err == nil
		}
	}
	return 0, false
}

// benchPair starts a TCP server answering codeEcho like a broker answers a send (a response
// header of four ext fields, no body) and a client.
func benchPair(b *testing.B) (cli *Client, addr string) {
	b.Helper()
	srv := NewServer(nil, ServerOptions{})
	srv.HandleFunc(codeEcho, func(_ context.Context, req *Request) (*protocol.RemotingCommand, error) {
		resp := protocol.NewResponse(protocol.RespSuccess, "")
		resp.ExtFields = map[string]string{"msgId": "7F00000100002A9F0000000000001234", "queueId": "3",
			"queueOffset": strconv.Itoa(len(req.Cmd.Body)), "transactionId": ""}
		return resp, nil
	})
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	if err := srv.Start(l); err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { _ = srv.Close() })
	cli = NewClient(nil, ClientOptions{})
	b.Cleanup(func() { _ = cli.Close() })
	return cli, l.Addr().String()
}

// sendLikeRequest is shaped like a producer's SEND_MESSAGE: twelve ext fields, 1 KiB body.
func sendLikeRequest(body []byte) *protocol.RemotingCommand {
	cmd := protocol.NewRequest(codeEcho, nil, body)
	cmd.ExtFields = map[string]string{"producerGroup": "bench_producer_group", "topic": "BenchTopic", "defaultTopic": "TBW102",
		"defaultTopicQueueNums": "4", "queueId": "3", "sysFlag": "0", "bornTimestamp": "1700000000000", "flag": "0",
		"properties": "UNIQ_KEY\x017F0000011A2B3C4D5E6F708192A3B4C5\x02WAIT\x01true\x02", "reconsumeTimes": "0",
		"unitMode": "false", "batch": "false"}
	return cmd
}

// writesMeter reports the write syscalls per op of the process (client and server).
type writesMeter struct {
	start int64
	ok    bool
}

func startWrites() writesMeter {
	n, ok := writeSyscalls()
	return writesMeter{n, ok}
}

func (m writesMeter) report(b *testing.B) {
	if n, ok := writeSyscalls(); ok && m.ok {
		b.ReportMetric(float64(n-m.start)/float64(b.N), "write-syscalls/op")
	}
}

// BenchmarkConnInvoke: one goroutine, request/response round trips over loopback TCP.
func BenchmarkConnInvoke(b *testing.B) {
	cli, addr := benchPair(b)
	body := make([]byte, 1024)
	ctx := context.Background()
	if _, err := cli.Invoke(ctx, addr, sendLikeRequest(body)); err != nil {
		b.Fatal(err)
	}
	w := startWrites()
	b.SetBytes(int64(len(body)))
	b.ReportAllocs()
	b.ResetTimer()
	for range b.N {
		if _, err := cli.Invoke(ctx, addr, sendLikeRequest(body)); err != nil {
			b.Fatal(err)
		}
	}
	b.StopTimer()
	w.report(b)
}

// BenchmarkConnInvokeParallel: N goroutines share one connection (like bench producer -w N);
// write-syscalls/op (client and server together; 2 without coalescing) shows the write
// coalescing.
func BenchmarkConnInvokeParallel(b *testing.B) {
	for _, goroutines := range []int{8, 64} {
		b.Run(fmt.Sprintf("goroutines=%d", goroutines), func(b *testing.B) {
			cli, addr := benchPair(b)
			body := make([]byte, 1024)
			ctx := context.Background()
			if _, err := cli.Invoke(ctx, addr, sendLikeRequest(body)); err != nil {
				b.Fatal(err)
			}
			w := startWrites()
			b.SetBytes(int64(len(body)))
			b.ReportAllocs()
			b.SetParallelism((goroutines + 1) / runtime.GOMAXPROCS(0))
			b.ResetTimer()
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					if _, err := cli.Invoke(ctx, addr, sendLikeRequest(body)); err != nil {
						b.Error(err)
						return
					}
				}
			})
			b.StopTimer()
			w.report(b)
		})
	}
}
