package remoting

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gorocket/gorocket/remoting/protocol"
)

// Test request codes (outside the RocketMQ catalogue's use here).
const (
	codeEcho     int32 = 9001 // answers with extFields "v" echoed
	codeHold     int32 = 9002 // blocks until the "release" gate opens
	codeRelease  int32 = 9003 // opens the gate
	codeCallBack int32 = 9004 // server calls the client back on the same connection
	codeNotify   int32 = 9005 // handled by the client (server-initiated)
)

type transport struct {
	name   string
	listen func(t *testing.T) net.Listener
	dialer func() func(ctx context.Context, addr string) (net.Conn, error)
}

func transports() []transport {
	mem := NewMemNetwork()
	return []transport{
		{"tcp", func(t *testing.T) net.Listener {
			l, err := net.Listen("tcp", "127.0.0.1:0")
			if err != nil {
				t.Fatal(err)
			}
			return l
		}, func() func(ctx context.Context, addr string) (net.Conn, error) { return nil }},
		{"mem", func(t *testing.T) net.Listener {
			l, err := mem.Listen("")
			if err != nil {
				t.Fatal(err)
			}
			return l
		}, func() func(ctx context.Context, addr string) (net.Conn, error) { return mem.Dial }},
	}
}

// syncBuffer is a goroutine-safe log sink.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

func startServer(t *testing.T, tr transport, logger *slog.Logger, opts ServerOptions, setup func(*Server)) (*Server, string) {
	t.Helper()
	srv := NewServer(logger, opts)
	srv.HandleFunc(codeEcho, func(_ context.Context, req *Request) (*protocol.RemotingCommand, error) {
		resp := protocol.NewResponse(protocol.RespSuccess, "")
		resp.SetExtField("v", req.Cmd.ExtField("v"))
		resp.Body = req.Cmd.Body
		return resp, nil
	})
	if setup != nil {
		setup(srv)
	}
	l := tr.listen(t)
	if err := srv.Start(l); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = srv.Close() })
	return srv, l.Addr().String()
}

func newClient(t *testing.T, tr transport, opts ClientOptions) *Client {
	t.Helper()
	opts.Dialer = tr.dialer()
	c := NewClient(nil, opts)
	t.Cleanup(func() { _ = c.Close() })
	return c
}

func echo(v string) *protocol.RemotingCommand {
	cmd := protocol.NewRequest(codeEcho, nil, nil)
	cmd.SetExtField("v", v)
	return cmd
}

// waitFor polls cond until it holds or the deadline passes.
func waitFor(t *testing.T, timeout time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %v waiting for %s", timeout, what)
		}
		time.Sleep(2 * time.Millisecond)
	}
}

func ctxT(t *testing.T, d time.Duration) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), d)
	t.Cleanup(cancel)
	return ctx
}

// TestConcurrentRequestsAnsweredOutOfOrder holds one request (like a 20 s long poll) while
// many others on the SAME connection are answered; then releases it. Every response must
// carry its own request's value.
func TestConcurrentRequestsAnsweredOutOfOrder(t *testing.T) {
	for _, tr := range transports() {
		t.Run(tr.name, func(t *testing.T) {
			gate := make(chan struct{})
			var holding atomic.Int32
			_, addr := startServer(t, tr, nil, ServerOptions{}, func(s *Server) {
				s.HandleFunc(codeHold, func(ctx context.Context, req *Request) (*protocol.RemotingCommand, error) {
					holding.Add(1)
					select {
					case <-gate:
					case <-ctx.Done():
						return nil, ctx.Err()
					}
					resp := protocol.NewResponse(protocol.RespSuccess, "held")
					resp.SetExtField("v", req.Cmd.ExtField("v"))
					return resp, nil
				})
				s.HandleFunc(codeRelease, func(context.Context, *Request) (*protocol.RemotingCommand, error) {
					close(gate)
					return protocol.NewResponse(protocol.RespSuccess, ""), nil
				})
			})
			cli := newClient(t, tr, ClientOptions{})
			ctx := ctxT(t, 10*time.Second)

			held := make(chan *protocol.RemotingCommand, 1)
			hold := protocol.NewRequest(codeHold, nil, nil)
			hold.SetExtField("v", "held-request")
			if err := cli.InvokeAsync(ctx, addr, hold, func(r *protocol.RemotingCommand, err error) {
				if err != nil {
					t.Errorf("held request: %v", err)
				}
				held <- r
			}); err != nil {
				t.Fatal(err)
			}
			waitFor(t, 5*time.Second, "the hold handler to start", func() bool { return holding.Load() == 1 })

			var wg sync.WaitGroup
			for i := range 50 {
				wg.Add(1)
				go func() {
					defer wg.Done()
					v := "req-" + strconv.Itoa(i)
					resp, err := cli.Invoke(ctx, addr, echo(v))
					if err != nil || resp.ExtField("v") != v {
						t.Errorf("echo %s: %v %v", v, resp, err)
					}
				}()
			}
			wg.Wait()
			select {
			case <-held:
				t.Fatal("held request answered before release")
			default:
			}
			if _, err := cli.Invoke(ctx, addr, protocol.NewRequest(codeRelease, nil, nil)); err != nil {
				t.Fatal(err)
			}
			r := <-held
			if r.ExtField("v") != "held-request" || r.Remark != "held" {
				t.Fatalf("held response %s", r)
			}
			// Everything went over one connection.
			c1, _ := cli.Conn(ctx, addr)
			c2, _ := cli.Conn(ctx, addr)
			if c1 != c2 {
				t.Fatal("client opened more than one connection to one address")
			}
		})
	}
}

// rawConn is a hand-driven client connection for wire-level assertions.
type rawConn struct {
	t  *testing.T
	nc net.Conn
	fr *protocol.FrameReader
}

func dialRaw(t *testing.T, addr string) *rawConn {
	nc, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { nc.Close() })
	return &rawConn{t: t, nc: nc, fr: protocol.NewFrameReader(nc, 0)}
}

func (r *rawConn) send(cmd *protocol.RemotingCommand) {
	r.t.Helper()
	if _, err := cmd.WriteFrame(r.nc, protocol.SerializeJSON); err != nil {
		r.t.Fatal(err)
	}
}

func (r *rawConn) read() *protocol.RemotingCommand {
	r.t.Helper()
	_ = r.nc.SetReadDeadline(time.Now().Add(5 * time.Second))
	cmd, err := r.fr.ReadCommand()
	if err != nil {
		r.t.Fatal(err)
	}
	return cmd
}

func TestOnewayRequestsAreNeverAnswered(t *testing.T) {
	var got atomic.Int32
	_, addr := startServer(t, transports()[0], nil, ServerOptions{}, func(s *Server) {
		s.HandleFunc(codeNotify, func(context.Context, *Request) (*protocol.RemotingCommand, error) {
			got.Add(1)
			return protocol.NewResponse(protocol.RespSuccess, "must not be sent"), nil
		})
	})
	rc := dialRaw(t, addr)
	oneway := protocol.NewRequest(codeNotify, nil, nil)
	oneway.Opaque, oneway.Flag = 1, protocol.FlagOneway
	rc.send(oneway)
	unknownOneway := protocol.NewRequest(7777, nil, nil) // even the default handler stays silent
	unknownOneway.Opaque, unknownOneway.Flag = 2, protocol.FlagOneway
	rc.send(unknownOneway)
	waitFor(t, 5*time.Second, "the oneway handler", func() bool { return got.Load() == 1 })
	req := echo("after")
	req.Opaque = 3
	rc.send(req)
	if resp := rc.read(); resp.Opaque != 3 || resp.ExtField("v") != "after" || !resp.IsResponse() {
		t.Fatalf("first frame back is %s, want the answer to opaque 3", resp)
	}

	// Client.InvokeOneway sets the flag.
	cli := newClient(t, transports()[0], ClientOptions{})
	if err := cli.InvokeOneway(ctxT(t, 5*time.Second), addr, protocol.NewRequest(codeNotify, nil, nil)); err != nil {
		t.Fatal(err)
	}
	waitFor(t, 5*time.Second, "the client's oneway request", func() bool { return got.Load() == 2 })
}

func TestDefaultHandlerAndErrorMapping(t *testing.T) {
	const (
		codeRespErr int32 = 9101
		codePlain   int32 = 9102
		codePanic   int32 = 9103
		codeNil     int32 = 9104
	)
	_, addr := startServer(t, transports()[0], nil, ServerOptions{}, func(s *Server) {
		s.HandleFunc(codeRespErr, func(context.Context, *Request) (*protocol.RemotingCommand, error) {
			return nil, protocol.Errorf(protocol.RespTopicNotExist, "topic %s missing", "T")
		})
		s.HandleFunc(codePlain, func(context.Context, *Request) (*protocol.RemotingCommand, error) {
			return nil, errors.New("disk on fire")
		})
		s.HandleFunc(codePanic, func(context.Context, *Request) (*protocol.RemotingCommand, error) {
			panic("boom")
		})
		s.HandleFunc(codeNil, func(context.Context, *Request) (*protocol.RemotingCommand, error) { return nil, nil })
	})
	cli := newClient(t, transports()[0], ClientOptions{})
	ctx := ctxT(t, 5*time.Second)
	tests := []struct {
		code   int32
		want   int32
		remark string
	}{
		{999, protocol.RespRequestCodeNotSupported, " request type 999 not supported"},
		{codeRespErr, protocol.RespTopicNotExist, "topic T missing"},
		{codePlain, protocol.RespSystemError, "disk on fire"},
		{codePanic, protocol.RespSystemError, "remoting: handler for code 9103 panicked: boom"},
		{codeNil, protocol.RespSystemError, "handler for request code 9104 returned no response"},
	}
	for _, tt := range tests {
		resp, err := cli.Invoke(ctx, addr, protocol.NewRequest(tt.code, nil, nil))
		if err != nil {
			t.Fatalf("code %d: %v", tt.code, err)
		}
		if resp.Code != tt.want || resp.Remark != tt.remark || resp.Version != protocol.CurrentVersion {
			t.Fatalf("code %d: got %s", tt.code, resp)
		}
	}
	// The server survived the panic.
	if resp, err := cli.Invoke(ctx, addr, echo("alive")); err != nil || resp.ExtField("v") != "alive" {
		t.Fatalf("after panic: %v %v", resp, err)
	}
}

func TestReplyLater(t *testing.T) {
	parked := make(chan *Request, 1)
	_, addr := startServer(t, transports()[0], nil, ServerOptions{MaxConcurrentRequests: 1}, func(s *Server) {
		s.HandleFunc(codeHold, func(_ context.Context, req *Request) (*protocol.RemotingCommand, error) {
			parked <- req
			return nil, ErrReplyLater
		})
		s.HandleFunc(codeRelease, func(context.Context, *Request) (*protocol.RemotingCommand, error) {
			req := <-parked
			r := protocol.NewResponse(protocol.RespSuccess, "late")
			if err := req.Reply(r); err != nil {
				return nil, err
			}
			if err := req.Reply(r); !errors.Is(err, ErrAlreadyReplied) {
				return nil, fmt.Errorf("second reply: %v", err)
			}
			return protocol.NewResponse(protocol.RespSuccess, "released"), nil
		})
	})
	cli := newClient(t, transports()[0], ClientOptions{})
	ctx := ctxT(t, 5*time.Second)
	done := make(chan *protocol.RemotingCommand, 1)
	go func() {
		r, err := cli.Invoke(ctx, addr, protocol.NewRequest(codeHold, nil, nil))
		if err != nil {
			t.Error(err)
		}
		done <- r
	}()
	// With MaxConcurrentRequests 1, the release request only runs because the parked
	// request does not occupy a handler slot.
	waitFor(t, 5*time.Second, "the parked request", func() bool { return len(parked) == 1 })
	resp, err := cli.Invoke(ctx, addr, protocol.NewRequest(codeRelease, nil, nil))
	if err != nil || resp.Remark != "released" {
		t.Fatalf("release: %v %v", resp, err)
	}
	if r := <-done; r == nil || r.Remark != "late" {
		t.Fatalf("late reply %v", r)
	}
}

func TestConcurrencyLimitAnswersSystemBusy(t *testing.T) {
	gate := make(chan struct{})
	var running atomic.Int32
	_, addr := startServer(t, transports()[0], nil, ServerOptions{MaxConcurrentRequests: 1}, func(s *Server) {
		s.HandleFunc(codeHold, func(ctx context.Context, _ *Request) (*protocol.RemotingCommand, error) {
			running.Add(1)
			select {
			case <-gate:
			case <-ctx.Done():
			}
			return protocol.NewResponse(protocol.RespSuccess, ""), nil
		})
	})
	cli := newClient(t, transports()[0], ClientOptions{})
	ctx := ctxT(t, 5*time.Second)
	errc := make(chan error, 1)
	go func() {
		_, err := cli.Invoke(ctx, addr, protocol.NewRequest(codeHold, nil, nil))
		errc <- err
	}()
	waitFor(t, 5*time.Second, "the first handler", func() bool { return running.Load() == 1 })
	resp, err := cli.Invoke(ctx, addr, echo("x"))
	if err != nil || resp.Code != protocol.RespSystemBusy {
		t.Fatalf("over the limit: %v %v", resp, err)
	}
	close(gate)
	if err := <-errc; err != nil {
		t.Fatal(err)
	}
	waitFor(t, 5*time.Second, "a free slot", func() bool {
		resp, err := cli.Invoke(ctx, addr, echo("y"))
		return err == nil && resp.Code == protocol.RespSuccess
	})
}

// TestServerInitiatedRequests: a server handler calls back the client on the connection the
// request came in on (sync and oneway), as a broker does for NOTIFY_CONSUMER_IDS_CHANGED and
// CHECK_TRANSACTION_STATE; the client serves it with its own handler registry.
func TestServerInitiatedRequests(t *testing.T) {
	for _, tr := range transports() {
		t.Run(tr.name, func(t *testing.T) {
			var serverConn atomic.Pointer[Conn]
			_, addr := startServer(t, tr, nil, ServerOptions{}, func(s *Server) {
				s.HandleFunc(codeCallBack, func(ctx context.Context, req *Request) (*protocol.RemotingCommand, error) {
					serverConn.Store(req.Conn)
					q := protocol.NewRequest(codeNotify, map[string]string{"question": req.Cmd.ExtField("v")}, nil)
					answer, err := req.Conn.Invoke(ctx, q)
					if err != nil {
						return nil, err
					}
					resp := protocol.NewResponse(protocol.RespSuccess, "")
					resp.SetExtField("v", "client said "+answer.ExtField("answer"))
					return resp, nil
				})
			})
			var notified atomic.Int32
			cli := newClient(t, tr, ClientOptions{})
			cli.HandleFunc(codeNotify, func(_ context.Context, req *Request) (*protocol.RemotingCommand, error) {
				notified.Add(1)
				if req.Cmd.IsOneway() {
					return nil, nil
				}
				r := protocol.NewResponse(protocol.RespSuccess, "")
				r.SetExtField("answer", strings.ToUpper(req.Cmd.ExtField("question")))
				return r, nil
			})
			ctx := ctxT(t, 5*time.Second)
			resp, err := cli.Invoke(ctx, addr, echoCode(codeCallBack, "ping"))
			if err != nil || resp.ExtField("v") != "client said PING" {
				t.Fatalf("callback round trip: %v %v", resp, err)
			}
			sc := serverConn.Load()
			// Server-initiated oneway and async calls on the same connection.
			if err := sc.InvokeOneway(ctx, protocol.NewRequest(codeNotify, nil, nil)); err != nil {
				t.Fatal(err)
			}
			waitFor(t, 5*time.Second, "the oneway notify", func() bool { return notified.Load() == 2 })
			got := make(chan string, 1)
			if err := sc.InvokeAsync(ctx, protocol.NewRequest(codeNotify, map[string]string{"question": "async"}, nil),
				func(r *protocol.RemotingCommand, err error) {
					if err != nil {
						got <- err.Error()
						return
					}
					got <- r.ExtField("answer")
				}); err != nil {
				t.Fatal(err)
			}
			if a := <-got; a != "ASYNC" {
				t.Fatalf("async server-initiated: %s", a)
			}
			// A server-initiated code the client does not handle gets REQUEST_CODE_NOT_SUPPORTED.
			r, err := sc.Invoke(ctx, protocol.NewRequest(4242, nil, nil))
			if err != nil || r.Code != protocol.RespRequestCodeNotSupported {
				t.Fatalf("unhandled server-initiated code: %v %v", r, err)
			}
		})
	}
}

func echoCode(code int32, v string) *protocol.RemotingCommand {
	cmd := protocol.NewRequest(code, nil, nil)
	cmd.SetExtField("v", v)
	return cmd
}

func TestCloseHooksAndClientRedial(t *testing.T) {
	for _, tr := range transports() {
		t.Run(tr.name, func(t *testing.T) {
			var closed sync.Map
			var connected atomic.Int32
			srv, addr := startServer(t, tr, nil, ServerOptions{}, func(s *Server) {
				s.OnConnect(func(*Conn) { connected.Add(1) })
				s.OnClose(func(c *Conn) { closed.Store(c.ID(), c.Err()) })
			})
			var clientClosed atomic.Int32
			cli := newClient(t, tr, ClientOptions{})
			cli.OnClose(func(*Conn) { clientClosed.Add(1) })
			ctx := ctxT(t, 5*time.Second)
			if _, err := cli.Invoke(ctx, addr, echo("1")); err != nil {
				t.Fatal(err)
			}
			conns := srv.Conns()
			if len(conns) != 1 || connected.Load() != 1 {
				t.Fatalf("%d conns, %d connect hooks", len(conns), connected.Load())
			}
			first := conns[0]
			// The client closes: the server's hook runs for that connection.
			cli.CloseConn(addr)
			waitFor(t, 5*time.Second, "the server close hook", func() bool { _, ok := closed.Load(first.ID()); return ok })
			if err, _ := closed.Load(first.ID()); !errors.Is(err.(error), ErrConnClosed) {
				t.Fatalf("close reason %v", err)
			}
			waitFor(t, 5*time.Second, "server conn removal", func() bool { return len(srv.Conns()) == 0 })
			// The next call redials.
			if _, err := cli.Invoke(ctx, addr, echo("2")); err != nil {
				t.Fatal(err)
			}
			// The server closes the connection: the client's hook runs and it redials again.
			second := srv.Conns()[0]
			second.Close()
			waitFor(t, 5*time.Second, "the client close hook", func() bool { return clientClosed.Load() == 2 })
			if resp, err := cli.Invoke(ctx, addr, echo("3")); err != nil || resp.ExtField("v") != "3" {
				t.Fatalf("after server close: %v %v", resp, err)
			}
			if connected.Load() != 3 {
				t.Fatalf("%d connections, want 3", connected.Load())
			}
		})
	}
}

func TestIdleTimeout(t *testing.T) {
	for _, tr := range transports() {
		t.Run(tr.name, func(t *testing.T) {
			var reasons sync.Map
			srv, addr := startServer(t, tr, nil, ServerOptions{IdleTimeout: 500 * time.Millisecond}, func(s *Server) {
				s.OnClose(func(c *Conn) { reasons.Store(c.ID(), c.Err()) })
			})
			cli := newClient(t, tr, ClientOptions{IdleTimeout: -1})
			ctx := ctxT(t, 10*time.Second)
			if _, err := cli.Invoke(ctx, addr, echo("a")); err != nil {
				t.Fatal(err)
			}
			busy := srv.Conns()[0]
			clientConn, err := cli.Conn(ctx, addr)
			if err != nil {
				t.Fatal(err)
			}
			// Traffic every 30 ms keeps the connection open well past the timeout.
			start := time.Now()
			for time.Since(start) < 1200*time.Millisecond {
				if _, err := cli.Invoke(ctx, addr, echo("keepalive")); err != nil {
					t.Fatal(err)
				}
				time.Sleep(30 * time.Millisecond) // pacing the traffic, not synchronisation
			}
			if c := srv.Conns(); len(c) != 1 || c[0] != busy {
				t.Fatal("a busy connection was closed as idle")
			}
			// Silence: the server closes it with ErrIdleTimeout.
			waitFor(t, 5*time.Second, "the idle close", func() bool { _, ok := reasons.Load(busy.ID()); return ok })
			if err, _ := reasons.Load(busy.ID()); !errors.Is(err.(error), ErrIdleTimeout) {
				t.Fatalf("reason %v", err)
			}
			// The client's end sees the close once it reads the end of the stream; a call
			// made before that could still pick the dying connection.
			select {
			case <-clientConn.Done():
			case <-ctx.Done():
				t.Fatal("the client did not see the idle close")
			}
			if _, err := cli.Invoke(ctx, addr, echo("b")); err != nil {
				t.Fatalf("redial after idle close: %v", err)
			}
		})
	}
}

// TestMalformedFrameClosesOnlyThatConnection sends broken frames on one connection while
// another keeps working.
func TestMalformedFrameClosesOnlyThatConnection(t *testing.T) {
	good := func(hdr string) []byte {
		b := binary.BigEndian.AppendUint32(nil, uint32(4+len(hdr)))
		b = binary.BigEndian.AppendUint32(b, uint32(len(hdr)))
		return append(b, hdr...)
	}
	tests := []struct {
		name   string
		bytes  []byte
		reason string
	}{
		{"negative length", []byte{0xff, 0xff, 0xff, 0xf0}, "frame length -16 is smaller than the header-length word"},
		{"oversize", binary.BigEndian.AppendUint32(nil, 4097), "protocol: frame length 4097 exceeds max 4096"},
		{"zero header length", append(binary.BigEndian.AppendUint32(nil, 8), 0, 0, 0, 0, 'b', 'o', 'd', 'y'), "header length 0"},
		{"header beyond frame", append(binary.BigEndian.AppendUint32(nil, 6), 0, 0, 0, 99, '{', '}'), "header length 99"},
		{"garbage header", good("\x00garbage"), "malformed JSON header"},
		{"unknown serialize type", append(binary.BigEndian.AppendUint32(nil, 6), 7, 0, 0, 2, '{', '}'), "unknown serialize type 7"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			logs := &syncBuffer{}
			logger := slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
			var mu sync.Mutex
			var reasons []string
			_, addr := startServer(t, transports()[0], logger, ServerOptions{MaxFrameSize: 4096}, func(s *Server) {
				s.OnClose(func(c *Conn) {
					mu.Lock()
					defer mu.Unlock()
					reasons = append(reasons, c.Err().Error())
				})
			})
			cli := newClient(t, transports()[0], ClientOptions{})
			ctx := ctxT(t, 5*time.Second)
			if _, err := cli.Invoke(ctx, addr, echo("before")); err != nil {
				t.Fatal(err)
			}
			rc := dialRaw(t, addr)
			if _, err := rc.nc.Write(tt.bytes); err != nil {
				t.Fatal(err)
			}
			_ = rc.nc.SetReadDeadline(time.Now().Add(5 * time.Second))
			if n, err := rc.nc.Read(make([]byte, 1)); err != io.EOF {
				t.Fatalf("bad connection not closed: read %d, %v", n, err)
			}
			waitFor(t, 5*time.Second, "the close hook", func() bool {
				mu.Lock()
				defer mu.Unlock()
				return len(reasons) == 1
			})
			mu.Lock()
			if !strings.Contains(reasons[0], tt.reason) {
				t.Fatalf("close reason %q lacks %q", reasons[0], tt.reason)
			}
			mu.Unlock()
			if !strings.Contains(logs.String(), "remoting: closing connection on bad frame") {
				t.Fatalf("not logged: %s", logs)
			}
			// The other connection is untouched and new ones are accepted.
			if resp, err := cli.Invoke(ctx, addr, echo("after")); err != nil || resp.ExtField("v") != "after" {
				t.Fatalf("healthy connection broken: %v %v", resp, err)
			}
			rc2 := dialRaw(t, addr)
			req := echo("fresh")
			req.Opaque = 5
			rc2.send(req)
			if r := rc2.read(); r.ExtField("v") != "fresh" {
				t.Fatalf("new connection: %s", r)
			}
		})
	}
}

func TestInvokeTimeoutsAndConnLoss(t *testing.T) {
	entered := make(chan struct{}, 16)
	srv, addr := startServer(t, transports()[0], nil, ServerOptions{}, func(s *Server) {
		s.HandleFunc(codeHold, func(ctx context.Context, _ *Request) (*protocol.RemotingCommand, error) {
			entered <- struct{}{}
			<-ctx.Done()
			return nil, ctx.Err()
		})
	})
	cli := newClient(t, transports()[0], ClientOptions{RequestTimeout: 100 * time.Millisecond})

	// Sync: the client's default request timeout applies to a deadline-free context.
	_, err := cli.Invoke(context.Background(), addr, protocol.NewRequest(codeHold, nil, nil))
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("sync timeout: %v", err)
	}
	<-entered
	// Async: the callback reports the timeout exactly once.
	var calls atomic.Int32
	errc := make(chan error, 2)
	if err := cli.InvokeAsync(context.Background(), addr, protocol.NewRequest(codeHold, nil, nil), func(_ *protocol.RemotingCommand, err error) {
		calls.Add(1)
		errc <- err
	}); err != nil {
		t.Fatal(err)
	}
	if err := <-errc; !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("async timeout: %v", err)
	}
	<-entered
	// Connection loss fails outstanding calls at once with ErrConnClosed.
	ctx := ctxT(t, 10*time.Second)
	res := make(chan error, 2)
	go func() {
		_, err := cli.Invoke(ctx, addr, protocol.NewRequest(codeHold, nil, nil))
		res <- err
	}()
	if err := cli.InvokeAsync(ctx, addr, protocol.NewRequest(codeHold, nil, nil), func(_ *protocol.RemotingCommand, err error) {
		res <- err
	}); err != nil {
		t.Fatal(err)
	}
	<-entered
	<-entered
	for _, c := range srv.Conns() {
		c.Close()
	}
	for range 2 {
		if err := <-res; !errors.Is(err, ErrConnClosed) {
			t.Fatalf("outstanding call after close: %v", err)
		}
	}
	if calls.Load() != 1 {
		t.Fatalf("async callback ran %d times", calls.Load())
	}
}

func TestDialFailureThenRecovery(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close() // nothing listens there now
	cli := newClient(t, transports()[0], ClientOptions{})
	ctx := ctxT(t, 5*time.Second)
	if _, err := cli.Invoke(ctx, addr, echo("x")); err == nil || !strings.Contains(err.Error(), "remoting: connect "+addr) {
		t.Fatalf("dial to a closed port: %v", err)
	}
	l2, err := net.Listen("tcp", addr)
	if err != nil {
		t.Skipf("port %s taken meanwhile: %v", addr, err)
	}
	srv := NewServer(nil, ServerOptions{})
	srv.HandleFunc(codeEcho, func(_ context.Context, req *Request) (*protocol.RemotingCommand, error) {
		return protocol.NewResponse(protocol.RespSuccess, "up"), nil
	})
	if err := srv.Start(l2); err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	if resp, err := cli.Invoke(ctx, addr, echo("x")); err != nil || resp.Remark != "up" {
		t.Fatalf("after the server came up: %v %v", resp, err)
	}
}

func TestBinaryHeadersBothWays(t *testing.T) {
	_, addr := startServer(t, transports()[0], nil, ServerOptions{SerializeType: protocol.SerializeRocketMQ}, nil)
	cli := newClient(t, transports()[0], ClientOptions{SerializeType: protocol.SerializeRocketMQ})
	resp, err := cli.Invoke(ctxT(t, 5*time.Second), addr, echo("bin"))
	if err != nil || resp.ExtField("v") != "bin" {
		t.Fatalf("%v %v", resp, err)
	}
	// A JSON client talks to the binary-replying server too.
	cli2 := newClient(t, transports()[0], ClientOptions{})
	if resp, err := cli2.Invoke(ctxT(t, 5*time.Second), addr, echo("json")); err != nil || resp.ExtField("v") != "json" {
		t.Fatalf("%v %v", resp, err)
	}
}

func TestServerCloseIsGraceful(t *testing.T) {
	var cancelled atomic.Int32
	entered := make(chan struct{})
	srv, addr := startServer(t, transports()[0], nil, ServerOptions{}, func(s *Server) {
		s.HandleFunc(codeHold, func(ctx context.Context, _ *Request) (*protocol.RemotingCommand, error) {
			close(entered)
			<-ctx.Done()
			cancelled.Add(1)
			return nil, ctx.Err()
		})
	})
	cli := newClient(t, transports()[0], ClientOptions{})
	ctx := ctxT(t, 5*time.Second)
	errc := make(chan error, 1)
	go func() {
		_, err := cli.Invoke(ctx, addr, protocol.NewRequest(codeHold, nil, nil))
		errc <- err
	}()
	<-entered
	done := make(chan struct{})
	go func() { srv.Close(); close(done) }()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		t.Fatal("Close hung")
	}
	if cancelled.Load() != 1 {
		t.Fatal("handler context not cancelled")
	}
	if err := <-errc; !errors.Is(err, ErrConnClosed) {
		t.Fatalf("client saw %v", err)
	}
	if _, err := net.DialTimeout("tcp", addr, time.Second); err == nil {
		t.Fatal("listener still open after Close")
	}
	if err := srv.Start(nil); !errors.Is(err, ErrServerClosed) {
		t.Fatalf("Start after Close: %v", err)
	}
}

func TestShutdownWaitsForHandlers(t *testing.T) {
	release := make(chan struct{})
	entered := make(chan struct{})
	srv, addr := startServer(t, transports()[0], nil, ServerOptions{}, func(s *Server) {
		s.HandleFunc(codeHold, func(context.Context, *Request) (*protocol.RemotingCommand, error) {
			close(entered)
			<-release
			return protocol.NewResponse(protocol.RespSuccess, "finished"), nil
		})
	})
	cli := newClient(t, transports()[0], ClientOptions{})
	res := make(chan *protocol.RemotingCommand, 1)
	go func() {
		r, _ := cli.Invoke(ctxT(t, 5*time.Second), addr, protocol.NewRequest(codeHold, nil, nil))
		res <- r
	}()
	<-entered
	shut := make(chan error, 1)
	go func() { shut <- srv.Shutdown(ctxT(t, 5*time.Second)) }()
	select {
	case <-shut:
		t.Fatal("Shutdown returned while a handler was running")
	case <-time.After(50 * time.Millisecond):
	}
	close(release)
	if err := <-shut; err != nil {
		t.Fatal(err)
	}
	if r := <-res; r == nil || r.Remark != "finished" {
		t.Fatalf("in-flight request lost: %v", r)
	}
}

// TestReplyDeferredFlush: replies queued with ReplyDeferred are not written until Flush or
// FlushAsync (or the connection's next write), then all reach the client.
func TestReplyDeferredFlush(t *testing.T) {
	for _, async := range []bool{false, true} {
		t.Run(fmt.Sprintf("async=%v", async), func(t *testing.T) { testReplyDeferredFlush(t, async) })
	}
}

func testReplyDeferredFlush(t *testing.T, async bool) {
	const n = 8
	parked := make(chan *Request, n)
	_, addr := startServer(t, transports()[0], nil, ServerOptions{}, func(s *Server) {
		s.HandleFunc(codeHold, func(_ context.Context, req *Request) (*protocol.RemotingCommand, error) {
			parked <- req
			return nil, ErrReplyLater
		})
	})
	cli := newClient(t, transports()[0], ClientOptions{})
	ctx := ctxT(t, 10*time.Second)
	var got atomic.Int32
	errc := make(chan error, n)
	for range n {
		go func() {
			r, err := cli.Invoke(ctx, addr, protocol.NewRequest(codeHold, nil, nil))
			if err == nil && r.Remark != "deferred" {
				err = fmt.Errorf("remark %q", r.Remark)
			}
			got.Add(1)
			errc <- err
		}()
	}
	reqs := make([]*Request, 0, n)
	for range n {
		reqs = append(reqs, <-parked)
	}
	for _, req := range reqs {
		if err := req.ReplyDeferred(protocol.NewResponse(protocol.RespSuccess, "deferred")); err != nil {
			t.Fatal(err)
		}
		if err := req.ReplyDeferred(protocol.NewResponse(protocol.RespSuccess, "again")); !errors.Is(err, ErrAlreadyReplied) {
			t.Fatalf("second reply: %v", err)
		}
	}
	// Nothing was written: no reply can have arrived.
	time.Sleep(100 * time.Millisecond)
	if g := got.Load(); g != 0 {
		t.Fatalf("%d replies arrived before Flush", g)
	}
	conns := map[*Conn]bool{}
	for _, req := range reqs {
		conns[req.Conn] = true
	}
	for c := range conns {
		if async {
			c.FlushAsync()
		} else if err := c.Flush(); err != nil {
			t.Fatal(err)
		}
	}
	for range n {
		if err := <-errc; err != nil {
			t.Fatal(err)
		}
	}
}
