package client

import (
	"encoding/binary"
	"encoding/hex"
	"net"
	"os"
	"strings"
	"sync/atomic"
	"time"
)

// uniqKeyGen produces UNIQ_KEY values (§6.6): 16 bytes rendered as 32 upper-case hex characters —
// client IPv4 (4), pid (2), a per-process random-ish discriminator (4), ms since the start of the
// month (4), counter (2). Brokers treat the value as opaque; it only has to be unique.
type uniqKeyGen struct {
	prefix  string // hex of the first 10 bytes
	counter atomic.Uint32
}

func newUniqKeyGen() *uniqKeyGen {
	var b [10]byte
	copy(b[:4], localIPv4())
	binary.BigEndian.PutUint16(b[4:6], uint16(os.Getpid()))
	binary.BigEndian.PutUint32(b[6:10], uint32(time.Now().UnixNano()))
	return &uniqKeyGen{prefix: strings.ToUpper(hex.EncodeToString(b[:]))}
}

func (g *uniqKeyGen) next() string {
	now := time.Now()
	monthStart := time.Date(now.Year(), now.Month(), 1, 0, 0, 0, 0, now.Location())
	var b [6]byte
	binary.BigEndian.PutUint32(b[:4], uint32(now.Sub(monthStart).Milliseconds()))
	binary.BigEndian.PutUint16(b[4:], uint16(g.counter.Add(1)))
	var out [32]byte
	n := copy(out[:], g.prefix)
	for _, c := range b {
		out[n], out[n+1] = upperHex[c>>4], upperHex[c&0xF]
		n += 2
	}
	return string(out[:n])
}

const upperHex = "0123456789ABCDEF"

// localIPv4 returns the first non-loopback IPv4 address of the host, or 127.0.0.1.
func localIPv4() net.IP {
	addrs, err := net.InterfaceAddrs()
	if err == nil {
		for _, a := range addrs {
			if ipn, ok := a.(*net.IPNet); ok && !ipn.IP.IsLoopback() {
				if v4 := ipn.IP.To4(); v4 != nil {
					return v4
				}
			}
		}
	}
	return net.IPv4(127, 0, 0, 1).To4()
}
