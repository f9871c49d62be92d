package protocol

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"errors"
	"io"
	"os"
	"reflect"
	"runtime"
	"strings"
	"testing"
	"testing/iotest"
)

func roundTripCommands() []struct {
	name string
	cmd  *RemotingCommand
} {
	return []struct {
		name string
		cmd  *RemotingCommand
	}{
		{"minimal request", &RemotingCommand{Code: ReqHeartBeat, Language: LanguageGo, Version: 317, Opaque: 1}},
		{"response with remark", &RemotingCommand{Code: RespTopicNotExist, Language: LanguageJava, Version: 409, Opaque: 7,
			Flag: FlagResponse, Remark: "No topic route info in name server for the topic: T" + faqSuffix}},
		{"oneway with ext fields", &RemotingCommand{Code: ReqUpdateConsumerOffset, Version: 409, Opaque: -5, Flag: FlagOneway,
			ExtFields: map[string]string{"consumerGroup": "g", "topic": "T", "queueId": "3", "commitOffset": "42", "empty": ""}}},
		{"body", &RemotingCommand{Code: ReqSendMessage, Version: 409, Opaque: 1 << 30,
			ExtFields: map[string]string{"topic": "T"}, Body: []byte("hello\x00\x01\x02 body")}},
		{"escapes and unicode", &RemotingCommand{Code: RespSystemError, Language: LanguageRust, Version: 479, Opaque: 3, Flag: FlagResponse,
			Remark:    "quote\" backslash\\ nl\n tab\t ctl\x01 <&> 中文 \u2028",
			ExtFields: map[string]string{"k\"ey": "v\\al\n", "properties": "KEYS\x01k1\x02TAGS\x01t\x02"}}},
		{"negative code and version", &RemotingCommand{Code: -1, Version: -2, Opaque: -3, Flag: -4, Language: LanguageNodeJS}},
	}
}

func normalize(c *RemotingCommand) *RemotingCommand {
	cp := *c
	if len(cp.ExtFields) == 0 {
		cp.ExtFields = nil
	}
	if len(cp.Body) == 0 {
		cp.Body = nil
	}
	return &cp
}

func TestFrameRoundTrip(t *testing.T) {
	for _, st := range []SerializeType{SerializeJSON, SerializeRocketMQ} {
		for _, tt := range roundTripCommands() {
			t.Run(st.String()+"/"+tt.name, func(t *testing.T) {
				frame, err := tt.cmd.MarshalFrame(st)
				if err != nil {
					t.Fatal(err)
				}
				if got := binary.BigEndian.Uint32(frame[4:8]) >> 24; got != uint32(st) {
					t.Fatalf("serialize type byte %d", got)
				}
				got, err := DecodeFrame(frame, 0)
				if err != nil {
					t.Fatal(err)
				}
				if !reflect.DeepEqual(normalize(got), normalize(tt.cmd)) {
					t.Fatalf("round trip\n got %s\nwant %s", got, tt.cmd)
				}
				// WriteFrame produces the same bytes as MarshalFrame.
				var buf bytes.Buffer
				if _, err := tt.cmd.WriteFrame(&buf, st); err != nil {
					t.Fatal(err)
				}
				if !bytes.Equal(buf.Bytes(), frame) {
					t.Fatal("WriteFrame and MarshalFrame differ")
				}
			})
		}
	}
}

func TestJSONHeaderIsGoClientCompatible(t *testing.T) {
	c := &RemotingCommand{Code: 0, Version: 409, Opaque: 9, Flag: FlagResponse,
		ExtFields: map[string]string{"offset": "42", "b": "2", "a": "1"}}
	hdr, err := c.EncodeHeader(SerializeJSON)
	if err != nil {
		t.Fatal(err)
	}
	want := `{"code":0,"language":"JAVA","version":409,"opaque":9,"flag":1,"remark":"","extFields":{"a":"1","b":"2","offset":"42"}}`
	if string(hdr) != want {
		t.Fatalf("header\n got %s\nwant %s", hdr, want)
	}
	// The Go client decodes extFields into map[string]string: every value must be a string.
	var probe struct {
		ExtFields map[string]string `json:"extFields"`
	}
	if err := json.Unmarshal(hdr, &probe); err != nil {
		t.Fatal(err)
	}
	if !json.Valid(hdr) {
		t.Fatal("invalid JSON")
	}
}

func TestJSONHeaderDecodeLeniency(t *testing.T) {
	tests := []struct {
		name   string
		header string
		want   *RemotingCommand
	}{
		{"java response no remark", `{"code":0,"extFields":{"offset":"42"},"flag":1,"language":"JAVA","opaque":7,"serializeTypeCurrentRPC":"JSON","version":409}`,
			&RemotingCommand{Code: 0, Language: LanguageJava, Version: 409, Opaque: 7, Flag: 1, ExtFields: map[string]string{"offset": "42"}}},
		{"null remark and extFields", `{"code":34,"language":"GO","version":317,"opaque":1,"flag":0,"remark":null,"extFields":null}`,
			&RemotingCommand{Code: 34, Language: LanguageGo, Version: 317, Opaque: 1}},
		{"absent language", `{"code":34,"opaque":1}`, &RemotingCommand{Code: 34, Language: LanguageJava, Opaque: 1}},
		{"numeric language", `{"code":34,"language":9,"opaque":1}`, &RemotingCommand{Code: 34, Language: LanguageGo, Opaque: 1}},
		{"unknown language name", `{"code":34,"language":"COBOL"}`, &RemotingCommand{Code: 34, Language: LanguageOther}},
		{"non-string ext values", `{"code":1,"extFields":{"n":42,"b":true,"s":"x","z":null}}`,
			&RemotingCommand{Code: 1, ExtFields: map[string]string{"n": "42", "b": "true", "s": "x"}}},
		{"whitespace and order", " {\n\"opaque\" : 5 , \"code\":10 }\n", &RemotingCommand{Code: 10, Opaque: 5}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := decodeJSONHeader([]byte(tt.header))
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(normalize(got), normalize(tt.want)) {
				t.Fatalf("got %s want %s", got, tt.want)
			}
		})
	}
}

func frameWith(typeByte byte, header []byte, body []byte) []byte {
	b := binary.BigEndian.AppendUint32(nil, uint32(4+len(header)+len(body)))
	b = binary.BigEndian.AppendUint32(b, uint32(typeByte)<<24|uint32(len(header)))
	b = append(b, header...)
	return append(b, body...)
}

func TestDecodeFrameErrors(t *testing.T) {
	good := frameWith(0, []byte(`{"code":1}`), nil)
	tests := []struct {
		name    string
		frame   []byte
		max     int
		kind    error
		message string
	}{
		{"oversize", binary.BigEndian.AppendUint32(nil, 457), 456, ErrFrameTooLarge, "protocol: frame length 457 exceeds max 456"},
		{"negative length", binary.BigEndian.AppendUint32(nil, 0xFFFFFFFF), 0, ErrFrameTooSmall, "protocol: frame length -1 is smaller than the header-length word"},
		{"length below header word", append(binary.BigEndian.AppendUint32(nil, 3), 0, 0, 0), 0, ErrFrameTooSmall, ""},
		{"no prefix", []byte{0, 0}, 0, ErrFrameTruncated, ""},
		{"truncated", good[:len(good)-1], 0, ErrFrameTruncated, ""},
		{"trailing bytes", append(append([]byte{}, good...), 'x'), 0, ErrFrameTruncated, ""},
		{"zero header length", frameWith(0, nil, []byte("body")), 0, ErrHeaderLength, "protocol: header length 0 does not fit frame length 8"},
		{"header longer than frame", func() []byte {
			f := frameWith(0, []byte(`{}`), nil)
			binary.BigEndian.PutUint32(f[4:], 3)
			return f
		}(), 0, ErrHeaderLength, "protocol: header length 3 does not fit frame length 6"},
		{"unknown serialize type", frameWith(2, []byte(`{}`), nil), 0, ErrSerializeType, "protocol: unknown serialize type 2"},
		{"garbage JSON header", frameWith(0, []byte("\x00\xffnot json"), nil), 0, ErrMalformedHeader, ""},
		{"JSON header not an object", frameWith(0, []byte(`[1,2]`), nil), 0, ErrMalformedHeader, ""},
		{"nested ext value", frameWith(0, []byte(`{"extFields":{"a":{"b":"c"}}}`), nil), 0, ErrMalformedHeader, ""},
		{"code overflows int32", frameWith(0, []byte(`{"code":4294967296}`), nil), 0, ErrMalformedHeader, ""},
		{"short binary header", frameWith(1, make([]byte, 20), nil), 0, ErrMalformedHeader, "protocol: binary header of 20 bytes is shorter than 21"},
		{"binary remark overrun", frameWith(1, append(make([]byte, 13), 0, 0, 0, 9, 0, 0, 0, 0), nil), 0, ErrMalformedHeader, ""},
		{"binary negative remark", frameWith(1, append(make([]byte, 13), 0xff, 0xff, 0xff, 0xff, 0, 0, 0, 0), nil), 0, ErrMalformedHeader, ""},
		{"binary ext overrun", frameWith(1, append(make([]byte, 17), 0, 0, 0, 5), nil), 0, ErrMalformedHeader, ""},
		{"binary ext key overrun", frameWith(1, append(make([]byte, 17), 0, 0, 0, 2, 0, 9), nil), 0, ErrMalformedHeader, ""},
		{"binary ext value overrun", frameWith(1, append(make([]byte, 17), 0, 0, 0, 7, 0, 1, 'k', 0, 0, 0, 9), nil), 0, ErrMalformedHeader, ""},
		{"binary ext negative key", frameWith(1, append(make([]byte, 17), 0, 0, 0, 2, 0xff, 0xff), nil), 0, ErrMalformedHeader, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := DecodeFrame(tt.frame, tt.max)
			if !errors.Is(err, tt.kind) {
				t.Fatalf("err = %v, want %v", err, tt.kind)
			}
			if tt.message != "" && err.Error() != tt.message {
				t.Fatalf("message %q, want %q", err.Error(), tt.message)
			}
			if !strings.HasPrefix(err.Error(), "protocol: ") {
				t.Fatalf("message %q lacks the package prefix", err.Error())
			}
		})
	}
}

func TestFrameReader(t *testing.T) {
	cmds := roundTripCommands()
	big := &RemotingCommand{Code: ReqSendMessage, Opaque: 99, Body: bytes.Repeat([]byte("0123456789abcdef"), 20000)} // 320 KB: exercises growth
	var stream bytes.Buffer
	for _, c := range cmds {
		if _, err := c.cmd.WriteFrame(&stream, SerializeJSON); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := big.WriteFrame(&stream, SerializeRocketMQ); err != nil {
		t.Fatal(err)
	}
	// One byte per Read: framing must not depend on read sizes.
	fr := NewFrameReader(iotest.OneByteReader(bytes.NewReader(stream.Bytes())), 0)
	for _, c := range cmds {
		got, err := fr.ReadCommand()
		if err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(normalize(got), normalize(c.cmd)) {
			t.Fatalf("got %s want %s", got, c.cmd)
		}
	}
	got, err := fr.ReadCommand()
	if err != nil || !bytes.Equal(got.Body, big.Body) || got.Opaque != 99 {
		t.Fatalf("big frame: %v", err)
	}
	if _, err := fr.ReadCommand(); err != io.EOF {
		t.Fatalf("clean end: %v, want io.EOF", err)
	}

	t.Run("eof inside frame", func(t *testing.T) {
		f, _ := big.MarshalFrame(SerializeJSON)
		for _, cut := range []int{2, 4, 10, 100000} {
			_, err := NewFrameReader(bytes.NewReader(f[:cut]), 0).ReadCommand()
			if !errors.Is(err, io.ErrUnexpectedEOF) {
				t.Fatalf("cut at %d: %v", cut, err)
			}
		}
	})
	t.Run("declared length never trusted", func(t *testing.T) {
		// A peer declaring a 1 GiB frame is rejected before any allocation.
		_, err := NewFrameReader(bytes.NewReader(binary.BigEndian.AppendUint32(nil, 1<<30)), 0).ReadCommand()
		if !errors.Is(err, ErrFrameTooLarge) || err.Error() != "protocol: frame length 1073741824 exceeds max 16777216" {
			t.Fatalf("err = %v", err)
		}
		// A declared 16 MiB frame of which 100 bytes arrive allocates only as bytes arrive.
		partial := append(binary.BigEndian.AppendUint32(nil, 16<<20), make([]byte, 100)...)
		var before, after runtime.MemStats
		runtime.ReadMemStats(&before)
		_, err = NewFrameReader(bytes.NewReader(partial), 0).ReadCommand()
		runtime.ReadMemStats(&after)
		if !errors.Is(err, io.ErrUnexpectedEOF) {
			t.Fatalf("err = %v", err)
		}
		if grew := after.TotalAlloc - before.TotalAlloc; grew > 1<<20 {
			t.Fatalf("allocated %d bytes for a frame that sent 100", grew)
		}
	})
}

func TestEncodeErrors(t *testing.T) {
	if _, err := (&RemotingCommand{Code: 200050}).EncodeHeader(SerializeRocketMQ); !errors.Is(err, ErrFieldRange) {
		t.Fatalf("POP code in binary header: %v", err)
	}
	if _, err := (&RemotingCommand{Code: 200050}).EncodeHeader(SerializeJSON); err != nil {
		t.Fatalf("POP code in JSON header: %v", err)
	}
	if _, err := (&RemotingCommand{}).EncodeHeader(7); !errors.Is(err, ErrSerializeType) {
		t.Fatalf("bad serialize type: %v", err)
	}
	huge := &RemotingCommand{Remark: strings.Repeat("x", MaxHeaderLength)}
	if _, err := huge.FramePrefix(SerializeJSON); !errors.Is(err, ErrHeaderTooLarge) {
		t.Fatalf("huge header: %v", err)
	}
}

func TestCodesCatalogue(t *testing.T) {
	raw, err := os.ReadFile("codes.json")
	if err != nil {
		t.Fatal(err)
	}
	var cat struct {
		Requests, Responses []struct {
			Name string
			Code int32
		}
	}
	if err := json.Unmarshal(raw, &cat); err != nil {
		t.Fatal(err)
	}
	if len(cat.Requests) != len(requestCodeNames) || len(cat.Responses) != len(responseCodeNames) {
		t.Fatalf("codes_generated.go is stale: run go generate ./remoting/protocol/")
	}
	for _, c := range cat.Requests {
		if RequestCodeName(c.Code) != c.Name {
			t.Fatalf("request %d: %s != %s (run go generate)", c.Code, RequestCodeName(c.Code), c.Name)
		}
	}
	for _, c := range cat.Responses {
		if ResponseCodeName(c.Code) != c.Name {
			t.Fatalf("response %d: %s != %s (run go generate)", c.Code, ResponseCodeName(c.Code), c.Name)
		}
	}
	// Spot checks against the reference tables (§2).
	for code, name := range map[int32]string{ReqRegisterBroker: "REGISTER_BROKER", ReqGetRouteInfoByTopic: "GET_ROUTEINFO_BY_TOPIC",
		ReqQueryDataVersion: "QUERY_DATA_VERSION", ReqAddWritePermOfBroker: "ADD_WRITE_PERM_OF_BROKER"} {
		if RequestCodeName(code) != name {
			t.Fatalf("%d = %s", code, RequestCodeName(code))
		}
	}
	if RespTopicNotExist != 17 || RespQueryNotFound != 22 || RespRequestCodeNotSupported != 3 {
		t.Fatal("response code numbers changed")
	}
	if RequestCodeName(9999) != "UNKNOWN_REQUEST(9999)" {
		t.Fatal(RequestCodeName(9999))
	}
}

func TestLanguageTable(t *testing.T) {
	for i := 0; i <= 13; i++ {
		l := LanguageCode(i)
		back, ok := ParseLanguage(l.String())
		if !ok || back != l {
			t.Fatalf("%d: %s", i, l)
		}
	}
	if LanguageGo.String() != "GO" || LanguageJava != 0 || LanguageNodeJS != 13 {
		t.Fatal("language table")
	}
	if LanguageCode(200).Known() || LanguageCode(200).String() != "LANGUAGE(200)" {
		t.Fatal("unknown language")
	}
}

func TestResponseHelpers(t *testing.T) {
	req := NewRequest(ReqGetRouteInfoByTopic, &GetRouteInfoRequestHeader{Topic: "T"}, nil)
	req.Opaque = 77
	req.Flag = FlagOneway
	if req.ExtFields["topic"] != "T" || req.Version != CurrentVersion || req.Language != DefaultLanguage {
		t.Fatalf("request %s", req)
	}
	resp := NewResponse(RespTopicNotExist, "nope").ResponseTo(req)
	if resp.Opaque != 77 || !resp.IsResponse() || resp.IsOneway() {
		t.Fatalf("response %s", resp)
	}
	var re *ResponseError
	if err := resp.Err(); !errors.As(err, &re) || re.Code != RespTopicNotExist || re.Remark != "nope" {
		t.Fatalf("Err() = %v", err)
	}
	if resp.Err(RespTopicNotExist) != nil || NewResponse(RespSuccess, "").Err() != nil {
		t.Fatal("Err with accepted codes")
	}
}
