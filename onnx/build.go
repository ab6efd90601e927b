package onnx

import (
	"fmt"

	"google.golang.org/protobuf/proto"
)

// NewNode builds a node of the default domain.
func NewNode(op, name string, inputs, outputs []string, attrs ...*AttributeProto) *NodeProto {
	return &NodeProto{OpType: proto.String(op), Name: proto.String(name), Input: inputs, Output: outputs, Attribute: attrs}
}

// AttrInt builds an INT attribute.
func AttrInt(name string, v int64) *AttributeProto {
	return &AttributeProto{Name: proto.String(name), Type: AttributeProto_INT.Enum(), I: proto.Int64(v)}
}

// AttrInts builds an INTS attribute.
func AttrInts(name string, v ...int64) *AttributeProto {
	return &AttributeProto{Name: proto.String(name), Type: AttributeProto_INTS.Enum(), Ints: v}
}

// AttrFloat builds a FLOAT attribute.
func AttrFloat(name string, v float32) *AttributeProto {
	return &AttributeProto{Name: proto.String(name), Type: AttributeProto_FLOAT.Enum(), F: proto.Float32(v)}
}

// AttrString builds a STRING attribute.
func AttrString(name, v string) *AttributeProto {
	return &AttributeProto{Name: proto.String(name), Type: AttributeProto_STRING.Enum(), S: []byte(v)}
}

// AttrTensor builds a TENSOR attribute.
func AttrTensor(name string, t *TensorProto) *AttributeProto {
	return &AttributeProto{Name: proto.String(name), Type: AttributeProto_TENSOR.Enum(), T: t}
}

// FindAttr returns the attribute called name on n, or nil.
func FindAttr(n *NodeProto, name string) *AttributeProto {
	for _, a := range n.GetAttribute() {
		if a.GetName() == name {
			return a
		}
	}
	return nil
}

// AttrIntOr returns the INT attribute name of n, or def when absent.
func AttrIntOr(n *NodeProto, name string, def int64) int64 {
	if a := FindAttr(n, name); a != nil {
		return a.GetI()
	}
	return def
}

// AttrFloatOr returns the FLOAT attribute name of n, or def when absent.
func AttrFloatOr(n *NodeProto, name string, def float32) float32 {
	if a := FindAttr(n, name); a != nil {
		return a.GetF()
	}
	return def
}

// AttrIntsOr returns the INTS attribute name of n, or def when absent.
func AttrIntsOr(n *NodeProto, name string, def []int64) []int64 {
	if a := FindAttr(n, name); a != nil {
		return a.GetInts()
	}
	return def
}

// Dim is one dimension of a value-info shape: a fixed size, or a symbolic name when Param is set.
type Dim struct {
	Value int64
	Param string
}

// NewValueInfo builds a tensor value info with the given element type and shape. A nil shape
// means "rank unknown".
func NewValueInfo(name string, elem TensorProto_DataType, shape []Dim) *ValueInfoProto {
	tt := &TypeProto_Tensor{ElemType: proto.Int32(int32(elem))}
	if shape != nil {
		sp := &TensorShapeProto{Dim: []*TensorShapeProto_Dimension{}}
		for _, d := range shape {
			if d.Param != "" {
				sp.Dim = append(sp.Dim, &TensorShapeProto_Dimension{Value: &TensorShapeProto_Dimension_DimParam{DimParam: d.Param}})
			} else {
				sp.Dim = append(sp.Dim, &TensorShapeProto_Dimension{Value: &TensorShapeProto_Dimension_DimValue{DimValue: d.Value}})
			}
		}
		tt.Shape = sp
	}
	return &ValueInfoProto{Name: proto.String(name), Type: &TypeProto{Value: &TypeProto_TensorType{TensorType: tt}}}
}

// ValueInfoShape returns the element type and shape of a tensor value info; ok is false when
// it is not a tensor or has no shape.
func ValueInfoShape(v *ValueInfoProto) (elem int32, shape []Dim, ok bool) {
	tt := v.GetType().GetTensorType()
	if tt == nil {
		return 0, nil, false
	}
	if tt.Shape == nil {
		return tt.GetElemType(), nil, false
	}
	for _, d := range tt.GetShape().GetDim() {
		shape = append(shape, Dim{Value: d.GetDimValue(), Param: d.GetDimParam()})
	}
	return tt.GetElemType(), shape, true
}

// FormatShape renders a shape like [batch,seq,128]; "?" for unknown dims.
func FormatShape(shape []Dim) string {
	s := "["
	for i, d := range shape {
		if i > 0 {
			s += ","
		}
		switch {
		case d.Param != "":
			s += d.Param
		case d.Value > 0:
			s += fmt.Sprint(d.Value)
		default:
			s += "?"
		}
	}
	return s + "]"
}
