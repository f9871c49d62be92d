package protocol

import "errors"

// Sentinel errors. Errors returned by this package wrap one of these (test with errors.Is)
// and carry a descriptive message with the offending values.
var (
	// ErrFrameTooLarge: the declared frame length exceeds the configured maximum.
	ErrFrameTooLarge = errors.New("protocol: frame too large")
	// ErrFrameTooSmall: the declared frame length cannot hold the header-length word.
	ErrFrameTooSmall = errors.New("protocol: frame too small")
	// ErrFrameTruncated: a complete-frame buffer is shorter or longer than its declared length.
	ErrFrameTruncated = errors.New("protocol: frame truncated")
	// ErrHeaderLength: the declared header length is zero or does not fit in the frame.
	ErrHeaderLength = errors.New("protocol: bad header length")
	// ErrSerializeType: the serialize-type byte is neither JSON (0) nor ROCKETMQ (1).
	ErrSerializeType = errors.New("protocol: unknown serialize type")
	// ErrMalformedHeader: the header bytes do not decode.
	ErrMalformedHeader = errors.New("protocol: malformed header")
	// ErrHeaderTooLarge: an encoded header exceeds the 24-bit header-length field, or a
	// binary-header field does not fit its width.
	ErrHeaderTooLarge = errors.New("protocol: header too large")
	// ErrFieldRange: a code or version does not fit the int16 of a ROCKETMQ binary header.
	ErrFieldRange = errors.New("protocol: field out of range")
	// ErrMissingField: a required custom-header field is absent.
	ErrMissingField = errors.New("protocol: missing header field")
	// ErrBadField: a custom-header field does not parse as its declared type.
	ErrBadField = errors.New("protocol: bad header field")
	// ErrBadBody: a JSON or binary body does not decode.
	ErrBadBody = errors.New("protocol: bad body")
)

// codecError has a precise message but matches its sentinel kind with errors.Is.
type codecError struct {
	kind error
	msg  string
}

func (e *codecError) Error() string { return e.msg }
func (e *codecError) Unwrap() error { return e.kind }

func newErr(kind error, msg string) error { return &codecError{kind: kind, msg: msg} }
