package runtime_test

import (
	"context"
	"fmt"
	"math"
	"strings"
	"testing"

	"github.com/kprune/kprune/internal/testmodel"
	"github.com/kprune/kprune/onnx"
	"github.com/kprune/kprune/runtime"
)

// TestSharedWeights checks that a session fed its weights by reference computes what a normal
// session computes, for float32 and float64 models, MatMul and Gemm linears, with and without
// extra outputs and the arena, and that the weights are not among the inputs callers must feed.
func TestSharedWeights(t *testing.T) {
	cases := []struct {
		cfg  testmodel.Config
		opts runtime.Options
	}{
		{testmodel.Config{Layers: 2, Heads: 4, HeadDim: 16, FFN: 256, Vocab: 300, Seed: 3}, runtime.Options{}},
		{testmodel.Config{Layers: 2, Heads: 4, HeadDim: 16, FFN: 256, Vocab: 300, Gemm: true, Opset: 17, Seed: 4}, runtime.Options{NoArena: true}},
		{testmodel.Config{Layers: 1, Heads: 2, HeadDim: 32, FFN: 128, Vocab: 200, DType: onnx.TensorProto_DOUBLE, Seed: 5}, runtime.Options{}},
	}
	for i, c := range cases {
		t.Run(fmt.Sprint(i), func(t *testing.T) {
			m, err := testmodel.Build(c.cfg)
			if err != nil {
				t.Fatal(err)
			}
			before, err := onnx.Encode(m)
			if err != nil {
				t.Fatal(err)
			}
			opts := c.opts
			plain, err := runtime.NewSession(m, opts)
			if err != nil {
				t.Fatal(err)
			}
			defer plain.Close()
			opts.SharedWeights = true
			shared, err := runtime.NewSession(m, opts)
			if err != nil {
				t.Fatal(err)
			}
			defer shared.Close()
			if plain.SharedBytes() != 0 || shared.SharedBytes() < int64(len(before))/2 {
				t.Fatalf("shared bytes: plain %d, shared %d of a %d-byte model", plain.SharedBytes(), shared.SharedBytes(), len(before))
			}
			if len(shared.Inputs()) != len(plain.Inputs()) {
				t.Fatalf("shared session asks for %d inputs, plain for %d: %v", len(shared.Inputs()), len(plain.Inputs()), shared.Inputs())
			}
			for run := 0; run < 2; run++ { // the bound weights must survive a run
				in := testmodel.Inputs(c.cfg, 3, 9, uint64(run))
				a, err := plain.Run(context.Background(), in)
				if err != nil {
					t.Fatal(err)
				}
				b, err := shared.Run(context.Background(), in)
				if err != nil {
					t.Fatal(err)
				}
				for k := range a {
					x, y := a[k].F32, b[k].F32
					if a[k].Elem == onnx.TensorProto_DOUBLE {
						x, y = toF32(a[k].F64), toF32(b[k].F64)
					}
					if len(x) == 0 || len(x) != len(y) {
						t.Fatalf("output %s: %d vs %d values", a[k].Name, len(x), len(y))
					}
					for j := range x {
						if math.Abs(float64(x[j]-y[j])) > 1e-4*(1+math.Abs(float64(x[j]))) {
							t.Fatalf("output %s[%d]: shared weights give %g, plain %g", a[k].Name, j, y[j], x[j])
						}
					}
				}
			}
			after, _ := onnx.Encode(m)
			if string(before) != string(after) {
				t.Fatal("NewSession with SharedWeights modified the model")
			}
		})
	}
}

func toF32(v []float64) []float32 {
	out := make([]float32, len(v))
	for i, x := range v {
		out[i] = float32(x)
	}
	return out
}

// TestRunInto checks that outputs written into caller-owned buffers equal the allocated ones, that
// the buffers are reused as given, and that a buffer of the wrong shape is an error naming it.
func TestRunInto(t *testing.T) {
	cfg := testmodel.Config{Layers: 1, Heads: 2, HeadDim: 8, FFN: 32, Vocab: 50, Seed: 9}
	m, err := testmodel.Build(cfg)
	if err != nil {
		t.Fatal(err)
	}
	s, err := runtime.NewSession(m, runtime.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	name := s.Outputs()[0].Name
	buf := runtime.F32Tensor([]int64{3, 2}, make([]float32, 6))
	for run := 0; run < 2; run++ {
		in := testmodel.Inputs(cfg, 3, 5, uint64(run))
		want, err := s.Run(context.Background(), in)
		if err != nil {
			t.Fatal(err)
		}
		got, err := s.RunInto(context.Background(), in, map[string]*runtime.Tensor{name: buf})
		if err != nil {
			t.Fatal(err)
		}
		if got[0] != buf {
			t.Fatal("RunInto did not return the given buffer")
		}
		for i := range want[0].F32 {
			if want[0].F32[i] != buf.F32[i] {
				t.Fatalf("run %d: buffer[%d] = %g, Run gives %g", run, i, buf.F32[i], want[0].F32[i])
			}
		}
	}
	bad := runtime.F32Tensor([]int64{3, 2}, make([]float32, 5))
	if _, err := s.RunInto(context.Background(), testmodel.Inputs(cfg, 3, 5, 0), map[string]*runtime.Tensor{name: bad}); err == nil || !strings.Contains(err.Error(), name) {
		t.Fatalf("a short buffer gave %v, want an error naming %q", err, name)
	}
	wrong := runtime.F32Tensor([]int64{2, 3}, make([]float32, 6))
	if _, err := s.RunInto(context.Background(), testmodel.Inputs(cfg, 3, 5, 0), map[string]*runtime.Tensor{name: wrong}); err == nil {
		t.Fatal("a buffer of the wrong shape was accepted")
	}
}
