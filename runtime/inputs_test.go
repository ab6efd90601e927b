package runtime_test

import (
	"context"
	"testing"

	"github.com/kprune/kprune/onnx"
	"github.com/kprune/kprune/runtime"
	"google.golang.org/protobuf/proto"
)

// TestDeclaredInputTypes: token ids and masks are int64 on the Go side; a model declaring its
// inputs int32, bool or float gets them converted, and values that do not fit are refused.
func TestDeclaredInputTypes(t *testing.T) {
	for _, elem := range []onnx.TensorProto_DataType{onnx.TensorProto_INT32, onnx.TensorProto_BOOL, onnx.TensorProto_FLOAT, onnx.TensorProto_INT64} {
		t.Run(elem.String(), func(t *testing.T) {
			m := &onnx.ModelProto{IrVersion: proto.Int64(8), OpsetImport: []*onnx.OperatorSetIdProto{{Version: proto.Int64(17)}},
				Graph: &onnx.GraphProto{
					Input:  []*onnx.ValueInfoProto{onnx.NewValueInfo("x", elem, []onnx.Dim{{Param: "b"}, {Value: 3}})},
					Output: []*onnx.ValueInfoProto{onnx.NewValueInfo("y", onnx.TensorProto_DOUBLE, nil)},
					Node:   []*onnx.NodeProto{onnx.NewNode("Cast", "c", []string{"x"}, []string{"y"}, onnx.AttrInt("to", int64(onnx.TensorProto_DOUBLE)))},
				}}
			s, err := runtime.NewSession(m, runtime.Options{})
			if err != nil {
				t.Fatal(err)
			}
			defer s.Close()
			in := []int64{0, 1, 7, 1, 0, 2}
			out, err := s.Run(context.Background(), map[string]*runtime.Tensor{"x": runtime.I64Tensor([]int64{2, 3}, in)})
			if err != nil {
				t.Fatal(err)
			}
			for i, v := range in {
				want := float64(v)
				if elem == onnx.TensorProto_BOOL && v != 0 {
					want = 1
				}
				if out[0].F64[i] != want {
					t.Fatalf("element %d: got %g, want %g", i, out[0].F64[i], want)
				}
			}
			if elem == onnx.TensorProto_INT32 {
				if _, err := s.Run(context.Background(), map[string]*runtime.Tensor{"x": runtime.I64Tensor([]int64{1, 3}, []int64{1, 1 << 40, 2})}); err == nil {
					t.Fatal("an id beyond int32 was accepted")
				}
			}
		})
	}
}
