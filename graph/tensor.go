package graph

import (
	"encoding/binary"
	"fmt"
	"math"

	"github.com/kprune/kprune/onnx"
	"google.golang.org/protobuf/proto"
)

// elemSize is the byte size of fixed-width element types, 0 for others.
func elemSize(dt int32) int {
	switch onnx.TensorProto_DataType(dt) {
	case onnx.TensorProto_FLOAT, onnx.TensorProto_INT32, onnx.TensorProto_UINT32:
		return 4
	case onnx.TensorProto_DOUBLE, onnx.TensorProto_INT64, onnx.TensorProto_UINT64, onnx.TensorProto_COMPLEX64:
		return 8
	case onnx.TensorProto_FLOAT16, onnx.TensorProto_BFLOAT16, onnx.TensorProto_INT16, onnx.TensorProto_UINT16:
		return 2
	case onnx.TensorProto_INT8, onnx.TensorProto_UINT8, onnx.TensorProto_BOOL:
		return 1
	}
	return 0
}

// rawOf returns t's data as little-endian bytes (raw_data, or the typed fields encoded).
func rawOf(t *onnx.TensorProto) ([]byte, int, error) {
	dt := t.GetDataType()
	es := elemSize(dt)
	if es == 0 {
		return nil, 0, fmt.Errorf("tensor %q: element type %s cannot be sliced", t.GetName(), onnx.DataTypeName(dt))
	}
	if t.GetDataLocation() == onnx.TensorProto_EXTERNAL {
		return nil, 0, fmt.Errorf("tensor %q: its data is in an external file that was not loaded (use onnx.Load)", t.GetName())
	}
	n := onnx.NumElements(t.GetDims())
	if t.RawData != nil {
		if int64(len(t.RawData)) != n*int64(es) {
			return nil, 0, fmt.Errorf("tensor %q: raw_data has %d bytes, want %d for dims %v", t.GetName(), len(t.RawData), n*int64(es), t.GetDims())
		}
		return t.RawData, es, nil
	}
	raw := make([]byte, n*int64(es))
	switch onnx.TensorProto_DataType(dt) {
	case onnx.TensorProto_FLOAT:
		if int64(len(t.FloatData)) != n {
			return nil, 0, fmt.Errorf("tensor %q: float_data has %d values, want %d", t.GetName(), len(t.FloatData), n)
		}
		for i, v := range t.FloatData {
			binary.LittleEndian.PutUint32(raw[4*i:], math.Float32bits(v))
		}
	case onnx.TensorProto_DOUBLE:
		if int64(len(t.DoubleData)) != n {
			return nil, 0, fmt.Errorf("tensor %q: double_data has %d values, want %d", t.GetName(), len(t.DoubleData), n)
		}
		for i, v := range t.DoubleData {
			binary.LittleEndian.PutUint64(raw[8*i:], math.Float64bits(v))
		}
	case onnx.TensorProto_INT64:
		if int64(len(t.Int64Data)) != n {
			return nil, 0, fmt.Errorf("tensor %q: int64_data has %d values, want %d", t.GetName(), len(t.Int64Data), n)
		}
		for i, v := range t.Int64Data {
			binary.LittleEndian.PutUint64(raw[8*i:], uint64(v))
		}
	default:
		if int64(len(t.Int32Data)) != n {
			return nil, 0, fmt.Errorf("tensor %q: int32_data has %d values, want %d", t.GetName(), len(t.Int32Data), n)
		}
		for i, v := range t.Int32Data {
			switch es {
			case 4:
				binary.LittleEndian.PutUint32(raw[4*i:], uint32(v))
			case 2:
				binary.LittleEndian.PutUint16(raw[2*i:], uint16(v))
			default:
				raw[i] = byte(v)
			}
		}
	}
	return raw, es, nil
}

func newRawTensor(name string, dt int32, dims []int64, raw []byte) *onnx.TensorProto {
	return &onnx.TensorProto{Name: proto.String(name), DataType: proto.Int32(dt), Dims: dims, RawData: raw}
}

// selectRows keeps the given indices of t's first axis.
func selectRows(t *onnx.TensorProto, rows []int) (*onnx.TensorProto, error) {
	dims := t.GetDims()
	if len(dims) == 0 {
		return nil, fmt.Errorf("tensor %q is a scalar; expected rows to select", t.GetName())
	}
	raw, es, err := rawOf(t)
	if err != nil {
		return nil, err
	}
	rowBytes := int(onnx.NumElements(dims[1:])) * es
	out := make([]byte, 0, len(rows)*rowBytes)
	for _, r := range rows {
		if r < 0 || int64(r) >= dims[0] {
			return nil, fmt.Errorf("tensor %q: row %d out of range [0, %d)", t.GetName(), r, dims[0])
		}
		out = append(out, raw[r*rowBytes:(r+1)*rowBytes]...)
	}
	nd := append([]int64{int64(len(rows))}, dims[1:]...)
	return newRawTensor(t.GetName(), t.GetDataType(), nd, out), nil
}

// selectCols keeps the given indices of t's last axis.
func selectCols(t *onnx.TensorProto, cols []int) (*onnx.TensorProto, error) {
	dims := t.GetDims()
	if len(dims) == 0 {
		return nil, fmt.Errorf("tensor %q is a scalar; expected columns to select", t.GetName())
	}
	raw, es, err := rawOf(t)
	if err != nil {
		return nil, err
	}
	last := int(dims[len(dims)-1])
	rows := int(onnx.NumElements(dims[:len(dims)-1]))
	out := make([]byte, rows*len(cols)*es)
	k := 0
	for r := range rows {
		base := r * last * es
		for _, c := range cols {
			if c < 0 || c >= last {
				return nil, fmt.Errorf("tensor %q: column %d out of range [0, %d)", t.GetName(), c, last)
			}
			copy(out[k:k+es], raw[base+c*es:base+(c+1)*es])
			k += es
		}
	}
	nd := append(append([]int64{}, dims[:len(dims)-1]...), int64(len(cols)))
	return newRawTensor(t.GetName(), t.GetDataType(), nd, out), nil
}

// floatTensorAs stores float32 values in a tensor of element type dt (FLOAT, DOUBLE, FLOAT16
// or BFLOAT16).
func floatTensorAs(dt int32, name string, dims []int64, v []float32) (*onnx.TensorProto, error) {
	switch onnx.TensorProto_DataType(dt) {
	case onnx.TensorProto_FLOAT:
		return onnx.NewFloatTensor(name, dims, v), nil
	case onnx.TensorProto_DOUBLE:
		f := make([]float64, len(v))
		for i, x := range v {
			f[i] = float64(x)
		}
		return onnx.NewDoubleTensor(name, dims, f), nil
	case onnx.TensorProto_FLOAT16, onnx.TensorProto_BFLOAT16:
		raw := make([]byte, 2*len(v))
		for i, x := range v {
			var h uint16
			if onnx.TensorProto_DataType(dt) == onnx.TensorProto_FLOAT16 {
				h = float32ToFloat16(x)
			} else {
				b := math.Float32bits(x)
				h = uint16((b + 0x7fff + (b>>16)&1) >> 16) // round to nearest even
			}
			binary.LittleEndian.PutUint16(raw[2*i:], h)
		}
		return newRawTensor(name, dt, append([]int64{}, dims...), raw), nil
	}
	return nil, fmt.Errorf("tensor %q: element type %s is not a floating-point type", name, onnx.DataTypeName(dt))
}

// float32ToFloat16 converts to IEEE half precision, rounding to nearest even.
func float32ToFloat16(f float32) uint16 {
	b := math.Float32bits(f)
	sign := uint16(b>>16) & 0x8000
	exp := int((b>>23)&0xff) - 127 + 15
	mant := b & 0x7fffff
	switch {
	case (b>>23)&0xff == 0xff: // inf or nan
		if mant != 0 {
			return sign | 0x7e00
		}
		return sign | 0x7c00
	case exp >= 31:
		return sign | 0x7c00
	case exp <= 0:
		if exp < -10 {
			return sign
		}
		mant |= 0x800000
		shift := uint(14 - exp)
		h := mant >> shift
		rem := mant & (1<<shift - 1)
		half := uint32(1) << (shift - 1)
		if rem > half || (rem == half && h&1 == 1) {
			h++
		}
		return sign | uint16(h)
	}
	h := uint32(exp)<<10 | mant>>13
	rem := mant & 0x1fff
	if rem > 0x1000 || (rem == 0x1000 && h&1 == 1) {
		h++
	}
	return sign | uint16(h)
}
