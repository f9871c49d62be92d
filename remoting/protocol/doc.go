// Package protocol is the Apache RocketMQ 4.x "remoting" wire protocol: frames, the two
// header serialisations, request/response codes, typed custom headers and the JSON bodies
// shared by the nameserver, the broker and the admin client. It imports only the standard
// library and nothing else of gorocket.
//
// # Frames
//
//	offset  size  field
//	0       4     frameLength = 4 + headerLength + bodyLength (excludes itself), int32 BE
//	4       4     byte 0: serialize type (0 JSON, 1 ROCKETMQ); bytes 1..3: headerLength
//	8       H     header (JSON object, or the binary layout below)
//	8+H     rest  body (opaque bytes)
//
// Decoding never trusts a declared length: FrameReader rejects a frameLength above the
// configured maximum (DefaultMaxFrameSize, 16 MiB) before allocating, allocates at most
// 64 KiB up front and grows as bytes arrive; header lengths are checked against the frame
// and every inner length of a binary header against the bytes present. Decoders never
// panic (FuzzDecodeFrame, FuzzDecodeBinaryHeader). Errors wrap a sentinel (ErrFrameTooLarge,
// ErrHeaderLength, ErrMalformedHeader, ...) and carry the offending values, for example
// "protocol: frame length 123 exceeds max 456".
//
// # Headers
//
// JSON (type 0) is what every client sends. It is written in rocketmq-client-go's field
// order ({"code","language","version","opaque","flag","remark","extFields"}), remark always
// present, extFields always an object with sorted keys and string values only. Decoding
// accepts any order, absent/null remark and extFields, unknown fields
// (serializeTypeCurrentRPC), and tolerates numeric or boolean extFields values.
//
// ROCKETMQ binary (type 1): code int16, language byte, version int16, opaque int32, flag
// int32, remarkLength int32 + remark, extLength int32 + {keyLen int16, key, valLen int32,
// value}*. Codes and versions must fit int16 to be encoded this way.
//
// # Custom headers
//
// extFields are decoded into plain structs with `rmq:"key[,required][,omitempty]"` tags
// (DecodeHeader / EncodeHeader, see header_codec.go). Values are always strings on the wire;
// "" counts as absent for numbers and booleans; booleans follow Java's parseBoolean.
//
// # Codes
//
// codes.json is the catalogue of request (Req*) and response (Resp*) codes;
// codes_generated.go is generated from it by `go generate` (gen_codes.go).
//
// # Concurrency
//
// Everything here is stateless apart from a read-mostly cache of header field plans
// (sync.Map); all functions are safe for concurrent use. A FrameReader is not.
package protocol
