package runtime

import (
	"fmt"

	"github.com/kprune/kprune/onnx"
)

// minSharedBytes is the smallest initializer that SharedWeights hands over by reference: weight
// matrices, embedding tables and wide biases. Smaller constants (scalars, LayerNorm epsilons,
// shapes) stay initializers so that onnxruntime can still fold and fuse around them.
const minSharedBytes = 16 << 10

// shareWeights returns a shallow copy of m in which every floating-point initializer of at least
// minSharedBytes is a graph input instead, and the Go tensors that feed those inputs. The tensors
// alias m's own memory where possible (see onnx.Float32View), so onnxruntime and Go share one copy.
func shareWeights(m *onnx.ModelProto) (*onnx.ModelProto, []*Tensor, error) {
	g := m.GetGraph()
	declared := map[string]bool{}
	for _, v := range g.GetInput() {
		declared[v.GetName()] = true
	}
	ng := &onnx.GraphProto{
		Node: g.Node, Name: g.Name, SparseInitializer: g.SparseInitializer, DocString: g.DocString,
		Input: append([]*onnx.ValueInfoProto(nil), g.Input...), Output: g.Output, ValueInfo: g.ValueInfo,
	}
	var shared []*Tensor
	for _, t := range g.GetInitializer() {
		dt := onnx.TensorProto_DataType(t.GetDataType())
		if (dt != onnx.TensorProto_FLOAT && dt != onnx.TensorProto_DOUBLE) || onnx.ByteSize(t) < minSharedBytes ||
			t.GetDataLocation() == onnx.TensorProto_EXTERNAL {
			ng.Initializer = append(ng.Initializer, t)
			continue
		}
		x := &Tensor{Name: t.GetName(), Elem: dt, Shape: append([]int64{}, t.GetDims()...)}
		var err error
		if dt == onnx.TensorProto_FLOAT {
			x.F32, _, err = onnx.Float32View(t)
		} else {
			x.F64, _, err = onnx.Float64View(t)
		}
		if err != nil {
			return nil, nil, fmt.Errorf("sharing initializer %q: %w", t.GetName(), err)
		}
		shared = append(shared, x)
		if !declared[t.GetName()] {
			dims := make([]onnx.Dim, len(x.Shape))
			for i, d := range x.Shape {
				dims[i] = onnx.Dim{Value: d}
			}
			ng.Input = append(ng.Input, onnx.NewValueInfo(t.GetName(), dt, dims))
		}
	}
	nm := &onnx.ModelProto{
		IrVersion: m.IrVersion, OpsetImport: m.OpsetImport, ProducerName: m.ProducerName,
		ProducerVersion: m.ProducerVersion, Domain: m.Domain, ModelVersion: m.ModelVersion,
		Graph: ng, Functions: m.Functions,
	}
	return nm, shared, nil
}
