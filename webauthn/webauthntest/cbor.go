package webauthntest

import "encoding/binary"

// The few CBOR items (RFC 8949) an attestation object needs, encoded by hand in
// CTAP2 canonical form: shortest heads, map keys written in canonical order.

const (
	cborUnsigned = 0 << 5
	cborNegative = 1 << 5
	cborBytes    = 2 << 5
	cborText     = 3 << 5
	cborMap      = 5 << 5
)

// cborHead appends the head of an item of the given major type and argument.
func cborHead(b []byte, major byte, n uint64) []byte {
	switch {
	case n < 24:
		return append(b, major|byte(n))
	case n <= 0xff:
		return append(b, major|24, byte(n))
	case n <= 0xffff:
		return binary.BigEndian.AppendUint16(append(b, major|25), uint16(n))
	case n <= 0xffffffff:
		return binary.BigEndian.AppendUint32(append(b, major|26), uint32(n))
	default:
		return binary.BigEndian.AppendUint64(append(b, major|27), n)
	}
}

func cborAppendInt(b []byte, n int64) []byte {
	if n >= 0 {
		return cborHead(b, cborUnsigned, uint64(n))
	}
	return cborHead(b, cborNegative, uint64(-1-n))
}

func cborAppendBytes(b, v []byte) []byte {
	return append(cborHead(b, cborBytes, uint64(len(v))), v...)
}

func cborAppendText(b []byte, s string) []byte {
	return append(cborHead(b, cborText, uint64(len(s))), s...)
}
