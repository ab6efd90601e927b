package runtime

import (
	"fmt"
	"math"

	"github.com/kprune/kprune/onnx"
	ort "github.com/yalue/onnxruntime_go"
)

// Tensor is a dense Go-side tensor exchanged with onnxruntime. Exactly one of F32, F64, I64 holds
// the row-major data, according to Elem.
type Tensor struct {
	Name  string
	Elem  onnx.TensorProto_DataType
	Shape []int64
	F32   []float32
	F64   []float64
	I64   []int64
}

// F32Tensor wraps float32 data (not copied).
func F32Tensor(shape []int64, data []float32) *Tensor {
	return &Tensor{Elem: onnx.TensorProto_FLOAT, Shape: shape, F32: data}
}

// F64Tensor wraps float64 data (not copied).
func F64Tensor(shape []int64, data []float64) *Tensor {
	return &Tensor{Elem: onnx.TensorProto_DOUBLE, Shape: shape, F64: data}
}

// I64Tensor wraps int64 data (not copied).
func I64Tensor(shape []int64, data []int64) *Tensor {
	return &Tensor{Elem: onnx.TensorProto_INT64, Shape: shape, I64: data}
}

// Len returns the number of elements the shape describes.
func (t *Tensor) Len() int { return int(onnx.NumElements(t.Shape)) }

func (t *Tensor) toORT() (ort.Value, error) {
	shape := ort.NewShape(t.Shape...)
	n := t.Len()
	switch t.Elem {
	case onnx.TensorProto_FLOAT:
		if len(t.F32) != n {
			return nil, fmt.Errorf("float32 data has %d values, shape %v needs %d", len(t.F32), t.Shape, n)
		}
		return ort.NewTensor(shape, t.F32)
	case onnx.TensorProto_DOUBLE:
		if len(t.F64) != n {
			return nil, fmt.Errorf("float64 data has %d values, shape %v needs %d", len(t.F64), t.Shape, n)
		}
		return ort.NewTensor(shape, t.F64)
	case onnx.TensorProto_INT64:
		if len(t.I64) != n {
			return nil, fmt.Errorf("int64 data has %d values, shape %v needs %d", len(t.I64), t.Shape, n)
		}
		return ort.NewTensor(shape, t.I64)
	}
	return nil, fmt.Errorf("element type %s is not supported as a session input", t.Elem)
}

// toORTAs converts t for an input declared with element type want: integer data is given as
// the integer type the model declares (token ids and masks are int64 on the Go side; some
// exports declare int32, a few masks bool or float), any other type as it is.
func (t *Tensor) toORTAs(want onnx.TensorProto_DataType) (ort.Value, error) {
	if t.Elem != onnx.TensorProto_INT64 || want == onnx.TensorProto_INT64 || want == onnx.TensorProto_UNDEFINED {
		return t.toORT()
	}
	n := t.Len()
	if len(t.I64) != n {
		return nil, fmt.Errorf("int64 data has %d values, shape %v needs %d", len(t.I64), t.Shape, n)
	}
	shape := ort.NewShape(t.Shape...)
	switch want {
	case onnx.TensorProto_INT32:
		d := make([]int32, n)
		for i, v := range t.I64 {
			if v < math.MinInt32 || v > math.MaxInt32 {
				return nil, fmt.Errorf("value %d does not fit the int32 input", v)
			}
			d[i] = int32(v)
		}
		return ort.NewTensor(shape, d)
	case onnx.TensorProto_BOOL:
		d := make([]bool, n)
		for i, v := range t.I64 {
			d[i] = v != 0
		}
		return ort.NewTensor(shape, d)
	case onnx.TensorProto_FLOAT:
		d := make([]float32, n)
		for i, v := range t.I64 {
			d[i] = float32(v)
		}
		return ort.NewTensor(shape, d)
	}
	return nil, fmt.Errorf("the model declares element type %s; kprune feeds token ids and masks as int64, int32, bool or float", want)
}

// fromORT converts an output value. The binding already copied onnxruntime's buffer into Go
// memory (it releases the original value), so numeric data is taken over without another copy;
// destroying v afterwards releases only its wrapper, not the Go slice.
func fromORT(v ort.Value) (*Tensor, error) {
	shape := append([]int64{}, v.GetShape()...)
	switch x := v.(type) {
	case *ort.Tensor[float32]:
		return &Tensor{Elem: onnx.TensorProto_FLOAT, Shape: shape, F32: x.GetData()}, nil
	case *ort.Tensor[float64]:
		return &Tensor{Elem: onnx.TensorProto_DOUBLE, Shape: shape, F64: x.GetData()}, nil
	case *ort.Tensor[int64]:
		return &Tensor{Elem: onnx.TensorProto_INT64, Shape: shape, I64: x.GetData()}, nil
	case *ort.Tensor[int32]:
		d := x.GetData()
		out := make([]int64, len(d))
		for i, e := range d {
			out[i] = int64(e)
		}
		return &Tensor{Elem: onnx.TensorProto_INT64, Shape: shape, I64: out}, nil
	case *ort.Tensor[bool]:
		d := x.GetData()
		out := make([]int64, len(d))
		for i, e := range d {
			if e {
				out[i] = 1
			}
		}
		return &Tensor{Elem: onnx.TensorProto_INT64, Shape: shape, I64: out}, nil
	}
	return nil, fmt.Errorf("unsupported output value type %T", v)
}
