package graph_test

import (
	"errors"
	"fmt"
	"testing"

	"github.com/kprune/kprune/graph"
)

// TestErrorKinds checks that the typed errors keep their message and are told apart by
// errors.Is and errors.As through fmt.Errorf wrapping.
func TestErrorKinds(t *testing.T) {
	ue := &graph.UnsupportedError{Node: "gemm_3", Op: "Gemm", Reason: `gemm node "gemm_3" has transA=1`}
	cases := []struct {
		name   string
		err    error
		is     []error // sentinels errors.Is matches
		isNot  []error
		asNode string // node of the *UnsupportedError errors.As finds ("" for none)
		text   string
	}{
		{"unsupported node", fmt.Errorf("discover: %w", ue), []error{graph.ErrUnsupportedModel}, []error{graph.ErrNotEncoder, graph.ErrFused, graph.ErrQuantized}, "gemm_3", `discover: gemm node "gemm_3" has transA=1`},
		{"unsupported model", fmt.Errorf("discover: %w: layers 0 and 1 share weights", graph.ErrUnsupportedModel), []error{graph.ErrUnsupportedModel}, []error{graph.ErrNotEncoder}, "", "discover: unsupported model: layers 0 and 1 share weights"},
		{"quantized", fmt.Errorf("%w: node %q is MatMulInteger", graph.ErrQuantized, "mm"), []error{graph.ErrQuantized}, []error{graph.ErrUnsupportedModel, graph.ErrFused}, "", `quantized model: node "mm" is MatMulInteger`},
		{"fused", fmt.Errorf("%w: node %q", graph.ErrFused, "attn"), []error{graph.ErrFused}, []error{graph.ErrUnsupportedModel, graph.ErrQuantized}, "", `onnxruntime-fused graph: node "attn"`},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if c.err.Error() != c.text {
				t.Errorf("Error() = %q, want %q", c.err, c.text)
			}
			for _, s := range c.is {
				if !errors.Is(c.err, s) {
					t.Errorf("errors.Is(err, %q) = false", s)
				}
			}
			for _, s := range c.isNot {
				if errors.Is(c.err, s) {
					t.Errorf("errors.Is(err, %q) = true", s)
				}
			}
			var got *graph.UnsupportedError
			if errors.As(c.err, &got) != (c.asNode != "") || (got != nil && got.Node != c.asNode) {
				t.Errorf("errors.As found %+v, want node %q", got, c.asNode)
			}
		})
	}
}
