package protocol

import (
	"errors"
	"maps"
	"reflect"
	"slices"
	"strings"
	"testing"
)

// decodeSendMessageHeaderReference is the generic, reflective decoding that
// DecodeSendMessageHeader must agree with: short names mapped to full ones, then DecodeHeader.
func decodeSendMessageHeaderReference(ext map[string]string, shortNames bool) (SendMessageRequestHeader, error) {
	var h SendMessageRequestHeader
	if shortNames {
		full := maps.Clone(ext)
		for short, name := range sendV2Names {
			if v, ok := ext[short]; ok {
				full[name] = v
			}
		}
		ext = full
	}
	if err := DecodeHeader(ext, &h); err != nil {
		return h, err
	}
	_, h.HasMaxReconsumeTimes = ext["maxReconsumeTimes"]
	return h, nil
}

func fullSendExt() map[string]string {
	return map[string]string{
		"producerGroup": "pg", "topic": "T", "defaultTopic": "TBW102", "defaultTopicQueueNums": "4",
		"queueId": "3", "sysFlag": "0", "bornTimestamp": "1700000000123", "flag": "0",
		"properties": "UNIQ_KEY\x01abc\x02WAIT\x01true\x02", "reconsumeTimes": "0", "unitMode": "false",
		"maxReconsumeTimes": "16", "batch": "false", "bname": "broker-a",
	}
}

func shortSendExt() map[string]string {
	out := map[string]string{}
	for short, name := range sendV2Names {
		if v, ok := fullSendExt()[name]; ok {
			out[short] = v
		}
	}
	return out
}

func TestDecodeSendMessageHeaderMatchesGenericDecoder(t *testing.T) {
	with := func(m map[string]string, kv ...string) map[string]string {
		m = maps.Clone(m)
		for i := 0; i+1 < len(kv); i += 2 {
			if kv[i+1] == "<delete>" {
				delete(m, kv[i])
			} else {
				m[kv[i]] = kv[i+1]
			}
		}
		return m
	}
	cases := []struct {
		name  string
		ext   map[string]string
		short bool
	}{
		{"full names", fullSendExt(), false},
		{"short names", shortSendExt(), true},
		{"short names read as full", shortSendExt(), false},
		{"full names read as short", fullSendExt(), true},
		{"missing topic", with(fullSendExt(), "topic", "<delete>"), false},
		{"missing short topic", with(shortSendExt(), "b", "<delete>"), true},
		{"empty required string is present", with(shortSendExt(), "a", ""), true},
		{"empty required int is missing", with(shortSendExt(), "e", ""), true},
		{"bad int", with(shortSendExt(), "g", "12x"), true},
		{"bad int after missing int", with(shortSendExt(), "d", "", "g", "12x"), true},
		{"int with spaces", with(shortSendExt(), "e", " 7 "), true},
		{"negative queue", with(shortSendExt(), "e", "-1"), true},
		{"int overflow", with(shortSendExt(), "g", "99999999999999999999"), true},
		{"bool variants", with(shortSendExt(), "k", " TRUE ", "m", "True"), true},
		{"bool garbage", with(shortSendExt(), "k", "yes", "m", "1"), true},
		{"optional ints absent", with(shortSendExt(), "j", "<delete>", "l", "<delete>"), true},
		{"max reconsume empty but present", with(shortSendExt(), "l", ""), true},
		{"no properties", with(shortSendExt(), "i", "<delete>"), true},
		{"unknown keys", with(shortSendExt(), "zz", "1", "o", "x"), true},
		{"empty", map[string]string{}, true},
		{"nil", nil, false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got, gotErr := DecodeSendMessageHeader(tc.ext, tc.short)
			want, wantErr := decodeSendMessageHeaderReference(tc.ext, tc.short)
			if (gotErr == nil) != (wantErr == nil) {
				t.Fatalf("error: got %v, want %v", gotErr, wantErr)
			}
			if gotErr != nil {
				if gotErr.Error() != wantErr.Error() {
					t.Fatalf("error text: got %q, want %q", gotErr, wantErr)
				}
				for _, sentinel := range []error{ErrMissingField, ErrBadField} {
					if errors.Is(gotErr, sentinel) != errors.Is(wantErr, sentinel) {
						t.Fatalf("errors.Is(%v): got %v, want %v", sentinel, errors.Is(gotErr, sentinel), errors.Is(wantErr, sentinel))
					}
				}
				return
			}
			if !reflect.DeepEqual(got, want) {
				t.Fatalf("got  %+v\nwant %+v", got, want)
			}
		})
	}
}

func FuzzDecodeSendMessageHeader(f *testing.F) {
	f.Add("pg", "T", "4", "3", "1700000000123", "true", "16", true)
	f.Add("", "", "", " 1", "x", "TRUE", "", false)
	f.Fuzz(func(t *testing.T, group, topic, qnums, qid, born, unit, maxRe string, short bool) {
		ext := map[string]string{}
		put := func(short, full, v string) {
			if v == "<absent>" || strings.HasPrefix(v, "\x00") {
				return
			}
			if len(v)%2 == 0 {
				ext[short] = v
			} else {
				ext[full] = v
			}
		}
		put("a", "producerGroup", group)
		put("b", "topic", topic)
		put("c", "defaultTopic", topic)
		put("d", "defaultTopicQueueNums", qnums)
		put("e", "queueId", qid)
		put("f", "sysFlag", qid)
		put("g", "bornTimestamp", born)
		put("h", "flag", qnums)
		put("k", "unitMode", unit)
		put("l", "maxReconsumeTimes", maxRe)
		got, gotErr := DecodeSendMessageHeader(ext, short)
		want, wantErr := decodeSendMessageHeaderReference(ext, short)
		if (gotErr == nil) != (wantErr == nil) || (gotErr != nil && gotErr.Error() != wantErr.Error()) {
			t.Fatalf("ext %q short=%v: error got %v, want %v", ext, short, gotErr, wantErr)
		}
		if gotErr == nil && !reflect.DeepEqual(got, want) {
			t.Fatalf("ext %q short=%v:\ngot  %+v\nwant %+v", ext, short, got, want)
		}
	})
}

func TestSendMessageResponseHeaderExtListMatchesEncodeHeader(t *testing.T) {
	for _, h := range []SendMessageResponseHeader{
		{},
		{MsgID: "0A0B0C0D00002A9F0000000000001234", QueueID: 7, QueueOffset: 1 << 40, TransactionID: "tx", MsgRegion: "DefaultRegion", TraceOn: "true"},
		{MsgID: "a,b", QueueID: -1, QueueOffset: -5},
	} {
		want, err := EncodeHeader(&h)
		if err != nil {
			t.Fatal(err)
		}
		list := h.ExtList()
		if got := (&RemotingCommand{ExtList: list}).ExtMap(); !maps.Equal(got, want) {
			t.Fatalf("ExtList() = %v, EncodeHeader = %v", list, want)
		}
		if !slices.IsSortedFunc(list, func(a, b ExtPair) int { return strings.Compare(a.Key, b.Key) }) {
			t.Fatalf("ExtList() not in key order: %v", list)
		}
	}
}
