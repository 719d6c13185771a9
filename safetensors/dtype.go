package safetensors

import (
	"encoding/binary"
	"fmt"
	"math"

	"github.com/kiln-ml/kiln/tensor"
)

// DType is a safetensors element type, spelled as in the file header.
type DType string

// The element types of the format. F32, F16 and BF16 load as float32
// tensors; F64 as float64; the integer types as int64; BOOL as bool. The two
// 8-bit float types load as float32 but cannot be written.
const (
	BOOL    DType = "BOOL"
	U8      DType = "U8"
	I8      DType = "I8"
	F8E5M2  DType = "F8_E5M2"
	F8E4M3  DType = "F8_E4M3"
	I16     DType = "I16"
	U16     DType = "U16"
	F16     DType = "F16"
	BF16    DType = "BF16"
	I32     DType = "I32"
	U32     DType = "U32"
	F32     DType = "F32"
	F64     DType = "F64"
	I64     DType = "I64"
	U64     DType = "U64"
	unknown DType = ""
)

// rank is the position of each dtype in the Rust crate's Dtype enum, which
// lists them by increasing alignment. The writer lays tensors out by
// decreasing rank, then by name, exactly as safetensors.serialize does, so a
// file written here is byte-identical to one written by Python.
var rank = map[DType]int{
	BOOL: 0, U8: 1, I8: 2, F8E5M2: 3, F8E4M3: 4, I16: 5, U16: 6, F16: 7,
	BF16: 8, I32: 9, U32: 10, F32: 11, F64: 12, I64: 13, U64: 14,
}

// Size returns the bytes per element, or 0 for an unknown dtype.
func (d DType) Size() int {
	switch d {
	case BOOL, U8, I8, F8E5M2, F8E4M3:
		return 1
	case I16, U16, F16, BF16:
		return 2
	case I32, U32, F32:
		return 4
	case F64, I64, U64:
		return 8
	}
	return 0
}

// Valid reports whether d is one of the format's dtypes.
func (d DType) Valid() bool { _, ok := rank[d]; return ok }

// Raw is one tensor as stored: its dtype, shape and little-endian bytes,
// row-major. len(Data) is the product of Shape times DType.Size().
type Raw struct {
	DType DType
	Shape []int
	Data  []byte
}

// Decode converts r to an engine tensor: float32 for F32, F16, BF16 and the
// 8-bit floats (all exactly, every half value is a float32 value), float64
// for F64, int64 for the integer types, bool for BOOL.
func (r Raw) Decode() (*tensor.Tensor, error) {
	n, err := elems(r.Shape)
	if err != nil {
		return nil, err
	}
	if size := r.DType.Size(); size == 0 {
		return nil, fmt.Errorf("unknown dtype %q", string(r.DType))
	} else if n*size != len(r.Data) {
		return nil, fmt.Errorf("%d bytes for %d elements of %s", len(r.Data), n, r.DType)
	}
	shape := append([]int{}, r.Shape...) // non-nil: a 0-d tensor stays 0-d
	b := r.Data
	le := binary.LittleEndian
	switch r.DType {
	case F32, F16, BF16, F8E5M2, F8E4M3:
		out := make([]float32, n)
		switch r.DType {
		case F32:
			for i := range out {
				out[i] = math.Float32frombits(le.Uint32(b[4*i:]))
			}
		case F16:
			for i := range out {
				out[i] = F16ToF32(le.Uint16(b[2*i:]))
			}
		case BF16:
			for i := range out {
				out[i] = BF16ToF32(le.Uint16(b[2*i:]))
			}
		case F8E5M2:
			for i := range out {
				out[i] = F16ToF32(uint16(b[i]) << 8) // E5M2 is the top byte of a half
			}
		case F8E4M3:
			for i := range out {
				out[i] = e4m3[b[i]]
			}
		}
		return tensor.FromFloat32(out, shape...), nil
	case F64:
		out := make([]float64, n)
		for i := range out {
			out[i] = math.Float64frombits(le.Uint64(b[8*i:]))
		}
		return tensor.FromFloat64(out, shape...), nil
	case BOOL:
		out := make([]bool, n)
		for i := range out {
			out[i] = b[i] != 0
		}
		return tensor.FromBool(out, shape...), nil
	}
	out := make([]int64, n)
	for i := range out {
		switch r.DType {
		case I8:
			out[i] = int64(int8(b[i]))
		case U8:
			out[i] = int64(b[i])
		case I16:
			out[i] = int64(int16(le.Uint16(b[2*i:])))
		case U16:
			out[i] = int64(le.Uint16(b[2*i:]))
		case I32:
			out[i] = int64(int32(le.Uint32(b[4*i:])))
		case U32:
			out[i] = int64(le.Uint32(b[4*i:]))
		case I64:
			out[i] = int64(le.Uint64(b[8*i:]))
		case U64:
			v := le.Uint64(b[8*i:])
			if v > math.MaxInt64 {
				return nil, fmt.Errorf("U64 element %d is %d, past the int64 range", i, v)
			}
			out[i] = int64(v)
		}
	}
	return tensor.FromInt64(out, shape...), nil
}

// Encode converts an engine tensor to its stored form. Float tensors may be
// stored as F32, F16, BF16 or F64 (narrowing rounds to nearest even, as
// PyTorch's .half() and .bfloat16() do); int64 tensors as I64 and bool
// tensors as BOOL.
func Encode(t *tensor.Tensor, dtype DType) (Raw, error) {
	shape := t.Shape()
	n := t.NumElems()
	le := binary.LittleEndian
	r := Raw{DType: dtype, Shape: shape, Data: make([]byte, n*dtype.Size())}
	b := r.Data
	switch {
	case t.DType().IsFloat() && (dtype == F32 || dtype == F16 || dtype == BF16):
		var src []float32
		if t.DType() == tensor.Float32 {
			src = t.F32()
		} else {
			src = t.Float32s()
		}
		for i, v := range src {
			switch dtype {
			case F32:
				le.PutUint32(b[4*i:], math.Float32bits(v))
			case F16:
				le.PutUint16(b[2*i:], F32ToF16(v))
			case BF16:
				le.PutUint16(b[2*i:], F32ToBF16(v))
			}
		}
	case t.DType().IsFloat() && dtype == F64:
		for i, v := range t.Float64s() {
			le.PutUint64(b[8*i:], math.Float64bits(v))
		}
	case t.DType() == tensor.Int64 && dtype == I64:
		for i, v := range t.I64() {
			le.PutUint64(b[8*i:], uint64(v))
		}
	case t.DType() == tensor.Bool && dtype == BOOL:
		for i, v := range t.B() {
			if v {
				b[i] = 1
			}
		}
	default:
		return Raw{}, fmt.Errorf("cannot store a %v tensor as %s", t.DType(), dtype)
	}
	return r, nil
}

// elems is the element count of shape, or an error when a dim is negative or
// the product overflows.
func elems(shape []int) (int, error) {
	n := 1
	for _, d := range shape {
		if d < 0 {
			return 0, fmt.Errorf("negative dimension in shape %v", shape)
		}
		if d != 0 && n > math.MaxInt/d {
			return 0, fmt.Errorf("element count of shape %v overflows", shape)
		}
		n *= d
	}
	return n, nil
}
