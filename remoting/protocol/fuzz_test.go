package protocol

import (
	"bytes"
	"os"
	"path/filepath"
	"reflect"
	"testing"
)

func addFixtureSeeds(f *testing.F) {
	files, _ := filepath.Glob(filepath.Join("testdata", "*.hex"))
	for _, name := range files {
		f.Add(loadFixture(f, filepath.Base(name)))
	}
	f.Add([]byte{0, 0, 0, 4, 0, 0, 0, 0})
	f.Add([]byte{0xff, 0xff, 0xff, 0xff})
	f.Add(frameWith(1, make([]byte, 21), []byte("body")))
}

// FuzzDecodeFrame: decoding arbitrary bytes never panics, never returns a command without an
// error, and every frame that decodes re-encodes (in its own serialisation) to a frame that
// decodes to the same command.
//
//	go test -run '^$' -fuzz '^FuzzDecodeFrame$' -fuzztime 60s ./remoting/protocol/
func FuzzDecodeFrame(f *testing.F) {
	addFixtureSeeds(f)
	f.Fuzz(func(t *testing.T, data []byte) {
		c, err := DecodeFrame(data, 1<<20)
		// The streaming reader must agree with the buffer decoder.
		c2, err2 := NewFrameReader(bytes.NewReader(data), 1<<20).ReadCommand()
		if err != nil {
			if c != nil {
				t.Fatal("command returned with an error")
			}
			return
		}
		if err2 != nil || !reflect.DeepEqual(c, c2) {
			t.Fatalf("FrameReader disagrees: %v", err2)
		}
		st := SerializeType(data[4])
		frame, err := c.MarshalFrame(st)
		if err != nil {
			t.Fatalf("re-encode: %v", err)
		}
		back, err := DecodeFrame(frame, 1<<21)
		if err != nil {
			t.Fatalf("decode of re-encoded frame: %v", err)
		}
		if st == SerializeJSON && !c.Language.Known() {
			c.Language = LanguageOther // the JSON form carries only enumerated names
		}
		if !reflect.DeepEqual(normalize(back), normalize(c)) {
			t.Fatalf("round trip\n got %s\nwant %s", back, c)
		}
	})
}

// FuzzDecodeBinaryHeader targets the ROCKETMQ binary header parser directly.
//
//	go test -run '^$' -fuzz '^FuzzDecodeBinaryHeader$' -fuzztime 60s ./remoting/protocol/
func FuzzDecodeBinaryHeader(f *testing.F) {
	seed := loadFixture(f, "get_routeinfo_request.rocketmq.hex")
	f.Add(seed[8:])
	f.Add(make([]byte, 21))
	f.Add(append(make([]byte, 17), 0, 0, 0, 7, 0, 1, 'k', 0, 0, 0, 0))
	if b, err := os.ReadFile(filepath.Join("testdata", "register_broker_request.hex")); err == nil {
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, h []byte) {
		c, err := decodeBinaryHeader(h)
		if err != nil {
			return
		}
		enc, err := appendBinaryHeader(nil, c)
		if err != nil {
			t.Fatalf("re-encode: %v", err)
		}
		back, err := decodeBinaryHeader(enc)
		if err != nil {
			t.Fatalf("decode of re-encoded header: %v", err)
		}
		if !reflect.DeepEqual(normalize(back), normalize(c)) {
			t.Fatalf("round trip\n got %s\nwant %s", back, c)
		}
	})
}
