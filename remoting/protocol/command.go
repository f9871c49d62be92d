package protocol

import (
	"fmt"
	"strconv"
)

// Flag bits of RemotingCommand.Flag.
const (
	// FlagResponse (bit 0) marks a response.
	FlagResponse int32 = 1 << 0
	// FlagOneway (bit 1) marks a request that must never be answered.
	FlagOneway int32 = 1 << 1
)

// DefaultLanguage is the language gorocket stamps on the commands it creates. JAVA is the
// value every client decoder knows (old Java clients predate "GO"); the Go client accepts it.
const DefaultLanguage = LanguageJava

// RemotingCommand is one protocol frame: a header (code, language, version, opaque, flag,
// remark, extFields) and an opaque body. The same type carries requests and responses.
type RemotingCommand struct {
	// Code is the request code (requests) or response code (responses).
	Code int32
	// Language is the sender's implementation language.
	Language LanguageCode
	// Version is the sender's MQVersion ordinal.
	Version int32
	// Opaque is the request id; a response echoes its request's opaque.
	Opaque int32
	// Flag holds FlagResponse and FlagOneway.
	Flag int32
	// Remark is free text, usually an error description in responses. Absent and null
	// remarks decode as "".
	Remark string
	// ExtFields is the custom header. Values are always strings on the wire. Absent and
	// null extFields decode as a nil map.
	ExtFields map[string]string
	// ExtList is the map-free alternative to ExtFields for commands built to be sent: the
	// entries in the order they are encoded (keys unique). Encoders use it only when ExtFields
	// is nil; decoders never set it. The send path builds one per message (a map costs more
	// to build, and its keys must be sorted for deterministic output).
	ExtList []ExtPair
	// Body is the payload; nil or empty when there is none.
	Body []byte
}

// ExtPair is one extFields entry.
type ExtPair struct{ Key, Value string }

// ExtMap returns the custom header as a map: ExtFields, or a map built from ExtList.
func (c *RemotingCommand) ExtMap() map[string]string {
	if c.ExtFields != nil || c.ExtList == nil {
		return c.ExtFields
	}
	m := make(map[string]string, len(c.ExtList))
	for _, p := range c.ExtList {
		m[p.Key] = p.Value
	}
	return m
}

// encodedExt returns the ext entries in encoding order: ExtFields sorted by key, or ExtList.
func (c *RemotingCommand) encodedExt(scratch []extPair) []extPair {
	if c.ExtFields != nil || len(c.ExtList) == 0 {
		return sortedPairs(c.ExtFields, scratch)
	}
	for _, p := range c.ExtList {
		scratch = append(scratch, extPair{p.Key, p.Value})
	}
	return scratch
}

// IsResponse reports whether FlagResponse is set.
func (c *RemotingCommand) IsResponse() bool { return c.Flag&FlagResponse != 0 }

// IsOneway reports whether FlagOneway is set (a request that must not be answered).
func (c *RemotingCommand) IsOneway() bool { return c.Flag&FlagOneway != 0 }

// NewRequest returns a request with the given code, header and body. header is nil or a
// pointer to (or value of) a header struct with `rmq` tags; see EncodeHeader. It panics if
// header's type is not encodable, which is a programming error (every header type in this
// package is covered by tests).
func NewRequest(code int32, header any, body []byte) *RemotingCommand {
	return &RemotingCommand{
		Code:      code,
		Language:  DefaultLanguage,
		Version:   CurrentVersion,
		ExtFields: mustEncodeHeader(header),
		Body:      body,
	}
}

// NewResponse returns a response with the given code and remark. The transport sets the
// opaque and FlagResponse when it sends it as the answer to a request.
func NewResponse(code int32, remark string) *RemotingCommand {
	return &RemotingCommand{
		Code:     code,
		Language: DefaultLanguage,
		Version:  CurrentVersion,
		Flag:     FlagResponse,
		Remark:   remark,
	}
}

// NewResponseWithHeader returns a SUCCESS-style response with code, an encoded header and a
// body. It panics on unencodable header types, like NewRequest.
func NewResponseWithHeader(code int32, header any, body []byte) *RemotingCommand {
	r := NewResponse(code, "")
	r.ExtFields = mustEncodeHeader(header)
	r.Body = body
	return r
}

// ResponseTo turns resp into the answer of req: it copies req's opaque and sets FlagResponse.
func (c *RemotingCommand) ResponseTo(req *RemotingCommand) *RemotingCommand {
	c.Opaque = req.Opaque
	c.Flag |= FlagResponse
	c.Flag &^= FlagOneway
	return c
}

// DecodeHeader decodes the command's ext fields into the header struct h points to; see DecodeHeader.
func (c *RemotingCommand) DecodeHeader(h any) error {
	return DecodeHeader(c.ExtMap(), h)
}

// ExtField returns one ext field, "" when absent.
func (c *RemotingCommand) ExtField(key string) string {
	if c.ExtFields == nil {
		for _, p := range c.ExtList {
			if p.Key == key {
				return p.Value
			}
		}
	}
	return c.ExtFields[key]
}

// SetExtField sets one ext field, allocating the map if needed (an ExtList moves into it).
func (c *RemotingCommand) SetExtField(key, value string) {
	if c.ExtFields == nil {
		c.ExtFields = c.ExtMap()
		c.ExtList = nil
		if c.ExtFields == nil {
			c.ExtFields = make(map[string]string)
		}
	}
	c.ExtFields[key] = value
}

// String is a compact description for logs (no body bytes).
func (c *RemotingCommand) String() string {
	kind, name := "request", RequestCodeName(c.Code)
	if c.IsResponse() {
		kind, name = "response", ResponseCodeName(c.Code)
	}
	return fmt.Sprintf("%s{code=%s opaque=%d flag=%d lang=%s version=%d remark=%s ext=%v body=%dB}",
		kind, name, c.Opaque, c.Flag, c.Language, c.Version, strconv.Quote(c.Remark), c.ExtMap(), len(c.Body))
}

// ResponseError is an error that carries a response code and remark. Handlers return it to
// answer with a specific code; clients return it when a response's code is not the
// expected one (see (*RemotingCommand).Err).
type ResponseError struct {
	Code   int32
	Remark string
}

// Error formats like the Java client: "CODE: 17  DESC: No topic route info ...".
func (e *ResponseError) Error() string {
	return fmt.Sprintf("protocol: response %s (%d): %s", ResponseCodeName(e.Code), e.Code, e.Remark)
}

// Errorf returns a *ResponseError with a formatted remark.
func Errorf(code int32, format string, args ...any) *ResponseError {
	return &ResponseError{Code: code, Remark: fmt.Sprintf(format, args...)}
}

// Err returns nil when the response code is one of ok (SUCCESS when ok is empty), and a
// *ResponseError with the response's code and remark otherwise.
func (c *RemotingCommand) Err(ok ...int32) error {
	if len(ok) == 0 {
		if c.Code == RespSuccess {
			return nil
		}
	}
	for _, o := range ok {
		if c.Code == o {
			return nil
		}
	}
	return &ResponseError{Code: c.Code, Remark: c.Remark}
}
