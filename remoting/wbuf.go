package remoting

import (
	"net"
	"sync"
)

// writeChunkSize is the size of the pooled chunks that queued frames are copied into.
const writeChunkSize = 64 << 10

var writeChunks = sync.Pool{New: func() any {
	b := make([]byte, 0, writeChunkSize)
	return &b
}}

// pendingWrites is a byte queue made of pooled chunks. Appending never moves what is already
// queued (a growing slice would copy it at each doubling and give the garbage collector
// megabytes per burst to sweep), the queue is written with one writev of its chunks, and
// the chunks go back to the pool once written, so an idle connection holds none.
type pendingWrites struct {
	chunks []*[]byte
	n      int // bytes queued
}

func (p *pendingWrites) append(b []byte) {
	for len(b) > 0 {
		var last *[]byte
		if k := len(p.chunks); k > 0 {
			last = p.chunks[k-1]
		}
		if last == nil || len(*last) == cap(*last) {
			last = writeChunks.Get().(*[]byte)
			*last = (*last)[:0]
			p.chunks = append(p.chunks, last)
		}
		n := copy((*last)[len(*last):cap(*last)], b)
		*last = (*last)[:len(*last)+n]
		b = b[n:]
		p.n += n
	}
}

// appendTo appends the queued bytes, chunk by chunk, to bufs.
func (p *pendingWrites) appendTo(bufs net.Buffers) net.Buffers {
	for _, c := range p.chunks {
		bufs = append(bufs, *c)
	}
	return bufs
}

// release returns the chunks to the pool and empties p, keeping its slice for reuse.
func (p *pendingWrites) release() {
	for i, c := range p.chunks {
		writeChunks.Put(c)
		p.chunks[i] = nil
	}
	p.chunks = p.chunks[:0]
	p.n = 0
}
