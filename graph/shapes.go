package graph

import (
	"fmt"
	"sort"

	"github.com/kprune/kprune/onnx"
)

// This file holds a small forward shape and value inference over the ops BERT-family exports
// use. It serves discovery (head counts hidden in Concat-built Reshape shapes, output ranks) and
// the value infos of Extract and AddOutputs. Dimensions are symbolic where the graph inputs say
// so (batch, seq), and small integer tensors (shapes, indices, axes) carry their values, which
// constant-folds shape-only subgraphs such as Concat(Unsqueeze(Gather(Shape(x), 0)), [12], [64]).
// It is deliberately partial: anything it cannot work out is "unknown", never an error.

// dim is one dimension of a shape, or one element of a small integer tensor: a known value, a
// symbol (a value fixed at run time, like the batch size), or unknown.
type dim struct {
	v   int64
	sym string
	ok  bool // v is known
}

func kd(v int64) dim { return dim{v: v, ok: true} }

func (d dim) known() bool { return d.ok }

func (d dim) equal(e dim) bool {
	if d.ok || e.ok {
		return d.ok && e.ok && d.v == e.v
	}
	return d.sym != "" && d.sym == e.sym
}

func (d dim) String() string {
	switch {
	case d.ok:
		return fmt.Sprint(d.v)
	case d.sym != "":
		return d.sym
	}
	return "?"
}

// tinfo is what inference knows of one tensor.
type tinfo struct {
	elem   int32 // onnx element type, 0 when unknown
	ranked bool  // shape holds the rank (and what is known of each dimension)
	shape  []dim
	vals   []dim // the elements of a small integer tensor (rank 0 or 1), nil when not tracked
}

func (t *tinfo) rank() int {
	if t == nil || !t.ranked {
		return -1
	}
	return len(t.shape)
}

// maxVals bounds the integer tensors whose values inference tracks.
const maxVals = 64

type shapeInfo map[string]*tinfo

// inferShapes runs the inference over ix's graph in topological order.
func inferShapes(ix *Index) shapeInfo {
	si := shapeInfo{}
	g := ix.Graph
	for _, t := range g.GetInitializer() {
		si[t.GetName()] = tensorInfo(t)
	}
	unk := 0
	for _, v := range g.GetInput() {
		if _, isInit := si[v.GetName()]; isInit {
			continue
		}
		ti := valueInfoToTinfo(v)
		for i := range ti.shape {
			if !ti.shape[i].ok && ti.shape[i].sym == "" {
				unk++
				ti.shape[i].sym = fmt.Sprintf("unk__%d", unk)
			}
		}
		si[v.GetName()] = ti
	}
	for _, n := range ix.Topo() {
		outs := inferNode(ix, si, n)
		for i, o := range n.GetOutput() {
			if o == "" {
				continue
			}
			var ti *tinfo
			if i < len(outs) {
				ti = outs[i]
			}
			if ti == nil || (!ti.ranked && ti.elem == 0) {
				// Fall back on what the graph declares.
				if v := ix.ValueInfo(o); v != nil {
					ti = valueInfoToTinfo(v)
				}
			}
			if ti == nil {
				ti = &tinfo{}
			}
			si[o] = ti
		}
	}
	return si
}

func tensorInfo(t *onnx.TensorProto) *tinfo {
	ti := &tinfo{elem: t.GetDataType(), ranked: true}
	for _, d := range t.GetDims() {
		ti.shape = append(ti.shape, kd(d))
	}
	if isIntType(t.GetDataType()) && len(t.GetDims()) <= 1 && onnx.NumElements(t.GetDims()) <= maxVals {
		if v, err := onnx.Int64s(t); err == nil {
			ti.vals = make([]dim, len(v))
			for i, x := range v {
				ti.vals[i] = kd(x)
			}
		}
	}
	return ti
}

func valueInfoToTinfo(v *onnx.ValueInfoProto) *tinfo {
	elem, shape, ok := onnx.ValueInfoShape(v)
	ti := &tinfo{elem: elem}
	if ok {
		ti.ranked = true
		for _, d := range shape {
			switch {
			case d.Param != "":
				ti.shape = append(ti.shape, dim{sym: d.Param})
			case d.Value > 0:
				ti.shape = append(ti.shape, kd(d.Value))
			default:
				ti.shape = append(ti.shape, dim{})
			}
		}
	}
	return ti
}

// toValueInfo renders what is known of a tensor as a value info; unknown element types become
// fallback.
func (t *tinfo) toValueInfo(name string, fallback onnx.TensorProto_DataType) *onnx.ValueInfoProto {
	elem := fallback
	if t != nil && t.elem != 0 {
		elem = onnx.TensorProto_DataType(t.elem)
	}
	if t == nil || !t.ranked {
		return onnx.NewValueInfo(name, elem, nil)
	}
	return makeValueInfo(name, elem, t.shape)
}

// makeValueInfo builds a tensor value info whose unknown dimensions carry neither a value nor a
// name (onnx.NewValueInfo would write 0 for them).
func makeValueInfo(name string, elem onnx.TensorProto_DataType, shape []dim) *onnx.ValueInfoProto {
	v := onnx.NewValueInfo(name, elem, []onnx.Dim{})
	sp := v.GetType().GetTensorType().GetShape()
	for _, d := range shape {
		pd := &onnx.TensorShapeProto_Dimension{}
		switch {
		case d.ok:
			pd.Value = &onnx.TensorShapeProto_Dimension_DimValue{DimValue: d.v}
		case d.sym != "":
			pd.Value = &onnx.TensorShapeProto_Dimension_DimParam{DimParam: d.sym}
		}
		sp.Dim = append(sp.Dim, pd)
	}
	return v
}

func isIntType(dt int32) bool {
	switch onnx.TensorProto_DataType(dt) {
	case onnx.TensorProto_INT64, onnx.TensorProto_INT32, onnx.TensorProto_INT16, onnx.TensorProto_INT8,
		onnx.TensorProto_UINT8, onnx.TensorProto_UINT16, onnx.TensorProto_UINT32, onnx.TensorProto_UINT64:
		return true
	}
	return false
}

func isFloatType(dt int32) bool {
	switch onnx.TensorProto_DataType(dt) {
	case onnx.TensorProto_FLOAT, onnx.TensorProto_DOUBLE, onnx.TensorProto_FLOAT16, onnx.TensorProto_BFLOAT16:
		return true
	}
	return false
}

// unaryOps keep their input's shape and element type.
var unaryOps = map[string]bool{
	"Identity": true, "Neg": true, "Abs": true, "Relu": true, "Erf": true, "Tanh": true, "Sigmoid": true,
	"Sqrt": true, "Exp": true, "Log": true, "Reciprocal": true, "Softmax": true, "LogSoftmax": true,
	"Gelu": true, "Floor": true, "Ceil": true, "Round": true, "Sign": true, "LeakyRelu": true, "Elu": true,
	"Softplus": true, "HardSigmoid": true, "Clip": true, "CumSum": true, "Dropout": true, "Sin": true,
	"Cos": true, "Selu": true, "Celu": true, "HardSwish": true, "Mish": true, "ThresholdedRelu": true,
	"Softsign": true, "Trilu": true,
}

// binaryOps broadcast their inputs (Where: its value inputs) numpy-style.
var binaryOps = map[string]bool{
	"Add": true, "Sub": true, "Mul": true, "Div": true, "Pow": true, "Max": true, "Min": true, "Mod": true,
	"And": true, "Or": true, "Xor": true, "Equal": true, "Less": true, "Greater": true, "LessOrEqual": true,
	"GreaterOrEqual": true, "Sum": true, "Mean": true, "PRelu": true, "BitShift": true, "Where": true,
}

// boolOps produce booleans.
var boolOps = map[string]bool{
	"And": true, "Or": true, "Xor": true, "Equal": true, "Less": true, "Greater": true, "LessOrEqual": true,
	"GreaterOrEqual": true, "Not": true, "IsNaN": true, "IsInf": true,
}

// inferNode returns the inferred info of n's outputs (entries may be nil).
func inferNode(ix *Index, si shapeInfo, n *onnx.NodeProto) []*tinfo {
	if !isDefaultDomain(n) || len(n.GetInput()) < minInputs[n.GetOpType()] || (len(n.GetInput()) > 0 && n.GetInput()[0] == "" && minInputs[n.GetOpType()] > 0) {
		return nil
	}
	in := func(i int) *tinfo {
		if i >= len(n.GetInput()) || n.GetInput()[i] == "" {
			return nil
		}
		return si[n.GetInput()[i]]
	}
	x := in(0)
	op := n.GetOpType()
	switch {
	case op == "Constant":
		if t := constantNodeValue(n); t != nil {
			return []*tinfo{tensorInfo(t)}
		}
		return nil
	case op == "Not" || op == "IsNaN" || op == "IsInf":
		if x == nil {
			return nil
		}
		return []*tinfo{{elem: int32(onnx.TensorProto_BOOL), ranked: x.ranked, shape: x.shape}}
	case op == "Cast" || op == "CastLike":
		if x == nil {
			return nil
		}
		to := int32(onnx.AttrIntOr(n, "to", 0))
		if op == "CastLike" {
			if t := in(1); t != nil {
				to = t.elem
			}
		}
		out := &tinfo{elem: to, ranked: x.ranked, shape: x.shape}
		if isIntType(to) && isIntType(x.elem) {
			out.vals = x.vals
		}
		return []*tinfo{out}
	case unaryOps[op]:
		if x == nil {
			return nil
		}
		out := &tinfo{elem: x.elem, ranked: x.ranked, shape: x.shape}
		if op == "Identity" {
			out.vals = x.vals
		}
		if op == "Neg" && x.vals != nil {
			out.vals = mapVals(x.vals, func(a int64) int64 { return -a })
		}
		res := []*tinfo{out}
		if op == "Dropout" {
			res = append(res, &tinfo{elem: int32(onnx.TensorProto_BOOL), ranked: x.ranked, shape: x.shape})
		}
		return res
	case binaryOps[op]:
		return []*tinfo{inferBroadcast(n, si)}
	}
	switch op {
	case "Shape":
		if x == nil || !x.ranked {
			return []*tinfo{{elem: int32(onnx.TensorProto_INT64), ranked: true, shape: []dim{{}}}}
		}
		r := int64(len(x.shape))
		start, end := onnx.AttrIntOr(n, "start", 0), onnx.AttrIntOr(n, "end", r)
		start, end = clampAxis(start, r), clampAxis(end, r)
		vals := []dim{}
		if start < end {
			vals = append(vals, x.shape[start:end]...)
		}
		return []*tinfo{{elem: int32(onnx.TensorProto_INT64), ranked: true, shape: []dim{kd(int64(len(vals)))}, vals: vals}}
	case "Size":
		out := &tinfo{elem: int32(onnx.TensorProto_INT64), ranked: true, shape: []dim{}}
		if x != nil && x.ranked {
			p := int64(1)
			all := true
			for _, d := range x.shape {
				if !d.ok {
					all = false
					break
				}
				p *= d.v
			}
			if all {
				out.vals = []dim{kd(p)}
			}
		}
		return []*tinfo{out}
	case "Gather":
		return []*tinfo{inferGather(n, x, in(1))}
	case "Unsqueeze", "Squeeze":
		return []*tinfo{inferSqueeze(n, op, x, in(1))}
	case "Concat":
		return []*tinfo{inferConcat(n, si)}
	case "Reshape":
		return []*tinfo{inferReshape(n, x, in(1))}
	case "Flatten":
		if x == nil || !x.ranked {
			return []*tinfo{{elem: elemOf(x), ranked: true, shape: []dim{{}, {}}}}
		}
		r := int64(len(x.shape))
		axis := onnx.AttrIntOr(n, "axis", 1)
		if axis < 0 {
			axis += r
		}
		if axis < 0 || axis > r {
			return nil
		}
		return []*tinfo{{elem: x.elem, ranked: true, shape: []dim{prodDims(x.shape[:axis]), prodDims(x.shape[axis:])}}}
	case "Transpose":
		if x == nil || !x.ranked {
			return []*tinfo{{elem: elemOf(x)}}
		}
		r := len(x.shape)
		perm := onnx.AttrIntsOr(n, "perm", nil)
		if perm == nil {
			for i := r - 1; i >= 0; i-- {
				perm = append(perm, int64(i))
			}
		}
		if len(perm) != r {
			return nil
		}
		out := &tinfo{elem: x.elem, ranked: true, shape: make([]dim, r)}
		for i, p := range perm {
			if p < 0 || int(p) >= r {
				return nil
			}
			out.shape[i] = x.shape[p]
		}
		return []*tinfo{out}
	case "MatMul":
		return []*tinfo{inferMatMul(x, in(1))}
	case "Gemm":
		a, b := x, in(1)
		out := &tinfo{elem: elemOf(a), ranked: true, shape: []dim{{}, {}}}
		if a != nil && a.ranked && len(a.shape) == 2 {
			if onnx.AttrIntOr(n, "transA", 0) != 0 {
				out.shape[0] = a.shape[1]
			} else {
				out.shape[0] = a.shape[0]
			}
		}
		if b != nil && b.ranked && len(b.shape) == 2 {
			if onnx.AttrIntOr(n, "transB", 0) != 0 {
				out.shape[1] = b.shape[0]
			} else {
				out.shape[1] = b.shape[1]
			}
		}
		return []*tinfo{out}
	case "ReduceMean", "ReduceSum", "ReduceMax", "ReduceMin", "ReduceProd", "ReduceL2", "ReduceL1",
		"ReduceLogSumExp", "ReduceSumSquare", "ArgMax", "ArgMin":
		return []*tinfo{inferReduce(n, op, x, in(1))}
	case "LayerNormalization":
		if x == nil {
			return nil
		}
		return []*tinfo{{elem: x.elem, ranked: x.ranked, shape: x.shape}}
	case "Split":
		return inferSplit(n, x, in(1))
	case "Slice":
		return []*tinfo{inferSlice(n, si)}
	case "Expand":
		return []*tinfo{inferExpand(x, in(1))}
	case "GatherElements":
		if idx := in(1); idx != nil && x != nil {
			return []*tinfo{{elem: x.elem, ranked: idx.ranked, shape: idx.shape}}
		}
		return nil
	case "ConstantOfShape":
		s := x
		out := &tinfo{elem: int32(onnx.TensorProto_FLOAT)}
		var fill *onnx.TensorProto
		if a := onnx.FindAttr(n, "value"); a != nil && a.T != nil {
			fill = a.T
			out.elem = a.T.GetDataType()
		}
		if s != nil && s.vals != nil {
			out.ranked = true
			out.shape = s.vals
			if isIntType(out.elem) && len(s.vals) <= 1 && fill != nil {
				if n1, ok := knownProduct(s.vals); ok && n1 <= maxVals {
					if fv, err := onnx.Int64s(fill); err == nil && len(fv) == 1 {
						out.vals = make([]dim, n1)
						for i := range out.vals {
							out.vals[i] = kd(fv[0])
						}
					}
				}
			}
		}
		return []*tinfo{out}
	case "Range":
		out := &tinfo{elem: elemOf(x), ranked: true, shape: []dim{{}}}
		s, l, d := in(0), in(1), in(2)
		if s != nil && l != nil && d != nil && len(s.vals) == 1 && len(l.vals) == 1 && len(d.vals) == 1 &&
			s.vals[0].ok && l.vals[0].ok && d.vals[0].ok && d.vals[0].v != 0 {
			a, b, st := s.vals[0].v, l.vals[0].v, d.vals[0].v
			cnt := (b - a + st - sign(st)) / st
			if cnt < 0 {
				cnt = 0
			}
			out.shape = []dim{kd(cnt)}
			if cnt <= maxVals {
				out.vals = make([]dim, cnt)
				for i := range out.vals {
					out.vals[i] = kd(a + int64(i)*st)
				}
			}
		}
		if s != nil && l != nil && d != nil && len(s.vals) == 1 && len(l.vals) == 1 && len(d.vals) == 1 &&
			s.vals[0].ok && s.vals[0].v == 0 && d.vals[0].ok && d.vals[0].v == 1 && l.vals[0].sym != "" {
			out.shape = []dim{l.vals[0]} // Range(0, seq, 1), as position ids are built
		}
		return []*tinfo{out}
	case "Tile":
		r := in(1)
		if x == nil || !x.ranked || r == nil || len(r.vals) != len(x.shape) {
			return []*tinfo{{elem: elemOf(x)}}
		}
		out := &tinfo{elem: x.elem, ranked: true, shape: make([]dim, len(x.shape))}
		for i, d := range x.shape {
			switch {
			case r.vals[i].ok && r.vals[i].v == 1:
				out.shape[i] = d
			case r.vals[i].ok && d.ok:
				out.shape[i] = kd(d.v * r.vals[i].v)
			}
		}
		return []*tinfo{out}
	case "NonZero":
		return []*tinfo{{elem: int32(onnx.TensorProto_INT64), ranked: x != nil && x.ranked, shape: []dim{kdIf(x), {}}}}
	}
	return nil
}

func kdIf(x *tinfo) dim {
	if x != nil && x.ranked {
		return kd(int64(len(x.shape)))
	}
	return dim{}
}

func sign(v int64) int64 {
	if v < 0 {
		return -1
	}
	return 1
}

func elemOf(t *tinfo) int32 {
	if t == nil {
		return 0
	}
	return t.elem
}

func mapVals(v []dim, f func(int64) int64) []dim {
	out := make([]dim, len(v))
	for i, d := range v {
		if d.ok {
			out[i] = kd(f(d.v))
		}
	}
	return out
}

func clampAxis(a, r int64) int64 {
	if a < 0 {
		a += r
	}
	return max(0, min(a, r))
}

func knownProduct(ds []dim) (int64, bool) {
	p := int64(1)
	for _, d := range ds {
		if !d.ok {
			return 0, false
		}
		p *= d.v
	}
	return p, true
}

// prodDims is the product of dimensions when all are known, the single dimension when there is
// one, and unknown otherwise.
func prodDims(ds []dim) dim {
	if len(ds) == 1 {
		return ds[0]
	}
	if p, ok := knownProduct(ds); ok {
		return kd(p)
	}
	return dim{}
}

func broadcastDim(a, b dim) dim {
	switch {
	case a.ok && a.v == 1:
		return b
	case b.ok && b.v == 1:
		return a
	case a.equal(b):
		return a
	case a.ok:
		return a
	case b.ok:
		return b
	case a.sym != "":
		// A symbol broadcast against an unknown dimension: in a valid graph the unknown one is
		// 1 or the same value (a symbol that is itself 1 at run time is the exception).
		return a
	}
	return b
}

func broadcastShapes(a, b []dim) []dim {
	r := max(len(a), len(b))
	out := make([]dim, r)
	for i := range r {
		var da, db dim
		ha, hb := i-(r-len(a)) >= 0, i-(r-len(b)) >= 0
		if ha {
			da = a[i-(r-len(a))]
		}
		if hb {
			db = b[i-(r-len(b))]
		}
		switch {
		case ha && hb:
			out[i] = broadcastDim(da, db)
		case ha:
			out[i] = da
		default:
			out[i] = db
		}
	}
	return out
}

func inferBroadcast(n *onnx.NodeProto, si shapeInfo) *tinfo {
	op := n.GetOpType()
	ins := n.GetInput()
	first := 0
	if op == "Where" {
		first = 1
	}
	out := &tinfo{ranked: true}
	if first < len(ins) && si[ins[first]] != nil {
		out.elem = si[ins[first]].elem
	}
	if boolOps[op] {
		out.elem = int32(onnx.TensorProto_BOOL)
	}
	var infos []*tinfo
	for _, nm := range ins {
		t := si[nm]
		if nm == "" || t == nil || !t.ranked {
			out.ranked = false
			out.shape = nil
			break
		}
		infos = append(infos, t)
		out.shape = broadcastShapes(out.shape, t.shape)
	}
	if !out.ranked || len(out.shape) > 1 {
		return out
	}
	// Values of small integer tensors.
	n1 := 1
	if len(out.shape) == 1 {
		if !out.shape[0].ok || out.shape[0].v > maxVals {
			return out
		}
		n1 = int(out.shape[0].v)
	}
	for _, t := range infos {
		if t.vals == nil {
			return out
		}
	}
	at := func(t *tinfo, i int) dim {
		if len(t.vals) == 1 {
			return t.vals[0]
		}
		if i < len(t.vals) {
			return t.vals[i]
		}
		return dim{}
	}
	vals := make([]dim, n1)
	for i := range vals {
		a := at(infos[0], i)
		var r dim
		switch op {
		case "Where":
			c := a
			if c.ok {
				if c.v != 0 {
					r = at(infos[1], i)
				} else {
					r = at(infos[2], i)
				}
			}
		default:
			if len(infos) != 2 {
				return out
			}
			b := at(infos[1], i)
			r = arith(op, a, b)
		}
		vals[i] = r
	}
	if isIntType(out.elem) || out.elem == int32(onnx.TensorProto_BOOL) {
		out.vals = vals
	}
	return out
}

func arith(op string, a, b dim) dim {
	if op == "Equal" && !a.ok && !b.ok && a.sym != "" && a.sym == b.sym {
		return kd(1)
	}
	if op == "Mul" && ((a.ok && a.v == 1 && !b.ok) || (b.ok && b.v == 1 && !a.ok)) {
		if a.ok {
			return b
		}
		return a
	}
	if !a.ok || !b.ok {
		return dim{}
	}
	x, y := a.v, b.v
	switch op {
	case "Add":
		return kd(x + y)
	case "Sub":
		return kd(x - y)
	case "Mul":
		return kd(x * y)
	case "Div":
		if y == 0 {
			return dim{}
		}
		return kd(x / y)
	case "Max":
		return kd(max(x, y))
	case "Min":
		return kd(min(x, y))
	case "Equal":
		return kd(b2i(x == y))
	case "Less":
		return kd(b2i(x < y))
	case "Greater":
		return kd(b2i(x > y))
	case "LessOrEqual":
		return kd(b2i(x <= y))
	case "GreaterOrEqual":
		return kd(b2i(x >= y))
	}
	return dim{}
}

func b2i(b bool) int64 {
	if b {
		return 1
	}
	return 0
}

func inferGather(n *onnx.NodeProto, data, idx *tinfo) *tinfo {
	if data == nil {
		return nil
	}
	out := &tinfo{elem: data.elem}
	if !data.ranked || idx == nil || !idx.ranked {
		return out
	}
	r := int64(len(data.shape))
	axis := onnx.AttrIntOr(n, "axis", 0)
	if axis < 0 {
		axis += r
	}
	if axis < 0 || axis >= r {
		return out
	}
	out.ranked = true
	out.shape = append(append(append([]dim{}, data.shape[:axis]...), idx.shape...), data.shape[axis+1:]...)
	if r == 1 && data.vals != nil && idx.vals != nil {
		vals := make([]dim, len(idx.vals))
		for i, k := range idx.vals {
			if !k.ok {
				return out
			}
			j := k.v
			if j < 0 {
				j += int64(len(data.vals))
			}
			if j < 0 || j >= int64(len(data.vals)) {
				return out
			}
			vals[i] = data.vals[j]
		}
		out.vals = vals
	}
	return out
}

// axesOf returns a node's axes from its attribute (older opsets) or its input (newer).
func axesOf(n *onnx.NodeProto, input *tinfo) ([]int64, bool) {
	if a := onnx.FindAttr(n, "axes"); a != nil {
		return a.GetInts(), true
	}
	if input == nil {
		return nil, false
	}
	if input.vals == nil {
		return nil, false
	}
	out := make([]int64, len(input.vals))
	for i, v := range input.vals {
		if !v.ok {
			return nil, false
		}
		out[i] = v.v
	}
	return out, true
}

func inferSqueeze(n *onnx.NodeProto, op string, x, axesIn *tinfo) *tinfo {
	if x == nil {
		return nil
	}
	out := &tinfo{elem: x.elem, vals: x.vals}
	if !x.ranked {
		return out
	}
	axes, ok := axesOf(n, axesIn)
	hasAxesInput := len(n.GetInput()) > 1 && n.GetInput()[1] != ""
	if !ok && (op == "Unsqueeze" || hasAxesInput) {
		return out
	}
	if op == "Unsqueeze" {
		r := int64(len(x.shape) + len(axes))
		set := map[int64]bool{}
		for _, a := range axes {
			if a < 0 {
				a += r
			}
			set[a] = true
		}
		out.shape = make([]dim, 0, r)
		j := 0
		for i := int64(0); i < r; i++ {
			if set[i] {
				out.shape = append(out.shape, kd(1))
			} else if j < len(x.shape) {
				out.shape = append(out.shape, x.shape[j])
				j++
			}
		}
		out.ranked = true
		return out
	}
	r := int64(len(x.shape))
	set := map[int64]bool{}
	for _, a := range axes {
		if a < 0 {
			a += r
		}
		set[a] = true
	}
	for i, d := range x.shape {
		if len(axes) == 0 {
			if d.ok && d.v == 1 {
				continue
			}
			if !d.ok {
				return out // cannot tell which unknown dims are 1
			}
		} else if set[int64(i)] {
			continue
		}
		out.shape = append(out.shape, d)
	}
	if out.shape == nil {
		out.shape = []dim{}
	}
	out.ranked = true
	return out
}

func inferConcat(n *onnx.NodeProto, si shapeInfo) *tinfo {
	ins := n.GetInput()
	if len(ins) == 0 {
		return nil
	}
	var first *tinfo
	for _, nm := range ins {
		if si[nm] != nil {
			first = si[nm]
			break
		}
	}
	out := &tinfo{elem: elemOf(first)}
	for _, nm := range ins {
		if t := si[nm]; t == nil || !t.ranked {
			return out
		}
	}
	r := int64(len(si[ins[0]].shape))
	axis := onnx.AttrIntOr(n, "axis", 0)
	if axis < 0 {
		axis += r
	}
	if axis < 0 || axis >= r {
		return out
	}
	out.ranked = true
	out.shape = append([]dim{}, si[ins[0]].shape...)
	total := int64(0)
	allKnown := true
	for _, nm := range ins {
		t := si[nm]
		if int64(len(t.shape)) != r {
			return &tinfo{elem: out.elem}
		}
		if t.shape[axis].ok {
			total += t.shape[axis].v
		} else {
			allKnown = false
		}
	}
	if allKnown {
		out.shape[axis] = kd(total)
	} else {
		out.shape[axis] = dim{}
	}
	if r == 1 {
		var vals []dim
		for _, nm := range ins {
			if si[nm].vals == nil {
				return out
			}
			vals = append(vals, si[nm].vals...)
		}
		out.vals = vals
	}
	return out
}

// symProd is a product of dimensions: a known coefficient times symbols.
type symProd struct {
	c    int64
	syms map[string]int
	bad  bool // an unknown dimension took part
}

func newProd(ds []dim) symProd {
	p := symProd{c: 1, syms: map[string]int{}}
	for _, d := range ds {
		p.mul(d)
	}
	return p
}

func (p *symProd) mul(d dim) {
	switch {
	case d.ok:
		p.c *= d.v
	case d.sym != "":
		p.syms[d.sym]++
	default:
		p.bad = true
	}
}

// div returns p / q as a dimension when the quotient is known or a single symbol.
func (p symProd) div(q symProd) dim {
	if p.bad || q.bad || q.c == 0 || p.c%q.c != 0 {
		return dim{}
	}
	rest := map[string]int{}
	for s, k := range p.syms {
		rest[s] = k
	}
	for s, k := range q.syms {
		if rest[s] < k {
			return dim{}
		}
		rest[s] -= k
	}
	c := p.c / q.c
	var left []string
	for s, k := range rest {
		for range k {
			left = append(left, s)
		}
	}
	switch {
	case len(left) == 0:
		return kd(c)
	case len(left) == 1 && c == 1:
		return dim{sym: left[0]}
	}
	return dim{}
}

func inferReshape(n *onnx.NodeProto, x, s *tinfo) *tinfo {
	out := &tinfo{elem: elemOf(x)}
	if x != nil {
		out.vals = x.vals
	}
	if s == nil || !s.ranked || len(s.shape) != 1 || !s.shape[0].ok {
		return out
	}
	r := int(s.shape[0].v)
	out.ranked = true
	out.shape = make([]dim, r)
	if s.vals == nil {
		return out
	}
	allowZero := onnx.AttrIntOr(n, "allowzero", 0) != 0
	minus := -1
	for i, v := range s.vals {
		switch {
		case v.ok && v.v == -1:
			minus = i
		case v.ok && v.v == 0 && !allowZero:
			if x != nil && x.ranked && i < len(x.shape) {
				out.shape[i] = x.shape[i]
			}
		default:
			out.shape[i] = v
		}
	}
	if minus >= 0 && x != nil && x.ranked {
		var others []dim
		for i, d := range out.shape {
			if i != minus {
				others = append(others, d)
			}
		}
		out.shape[minus] = newProd(x.shape).div(newProd(others))
	}
	return out
}

func inferMatMul(a, b *tinfo) *tinfo {
	out := &tinfo{elem: elemOf(a)}
	if a == nil || b == nil || !a.ranked || !b.ranked || len(a.shape) == 0 || len(b.shape) == 0 {
		return out
	}
	as, bs := a.shape, b.shape
	if len(as) == 1 {
		as = []dim{kd(1), as[0]}
	}
	if len(bs) == 1 {
		bs = []dim{bs[0], kd(1)}
	}
	batch := broadcastShapes(as[:len(as)-2], bs[:len(bs)-2])
	shape := append(batch, as[len(as)-2], bs[len(bs)-1])
	if len(a.shape) == 1 {
		shape = append(shape[:len(shape)-2], shape[len(shape)-1])
	}
	if len(b.shape) == 1 {
		shape = shape[:len(shape)-1]
	}
	out.ranked = true
	out.shape = shape
	return out
}

func inferReduce(n *onnx.NodeProto, op string, x, axesIn *tinfo) *tinfo {
	out := &tinfo{elem: elemOf(x)}
	if op == "ArgMax" || op == "ArgMin" {
		out.elem = int32(onnx.TensorProto_INT64)
	}
	if x == nil || !x.ranked {
		return out
	}
	keep := onnx.AttrIntOr(n, "keepdims", 1) != 0
	var axes []int64
	if op == "ArgMax" || op == "ArgMin" {
		axes = []int64{onnx.AttrIntOr(n, "axis", 0)}
	} else {
		a, ok := axesOf(n, axesIn)
		if !ok && len(n.GetInput()) > 1 && n.GetInput()[1] != "" {
			return out
		}
		axes = a
	}
	r := int64(len(x.shape))
	set := map[int64]bool{}
	for _, a := range axes {
		if a < 0 {
			a += r
		}
		set[a] = true
	}
	if len(axes) == 0 {
		if onnx.AttrIntOr(n, "noop_with_empty_axes", 0) != 0 {
			return &tinfo{elem: out.elem, ranked: true, shape: x.shape}
		}
		for i := range r {
			set[i] = true
		}
	}
	out.ranked = true
	out.shape = []dim{}
	for i, d := range x.shape {
		if set[int64(i)] {
			if keep {
				out.shape = append(out.shape, kd(1))
			}
			continue
		}
		out.shape = append(out.shape, d)
	}
	return out
}

func inferSplit(n *onnx.NodeProto, x, splitIn *tinfo) []*tinfo {
	nout := len(n.GetOutput())
	outs := make([]*tinfo, nout)
	for i := range outs {
		outs[i] = &tinfo{elem: elemOf(x)}
	}
	if x == nil || !x.ranked {
		return outs
	}
	r := int64(len(x.shape))
	axis := onnx.AttrIntOr(n, "axis", 0)
	if axis < 0 {
		axis += r
	}
	if axis < 0 || axis >= r {
		return outs
	}
	var sizes []dim
	if a := onnx.FindAttr(n, "split"); a != nil {
		for _, v := range a.GetInts() {
			sizes = append(sizes, kd(v))
		}
	} else if splitIn != nil && splitIn.vals != nil {
		sizes = splitIn.vals
	} else if d := x.shape[axis]; d.ok && nout > 0 {
		each := (d.v + int64(nout) - 1) / int64(nout)
		for i := range nout {
			sizes = append(sizes, kd(min(each, d.v-int64(i)*each)))
		}
	}
	for i := range outs {
		outs[i].ranked = true
		outs[i].shape = append([]dim{}, x.shape...)
		if i < len(sizes) {
			outs[i].shape[axis] = sizes[i]
		} else {
			outs[i].shape[axis] = dim{}
		}
	}
	return outs
}

func inferSlice(n *onnx.NodeProto, si shapeInfo) *tinfo {
	ins := n.GetInput()
	x := si[ins[0]]
	if x == nil {
		return nil
	}
	out := &tinfo{elem: x.elem}
	if !x.ranked {
		return out
	}
	getInts := func(i int, attr string) ([]int64, bool, bool) { // values, ok, present
		if a := onnx.FindAttr(n, attr); a != nil && len(ins) == 1 {
			return a.GetInts(), true, true
		}
		if i >= len(ins) || ins[i] == "" {
			return nil, true, false
		}
		t := si[ins[i]]
		if t == nil || t.vals == nil {
			return nil, false, true
		}
		v := make([]int64, len(t.vals))
		for k, d := range t.vals {
			if !d.ok {
				return nil, false, true
			}
			v[k] = d.v
		}
		return v, true, true
	}
	starts, ok1, _ := getInts(1, "starts")
	ends, ok2, _ := getInts(2, "ends")
	axes, ok3, hasAxes := getInts(3, "axes")
	steps, ok4, hasSteps := getInts(4, "steps")
	r := int64(len(x.shape))
	out.ranked = true
	out.shape = append([]dim{}, x.shape...)
	if !ok3 {
		for i := range out.shape {
			out.shape[i] = dim{}
		}
		return out
	}
	if !hasAxes {
		axes = nil
		for i := range starts {
			axes = append(axes, int64(i))
		}
		if !ok1 {
			for i := range out.shape {
				out.shape[i] = dim{}
			}
			return out
		}
	}
	if !ok1 || !ok2 || !ok4 || len(starts) != len(axes) || len(ends) != len(axes) {
		for _, a := range axes {
			if a < 0 {
				a += r
			}
			if a >= 0 && a < r {
				out.shape[a] = dim{}
			}
		}
		return out
	}
	if !hasSteps {
		steps = make([]int64, len(axes))
		for i := range steps {
			steps[i] = 1
		}
	}
	sliced := map[int64][3]int64{}
	for i, a := range axes {
		if a < 0 {
			a += r
		}
		if a < 0 || a >= r || steps[i] == 0 {
			return &tinfo{elem: x.elem}
		}
		d := x.shape[a]
		if !d.ok {
			// Slicing a symbolic dimension: known only for [0:INT_MAX] with step 1.
			if starts[i] == 0 && ends[i] >= 1<<31-1 && steps[i] == 1 {
				continue
			}
			out.shape[a] = dim{}
			sliced[a] = [3]int64{-1, 0, 0}
			continue
		}
		s, e, st := sliceBounds(starts[i], ends[i], steps[i], d.v)
		cnt := int64(0)
		if st > 0 && e > s {
			cnt = (e - s + st - 1) / st
		} else if st < 0 && s > e {
			cnt = (s - e - st - 1) / -st
		}
		out.shape[a] = kd(cnt)
		sliced[a] = [3]int64{s, e, st}
	}
	if r == 1 && x.vals != nil {
		b, ok := sliced[0]
		if !ok {
			out.vals = x.vals
		} else if b[0] >= 0 || b[2] != 0 {
			var vals []dim
			if b[2] > 0 {
				for i := b[0]; i < b[1]; i += b[2] {
					vals = append(vals, x.vals[i])
				}
			} else if b[2] < 0 {
				for i := b[0]; i > b[1]; i += b[2] {
					vals = append(vals, x.vals[i])
				}
			}
			if vals == nil {
				vals = []dim{}
			}
			out.vals = vals
		}
	}
	return out
}

// sliceBounds clamps ONNX Slice bounds on a dimension of size d.
func sliceBounds(s, e, st, d int64) (int64, int64, int64) {
	if s < 0 {
		s += d
	}
	if e < 0 {
		e += d
	}
	if st > 0 {
		s = max(0, min(s, d))
		e = max(0, min(e, d))
	} else {
		s = max(-1, min(s, d-1))
		e = max(-1, min(e, d-1))
	}
	return s, e, st
}

func inferExpand(x, s *tinfo) *tinfo {
	out := &tinfo{elem: elemOf(x)}
	if x == nil || !x.ranked || s == nil {
		return out
	}
	vals := s.vals
	if vals == nil {
		// The target's values are unknown but its length gives the rank.
		if s.rank() != 1 || !s.shape[0].ok {
			return out
		}
		vals = make([]dim, s.shape[0].v)
	}
	out.ranked = true
	out.shape = broadcastShapes(x.shape, vals)
	return out
}

// String renders a tinfo for error messages.
func (t *tinfo) String() string {
	if t == nil || !t.ranked {
		return "[?]"
	}
	s := "["
	for i, d := range t.shape {
		if i > 0 {
			s += ","
		}
		s += d.String()
	}
	return s + "]"
}

// sortedKeys returns m's keys sorted.
func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}
