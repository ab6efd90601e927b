package prune

import (
	"math"
	"math/rand/v2"
	"reflect"
	"testing"

	ort "github.com/kprune/kprune/runtime"
)

func TestRoundKept(t *testing.T) {
	scores := []float64{5, 1, 4, 3, 9, 2, 8, 7}
	cases := []struct {
		kept []int
		n    int
		want []int
	}{
		{[]int{0, 4, 6}, 4, []int{0, 4, 6, 7}}, // 3 -> 4: add the best missing (score 7)
		{[]int{0, 4, 6, 7, 2}, 4, []int{0, 4, 6, 7}},
		{[]int{4}, 4, []int{}},                    // 1 -> 0
		{[]int{4, 6}, 4, []int{0, 4, 6, 7}},       // 2 -> 4 (halves round up)
		{[]int{0, 2, 4, 6}, 4, []int{0, 2, 4, 6}}, // already aligned
	}
	for _, c := range cases {
		got := roundKept(scores, c.kept, c.n)
		if len(got) == 0 && len(c.want) == 0 {
			continue
		}
		if !reflect.DeepEqual(got, c.want) {
			t.Errorf("roundKept(%v, %d) = %v, want %v", c.kept, c.n, got, c.want)
		}
	}
}

func TestPerExampleSquares(t *testing.T) {
	// batch 2, width 3: per-example grads of a batch-mean loss.
	g := []float32{1, 2, 3, 0.5, 0, -1}
	got := perExampleSquares(g, 2, 3)
	want := []float32{4*1 + 4*0.25, 4 * 4, 4*9 + 4*1}
	for i := range want {
		if got[i] != want[i] {
			t.Fatalf("perExampleSquares = %v, want %v", got, want)
		}
	}
}

func TestSampleOneHot(t *testing.T) {
	const rows = 20000
	p := make([]float32, 0, rows*3)
	for i := 0; i < rows; i++ {
		p = append(p, 0.2, 0.5, 0.3)
	}
	tg := ort.F32Tensor([]int64{rows, 3}, p)
	sampleOneHot(tg, rand.New(rand.NewPCG(1, 2)))
	var count [3]float64
	for r := 0; r < rows; r++ {
		ones := 0
		for c := 0; c < 3; c++ {
			if v := tg.F32[r*3+c]; v == 1 {
				ones++
				count[c]++
			} else if v != 0 {
				t.Fatalf("row %d is not one-hot: %v", r, tg.F32[r*3:r*3+3])
			}
		}
		if ones != 1 {
			t.Fatalf("row %d has %d ones", r, ones)
		}
	}
	for c, want := range []float64{0.2, 0.5, 0.3} {
		if got := count[c] / rows; math.Abs(got-want) > 0.02 {
			t.Errorf("class %d drawn %.3f of the time, want %.1f", c, got, want)
		}
	}
}
