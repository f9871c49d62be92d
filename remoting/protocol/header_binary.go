package protocol

import (
	"encoding/binary"
	"fmt"
	"math"
)

// binaryFixedLength is the fixed part of a ROCKETMQ binary header: code(2) language(1)
// version(2) opaque(4) flag(4) remarkLength(4) extFieldsLength(4).
const binaryFixedLength = 21

// appendBinaryHeader appends the ROCKETMQ binary header of c (reference §1.4). Ext fields
// are written in sorted key order. Code and version must fit in an int16.
func appendBinaryHeader(b []byte, c *RemotingCommand) ([]byte, error) {
	if c.Code < math.MinInt16 || c.Code > math.MaxInt16 {
		return nil, newErr(ErrFieldRange, fmt.Sprintf("protocol: code %d does not fit the int16 of a ROCKETMQ header", c.Code))
	}
	if c.Version < math.MinInt16 || c.Version > math.MaxInt16 {
		return nil, newErr(ErrFieldRange, fmt.Sprintf("protocol: version %d does not fit the int16 of a ROCKETMQ header", c.Version))
	}
	var scratch [16]extPair
	pairs := c.encodedExt(scratch[:0])
	extLen := 0
	for _, p := range pairs {
		k, v := p.k, p.v
		if len(k) > math.MaxInt16 {
			return nil, newErr(ErrHeaderTooLarge, fmt.Sprintf("protocol: ext field key of %d bytes exceeds %d", len(k), math.MaxInt16))
		}
		extLen += 2 + len(k) + 4 + len(v)
	}
	if int64(binaryFixedLength)+int64(len(c.Remark))+int64(extLen) > MaxHeaderLength {
		return nil, newErr(ErrHeaderTooLarge, fmt.Sprintf("protocol: binary header of %d bytes exceeds %d", binaryFixedLength+len(c.Remark)+extLen, MaxHeaderLength))
	}
	b = binary.BigEndian.AppendUint16(b, uint16(int16(c.Code)))
	b = append(b, byte(c.Language))
	b = binary.BigEndian.AppendUint16(b, uint16(int16(c.Version)))
	b = binary.BigEndian.AppendUint32(b, uint32(c.Opaque))
	b = binary.BigEndian.AppendUint32(b, uint32(c.Flag))
	b = binary.BigEndian.AppendUint32(b, uint32(len(c.Remark)))
	b = append(b, c.Remark...)
	b = binary.BigEndian.AppendUint32(b, uint32(extLen))
	for _, p := range pairs {
		k, v := p.k, p.v
		b = binary.BigEndian.AppendUint16(b, uint16(len(k)))
		b = append(b, k...)
		b = binary.BigEndian.AppendUint32(b, uint32(len(v)))
		b = append(b, v...)
	}
	return b, nil
}

// decodeBinaryHeader decodes a ROCKETMQ binary header. Every length is checked against
// the bytes actually present; bytes after the ext fields are ignored, as Java does.
func decodeBinaryHeader(h []byte) (*RemotingCommand, error) {
	if len(h) < binaryFixedLength {
		return nil, newErr(ErrMalformedHeader, fmt.Sprintf("protocol: binary header of %d bytes is shorter than %d", len(h), binaryFixedLength))
	}
	c := &RemotingCommand{
		Code:     int32(int16(binary.BigEndian.Uint16(h[0:2]))),
		Language: LanguageCode(h[2]),
		Version:  int32(int16(binary.BigEndian.Uint16(h[3:5]))),
		Opaque:   int32(binary.BigEndian.Uint32(h[5:9])),
		Flag:     int32(binary.BigEndian.Uint32(h[9:13])),
	}
	p := 13
	rl := int32(binary.BigEndian.Uint32(h[p:]))
	p += 4
	if rl < 0 || int64(rl) > int64(len(h)-p-4) {
		return nil, newErr(ErrMalformedHeader, fmt.Sprintf("protocol: binary header remark length %d exceeds the %d bytes left", rl, len(h)-p-4))
	}
	c.Remark = string(h[p : p+int(rl)])
	p += int(rl)
	el := int32(binary.BigEndian.Uint32(h[p:]))
	p += 4
	if el < 0 || int64(el) > int64(len(h)-p) {
		return nil, newErr(ErrMalformedHeader, fmt.Sprintf("protocol: binary header ext fields length %d exceeds the %d bytes left", el, len(h)-p))
	}
	ext := h[p : p+int(el)]
	if len(ext) > 0 {
		c.ExtFields = make(map[string]string)
	}
	for q := 0; q < len(ext); {
		if len(ext)-q < 2 {
			return nil, newErr(ErrMalformedHeader, fmt.Sprintf("protocol: binary header ext field at %d: truncated key length", q))
		}
		kl := int(int16(binary.BigEndian.Uint16(ext[q:])))
		q += 2
		if kl < 0 || kl > len(ext)-q {
			return nil, newErr(ErrMalformedHeader, fmt.Sprintf("protocol: binary header ext key length %d exceeds the %d bytes left", kl, len(ext)-q))
		}
		k := string(ext[q : q+kl])
		q += kl
		if len(ext)-q < 4 {
			return nil, newErr(ErrMalformedHeader, fmt.Sprintf("protocol: binary header ext field %q: truncated value length", k))
		}
		vl := int64(int32(binary.BigEndian.Uint32(ext[q:])))
		q += 4
		if vl < 0 || vl > int64(len(ext)-q) {
			return nil, newErr(ErrMalformedHeader, fmt.Sprintf("protocol: binary header ext value length %d exceeds the %d bytes left", vl, len(ext)-q))
		}
		c.ExtFields[k] = string(ext[q : q+int(vl)])
		q += int(vl)
	}
	return c, nil
}
