package onnx_test

import (
	"testing"

	"github.com/kprune/kprune/onnx"
	"google.golang.org/protobuf/encoding/protowire"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"
)

// fullModel returns a model with every field of ModelProto and GraphProto set, and unknown fields
// on both.
func fullModel() *onnx.ModelProto {
	s := proto.String
	entry := func(k string) *onnx.StringStringEntryProto {
		return &onnx.StringStringEntryProto{Key: s(k), Value: s("v")}
	}
	g := &onnx.GraphProto{
		Node:                   []*onnx.NodeProto{onnx.NewNode("Identity", "n", []string{"x"}, []string{"y"})},
		Name:                   s("g"),
		Initializer:            []*onnx.TensorProto{{Name: s("w"), Dims: []int64{1}, FloatData: []float32{1}, DataType: proto.Int32(int32(onnx.TensorProto_FLOAT))}},
		SparseInitializer:      []*onnx.SparseTensorProto{{Dims: []int64{2}}},
		DocString:              s("graph doc"),
		Input:                  []*onnx.ValueInfoProto{onnx.NewValueInfo("x", onnx.TensorProto_FLOAT, nil)},
		Output:                 []*onnx.ValueInfoProto{onnx.NewValueInfo("y", onnx.TensorProto_FLOAT, nil)},
		ValueInfo:              []*onnx.ValueInfoProto{onnx.NewValueInfo("z", onnx.TensorProto_FLOAT, nil)},
		QuantizationAnnotation: []*onnx.TensorAnnotation{{TensorName: s("y")}},
		MetadataProps:          []*onnx.StringStringEntryProto{entry("graph")},
	}
	m := &onnx.ModelProto{
		IrVersion:       proto.Int64(8),
		OpsetImport:     []*onnx.OperatorSetIdProto{{Domain: s(""), Version: proto.Int64(17)}},
		ProducerName:    s("p"),
		ProducerVersion: s("1"),
		Domain:          s("d"),
		ModelVersion:    proto.Int64(3),
		DocString:       s("model doc"),
		Graph:           g,
		MetadataProps:   []*onnx.StringStringEntryProto{entry("model")},
		TrainingInfo:    []*onnx.TrainingInfoProto{{}},
		Functions:       []*onnx.FunctionProto{{Name: s("f")}},
	}
	unknown := protowire.AppendTag(nil, 999, protowire.VarintType)
	unknown = protowire.AppendVarint(unknown, 7)
	m.ProtoReflect().SetUnknown(unknown)
	g.ProtoReflect().SetUnknown(unknown)
	return m
}

// TestShallowCopy checks that ShallowCopy keeps every field (the copy encodes to the same bytes),
// that editing the copy's lists leaves the original alone, and that the elements are shared.
func TestShallowCopy(t *testing.T) {
	m := fullModel()
	// The test model must set every field, or a field ShallowCopy forgets could go unnoticed.
	for _, msg := range []protoreflect.Message{m.ProtoReflect(), m.GetGraph().ProtoReflect()} {
		fields := msg.Descriptor().Fields()
		for i := 0; i < fields.Len(); i++ {
			if !msg.Has(fields.Get(i)) {
				t.Fatalf("the test model does not set %s", fields.Get(i).FullName())
			}
		}
	}
	before, err := proto.MarshalOptions{Deterministic: true}.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	c := onnx.ShallowCopy(m)
	got, err := proto.MarshalOptions{Deterministic: true}.Marshal(c)
	if err != nil {
		t.Fatal(err)
	}
	if string(got) != string(before) {
		t.Fatal("the copy does not encode to the original's bytes")
	}
	if c == m || c.Graph == m.Graph {
		t.Fatal("the copy shares the model or graph struct")
	}
	if c.Graph.Initializer[0] != m.Graph.Initializer[0] || c.Graph.Node[0] != m.Graph.Node[0] {
		t.Error("the copy does not share the graph's elements")
	}
	c.Graph.Node[0] = onnx.NewNode("Relu", "r", []string{"x"}, []string{"y"})
	c.Graph.Initializer = append(c.Graph.Initializer[:0], &onnx.TensorProto{Name: proto.String("other")})
	c.Graph.Output = nil
	c.MetadataProps[0] = nil
	c.OpsetImport = append(c.OpsetImport, &onnx.OperatorSetIdProto{Domain: proto.String("x"), Version: proto.Int64(1)})
	after, err := proto.MarshalOptions{Deterministic: true}.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	if string(after) != string(before) {
		t.Error("editing the copy's lists changed the original")
	}
	if onnx.ShallowCopy(nil) != nil || onnx.ShallowCopyGraph(nil) != nil {
		t.Error("nil: want nil")
	}
	if c := onnx.ShallowCopy(&onnx.ModelProto{}); c.Graph != nil {
		t.Error("a model without a graph got one")
	}
}
