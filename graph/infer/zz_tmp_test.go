package infer

import (
	"fmt"
	"testing"

	"github.com/kprune/kprune/onnx"
)

func TestZZTiny(t *testing.T) {
	m, err := onnx.Load("/work/shared/models/tiny-bert-sst2/model.onnx")
	if err != nil {
		t.Fatal(err)
	}
	info, err := Shapes(m.GetGraph())
	if err != nil {
		t.Fatal(err)
	}
	for _, n := range m.GetGraph().GetNode()[:120] {
		for _, o := range n.GetOutput() {
			fmt.Println(n.GetOpType(), o, info[o], info[o].Parts)
		}
	}
}
