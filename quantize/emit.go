package quantize

import (
	"fmt"
	"strconv"

	"github.com/kprune/kprune/graph"
	"github.com/kprune/kprune/onnx"
	"google.golang.org/protobuf/proto"
)

// emitter rebuilds a plan's graph with its nodes quantized. Unchanged nodes are shared with the
// plan's model (as package graph does: never modify either model in place).
type emitter struct {
	p     *plan
	opts  Options
	used  map[string]bool // tensor and node names taken
	nodes []*onnx.NodeProto
	inits []*onnx.TensorProto
	// weights maps a weight name to its quantized tensors (quantized, scale, zero point).
	weights map[string][3]string
	// acts maps an activation to its quantized form (quantized tensor, scale, zero point) for
	// dynamic mode, or (dequantized tensor) for static mode.
	acts map[string][3]string
	// tables maps an embedding table to its quantized tensors.
	tables map[string][3]string
	// qbytes counts the bytes of the quantized weights with their scales and zero points.
	qbytes int64
}

func newEmitter(p *plan, opts Options) *emitter {
	e := &emitter{p: p, opts: opts, used: map[string]bool{}, weights: map[string][3]string{},
		acts: map[string][3]string{}, tables: map[string][3]string{}}
	g := p.m.GetGraph()
	for _, t := range g.GetInitializer() {
		e.used[t.GetName()] = true
	}
	for _, v := range g.GetInput() {
		e.used[v.GetName()] = true
	}
	for _, n := range g.GetNode() {
		e.used[n.GetName()] = true
		for _, o := range n.GetOutput() {
			e.used[o] = true
		}
	}
	return e
}

// fresh returns name, or name with a numeric suffix when it is taken, and marks it taken.
func (e *emitter) fresh(name string) string {
	n := name
	for i := 1; e.used[n]; i++ {
		n = name + "_" + strconv.Itoa(i)
	}
	e.used[n] = true
	return n
}

func (e *emitter) add(n *onnx.NodeProto) { e.nodes = append(e.nodes, n) }

// node adds a node with a fresh name; it returns the node.
func (e *emitter) node(op, name string, in, out []string, attrs ...*onnx.AttributeProto) *onnx.NodeProto {
	n := onnx.NewNode(op, e.fresh(name), in, out, attrs...)
	e.add(n)
	return n
}

func (e *emitter) init(t *onnx.TensorProto) {
	e.inits = append(e.inits, t)
	e.qbytes += int64(len(t.GetRawData()))
}

// scalarOrVector returns dims [] for one value (per tensor), [n] otherwise.
func scalarOrVector(n int) []int64 {
	if n == 1 {
		return []int64{}
	}
	return []int64{int64(n)}
}

// quantizedWeight quantizes l's weight once and returns the names of the int8 weight, its scale
// and its zero point.
func (e *emitter) quantizedWeight(l *linear) [3]string {
	if q, ok := e.weights[l.wName]; ok {
		return q
	}
	wq := quantizeWeight(l.w, l.k, l.n, e.opts.PerChannel, e.opts.ReduceRange)
	q := [3]string{e.fresh(l.wName + "_quantized"), e.fresh(l.wName + "_scale"), e.fresh(l.wName + "_zero_point")}
	raw := make([]byte, len(wq.q))
	for i, v := range wq.q {
		raw[i] = byte(v)
	}
	e.init(&onnx.TensorProto{Name: proto.String(q[0]), DataType: proto.Int32(int32(onnx.TensorProto_INT8)), Dims: []int64{int64(l.k), int64(l.n)}, RawData: raw})
	e.init(floatTensor(q[1], scalarOrVector(len(wq.scales)), wq.scales))
	e.init(&onnx.TensorProto{Name: proto.String(q[2]), DataType: proto.Int32(int32(onnx.TensorProto_INT8)), Dims: scalarOrVector(len(wq.scales)), RawData: make([]byte, len(wq.scales))})
	e.weights[l.wName] = q
	return q
}

// floatTensor builds a float32 tensor stored as raw little-endian bytes.
func floatTensor(name string, dims []int64, v []float32) *onnx.TensorProto {
	t := onnx.NewFloatTensor(name, dims, v)
	return t
}

// matmulOf returns the name and output of the MatMul that l computes: the node itself, or for a
// Gemm the MatMul half of the MatMul + Add it is rewritten to (named as quantize_dynamic names
// them).
func (e *emitter) matmulOf(l *linear) (name, out string) {
	if !l.gemm {
		return l.node.GetName(), l.y
	}
	out = l.y
	if l.bias != "" {
		out = e.fresh(l.y + "_MatMul")
	}
	return l.node.GetName() + "_MatMul", out
}

// gemmBias adds the Add of a rewritten Gemm's bias.
func (e *emitter) gemmBias(l *linear, mmOut string) {
	if l.gemm && l.bias != "" {
		e.node("Add", l.node.GetName()+"_Add", []string{mmOut, l.bias}, []string{l.y})
	}
}

// quantizedTable quantizes an embedding table once to uint8 (asymmetric, per tensor).
func (e *emitter) quantizedTable(gt *gatherTable) ([3]string, error) {
	if q, ok := e.tables[gt.table]; ok {
		return q, nil
	}
	v, err := onnx.Float32s(gt.t)
	if err != nil {
		return [3]string{}, fmt.Errorf("embedding table %q: %w", gt.table, err)
	}
	lo, hi := minMax(v)
	s, zp := asymmetricParams(lo, hi)
	raw := make([]byte, len(v))
	quantizeUint8(raw, v, s, zp)
	q := [3]string{e.fresh(gt.table + "_quantized"), e.fresh(gt.table + "_scale"), e.fresh(gt.table + "_zero_point")}
	e.init(&onnx.TensorProto{Name: proto.String(q[0]), DataType: proto.Int32(int32(onnx.TensorProto_UINT8)), Dims: append([]int64(nil), gt.t.GetDims()...), RawData: raw})
	e.init(floatTensor(q[1], []int64{}, []float32{s}))
	e.init(&onnx.TensorProto{Name: proto.String(q[2]), DataType: proto.Int32(int32(onnx.TensorProto_UINT8)), Dims: []int64{}, RawData: []byte{zp}})
	e.tables[gt.table] = q
	return q, nil
}

// gather writes an embedding Gather on the uint8 table followed by a DequantizeLinear, as
// quantize_dynamic does.
func (e *emitter) gather(gt *gatherTable) error {
	q, err := e.quantizedTable(gt)
	if err != nil {
		return err
	}
	n := proto.Clone(gt.node).(*onnx.NodeProto)
	out := n.GetOutput()[0]
	qout := e.fresh(out + "_quantized")
	n.Input[0] = q[0]
	n.Output[0] = qout
	e.add(n)
	e.node("DequantizeLinear", out+"_DequantizeLinear", []string{qout, q[1], q[2]}, []string{out})
	return nil
}

// finish assembles the quantized model: the plan's graph with the emitted nodes and the new
// initializers, without what nobody reads any more (the float weights).
func (e *emitter) finish(producer string) *onnx.ModelProto {
	nm := onnx.ShallowCopy(e.p.m)
	// Fields unknown to the schema may describe the float tensors: the quantized model drops them.
	nm.ProtoReflect().SetUnknown(nil)
	nm.Graph.ProtoReflect().SetUnknown(nil)
	nm.Graph.Node = e.nodes
	nm.Graph.Initializer = append(nm.Graph.Initializer, e.inits...)
	nm.MetadataProps = append(nm.MetadataProps, &onnx.StringStringEntryProto{Key: proto.String("kprune.quantize"), Value: proto.String(producer)})
	return graph.RemoveDeadNodes(nm)
}

// rewrite emits p's graph in order: each linear to quantize through quantizeLinear (the dynamic
// or static form), each embedding table to quantize through gather, every other node as it is.
func (e *emitter) rewrite(p *plan, quantizeLinear func(*linear)) error {
	lin := map[*onnx.NodeProto]*linear{}
	for _, l := range p.linears {
		lin[l.node] = l
	}
	gat := map[*onnx.NodeProto]*gatherTable{}
	for _, g := range p.gathers {
		gat[g.node] = g
	}
	for _, n := range p.m.GetGraph().GetNode() {
		if l := lin[n]; l != nil {
			quantizeLinear(l)
			continue
		}
		if g := gat[n]; g != nil {
			if err := e.gather(g); err != nil {
				return err
			}
			continue
		}
		e.add(n)
	}
	return nil
}
