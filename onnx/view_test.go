package onnx

import (
	"math"
	"testing"
	"unsafe"

	"google.golang.org/protobuf/proto"
)

func TestFloatViews(t *testing.T) {
	vals := []float32{1.5, -2, 3.25, 0}
	raw := NewFloatTensor("w", []int64{2, 2}, vals)
	typed := &TensorProto{Name: proto.String("t"), Dims: []int64{4}, DataType: proto.Int32(int32(TensorProto_FLOAT)), FloatData: append([]float32{}, vals...)}
	// raw_data starting one byte into a buffer: not 4-byte aligned, so it must be copied.
	buf := make([]byte, 4*len(vals)+1)
	copy(buf[1:], raw.RawData)
	odd := &TensorProto{Name: proto.String("o"), Dims: []int64{4}, DataType: proto.Int32(int32(TensorProto_FLOAT)), RawData: buf[1:]}
	half := &TensorProto{Name: proto.String("h"), Dims: []int64{2}, DataType: proto.Int32(int32(TensorProto_FLOAT16)), Int32Data: []int32{0x3c00, 0xc000}}
	cases := []struct {
		name       string
		t          *TensorProto
		want       []float32
		wantCopied bool
	}{
		{"raw, aligned", raw, vals, !hostLittleEndian},
		{"typed field", typed, vals, false},
		{"raw, misaligned", odd, vals, uintptr(unsafe.Pointer(&buf[1]))%4 != 0 || !hostLittleEndian},
		{"float16", half, []float32{1, -2}, true},
	}
	for _, c := range cases {
		v, copied, err := Float32View(c.t)
		if err != nil {
			t.Fatalf("%s: %v", c.name, err)
		}
		if copied != c.wantCopied {
			t.Errorf("%s: copied = %v, want %v", c.name, copied, c.wantCopied)
		}
		if len(v) != len(c.want) {
			t.Fatalf("%s: %d values, want %d", c.name, len(v), len(c.want))
		}
		for i := range v {
			if v[i] != c.want[i] {
				t.Errorf("%s: value %d = %g, want %g", c.name, i, v[i], c.want[i])
			}
		}
	}
	// A view aliases the tensor: a change to the tensor shows through.
	v, copied, _ := Float32View(raw)
	if !copied {
		raw.RawData[0], raw.RawData[1], raw.RawData[2], raw.RawData[3] = 0, 0, 0x80, 0x3f // 1.0
		if v[0] != 1 {
			t.Errorf("raw view did not alias raw_data: %g", v[0])
		}
	}
	// Doubles, and errors for bad sizes.
	d := NewDoubleTensor("d", []int64{3}, []float64{1, math.Pi, -1})
	dv, _, err := Float64View(d)
	if err != nil || len(dv) != 3 || dv[1] != math.Pi {
		t.Fatalf("Float64View = %v, %v", dv, err)
	}
	bad := &TensorProto{Name: proto.String("bad"), Dims: []int64{5}, DataType: proto.Int32(int32(TensorProto_FLOAT)), RawData: make([]byte, 8)}
	if _, _, err := Float32View(bad); err == nil {
		t.Error("a raw_data of the wrong size was accepted")
	}
}
