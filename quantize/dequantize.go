package quantize

import (
	"errors"
	"fmt"
	"strings"

	"github.com/kprune/kprune/graph"
	"github.com/kprune/kprune/onnx"
	"google.golang.org/protobuf/proto"
)

// IsQuantized tells whether m holds quantized operators (QOperator, QDQ or onnxruntime's
// quantized contrib kernels).
func IsQuantized(m *onnx.ModelProto) bool {
	for _, n := range m.GetGraph().GetNode() {
		if quantizedOps[n.GetOpType()] {
			return true
		}
	}
	return false
}

// Dequantize returns the float graph a quantized model computes: every DequantizeLinear of a
// constant becomes that constant in float, QuantizeLinear -> DequantizeLinear pairs on activations
// are removed, the dynamic pattern (DynamicQuantizeLinear, MatMulInteger, Cast, Mul by the scales)
// and onnxruntime's fused forms of it (DynamicQuantizeMatMul, MatMulIntegerToFloat) become MatMul
// with the dequantized weight, and a Gather of a quantized embedding table followed by
// DequantizeLinear becomes a Gather of the dequantized table. Tensor names are kept, so the
// result has the quantized model's inputs and outputs.
//
// The result computes the quantized model's function up to the rounding of activations; it is
// meant for reading the model's structure (package graph discovers the encoder of the result)
// and for reports. A model without quantized operators comes back as it is. Quantized operators
// other than these (QLinearMatMul, QAttention, ...) give an error naming them. m is not
// modified.
func Dequantize(m *onnx.ModelProto) (*onnx.ModelProto, error) {
	if !IsQuantized(m) {
		return m, nil
	}
	d := &dequantizer{ix: graph.NewIndex(m.GetGraph()), used: map[string]bool{}, alias: map[string]string{}, drop: map[*onnx.NodeProto]bool{}, repl: map[*onnx.NodeProto][]*onnx.NodeProto{}}
	g := m.GetGraph()
	for _, t := range g.GetInitializer() {
		d.used[t.GetName()] = true
	}
	for _, n := range g.GetNode() {
		d.used[n.GetName()] = true
		for _, o := range n.GetOutput() {
			d.used[o] = true
		}
	}
	for _, v := range g.GetInput() {
		d.used[v.GetName()] = true
	}
	outputs := map[string]bool{}
	for _, v := range g.GetOutput() {
		outputs[v.GetName()] = true
	}
	d.outputs = outputs
	for _, n := range g.GetNode() {
		var err error
		switch n.GetOpType() {
		case "DequantizeLinear":
			err = d.dequantizeLinear(n)
		case "MatMulInteger":
			err = d.matMulInteger(n)
		case "DynamicQuantizeMatMul", "MatMulIntegerToFloat":
			err = d.fusedMatMul(n)
		}
		if err != nil {
			return nil, fmt.Errorf("dequantize: node %q (%s): %w", n.GetName(), n.GetOpType(), err)
		}
	}
	nm := onnx.ShallowCopy(m)
	// The value infos and quantization annotations describe the quantized tensors: they go, and
	// so do the training infos, the graph's metadata and the fields unknown to the schema.
	nm.TrainingInfo = nil
	nm.ProtoReflect().SetUnknown(nil)
	ng := nm.Graph
	ng.ProtoReflect().SetUnknown(nil)
	ng.Node, ng.ValueInfo, ng.QuantizationAnnotation, ng.MetadataProps = nil, nil, nil, nil
	ng.Initializer = append(ng.Initializer, d.inits...)
	for _, n := range g.GetNode() {
		if r, ok := d.repl[n]; ok {
			ng.Node = append(ng.Node, r...)
			continue
		}
		if d.drop[n] {
			continue
		}
		if d.needsAlias(n) {
			n = proto.Clone(n).(*onnx.NodeProto)
			for i, in := range n.Input {
				if a, ok := d.resolve(in); ok {
					n.Input[i] = a
				}
			}
		}
		ng.Node = append(ng.Node, n)
	}
	nm = graph.RemoveDeadNodes(nm)
	for _, n := range nm.GetGraph().GetNode() {
		if quantizedOps[n.GetOpType()] {
			return nil, fmt.Errorf("dequantize: the quantized operator %s (node %q) is not one kprune turns back into float (it reads the QOperator dynamic form, QDQ and onnxruntime's DynamicQuantizeMatMul/MatMulIntegerToFloat)", n.GetOpType(), n.GetName())
		}
	}
	return nm, nil
}

type dequantizer struct {
	ix      *graph.Index
	used    map[string]bool
	outputs map[string]bool
	// alias maps a tensor to the one its consumers read instead.
	alias map[string]string
	drop  map[*onnx.NodeProto]bool
	repl  map[*onnx.NodeProto][]*onnx.NodeProto
	inits []*onnx.TensorProto
}

func (d *dequantizer) fresh(name string) string {
	n := name
	for i := 1; d.used[n]; i++ {
		n = fmt.Sprintf("%s_%d", name, i)
	}
	d.used[n] = true
	return n
}

// resolve follows aliases from t; ok is false when t has none.
func (d *dequantizer) resolve(t string) (string, bool) {
	a, ok := d.alias[t]
	if !ok {
		return t, false
	}
	for {
		b, ok := d.alias[a]
		if !ok {
			return a, true
		}
		a = b
	}
}

func (d *dequantizer) needsAlias(n *onnx.NodeProto) bool {
	for _, in := range n.GetInput() {
		if _, ok := d.alias[in]; ok {
			return true
		}
	}
	return false
}

// setAlias makes consumers of out read x; a graph output gets an Identity instead.
func (d *dequantizer) setAlias(n *onnx.NodeProto, out, x string) {
	if d.outputs[out] {
		d.repl[n] = []*onnx.NodeProto{onnx.NewNode("Identity", d.fresh(n.GetName()+"_float"), []string{x}, []string{out})}
		return
	}
	d.alias[out] = x
	d.drop[n] = true
}

// dequantized returns the values of a quantized constant with its scales and zero points as floats:
// the dequantized values (q - zp) * scale along axis.
func (d *dequantizer) dequantized(q, scale, zp string, axis int) ([]float32, []int64, error) {
	qt := d.ix.Constant(q)
	st := d.ix.Constant(scale)
	if qt == nil || st == nil {
		return nil, nil, errors.New("quantized values or scale are not constants")
	}
	qv, err := intValues(qt)
	if err != nil {
		return nil, nil, err
	}
	sv, err := onnx.Float32s(st)
	if err != nil {
		return nil, nil, err
	}
	var zv []float32
	if zp != "" {
		zt := d.ix.Constant(zp)
		if zt == nil {
			return nil, nil, errors.New("zero point is not a constant")
		}
		z, err := intValues(zt)
		if err != nil {
			return nil, nil, err
		}
		zv = z
	}
	dims := qt.GetDims()
	out := make([]float32, len(qv))
	if len(sv) == 1 {
		z := float32(0)
		if len(zv) > 0 {
			z = zv[0]
		}
		for i, v := range qv {
			out[i] = (v - z) * sv[0]
		}
		return out, dims, nil
	}
	if axis < 0 {
		axis += len(dims)
	}
	if axis < 0 || axis >= len(dims) || int64(len(sv)) != dims[axis] {
		return nil, nil, fmt.Errorf("scale of %d values does not match axis %d of %v", len(sv), axis, dims)
	}
	inner := int64(1)
	for _, dd := range dims[axis+1:] {
		inner *= dd
	}
	for i, v := range qv {
		c := (int64(i) / inner) % dims[axis]
		z := float32(0)
		if len(zv) > 0 {
			z = zv[c]
		}
		out[i] = (v - z) * sv[c]
	}
	return out, dims, nil
}

// intValues returns the values of an 8- or 32-bit integer tensor as floats.
func intValues(t *onnx.TensorProto) ([]float32, error) {
	n := int(onnx.NumElements(t.GetDims()))
	out := make([]float32, n)
	raw := t.GetRawData()
	switch onnx.TensorProto_DataType(t.GetDataType()) {
	case onnx.TensorProto_INT8, onnx.TensorProto_UINT8:
		signed := onnx.TensorProto_DataType(t.GetDataType()) == onnx.TensorProto_INT8
		if len(raw) == 0 && len(t.GetInt32Data()) == n {
			for i, v := range t.GetInt32Data() {
				out[i] = float32(v)
			}
			return out, nil
		}
		if len(raw) != n {
			return nil, fmt.Errorf("tensor %q: %d bytes for %d values", t.GetName(), len(raw), n)
		}
		for i, b := range raw {
			if signed {
				out[i] = float32(int8(b))
			} else {
				out[i] = float32(b)
			}
		}
		return out, nil
	case onnx.TensorProto_INT32:
		if len(raw) == 0 && len(t.GetInt32Data()) == n {
			for i, v := range t.GetInt32Data() {
				out[i] = float32(v)
			}
			return out, nil
		}
		if len(raw) != 4*n {
			return nil, fmt.Errorf("tensor %q: %d bytes for %d values", t.GetName(), len(raw), n)
		}
		for i := range n {
			out[i] = float32(int32(uint32(raw[4*i]) | uint32(raw[4*i+1])<<8 | uint32(raw[4*i+2])<<16 | uint32(raw[4*i+3])<<24))
		}
		return out, nil
	}
	return nil, fmt.Errorf("tensor %q is %s, not an 8- or 32-bit integer", t.GetName(), onnx.TensorProto_DataType(t.GetDataType()))
}

func (d *dequantizer) floatInit(base string, dims []int64, v []float32) string {
	name := strings.TrimSuffix(base, "_quantized")
	if name == base || d.used[name] {
		name = base + "_dequantized"
	}
	name = d.fresh(name)
	d.inits = append(d.inits, onnx.NewFloatTensor(name, dims, v))
	return name
}

func input(n *onnx.NodeProto, i int) string {
	if i < len(n.GetInput()) {
		return n.GetInput()[i]
	}
	return ""
}

func (d *dequantizer) dequantizeLinear(n *onnx.NodeProto) error {
	q, s, zp := input(n, 0), input(n, 1), input(n, 2)
	out := n.GetOutput()[0]
	axis := int(onnx.AttrIntOr(n, "axis", 1))
	if d.ix.IsConstant(q) {
		v, dims, err := d.dequantized(q, s, zp, axis)
		if err != nil {
			return err
		}
		f := d.floatInit(q, dims, v)
		d.setAlias(n, out, f)
		return nil
	}
	p := d.ix.Producer(q)
	if p == nil {
		return errors.New("dequantizes a graph input")
	}
	switch p.GetOpType() {
	case "QuantizeLinear":
		d.setAlias(n, out, input(p, 0))
		return nil
	case "Gather":
		table := input(p, 0)
		if !d.ix.IsConstant(table) {
			break
		}
		v, dims, err := d.dequantized(table, s, zp, -1)
		if err != nil {
			return err
		}
		f := d.floatInit(table, dims, v)
		gn := proto.Clone(p).(*onnx.NodeProto)
		gn.Name = proto.String(d.fresh(p.GetName() + "_float"))
		gn.Input[0] = f
		gn.Output = []string{out}
		d.repl[n] = []*onnx.NodeProto{gn}
		return nil
	}
	return fmt.Errorf("dequantizes the output of %s node %q, which kprune does not turn back into float", p.GetOpType(), p.GetName())
}

// activationOf returns the float activation a quantized activation was computed from
// (DynamicQuantizeLinear's or QuantizeLinear's input).
func (d *dequantizer) activationOf(q string) (string, error) {
	p := d.ix.Producer(q)
	if p == nil || (p.GetOpType() != "DynamicQuantizeLinear" && p.GetOpType() != "QuantizeLinear") || p.GetOutput()[0] != q {
		return "", fmt.Errorf("its input %q is not the output of DynamicQuantizeLinear or QuantizeLinear", q)
	}
	return input(p, 0), nil
}

// matMulInteger turns MatMulInteger -> Cast -> Mul(scales) into MatMul with the float weight.
func (d *dequantizer) matMulInteger(n *onnx.NodeProto) error {
	x, err := d.activationOf(input(n, 0))
	if err != nil {
		return err
	}
	cs := d.ix.Consumers(n.GetOutput()[0])
	if len(cs) != 1 || cs[0].GetOpType() != "Cast" {
		return errors.New("its output does not go to one Cast")
	}
	cast := cs[0]
	ms := d.ix.Consumers(cast.GetOutput()[0])
	if len(ms) != 1 || ms[0].GetOpType() != "Mul" {
		return errors.New("its Cast does not go to one Mul")
	}
	mul := ms[0]
	scales := input(mul, 1)
	if scales == cast.GetOutput()[0] {
		scales = input(mul, 0)
	}
	ws, err := d.weightScale(scales, n)
	if err != nil {
		return err
	}
	v, dims, err := d.dequantized(input(n, 1), ws, input(n, 3), -1)
	if err != nil {
		return err
	}
	if len(dims) != 2 {
		return fmt.Errorf("weight of rank %d", len(dims))
	}
	f := d.floatInit(input(n, 1), dims, v)
	name := strings.TrimSuffix(n.GetName(), "_quant")
	if name == n.GetName() || d.used[name] {
		name = n.GetName() + "_float"
	}
	mm := onnx.NewNode("MatMul", d.fresh(name), []string{x, f}, []string{mul.GetOutput()[0]})
	d.repl[n] = []*onnx.NodeProto{mm}
	d.drop[cast], d.drop[mul] = true, true
	return nil
}

// weightScale finds the constant weight scale in the scales tensor: a constant, or a Mul of the
// activation scale and the constant.
func (d *dequantizer) weightScale(scales string, n *onnx.NodeProto) (string, error) {
	if d.ix.IsConstant(scales) {
		return scales, nil
	}
	p := d.ix.Producer(scales)
	if p != nil && p.GetOpType() == "Mul" {
		for _, in := range p.GetInput() {
			if d.ix.IsConstant(in) {
				return in, nil
			}
		}
	}
	return "", errors.New("the weight scale is not a constant")
}

// fusedMatMul turns onnxruntime's DynamicQuantizeMatMul(A, B, b_scale, b_zp, bias) and
// MatMulIntegerToFloat(A_q, B, a_scale, b_scale, a_zp, b_zp, bias) into MatMul (+ Add).
func (d *dequantizer) fusedMatMul(n *onnx.NodeProto) error {
	var x, b, bs, bzp, bias string
	if n.GetOpType() == "DynamicQuantizeMatMul" {
		x, b, bs, bzp, bias = input(n, 0), input(n, 1), input(n, 2), input(n, 3), input(n, 4)
	} else {
		var err error
		if x, err = d.activationOf(input(n, 0)); err != nil {
			return err
		}
		b, bs, bzp, bias = input(n, 1), input(n, 3), input(n, 5), input(n, 6)
	}
	v, dims, err := d.dequantized(b, bs, bzp, -1)
	if err != nil {
		return err
	}
	f := d.floatInit(b, dims, v)
	out := n.GetOutput()[0]
	if bias == "" {
		d.repl[n] = []*onnx.NodeProto{onnx.NewNode("MatMul", d.fresh(n.GetName()+"_float"), []string{x, f}, []string{out})}
		return nil
	}
	mid := d.fresh(out + "_MatMul")
	d.repl[n] = []*onnx.NodeProto{
		onnx.NewNode("MatMul", d.fresh(n.GetName()+"_float"), []string{x, f}, []string{mid}),
		onnx.NewNode("Add", d.fresh(n.GetName()+"_bias"), []string{mid, bias}, []string{out}),
	}
	return nil
}
