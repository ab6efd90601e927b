package runtime

import "testing"

// TestByName indexes tensors by name, the last of equal names winning.
func TestByName(t *testing.T) {
	a, b := F32Tensor([]int64{1}, []float32{1}), F32Tensor([]int64{1}, []float32{2})
	a.Name, b.Name = "x", "y"
	m := ByName([]*Tensor{a, b})
	if len(m) != 2 || m["x"] != a || m["y"] != b {
		t.Fatalf("ByName: %v", m)
	}
	if len(ByName(nil)) != 0 {
		t.Fatal("ByName(nil) not empty")
	}
}
