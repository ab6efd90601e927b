package prune

import (
	"reflect"
	"testing"
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
