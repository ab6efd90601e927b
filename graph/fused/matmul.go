package fused

import (
	"fmt"

	"github.com/kprune/kprune/onnx"
)

// unfuseFusedMatMul replaces FusedMatMul(A, B) = alpha * op(A) · op(B), op transposing the last
// two axes where transA/transB say so, by Transpose nodes, MatMul and a Mul by alpha (when not 1).
// The batch-transposing forms (transBatchA, transBatchB) are refused.
func unfuseFusedMatMul(b *builder, n *onnx.NodeProto) error {
	a, err := b.need(0, "A")
	if err != nil {
		return err
	}
	bb, err := b.need(1, "B")
	if err != nil {
		return err
	}
	for _, attr := range []string{"transBatchA", "transBatchB"} {
		if v := b.attrInt(attr, 0); v != 0 {
			return fmt.Errorf("attribute %s=%d: %w", attr, v, ErrUnsupportedFused)
		}
	}
	alpha := b.attrFloat("alpha", 1)
	if err := finite("alpha", alpha); err != nil {
		return err
	}
	if b.attrInt("transA", 0) != 0 {
		if a, err = b.transposeLast2("A", a); err != nil {
			return err
		}
	}
	if b.attrInt("transB", 0) != 0 {
		if bb, err = b.transposeLast2("B", bb); err != nil {
			return err
		}
	}
	if alpha == 1 {
		b.opTo("MatMul", "MatMul", b.output(0), []string{a, bb})
		return nil
	}
	y := b.op("MatMul", "MatMul", []string{a, bb})
	b.opTo("Mul", "Mul", b.output(0), []string{y, b.scalar("alpha", alpha)})
	return nil
}

// transposeLast2 emits a Transpose swapping the last two axes of x, whose rank must be known.
func (b *builder) transposeLast2(what, x string) (string, error) {
	rank := -1
	if t := b.constant(x); t != nil {
		rank = len(t.GetDims())
	} else if i, ok := b.info(x); ok {
		rank = i.Rank
	}
	switch {
	case rank < 0:
		return "", fmt.Errorf("input %s %q is to be transposed but its rank is not known statically: %w", what, x, ErrUnsupportedFused)
	case rank < 2:
		return "", fmt.Errorf("input %s %q has rank %d and cannot be transposed: %w", what, x, rank, ErrMalformedFused)
	}
	perm := make([]int64, rank)
	for i := range perm {
		perm[i] = int64(i)
	}
	perm[rank-2], perm[rank-1] = perm[rank-1], perm[rank-2]
	return b.op("Transpose", "Transpose_"+what, []string{x}, onnx.AttrInts("perm", perm...)), nil
}
