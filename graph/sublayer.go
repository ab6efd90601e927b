package graph

import (
	"fmt"

	"github.com/kprune/kprune/onnx"
)

// This file holds what attention and feed-forward sublayers share: the sublayer a rewrite works
// on, dispatching on its kind, and the output projection closing it.

// sublayer is what a rewrite needs to know about one present sublayer.
type sublayer struct {
	kind   SublayerKind
	x, y   string          // residual input, sublayer output (the residual Add's other input)
	add    *onnx.NodeProto // the residual Add producing PreLN
	outLin linear          // O or W2
	inLins []linear        // Q, K, V or W1
	width  int             // H*d_h or N
	unit   int             // d_h for MHA, 1 for FFN
	// heads are the Reshapes splitting Q, K, V into heads: [b, s, H, d_h], heads at index 2.
	headReshapes []*onnx.NodeProto
	// widthReshapes are Reshapes on the sublayer's inner paths whose last entry is the width.
	widthReshapes []*onnx.NodeProto
	// scoreTerms are per-head tensors added to the attention scores (a relative position bias
	// [b, H, s, s]): pruning heads gathers their kept heads.
	scoreTerms []scoreTerm
	// consumer is the node reading Context/Act on the way to the output projection.
	consumer *onnx.NodeProto
	inner    string // Context or Act
	mha      *MHA
	ffn      *FFN
}

// parseSublayer recognises the sublayer closed by the residual Add `add` = x + y and LayerNorm ln.
func (d *disc) parseSublayer(kind SublayerKind, x, y string, add *onnx.NodeProto, ln *lnMatch) (*sublayer, error) {
	var sub *sublayer
	var err error
	if kind == KindMHA {
		sub, err = d.parseMHA(x, y)
		if err != nil {
			if _, ferr := d.parseFFN(x, y); ferr == nil {
				return nil, fmt.Errorf("expected the attention sublayer before LayerNorm %s, found a feed-forward sublayer", d.lnName(ln))
			}
			return nil, fmt.Errorf("attention sublayer closed by LayerNorm %s: %w", d.lnName(ln), err)
		}
		sub.mha.PreLN, sub.mha.LN = ln.Input, ln.LayerNorm
	} else {
		sub, err = d.parseFFN(x, y)
		if err != nil {
			if _, merr := d.parseMHA(x, y); merr == nil {
				return nil, fmt.Errorf("expected the feed-forward sublayer before LayerNorm %s, found an attention sublayer", d.lnName(ln))
			}
			return nil, fmt.Errorf("feed-forward sublayer closed by LayerNorm %s: %w", d.lnName(ln), err)
		}
		sub.ffn.PreLN, sub.ffn.LN = ln.Input, ln.LayerNorm
	}
	sub.add = add
	return sub, nil
}

// transparent ops pass a tensor on unchanged (in eval mode).
func isTransparent(n *onnx.NodeProto) bool {
	switch n.GetOpType() {
	case "Identity", "Dropout", "Cast":
		return true
	}
	return false
}

// outputProjection recognises the output projection producing sub.y (W_O or W_2), records it
// and the node that consumes its input (the projection, a flattening Reshape, or an inserted mask
// Mul), and returns the unmasked projection input (the attention context or FFN activation).
func (d *disc) outputProjection(sub *sublayer, what string) (string, error) {
	lin, err := d.parseLinear(d.unReshape(sub.y))
	if err != nil {
		return "", fmt.Errorf("%s: %w", what, err)
	}
	lin.Output = sub.y
	sub.outLin = lin
	in := lin.Input
	if lin.flatten != nil {
		sub.consumer = lin.flatten
		sub.widthReshapes = append(sub.widthReshapes, lin.flatten)
	} else {
		sub.consumer = lin.node
	}
	if u, mul := d.unmask(in); mul != nil {
		in, sub.consumer = u, mul
	}
	sub.inner = in
	return in, nil
}

// unmask looks through a mask multiplication Mul(t, mask) with mask a graph input (as
// InsertMasks adds); it returns t and the Mul, or the tensor itself and nil.
func (d *disc) unmask(t string) (string, *onnx.NodeProto) {
	p := d.ix.Producer(t)
	if p == nil || p.GetOpType() != "Mul" || !isDefaultDomain(p) || len(p.GetInput()) != 2 {
		return t, nil
	}
	a, b := p.GetInput()[0], p.GetInput()[1]
	switch {
	case d.ix.IsInput(b) && !d.ix.IsInput(a) && !d.ix.IsConstant(a):
		return a, p
	case d.ix.IsInput(a) && !d.ix.IsInput(b) && !d.ix.IsConstant(b):
		return b, p
	}
	return t, nil
}

// skipTransparent follows Identity/Dropout/Cast producers back.
func (d *disc) skipTransparent(t string) string {
	for range 16 {
		p := d.ix.Producer(t)
		if p == nil || !isTransparent(p) {
			return t
		}
		t = p.GetInput()[0]
	}
	return t
}
