package onnx

import (
	"encoding/binary"
	"fmt"
	"math"
	"unsafe"

	"google.golang.org/protobuf/proto"
)

// DataTypeName returns the ONNX name of an element type, e.g. "FLOAT" or "INT64".
func DataTypeName(dt int32) string { return TensorProto_DataType(dt).String() }

// NumElements returns the product of dims (1 for a scalar).
func NumElements(dims []int64) int64 {
	n := int64(1)
	for _, d := range dims {
		n *= d
	}
	return n
}

// elemSize is the byte size of fixed-width element types, 0 for others.
func elemSize(dt int32) int {
	switch TensorProto_DataType(dt) {
	case TensorProto_FLOAT, TensorProto_INT32, TensorProto_UINT32:
		return 4
	case TensorProto_DOUBLE, TensorProto_INT64, TensorProto_UINT64, TensorProto_COMPLEX64:
		return 8
	case TensorProto_FLOAT16, TensorProto_BFLOAT16, TensorProto_INT16, TensorProto_UINT16:
		return 2
	case TensorProto_INT8, TensorProto_UINT8, TensorProto_BOOL:
		return 1
	case TensorProto_COMPLEX128:
		return 16
	}
	return 0
}

// ByteSize returns the size of the tensor's data in bytes when stored raw (0 for strings).
func ByteSize(t *TensorProto) int64 {
	return NumElements(t.GetDims()) * int64(elemSize(t.GetDataType()))
}

func checkRaw(t *TensorProto) (int, error) {
	if t.GetDataLocation() == TensorProto_EXTERNAL {
		return 0, fmt.Errorf("tensor %q: its data is in an external file that was not loaded", t.GetName())
	}
	n := int64(1)
	for _, d := range t.GetDims() {
		if d < 0 || (d > 0 && n > math.MaxInt32/d) {
			return 0, fmt.Errorf("tensor %q: invalid or too large dims %v", t.GetName(), t.GetDims())
		}
		n *= d
	}
	if t.RawData != nil {
		if want := n * int64(elemSize(t.GetDataType())); int64(len(t.RawData)) != want {
			return 0, fmt.Errorf("tensor %q: raw_data has %d bytes, want %d for dims %v of %s", t.GetName(), len(t.RawData), want, t.GetDims(), DataTypeName(t.GetDataType()))
		}
		return int(n), nil
	}
	// Typed fields: check the count before allocating anything.
	var have int
	switch TensorProto_DataType(t.GetDataType()) {
	case TensorProto_FLOAT:
		have = len(t.FloatData)
	case TensorProto_DOUBLE:
		have = len(t.DoubleData)
	case TensorProto_INT64:
		have = len(t.Int64Data)
	default:
		have = len(t.Int32Data)
	}
	if int64(have) != n {
		return 0, fmt.Errorf("tensor %q: has %d values, want %d for dims %v of %s", t.GetName(), have, n, t.GetDims(), DataTypeName(t.GetDataType()))
	}
	return int(n), nil
}

// Float32s returns the values of a FLOAT, FLOAT16, BFLOAT16 or DOUBLE tensor as float32,
// reading raw_data (little-endian) or the typed fields.
func Float32s(t *TensorProto) ([]float32, error) {
	n, err := checkRaw(t)
	if err != nil {
		return nil, err
	}
	out := make([]float32, n)
	raw := t.RawData
	switch TensorProto_DataType(t.GetDataType()) {
	case TensorProto_FLOAT:
		if raw != nil {
			for i := range out {
				out[i] = math.Float32frombits(binary.LittleEndian.Uint32(raw[4*i:]))
			}
			return out, nil
		}
		if len(t.FloatData) != n {
			return nil, fmt.Errorf("tensor %q: float_data has %d values, want %d", t.GetName(), len(t.FloatData), n)
		}
		copy(out, t.FloatData)
	case TensorProto_DOUBLE:
		if raw != nil {
			for i := range out {
				out[i] = float32(math.Float64frombits(binary.LittleEndian.Uint64(raw[8*i:])))
			}
			return out, nil
		}
		if len(t.DoubleData) != n {
			return nil, fmt.Errorf("tensor %q: double_data has %d values, want %d", t.GetName(), len(t.DoubleData), n)
		}
		for i, v := range t.DoubleData {
			out[i] = float32(v)
		}
	case TensorProto_FLOAT16, TensorProto_BFLOAT16:
		half := TensorProto_DataType(t.GetDataType()) == TensorProto_FLOAT16
		get := func(i int) uint16 {
			if raw != nil {
				return binary.LittleEndian.Uint16(raw[2*i:])
			}
			return uint16(t.Int32Data[i])
		}
		if raw == nil && len(t.Int32Data) != n {
			return nil, fmt.Errorf("tensor %q: int32_data has %d values, want %d", t.GetName(), len(t.Int32Data), n)
		}
		for i := range out {
			if half {
				out[i] = Float16ToFloat32(get(i))
			} else {
				out[i] = math.Float32frombits(uint32(get(i)) << 16)
			}
		}
	default:
		return nil, fmt.Errorf("tensor %q: element type %s is not a floating-point type", t.GetName(), DataTypeName(t.GetDataType()))
	}
	return out, nil
}

// Float64s returns the values of a floating-point tensor as float64.
func Float64s(t *TensorProto) ([]float64, error) {
	if TensorProto_DataType(t.GetDataType()) == TensorProto_DOUBLE {
		n, err := checkRaw(t)
		if err != nil {
			return nil, err
		}
		out := make([]float64, n)
		if t.RawData != nil {
			for i := range out {
				out[i] = math.Float64frombits(binary.LittleEndian.Uint64(t.RawData[8*i:]))
			}
			return out, nil
		}
		if len(t.DoubleData) != n {
			return nil, fmt.Errorf("tensor %q: double_data has %d values, want %d", t.GetName(), len(t.DoubleData), n)
		}
		copy(out, t.DoubleData)
		return out, nil
	}
	f, err := Float32s(t)
	if err != nil {
		return nil, err
	}
	out := make([]float64, len(f))
	for i, v := range f {
		out[i] = float64(v)
	}
	return out, nil
}

// Int64s returns the values of an INT64, INT32, INT16, INT8, UINT8 or BOOL tensor as int64.
func Int64s(t *TensorProto) ([]int64, error) {
	n, err := checkRaw(t)
	if err != nil {
		return nil, err
	}
	out := make([]int64, n)
	raw := t.RawData
	dt := TensorProto_DataType(t.GetDataType())
	switch dt {
	case TensorProto_INT64:
		if raw != nil {
			for i := range out {
				out[i] = int64(binary.LittleEndian.Uint64(raw[8*i:]))
			}
			return out, nil
		}
		if len(t.Int64Data) != n {
			return nil, fmt.Errorf("tensor %q: int64_data has %d values, want %d", t.GetName(), len(t.Int64Data), n)
		}
		copy(out, t.Int64Data)
	case TensorProto_INT32, TensorProto_INT16, TensorProto_INT8, TensorProto_UINT8, TensorProto_BOOL, TensorProto_UINT16:
		if raw != nil {
			for i := range out {
				switch dt {
				case TensorProto_INT32:
					out[i] = int64(int32(binary.LittleEndian.Uint32(raw[4*i:])))
				case TensorProto_INT16:
					out[i] = int64(int16(binary.LittleEndian.Uint16(raw[2*i:])))
				case TensorProto_UINT16:
					out[i] = int64(binary.LittleEndian.Uint16(raw[2*i:]))
				case TensorProto_INT8:
					out[i] = int64(int8(raw[i]))
				default:
					out[i] = int64(raw[i])
				}
			}
			return out, nil
		}
		if len(t.Int32Data) != n {
			return nil, fmt.Errorf("tensor %q: int32_data has %d values, want %d", t.GetName(), len(t.Int32Data), n)
		}
		for i, v := range t.Int32Data {
			out[i] = int64(v)
		}
	default:
		return nil, fmt.Errorf("tensor %q: element type %s is not an integer type", t.GetName(), DataTypeName(t.GetDataType()))
	}
	return out, nil
}

// Float16ToFloat32 converts IEEE 754 half-precision bits to float32.
func Float16ToFloat32(h uint16) float32 {
	sign := uint32(h>>15) << 31
	exp := uint32(h>>10) & 0x1f
	mant := uint32(h) & 0x3ff
	switch {
	case exp == 0 && mant == 0:
		return math.Float32frombits(sign)
	case exp == 0: // subnormal
		f := float32(mant) / 1024 / 16384
		if sign != 0 {
			f = -f
		}
		return f
	case exp == 31:
		return math.Float32frombits(sign | 0xff<<23 | mant<<13)
	}
	return math.Float32frombits(sign | (exp+112)<<23 | mant<<13)
}

// NewFloatTensor builds a FLOAT tensor stored in raw_data.
func NewFloatTensor(name string, dims []int64, data []float32) *TensorProto {
	raw := make([]byte, 4*len(data))
	for i, v := range data {
		binary.LittleEndian.PutUint32(raw[4*i:], math.Float32bits(v))
	}
	return &TensorProto{Name: proto.String(name), Dims: append([]int64{}, dims...), DataType: proto.Int32(int32(TensorProto_FLOAT)), RawData: raw}
}

// NewDoubleTensor builds a DOUBLE tensor stored in raw_data.
func NewDoubleTensor(name string, dims []int64, data []float64) *TensorProto {
	raw := make([]byte, 8*len(data))
	for i, v := range data {
		binary.LittleEndian.PutUint64(raw[8*i:], math.Float64bits(v))
	}
	return &TensorProto{Name: proto.String(name), Dims: append([]int64{}, dims...), DataType: proto.Int32(int32(TensorProto_DOUBLE)), RawData: raw}
}

// NewInt64Tensor builds an INT64 tensor stored in raw_data.
func NewInt64Tensor(name string, dims []int64, data []int64) *TensorProto {
	raw := make([]byte, 8*len(data))
	for i, v := range data {
		binary.LittleEndian.PutUint64(raw[8*i:], uint64(v))
	}
	return &TensorProto{Name: proto.String(name), Dims: append([]int64{}, dims...), DataType: proto.Int32(int32(TensorProto_INT64)), RawData: raw}
}

// hostLittleEndian reports whether this machine stores numbers little-endian, as raw_data does.
var hostLittleEndian = func() bool {
	x := uint16(1)
	return *(*byte)(unsafe.Pointer(&x)) == 1
}()

// Float32View returns the values of a FLOAT tensor without copying them when it can: the typed
// float_data field itself, or raw_data reinterpreted in place when it is suitably aligned and the
// machine is little-endian. Otherwise (and for other floating-point types) it returns a converted
// copy, like Float32s. copied reports which. A view aliases the tensor: callers must neither
// modify it nor the tensor while they use it.
func Float32View(t *TensorProto) (v []float32, copied bool, err error) {
	if TensorProto_DataType(t.GetDataType()) != TensorProto_FLOAT {
		v, err = Float32s(t)
		return v, true, err
	}
	return view(t, t.FloatData, Float32s)
}

// Float64View is Float32View for DOUBLE tensors.
func Float64View(t *TensorProto) (v []float64, copied bool, err error) {
	if TensorProto_DataType(t.GetDataType()) != TensorProto_DOUBLE {
		v, err = Float64s(t)
		return v, true, err
	}
	return view(t, t.DoubleData, Float64s)
}

// view returns t's values of element type E, which is t's own type: the typed field, raw_data in
// place, or (misaligned or big-endian host) the copy that convert makes.
func view[E float32 | float64](t *TensorProto, typed []E, convert func(*TensorProto) ([]E, error)) ([]E, bool, error) {
	n, err := checkRaw(t)
	if err != nil {
		return nil, false, err
	}
	if t.RawData == nil {
		return typed[:n:n], false, nil
	}
	if n == 0 {
		return []E{}, false, nil
	}
	if hostLittleEndian && uintptr(unsafe.Pointer(&t.RawData[0]))%unsafe.Sizeof(E(0)) == 0 {
		return unsafe.Slice((*E)(unsafe.Pointer(&t.RawData[0])), n), false, nil
	}
	v, err := convert(t)
	return v, true, err
}
