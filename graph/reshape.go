package graph

import "github.com/kprune/kprune/onnx"

// adaptiveReshape tells whether Reshape node r computes its target shape from tensor shapes at
// run time with no literal width in it: every constant piece of the shape is -1 or 0, the rest
// comes from Shape nodes (sliced, gathered, concatenated, multiplied). torch's dynamo exporter
// writes the K^T of scaled_dot_product_attention and the head merge that way
// (Reshape(x, Concat(Shape(x)[:-2], [-1]))). Such a Reshape follows its input when heads or
// neurons are removed, so discovery does not count heads from it and rewrites leave it alone.
func (d *disc) adaptiveReshape(r *onnx.NodeProto) bool {
	if r.GetOpType() != "Reshape" || len(r.GetInput()) < 2 || d.ix.IsConstant(r.GetInput()[1]) {
		return false
	}
	shapes := false
	seen := map[string]bool{}
	refused := VisitTensors([]string{r.GetInput()[1]}, seen, func(t string) ([]string, bool) {
		if len(seen) > 64 {
			return nil, true
		}
		if c := d.ix.Constant(t); c != nil {
			v, err := onnx.Int64s(c)
			if err != nil {
				return nil, true
			}
			for _, x := range v {
				if x != -1 && x != 0 {
					return nil, true
				}
			}
			return nil, false
		}
		p := d.ix.Producer(t)
		if p == nil || !isDefaultDomain(p) || len(p.GetInput()) == 0 {
			return nil, true
		}
		switch p.GetOpType() {
		case "Shape":
			shapes = true
			return nil, false
		case "Slice", "Gather", "Unsqueeze", "Squeeze", "Cast", "Identity":
			// Only the data input is a piece of the shape; indices and axes are not.
			return p.GetInput()[:1], false
		case "Concat", "Mul", "Div", "Max", "Min":
			return p.GetInput(), false
		}
		return nil, true
	})
	return shapes && !refused
}
